//! The small transformer classifier: tokenizer, encoder, training, loading.
