//! The benchmark corpus, shared by `benches/bench_main.rs` and `examples/dump_logits.rs` (which
//! hands the same posts to the Python peer harness in `benches/peers/`).
//!
//! Goal: a length distribution like Telegram chat messages — most posts 5–40 tokens, a tail to
//! 256 and beyond (the model reads the first 128). Origin, when `../shared/corpora` is present
//! (the developers' machines), a fixed mixture of real posts read by path, never copied:
//!
//! | source | share | register |
//! |---|---|---|
//! | `ru_dialogue_utterances.txt` | 30 % | colloquial Russian dialogue turns |
//! | `uk_ua_gec_source.txt` | 25 % | Ukrainian posts/letters by non-professional authors |
//! | `ru_vk_comments_nontoxic.txt` | 15 % | VK comments under political posts |
//! | `uk_chat_utterances.txt` | 5 % | Ukrainian small talk (very short) |
//! | `ru_taiga_social.txt` | 5 % | social media |
//! | `ru_telegram_channels.jsonl` | 10 % | Telegram channel posts (the long tail) |
//! | `crates/verbovka-lab/data/generated/test.jsonl` | 10 % | the repo's labelled test split (recruitment posts and hard negatives) |
//!
//! Lines are taken evenly spaced through each file (deterministic) and interleaved. Without the
//! shared corpora (CI, a fresh clone), the committed `crates/verbovka-lab/data/generated/{test,dev}.jsonl`
//! texts are used instead (longer: median ~50 tokens).

use std::path::{Path, PathBuf};

/// Where the posts came from.
#[allow(dead_code)]
pub const ORIGIN_MIX: &str = "mixture of ../shared/corpora (ru_dialogue 30%, uk_ua_gec_source 25%, ru_vk_comments 15%, uk_chat 5%, ru_taiga 5%, ru_telegram_channels 10%) + crates/verbovka-lab/data/generated/test.jsonl 10%";
/// See [`ORIGIN_MIX`].
#[allow(dead_code)]
pub const ORIGIN_FALLBACK: &str =
    "crates/verbovka-lab/data/generated/{test,dev}.jsonl (shared corpora absent)";

/// The workspace root (this file is in `crates/verbovka/benches/common`).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Non-empty lines (or the `text` field of JSON lines) of `path`, at most `max_bytes` each.
fn read_texts(path: &Path, json: bool) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let out: Vec<String> = text
        .lines()
        .filter_map(|l| {
            if json {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()?
                    .get("text")?
                    .as_str()
                    .map(str::to_string)
            } else {
                Some(l.to_string())
            }
        })
        .filter(|t| !t.trim().is_empty() && t.len() <= 4000)
        .collect();
    (!out.is_empty()).then_some(out)
}

/// `k` lines evenly spaced through `lines` (all of them, cycling, if there are fewer).
fn spaced(lines: &[String], k: usize) -> Vec<String> {
    if lines.is_empty() {
        return Vec::new();
    }
    (0..k)
        .map(|i| lines[(i * lines.len() / k.max(1) + i / lines.len()) % lines.len()].clone())
        .collect()
}

/// `n` posts and the corpus origin. Deterministic for a given `n` and set of files.
pub fn posts(n: usize) -> (Vec<String>, &'static str) {
    let root = repo_root();
    let shared = root.join("../shared/corpora");
    let test = root.join("crates/verbovka-lab/data/generated/test.jsonl");
    let mix: [(&str, bool, usize); 7] = [
        ("ru_dialogue_utterances.txt", false, 30),
        ("uk_ua_gec_source.txt", false, 25),
        ("ru_vk_comments_nontoxic.txt", false, 15),
        ("uk_chat_utterances.txt", false, 5),
        ("ru_taiga_social.txt", false, 5),
        ("ru_telegram_channels.jsonl", true, 10),
        ("", true, 10),
    ];
    let mut sources = Vec::new();
    for (file, json, share) in mix {
        let path = if file.is_empty() {
            test.clone()
        } else {
            shared.join(file)
        };
        match read_texts(&path, json) {
            Some(lines) => sources.push((lines, share)),
            None => {
                sources.clear();
                break;
            }
        }
    }
    if sources.is_empty() {
        let mut all = Vec::new();
        for f in ["test.jsonl", "dev.jsonl"] {
            all.extend(
                read_texts(
                    &root.join("crates/verbovka-lab/data/generated").join(f),
                    true,
                )
                .unwrap_or_default(),
            );
        }
        return (spaced(&all, n), ORIGIN_FALLBACK);
    }
    // Per-source picks, then interleave in proportion (a Bresenham-like round robin) so any
    // prefix of the corpus has about the same mixture.
    let total: usize = sources.iter().map(|s| s.1).sum();
    let picks: Vec<Vec<String>> = sources
        .iter()
        .map(|(lines, share)| spaced(lines, n * share / total + 1))
        .collect();
    let mut cursor = vec![0usize; picks.len()];
    let mut credit = vec![0usize; picks.len()];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        for (i, (_, share)) in sources.iter().enumerate() {
            credit[i] += share;
            while credit[i] >= total && out.len() < n {
                credit[i] -= total;
                if let Some(p) = picks[i].get(cursor[i]) {
                    out.push(p.clone());
                }
                cursor[i] += 1;
            }
        }
        if cursor.iter().zip(&picks).all(|(c, p)| *c >= p.len()) {
            break;
        }
    }
    (out, ORIGIN_MIX)
}

/// The model directory for benches: `$VERBOVKA_BENCH_MODEL`, else `models/default/seed-7` (one
/// member of the shipped ensemble) when it holds
/// weights. `None`: no model to bench (model stages are skipped).
#[allow(dead_code)]
pub fn model_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VERBOVKA_BENCH_MODEL") {
        return Some(PathBuf::from(p));
    }
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default/seed-7");
    d.join("model.safetensors").is_file().then_some(d)
}
