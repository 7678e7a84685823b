//! Tokenizer encoding with truncation (training lives in the lab).

use tokenizers::Tokenizer;

use std::sync::Arc;

use crate::{Error, Result};

fn tok_err(e: tokenizers::Error) -> Error {
    Error::Tokenizer(e)
}

/// A tokenizer with the model's window: encodes a text to at most `max_len` ids.
///
/// Encoding takes a hand-written path (pre-split + Viterbi over the Unigram pieces, ~4–5×
/// faster than `tokenizers`' `encode_fast`) built from the tokenizer's own serialisation when
/// the tokenizer is of the kind this crate trains (no normaliser; `Metaspace` always/split,
/// `Punctuation` isolated, individual `Digits`; Unigram without byte fallback; plain added
/// tokens). It gives exactly the ids `tokenizers` gives (tested on tables and random Unicode).
/// Any other tokenizer is detected at construction and encoded by `tokenizers` itself
/// ([`TextEncoder::fast_path`] says which).
#[derive(Clone)]
pub struct TextEncoder {
    tokenizer: Arc<LazyTokenizer>,
    fast: std::result::Result<Arc<FastTokenizer>, Unsupported>,
    max_len: usize,
    /// `get_vocab_size(true)` of the tokenizer.
    vocab_size: usize,
    /// Ids of the pieces that end a sentence (only `.`, `!`, `?`, `…` after an optional
    /// `▁`), sorted.
    sentence_ends: Arc<[u32]>,
}

/// The `tokenizers` tokenizer. [`TextEncoder::from_json`] builds it only when something asks
/// for it (the fast path never does): building it was about half of loading a member.
struct LazyTokenizer {
    json: Box<[u8]>,
    cell: std::sync::OnceLock<std::result::Result<Tokenizer, String>>,
}

impl LazyTokenizer {
    fn built(tokenizer: Tokenizer) -> Self {
        let cell = std::sync::OnceLock::new();
        let _ = cell.set(Ok(tokenizer));
        LazyTokenizer {
            json: Box::default(),
            cell,
        }
    }

    fn get(&self) -> Result<&Tokenizer> {
        self.cell
            .get_or_init(|| {
                let mut t = Tokenizer::from_bytes(&self.json).map_err(|e| e.to_string())?;
                t.set_encode_special_tokens(true);
                Ok(t)
            })
            .as_ref()
            .map_err(|e| Error::Tokenizer(e.as_str().into()))
    }
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder")
            .field("max_len", &self.max_len)
            .field("fast_path", &self.fast_path())
            .finish_non_exhaustive()
    }
}

/// The number of distinct pieces and the sorted sentence-end ids of a piece ↦ id map (the
/// map `tokenizers`' `get_vocab(true)` gives).
fn vocab_facts<'a>(vocab: impl Iterator<Item = (&'a str, u32)>) -> (usize, Arc<[u32]>) {
    let mut size = 0;
    let mut ends: Vec<u32> = vocab
        .inspect(|_| size += 1)
        .filter(|(piece, _)| {
            let p = piece.trim_start_matches('▁');
            !p.is_empty() && p.chars().all(|c| matches!(c, '.' | '!' | '?' | '…'))
        })
        .map(|(_, id)| id)
        .collect();
    ends.sort_unstable();
    (size, ends.into())
}

impl TextEncoder {
    /// Wraps `tokenizer` with a window of `max_len` tokens.
    pub fn new(tokenizer: Tokenizer, max_len: usize) -> Self {
        let fast = serde_json::from_str(&tokenizer.to_string(false).unwrap_or_default())
            .map_err(|e| e.to_string())
            .and_then(|j| {
                FastTokenizer::new(&j, tokenizer.get_encode_special_tokens(), |t| {
                    tokenizer.token_to_id(t)
                })
            })
            .map(Arc::new);
        let vocab = tokenizer.get_vocab(true);
        let (vocab_size, sentence_ends) =
            vocab_facts(vocab.iter().map(|(p, &id)| (p.as_str(), id)));
        TextEncoder {
            tokenizer: Arc::new(LazyTokenizer::built(tokenizer)),
            fast,
            max_len,
            vocab_size,
            sentence_ends,
        }
    }

