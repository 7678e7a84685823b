//! Telegram Desktop export reader (JSON and HTML), an input adapter that knows nothing of detection.
//!
//! Telegram Desktop exports a chat (or a whole account) as "machine-readable JSON"
//! (`result.json`) or as HTML pages (`messages.html`, `messages2.html`, …). [`Reader::open`]
//! takes the file or the export folder, detects which, and yields one [`Message`] at a time:
//!
//! ```no_run
//! use verbovka::telegram::Reader;
//!
//! let mut reader = Reader::open("ChatExport_2024-05-01")?;
//! for message in reader.by_ref() {
//!     let message = message?; // an error only for an unreadable or damaged file
//!     println!("{} {:?}: {}", message.id, message.author, message.text);
//! }
//! let stats = reader.stats();
//! println!("{} yielded, {} skipped", stats.yielded, stats.skipped_total());
//! # Ok::<(), verbovka::Error>(())
//! ```
//!
//! # What is yielded, what is skipped
//! Each message's text is flattened to what a person sees (entity arrays joined, media captions
//! and poll questions included); link targets are kept in [`Message::links`]. The 2026
//! exports' `rich_message` (a body of blocks written instead of `text`: paragraphs, headings,
//! lists, quotes, tables, details, buttons, code, media with captions) is flattened block by
//! block, its links kept; when a message has both `text` and `rich_message` and they differ,
//! both are read. A `text` of a shape not known yet is searched for its strings the same way,
//! so a future field never hides a message's text. Texts longer than
//! [`Reader::max_text_bytes`] (1 MiB) are cut there and marked [`Message::truncated`]. Service messages
//! (joins, pins, calls), messages without text (a photo without a caption, a sticker) and unknown
//! message types are skipped and counted by [`SkipReason`] in [`Reader::stats`]: never an error.
//! `yielded + skipped` is every message object the file holds.
//!
//! # Damaged files
//! Unknown fields are ignored; the quirks of real exports are repaired on the fly: control
//! characters written as `\xNN` (not valid JSON), invalid UTF-8 (replaced by U+FFFD), lone
//! UTF-16 surrogates (`\ud800`, U+FFFD) and `\u` escapes without four hex digits (kept as
//! text), a missing `date_unixtime` (taken from `date`), dates that do not parse
//! (`date_unixtime: None`). A key written twice in a message: the last one wins.
//!
//! One bad message does not stop the export: a message object that is still not JSON after
//! the repairs (a `NaN`, a trailing comma, a missing `,`) is skipped as
//! [`SkipReason::Corrupt`], one without a usable `id` as [`SkipReason::Malformed`], one over
//! [`Reader::max_message_bytes`] as [`SkipReason::TooLarge`]; where and why are in
//! [`ReadStats::notes`], and reading goes on at the next message.
//!
//! Damage the reader cannot step over ends the read: a truncated file, broken structure
//! between messages, `messages` / `chats` / `chats.list` of the wrong type (never read as an
//! empty export), bytes after the export's end, a truncated HTML page. Every message before
//! it is yielded, then one [`Error::Data`] whose `origin` names the file, the byte offset and
//! the line; the iterator ends after it. Two exports written one after the other (`cat a.json
//! b.json`) are both read.
//!
//! # Memory and speed
//! JSON is scanned, not loaded: the reader keeps a 1 MiB window of the file and one message at a
//! time, whatever the file's size, and parses each message object with `serde_json` in place.
//! HTML pages hold at most 1,000 messages each (Telegram Desktop's page size) and are parsed
//! one page at a time with `scraper` (html5ever).

pub(crate) mod date;
#[cfg(feature = "telegram-html")]
mod html;
mod json;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// The kind of chat, as Telegram Desktop's JSON `type` names it. HTML exports do not say:
/// there it is [`ChatKind::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChatKind {
    /// A one-to-one chat with a person (`personal_chat`).
    Personal,
    /// A chat with a bot (`bot_chat`).
    Bot,
    /// A basic group (`private_group`).
    PrivateGroup,
    /// A supergroup without a public username (`private_supergroup`).
    PrivateSupergroup,
    /// A supergroup with a public username (`public_supergroup`).
    PublicSupergroup,
    /// A channel without a public username (`private_channel`).
    PrivateChannel,
    /// A channel with a public username (`public_channel`).
    PublicChannel,
    /// The account's own Saved Messages (`saved_messages`).
    Saved,
    /// Anything else, or not stated (`replies`, a newer type, an HTML export).
    Unknown,
}

