//! Telegram Desktop export reader (JSON and HTML), an input adapter that knows nothing of detection.
