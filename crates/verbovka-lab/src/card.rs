//! The model card (`README.md` of a trained model directory): what was trained on what, the
//! dev figures, and the commands that reproduce it.

use crate::eval::Prf;
use crate::metrics::Metrics;
use crate::train::TrainReport;

/// Lowercase hex SHA-256 of `data` (the card's weight checksum).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
pub fn today_utc() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()
}

fn prf_row(name: &str, p: &Prf) -> String {
    format!(
        "| {name} | {:.3} | {:.3} | {:.3} | {} | {} | {} |\n",
        p.precision, p.recall, p.f1, p.tp, p.fp, p.fn_
    )
}

fn metrics_table(m: &Metrics) -> String {
    let mut s = String::from(
        "| decision | precision | recall | F1 | TP | FP | FN |\n|---|---|---|---|---|---|---|\n",
    );
    for (c, p) in crate::Category::ALL.iter().zip(&m.per_category) {
        s += &prf_row(c.as_str(), p);
    }
    s += &prf_row("**binary** (any category vs benign)", &m.binary);
    s += &format!(
        "\nmacro F1 {:.3} · label accuracy {:.3} · benign false-positive rate {:.4} · n = {}\n",
        m.macro_f1, m.accuracy, m.benign_fpr, m.n
    );
    s
}