impl ChatKind {
    /// Maps Telegram Desktop's `type` string; unknown strings give [`ChatKind::Unknown`].
    pub fn from_export(s: &str) -> ChatKind {
        match s {
            "personal_chat" => ChatKind::Personal,
            "bot_chat" => ChatKind::Bot,
            "private_group" => ChatKind::PrivateGroup,
            "private_supergroup" => ChatKind::PrivateSupergroup,
            "public_supergroup" => ChatKind::PublicSupergroup,
            "private_channel" => ChatKind::PrivateChannel,
            "public_channel" => ChatKind::PublicChannel,
            "saved_messages" => ChatKind::Saved,
            _ => ChatKind::Unknown,
        }
    }

    /// Whether messages of this chat have `https://t.me/c/<chat>/<message>` links
    /// (supergroups and channels; basic groups and private chats have none).
    pub fn has_message_links(self) -> bool {
        matches!(
            self,
            ChatKind::PrivateSupergroup
                | ChatKind::PublicSupergroup
                | ChatKind::PrivateChannel
                | ChatKind::PublicChannel
        )
    }
}

/// The chat a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chat {
    /// The chat's title or the person's name (`None` for Saved Messages and in some exports).
    pub name: Option<String>,
    /// The chat id as the export writes it: the bare id, without the `-100` prefix the Bot API
    /// puts before channel ids. `None` in HTML exports, which do not record it.
    pub id: Option<i64>,
    /// The kind of chat.
    pub kind: ChatKind,
    /// Whether the chat comes from `left_chats` (channels and groups the account has left).
    pub left: bool,
}

impl Chat {
    fn unknown() -> Chat {
        Chat {
            name: None,
            id: None,
            kind: ChatKind::Unknown,
            left: false,
        }
    }
}

/// One message as a person reads it, from JSON or HTML alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The chat it was posted in.
    pub chat: Chat,
    /// The message id within the chat.
    pub id: i64,
    /// Unix seconds (UTC) of posting; `None` when the export's date is missing or does not
    /// parse. `date_unixtime` is used when present; `date` (local time of the exporting
    /// machine, no zone) is taken as UTC otherwise.
    pub date_unixtime: Option<i64>,
    /// The sender's display name (`from`); `None` for deleted accounts and anonymous posts.
    pub author: Option<String>,
    /// The sender's id as written (`"user123"`, `"channel456"`; old exports' numbers as decimal
    /// strings); `None` in HTML exports.
    pub author_id: Option<String>,
    /// The original sender's name when the message is forwarded.
    pub forwarded_from: Option<String>,
    /// The original sender's id when the message is forwarded and the export says
    /// (`forwarded_from_id`, 2026 exports); `None` in HTML exports.
    pub forwarded_from_id: Option<String>,
    /// The id of the message this one replies to, in the same chat.
    pub reply_to_message_id: Option<i64>,
    /// The text a person sees: entities flattened, media caption and poll included.
    pub text: String,
    /// Link targets: URLs written in the text and the targets of text links.
    pub links: Vec<String>,
    /// Whether `text` was longer than [`Reader::max_text_bytes`] and was cut there (on a
    /// character boundary).
    pub truncated: bool,
}

impl Message {
    /// The date as ISO 8601 UTC (`2024-05-01T12:34:56Z`), when known.
    pub fn date_iso(&self) -> Option<String> {
        self.date_unixtime.and_then(date::format_iso)
    }

