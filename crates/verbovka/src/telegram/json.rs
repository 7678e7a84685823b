//! Streaming reader of Telegram Desktop's `result.json`.
//!
//! The file is never loaded whole: a byte-level scanner walks the JSON structure through a
//! window of the file (1 MiB, grown only if one message is larger), finds the message objects
//! under `messages` (single chat) or `chats.list[].messages` / `left_chats.list[].messages`
//! (whole account), and hands each one, in place, to `serde_json::from_slice`. Everything else
//! (contacts, sessions, `text_entities` duplicates of unknown keys) is skipped by the scanner
//! without allocation.
//!
//! Real exports are not always valid JSON: Telegram Desktop writes control characters as
//! `\xNN`, and strings may hold invalid UTF-8. When `serde_json` rejects a message, the object
//! is repaired (`\xNN` → `\u00NN`, raw control bytes escaped, invalid UTF-8 replaced) and parsed
//! again; only what still fails is reported as damage.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{date, Chat, ChatKind, Item, Message, SkipNote, SkipReason, TextBuilder};
use crate::error::{Error, Result};

const WINDOW: usize = 1 << 20;

/// The default largest message object kept ([`super::Reader::max_message_bytes`]).
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Where the scanner stands in the export's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// The top-level object; also the chat of a single-chat export.
    Root,
    /// `chats` or `left_chats`: an object holding `list`.
    Section { left: bool },
    /// The array of chats.
    List { left: bool },
    /// One chat object of a list.
    Chat { left: bool },
    /// A `messages` array.
    Messages,
}

/// A chat's fields as they arrive (Telegram Desktop writes `name`, `type`, `id` before
/// `messages`; fields written after `messages` are not seen by its messages).
#[derive(Default)]
struct PendingChat {
    name: Option<String>,
    kind: Option<String>,
    id: Option<i64>,
}

pub(crate) struct JsonStream {
    input: Box<dyn Read + Send>,
    origin: String,
    total: Option<u64>,
    buf: Vec<u8>,
    /// Valid bytes are `buf[..end]`; the scanner is at `buf[pos]`.
    pos: usize,
    end: usize,
    /// File offset of `buf[0]` and newlines before it.
    base: u64,
    base_lines: u64,
    eof: bool,
    stack: Vec<Frame>,
    /// Whether the innermost container has had a member yet (for comma handling).
    first: bool,
    started: bool,
    found_messages: bool,
    pending: PendingChat,
    chat: Chat,
    repaired: Vec<u8>,
    /// Message objects larger than this are stepped over (memory stays bounded).
    pub(crate) max_message: usize,
}

