//! The Telegram Desktop export reader against hand-written fixtures of every shape
//! (tests/fixtures/telegram) and, where present, the real exports in ../shared/telegram-exports.

use std::io::Read;
use std::path::{Path, PathBuf};

#[cfg(feature = "telegram-html")]
use verbovka::telegram::Format;
use verbovka::telegram::{ChatKind, Message, ReadStats, Reader, SkipReason};
use verbovka::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/telegram")
        .join(name)
}

/// Reads everything; returns the messages, the error that ended the read (if any) and stats.
fn read_all(mut reader: Reader) -> (Vec<Message>, Option<Error>, ReadStats) {
    let mut messages = Vec::new();
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(m) => messages.push(m),
            Err(e) => {
                assert!(error.is_none(), "a second error after {error:?}");
                error = Some(e);
            }
        }
    }
    assert!(reader.next().is_none(), "the iterator is fused");
    let stats = reader.stats().clone();
    (messages, error, stats)
}

fn read_ok(path: &Path) -> (Vec<Message>, ReadStats) {
    let reader = Reader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (messages, error, stats) = read_all(reader);
    assert!(error.is_none(), "{}: {error:?}", path.display());
    assert_eq!(stats.yielded as usize, messages.len());
    (messages, stats)
}

fn by_id(messages: &[Message], id: i64) -> &Message {
    messages
        .iter()
        .find(|m| m.id == id)
        .unwrap_or_else(|| panic!("message {id} not yielded"))
}

fn ids(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.id).collect()
}

#[test]
fn reader_is_send() {
    fn send<T: Send>() {}
    send::<Reader>();
    send::<Message>();
}

#[test]
fn single_chat_every_message_shape() {
    let (messages, stats) = read_ok(&fixture("single_chat.json"));
    assert_eq!(ids(&messages), [2, 3, 4, 6, 7, 9, 10, 13]);
    assert_eq!(stats.skipped(SkipReason::Service), 2);
    assert_eq!(stats.skipped(SkipReason::Empty), 1, "sticker without text");
    assert_eq!(stats.skipped(SkipReason::UnknownType), 1, "`unsupported`");
    assert_eq!(
        stats.skipped(SkipReason::Malformed),
        1,
        "message without id"
    );
    assert_eq!(stats.read(), 13, "yielded + skipped = every message object");
    assert_eq!((stats.chats, stats.undated), (1, 1));

    let m2 = by_id(&messages, 2);
    assert_eq!(m2.chat.name.as_deref(), Some("Новини Півдня"));
    assert_eq!(
        (m2.chat.id, m2.chat.kind, m2.chat.left),
        (Some(1702345678), ChatKind::PublicSupergroup, false)
    );
    assert_eq!(m2.author.as_deref(), Some("Олена К."));
    assert_eq!(m2.author_id.as_deref(), Some("user100200300"));
    assert_eq!(m2.date_unixtime, Some(1709288130));
    assert_eq!(m2.date_iso().as_deref(), Some("2024-03-01T10:15:30Z"));
    assert_eq!(m2.link().as_deref(), Some("https://t.me/c/1702345678/2"));

    // Text as an array of strings and entities: flattened, link targets kept (not mentions).
    let m3 = by_id(&messages, 3);
    assert_eq!(
        m3.text,
        "Потрібні сміливі люди. Оплата щодня. Пиши @easy_job_ua_bot або тут: https://t.me/+AbCdEf123, деталі за посиланням"
    );
    assert_eq!(
        m3.links,
        ["https://t.me/+AbCdEf123", "https://example.org/job?id=7"]
    );

    // A photo's caption is the message text.
    assert_eq!(
        by_id(&messages, 4).text,
        "Черга біля Нової пошти на Шевченка"
    );

    // `from: null`, forwarded, and only `date` (local time without zone, read as UTC).
    let m6 = by_id(&messages, 6);
    assert_eq!(m6.author, None);
    assert_eq!(m6.author_id.as_deref(), Some("user777"));
    assert_eq!(m6.forwarded_from.as_deref(), Some("Поліція Одещини"));
    assert_eq!(m6.date_iso().as_deref(), Some("2024-03-02T08:30:00Z"));

    // Old numeric `from_id`, a reply, unknown fields of any shape.
    let m7 = by_id(&messages, 7);
    assert_eq!(m7.author_id.as_deref(), Some("42"));
    assert_eq!(m7.reply_to_message_id, Some(6));
    assert_eq!(m7.text, "Дякую, поширю");

    // A date that does not parse: yielded, undated.
    assert_eq!(by_id(&messages, 9).date_unixtime, None);

    // A poll: question and answers are what a person reads.
    assert_eq!(
        by_id(&messages, 10).text,
        "Чи було у вас світло вчора?\nТак\nНі"
    );

    // Escapes decoded; `date_unixtime` as a number.
    let m13 = by_id(&messages, 13);
    assert_eq!(
        m13.text,
        "Рядок один\nРядок два \"в лапках\" і \\ зворотна риска"
    );
    assert_eq!(m13.date_unixtime, Some(1709467200));
}