    /// Reads a `tokenizer.json` with a window of `max_len` tokens. Special tokens typed in a
    /// text are text (as with `set_encode_special_tokens(true)`): user text never produces
    /// `<pad>`, `<mask>` or `<unk>`. When the file is of the kind the fast path implements,
    /// `tokenizers` itself is not built until [`TextEncoder::tokenizer`] asks for it;
    /// otherwise it is built here, and an invalid file is an error here.
    pub fn from_json(json: &[u8], max_len: usize) -> Result<Self> {
        match Self::fast_from_json(json) {
            Ok((fast, vocab_size, sentence_ends)) => Ok(TextEncoder {
                tokenizer: Arc::new(LazyTokenizer {
                    json: json.into(),
                    cell: std::sync::OnceLock::new(),
                }),
                fast: Ok(Arc::new(fast)),
                max_len,
                vocab_size,
                sentence_ends,
            }),
            Err(_) => {
                let mut tokenizer = Tokenizer::from_bytes(json).map_err(tok_err)?;
                tokenizer.set_encode_special_tokens(true);
                Ok(Self::new(tokenizer, max_len))
            }
        }
    }

    /// The fast tokenizer straight from the file, when every added token is a piece of the
    /// vocabulary with that piece's id (then the ids are the ones `tokenizers` would assign).
    fn fast_from_json(
        json: &[u8],
    ) -> std::result::Result<(FastTokenizer, usize, Arc<[u32]>), Unsupported> {
        let j: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let vocab = j["model"]["vocab"].as_array().ok_or("Unigram vocab")?;
        // Later duplicates win, as in `tokenizers`' piece-to-id map.
        let ids: std::collections::HashMap<&str, u32> = vocab
            .iter()
            .enumerate()
            .filter_map(|(id, v)| Some((v[0].as_str()?, u32::try_from(id).ok()?)))
            .collect();
        for t in j["added_tokens"].as_array().ok_or("added_tokens")? {
            let content = t["content"].as_str().unwrap_or_default();
            if ids.get(content).map(|&id| u64::from(id)) != t["id"].as_u64() {
                return Err(format!("added token {t} is not the vocabulary's piece"));
            }
        }
        let fast = FastTokenizer::new(&j, true, |t| ids.get(t).copied())?;
        let (size, ends) = vocab_facts(ids.iter().map(|(&p, &id)| (p, id)));
        Ok((fast, size, ends))
    }

    /// The wrapped tokenizer (built on first call when [`TextEncoder::from_json`] did not
    /// need it).
    pub fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.get()
    }

    /// The number of ids the tokenizer can give (`get_vocab_size(true)`).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Ids of the pieces that end a sentence (`.`, `!`, `?`, `…`, runs of them, after an
    /// optional `▁`), sorted: windows start after them.
    pub fn sentence_ends(&self) -> &[u32] {
        &self.sentence_ends
    }

    /// The model's window (ids per text).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// `Ok(())` when encoding takes the fast path, else why it falls back to `tokenizers`.
    pub fn fast_path(&self) -> std::result::Result<(), &str> {
        self.fast.as_ref().map(|_| ()).map_err(String::as_str)
    }

    /// All ids of `text` (no truncation, no special tokens).
    pub fn encode_all(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        match &self.fast {
            Ok(f) => f.encode(text, &mut ids, &mut TokScratch::default(), usize::MAX),
            Err(_) => return self.encode_reference(text),
        }
        Ok(ids)
    }

    /// All ids of `text` as `tokenizers`' `encode_fast` gives them: the reference the fast path
    /// is tested against.
    pub fn encode_reference(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer()?
            .encode_fast(text, false)
            .map_err(tok_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// The first `max_len` ids of `text`, and whether anything was cut off.
    pub fn encode(&self, text: &str) -> Result<(Vec<u32>, bool)> {
        let mut ids = Vec::new();
        let truncated = self.encode_into(text, &mut ids, &mut TokScratch::default())?;
        Ok((ids, truncated))
    }

    /// Appends the first `max_len` ids of `text` to `out`; true when something was cut off.
    pub(crate) fn encode_into(
        &self,
        text: &str,
        out: &mut Vec<u32>,
        scratch: &mut TokScratch,
    ) -> Result<bool> {
        self.encode_prefix_into(text, out, scratch, self.max_len)
    }

    /// Appends the first `limit` ids of `text` to `out`; true when something was cut off.
    pub(crate) fn encode_prefix_into(
        &self,
        text: &str,
        out: &mut Vec<u32>,
        scratch: &mut TokScratch,
        limit: usize,
    ) -> Result<bool> {
        let from = out.len();
        match &self.fast {
            // Stops one id past the limit: enough to know it was truncated.
            Ok(f) => f.encode(text, out, scratch, from + limit),
            Err(_) => out.extend(self.encode_reference(text)?),
        }
        let truncated = out.len() - from > limit;
        out.truncate(from + limit);
        Ok(truncated)
    }
}

// ---------------------------------------------------------------------------------------------
// The inference path: the same function as `Tokenizer::encode_fast(text, false)` for the
// tokenizers this crate trains, without `NormalizedString`s, alignment vectors or per-piece
// `String`s (measured 32.5 → ~7 µs per post on the bench corpus).

/// Why a tokenizer cannot take the fast path (it then encodes with `tokenizers` itself).
type Unsupported = String;

/// Marks a trie node that is a prefix of pieces but no piece itself.
const NO_PIECE: u32 = u32::MAX;

/// One slot of the trie's edge table: edge `(parent, char)` ↦ `child`, and the id of the piece
/// spelled by the path to `child` (`NO_PIECE` for none). 16 bytes: one cache line access per
/// character step.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// `(parent << 21 | char) + 1`; 0 marks an empty slot.
    key: u64,
    child: u32,
    id: u32,
}