impl JsonStream {
    pub(crate) fn new(input: Box<dyn Read + Send>, origin: String, total: Option<u64>) -> Self {
        JsonStream {
            input,
            origin,
            total,
            buf: vec![0; WINDOW],
            pos: 0,
            end: 0,
            base: 0,
            base_lines: 0,
            eof: false,
            stack: Vec::new(),
            first: true,
            started: false,
            found_messages: false,
            pending: PendingChat::default(),
            chat: Chat::unknown(),
            repaired: Vec::new(),
            max_message: MAX_MESSAGE_BYTES,
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    /// Reads more input, keeping `buf[keep..end]` (moved to the front). Returns how far
    /// indices moved, or `None` at end of input.
    fn refill(&mut self, keep: usize) -> Result<Option<usize>> {
        if self.eof {
            return Ok(None);
        }
        let keep = keep.min(self.end);
        if keep > 0 {
            self.base_lines += memchr::memchr_iter(b'\n', &self.buf[..keep]).count() as u64;
            self.base += keep as u64;
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.pos = self.pos.saturating_sub(keep);
        }
        if self.buf.len() > WINDOW && self.end < WINDOW / 2 {
            // The outsized message is gone: give its memory back.
            self.buf.truncate(WINDOW);
            self.buf.shrink_to_fit();
        }
        if self.end == self.buf.len() {
            // One value larger than the window: grow (memory follows the largest message).
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(None);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(Some(keep));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.origin, e)),
            }
        }
    }

    /// `<origin> at byte N (line L)` for `buf[at]`.
    fn place(&self, at: usize) -> String {
        let at = at.min(self.end);
        let line = self.base_lines + memchr::memchr_iter(b'\n', &self.buf[..at]).count() as u64 + 1;
        format!(
            "{} at byte {} (line {line})",
            self.origin,
            self.base + at as u64
        )
    }

    /// The `Error::Data` for damage at `buf[at]`.
    fn damage(&self, at: usize, message: impl Into<String>) -> Error {
        Error::Data {
            origin: self.place(at),
            message: message.into(),
        }
    }

    /// A damaged message at `buf[at]`, skipped with where and why.
    fn noted(&self, at: usize, reason: SkipReason, detail: impl Into<String>) -> Item {
        Item::Noted(SkipNote {
            reason,
            at: self.place(at),
            detail: detail.into(),
        })
    }

    /// Skips whitespace (and a leading BOM); returns the next byte without consuming it, or
    /// `None` at end of input.
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                let b = self.buf[self.pos];
                if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    self.pos += 1;
                } else {
                    return Ok(Some(b));
                }
            }
            if self.refill(self.pos)?.is_none() {
                return Ok(None);
            }
        }
    }

    /// Like [`peek`](Self::peek) but end of input is damage.
    fn peek_some(&mut self, expected: &str) -> Result<u8> {
        match self.peek()? {
            Some(b) => Ok(b),
            None => Err(self.damage(
                self.end,
                format!("unexpected end of file, expected {expected} (truncated export?)"),
            )),
        }
    }

    /// Scans the value starting at `pos`; returns its span `start..stop` in `buf` (valid
    /// until the next refill) and whether it contains a `\x` escape. With `keep == false` the
    /// bytes are not retained across refills (for values that are skipped).
    fn scan_value(&mut self, keep: bool) -> Result<(usize, usize, bool)> {
        self.scan_value_within(keep, usize::MAX)
            .map(|(s, e, hex, _)| (s, e, hex))
    }

    /// [`scan_value`](Self::scan_value) keeping at most `limit` bytes: a longer value is
    /// scanned to its end without being kept, and its place (where it started) is returned
    /// last; its span is then not valid.
    fn scan_value_within(
        &mut self,
        mut keep: bool,
        limit: usize,
    ) -> Result<(usize, usize, bool, Option<String>)> {
        let mut too_large = None;
        let mut start = self.pos;
        let mut i = self.pos;
        let mut depth = 0u32;
        let mut in_str = false;
        let mut hex_escape = false;
        let first = self.buf[i];
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        if scalar && !matches!(first, b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
            return Err(self.damage(
                i,
                format!("unexpected {} where a value should be", show(first)),
            ));
        }
        loop {
            // `need` > 0: bytes required at `i` before it can be examined.
            let need = if in_str && i < self.end && self.buf[i] == b'\\' {
                2
            } else {
                1
            };
            if i + need > self.end {
                if keep && i - start > limit {
                    too_large = Some(self.place(start));
                    keep = false;
                }
                let keep_from = if keep { start } else { i };
                match self.refill(keep_from)? {
                    Some(shift) => {
                        start -= shift.min(start);
                        i -= shift;
                        continue;
                    }
                    None if scalar => break,
                    None => {
                        return Err(self.damage(
                            self.end,
                            "unexpected end of file inside a value (truncated export?)",
                        ))
                    }
                }
            }
            if in_str {
                match memchr::memchr2(b'"', b'\\', &self.buf[i..self.end]) {
                    None => i = self.end,
                    Some(k) => {
                        i += k;
                        if self.buf[i] == b'"' {
                            i += 1;
                            in_str = false;
                            if depth == 0 {
                                break;
                            }
                        } else if i + 1 < self.end {
                            hex_escape |= self.buf[i + 1] == b'x';
                            i += 2;
                        }
                        // else: a backslash at the window's end; the loop refills first.
                    }
                }
                continue;
            }
            if scalar {
                let rest = &self.buf[i..self.end];
                match rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                {
                    Some(k) => {
                        i += k;
                        break;
                    }
                    None => i = self.end,
                }
                continue;
            }
            match self.buf[i] {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        if too_large.is_none() && keep && i - start > limit {
            too_large = Some(self.place(start));
        }
        Ok((start, i, hex_escape, too_large))
    }

    /// Consumes the separator before the next member of the innermost container. Returns
    /// `false` (and pops the container) when it closes.
    fn next_member(&mut self) -> Result<bool> {
        let close = match self.stack.last() {
            Some(Frame::List { .. } | Frame::Messages) => b']',
            _ => b'}',
        };
        let b = self.peek_some(if self.first {
            "a value or the end of a container"
        } else {
            "`,`"
        })?;
        if b == close {
            self.pos += 1;
            self.stack.pop();
            self.first = false;
            return Ok(false);
        }
        if !self.first {
            if b != b',' {
                return Err(self.damage(
                    self.pos,
                    format!("expected `,` or `{}`, found {}", close as char, show(b)),
                ));
            }
            self.pos += 1;
        }
        self.first = false;
        Ok(true)
    }

    /// Reads an object key and the `:` after it; the scanner is then at the value.
    fn key(&mut self) -> Result<Cow<'static, str>> {
        let b = self.peek_some("a key")?;
        if b != b'"' {
            return Err(self.damage(self.pos, format!("expected a key, found {}", show(b))));
        }
        let (s, e, _) = self.scan_value(true)?;
        let key = match serde_json::from_slice::<Cow<'_, str>>(&self.buf[s..e]) {
            Ok(k) => Cow::Owned(k.into_owned()),
            // A key with odd escapes cannot be one we look for.
            Err(_) => Cow::Borrowed(""),
        };
        let b = self.peek_some("`:`")?;
        if b != b':' {
            return Err(self.damage(
                self.pos,
                format!("expected `:` after a key, found {}", show(b)),
            ));
        }
        self.pos += 1;
        self.peek_some("a value")?;
        Ok(key)
    }

    fn skip(&mut self) -> Result<()> {
        self.scan_value(false).map(|_| ())
    }

    /// Enters a container if the next value is one (`open`), else skips it.
    fn enter_or_skip(&mut self, open: u8, frame: Frame) -> Result<bool> {
        if self.peek_some("a value")? == open {
            self.pos += 1;
            self.stack.push(frame);
            self.first = true;
            Ok(true)
        } else {
            self.skip().map(|_| false)
        }
    }

    /// Parses a small scalar (chat metadata), repairing it if needed.
    fn small_value<T: for<'de> Deserialize<'de>>(&mut self) -> Result<Option<T>> {
        let (s, e, hex) = self.scan_value(true)?;
        let raw = &self.buf[s..e];
        let parsed = if hex {
            None
        } else {
            serde_json::from_slice::<T>(raw).ok()
        };
        Ok(parsed.or_else(|| {
            let mut fixed = Vec::new();
            repair(raw, &mut fixed);
            serde_json::from_slice::<T>(&fixed).ok()
        }))
    }

    fn chat_field(&mut self, key: &str) -> Result<bool> {
        match key {
            "name" => self.pending.name = self.small_value::<Lenient<String>>()?.and_then(|v| v.0),
            "type" => self.pending.kind = self.small_value::<Lenient<String>>()?.and_then(|v| v.0),
            "id" => self.pending.id = self.small_value::<Lenient<i64>>()?.and_then(|v| v.0),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The scanner is at the value of `what`, which must start with `open`: anything else is
    /// damage (an export whose `messages` is not an array holds no readable messages, and
    /// must not read as an empty chat).
    fn expect_container(&mut self, open: u8, what: &str) -> Result<()> {
        let b = self.peek_some("a value")?;
        if b == open {
            return Ok(());
        }
        let kind = if open == b'[' {
            "an array"
        } else {
            "an object"
        };
        Err(self.damage(
            self.pos,
            format!("`{what}` is not {kind} (found {})", show(b)),
        ))
    }

    fn start_messages(&mut self, left: bool, chats: &mut u64) -> Result<()> {
        self.expect_container(b'[', "messages")?;
        if self.enter_or_skip(b'[', Frame::Messages)? {
            let p = std::mem::take(&mut self.pending);
            self.chat = Chat {
                name: p.name,
                id: p.id,
                kind: p
                    .kind
                    .as_deref()
                    .map_or(ChatKind::Unknown, ChatKind::from_export),
                left,
            };
            self.found_messages = true;
            *chats += 1;
        }
        Ok(())
    }

    /// The next message or skip; `None` at the end of the export.
    pub(crate) fn next_item(&mut self, chats: &mut u64) -> Result<Option<Item>> {
        if !self.started {
            self.started = true;
            while self.end < 3 && self.refill(0)?.is_some() {}
            if self.buf[..self.end].starts_with(b"\xEF\xBB\xBF") {
                self.pos = 3;
            }
            match self.peek()? {
                Some(b'{') => {
                    self.pos += 1;
                    self.stack.push(Frame::Root);
                    self.first = true;
                }
                Some(b) => {
                    return Err(self.damage(
                        self.pos,
                        format!("expected `{{` at the start of an export, found {}", show(b)),
                    ))
                }
                None => return Err(self.damage(0, "empty file")),
            }
        }
        loop {
            let Some(&frame) = self.stack.last() else {
                // After the export's object: the end, or a second export written after it
                // (`cat a.json b.json`), read as well; anything else is damage.
                match self.peek()? {
                    None => {}
                    Some(b'{') => {
                        self.pos += 1;
                        self.stack.push(Frame::Root);
                        self.first = true;
                        self.pending = PendingChat::default();
                        continue;
                    }
                    Some(b) => {
                        return Err(self.damage(
                            self.pos,
                            format!("unexpected {} after the end of the export", show(b)),
                        ))
                    }
                }
                if !self.found_messages {
                    return Err(Error::Data {
                        origin: self.origin.clone(),
                        message:
                            "not a Telegram Desktop export: no `messages`, `chats` or `left_chats`"
                                .into(),
                    });
                }
                return Ok(None);
            };
            if !self.next_member()? {
                continue;
            }
            match frame {
                Frame::Root => {
                    let key = self.key()?;
                    match &*key {
                        "messages" => self.start_messages(false, chats)?,
                        "chats" | "left_chats" => {
                            let left = key == "left_chats";
                            self.expect_container(b'{', &key)?;
                            if self.enter_or_skip(b'{', Frame::Section { left })? {
                                self.found_messages = true;
                            }
                        }
                        k => {
                            if !self.chat_field(k)? {
                                self.skip()?;
                            }
                        }
                    }
                }
                Frame::Section { left } => {
                    if self.key()? == "list" {
                        let section = if left { "left_chats" } else { "chats" };
                        self.expect_container(b'[', &format!("{section}.list"))?;
                        self.enter_or_skip(b'[', Frame::List { left })?;
                    } else {
                        self.skip()?;
                    }
                }
                Frame::List { left } => {
                    if self.peek_some("a chat")? == b'{' {
                        self.pending = PendingChat::default();
                    }
                    self.enter_or_skip(b'{', Frame::Chat { left })?;
                }
                Frame::Chat { left } => {
                    let key = self.key()?;
                    if key == "messages" {
                        self.start_messages(left, chats)?;
                    } else if !self.chat_field(&key)? {
                        self.skip()?;
                    }
                }
                Frame::Messages => {
                    let b = self.peek_some("a message")?;
                    let at = self.pos;
                    if b != b'{' {
                        self.skip()?;
                        return Ok(Some(self.noted(
                            at,
                            SkipReason::Malformed,
                            format!("a message that is not an object (starts with {})", show(b)),
                        )));
                    }
                    let (s, e, hex, too_large) = self.scan_value_within(true, self.max_message)?;
                    if let Some(at) = too_large {
                        return Ok(Some(Item::Noted(SkipNote {
                            reason: SkipReason::TooLarge,
                            at,
                            detail: format!(
                                "a message object of more than {} bytes (the reader's limit)",
                                self.max_message
                            ),
                        })));
                    }
                    return Ok(Some(self.message(s, e, hex)));
                }
            }
        }
    }

    /// Parses the message object at `buf[s..e]`. A message that still fails after the repairs
    /// is skipped with its place and the parser's complaint; the next one is read (the
    /// scanner has found this one's end on its own).
    fn message(&mut self, s: usize, e: usize, hex: bool) -> Item {
        if !hex {
            match serde_json::from_slice::<RawMessage<'_>>(&self.buf[s..e]) {
                Ok(raw) => return self.item(raw, s),
                Err(err) if err.classify() == serde_json::error::Category::Data => {
                    return self.by_value(&self.buf[s..e], s, err)
                }
                Err(_) => {} // invalid UTF-8, raw control characters: repair below
            }
        }
        let mut fixed = std::mem::take(&mut self.repaired);
        repair(&self.buf[s..e], &mut fixed);
        let item = match serde_json::from_slice::<RawMessage<'_>>(&fixed) {
            Ok(raw) => self.item(raw, s),
            Err(err) if err.classify() == serde_json::error::Category::Data => {
                self.by_value(&fixed, s, err)
            }
            Err(err) => {
                // Point at the damage itself when the repair did not move bytes before it.
                let at = offset_of(&fixed, err.line(), err.column())
                    .filter(|&o| fixed.get(..o) == self.buf.get(s..s + o))
                    .map_or(s, |o| s + o);
                self.noted(
                    at,
                    SkipReason::Corrupt,
                    format!("corrupt message object: {err}"),
                )
            }
        };
        self.repaired = fixed;
        item
    }

    fn item(&self, raw: RawMessage<'_>, s: usize) -> Item {
        match raw.into_item(&self.chat) {
            Item::Skip(SkipReason::Malformed) => {
                self.noted(s, SkipReason::Malformed, "a message with no usable `id`")
            }
            item => item,
        }
    }

    /// A message `serde` refused for its shape (a key written twice): read through a
    /// `serde_json::Value`, where the last of duplicate keys wins.
    fn by_value(&self, bytes: &[u8], s: usize, err: serde_json::Error) -> Item {
        let value = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(v) => v,
            Err(_) => return self.noted(s, SkipReason::Malformed, format!("{err}")),
        };
        match RawMessage::deserialize(&value) {
            Ok(raw) => self.item(raw, s),
            Err(e) => self.noted(s, SkipReason::Malformed, format!("{e}")),
        }
    }
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

