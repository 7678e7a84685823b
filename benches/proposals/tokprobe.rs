//! Reference code for a proposal, not built by cargo (benches/proposals/ is not a target).
//! Tokenisation cost decomposed, and a replacement measured: HF `tokenizers` `encode_fast`
//! vs a hand-written Metaspace/punctuation/digit pre-split + a flat-hash Unigram Viterbi (the
//! same algorithm as tokenizers' `Unigram::encode_optimized`, ties and unknown fusion included).
//! To run: copy to examples/tokprobe.rs, then
//! `cargo run --release --example tokprobe -- models/default`.
//! Measured 2026-11-24 on the bench corpus (4,000 posts, shipped 8k tokenizer), µs per post:
//! encode_fast 32.5 · HF pre-tokenize alone 14.8 · HF pre-tokenize + HF Unigram 26.7 ·
//! HF pre-tokenize + flat Viterbi 22.2 · hand pre-split alone 0.7 · **hand pre-split + flat
//! Viterbi 6.9, ids identical on 4,000/4,000 posts**. `is_punc` below approximates Unicode
//! category P* with ranges; a production version needs the full P* table (the `tokenizers`
//! pre-tokenizer uses `unicode_categories::is_punctuation`) and must treat the added special
//! tokens (`<pad>`, `<unk>`, `<mask>` appearing literally in text) as HF does.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over the key bytes (short keys: much cheaper than SipHash).
#[derive(Default)]
struct Fnv(u64);
impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
use std::time::Instant;
use tokenizers::{Model, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer, Tokenizer};

#[path = "../benches/common/corpus.rs"]
mod corpus;

struct Flat {
    pieces: FastMap<Box<[u8]>, (u32, f64)>,
    max_len: usize,
    unk_id: u32,
    unk_score: f64,
}

impl Flat {
    fn new(json: &serde_json::Value) -> Flat {
        let vocab = json["model"]["vocab"].as_array().unwrap();
        let mut pieces = FastMap::default();
        let mut min = f64::INFINITY;
        let mut max_len = 0;
        for (i, v) in vocab.iter().enumerate() {
            let p = v[0].as_str().unwrap();
            let s = v[1].as_f64().unwrap();
            min = min.min(s);
            max_len = max_len.max(p.len());
            pieces.insert(p.as_bytes().to_vec().into_boxed_slice(), (i as u32, s));
        }
        Flat { pieces, max_len, unk_id: json["model"]["unk_id"].as_u64().unwrap() as u32, unk_score: min - 10.0 }
    }

    fn encode(&self, s: &str, out: &mut Vec<u32>, best: &mut Vec<(f64, usize, u32, bool)>) {
        let b = s.as_bytes();
        let n = b.len();
        best.clear();
        best.resize(n + 1, (0.0, usize::MAX, 0, false));
        best[0].1 = 0;
        let mut i = 0;
        while i < n {
            let here = best[i].0;
            let mblen = s[i..].chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            let mut j = i + 1;
            while j <= n && j - i <= self.max_len {
                if s.is_char_boundary(j) {
                    if let Some(&(id, sc)) = self.pieces.get(&b[i..j]) {
                        let c = here + sc;
                        let t = &mut best[j];
                        if !t.3 || c > t.0 {
                            *t = (c, i, id, true);
                        }
                        if j - i == mblen {
                            single = true;
                        }
                    }
                }
                j += 1;
            }
            if !single {
                let c = here + self.unk_score;
                let t = &mut best[i + mblen];
                if !t.3 || c > t.0 {
                    *t = (c, i, self.unk_id, true);
                }
            }
            i += mblen;
        }
        let start = out.len();
        let mut e = n;
        let mut prev_unk = false;
        while e > 0 {
            let (_, st, id, _) = best[e];
            if !(id == self.unk_id && prev_unk) {
                out.push(id);
            }
            prev_unk = id == self.unk_id;
            e = st;
        }
        out[start..].reverse();
    }
}

/// Unicode punctuation (general category P*) for the characters that occur in these corpora;
/// an approximation of `unicode_categories::is_punctuation` for the probe.
fn is_punc(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c as u32,
            0x00A1 | 0x00A7 | 0x00AB | 0x00B6 | 0x00B7 | 0x00BB | 0x00BF | 0x037E | 0x0387
            | 0x055A..=0x055F | 0x0589 | 0x058A
            | 0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051 | 0x2053..=0x205E
            | 0x207D | 0x207E | 0x208D | 0x208E | 0x2308..=0x230B | 0x2329 | 0x232A
            | 0x2768..=0x2775 | 0x27C5 | 0x27C6 | 0x27E6..=0x27EF | 0x2983..=0x2998
            | 0x29D8..=0x29DB | 0x29FC | 0x29FD | 0x2E00..=0x2E4F
            | 0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F | 0xFE10..=0xFE19
            | 0xFE30..=0xFE52 | 0xFE54..=0xFE61 | 0xFE63 | 0xFE68 | 0xFE6A | 0xFE6B
            | 0xFF01..=0xFF03 | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B
            | 0xFF1F | 0xFF20 | 0xFF3B..=0xFF3D | 0xFF3F | 0xFF5B | 0xFF5D | 0xFF5F..=0xFF65)
}