/// Character trie of the Unigram pieces with its edges in one open-addressing hash table:
/// one probe per character, no allocation, no string hashing.
struct PieceTrie {
    slots: Vec<Slot>,
    mask: usize,
    /// Score of each piece id.
    scores: Vec<f64>,
}

impl PieceTrie {
    fn key(parent: u32, c: char) -> u64 {
        ((parent as u64) << 21 | c as u64) + 1
    }

    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize & self.mask
    }

    /// Builds the trie; a piece listed twice keeps its last id (as `tokenizers`' piece-to-id
    /// map does), scored with that id's score.
    fn new(pieces: &[(String, f64)]) -> Self {
        // Edges first (to size the table), then the table. The pieces are walked in sorted
        // order, so a piece shares its path with the one before it as far as their common
        // prefix goes and every node is made once, without a map of edges (the stable sort
        // keeps a repeated piece's last id last).
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by(|&a, &b| pieces[a].0.cmp(&pieces[b].0));
        let mut edges: Vec<(u32, char, u32)> = Vec::new();
        let mut piece_of_node: Vec<u32> = vec![NO_PIECE];
        // The previous piece's path: its characters and the nodes they lead to.
        let mut path: Vec<(char, u32)> = Vec::new();
        for &id in &order {
            let (mut node, mut depth) = (0u32, 0);
            for c in pieces[id].0.chars() {
                match path.get(depth) {
                    Some(&(pc, child)) if pc == c => node = child,
                    _ => {
                        path.truncate(depth);
                        let child = piece_of_node.len() as u32;
                        piece_of_node.push(NO_PIECE);
                        edges.push((node, c, child));
                        path.push((c, child));
                        node = child;
                    }
                }
                depth += 1;
            }
            path.truncate(depth);
            if let Some(p) = piece_of_node.get_mut(node as usize) {
                *p = id as u32;
            }
        }
        let cap = (edges.len() * 2 + 16).next_power_of_two();
        let mut trie = PieceTrie {
            slots: vec![Slot::default(); cap],
            mask: cap - 1,
            scores: pieces.iter().map(|p| p.1).collect(),
        };
        for (parent, c, child) in edges {
            let key = Self::key(parent, c);
            let mut s = trie.slot(key);
            while trie.slots[s].key != 0 {
                s = (s + 1) & trie.mask;
            }
            trie.slots[s] = Slot {
                key,
                child,
                id: piece_of_node[child as usize],
            };
        }
        trie
    }

    /// The child of `parent` by `c`, and the piece id it completes (`NO_PIECE` for none).
    #[inline]
    fn child(&self, parent: u32, c: char) -> Option<(u32, u32)> {
        let key = Self::key(parent, c);
        let mut s = self.slot(key);
        loop {
            let slot = self.slots.get(s)?;
            if slot.key == key {
                return Some((slot.child, slot.id));
            }
            if slot.key == 0 {
                return None;
            }
            s = (s + 1) & self.mask;
        }
    }

    #[inline]
    fn score(&self, id: u32) -> f64 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }
}