/// Byte offset of a 1-based (line, column) position reported by serde_json.
fn offset_of(bytes: &[u8], line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += memchr::memchr(b'\n', bytes.get(start..)?)? + 1;
    }
    Some((start + column.saturating_sub(1)).min(bytes.len()))
}

/// Copies a JSON value, making real-export quirks valid: `\xNN` escapes become `\u00NN`
/// (a `\x` without two hex digits becomes a literal `\x`), raw control bytes inside strings are
/// escaped, and invalid UTF-8 is replaced by U+FFFD.
pub(crate) fn repair(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw.len() + 16);
    let mut in_str = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if !in_str {
            in_str = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_str = false;
                out.push(b);
                i += 1;
            }
            b'\\' => match raw.get(i + 1) {
                Some(b'x') => {
                    let hex = raw
                        .get(i + 2..i + 4)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                    match hex {
                        Some(h) => {
                            out.extend_from_slice(b"\\u00");
                            out.extend_from_slice(h);
                            i += 4;
                        }
                        None => {
                            out.extend_from_slice(b"\\\\x");
                            i += 2;
                        }
                    }
                }
                Some(b'u') => i += repair_unicode_escape(&raw[i..], out),
                Some(&c) if b"\"\\/bfnrt".contains(&c) => {
                    out.extend_from_slice(&[b'\\', c]);
                    i += 2;
                }
                // An escape JSON does not know: keep the backslash as text.
                _ => {
                    out.extend_from_slice(b"\\\\");
                    i += 1;
                }
            },
            0x00..=0x1F => {
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                i += 1;
            }
            // U+2028 / U+2029 written raw, then the exporter's two stray continuation bytes
            // (a separator's last two bytes written again): the separator is kept, the strays
            // dropped.
            0xE2 if raw.get(i + 1) == Some(&0x80)
                && matches!(raw.get(i + 2), Some(0xA8 | 0xA9))
                && raw
                    .get(i + 3..i + 5)
                    .is_some_and(|b| b.iter().all(|&b| is_continuation(b))) =>
            {
                out.extend_from_slice(&raw[i..i + 3]);
                i += 5;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if std::str::from_utf8(out).is_err() {
        let fixed = String::from_utf8_lossy(out).into_owned();
        *out = fixed.into_bytes();
    }
}

