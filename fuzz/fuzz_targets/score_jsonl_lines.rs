//! `score_jsonl`'s line handling (the example's own module): any bytes split into exactly the
//! lines `\n` makes, long lines refused without being kept, texts cut on a character boundary.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/verbovka/examples/support/jsonl_lines.rs"]
#[allow(dead_code)]
mod lines;

fuzz_target!(|data: &[u8]| {
    const MAX_LINE: usize = 256;
    const MAX_TEXT: usize = 16;
    // A small buffer, so that lines cross buffer boundaries.
    let mut input = std::io::BufReader::with_capacity(7, data);
    let want: Vec<&[u8]> = {
        let mut v: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        if data.last() == Some(&b'\n') || data.is_empty() {
            v.pop();
        }
        v
    };
    let mut n = 0;
    while let Some(line) = lines::read_line(&mut input, MAX_LINE).expect("in memory") {
        match &line {
            lines::Line::Bytes(b) => assert_eq!(b.as_slice(), want[n]),
            lines::Line::TooLong => assert!(want[n].len() > MAX_LINE),
        }
        if let Ok((text, cut)) = lines::text_of(&line, n, MAX_TEXT) {
            assert!(text.len() <= MAX_TEXT);
            // Cut on the last character boundary at or before the limit.
            assert!(!cut || text.len() + 4 > MAX_TEXT);
        }
        n += 1;
    }
    assert_eq!(n, want.len());
});