#[test]
fn full_account_with_left_chats() {
    let (messages, stats) = read_ok(&fixture("full_account.json"));
    assert_eq!(ids(&messages), [11, 21, 301, 7]);
    assert_eq!(
        stats.chats, 5,
        "saved, personal, channel, empty group, left channel"
    );
    assert_eq!(stats.skipped(SkipReason::Service), 1);
    assert_eq!(stats.skipped(SkipReason::Empty), 1);
    assert_eq!(stats.read(), 6);

    let saved = by_id(&messages, 11);
    assert_eq!(
        (saved.chat.name.as_deref(), saved.chat.kind),
        (None, ChatKind::Saved)
    );
    assert_eq!(saved.link(), None);
    let personal = by_id(&messages, 21);
    assert_eq!(
        (personal.chat.name.as_deref(), personal.chat.kind),
        (Some("Марія"), ChatKind::Personal)
    );
    assert_eq!(personal.link(), None, "no t.me/c links in private chats");
    let channel = by_id(&messages, 301);
    assert_eq!(channel.chat.kind, ChatKind::PublicChannel);
    assert_eq!(
        channel.link().as_deref(),
        Some("https://t.me/c/1987654321/301")
    );
    assert!(!channel.chat.left);
    let left = by_id(&messages, 7);
    assert!(left.chat.left);
    assert_eq!(
        (left.chat.kind, left.chat.id),
        (ChatKind::PrivateChannel, Some(1555444333))
    );
    assert_eq!(left.text, "Сводка дня: читать");
    assert_eq!(left.links, ["https://example.com/news/1"]);
}

#[test]
fn export_folder_finds_result_json() {
    let dir = tempdir("folder");
    std::fs::copy(fixture("single_chat.json"), dir.join("result.json")).unwrap();
    let (messages, _) = read_ok(&dir);
    assert_eq!(messages.len(), 8);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn quirks_of_real_exports_are_repaired() {
    let (messages, stats) = read_ok(&fixture("quirks.json"));
    assert_eq!(ids(&messages), [1, 2, 3, 4, 5]);
    assert_eq!(stats.skipped_total(), 0);
    let chat = &messages[0].chat;
    assert_eq!(
        chat.name.as_deref(),
        Some("Quirks \u{1}chat"),
        "`\\x01` in a chat name"
    );
    assert_eq!(chat.kind, ChatKind::PrivateSupergroup);
    assert_eq!(messages[0].text, "line1\nline2\ttab", "`\\x0A` and `\\x09`");
    assert_eq!(
        messages[1].author.as_deref(),
        Some("B\u{FFFD}"),
        "invalid UTF-8 replaced"
    );
    assert_eq!(messages[1].text, "broken \u{FFFD} utf8 \u{FFFD} here");
    assert_eq!(
        messages[2].text, "raw\u{1}control\u{1f}bytes",
        "raw control bytes"
    );
    assert_eq!(
        messages[3].text, "a\u{1b}b https://x.test/\\xZZ",
        "`\\x` without hex stays text"
    );
    assert_eq!(messages[3].links, ["https://x.test/\\xZZ"]);
    assert_eq!(messages[4].text, "sep\u{2028}ok 😀");
    assert_eq!(
        messages[4].date_iso().as_deref(),
        Some("2024-03-01T11:00:00Z"),
        "ms and Z"
    );
}

#[test]
fn truncated_file_yields_everything_before_the_damage() {
    let path = fixture("truncated.json");
    let bytes = std::fs::read(&path).unwrap();
    let (size, lines) = (
        bytes.len(),
        bytes.iter().filter(|&&b| b == b'\n').count() + 1,
    );
    let (messages, error, stats) = read_all(Reader::open(&path).unwrap());
    assert_eq!(ids(&messages), [2, 3, 4, 6]);
    assert_eq!(stats.skipped(SkipReason::Service), 1);
    let Some(Error::Data { origin, message }) = error else {
        panic!("expected Error::Data, got {error:?}")
    };
    assert!(origin.contains("truncated.json"), "{origin}");
    assert!(
        origin.contains(&format!("at byte {size} (line {lines})")),
        "{origin}"
    );
    assert!(message.contains("end of file"), "{message}");
}

/// A message that is not JSON is skipped with its place and the parser's complaint, and the
/// messages after it are read (the reader resynchronises at the next message).
#[test]
fn corrupt_message_is_reported_at_its_byte_and_line() {
    let path = fixture("corrupt.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let (messages, error, stats) = read_all(Reader::open(&path).unwrap());
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&messages), [2, 3, 4, 6, 7, 10, 13]);
    assert_eq!(stats.skipped(SkipReason::Corrupt), 1);
    assert_eq!(
        stats.skipped(SkipReason::Malformed),
        1,
        "the message without id"
    );
    assert_eq!(stats.damaged(), 2);
    assert_eq!(stats.notes.len(), 2);
    // The damage: line 171 starts `"from_id"` where a `,` was due.
    let line_171 = text
        .split_inclusive('\n')
        .take(170)
        .map(str::len)
        .sum::<usize>();
    let at = line_171 + text.lines().nth(170).unwrap().find('"').unwrap();
    let note = &stats.notes[0];
    assert_eq!(note.reason, SkipReason::Corrupt);
    assert!(
        note.at
            .ends_with(&format!("corrupt.json at byte {at} (line 171)")),
        "{note}"
    );
    assert!(note.detail.contains("expected `,` or `}`"), "{note}");
    assert_eq!(stats.notes[1].reason, SkipReason::Malformed);
    assert!(stats.notes[1].detail.contains("`id`"), "{}", stats.notes[1]);
}