/// Copies the `\uXXXX` escape at the start of `raw` (which starts with `\u`) and returns
/// how many bytes it took: a surrogate pair is copied whole, a lone surrogate becomes U+FFFD
/// (Telegram Desktop cuts long texts in the middle of a pair), and `\u` without four hex
/// digits is a literal `\u`.
fn repair_unicode_escape(raw: &[u8], out: &mut Vec<u8>) -> usize {
    let hex4 = |at: usize| -> Option<u16> {
        let h = raw.get(at..at + 4)?;
        let h = std::str::from_utf8(h).ok()?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(h, 16).ok()
    };
    let Some(unit) = hex4(2) else {
        out.extend_from_slice(b"\\\\u");
        return 2;
    };
    match unit {
        0xD800..=0xDBFF => {
            let low = (raw.get(6..8) == Some(b"\\u"))
                .then(|| hex4(8))
                .flatten()
                .filter(|u| (0xDC00..=0xDFFF).contains(u));
            if low.is_some() {
                out.extend_from_slice(&raw[..12]);
                12
            } else {
                out.extend_from_slice(b"\\ufffd");
                6
            }
        }
        0xDC00..=0xDFFF => {
            out.extend_from_slice(b"\\ufffd");
            6
        }
        0x2028 | 0x2029
            if raw
                .get(6..8)
                .is_some_and(|b| b.iter().all(|&b| is_continuation(b))) =>
        {
            out.extend_from_slice(&raw[..6]);
            8 // the exporter's two stray bytes after the separator
        }
        _ => {
            out.extend_from_slice(&raw[..6]);
            6
        }
    }
}

