//! Rules + scoring (rules-only detector, the shipped rule file) on any UTF-8: scores in
//! [0, 1], evidence spans on character boundaries of the text given.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verbovka::Detector;

static DETECTOR: OnceLock<Detector> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let detector = DETECTOR.get_or_init(|| Detector::rules_only().expect("rules"));
    let v = detector.score(text);
    assert!((0.0..=1.0).contains(&v.risk), "risk {}", v.risk);
    for e in &v.evidence {
        assert!(
            text.get(e.span.start..e.span.end).is_some(),
            "evidence {} at {:?} off the text",
            e.rule,
            e.span
        );
    }
});
