//! Texts and files shared by the tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use verbovka::telegram::{Chat, ChatKind, Message, Reader};

/// The repository's sample Telegram export.
pub fn sample_export() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../verbovka/examples/data/sample_export")
}

/// The sample export's messages, as the library's reader yields them.
pub fn sample_messages() -> Vec<Message> {
    Reader::open(sample_export())
        .expect("sample export opens")
        .map(|m| m.expect("sample export reads"))
        .collect()
}

/// `n` texts of the lab's labelled test split (recruitment posts, hard negatives, ordinary
/// posts), every `step`-th line.
pub fn corpus(n: usize) -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../verbovka-lab/data/generated/test.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("jsonl")["text"]
                .as_str()
                .expect("text field")
                .to_string()
        })
        .collect();
    assert!(
        all.len() >= 100,
        "{} has {} lines",
        path.display(),
        all.len()
    );
    (0..n)
        .map(|i| all[(i * 7919) % all.len()].clone())
        .collect()
}

/// The sample export's messages, then `extra` generated ones spread over five chats.
pub fn messages(extra: usize) -> Vec<Message> {
    let mut out = sample_messages();
    for (i, text) in corpus(extra).into_iter().enumerate() {
        out.push(Message {
            chat: Chat {
                name: Some(format!("chat-{}", i % 5)),
                id: Some(1000 + (i % 5) as i64),
                kind: ChatKind::PublicChannel,
                left: false,
            },
            id: i as i64 + 1,
            date_unixtime: Some(1_714_550_400 + i as i64 * 60),
            author: (i % 3 != 0).then(|| format!("author-{}", i % 17)),
            author_id: None,
            forwarded_from: None,
            forwarded_from_id: None,
            reply_to_message_id: None,
            // Every 50th post empty: an empty string is scored, not skipped.
            text: if i % 50 == 49 { String::new() } else { text },
            links: vec![],
            truncated: false,
        });
    }
    out
}

/// A folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("verbovka-df-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `messages` into `files` Parquet files under `dir`, in order.
pub fn write_parquet(dir: &Path, messages: &[Message], files: usize) {
    let per = messages.len().div_ceil(files);
    for (k, chunk) in messages.chunks(per).enumerate() {
        let file = std::fs::File::create(dir.join(format!("part-{k:05}.parquet"))).unwrap();
        let mut sink = verbovka_datafusion::messages::ParquetSink::new(file).unwrap();
        for m in chunk {
            sink.push(m).unwrap();
        }
        assert_eq!(sink.finish().unwrap(), chunk.len() as u64);
    }
}