/// Metaspace(▁, always, split) → Punctuation(isolated) → Digits(individual), by hand: calls
/// `f` with each piece (borrowed from `buf`).
fn pre_split(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    buf.clear();
    if !text.starts_with(' ') && !text.starts_with('▁') {
        buf.push('▁');
    }
    for c in text.chars() {
        buf.push(if c == ' ' { '▁' } else { c });
    }
    let s = buf.as_str();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let end = i + c.len_utf8();
        if c == '▁' {
            if i > start {
                f(&s[start..i]);
            }
            start = i;
        } else if is_punc(c) || c.is_ascii_digit() {
            if i > start {
                f(&s[start..i]);
            }
            f(&s[i..end]);
            start = end;
        }
    }
    if start < s.len() {
        f(&s[start..]);
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("models/default".into());
    let tok = Tokenizer::from_file(format!("{dir}/tokenizer.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/tokenizer.json")).unwrap()).unwrap();
    let flat = Flat::new(&json);
    let (posts, _) = corpus::posts(4000);
    let posts: Vec<String> = posts.iter().map(|p| verbovka::normalize(p).into_string()).collect();
    let pre = tok.get_pre_tokenizer().unwrap();
    let model = tok.get_model();
    let reps = 5;
    let time = |name: &str, f: &mut dyn FnMut() -> usize| {
        let mut best = f64::INFINITY;
        let mut c = 0;
        for _ in 0..reps {
            let t0 = Instant::now();
            c = f();
            best = best.min(t0.elapsed().as_secs_f64());
        }
        println!("{name:<40} {:7.2} µs/post (checksum {c})", best * 1e6 / posts.len() as f64);
    };
    time("encode_fast (HF, full)", &mut || posts.iter().map(|p| tok.encode_fast(p.as_str(), false).unwrap().get_ids().len()).sum());
    time("pre-tokenize only (HF)", &mut || {
        posts.iter().map(|p| {
            let mut s = PreTokenizedString::from(p.as_str());
            pre.pre_tokenize(&mut s).unwrap();
            s.get_splits(OffsetReferential::Original, OffsetType::Byte).len()
        }).sum()
    });
    time("pre-tokenize + HF Unigram per split", &mut || {
        posts.iter().map(|p| {
            let mut s = PreTokenizedString::from(p.as_str());
            pre.pre_tokenize(&mut s).unwrap();
            s.get_splits(OffsetReferential::Original, OffsetType::Byte).iter().map(|(w, _, _)| model.tokenize(w).unwrap().len()).sum::<usize>()
        }).sum()
    });
    let mut scratch = Vec::new();
    let mut ids = Vec::new();
    let mut agree = 0;
    let mut words: Vec<Vec<String>> = Vec::new();
    for p in &posts {
        let mut s = PreTokenizedString::from(p.as_str());
        pre.pre_tokenize(&mut s).unwrap();
        let ws: Vec<String> = s.get_splits(OffsetReferential::Normalized, OffsetType::Byte).iter().map(|(w, _, _)| w.to_string()).collect();
        ids.clear();
        for w in &ws {
            flat.encode(w, &mut ids, &mut scratch);
        }
        if ids == tok.encode_fast(p.as_str(), false).unwrap().get_ids() {
            agree += 1;
        }
        words.push(ws);
    }
    println!("flat Viterbi ids == HF ids: {agree}/{}", posts.len());
    time("pre-tokenize + flat Viterbi", &mut || {
        let mut n = 0;
        for p in &posts {
            let mut s = PreTokenizedString::from(p.as_str());
            pre.pre_tokenize(&mut s).unwrap();
            ids.clear();
            for (w, _, _) in s.get_splits(OffsetReferential::Normalized, OffsetType::Byte) {
                flat.encode(w, &mut ids, &mut scratch);
            }
            n += ids.len();
        }
        n
    });
    let mut buf = String::new();
    let mut agree2 = 0;
    for p in &posts {
        ids.clear();
        pre_split(p, &mut buf, |w| flat.encode(w, &mut ids, &mut scratch));
        if ids == tok.encode_fast(p.as_str(), false).unwrap().get_ids() {
            agree2 += 1;
        }
    }
    println!("hand pre-split + flat Viterbi ids == HF ids: {agree2}/{}", posts.len());
    time("hand pre-split only", &mut || {
        let mut n = 0;
        for p in &posts {
            pre_split(p, &mut buf, |w| n += w.len());
        }
        n
    });
    time("hand pre-split + flat Viterbi", &mut || {
        let mut n = 0;
        for p in &posts {
            ids.clear();
            pre_split(p, &mut buf, |w| flat.encode(w, &mut ids, &mut scratch));
            n += ids.len();
        }
        n
    });
    time("flat Viterbi on pre-split words", &mut || {
        let mut n = 0;
        for ws in &words {
            ids.clear();
            for w in ws {
                flat.encode(w, &mut ids, &mut scratch);
            }
            n += ids.len();
        }
        n
    });
}