/// One export holding `messages` (JSON array elements) between two good messages.
fn export_with(messages: &str) -> String {
    format!(
        r#"{{"name": "x", "type": "public_channel", "id": 5, "messages": [
        {{"id": 1, "type": "message", "text": "one"}},
        {messages},
        {{"id": 9, "type": "message", "text": "nine"}}]}}"#
    )
}

/// Damaged messages, one at a time between two good ones: each is repaired (text kept) or
/// skipped with its reason, and the message after it is always read.
#[test]
fn a_bad_message_never_stops_the_export() {
    use SkipReason::{Corrupt, Malformed};
    // message, ids yielded, skip reason (None: repaired and yielded), text of message 2
    let cases: [(&str, &[i64], Option<SkipReason>, &str); 12] = [
        (
            r#"{"id": 2, "text": "a\ud800b"}"#,
            &[1, 2, 9],
            None,
            "a\u{FFFD}b",
        ),
        (
            r#"{"id": 2, "text": "a\udc00"}"#,
            &[1, 2, 9],
            None,
            "a\u{FFFD}",
        ),
        (
            r#"{"id": 2, "text": "\ud83d\ude00!"}"#,
            &[1, 2, 9],
            None,
            "😀!",
        ),
        (
            r#"{"id": 2, "text": "bad \u12G4 escape"}"#,
            &[1, 2, 9],
            None,
            "bad \\u12G4 escape",
        ),
        (
            r#"{"id": 2, "text": "cut \u12"}"#,
            &[1, 2, 9],
            None,
            "cut \\u12",
        ),
        (
            r#"{"id": 2, "from": NaN, "text": "t"}"#,
            &[1, 9],
            Some(Corrupt),
            "",
        ),
        (r#"{"id": 2, "text": "t",}"#, &[1, 9], Some(Corrupt), ""),
        (r#"{"id": 2 "text": "t"}"#, &[1, 9], Some(Corrupt), ""),
        (
            r#"{"id": 2, "text": "first", "text": "last"}"#,
            &[1, 2, 9],
            None,
            "last",
        ),
        (
            r#"{"id": 7, "id": 2, "from": "a", "from": "b", "text": "t"}"#,
            &[1, 2, 9],
            None,
            "t",
        ),
        (r#"{"text": "no id"}"#, &[1, 9], Some(Malformed), ""),
        (r#""a string, not a message""#, &[1, 9], Some(Malformed), ""),
    ];
    for (message, want, skip, text) in cases {
        let json = export_with(message);
        let (messages, error, stats) = read_all(Reader::from_json_reader(
            std::io::Cursor::new(json.clone().into_bytes()),
            "mem.json",
        ));
        assert!(error.is_none(), "{message}: {error:?}");
        assert_eq!(ids(&messages), want, "{message}");
        assert_eq!(stats.read(), 3, "{message}: read = yielded + skipped");
        match skip {
            None => {
                assert_eq!(by_id(&messages, 2).text, text, "{message}");
                assert!(stats.notes.is_empty(), "{message}: {:?}", stats.notes);
            }
            Some(reason) => {
                assert_eq!(stats.skipped(reason), 1, "{message}");
                let note = &stats.notes[0];
                assert_eq!(note.reason, reason, "{message}");
                let at = json.find(message).unwrap();
                assert!(note.at.starts_with("mem.json at byte "), "{note}");
                let byte: usize = note.at["mem.json at byte ".len()..]
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap();
                assert!(
                    (at..at + message.len()).contains(&byte) && note.at.ends_with("(line 3)"),
                    "{message}: {note}"
                );
            }
        }
    }
    // Duplicate keys: the last wins.
    let (messages, _, _) = read_all(Reader::from_json_reader(
        std::io::Cursor::new(
            export_with(r#"{"id": 7, "id": 2, "from": "a", "from": "b", "text": "t"}"#)
                .into_bytes(),
        ),
        "mem.json",
    ));
    assert_eq!(by_id(&messages, 2).author.as_deref(), Some("b"));
}

/// A message object over the reader's limit is stepped over without being kept (memory stays
/// bounded whatever the input), counted and noted; the rest is read.
#[test]
fn a_message_over_the_limit_is_skipped_as_too_large() {
    let huge = format!(r#"{{"id": 2, "text": "{}"}}"#, "ж".repeat(3 << 20));
    let json = export_with(&huge);
    let reader = Reader::from_json_reader(std::io::Cursor::new(json.into_bytes()), "mem.json")
        .max_message_bytes(1 << 20);
    let (messages, error, stats) = read_all(reader);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&messages), [1, 9]);
    assert_eq!(stats.skipped(SkipReason::TooLarge), 1);
    assert!(
        stats.notes[0].at.ends_with("(line 3)") && stats.notes[0].detail.contains("1048576"),
        "{}",
        stats.notes[0]
    );
    // Under the default limit (16 MiB) the same message is read.
    let json = export_with(&huge);
    let (messages, _, _) = read_all(Reader::from_json_reader(
        std::io::Cursor::new(json.into_bytes()),
        "mem.json",
    ));
    assert_eq!(ids(&messages), [1, 2, 9]);
}

/// Exports read whole or not at all: two exports one after the other are both read; a
/// `messages`, `chats` or `chats.list` of the wrong type, or bytes after the export, are
/// errors, never an export of 0 messages.
#[test]
fn exports_of_the_wrong_shape_are_errors() {
    let one = r#"{"name": "a", "type": "personal_chat", "id": 1, "messages": [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}]}"#;
    let two =
        r#"{"name": "b", "type": "personal_chat", "id": 2, "messages": [{"id": 3, "text": "z"}]}"#;
    // input, ids yielded, error
    let cases: [(String, &[i64], Option<&str>); 7] = [
        (format!("{one}\n{two}\n"), &[1, 2, 3], None),
        (format!("{one}{one}"), &[1, 2, 1, 2], None),
        (
            format!("{one} ]"),
            &[1, 2],
            Some("unexpected `]` after the end of the export"),
        ),
        (
            r#"{"chats": {"list": {"a": 1}}}"#.into(),
            &[],
            Some("`chats.list` is not an array"),
        ),
        (
            r#"{"left_chats": {"list": 5}}"#.into(),
            &[],
            Some("`left_chats.list` is not an array"),
        ),
        (
            r#"{"chats": []}"#.into(),
            &[],
            Some("`chats` is not an object"),
        ),
        (
            r#"{"name": "a", "messages": {"id": 1}}"#.into(),
            &[],
            Some("`messages` is not an array"),
        ),
    ];
    for (json, want, error) in cases {
        let (messages, err, _) = read_all(Reader::from_json_reader(
            std::io::Cursor::new(json.clone().into_bytes()),
            "mem.json",
        ));
        assert_eq!(ids(&messages), want, "{json}");
        match (error, err) {
            (None, None) => {}
            (Some(want), Some(e)) => {
                let e = e.to_string();
                assert!(
                    e.contains(want) && e.starts_with("mem.json at byte"),
                    "{json}: {e}"
                );
            }
            (want, got) => panic!("{json}: expected {want:?}, got {got:?}"),
        }
    }
    let (messages, _, stats) = read_all(Reader::from_json_reader(
        std::io::Cursor::new(format!("{one}\n{two}").into_bytes()),
        "mem.json",
    ));
    assert_eq!(stats.chats, 2);
    assert_eq!(messages[2].chat.name.as_deref(), Some("b"));
}

#[test]
fn structural_damage_between_messages() {
    let json = r#"{"name": "x", "type": "public_channel", "id": 5, "messages": [
        {"id": 1, "type": "message", "text": "one"},
        {"id": 2, "type": "message", "text": "two"} garbage
        {"id": 3, "type": "message", "text": "three"}]}"#;
    let (messages, error, _) = read_all(Reader::from_json_reader(json.as_bytes(), "mem.json"));
    assert_eq!(ids(&messages), [1, 2]);
    let err = error.expect("an error").to_string();
    assert!(err.starts_with("mem.json at byte "), "{err}");
    assert!(
        err.contains("(line 3)") && err.contains("expected `,` or `]`"),
        "{err}"
    );
}

#[test]
fn not_an_export_is_a_clear_error() {
    let (messages, error, _) =
        read_all(Reader::from_json_reader(&br#"{"a": [1, 2]}"#[..], "x.json"));
    assert!(messages.is_empty());
    assert!(error
        .expect("an error")
        .to_string()
        .contains("not a Telegram Desktop export"));

    let dir = tempdir("not_export");
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    let err = Reader::open(dir.join("notes.txt")).unwrap_err();
    assert!(matches!(err, Error::Data { .. }), "{err}");
    let err = Reader::open(&dir).unwrap_err();
    assert!(
        err.to_string().contains("no Telegram Desktop export here"),
        "{err}"
    );
    let err = Reader::open(dir.join("missing.json")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    std::fs::write(dir.join("empty.json"), "").unwrap();
    assert!(Reader::open(dir.join("empty.json")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// Files and folders that are not readable exports: each error names the path and the
/// problem (a UTF-16 file was "not an export", an unreadable folder "no export here").
#[test]
fn unreadable_inputs_are_named_with_their_problem() {
    let dir = tempdir("unreadable");
    let json = r#"{"messages": [{"id": 1, "text": "x"}]}"#;
    let utf16le: Vec<u8> = json.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = json.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let with_bom = |bom: &[u8], body: &[u8]| [bom, body].concat();
    // file name, bytes, what the error must say
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("le.json", with_bom(b"\xFF\xFE", &utf16le), "UTF-16"),
        ("be.json", with_bom(b"\xFE\xFF", &utf16be), "UTF-16"),
        ("le-no-bom.json", utf16le.clone(), "UTF-16"),
        ("export.json.gz", b"\x1F\x8B\x08\x00rest".to_vec(), "gzip"),
        ("export.zip", b"PK\x03\x04rest".to_vec(), "zip"),
        ("empty.json", Vec::new(), "empty file"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Reader::open(&path).unwrap_err().to_string();
        assert!(err.contains(want) && err.contains(name), "{name}: {err}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.join("locked");
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::write(locked.join("result.json"), json).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        // Root reads any folder: the case only means something for other users.
        if std::fs::read_dir(&locked).is_err() {
            let err = Reader::open(&locked).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Io { .. }), "{text}");
            assert!(
                text.contains("locked") && text.contains("ermission denied"),
                "{text}"
            );
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A reader that hands out at most `chunk` bytes per call: every refill boundary of the
/// scanner (inside strings, escapes, keys, numbers) gets exercised.
struct Trickle<R> {
    inner: R,
    chunk: usize,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk);
        self.inner.read(&mut buf[..n])
    }
}

#[test]
fn results_do_not_depend_on_read_boundaries() {
    for name in [
        "single_chat.json",
        "full_account.json",
        "quirks.json",
        "truncated.json",
        "corrupt.json",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let (want, want_err, want_stats) = read_all(Reader::from_json_reader(
            std::io::Cursor::new(bytes.clone()),
            name,
        ));
        for chunk in [1, 2, 3, 5, 7, 64, 4096] {
            let trickle = Trickle {
                inner: std::io::Cursor::new(bytes.clone()),
                chunk,
            };
            let (got, got_err, got_stats) = read_all(Reader::from_json_reader(trickle, name));
            assert_eq!(got, want, "{name} in chunks of {chunk}");
            assert_eq!(got_stats, want_stats, "{name} in chunks of {chunk}");
            assert_eq!(
                got_err.map(|e| e.to_string()),
                want_err.as_ref().map(|e| e.to_string())
            );
        }
    }
}

#[test]
fn messages_larger_than_the_window_and_many_windows() {
    // 3 MiB of messages, one of them 2.5 MiB long: the window grows for it and slides on.
    let big = "ж".repeat(1_300_000);
    let mut json = String::from(r#"{"name":"big","type":"private_supergroup","id":9,"messages":["#);
    for i in 0..20_000 {
        json.push_str(&format!(
            r#"{{"id":{i},"type":"message","date_unixtime":"{i}","text":"m{i} \"q\" \\"}},"#
        ));
    }
    json.push_str(&format!(r#"{{"id":99999,"type":"message","text":["{big}",{{"type":"link","text":"https://a.b"}}]}}]}}"#));
    let read = |max_text: usize| {
        let reader =
            Reader::from_json_reader(std::io::Cursor::new(json.clone().into_bytes()), "big")
                .max_text_bytes(max_text);
        read_all(reader)
    };
    let (messages, error, stats) = read(4 << 20);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(stats.yielded, 20_001);
    assert_eq!(messages[12_345].text, "m12345 \"q\" \\");
    let last = messages.last().unwrap();
    assert_eq!(last.text.len(), big.len() + "https://a.b".len());
    assert_eq!(last.links, ["https://a.b"]);
    assert!(!last.truncated && stats.truncated == 0);
    // Under the default text limit (1 MiB) the long text is cut on a character boundary,
    // marked and counted; its links are kept.
    let (messages, _, stats) = read(verbovka::telegram::MAX_TEXT_BYTES);
    let last = messages.last().unwrap();
    assert_eq!(last.text.len(), 1 << 20);
    assert!(last.text.chars().all(|c| c == 'ж'));
    assert!(last.truncated && stats.truncated == 1);
    assert_eq!(last.links, ["https://a.b"]);
    assert!(messages[..20_000].iter().all(|m| !m.truncated));
}

#[test]
fn message_link_forms() {
    let (messages, _) = read_ok(&fixture("single_chat.json"));
    let mut m = by_id(&messages, 2).clone();
    m.chat.id = Some(-1001702345678);
    assert_eq!(
        m.link().as_deref(),
        Some("https://t.me/c/1702345678/2"),
        "Bot API form"
    );
    m.chat.kind = ChatKind::PrivateGroup;
    assert_eq!(m.link(), None, "basic groups have no message links");
    m.chat.kind = ChatKind::PrivateChannel;
    m.chat.id = None;
    assert_eq!(m.link(), None);
}

#[cfg(feature = "telegram-html")]
#[test]
fn html_export_with_joined_messages_over_two_pages() {
    let dir = fixture("html_chat");
    let reader = Reader::open(&dir).unwrap();
    assert_eq!(reader.format(), Format::Html);
    assert!(reader.total_bytes().unwrap() > 0);
    let (messages, stats) = read_ok(&dir);
    assert_eq!(ids(&messages), [101, 102, 104, 105, 106, 107]);
    assert_eq!(
        stats.skipped(SkipReason::Service),
        1,
        "date separators are not messages"
    );
    assert_eq!(stats.skipped(SkipReason::Empty), 1, "photo without caption");
    assert_eq!(stats.skipped(SkipReason::UnknownType), 1);
    assert_eq!((stats.chats, stats.read()), (1, 9));

    let m101 = by_id(&messages, 101);
    assert_eq!(m101.chat.name.as_deref(), Some("Робота Одеса"));
    assert_eq!((m101.chat.id, m101.chat.kind), (None, ChatKind::Unknown));
    assert_eq!(m101.author.as_deref(), Some("Олег Петренко"));
    assert_eq!(m101.author_id, None);
    assert_eq!(
        m101.date_iso().as_deref(),
        Some("2024-03-01T08:15:30Z"),
        "UTC+02:00 applied"
    );
    assert_eq!(
        m101.text,
        "Шукаю підробіток, є авто.\nПишіть \"в ЛС\" & дякую"
    );

    // A joined message carries its sender over; links kept, mentions are not links.
    let m102 = by_id(&messages, 102);
    assert_eq!(m102.author.as_deref(), Some("Олег Петренко"));
    assert_eq!(
        m102.text,
        "Ось мій канал: https://t.me/oleg_channel, пишіть @oleg_p"
    );
    assert_eq!(m102.links, ["https://t.me/oleg_channel"]);

    // Forwarded with media and a caption; ` via @bot` is not part of the name.
    let m104 = by_id(&messages, 104);
    assert_eq!(m104.author.as_deref(), Some("Bot Helper"));
    assert_eq!(m104.forwarded_from.as_deref(), Some("Поліція Одещини"));
    assert_eq!(
        m104.text,
        "УВАГА! Не ведіться на «легкий заробіток». Деталі: сайт"
    );
    assert_eq!(m104.links, ["https://police.example/warn"]);

    // Second page: reply ids, a date without zone, carry-over again, spoilers and code.
    let m105 = by_id(&messages, 105);
    assert_eq!(m105.reply_to_message_id, Some(101));
    assert_eq!(m105.date_iso().as_deref(), Some("2024-03-02T09:00:00Z"));
    let m106 = by_id(&messages, 106);
    assert_eq!(
        (m106.author.as_deref(), m106.text.as_str()),
        (Some("Олег Петренко"), "Тільки секрет і код")
    );
    assert_eq!(by_id(&messages, 107).text, "Чи є світло?\n- Так\n- Ні");
}

#[cfg(feature = "telegram-html")]
#[test]
fn html_single_page_and_whole_account() {
    let (messages, _) = read_ok(&fixture("html_chat/messages2.html"));
    assert_eq!(ids(&messages), [105, 106, 107]);
    // Opened alone, a joined message at the top of a page has no sender to carry.
    let (messages, stats) = read_ok(&fixture("html_account"));
    assert_eq!(stats.chats, 2);
    assert_eq!(ids(&messages), [105, 106, 107, 5]);
    assert_eq!(messages[3].chat.name.as_deref(), Some("Марія"));
    assert_eq!(
        messages[3].date_iso().as_deref(),
        Some("2024-01-05T20:00:00Z")
    );
}

#[cfg(feature = "telegram-html")]
#[test]
fn json_and_html_give_the_same_message_type() {
    // Serialises with the fields an output record needs.
    let (messages, _) = read_ok(&fixture("single_chat.json"));
    let v = serde_json::to_value(by_id(&messages, 3)).unwrap();
    for key in [
        "chat",
        "id",
        "date_unixtime",
        "author",
        "author_id",
        "forwarded_from",
        "reply_to_message_id",
        "text",
        "links",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    assert_eq!(v["chat"]["kind"], "public_supergroup");
}

/// The README's sample export stays readable and keeps its shape.
#[test]
fn readme_sample_export() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/sample_export");
    let (messages, stats) = read_ok(&dir);
    assert_eq!((stats.read(), stats.yielded), (31, 27));
    assert_eq!(
        (
            stats.skipped(SkipReason::Service),
            stats.skipped(SkipReason::Empty)
        ),
        (3, 1)
    );
    assert!(messages
        .iter()
        .all(|m| m.link().is_some() && m.date_unixtime.is_some()));
}

/// The real exports in ../shared/telegram-exports (not in the repository): checked when present.
#[test]
fn real_exports_when_available() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/telegram-exports");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} not present", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let (messages, stats) = read_ok(&path);
        eprintln!(
            "{}: chats {}, yielded {}, skipped {:?}, undated {}",
            path.file_name().unwrap().to_string_lossy(),
            stats.chats,
            stats.yielded,
            SkipReason::ALL
                .iter()
                .map(|r| (r.as_str(), stats.skipped(*r)))
                .collect::<Vec<_>>(),
            stats.undated
        );
        assert!(
            stats.chats >= 1 && !messages.is_empty(),
            "{}",
            path.display()
        );
        assert!(messages.iter().all(|m| !m.text.trim().is_empty()));
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("verbovka-telegram-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads `source` through a FIFO (as `<(zcat export.json.gz)` gives one), written by a thread.
#[cfg(unix)]
fn read_through_fifo(source: &Path, tag: &str) -> (Vec<Message>, ReadStats) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempdir(tag);
    let fifo = dir.join("export");
    let _ = std::fs::remove_file(&fifo);
    let c_path = CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let bytes = std::fs::read(source).expect("fixture");
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, bytes).expect("write to the pipe"))
    };
    let read = read_ok(&fifo);
    writer.join().expect("writer");
    let _ = std::fs::remove_dir_all(dir);
    read
}

/// A JSON export through a pipe reads whole, exactly as the file does: the bytes read to tell
/// the format are not lost.
#[cfg(unix)]
#[test]
fn json_export_through_a_pipe_reads_whole() {
    let source = fixture("single_chat.json");
    let (expected, expected_stats) = read_ok(&source);
    let (messages, stats) = read_through_fifo(&source, "fifo-json");
    assert_eq!(ids(&messages), ids(&expected));
    assert_eq!(stats.yielded, expected_stats.yielded);
}

/// An HTML page through a pipe reads as the file does (it was reopened by path, and a pipe
/// read twice is empty the second time).
#[cfg(all(unix, feature = "telegram-html"))]
#[test]
fn html_page_through_a_pipe_reads_whole() {
    let source = fixture("html_chat/messages.html");
    let (expected, expected_stats) = read_ok(&source);
    let (messages, stats) = read_through_fifo(&source, "fifo-html");
    assert_eq!(ids(&messages), ids(&expected));
    assert_eq!(stats.read(), expected_stats.read());
}

/// One HTML page holding `body` as the text of message 5.
#[cfg(feature = "telegram-html")]
fn html_page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/></head><body>\
         <div class=\"page_header\"><div class=\"text bold\">Чат</div></div><div class=\"history\">\
         <div class=\"message default clearfix\" id=\"message4\"><div class=\"body\">\
         <div class=\"from_name\">Олег</div><div class=\"text\">перше</div></div></div>\
         <div class=\"message default clearfix\" id=\"message5\"><div class=\"body\">\
         <div class=\"from_name\">Олег</div><div class=\"text\">{body}</div></div></div>\
         </div></body></html>\n"
    )
}

/// Hostile HTML pages: nesting far past any recursion's stack, links nested as deep, a page
/// cut short (its messages read, then the damage reported), markup with no end.
#[cfg(feature = "telegram-html")]
#[test]
fn html_hostile_pages() {
    let deep =
        |open: &str, close: &str, n: usize| format!("{}глибоко{}", open.repeat(n), close.repeat(n));
    let full = html_page("кінець");
    // name, page, ids yielded, error, text of message 5 (when yielded)
    type Case<'a> = (&'a str, String, &'a [i64], Option<&'a str>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "100k nested spans",
            html_page(&deep("<span>", "</span>", 100_000)),
            &[4, 5],
            None,
            "глибоко",
        ),
        (
            "20k nested links",
            html_page(&deep("<a href=\"https://x.example/\">", "</a>", 20_000)),
            &[4, 5],
            None,
            "глибоко",
        ),
        (
            "20k nested <b>",
            html_page(&deep("<b>", "</b>", 20_000)),
            &[4, 5],
            None,
            "глибоко",
        ),
        (
            "cut after the first message",
            full[..full.find("id=\"message5\"").unwrap()].to_owned(),
            &[4],
            Some("truncated HTML page"),
            "",
        ),
        (
            "cut inside the last message",
            full[..full.find("кінець").unwrap() + "кін".len()].to_owned(),
            &[4, 5],
            Some("truncated HTML page"),
            "кін",
        ),
        ("whole page", full.clone(), &[4, 5], None, "кінець"),
    ];
    let dir = tempdir("html-hostile");
    for (name, page, want, error, text5) in cases {
        let path = dir.join("messages.html");
        std::fs::write(&path, &page).unwrap();
        let (messages, err, stats) = read_all(Reader::open(&path).unwrap());
        assert_eq!(ids(&messages), want, "{name}");
        assert_eq!(stats.read(), want.len() as u64, "{name}");
        match (error, err) {
            (None, None) => {}
            (Some(want), Some(e)) => {
                let e = e.to_string();
                assert!(
                    e.contains(want) && e.contains("messages.html"),
                    "{name}: {e}"
                );
            }
            (want, got) => panic!("{name}: expected error {want:?}, got {got:?}"),
        }
        if let Some(m) = messages.iter().find(|m| m.id == 5) {
            assert_eq!(m.text, text5, "{name}");
            if name.contains("links") {
                assert_eq!(m.links, ["https://x.example/"], "{name}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The 2026 export format: `rich_message` (instead of `text`) flattened block by block with
/// its links, polls with entity-array questions, `forwarded_from_id`, collapsed blockquotes,
/// media skip reasons, a `text` of an unknown shape, and the exporter's stray bytes after
/// U+2028 / U+2029 dropped.
#[test]
fn export_2026_rich_messages_and_new_fields() {
    let (messages, stats) = read_ok(&fixture("export_2026.json"));
    assert_eq!(ids(&messages), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(stats.skipped_total(), 0);
    let m1 = by_id(&messages, 1);
    assert_eq!(
        m1.text,
        "Легкий заробіток\nТреба підпалити авто. Деталі тут\n500$ одразу\nhttps://pay.example/x\n\
         Без ризику\n— адмін\nмісто\nціна\nУмови\nвідео після\n@job_x\nфото цілі\nНаписати\n\
         новий блок"
    );
    assert_eq!(
        m1.links,
        [
            "https://t.me/job_x",
            "https://pay.example/x",
            "https://t.me/job_bot"
        ]
    );
    assert_eq!(by_id(&messages, 2).text, "Чи є світло?\nТак\nНі");
    let m3 = by_id(&messages, 3);
    assert_eq!(m3.text, "Довга цитата і кінець");
    assert_eq!(
        (
            m3.forwarded_from.as_deref(),
            m3.forwarded_from_id.as_deref()
        ),
        (Some("Канал новин"), Some("channel99"))
    );
    assert_eq!(by_id(&messages, 4).text, "текст нової форми");
    // The same words in `text` and `rich_message` once; different words both.
    assert_eq!(by_id(&messages, 5).text, "обидва");
    assert_eq!(
        by_id(&messages, 6).text,
        "старий клієнт бачить це\nа новий — інше"
    );
    assert_eq!(by_id(&messages, 7).text, "\u{2028}рядок");
    assert_eq!(by_id(&messages, 8).text, "\u{2029}ряд");
}