    /// `https://t.me/c/<chat>/<message>` for messages of supergroups and channels whose id is
    /// known; `None` for other chats (such links do not exist there).
    ///
    /// ```
    /// use verbovka::telegram::{Chat, ChatKind, Message};
    /// let chat = Chat { name: None, id: Some(1234567890), kind: ChatKind::PublicChannel, left: false };
    /// let m = Message { chat, id: 42, date_unixtime: None, author: None, author_id: None,
    ///     forwarded_from: None, forwarded_from_id: None, reply_to_message_id: None, text: "hi".into(), links: vec![],
    ///     truncated: false };
    /// assert_eq!(m.link().as_deref(), Some("https://t.me/c/1234567890/42"));
    /// ```
    pub fn link(&self) -> Option<String> {
        let chat = self.chat.id?;
        if !self.chat.kind.has_message_links() || self.id <= 0 {
            return None;
        }
        // Telegram Desktop writes the bare id; other tools write the Bot API's -100… form.
        let bare = match chat {
            c if c < 0 => {
                let s = c.unsigned_abs().to_string();
                s.strip_prefix("100")
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .unwrap_or(s)
            }
            c => c.to_string(),
        };
        Some(format!("https://t.me/c/{bare}/{}", self.id))
    }
}

/// Why a message object was not yielded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A service message: joins, pins, calls, title changes, date separators of HTML pages
    /// are not counted at all (they are not messages).
    Service,
    /// A message with no text a person could read (a photo without caption, a sticker).
    Empty,
    /// A message `type` this reader does not know (`unsupported`, a newer type).
    UnknownType,
    /// A message object of the wrong shape: no usable `id`, not an object.
    Malformed,
    /// A message object that is not JSON even after the reader's repairs (a `NaN`, a trailing
    /// comma, a missing `,`): the reader goes on at the next message. Where and why are in
    /// [`ReadStats::notes`].
    Corrupt,
    /// A message object larger than the reader's limit ([`Reader::max_message_bytes`]); it
    /// is stepped over without being kept.
    TooLarge,
}

impl SkipReason {
    /// Every reason, in the order of [`SkipReason::index`].
    pub const ALL: [SkipReason; 6] = [
        SkipReason::Service,
        SkipReason::Empty,
        SkipReason::UnknownType,
        SkipReason::Malformed,
        SkipReason::Corrupt,
        SkipReason::TooLarge,
    ];

    /// Position in [`SkipReason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name (`service`, `empty`, `unknown_type`, `malformed`, `corrupt`,
    /// `too_large`).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Service => "service",
            SkipReason::Empty => "empty",
            SkipReason::UnknownType => "unknown_type",
            SkipReason::Malformed => "malformed",
            SkipReason::Corrupt => "corrupt",
            SkipReason::TooLarge => "too_large",
        }
    }

    /// Whether a message skipped for this reason was lost to damage (malformed, corrupt, too
    /// large), rather than holding nothing to score (service, empty, unknown type).
    pub fn is_damage(self) -> bool {
        matches!(
            self,
            SkipReason::Malformed | SkipReason::Corrupt | SkipReason::TooLarge
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and why a damaged message was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipNote {
    /// Why: [`SkipReason::Malformed`], [`SkipReason::Corrupt`] or [`SkipReason::TooLarge`].
    pub reason: SkipReason,
    /// The file and position (`result.json at byte 5120 (line 171)`).
    pub at: String,
    /// What was wrong, as the parser said it.
    pub detail: String,
}

impl fmt::Display for SkipNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.at, self.detail, self.reason)
    }
}

/// Counts kept while reading; `yielded + skipped_total()` is every message object seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadStats {
    /// Chats seen (each `messages` array, each HTML chat folder).
    pub chats: u64,
    /// Messages yielded.
    pub yielded: u64,
    /// Yielded messages whose date was missing or did not parse.
    pub undated: u64,
    /// Yielded messages whose text was cut at [`Reader::max_text_bytes`].
    pub truncated: u64,
    /// Skipped messages, indexed by [`SkipReason::index`].
    pub skipped: [u64; SkipReason::ALL.len()],
    /// Where and why damaged messages were skipped: the first [`ReadStats::NOTES_KEPT`] of
    /// them (the counts in `skipped` are complete).
    pub notes: Vec<SkipNote>,
}

impl ReadStats {
    /// How many [`SkipNote`]s are kept (a damaged export of millions of messages does not
    /// fill memory with them).
    pub const NOTES_KEPT: usize = 100;