/// Renders the model card (`README.md`) of a trained model. `corpora_readme` is the corpora
/// directory's README (its table rows for the files used are quoted for licences).
pub fn render_card(r: &TrainReport, corpora_readme: Option<&str>, date: &str) -> String {
    let c = &r.config;
    let mut s = String::new();
    s += &format!("# {} — recruitment-post classifier (RU/UK)\n\n", c.name);
    s += "A small transformer encoder trained from scratch in Rust with candle. It scores an \
          already-normalised Telegram post (`verbovka::normalize`) for three independent \
          categories — `sabotage`, `reconnaissance`, `lure` — with one sigmoid each; `benign` \
          means all three are low. In verbovka it is one voice next to the rules \
          (`src/detector.rs` fuses both).\n\n";
    s += &format!(
        "Date: {date} · SHA-256 of `model.safetensors`: `{}` ({} bytes)\n\n",
        r.weights_sha256, r.weights_bytes
    );
    s += "## Architecture\n\n| field | value |\n|---|---|\n";
    s += &format!(
        "| layers × width | {} × d{} ({} heads, ff {}) |\n| activation | {:?} |\n| linear bias | {} |\n\
         | positions | learned, max {} tokens (longer posts: the first {} tokens are read and \
         the output says `truncated`) |\n| pooling | {} over tokens, pre-LN layers, final layer norm |\n\
         | vocabulary | {} (Unigram, `tokenizers` 0.23; Metaspace words, isolated punctuation, single digits) |\n\
         | parameters | {} (f32) |\n",
        c.n_layers, c.d_model, c.n_heads, c.d_ff, c.activation, c.linear_bias, c.max_len,
        c.max_len,
        match c.pooling {
            verbovka::model::Pooling::Mean => "masked mean",
            verbovka::model::Pooling::Attention => "attention (softmax of a learned query · token state)",
        },
        c.vocab_size, c.n_params()
    );
    if let Some(t) = c.thresholds {
        s += &format!(
            "| model-alone thresholds (dev) | sabotage {:.2}, reconnaissance {:.2}, lure {:.2} |\n",
            t[0], t[1], t[2]
        );
    }
    s += "\n## Training data\n\nLabelled posts from the repository's dataset (`crates/verbovka-lab/data`, see \
          its datasheet), split by seed family so dev/test measure generalisation to unseen \
          seeds. The test split was never used for training, early stopping or thresholds.\n\n\
          | split | benign | sabotage | reconnaissance | lure | total |\n|---|---|---|---|---|---|\n";
    for (name, k) in &r.label_counts {
        s += &format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            k[0],
            k[1],
            k[2],
            k[3],
            k.iter().sum::<usize>()
        );
    }
    if !r.train_tags.is_empty() {
        let tags: Vec<String> = r
            .train_tags
            .iter()
            .take(15)
            .map(|(t, n)| format!("`{t}` {n}"))
            .collect();
        s += &format!("\nMost frequent tags in train: {}.\n", tags.join(", "));
    }
    s += &format!(
        "\nMean length {:.1} tokens; {:.2} % of training posts longer than {} tokens.\n",
        r.mean_tokens,
        100.0 * r.truncated_share,
        c.max_len
    );
    if !r.corpora.is_empty() {
        s += "\nBackground corpora (`../shared/corpora`, read by path, not redistributed) were \
              used to train the tokenizer";
        s += if r.pretrain.is_some() {
            " and for masked-LM pretraining"
        } else {
            ""
        };
        s += ". Lines sampled per file:\n\n";
        for (f, n) in &r.corpora {
            s += &format!("- `{f}`: {n} lines\n");
        }
        if let Some(readme) = corpora_readme {
            let rows: Vec<&str> = readme
                .lines()
                .filter(|l| {
                    l.starts_with("| file")
                        || l.starts_with("|---")
                        || r.corpora.iter().any(|(f, _)| l.contains(f.as_str()))
                })
                .collect();
            if !rows.is_empty() {
                s += "\nOrigins and licences (from the corpora README):\n\n";
                for l in rows {
                    s += l;
                    s += "\n";
                }
            }
        }
    }
    s += "\n## Training\n\n";
    if !r.options.command.is_empty() {
        s += &format!("```sh\n{}\n```\n\n", r.options.command);
    }
    s += &format!(
        "Seed {}, batch {}, AdamW (peak lr {}, weight decay {}, warm-up, cosine decay), dropout \
         {}, token deletion {}, label smoothing {}{}, up to {} epochs of {} steps, dev loss checked {} times per epoch; early \
         stopping kept the weights of step {} (epoch {:.2}). Masked-LM pretraining: {}. Wall \
         time {:.1} min on 2 CPU cores.\n\n",
        r.options.seed,
        r.options.batch_size,
        r.options.learning_rate,
        r.options.weight_decay,
        r.options.dropout,
        r.options.token_dropout,
        r.options.label_smoothing,
        if r.options.ema_decay > 0.0 {
            format!(", weights averaged (EMA, decay {}; evaluated and saved)", r.options.ema_decay)
        } else {
            String::new()
        } + &if r.options.teachers.is_empty() {
            String::new()
        } else {
            format!(
                ", distilled: targets {} × label + {} × σ(mean logit) of {} teacher models ({})",
                1.0 - r.options.distill_weight,
                r.options.distill_weight,
                r.options.teachers.len(),
                r.options.teachers.join(", ")
            )
        },
        r.options.epochs,
        r.steps_per_epoch,
        r.evals_per_epoch,
        r.best_step,
        r.best_step as f32 / r.steps_per_epoch.max(1) as f32,
        match r.pretrain {
            Some((steps, loss)) => format!("{steps} steps, final loss {loss:.3}"),
            None => "none".to_string(),
        },
        r.seconds / 60.0
    );
    s += "| epoch | step | train loss | dev loss | dev macro F1 @0.5 | dev binary F1 @0.5 | dev benign FPR @0.5 | seconds |\n|---|---|---|---|---|---|---|---|\n";
    for e in &r.evals {
        s += &format!(
            "| {} | {} | {:.4} | {:.4} | {:.3} | {:.3} | {:.4} | {:.0} |\n",
            e.epoch,
            e.step,
            e.train_loss,
            e.dev_loss,
            e.dev.macro_f1,
            e.dev.binary.f1,
            e.dev.benign_fpr,
            e.seconds
        );
    }
    s += "\n## Dev figures (model alone)\n\nAt thresholds 0.5:\n\n";
    s += &metrics_table(&r.dev_at_half);
    s += "\nAt the dev-chosen thresholds:\n\n";
    s += &metrics_table(&r.dev);
    if let Some(t) = &r.test {
        s += "\n## Test figures (model alone, dev-chosen thresholds; reported only)\n\n";
        s += &metrics_table(t);
    }
    s += "\n## Known weaknesses\n\n\
          - Trained on generated variants of hand-written seeds plus real background text: \
          real recruitment posts phrased unlike any seed may be missed; the rules and the \
          fused detector are the intended use.\n\
          - News, warnings and arrest reports quote the offers word for word; the model learns \
          the framing from the hard negatives, but short quotes without context can score high.\n\
          - Only the first `max_len` tokens are read.\n\
          - Informal Ukrainian background text is scarce in the corpora.\n";
    s
}
