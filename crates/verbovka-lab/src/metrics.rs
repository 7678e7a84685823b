//! Dev-split figures used for early stopping, threshold choice and the model card.

use serde::Serialize;

use verbovka::scoring::Thresholds;

use crate::eval::Prf;
use crate::{Category, Label, Scores};

/// Figures of a model on a labelled split at given thresholds.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Metrics {
    /// One-vs-rest figures per category, [`Category::ALL`] order.
    pub per_category: [Prf; 3],
    /// Mean of the three category F1 scores.
    pub macro_f1: f64,
    /// "Recruiting at all" (any category over its threshold) against benign.
    pub binary: Prf,
    /// Share of benign items flagged.
    pub benign_fpr: f64,
    /// Share of items whose predicted label (top category over threshold, else benign) is right.
    pub accuracy: f64,
    /// Number of items.
    pub n: usize,
}

/// Computes [`Metrics`] of probabilities `probs` against `labels`.
pub fn evaluate(probs: &[[f32; 3]], labels: &[Label], thresholds: &[f32; 3]) -> Metrics {
    let mut cat = [(0usize, 0usize, 0usize); 3];
    let (mut btp, mut bfp, mut bfn, mut benign, mut correct) = (0, 0, 0, 0, 0);
    for (p, &l) in probs.iter().zip(labels) {
        for (i, c) in Category::ALL.iter().enumerate() {
            let pred = p[i] >= thresholds[i];
            let gold = l.category() == Some(*c);
            match (pred, gold) {
                (true, true) => cat[i].0 += 1,
                (true, false) => cat[i].1 += 1,
                (false, true) => cat[i].2 += 1,
                _ => {}
            }
        }
        let label = Thresholds((*thresholds).into()).label(Scores::from_array(*p));
        let (pred, gold) = (label != Label::Benign, l != Label::Benign);
        match (pred, gold) {
            (true, true) => btp += 1,
            (true, false) => bfp += 1,
            (false, true) => bfn += 1,
            _ => {}
        }
        benign += usize::from(!gold);
        correct += usize::from(label == l);
    }
    let per_category = cat.map(|(tp, fp, fn_)| Prf::from_counts(tp, fp, fn_));
    let n = labels.len();
    Metrics {
        per_category,
        macro_f1: per_category.iter().map(|p| p.f1).sum::<f64>() / 3.0,
        binary: Prf::from_counts(btp, bfp, bfn),
        benign_fpr: if benign == 0 {
            0.0
        } else {
            bfp as f64 / benign as f64
        },
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        n,
    }
}

/// Per category, the threshold in 0.05..=0.95 (step 0.01) with the best one-vs-rest F1 on the
/// given split; ties go to the threshold nearest 0.5.
pub fn choose_thresholds(probs: &[[f32; 3]], labels: &[Label]) -> [f32; 3] {
    let mut out = [0.5f32; 3];
    for (i, c) in Category::ALL.iter().enumerate() {
        let mut best = (-1.0f32, 0.5f32);
        for k in 5..=95 {
            let t = k as f32 / 100.0;
            let (mut tp, mut fp, mut fn_) = (0, 0, 0);
            for (p, l) in probs.iter().zip(labels) {
                let pred = p[i] >= t;
                let gold = l.category() == Some(*c);
                tp += usize::from(pred && gold);
                fp += usize::from(pred && !gold);
                fn_ += usize::from(!pred && gold);
            }
            let f1 = Prf::from_counts(tp, fp, fn_).f1 as f32;
            let better = f1 > best.0 + 1e-6
                || ((f1 - best.0).abs() <= 1e-6 && (t - 0.5).abs() < (best.1 - 0.5).abs());
            if better {
                best = (f1, t);
            }
        }
        out[i] = best.1;
    }
    out
}