fn is_continuation(b: u8) -> bool {
    (0x80..=0xBF).contains(&b)
}

// ---------------------------------------------------------------------------------------------
// The message object. Every field is lenient: a value of an unexpected type reads as absent
// instead of failing the message, so that only syntax damage is an error.

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(default)]
    id: Lenient<i64>,
    #[serde(default, rename = "type", borrow)]
    kind: Lenient<Cow<'a, str>>,
    #[serde(default, borrow)]
    date: Lenient<Cow<'a, str>>,
    #[serde(default)]
    date_unixtime: Lenient<UnixTime>,
    #[serde(default)]
    from: Lenient<String>,
    #[serde(default)]
    from_id: Lenient<String>,
    #[serde(default)]
    forwarded_from: Lenient<String>,
    #[serde(default)]
    reply_to_message_id: Lenient<i64>,
    #[serde(default, borrow)]
    text: Option<Text<'a>>,
    #[serde(default, borrow)]
    text_entities: Option<Text<'a>>,
    #[serde(default, borrow)]
    caption: Option<Text<'a>>,
    /// Polls: question and answers, strings or (2026) entity arrays, read as rich text.
    #[serde(default)]
    poll: Option<serde_json::Value>,
    /// The 2026 exports' rich body (`{"rtl", "part", "blocks": [...]}`), written instead of
    /// `text`: flattened block by block.
    #[serde(default)]
    rich_message: Option<serde_json::Value>,
    #[serde(default)]
    forwarded_from_id: Lenient<String>,
}

