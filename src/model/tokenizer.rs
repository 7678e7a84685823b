//! Tokenizer: training (Unigram over normalised text) and encoding with truncation.

use tokenizers::models::unigram::{Unigram, UnigramTrainerBuilder};
use tokenizers::models::TrainerWrapper;
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

fn tok_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
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
        .map_err(tok_err)?;
    let mut trainer: TrainerWrapper = trainer.into();
    tokenizer.train(&mut trainer, texts).map_err(tok_err)?;
    Ok(tokenizer)
}

fn pre_tokenizer() -> Sequence {
    Sequence::new(vec![
        Metaspace::new('▁', PrependScheme::Always, true).into(),
        Punctuation::new(SplitDelimiterBehavior::Isolated).into(),
        Digits::new(true).into(),
    ])
}

/// A tokenizer with the model's window: encodes a text to at most `max_len` ids.
#[derive(Debug, Clone)]
pub struct TextEncoder {
    tokenizer: Tokenizer,
    max_len: usize,
}

impl TextEncoder {
    /// Wraps `tokenizer` with a window of `max_len` tokens.
    pub fn new(tokenizer: Tokenizer, max_len: usize) -> Self {
        TextEncoder { tokenizer, max_len }
    }

    /// The wrapped tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// All ids of `text` (no truncation, no special tokens).
    pub fn encode_all(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode_fast(text, false).map_err(tok_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// The first `max_len` ids of `text`, and whether anything was cut off.
    pub fn encode(&self, text: &str) -> Result<(Vec<u32>, bool)> {
        let mut ids = self.encode_all(text)?;
        let truncated = ids.len() > self.max_len;
        ids.truncate(self.max_len);
        Ok((ids, truncated))
    }
}
