//! The HTML export reader on any bytes: no panic, at most one error, read = yielded +
//! skipped, every yielded text non-empty.
#![no_main]
use libfuzzer_sys::fuzz_target;
use verbovka::telegram::Reader;

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::from_html_reader(std::io::Cursor::new(data.to_vec()), "fuzz.html");
    let (mut yielded, mut errors) = (0u64, 0);
    for item in reader.by_ref() {
        match item {
            Ok(m) => {
                assert_eq!(errors, 0, "a message after the error");
                assert!(!m.text.trim().is_empty());
                yielded += 1;
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1);
    let stats = reader.stats();
    assert_eq!(stats.yielded, yielded);
    assert_eq!(stats.read(), stats.yielded + stats.skipped_total());
});
