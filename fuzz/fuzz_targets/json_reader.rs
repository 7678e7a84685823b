//! The JSON export reader on any bytes: no panic, at most one error and nothing after it,
//! read = yielded + skipped, every yielded text non-empty and within the text limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use verbovka::telegram::Reader;

fuzz_target!(|data: &[u8]| {
    let reader = Reader::from_json_reader(std::io::Cursor::new(data.to_vec()), "fuzz.json")
        .max_text_bytes(64)
        .max_message_bytes(4096);
    check(reader);
});

fn check(mut reader: Reader) {
    let (mut yielded, mut errors) = (0u64, 0);
    for item in reader.by_ref() {
        match item {
            Ok(m) => {
                assert_eq!(errors, 0, "a message after the error");
                assert!(!m.text.trim().is_empty());
                assert!(m.text.len() <= 64);
                yielded += 1;
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1);
    assert!(reader.next().is_none());
    let stats = reader.stats();
    assert_eq!(stats.yielded, yielded);
    assert_eq!(stats.read(), stats.yielded + stats.skipped_total());
    assert!(stats.notes.len() as u64 <= stats.damaged());
}