impl RawMessage<'_> {
    fn into_item(self, chat: &Chat) -> Item {
        let Some(id) = self.id.0 else {
            return Item::Skip(SkipReason::Malformed);
        };
        match self.kind.0.as_deref() {
            Some("message") | None => {}
            Some("service") => return Item::Skip(SkipReason::Service),
            Some(_) => return Item::Skip(SkipReason::UnknownType),
        }
        let mut tb = TextBuilder::default();
        if let Some(text) = self.text.or(self.text_entities) {
            text.flatten_into(&mut tb);
        }
        if let Some(rich) = &self.rich_message {
            let mut r = TextBuilder::default();
            flatten_value(rich, &mut r);
            let same = squashed(&r.text) == squashed(&tb.text);
            // Both are kept when they differ: a client shows one or the other, and a reader
            // must not be blind to either.
            if !same || tb.text.trim().is_empty() {
                if same {
                    tb.text.clear();
                }
                tb.push_block(&r.text);
            }
            r.links.iter().for_each(|l| tb.push_link(l));
        }
        if let Some(caption) = self.caption {
            let mut cap = TextBuilder::default();
            caption.flatten_into(&mut cap);
            tb.push_block(&cap.text);
            cap.links.iter().for_each(|l| tb.push_link(l));
        }
        if let Some(poll) = &self.poll {
            let mut p = TextBuilder::default();
            flatten_value(poll, &mut p);
            tb.push_block(&p.text);
            p.links.iter().for_each(|l| tb.push_link(l));
        }
        if tb.text.trim().is_empty() {
            return Item::Skip(SkipReason::Empty);
        }
        let date_unixtime = self
            .date_unixtime
            .0
            .and_then(|t| t.0)
            .or_else(|| self.date.0.as_deref().and_then(date::parse_iso));
        Item::Message(Message {
            chat: chat.clone(),
            id,
            date_unixtime,
            author: self.from.0,
            author_id: self.from_id.0,
            forwarded_from: self.forwarded_from.0,
            forwarded_from_id: self.forwarded_from_id.0,
            reply_to_message_id: self.reply_to_message_id.0,
            text: tb.text,
            links: tb.links,
            truncated: false,
        })
    }
}

