//! Folding a moderator's corrections into a trained model (the `learn` binary).
//!
//! Each member is fine-tuned **from its own weights** (its tokenizer and configuration kept)
//! for a fixed, small number of steps. Every batch mixes a fixed share of corrections with
//! examples drawn from the original training data: the rehearsal keeps what the model knew
//! (training on 20 corrections alone would move every decision towards them), and the
//! corrections are seen many times, so a handful of them is enough to move a class of errors.
//! A few hundred steps take a minute or two per member on two cores.
//!
//! Corrections come as JSON Lines or CSV ([`read_corrections`]): plain `{text, label}`
//! records, or the records `score_export` wrote with a `correct_label` or `verdict`
//! (`right` / `wrong`) field or column added by the moderator.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use tokenizers::Tokenizer;
use verbovka::model::{
    EnsembleSpec, ModelConfig, TextEncoder, CONFIG_FILE, ENSEMBLE_FILE, TOKENIZER_FILE,
    WEIGHTS_FILE,
};

use crate::rng::Rng;
use crate::train::{
    init_model, mean_bce, normalise, predict_fast, save_model, schedule, smooth, sorted_vars, step,
    targets_of, AdamW, Example, StepSettings,
};
use crate::{Error, Label, Result};

/// How corrections are folded in. The defaults were chosen on the 2026-12-04 experiment
/// (model card of `crates/verbovka/models/default`, "Corrections").
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// Optimisation steps per member.
    pub steps: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Share of each batch taken from the corrections (the rest is rehearsal).
    pub correction_share: f32,
    /// Peak learning rate (AdamW, linear warm-up over a tenth of the steps, cosine decay).
    pub learning_rate: f64,
    /// Decoupled weight decay of the matrices.
    pub weight_decay: f64,
    /// Dropout probability.
    pub dropout: f32,
    /// Token deletion probability (as in training).
    pub token_dropout: f32,
    /// Label smoothing (as in training).
    pub label_smoothing: f32,
    /// Gradient clipping by global norm.
    pub clip_norm: f32,
    /// OS threads per step.
    pub workers: usize,
    /// Seed of the batch order, dropout and rehearsal draws.
    pub seed: u64,
    /// Share of the examples of each batch read inside real benign text: a stretch of a real
    /// background line's tokens before, after or around them, in the same row of `max_len`
    /// tokens ([`wrap_in_context`]). At inference a long post is read in windows that start
    /// anywhere, so an offer often shares its window with a preamble or the rest of a channel
    /// post; trained only on posts that begin at their first token, the model read such a
    /// window as the benign text around the offer (issue 11: 31.6 % of test positives flagged
    /// behind a long preamble, 92.9 % alone). Positives and benign examples are wrapped alike,
    /// so the context itself teaches nothing about the label. 0 (the default) draws nothing
    /// extra, so earlier runs repeat bit for bit.
    pub context_share: f32,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            steps: 200,
            batch_size: 32,
            correction_share: 0.25,
            learning_rate: 1e-4,
            weight_decay: 0.05,
            dropout: 0.2,
            token_dropout: 0.15,
            label_smoothing: 0.1,
            clip_norm: 1.0,
            workers: 2,
            seed: 42,
            context_share: 0.0,
        }
    }
}

/// What fine-tuning one member did.
#[derive(Debug, Clone)]
pub struct MemberReport {
    /// Member directory name (`.` for a single model).
    pub name: String,
    /// Mean loss (BCE) of the model on the corrections before and after.
    pub corrections_loss: (f32, f32),
    /// Mean loss of the model on the rehearsal examples it drew, before and after.
    pub rehearsal_loss: (f32, f32),
    /// Seconds spent.
    pub seconds: f32,
}

/// Where a correction came from and what the moderator said, after [`read_corrections`].
#[derive(Debug, Clone, Default)]
pub struct Corrections {
    /// The labelled texts.
    pub examples: Vec<Example>,
    /// Records skipped because nobody reviewed them (no `label`, `correct_label` or
    /// `verdict`), by file and line, so nothing is dropped unseen.
    pub unreviewed: Vec<String>,
}

