//! Tokenizer training: Unigram over normalised text, with ids made independent of the
//! trainer's hash-map order. The library's `TextEncoder` encodes with what this writes.

use tokenizers::models::unigram::{Unigram, UnigramTrainerBuilder};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::{Error, Result};

/// Padding token (id 0 in tokenizers trained here).
pub const PAD: &str = "<pad>";
/// Unknown-piece token.
pub const UNK: &str = "<unk>";
/// Mask token for masked-LM pretraining.
pub const MASK: &str = "<mask>";

fn tok_err(e: tokenizers::Error) -> Error {
    Error::Tokenizer(e)
}

/// Trains a Unigram tokenizer of about `vocab_size` pieces on already-normalised `texts`.
///
/// Pre-tokenisation: punctuation isolated, every digit its own piece (amounts and phone numbers
/// vary endlessly; single digits generalise), words marked with `▁` (Metaspace), so pieces stay
/// readable Cyrillic. No normaliser: inputs are expected to be `verbovka::normalize`d already.
/// Special tokens `<pad>`, `<unk>`, `<mask>` get ids 0, 1, 2.
pub fn train_tokenizer<I, S>(texts: I, vocab_size: usize) -> Result<Tokenizer>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    let mut tokenizer = Tokenizer::new(Unigram::default());
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer()));
    tokenizer.with_decoder(Some(Metaspace::new('▁', PrependScheme::Always, true)));
    let trainer = UnigramTrainerBuilder::default()
        .show_progress(false)
        .vocab_size(vocab_size as u32)
        .special_tokens(vec![
            AddedToken::from(PAD, true),
            AddedToken::from(UNK, true),
            AddedToken::from(MASK, true),
        ])
        .unk_token(Some(UNK.to_string()))
        .max_piece_length(16)
        .build()
        .map_err(|e| Error::Tokenizer(e.into()))?;
    let mut trainer: TrainerWrapper = trainer.into();
    tokenizer.train(&mut trainer, texts).map_err(tok_err)?;
    canonicalize(&mut tokenizer)?;
    Ok(tokenizer)
}

/// Makes piece ids independent of the trainer's float-summation order: the Unigram trainer
/// sums in hash-map order, so two identical runs give scores differing around 1e-14 and
/// hundreds of tied pieces in a different order (different ids, different weights). Scores
/// are rounded to 1e-9, the trainer's filler characters share one score, and pieces are
/// sorted by (score desc, piece); specials keep ids 0, 1, 2.
fn canonicalize(tokenizer: &mut Tokenizer) -> Result<()> {
    let ModelWrapper::Unigram(model) = tokenizer.get_model() else {
        return Ok(());
    };
    let specials = [PAD, UNK, MASK];
    let mut head: Vec<(String, f64)> = Vec::new();
    let mut rest: Vec<(String, f64)> = Vec::new();
    for (piece, score) in model.iter() {
        if specials.contains(&piece.as_str()) {
            head.push((piece.clone(), *score));
        } else {
            rest.push((piece.clone(), (score * 1e9).round() / 1e9));
        }
    }
    // Characters the trainer must keep but its EM never scored get `min + k·1e-4` in
    // hash-set order; give them all the band's lowest score so only the piece decides order.
    let min_multi = rest
        .iter()
        .filter(|(p, _)| p.chars().count() > 1)
        .map(|(_, s)| *s)
        .fold(f64::INFINITY, f64::min);
    let band_min = rest
        .iter()
        .map(|(_, s)| *s)
        .filter(|s| *s < min_multi)
        .fold(f64::INFINITY, f64::min);
    for (p, score) in rest.iter_mut() {
        if *score < min_multi && p.chars().count() == 1 {
            *score = (band_min * 1e3).floor() / 1e3;
        }
    }
    head.sort_by_key(|(p, _)| specials.iter().position(|s| s == p));
    rest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let unk = head.iter().position(|(p, _)| p == UNK);
    head.extend(rest);
    let model = Unigram::from(head, unk, false).map_err(tok_err)?;
    tokenizer.with_model(model);
    Ok(())
}

fn pre_tokenizer() -> Sequence {
    Sequence::new(vec![
        Metaspace::new('▁', PrependScheme::Always, true).into(),
        Punctuation::new(SplitDelimiterBehavior::Isolated).into(),
        Digits::new(true).into(),
    ])
}