/// Added tokens matched in one pass of `tokenizers`' `AddedVocabulary` (leftmost, then longest).
struct AddedPass {
    /// Longest first, so the first match at a position is the longest.
    tokens: Vec<(String, u32)>,
    first_bytes: [bool; 256],
}

impl AddedPass {
    fn new(mut tokens: Vec<(String, u32)>) -> Self {
        tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        let mut first_bytes = [false; 256];
        for (t, _) in &tokens {
            if let Some(&b) = t.as_bytes().first() {
                first_bytes[b as usize] = true;
            }
        }
        AddedPass {
            tokens,
            first_bytes,
        }
    }

    /// Calls `f(Err(text piece))` / `f(Ok(token id))` in order over `text`; stops when `f`
    /// returns false. Returns false when stopped.
    fn split<'t>(&self, text: &'t str, f: &mut dyn FnMut(Result<u32, &'t str>) -> bool) -> bool {
        if self.tokens.is_empty() {
            return f(Err(text));
        }
        let b = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < b.len() {
            if self.first_bytes[b[i] as usize] {
                let rest = &b[i..];
                if let Some((t, id)) = self
                    .tokens
                    .iter()
                    .find(|(t, _)| rest.starts_with(t.as_bytes()))
                {
                    if i > start && !f(Err(&text[start..i])) {
                        return false;
                    }
                    if !f(Ok(*id)) {
                        return false;
                    }
                    i += t.len();
                    start = i;
                    continue;
                }
            }
            i += 1;
        }
        if start < b.len() {
            return f(Err(&text[start..]));
        }
        true
    }
}

/// Work buffers of the fast tokenizer, reused across calls.
#[derive(Default)]
pub(crate) struct TokScratch {
    best: Vec<BestPath>,
    piece: String,
}

/// Viterbi cell: best path ending at this byte.
#[derive(Clone, Copy)]
struct BestPath {
    score: f64,
    /// Start byte of the last piece on the path; `u32::MAX` while no path reaches here.
    start: u32,
    id: u32,
}

/// Pre-tokenizer `Sequence[Metaspace(replacement, always, split), Punctuation(Isolated),
/// Digits(individual)]` and a Unigram model with unknown-piece fusion, as in `tokenizers` 0.23
/// (`Unigram::encode_optimized`: same candidate order, same tie-breaking, same f64 sums).
struct FastTokenizer {
    replacement: char,
    /// Added tokens without and with `normalized` (two passes, as `tokenizers` does them).
    added: [AddedPass; 2],
    /// Punctuation (ASCII or Unicode P*) or numeric, for U+0000..U+FFFF: such a character is a
    /// piece of its own.
    isolated_bmp: Vec<u64>,
    trie: PieceTrie,
    unk_id: u32,
    unk_score: f64,
}

/// `tokenizers`' `Punctuation` and `Digits` split predicates: such a char is isolated.
fn isolated_slow(c: char) -> bool {
    use unicode_categories::UnicodeCategories;
    c.is_ascii_punctuation() || c.is_punctuation() || c.is_numeric()
}

fn json_keys(v: &serde_json::Value, keys: &[&str]) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == keys.len() && keys.iter().all(|k| o.contains_key(*k)))
}