    /// Messages skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped[reason.index()]
    }

    /// Messages skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Every message object read: yielded plus skipped.
    pub fn read(&self) -> u64 {
        self.yielded + self.skipped_total()
    }

    fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason.index()] += 1;
    }

    fn skip_noted(&mut self, note: SkipNote) {
        self.skip(note.reason);
        if self.notes.len() < Self::NOTES_KEPT {
            self.notes.push(note);
        }
    }

    /// Messages lost to damage: malformed, corrupt or too large (see [`SkipReason::is_damage`]).
    pub fn damaged(&self) -> u64 {
        SkipReason::ALL
            .iter()
            .filter(|r| r.is_damage())
            .map(|r| self.skipped(*r))
            .sum()
    }

    fn count(&mut self, message: &Message) {
        self.yielded += 1;
        if message.date_unixtime.is_none() {
            self.undated += 1;
        }
        if message.truncated {
            self.truncated += 1;
        }
    }
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Machine-readable JSON (`result.json`).
    Json,
    /// HTML pages (`messages.html`, `messages2.html`, …).
    Html,
}

/// What a format-specific source hands the [`Reader`].
// Transient (moved straight out of `Reader::next`): boxing would cost an allocation a message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item {
    Message(Message),
    Skip(SkipReason),
    /// A damaged message, skipped with where and why.
    Noted(SkipNote),
}

enum Source {
    Json(Box<json::JsonStream>),
    #[cfg(feature = "telegram-html")]
    Html(Box<html::HtmlPages>),
}

/// The error for a folder that holds no export.
fn no_export(dir: &Path) -> Error {
    Error::Data {
        origin: dir.display().to_string(),
        message: "no Telegram Desktop export here: expected result.json, messages.html \
                  or chats/chat_*/messages.html"
            .into(),
    }
}

/// The error for an HTML export in a build without the `telegram-html` feature.
#[cfg(not(feature = "telegram-html"))]
fn no_html(path: &Path) -> Error {
    Error::Data {
        origin: path.display().to_string(),
        message: "an HTML export: this build of verbovka reads HTML exports only with its \
                  `telegram-html` feature (or export as JSON)"
            .into(),
    }
}

/// Streams the messages of a Telegram Desktop export; see the [module docs](self).
///
/// The iterator yields `Ok(Message)` for each readable message and at most one `Err`, after
/// which it ends. It is [`Send`]: it may be moved to a reading thread.
pub struct Reader {
    source: Source,
    stats: ReadStats,
    done: bool,
    max_text: usize,
}