/// Whitespace-insensitive form, to tell whether two flattenings say the same.
fn squashed(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keys whose values are text a person reads (strings, entity arrays, nested rich text): a
/// block's own text first (a details' title, a poll's question, then `text`), its nested
/// blocks next, its caption last.
const TEXT_KEYS: [&str; 4] = ["title", "question", "text", "caption"];
const HEAD_KEYS: [&str; 3] = ["title", "question", "text"];

/// Flattens any JSON value of rich text (2026 `rich_message`, polls, a `text` of a shape not
/// known yet) into what a person reads: the strings under [`TEXT_KEYS`] (and their entity
/// arrays) in document order, each block (an object outside running text) on its own line,
/// `href`/`url` targets and the text of `link` entities kept as links. Other fields are
/// searched for more text, never read as text themselves (`rtl`, `type`, file names).
/// Iterative: nesting costs no stack.
fn flatten_value(value: &serde_json::Value, tb: &mut TextBuilder) {
    use serde_json::Value;
    enum Step<'v> {
        Visit(&'v Value, bool),
        Break,
    }
    let mut stack = vec![Step::Visit(value, false)];
    while let Some(step) = stack.pop() {
        let (value, in_text) = match step {
            Step::Break => {
                if !tb.text.is_empty() && !tb.text.ends_with('\n') {
                    tb.text
                        .truncate(tb.text.trim_end_matches([' ', '\t']).len());
                    tb.text.push('\n');
                }
                continue;
            }
            Step::Visit(v, in_text) => (v, in_text),
        };
        match value {
            Value::String(s) if in_text => tb.text.push_str(s),
            Value::Array(items) => {
                for item in items.iter().rev() {
                    stack.push(Step::Visit(item, in_text));
                }
            }
            Value::Object(map) => {
                let kind = map.get("type").and_then(Value::as_str);
                for key in ["href", "url"] {
                    if let Some(target) = map.get(key).and_then(Value::as_str) {
                        tb.push_link(target);
                    }
                }
                if kind == Some("link") {
                    if let Some(target) = map.get("text").and_then(Value::as_str) {
                        tb.push_link(target);
                    }
                }
                // Own text, then the rest (which may hold blocks), then the caption.
                let mut children: Vec<Step<'_>> = Vec::new();
                for key in HEAD_KEYS {
                    if let Some(v) = map.get(key) {
                        children.push(Step::Visit(v, true));
                        children.push(Step::Break);
                    }
                }
                for (key, v) in map {
                    if !TEXT_KEYS.contains(&key.as_str()) && (v.is_object() || v.is_array()) {
                        children.push(Step::Visit(v, false));
                    }
                }
                if let Some(v) = map.get("caption") {
                    children.push(Step::Break);
                    children.push(Step::Visit(v, true));
                }
                if !in_text {
                    children.push(Step::Break);
                }
                if in_text {
                    // An inline entity: no line breaks of its own.
                    children.retain(|c| !matches!(c, Step::Break));
                }
                stack.extend(children.into_iter().rev());
                if !in_text {
                    stack.push(Step::Break);
                }
            }
            _ => {}
        }
    }
    let trimmed = tb.text.trim_end().len();
    tb.text.truncate(trimmed);
}

/// A value of type `T` if the JSON has one of a compatible type, else `None` (the JSON value
/// is consumed either way).
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

/// Kinds of JSON scalar a lenient field may be built from.
trait FromScalar: Sized {
    fn from_str(s: &str) -> Option<Self>;
    fn from_i64(v: i64) -> Option<Self>;
    fn from_u64(v: u64) -> Option<Self> {
        i64::try_from(v).ok().and_then(Self::from_i64)
    }
    fn from_f64(v: f64) -> Option<Self>;
}

impl FromScalar for i64 {
    fn from_str(s: &str) -> Option<Self> {
        s.trim().parse().ok()
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(v)
    }
    fn from_f64(v: f64) -> Option<Self> {
        (v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
    }
}

impl FromScalar for String {
    fn from_str(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(v.to_string())
    }
    fn from_u64(v: u64) -> Option<Self> {
        Some(v.to_string())
    }
    fn from_f64(v: f64) -> Option<Self> {
        Some(v.to_string())
    }
}

/// Unix seconds from `date_unixtime` (a string of digits, or a number).
struct UnixTime(Option<i64>);

impl FromScalar for UnixTime {
    fn from_str(s: &str) -> Option<Self> {
        Some(UnixTime(date::parse_unix(s)))
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(UnixTime(date::checked_unix(v)))
    }
    fn from_f64(v: f64) -> Option<Self> {
        Some(UnixTime(date::unix_from_f64(v)))
    }
}

impl<'de, T: FromScalar> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromScalar> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(T::from_str(s)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(T::from_i64(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(T::from_u64(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(T::from_f64(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_some<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The `visit_*` methods of a lenient visitor for JSON numbers, booleans and null, all
/// answering `$none`: where text belongs, such a value is no text (and not an error).
macro_rules! non_strings_are {
    ($none:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok($none)
        }
    };
}

/// Borrowed strings: a `Cow` that borrows from the file window when the JSON string has no
/// escapes.
impl<'de: 'a, 'a> Deserialize<'de> for Lenient<Cow<'a, str>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Lenient<Cow<'a, str>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                s: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Self::Value, E> {
                Ok(Lenient(Some(Cow::Owned(s))))
            }
            non_strings_are!(Lenient(None));
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `text`: a string, or an array of strings and entity objects `{type, text, href?}`; an
/// object (a shape not known yet) is kept whole and flattened as rich text.
enum Text<'a> {
    Plain(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
    Rich(serde_json::Value),
    Other,
}

struct Part<'a> {
    kind: Option<Cow<'a, str>>,
    text: Option<Cow<'a, str>>,
    href: Option<Cow<'a, str>>,
}

