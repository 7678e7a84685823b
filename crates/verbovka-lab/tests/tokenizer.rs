//! The library's fast encoding path on tokenizers trained here and on the committed splits.

use std::sync::OnceLock;
use verbovka::model::TextEncoder;
use verbovka_lab::tokenizer::train_tokenizer;

const TABLE: &[&str] = &[
    "шукаємо людей для легкої роботи, оплата щодня, пиши в бот",
    "подожги релейный шкаф и сними на видео, оплата в крипте 500$",
    "нужно фотографировать колонны техники и отправлять координаты 48.4567, 35.0123",
    "в києві затримали паліїв авто зсу, сбу попереджає!!!",
    "Easy money: DM @vlad_rabota, 1000 USDT per task (test task first)",
    "",
    " ",
    "a  b   c",
    "▁already▁meta▁spaced",
    "1234567890 ½ ² ³ ① Ⅻ ٣ ۴ ๕",
    "«лапки» — тире – дефіс ‐ „українські“ ‘одинарні’ … ¡¿",
    "emoji 🔥💸🚗💥 між словами🔥слово 👍🏻 ❤️ 🇺🇦",
    "<pad> <unk> <mask> <pad><pad>x<mask>y <pa d> <<unk>> <mask",
    "mixed Кирилица latin ґєії ёъы 中文字符 العربية עברית ภาษาไทย",
    "\u{200b}zero\u{200d}width\u{feff}",
];

/// A tiny tokenizer trained here: most characters are unknown to it (unknown fusion).
fn tiny() -> &'static TextEncoder {
    static ENC: OnceLock<TextEncoder> = OnceLock::new();
    ENC.get_or_init(|| {
        let corpus: Vec<String> = TABLE
            .iter()
            .take(5)
            .cycle()
            .take(60)
            .map(|s| s.to_string())
            .collect();
        TextEncoder::new(train_tokenizer(corpus.iter(), 80).expect("train"), 16)
    })
}

fn shipped() -> TextEncoder {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../verbovka/models/default/seed-7/tokenizer.json"
    );
    TextEncoder::new(
        tokenizers::Tokenizer::from_file(path).expect("tokenizer"),
        128,
    )
}

fn check(enc: &TextEncoder, text: &str) {
    let fast = enc.encode_all(text).expect("fast");
    let reference = enc.encode_reference(text).expect("reference");
    assert_eq!(fast, reference, "ids differ on {text:?}");
    let (window, truncated) = enc.encode(text).expect("window");
    assert_eq!(truncated, reference.len() > enc.max_len(), "{text:?}");
    assert_eq!(window[..], reference[..reference.len().min(enc.max_len())]);
}

#[test]
fn fast_path_equals_tokenizers_on_a_tiny_trained_tokenizer() {
    let enc = tiny();
    assert_eq!(enc.fast_path(), Ok(()));
    for t in TABLE {
        check(enc, t);
        check(enc, &t.repeat(7));
    }
    check(enc, &TABLE.concat());
}

#[test]
fn fast_path_equals_tokenizers_on_the_test_split() {
    let enc = shipped();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/generated/test.jsonl");
    let text = std::fs::read_to_string(path).expect("data/generated/test.jsonl is committed");
    let mut n = 0;
    for line in text.lines().take(3000) {
        let v: serde_json::Value = serde_json::from_str(line).expect("jsonl");
        if let Some(t) = v["text"].as_str() {
            check(&enc, verbovka::normalize(t).as_str());
            check(&enc, t);
            n += 1;
        }
    }
    assert!(n > 100, "{n} posts");
}