/// The default [`Reader::max_text_bytes`]: 1 MiB, some 60 times Telegram's longest message
/// (4,096 characters) and, at the detector's worst case of about 150 bytes of memory per
/// byte of text, a peak that stays under 300 MB.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("format", &self.format())
            .field("bytes_read", &self.bytes_read())
            .field("total_bytes", &self.total_bytes())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Reader {
    /// Opens an export: a `result.json`, an HTML page, or a folder holding `result.json`,
    /// `messages.html` (+ `messages2.html`, …) or, for a whole-account HTML export,
    /// `chats/chat_*/messages.html`. The format is detected from the content.
    ///
    /// Fails with [`Error::Io`] when the path cannot be read (a folder that cannot be listed
    /// included) and [`Error::Data`] when it is neither JSON nor HTML (UTF-16, gzip and zip
    /// files are named as such), or a folder holds no export.
    ///
    /// A named pipe (FIFO) is read like a file, but opening one waits, as `cat` does, until a
    /// program opens it for writing: with no writer, `open` does not return.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Self::open_dir(path);
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = [0u8; 512];
        let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
        match sniff(&head[..n]) {
            Some(Format::Json) => {
                // The bytes read to tell the format are put back in front of the rest: the
                // path is not opened twice, so a pipe or `<(zcat …)` reads whole.
                let head = std::io::Cursor::new(head[..n].to_vec());
                Ok(Self::json_from(
                    head.chain(file),
                    path.display().to_string(),
                    meta.is_file().then_some(meta.len()),
                ))
            }
            #[cfg(feature = "telegram-html")]
            Some(Format::Html) => Ok(Self::with(Source::Html(Box::new(html::HtmlPages::new(
                vec![
                    // The sniffing handle is kept: a pipe's page is read once, whole.
                    html::ChatPages {
                        pages: vec![html::Page {
                            path: path.to_path_buf(),
                            opened: Some((head[..n].to_vec(), Box::new(file))),
                        }],
                    },
                ],
            ))))),
            #[cfg(not(feature = "telegram-html"))]
            Some(Format::Html) => Err(no_html(path)),
            None => Err(Error::Data {
                origin: path.display().to_string(),
                message: not_export_why(&head[..n]),
            }),
        }
    }

    /// Texts longer than `bytes` (default [`MAX_TEXT_BYTES`], 1 MiB) are cut there, on a
    /// character boundary, and the message is marked [`Message::truncated`]: what the
    /// detector is given, and so its memory, stays bounded.
    pub fn max_text_bytes(mut self, bytes: usize) -> Reader {
        self.max_text = bytes;
        self
    }

    /// Message objects larger than `bytes` (default 16 MiB; a real message is a few kilobytes)
    /// are stepped over without being kept and counted as [`SkipReason::TooLarge`], so the JSON
    /// reader's memory stays within about twice this whatever the input. HTML pages are read
    /// whole, up to 32 MiB each (larger is an error).
    pub fn max_message_bytes(mut self, bytes: usize) -> Reader {
        match &mut self.source {
            Source::Json(s) => s.max_message = bytes,
            #[cfg(feature = "telegram-html")]
            Source::Html(_) => {}
        }
        self
    }

    /// Reads a JSON export from any byte source; `origin` names it in errors.
    pub fn from_json_reader(read: impl Read + Send + 'static, origin: impl Into<String>) -> Reader {
        Self::json_from(read, origin.into(), None)
    }

    /// Reads one HTML page (`messages.html`) from any byte source; `origin` names it in
    /// errors. The page is read whole (at most 32 MiB) when the first message is asked for.
    #[cfg(feature = "telegram-html")]
    pub fn from_html_reader(read: impl Read + Send + 'static, origin: impl Into<String>) -> Reader {
        Self::with(Source::Html(Box::new(html::HtmlPages::new(vec![
            html::ChatPages {
                pages: vec![html::Page {
                    path: origin.into().into(),
                    opened: Some((Vec::new(), Box::new(read))),
                }],
            },
        ]))))
    }

    fn json_from(read: impl Read + Send + 'static, origin: String, total: Option<u64>) -> Reader {
        Self::with(Source::Json(Box::new(json::JsonStream::new(
            Box::new(read),
            origin,
            total,
        ))))
    }

    fn with(source: Source) -> Reader {
        Reader {
            source,
            stats: ReadStats::default(),
            done: false,
            max_text: MAX_TEXT_BYTES,
        }
    }

    fn open_dir(dir: &Path) -> Result<Reader> {
        // A folder that cannot be listed is said so (not "no export here").
        std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let json = dir.join("result.json");
        match std::fs::metadata(&json) {
            Ok(m) if m.is_file() => return Self::open(json),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(json, e)),
            _ => {}
        }
        Self::open_html_dir(dir)
    }

    #[cfg(feature = "telegram-html")]
    fn open_html_dir(dir: &Path) -> Result<Reader> {
        let chats = html::find_chats(dir).map_err(|e| Error::io(dir, e))?;
        if chats.is_empty() {
            return Err(no_export(dir));
        }
        Ok(Self::with(Source::Html(Box::new(html::HtmlPages::new(
            chats,
        )))))
    }

    #[cfg(not(feature = "telegram-html"))]
    fn open_html_dir(dir: &Path) -> Result<Reader> {
        if dir.join("messages.html").is_file() || dir.join("chats").is_dir() {
            return Err(no_html(dir));
        }
        Err(no_export(dir))
    }

    /// The detected format.
    pub fn format(&self) -> Format {
        match self.source {
            Source::Json(_) => Format::Json,
            #[cfg(feature = "telegram-html")]
            Source::Html(_) => Format::Html,
        }
    }

    /// Counts so far (complete once the iterator has ended).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Bytes of the export consumed so far, for progress display.
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Source::Json(s) => s.position(),
            #[cfg(feature = "telegram-html")]
            Source::Html(s) => s.bytes_done(),
        }
    }

    /// The export's size in bytes when known (files, not arbitrary readers).
    pub fn total_bytes(&self) -> Option<u64> {
        match &self.source {
            Source::Json(s) => s.total(),
            #[cfg(feature = "telegram-html")]
            Source::Html(s) => Some(s.total()),
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Message>;

    fn next(&mut self) -> Option<Result<Message>> {
        if self.done {
            return None;
        }
        loop {
            let item = match &mut self.source {
                Source::Json(s) => s.next_item(&mut self.stats.chats),
                #[cfg(feature = "telegram-html")]
                Source::Html(s) => s.next_item(&mut self.stats.chats),
            };
            match item {
                Ok(Some(Item::Message(mut m))) => {
                    if m.text.len() > self.max_text {
                        let mut cut = self.max_text;
                        while !m.text.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        m.text.truncate(cut);
                        m.truncated = true;
                    }
                    self.stats.count(&m);
                    return Some(Ok(m));
                }
                Ok(Some(Item::Skip(reason))) => self.stats.skip(reason),
                Ok(Some(Item::Noted(note))) => self.stats.skip_noted(note),
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl std::iter::FusedIterator for Reader {}

fn read_up_to(read: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// JSON or HTML from the first bytes (a UTF-8 BOM and whitespace skipped).
fn sniff(head: &[u8]) -> Option<Format> {
    if head.iter().take(64).any(|&b| b == 0) {
        return None; // UTF-16 or binary: text exports hold no NUL byte
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match head.iter().find(|b| !b.is_ascii_whitespace())? {
        b'{' => Some(Format::Json),
        b'<' => Some(Format::Html),
        _ => None,
    }
}

/// Why a file that is neither JSON nor HTML is not read, from its first bytes.
fn not_export_why(head: &[u8]) -> String {
    let utf16 = head.starts_with(b"\xFF\xFE")
        || head.starts_with(b"\xFE\xFF")
        || (head.len() >= 2
            && head.iter().take(64).filter(|&&b| b == 0).count() * 3 >= head.len().min(64));
    if utf16 {
        "a UTF-16 (or other 16-bit) file: Telegram Desktop writes UTF-8; convert it first \
         (`iconv -f UTF-16 -t UTF-8`)"
            .into()
    } else if head.starts_with(b"\x1F\x8B") {
        "a gzip-compressed file: decompress it first (`gunzip`, or read `<(zcat FILE)`)".into()
    } else if head.starts_with(b"PK\x03\x04") {
        "a zip archive: unpack the export first".into()
    } else if head.is_empty() {
        "an empty file, not a Telegram Desktop export".into()
    } else {
        "not a Telegram Desktop export: expected JSON (`{`) or HTML (`<`)".into()
    }
}

/// Builds the flattened text of a message from its parts, collecting link targets.
#[derive(Default)]
pub(crate) struct TextBuilder {
    pub(crate) text: String,
    /// Distinct targets in first-seen order.
    pub(crate) links: Vec<String>,
    /// The targets already in `links` (a scan of `links` per link was quadratic: 80k links
    /// in one message took 24 s).
    seen: std::collections::HashSet<String>,
}

impl TextBuilder {
    /// Appends a block (caption, poll question) on its own line.
    pub(crate) fn push_block(&mut self, block: &str) {
        let block = block.trim();
        if block.is_empty() {
            return;
        }
        if !self.text.trim_end().is_empty() {
            self.text.truncate(self.text.trim_end().len());
            self.text.push('\n');
        }
        self.text.push_str(block);
    }

    pub(crate) fn push_link(&mut self, target: &str) {
        let target = target.trim();
        if !target.is_empty() && self.seen.insert(target.to_owned()) {
            self.links.push(target.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TextBuilder;

    /// Links keep their first-seen order, once each, blank ones dropped; 80,000 links (half of
    /// them repeats) take milliseconds, not the 24 s a scan per link took.
    #[test]
    fn links_are_deduplicated_in_order_in_linear_time() {
        let mut tb = TextBuilder::default();
        for l in [
            "https://b",
            " https://a ",
            "https://b",
            "",
            "https://a",
            "https://c",
        ] {
            tb.push_link(l);
        }
        assert_eq!(tb.links, ["https://b", "https://a", "https://c"]);
        let mut tb = TextBuilder::default();
        for i in 0..80_000 {
            tb.push_link(&format!("https://t.me/x/{}", i % 40_000));
        }
        assert_eq!(tb.links.len(), 40_000);
        assert_eq!(tb.links[39_999], "https://t.me/x/39999");
    }
}