impl Text<'_> {
    fn flatten_into(self, tb: &mut TextBuilder) {
        match self {
            Text::Plain(s) => tb.text.push_str(&s),
            Text::Parts(parts) => {
                for part in parts {
                    let text = part.text.as_deref().unwrap_or_default();
                    tb.text.push_str(text);
                    match part.kind.as_deref() {
                        Some("link") => tb.push_link(text),
                        Some("text_link") => {
                            if let Some(href) = part.href.as_deref() {
                                tb.push_link(href);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Text::Rich(value) => flatten_value(&value, tb),
            Text::Other => {}
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of text parts")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                s: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Text::Plain(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(Text::Plain(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Self::Value, E> {
                Ok(Text::Plain(Cow::Owned(s)))
            }
            non_strings_are!(Text::Other);
            fn visit_map<A: MapAccess<'de>>(
                self,
                a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let value = serde_json::Value::deserialize(
                    serde::de::value::MapAccessDeserializer::new(a),
                )?;
                Ok(Text::Rich(value))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(a.size_hint().unwrap_or(4));
                while let Some(part) = a.next_element::<PartOrString<'a>>()? {
                    if let Some(part) = part.0 {
                        parts.push(part);
                    }
                }
                Ok(Text::Parts(parts))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One element of a text array: a plain string or an entity object.
struct PartOrString<'a>(Option<Part<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for PartOrString<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = PartOrString<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a text entity")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                s: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(plain(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(plain(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Self::Value, E> {
                Ok(plain(Cow::Owned(s)))
            }
            non_strings_are!(PartOrString(None));
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PartOrString(None))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut part = Part {
                    kind: None,
                    text: None,
                    href: None,
                };
                while let Some(key) = a.next_key::<PartKey>()? {
                    match key {
                        PartKey::Type => part.kind = a.next_value::<Lenient<Cow<'a, str>>>()?.0,
                        PartKey::Text => part.text = a.next_value::<Lenient<Cow<'a, str>>>()?.0,
                        PartKey::Href => part.href = a.next_value::<Lenient<Cow<'a, str>>>()?.0,
                        PartKey::Other => {
                            a.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(PartOrString(Some(part)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The keys of an entity object that matter (matched without allocating).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum PartKey {
    Type,
    Text,
    Href,
    #[serde(other)]
    Other,
}

fn plain(s: Cow<'_, str>) -> PartOrString<'_> {
    PartOrString(Some(Part {
        kind: None,
        text: Some(s),
        href: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::repair;

    fn fixed(raw: &[u8]) -> String {
        let mut out = Vec::new();
        repair(raw, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn repairs_hex_escapes_control_bytes_and_utf8() {
        assert_eq!(fixed(br#"{"a": "x\x0Ay"}"#), r#"{"a": "x\u000Ay"}"#);
        assert_eq!(fixed(br#"{"a": "\xZZ"}"#), r#"{"a": "\\xZZ"}"#);
        assert_eq!(fixed(b"{\"a\": \"x\x01y\"}"), r#"{"a": "x\u0001y"}"#);
        assert_eq!(fixed(b"{\"a\": \"x\xFFy\"}"), "{\"a\": \"x\u{FFFD}y\"}");
        assert_eq!(fixed(br#"{"a": "q\"\\x"}"#), r#"{"a": "q\"\\x"}"#);
        assert_eq!(fixed(br#"{"a": "\q"}"#), r#"{"a": "\\q"}"#);
    }

    /// Lone surrogates become U+FFFD, pairs stay, `\u` without four hex digits is text, and the
    /// exporter's two stray bytes after U+2028/U+2029 (escaped or raw) are dropped.
    #[test]
    fn repairs_unicode_escapes_and_separator_strays() {
        assert_eq!(fixed(br#"{"a": "x\ud800y"}"#), r#"{"a": "x\ufffdy"}"#);
        assert_eq!(
            fixed(br#"{"a": "\ud800\u0041"}"#),
            r#"{"a": "\ufffd\u0041"}"#
        );
        assert_eq!(fixed(br#"{"a": "\udfff"}"#), r#"{"a": "\ufffd"}"#);
        assert_eq!(
            fixed(br#"{"a": "\ud83d\ude00"}"#),
            r#"{"a": "\ud83d\ude00"}"#
        );
        assert_eq!(fixed(br#"{"a": "\u12G4"}"#), r#"{"a": "\\u12G4"}"#);
        assert_eq!(
            fixed(b"{\"a\": \"\\u2028\x80\xa8z\"}"),
            r#"{"a": "\u2028z"}"#
        );
        assert_eq!(
            fixed(b"{\"a\": \"\xe2\x80\xa9\x80\xa9z\"}"),
            "{\"a\": \"\u{2029}z\"}"
        );
        // A separator without strays is left alone.
        assert_eq!(
            fixed(b"{\"a\": \"\xe2\x80\xa8z\"}"),
            "{\"a\": \"\u{2028}z\"}"
        );
    }
}
