//! The normaliser on any UTF-8: no panic, and every span of the normalised text maps back to
//! a span of the original on its character boundaries; line starts are sorted and follow a
//! space (what focus parts cut at).
#![no_main]
use libfuzzer_sys::fuzz_target;
use verbovka::{normalize, Span};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let n = normalize(text);
    let out = n.as_str();
    let check = |span: Span| {
        if let Some(o) = n.original_span(span) {
            assert!(o.start <= o.end && o.end <= text.len(), "{span:?} -> {o:?}");
            assert!(text.is_char_boundary(o.start) && text.is_char_boundary(o.end));
        }
    };
    // Each character alone, and the whole text.
    for (i, c) in out.char_indices() {
        let span = Span {
            start: i,
            end: i + c.len_utf8(),
        };
        assert!(n.original_span(span).is_some(), "char at {i} has no origin");
        check(span);
    }
    check(Span {
        start: 0,
        end: out.len(),
    });
    let lines = n.line_starts(text);
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "line starts unsorted");
    for &l in &lines {
        assert!(l > 0 && out.is_char_boundary(l) && out.as_bytes()[l - 1] == b' ', "line start {l}");
    }
    // Spans off character boundaries or out of range are refused, never a panic.
    check(Span {
        start: 1,
        end: out.len() + 1,
    });
});