impl FastTokenizer {
    /// Reads a tokenizer's serialisation `j` (`token_to_id` as the tokenizer maps pieces,
    /// added tokens included; `skip_special`: typed special tokens are text); `Err(why)` for
    /// anything this path does not implement exactly (the caller then uses `tokenizers`).
    fn new(
        j: &serde_json::Value,
        skip_special: bool,
        token_to_id: impl Fn(&str) -> Option<u32>,
    ) -> std::result::Result<Self, Unsupported> {
        for k in ["normalizer", "post_processor", "truncation", "padding"] {
            if !j[k].is_null() {
                return Err(format!("{k} is set"));
            }
        }
        let pre = &j["pre_tokenizer"];
        let seq = pre["pretokenizers"]
            .as_array()
            .filter(|_| pre["type"] == "Sequence" && json_keys(pre, &["type", "pretokenizers"]));
        let replacement = match seq.map(Vec::as_slice) {
            Some([m, p, d])
                if m["type"] == "Metaspace"
                    && json_keys(m, &["type", "replacement", "prepend_scheme", "split"])
                    && m["prepend_scheme"] == "always"
                    && m["split"] == true
                    && p == &serde_json::json!({"type": "Punctuation", "behavior": "Isolated"})
                    && d == &serde_json::json!({"type": "Digits", "individual_digits": true}) =>
            {
                let r = m["replacement"].as_str().unwrap_or_default();
                let mut chars = r.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c != ' ' && !isolated_slow(c) => c,
                    _ => return Err(format!("Metaspace replacement {r:?}")),
                }
            }
            _ => return Err(format!("pre-tokenizer {pre}")),
        };
        let model = &j["model"];
        if !(model["type"] == "Unigram"
            && json_keys(model, &["type", "unk_id", "vocab", "byte_fallback"])
            && model["byte_fallback"] == false)
        {
            return Err("model is not a Unigram without byte fallback".into());
        }
        let unk_id = model["unk_id"]
            .as_u64()
            .and_then(|u| u32::try_from(u).ok())
            .ok_or("Unigram without unk_id")?;
        let vocab = model["vocab"].as_array().ok_or("Unigram vocab")?;
        let mut pieces = Vec::with_capacity(vocab.len());
        for v in vocab {
            match (v[0].as_str(), v[1].as_f64()) {
                (Some(p), Some(s)) if !p.is_empty() => pieces.push((p.to_string(), s)),
                _ => return Err(format!("vocab entry {v}")),
            }
        }
        if unk_id as usize >= pieces.len() || pieces.len() >= NO_PIECE as usize {
            return Err("unk_id outside vocab".into());
        }
        let min_score = pieces.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let mut passes: [Vec<(String, u32)>; 2] = Default::default();
        for t in j["added_tokens"].as_array().ok_or("added_tokens")? {
            let content = t["content"].as_str().unwrap_or_default();
            if content.is_empty()
                || t["single_word"] != false
                || t["lstrip"] != false
                || t["rstrip"] != false
            {
                return Err(format!("added token {t}"));
            }
            if skip_special && t["special"] == true {
                continue;
            }
            let id = token_to_id(content)
                .ok_or_else(|| format!("added token {content:?} without id"))?;
            passes[usize::from(t["normalized"] == true)].push((content.to_string(), id));
        }
        let [a, b] = passes;
        let mut isolated_bmp = vec![0u64; 0x1_0000 / 64];
        for &(from, to) in super::isolated::ISOLATED_BMP {
            for u in from..=to {
                isolated_bmp[usize::from(u / 64)] |= 1 << (u % 64);
            }
        }
        Ok(FastTokenizer {
            replacement,
            added: [AddedPass::new(a), AddedPass::new(b)],
            isolated_bmp,
            trie: PieceTrie::new(&pieces),
            unk_id,
            unk_score: min_score - 10.0,
        })
    }

    #[inline]
    fn isolated(&self, c: char) -> bool {
        let u = c as u32;
        if u < 0x1_0000 {
            self.isolated_bmp
                .get((u / 64) as usize)
                .is_some_and(|w| w >> (u % 64) & 1 == 1)
        } else {
            isolated_slow(c)
        }
    }

    /// Appends the ids of `text` to `out`, stopping early once `out` holds more than `limit`
    /// ids (every id up to that point is exact).
    fn encode(&self, text: &str, out: &mut Vec<u32>, s: &mut TokScratch, limit: usize) {
        let [first, second] = &self.added;
        first.split(text, &mut |seg| match seg {
            Ok(id) => {
                out.push(id);
                out.len() <= limit
            }
            Err(part) => second.split(part, &mut |seg| match seg {
                Ok(id) => {
                    out.push(id);
                    out.len() <= limit
                }
                Err(part) => self.pre_split(part, out, s, limit),
            }),
        });
    }

    /// Metaspace (replace ' ', prepend, split before each replacement char) then isolation of
    /// punctuation and numerics, each piece through the Unigram model. False once past `limit`.
    fn pre_split(&self, text: &str, out: &mut Vec<u32>, s: &mut TokScratch, limit: usize) -> bool {
        let repl = self.replacement;
        let mut it = text.char_indices().peekable();
        // The piece being gathered: does it start with the replacement char, and where its
        // other characters start.
        let mut meta = true;
        let mut start = 0;
        if let Some(&(_, c)) = it.peek() {
            if c == ' ' || c == repl {
                start = c.len_utf8();
                it.next();
            }
        } else {
            return true;
        }
        for (i, c) in it {
            let end = i + c.len_utf8();
            if c == ' ' || c == repl {
                if !self.piece(meta, &text[start..i], out, s, limit) {
                    return false;
                }
                meta = true;
                start = end;
            } else if self.isolated(c) {
                if !(self.piece(meta, &text[start..i], out, s, limit)
                    && self.piece(false, &text[i..end], out, s, limit))
                {
                    return false;
                }
                meta = false;
                start = end;
            }
        }
        self.piece(meta, &text[start..], out, s, limit)
    }

    /// Encodes one pre-token (the replacement char when `meta`, then `rest`).
    #[inline]
    fn piece(
        &self,
        meta: bool,
        rest: &str,
        out: &mut Vec<u32>,
        s: &mut TokScratch,
        limit: usize,
    ) -> bool {
        if !meta && rest.is_empty() {
            return true;
        }
        let mut piece = std::mem::take(&mut s.piece);
        piece.clear();
        if meta {
            piece.push(self.replacement);
        }
        piece.push_str(rest);
        self.viterbi(&piece, out, &mut s.best);
        s.piece = piece;
        out.len() <= limit
    }

    /// `Unigram::encode_optimized` + id lookup: best-scoring segmentation, unknown characters
    /// scored `min_score - 10`, consecutive unknowns fused into one `unk_id`.
    fn viterbi(&self, text: &str, out: &mut Vec<u32>, best: &mut Vec<BestPath>) {
        const UNSET: u32 = u32::MAX;
        let n = text.len();
        best.clear();
        best.resize(
            n + 1,
            BestPath {
                score: 0.0,
                start: UNSET,
                id: 0,
            },
        );
        let relax = |best: &mut Vec<BestPath>, at: usize, score: f64, start: usize, id: u32| {
            if let Some(t) = best.get_mut(at) {
                if t.start == UNSET || score > t.score {
                    *t = BestPath {
                        score,
                        start: start as u32,
                        id,
                    };
                }
            }
        };
        for (i, first) in text.char_indices() {
            let here = best.get(i).map_or(0.0, |b| b.score);
            let mblen = first.len_utf8();
            let mut single = false;
            let mut node = 0u32;
            for (k, c) in text[i..].char_indices() {
                let Some((child, id)) = self.trie.child(node, c) else {
                    break;
                };
                node = child;
                if id != NO_PIECE {
                    let len = k + c.len_utf8();
                    relax(best, i + len, self.trie.score(id) + here, i, id);
                    single |= len == mblen;
                }
            }
            if !single {
                relax(best, i + mblen, self.unk_score + here, i, self.unk_id);
            }
        }
        let from = out.len();
        let mut end = n;
        let mut prev_unk = false;
        while end > 0 {
            let Some(&b) = best.get(end) else { break };
            if b.start == UNSET {
                break;
            }
            let unk = b.id == self.unk_id;
            if !(unk && prev_unk) {
                out.push(b.id);
            }
            prev_unk = unk;
            end = b.start as usize;
        }
        out[from..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A shipped tokenizer (of the first ensemble member; all members have the same kind).
    fn shipped() -> TextEncoder {
        static ENC: std::sync::OnceLock<TextEncoder> = std::sync::OnceLock::new();
        ENC.get_or_init(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/models/default/seed-7/tokenizer.json"
            );
            let tokenizer =
                Tokenizer::from_file(path).expect("models/default/seed-7/tokenizer.json");
            TextEncoder::new(tokenizer, 128)
        })
        .clone()
    }

    const TABLE: &[&str] = &[
        "шукаємо людей для легкої роботи, оплата щодня, пиши в бот",
        "подожги релейный шкаф и сними на видео, оплата в крипте 500$",
        "нужно фотографировать колонны техники и отправлять координаты 48.4567, 35.0123",
        "в києві затримали паліїв авто зсу, сбу попереджає!!!",
        "Easy money: DM @vlad_rabota, 1000 USDT per task (test task first)",
        "",
        " ",
        "   ",
        "\t\n",
        "a  b   c",
        " leading space",
        "trailing space ",
        "▁already▁meta▁spaced",
        "▁",
        " ▁ ▁▁  ",
        "1234567890 ½ ² ³ ① Ⅻ ٣ ۴ ๕",
        "«лапки» — тире – дефіс ‐ „українські“ ‘одинарні’ … ¡¿",
        "emoji 🔥💸🚗💥 між словами🔥слово 👍🏻 ❤️ 🇺🇦",
        "надзвичайнонадзвичайнонадзвичайнонадзвичайнодовгеслово",
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "<pad> <unk> <mask> <pad><pad>x<mask>y <pa d> <<unk>> <mask",
        "ТЦК військкомат ППО ПВО блокпост прильоти Нова пошта Укрпошта",
        "mixed Кирилица latin ґєії ёъы 中文字符 العربية עברית ภาษาไทย",
        "\u{200b}zero\u{200d}width\u{feff}",
        "$#%&*+-/:;<=>?@[]^_`{|}~",
        "...!!!???,,,;;;",
        "tab\tseparated\tvalues\r\nnew line",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 mathematical",
    ];

    fn table() -> Vec<String> {
        TABLE
            .iter()
            .map(|s| s.to_string())
            .chain(TABLE.iter().map(|s| s.repeat(7)))
            .collect()
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
    fn fast_path_is_taken_and_equals_tokenizers_on_a_table() {
        for enc in [shipped()] {
            assert_eq!(enc.fast_path(), Ok(()));
            for t in table() {
                check(&enc, &t);
            }
            let all: String = TABLE.concat();
            check(&enc, &all);
        }
    }

    /// The generated table of isolated characters is `isolated_slow` on every BMP character.
    #[test]
    fn table_is_current() {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for u in 0..0x1_0000u32 {
            if char::from_u32(u).is_some_and(isolated_slow) {
                match ranges.last_mut() {
                    Some(r) if r.1 + 1 == u => r.1 = u,
                    _ => ranges.push((u, u)),
                }
            }
        }
        let table: Vec<(u32, u32)> = super::super::isolated::ISOLATED_BMP
            .iter()
            .map(|&(a, b)| (u32::from(a), u32::from(b)))
            .collect();
        let fresh: Vec<String> = ranges
            .iter()
            .map(|(a, b)| format!("(0x{a:04X}, 0x{b:04X})"))
            .collect();
        assert!(
            table == ranges,
            "src/model/isolated.rs is out of date; its table is now:\n{}",
            fresh.join(", ")
        );
    }

    #[test]
    fn unsupported_tokenizers_fall_back_to_tokenizers() {
        use tokenizers::normalizers::utils::Lowercase;
        use tokenizers::pre_tokenizers::digits::Digits;
        use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
        use tokenizers::pre_tokenizers::punctuation::Punctuation;
        use tokenizers::pre_tokenizers::sequence::Sequence;
        use tokenizers::SplitDelimiterBehavior;
        let base = shipped();
        let mut lower = base.tokenizer().expect("tokenizer").clone();
        lower.with_normalizer(Some(Lowercase)).expect("normalizer");
        let mut no_digits = base.tokenizer().expect("tokenizer").clone();
        no_digits.with_pre_tokenizer(Some(Sequence::new(vec![
            Metaspace::new('▁', PrependScheme::Always, true).into(),
            Punctuation::new(SplitDelimiterBehavior::Isolated).into(),
        ])));
        let mut first = base.tokenizer().expect("tokenizer").clone();
        first.with_pre_tokenizer(Some(Sequence::new(vec![
            Metaspace::new('▁', PrependScheme::First, true).into(),
            Punctuation::new(SplitDelimiterBehavior::Isolated).into(),
            Digits::new(true).into(),
        ])));
        for t in [lower, no_digits, first] {
            let enc = TextEncoder::new(t, 128);
            assert!(enc.fast_path().is_err());
            for text in table() {
                check(&enc, &text);
            }
        }
    }

    /// `from_json` on every shipped member: the fast path without building `tokenizers`, the
    /// same vocabulary facts and ids as the built tokenizer (special tokens typed are text),
    /// and the reference built on first use.
    #[test]
    fn from_json_needs_no_tokenizers_and_agrees_with_it() {
        for member in ["seed-7", "seed-1234", "seed-42"] {
            let path = format!(
                "{}/models/default/{member}/tokenizer.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let json = std::fs::read(&path).expect("tokenizer.json");
            let lazy = TextEncoder::from_json(&json, 128).expect("from_json");
            assert_eq!(lazy.fast_path(), Ok(()), "{member}");
            assert!(
                lazy.tokenizer.cell.get().is_none(),
                "{member}: built eagerly"
            );
            let mut t = Tokenizer::from_bytes(&json).expect("tokenizer");
            t.set_encode_special_tokens(true);
            let built = TextEncoder::new(t, 128);
            assert_eq!(lazy.vocab_size(), built.vocab_size(), "{member}");
            assert_eq!(lazy.sentence_ends(), built.sentence_ends(), "{member}");
            assert!(!lazy.sentence_ends().is_empty());
            for text in table()
                .iter()
                .map(String::as_str)
                .chain(["<pad> x<unk>y <mask>"])
            {
                assert_eq!(
                    lazy.encode_all(text).ok(),
                    built.encode_all(text).ok(),
                    "{text:?}"
                );
            }
            check(&lazy, "<pad> x<unk>y <mask> подожги шкаф");
            assert!(
                lazy.tokenizer.cell.get().is_some(),
                "the reference was built"
            );
        }
        // A file the fast path does not implement is read by `tokenizers`, and a broken one
        // is an error.
        let mut lower = shipped().tokenizer().expect("tokenizer").clone();
        lower
            .with_normalizer(Some(tokenizers::normalizers::utils::Lowercase))
            .expect("normalizer");
        let enc = TextEncoder::from_json(lower.to_string(false).expect("json").as_bytes(), 128)
            .expect("from_json");
        assert!(enc.fast_path().is_err());
        check(&enc, "Подожги ШКАФ");
        assert!(TextEncoder::from_json(b"{\"model\": 1}", 128).is_err());
    }

    #[test]
    fn encode_special_tokens_is_respected() {
        let mut t = shipped().tokenizer().expect("tokenizer").clone();
        t.set_encode_special_tokens(true);
        let enc = TextEncoder::new(t, 128);
        check(&enc, "<pad> x<unk>y <mask>");
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            " ",
            "  ",
            "▁",
            "<pad>",
            "<unk>",
            "<mask>",
            "<",
            ">",
            ".",
            ",",
            "!",
            "-",
            "—",
            "«",
            "1",
            "42",
            "½",
            "🔥",
            "👍🏻",
            "\n",
            "\t",
            "а",
            "б",
            "ї",
            "є",
            "ґ",
            "ы",
            "о",
            "н",
            "с",
            "т",
            "р",
            "и",
            "е",
            "ть",
            "ння",
            "ого",
            "робота",
            "оплата",
            "підпали",
            "x",
            "a",
            "e",
            "q",
            "th",
            "ing",
            "中",
            "ع",
            "\u{301}",
            "\u{200b}",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn fast_path_equals_tokenizers_on_random_unicode(text in "\\PC{0,60}") {
            check(&shipped(), &text);
        }

        #[test]
        fn fast_path_equals_tokenizers_on_random_mixtures(text in text_strategy()) {
            let enc = shipped();
            check(&enc, &text);
        }
    }
}