/// Reads corrections from a `.jsonl` or `.csv` file. Per record, the label is, in order:
/// `correct_label`; else, with `verdict` = `right`, the record's `label` (what the detector
/// said); with `verdict` = `wrong`, `benign` where the detector flagged it (a `wrong`
/// benign needs `correct_label`: which category it should have been is not known); else a
/// plain `label` (a `{text, label}` file). A record the tool wrote (it has a `risk` field or
/// column) without `correct_label` or `verdict` is unreviewed and counted, not used. Errors
/// name the file and line.
pub fn read_corrections(path: &Path) -> Result<Corrections> {
    let content = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let records: Vec<(usize, HashMap<String, String>)> =
        if path.extension().is_some_and(|x| x == "csv") {
            csv_records(&content, path)?
        } else {
            jsonl_records(&content, path)?
        };
    let mut out = Corrections::default();
    for (line, rec) in records {
        let origin = format!("{}:{line}", path.display());
        let err = |message: String| verbovka::Error::Data {
            origin: origin.clone(),
            message,
        };
        let text = rec
            .get("text")
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| err("no `text`".into()))?;
        let parse = |field: &str| -> Result<Option<Label>> {
            match rec.get(field).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse::<Label>().map(Some).map_err(|_| {
                    err(format!(
                        "`{field}` is {v:?}; expected benign, sabotage, reconnaissance or lure"
                    ))
                    .into()
                }),
            }
        };
        let said = parse("label")?;
        let verdict = rec
            .get("verdict")
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        let label = match (parse("correct_label")?, verdict.as_deref()) {
            (Some(l), _) => l,
            (None, Some("right")) => said.ok_or_else(|| err("`verdict` right needs `label`".into()))?,
            (None, Some("wrong")) => match said {
                Some(Label::Benign) | None => {
                    return Err(err(
                        "`verdict` wrong on a benign record needs `correct_label` (which category it is)"
                            .into(),
                    )
                    .into())
                }
                Some(_) => Label::Benign,
            },
            (None, Some(v)) => {
                return Err(err(format!("`verdict` is {v:?}; expected right or wrong")).into())
            }
            (None, None) if rec.contains_key("risk") => {
                out.unreviewed.push(origin.clone());
                continue;
            }
            (None, None) => said.ok_or_else(|| {
                err("no `label`, `correct_label` or `verdict`".into())
            })?,
        };
        out.examples.push(Example {
            text: text.clone(),
            label,
            family: Some(serde_json::Value::String(origin.clone())),
            tags: vec!["correction".into()],
        });
    }
    Ok(out)
}

/// JSON Lines records as string maps (numbers and other scalars as their JSON text).
fn jsonl_records(content: &str, path: &Path) -> Result<Vec<(usize, HashMap<String, String>)>> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let origin = format!("{}:{}", path.display(), i + 1);
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| verbovka::Error::Data {
                origin: origin.clone(),
                message: format!("invalid JSON: {e}"),
            })?;
        let obj = value.as_object().ok_or_else(|| verbovka::Error::Data {
            origin,
            message: "a record must be a JSON object".into(),
        })?;
        let map = obj
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect();
        out.push((i + 1, map));
    }
    Ok(out)
}

/// CSV records (header row first) as string maps; line numbers are the record's first line.
fn csv_records(content: &str, path: &Path) -> Result<Vec<(usize, HashMap<String, String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(content.as_bytes());
    let bad = |line: u64, e: csv::Error| verbovka::Error::Data {
        origin: format!("{}:{line}", path.display()),
        message: format!("invalid CSV: {e}"),
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e)
        })?;
        let line = rec.position().map_or(0, |p| p.line()) as usize;
        // The tool's CSV guards cells a spreadsheet would run as formulas with a leading `'`.
        let map = header
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| {
                let v = match v.strip_prefix('\'') {
                    Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
                    _ => v,
                };
                (h.clone(), v.to_string())
            })
            .collect();
        out.push((line, map));
    }
    Ok(out)
}

/// The members of a model directory: its `ensemble.json` members, or the directory itself.
pub fn members(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(ENSEMBLE_FILE);
    if !path.exists() {
        return Ok(vec![".".into()]);
    }
    let json = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok(EnsembleSpec::from_json(&json, &path.display().to_string())?.members)
}

