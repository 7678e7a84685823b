//! Invariants that must hold for any input: normalisation is idempotent, evidence spans are
//! valid slices of the original, nothing panics, batches equal singles, scores are monotone.

use proptest::prelude::*;
use std::sync::OnceLock;
use verbovka::{normalize, Detector, Span};

fn detector() -> &'static Detector {
    static D: OnceLock<Detector> = OnceLock::new();
    D.get_or_init(|| Detector::rules_only().expect("embedded rules compile"))
}

/// Text built from what evaders use: Cyrillic, Latin and Greek look-alikes, digits, spacing,
/// dots, apostrophes, zero-width and combining characters, emoji, and rule vocabulary.
fn evasive_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("поджог".to_string()),
        Just("підпали".to_string()),
        Just("авто ЗСУ".to_string()),
        Just("500$".to_string()),
        Just("@user_bot".to_string()),
        Just("СБУ затримала".to_string()),
        Just("t.me/x".to_string()),
        "[а-яіїєґА-ЯІЇЄҐёЁ]{1,8}",
        "[aceiopxyABCEHKMOPTXi]{1,4}",
        "[0-9@]{1,3}",
        "[ .\\-_*·/|\n\t]{1,3}",
        "[\u{200b}\u{00ad}\u{fe0f}\u{0301}\u{0306}'’ʼ`]{1,2}",
        "[🔥💸📍🔹]{1,2}",
        "[αοερτκχ]{1,3}",
        "[ａｂｃ𝐚𝐨𝐩]{1,3}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normalisation_is_idempotent(text in evasive_text()) {
        let once = normalize(&text);
        let twice = normalize(once.as_str());
        prop_assert_eq!(once.as_str(), twice.as_str());
    }

    #[test]
    fn normalisation_is_idempotent_on_any_unicode(text in any::<String>()) {
        let once = normalize(&text);
        let twice = normalize(once.as_str());
        prop_assert_eq!(once.as_str(), twice.as_str());
    }

    #[test]
    fn normalised_spans_map_to_char_boundaries(text in evasive_text(), a in 0usize..200, b in 0usize..200) {
        let n = normalize(&text);
        let (a, b) = (a.min(b), a.max(b));
        if let Some(span) = n.original_span(Span { start: a, end: b }) {
            prop_assert!(text.get(span.start..span.end).is_some(), "{span:?} in {text:?}");
        }
    }

    #[test]
    fn evidence_slices_the_original(text in evasive_text()) {
        let v = detector().score(&text);
        prop_assert!((0.0..=1.0).contains(&v.risk));
        for s in [v.scores.sabotage, v.scores.reconnaissance, v.scores.lure] {
            prop_assert!((0.0..=1.0).contains(&s));
        }
        for e in &v.evidence {
            prop_assert_eq!(e.span.slice(&text), Some(e.text.as_str()), "rule {}", e.rule);
        }
    }

    #[test]
    fn batch_equals_single(texts in prop::collection::vec(evasive_text(), 1..12)) {
        let batch = detector().score_batch(&texts);
        for (t, v) in texts.iter().zip(&batch) {
            prop_assert_eq!(&detector().score(t), v);
        }
    }
}

#[test]
fn no_panic_on_a_megabyte_of_anything() {
    // Deterministic pseudo-random code points over the whole Unicode range, 1 MB.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut s = String::new();
    while s.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let c = match x % 4 {
            0 => char::from_u32((x >> 8) as u32 % 0x11_0000),
            1 => char::from_u32(0x400 + (x >> 8) as u32 % 0x60),
            2 => Some(['п', '0', ' ', '.', '\u{200b}', '🔥', 'o', '$'][(x >> 8) as usize % 8]),
            _ => char::from_u32(0x20 + (x >> 8) as u32 % 0x60),
        };
        if let Some(c) = c {
            s.push(c);
        }
    }
    let v = detector().score(&s);
    assert!((0.0..=1.0).contains(&v.risk));
    for e in &v.evidence {
        assert_eq!(e.span.slice(&s), Some(e.text.as_str()));
    }
    let n = normalize(&s);
    assert_eq!(normalize(n.as_str()).as_str(), n.as_str());
}
