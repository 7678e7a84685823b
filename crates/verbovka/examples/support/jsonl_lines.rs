//! Line handling of `score_jsonl`, apart so that the fuzz target `score_jsonl_lines` runs the
//! very code the example runs: bounded line reading and one line's `text`.

use std::io::{self, BufRead};

/// The longest line read (longer lines are one error record, read past without being kept).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The longest text scored; longer texts are cut here (on a character boundary) and their
/// record says `"text_truncated": true`. At the detector's worst case, about 150 bytes of
/// memory per byte of text, 1 MiB keeps a run under 300 MB.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// One line as read: its bytes (without the newline), or `None` when it was longer than the
/// limit (and was skipped to its end).
pub enum Line {
    Bytes(Vec<u8>),
    TooLong,
}

/// Reads the next line (to `\n` or the end), keeping at most `max` bytes of it.
pub fn read_line(input: &mut impl BufRead, max: usize) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        any = true;
        let (chunk, done) = match memchr_newline(buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            break;
        }
    }
    Ok(match (any, too_long) {
        (false, _) => None,
        (true, true) => Some(Line::TooLong),
        (true, false) => Some(Line::Bytes(line)),
    })
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// The text of line `n` (0-based): a UTF-8 BOM before the first line and a CR before the
/// newline are dropped; the text is cut at `max_text` bytes (`true` when it was).
pub fn text_of(line: &Line, n: usize, max_text: usize) -> Result<(String, bool), String> {
    let bytes = match line {
        Line::Bytes(b) => b.as_slice(),
        Line::TooLong => {
            return Err(format!(
                "line {}: longer than {MAX_LINE_BYTES} bytes, not read",
                n + 1
            ))
        }
    };
    let bytes = if n == 0 {
        bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
    } else {
        bytes
    };
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let line = std::str::from_utf8(bytes)
        .map_err(|e| format!("line {}: not UTF-8 (byte {})", n + 1, e.valid_up_to()))?;
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("line {}: not valid JSON: {e}", n + 1))?;
    let mut text = match value.get("text") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => return Err(format!("line {}: `text` is not a string", n + 1)),
        None => return Err(format!("line {}: no `text` field", n + 1)),
    };
    let cut = text.len() > max_text;
    if cut {
        let mut at = max_text;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    Ok((text, cut))
}