/// Fine-tunes every member of `model_dir` on `corrections` with rehearsal from `originals`
/// and writes the result to `out_dir` in the same layout (f32 weights; `ensemble.json` and
/// each member's tokenizer and configuration copied; a note appended to each member's card).
/// Calibration is not written here: fit it afterwards on dev (the `learn` binary does).
pub fn finetune_dir(
    model_dir: &Path,
    out_dir: &Path,
    corrections: &[Example],
    originals: &[Example],
    opts: &FinetuneOptions,
    note: &str,
) -> Result<Vec<MemberReport>> {
    if corrections.is_empty() {
        return Err(verbovka::Error::Config("no corrections to learn from".into()).into());
    }
    if originals.is_empty() || opts.steps == 0 || opts.batch_size < 2 || opts.workers == 0 {
        return Err(verbovka::Error::Config(
            "learning needs rehearsal examples, steps > 0, batch_size ≥ 2 and workers > 0".into(),
        )
        .into());
    }
    if !(0.0..1.0).contains(&opts.correction_share) || opts.correction_share <= 0.0 {
        return Err(verbovka::Error::Config(format!(
            "correction_share must be in (0, 1), got {}",
            opts.correction_share
        ))
        .into());
    }
    if !(0.0..=1.0).contains(&opts.context_share) {
        return Err(verbovka::Error::Config(format!(
            "context_share must be in [0, 1], got {}",
            opts.context_share
        ))
        .into());
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let names = members(model_dir)?;
    if names.len() > 1 || names[0] != "." {
        let from = model_dir.join(ENSEMBLE_FILE);
        let to = out_dir.join(ENSEMBLE_FILE);
        std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
    }
    let mut reports = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let seed = opts
            .seed
            .wrapping_add(k as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        reports.push(finetune_member(
            &model_dir.join(name),
            &out_dir.join(name),
            name,
            corrections,
            originals,
            &FinetuneOptions {
                seed,
                ..opts.clone()
            },
            note,
        )?);
    }
    Ok(reports)
}

fn finetune_member(
    dir: &Path,
    out: &Path,
    name: &str,
    corrections: &[Example],
    originals: &[Example],
    opts: &FinetuneOptions,
    note: &str,
) -> Result<MemberReport> {
    let started = Instant::now();
    let cfg_path = dir.join(CONFIG_FILE);
    let cfg_json = std::fs::read(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg = ModelConfig::from_json(&cfg_json, &cfg_path.display().to_string())?;
    let tok_path = dir.join(TOKENIZER_FILE);
    let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| verbovka::Error::Model {
        origin: tok_path.display().to_string(),
        message: format!("cannot read tokenizer: {e}"),
    })?;
    let (varmap, encoder) = init_model(&cfg, opts.seed)?;
    let vars = sorted_vars(&varmap);
    load_weights(&dir.join(WEIGHTS_FILE), &vars)?;

    let encode = TextEncoder::new(tokenizer.clone(), cfg.max_len);
    let rows_of = |set: &[&Example]| -> Result<Vec<Vec<u32>>> {
        set.iter()
            .map(|e| Ok(encode.encode(&normalise(&e.text))?.0))
            .collect()
    };
    let per_batch = ((opts.batch_size as f32 * opts.correction_share).round() as usize)
        .clamp(1, opts.batch_size - 1);
    let mut rng = Rng::new(opts.seed);
    // Every batch: `per_batch` corrections taken in turn through shuffled passes, the rest
    // drawn at random from the originals (drawn up front, so only those are tokenised).
    let mut order: Vec<usize> = Vec::new();
    let mut batches: Vec<(Vec<usize>, Vec<usize>)> = Vec::with_capacity(opts.steps);
    let mut drawn: Vec<usize> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for _ in 0..opts.steps {
        let mut c = Vec::with_capacity(per_batch);
        for _ in 0..per_batch {
            if order.is_empty() {
                order = (0..corrections.len()).collect();
                rng.shuffle(&mut order);
            }
            c.extend(order.pop());
        }
        let o = (0..opts.batch_size - per_batch)
            .map(|_| {
                let i = rng.below(originals.len());
                *slot.entry(i).or_insert_with(|| {
                    drawn.push(i);
                    drawn.len() - 1
                })
            })
            .collect();
        batches.push((c, o));
    }
    let corr_refs: Vec<&Example> = corrections.iter().collect();
    let corr_rows = rows_of(&corr_refs)?;
    let orig_refs: Vec<&Example> = drawn.iter().map(|&i| &originals[i]).collect();
    let orig_rows = rows_of(&orig_refs)?;
    let corr_labels: Vec<Label> = corrections.iter().map(|e| e.label).collect();
    let orig_labels: Vec<Label> = orig_refs.iter().map(|e| e.label).collect();
    let losses = |vars: &[(String, candle_core::Var)]| -> Result<(f32, f32)> {
        let c = predict_fast(&cfg, vars, &corr_rows, opts.workers)?;
        let o = predict_fast(&cfg, vars, &orig_rows, opts.workers)?;
        Ok((mean_bce(&c, &corr_labels), mean_bce(&o, &orig_labels)))
    };
    let before = losses(&vars)?;

    let mut opt = AdamW::new(&vars, opts.weight_decay);
    let warmup = (opts.steps / 10).max(1);
    let settings = StepSettings {
        pad_id: cfg.pad_id,
        token_dropout: opts.token_dropout,
        dropout: opts.dropout,
        clip_norm: opts.clip_norm,
        workers: opts.workers,
    };
    let context = context_rows(&tokenizer, originals, opts)?;
    // Its own generator, so that with no context the draws above and below are unchanged.
    let mut context_rng = Rng::new(opts.seed ^ 0x636f_6e74_6578_7400);
    for (k, (c, o)) in batches.iter().enumerate() {
        let rows: Vec<(Vec<u32>, Label)> = c
            .iter()
            .map(|&i| (&corr_rows[i], corr_labels[i]))
            .chain(o.iter().map(|&i| (&orig_rows[i], orig_labels[i])))
            .map(|(row, l)| {
                if context.is_empty() || context_rng.uniform() >= opts.context_share {
                    return (row.clone(), l);
                }
                let pad = &context[context_rng.below(context.len())];
                (wrap_in_context(row, pad, cfg.max_len, &mut context_rng), l)
            })
            .collect();
        let items: Vec<(&[u32], [f32; 3])> = rows
            .iter()
            .map(|(row, l)| (row.as_slice(), smooth(targets_of(*l), opts.label_smoothing)))
            .collect();
        step(
            &encoder,
            &vars,
            &mut opt,
            &items,
            &settings,
            schedule(k, opts.steps, warmup, opts.learning_rate),
            &mut rng,
        )?;
    }
    let after = losses(&vars)?;

    save_model(out, &cfg, &tokenizer, &vars)?;
    let card_from = dir.join("README.md");
    let mut card = std::fs::read_to_string(&card_from).unwrap_or_default();
    card += &format!(
        "\n## Corrections learned\n\n{note}\n\nFine-tuned from these weights for {} steps of {} \
         ({} corrections per batch from {} corrections, the rest rehearsal from the original \
         training data), peak learning rate {}. Loss on the corrections {:.4} → {:.4}, on the \
         rehearsal draws {:.4} → {:.4}. The figures above this section are of the weights \
         before the corrections.\n",
        opts.steps,
        opts.batch_size,
        per_batch,
        corrections.len(),
        opts.learning_rate,
        before.0,
        after.0,
        before.1,
        after.1
    );
    let card_to = out.join("README.md");
    std::fs::write(&card_to, card).map_err(|e| Error::io(&card_to, e))?;
    Ok(MemberReport {
        name: name.to_string(),
        corrections_loss: (before.0, after.0),
        rehearsal_loss: (before.1, after.1),
        seconds: started.elapsed().as_secs_f32(),
    })
}

/// Real text to wrap examples in: the token ids (up to [`CONTEXT_TOKENS`]) of up to
/// [`CONTEXT_TEXTS`] background lines of the originals (real corpus text; short chat replies
/// left out), drawn with the options' seed. Empty when `context_share` is 0.
fn context_rows(
    tokenizer: &Tokenizer,
    originals: &[Example],
    opts: &FinetuneOptions,
) -> Result<Vec<Vec<u32>>> {
    if opts.context_share <= 0.0 {
        return Ok(Vec::new());
    }
    let has = |e: &Example, tag: &str| e.tags.iter().any(|t| t == tag);
    let mut pool: Vec<&Example> = originals
        .iter()
        .filter(|e| e.label == Label::Benign && has(e, "background") && !has(e, "short"))
        .collect();
    if pool.is_empty() {
        return Err(verbovka::Error::Config(
            "context_share needs background lines (tag `background`) in the original training data"
                .into(),
        )
        .into());
    }
    Rng::new(opts.seed ^ 0x7061_6473).shuffle(&mut pool);
    let encode = TextEncoder::new(tokenizer.clone(), CONTEXT_TOKENS);
    let mut rows = Vec::with_capacity(CONTEXT_TEXTS);
    for e in pool.iter().take(CONTEXT_TEXTS) {
        let ids = encode.encode(&normalise(&e.text))?.0;
        if !ids.is_empty() {
            rows.push(ids);
        }
    }
    Ok(rows)
}

/// Background lines drawn as context, and the most tokens read of each.
const CONTEXT_TEXTS: usize = 4096;
const CONTEXT_TOKENS: usize = 256;
/// Fewest and most context tokens put beside an example.
const MIN_CONTEXT: usize = 4;
const MAX_CONTEXT: usize = 96;

/// `row` (an example's ids) inside real text `pad`, as a window over a longer post would
/// read it: the end of `pad` before it, the start of `pad` after it, or both, filling at most
/// the room left in `max_len` (never cutting the example; a row with less than
/// `MIN_CONTEXT` (4) tokens of room is returned as it is).
pub fn wrap_in_context(row: &[u32], pad: &[u32], max_len: usize, rng: &mut Rng) -> Vec<u32> {
    let room = max_len
        .saturating_sub(row.len())
        .min(MAX_CONTEXT)
        .min(pad.len());
    if room < MIN_CONTEXT {
        return row.to_vec();
    }
    let k = MIN_CONTEXT + rng.below(room - MIN_CONTEXT + 1);
    let (before, after) = match rng.below(3) {
        0 => (k, 0),
        1 => (0, k),
        _ => (k / 2, k - k / 2),
    };
    let mut out = Vec::with_capacity(row.len() + k);
    out.extend_from_slice(&pad[pad.len() - before..]);
    out.extend_from_slice(row);
    out.extend_from_slice(&pad[..after]);
    out
}

/// Sets every training variable from a weights file (f32 or f16), refusing a missing,
/// extra or misshapen tensor.
fn load_weights(path: &Path, vars: &[(String, candle_core::Var)]) -> Result<()> {
    let mut tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
    let bad = |message: String| verbovka::Error::Model {
        origin: path.display().to_string(),
        message,
    };
    for (name, var) in vars {
        let t: Tensor = tensors
            .remove(name)
            .ok_or_else(|| bad(format!("no tensor {name}")))?
            .to_dtype(DType::F32)?;
        if t.dims() != var.as_tensor().dims() {
            return Err(bad(format!(
                "tensor {name} has shape {:?}, the configuration wants {:?}",
                t.dims(),
                var.as_tensor().dims()
            ))
            .into());
        }
        var.set(&t)?;
    }
    if let Some(extra) = tensors.keys().next() {
        return Err(bad(format!(
            "tensor {extra} is not part of the configured model"
        ))
        .into());
    }
    Ok(())
}

/// Splits corrections into a learning part and a held-out part of about `share`, by a stable
/// hash of the text (the same text always lands on the same side).
pub fn split_holdout(examples: Vec<Example>, share: f64) -> (Vec<Example>, Vec<Example>) {
    examples.into_iter().partition(|e| {
        let h = crate::data::stable_hash(&e.text);
        (h as f64 / u64::MAX as f64) >= share
    })
}

/// Output directory default: `<model_dir>-learned` beside the model.
pub fn default_out(model_dir: &Path) -> PathBuf {
    let mut name = model_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "model".into());
    name.push("-learned");
    model_dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("verbovka-learn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    #[test]
    fn corrections_read_labels_verdicts_and_count_unreviewed() {
        let p = write(
            "c.jsonl",
            concat!(
                r#"{"text":"Нужен электрик, оплата по факту, пиши в лс","label":"benign"}"#,
                "\n",
                r#"{"text":"Подожги релейный шкаф за 500$","label":"benign","risk":0.2,"correct_label":"sabotage"}"#,
                "\n",
                r#"{"text":"Фото блокпоста на выезде, очереди?","label":"reconnaissance","risk":0.9,"verdict":"wrong"}"#,
                "\n",
                r#"{"text":"Сфоткай ПВО, плачу 100$","label":"reconnaissance","risk":0.95,"verdict":"Right"}"#,
                "\n",
                r#"{"text":"не проверено","label":"lure","risk":0.6}"#,
                "\n"
            ),
        );
        let c = read_corrections(&p).unwrap();
        let labels: Vec<Label> = c.examples.iter().map(|e| e.label).collect();
        assert_eq!(
            labels,
            [
                Label::Benign,
                Label::Sabotage,
                Label::Benign,
                Label::Reconnaissance
            ]
        );
        assert_eq!(c.unreviewed.len(), 1);
        assert!(c.unreviewed[0].ends_with(":5"), "{:?}", c.unreviewed);
    }

    #[test]
    fn corrections_from_the_tools_csv() {
        let p = write(
            "c.csv",
            "chat,message_id,label,risk,text,verdict,correct_label\n\
             Двор,1,lure,0.71,\"Нужны люди на подработку, пиши @x\",wrong,\n\
             Двор,2,benign,0.05,'+ подожгу вышку за 300$,,sabotage\n\
             Двор,3,benign,0.01,привет,,\n",
        );
        let c = read_corrections(&p).unwrap();
        assert_eq!(c.examples.len(), 2);
        assert_eq!(c.examples[0].label, Label::Benign);
        assert_eq!(c.examples[1].label, Label::Sabotage);
        assert_eq!(c.examples[1].text, "+ подожгу вышку за 300$");
        assert_eq!(c.unreviewed.len(), 1);
    }

    #[test]
    fn bad_corrections_name_file_line_and_field() {
        let cases = [
            (r#"{"text":"x","label":"spam"}"#, "`label` is \"spam\""),
            (r#"{"label":"benign"}"#, "no `text`"),
            (
                r#"{"text":"x","label":"benign","risk":0.1,"verdict":"wrong"}"#,
                "needs `correct_label`",
            ),
            (
                r#"{"text":"x","label":"lure","verdict":"maybe"}"#,
                "expected right or wrong",
            ),
            ("[1,2]", "JSON object"),
            (r#"{"text":"x"}"#, "no `label`"),
        ];
        for (i, (line, want)) in cases.iter().enumerate() {
            let p = write(&format!("bad{i}.jsonl"), &format!("\n{line}\n"));
            let e = read_corrections(&p).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(":2"), "{line}: {e}");
        }
    }

    #[test]
    fn context_wraps_without_cutting_the_example() {
        let row: Vec<u32> = (1000..1040).collect();
        let pad: Vec<u32> = (0..200).collect();
        let mut rng = Rng::new(3);
        let mut seen = [false; 3];
        for _ in 0..200 {
            let w = wrap_in_context(&row, &pad, 128, &mut rng);
            assert!(
                w.len() <= 128 && w.len() >= row.len() + MIN_CONTEXT,
                "{}",
                w.len()
            );
            let at = w.iter().position(|&t| t == 1000).unwrap();
            assert_eq!(&w[at..at + row.len()], row.as_slice());
            // Before: the end of the pad; after: its start.
            assert!(w[..at].iter().copied().eq(200 - at as u32..200));
            assert!(w[at + row.len()..]
                .iter()
                .copied()
                .eq(0..(w.len() - at - row.len()) as u32));
            seen[match (at > 0, w.len() > at + row.len()) {
                (true, false) => 0,
                (false, true) => 1,
                _ => 2,
            }] = true;
        }
        assert_eq!(seen, [true; 3]);
        // No room: unchanged.
        let long: Vec<u32> = (0..126).collect();
        assert_eq!(wrap_in_context(&long, &pad, 128, &mut rng), long);
    }

    #[test]
    fn holdout_split_is_stable_and_about_the_share() {
        let ex: Vec<Example> = (0..1000)
            .map(|i| Example {
                text: format!("text {i}"),
                label: Label::Benign,
                family: None,
                tags: vec![],
            })
            .collect();
        let (a, b) = split_holdout(ex.clone(), 0.2);
        assert!((150..250).contains(&b.len()), "{}", b.len());
        let (a2, _) = split_holdout(ex, 0.2);
        assert_eq!(a, a2);
    }
}
