//! Evaluation: per-category and binary precision/recall/F1, confusion matrix, false-positive
//! rates on hard negatives and background text, recall on obfuscated positives, a threshold
//! sweep and per-tag figures.
//!
//! Input is one [`EvalRecord`] per labelled text: the gold [`Label`], the label the detector
//! predicted, its per-category [`Scores`] and the example's tags. [`Report::compute`] does the
//! counting; the report serialises to JSON and prints as a table.
//!
//! Conventions: "flagged" means predicted ≠ benign; binary metrics treat every category as
//! positive (a sabotage post called lure counts as caught); a ratio with an empty denominator
//! is 0 and its counts are reported next to it. The threshold sweep ignores the predicted
//! label and flags a text when its highest category score is ≥ the threshold.
//!
//! ```
//! use verbovka_lab::eval::{EvalRecord, Report};
//! use verbovka::{Label, Scores};
//! let records = vec![
//!     EvalRecord::new(Label::Sabotage, Label::Sabotage, Scores::from_array([0.9, 0.1, 0.2]), &["obfuscated"]),
//!     EvalRecord::new(Label::Benign, Label::Lure, Scores::from_array([0.0, 0.1, 0.6]), &["hard"]),
//!     EvalRecord::new(Label::Benign, Label::Benign, Scores::default(), &["background"]),
//! ];
//! let report = Report::compute(&records);
//! assert_eq!(report.binary.recall, 1.0);
//! assert_eq!(report.hard_negative_fpr.rate, 1.0);
//! println!("{report}");
//! ```

use crate::{Category, Label, Scores};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Labels in confusion-matrix order.
pub const LABELS: [Label; 4] = [
    Label::Benign,
    Label::Sabotage,
    Label::Reconnaissance,
    Label::Lure,
];

/// Thresholds of the sweep: 0.1, 0.2, …, 0.9.
pub const SWEEP_THRESHOLDS: [f32; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Tag of hard negatives (news, warnings, look-alike everyday text).
pub const TAG_HARD: &str = "hard";
/// Tag of real background lines.
pub const TAG_BACKGROUND: &str = "background";
/// Tag of obfuscated texts.
pub const TAG_OBFUSCATED: &str = "obfuscated";

fn label_index(l: Label) -> usize {
    match l {
        Label::Benign => 0,
        Label::Sabotage => 1,
        Label::Reconnaissance => 2,
        Label::Lure => 3,
    }
}

/// One scored, labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRecord {
    /// The gold label.
    pub gold: Label,
    /// The label the detector gave.
    pub predicted: Label,
    /// The detector's per-category scores.
    pub scores: Scores,
    /// The example's tags (`hard`, `background`, `obfuscated`, ...).
    pub tags: Vec<String>,
}

impl EvalRecord {
    /// Builds a record.
    pub fn new(gold: Label, predicted: Label, scores: Scores, tags: &[&str]) -> Self {
        EvalRecord {
            gold,
            predicted,
            scores,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Precision, recall and F1 with their counts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Prf {
    /// tp / (tp + fp).
    pub precision: f64,
    /// tp / (tp + fn).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// Gold positives (tp + fn).
    pub support: usize,
}

impl Prf {
    /// From counts.
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Self {
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        Prf {
            precision,
            recall,
            f1: f1(precision, recall),
            tp,
            fp,
            fn_,
            support: tp + fn_,
        }
    }
}

/// A count out of a total.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Rate {
    /// How many (false positives, or caught positives).
    pub count: usize,
    /// Out of how many.
    pub total: usize,
    /// count / total (0 when total is 0).
    pub rate: f64,
}

impl Rate {
    fn new(count: usize, total: usize) -> Self {
        Rate {
            count,
            total,
            rate: ratio(count, total),
        }
    }
}

/// Metrics of one category (one-vs-rest over the predicted label).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CategoryMetrics {
    /// The category.
    pub category: Category,
    /// Its precision, recall and F1.
    #[serde(flatten)]
    pub prf: Prf,
}

/// Binary detection (any category vs benign).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Binary {
    /// Precision of "flagged".
    pub precision: f64,
    /// Share of gold positives flagged.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Share of gold benign flagged.
    pub fpr: f64,
    /// Flagged positives.
    pub tp: usize,
    /// Flagged benign.
    pub fp: usize,
    /// Missed positives.
    pub fn_: usize,
    /// Unflagged benign.
    pub tn: usize,
}

impl Binary {
    fn from_counts(tp: usize, fp: usize, fn_: usize, tn: usize) -> Self {
        let p = ratio(tp, tp + fp);
        let r = ratio(tp, tp + fn_);
        Binary {
            precision: p,
            recall: r,
            f1: f1(p, r),
            fpr: ratio(fp, fp + tn),
            tp,
            fp,
            fn_,
            tn,
        }
    }
}

/// Binary metrics at one score threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepPoint {
    /// A text is flagged when its highest category score is ≥ this.
    pub threshold: f32,
    /// Binary metrics at that threshold.
    #[serde(flatten)]
    pub binary: Binary,
}

/// Figures for the records carrying one tag.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TagMetrics {
    /// Records with the tag.
    pub total: usize,
    /// Gold positives among them, and how many were flagged.
    pub recall: Rate,
    /// Gold benign among them, and how many were flagged.
    pub fpr: Rate,
}

/// Everything [`Report::compute`] measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Number of records.
    pub n: usize,
    /// Per category, in [`Category::ALL`] order.
    pub per_category: Vec<CategoryMetrics>,
    /// Mean F1 over the three categories.
    pub macro_f1: f64,
    /// Share of records whose predicted label equals the gold label.
    pub accuracy: f64,
    /// Labels of the matrix rows and columns ([`LABELS`]).
    pub labels: [Label; 4],
    /// `confusion[gold][predicted]`, in [`LABELS`] order.
    pub confusion: [[usize; 4]; 4],
    /// Any category vs benign.
    pub binary: Binary,
    /// Gold-benign records tagged `hard` that were flagged.
    pub hard_negative_fpr: Rate,
    /// Gold-benign records tagged `background` that were flagged.
    pub background_fpr: Rate,
    /// Gold positives tagged `obfuscated` that were flagged.
    pub obfuscated_recall: Rate,
    /// Gold positives tagged `obfuscated` given their exact category.
    pub obfuscated_category_recall: Rate,
    /// Binary metrics at thresholds 0.1 … 0.9 on the top score.
    pub sweep: Vec<SweepPoint>,
    /// Per tag (every tag that occurs).
    pub by_tag: BTreeMap<String, TagMetrics>,
}

/// One record per example and its verdict, tagged as the `evaluate` binary tags them: the
/// example's tags plus `lang:<lang>`.
pub fn records(
    examples: &[crate::data::Example],
    verdicts: &[verbovka::Verdict],
) -> Vec<EvalRecord> {
    examples
        .iter()
        .zip(verdicts)
        .map(|(e, v)| {
            let mut tags = e.tags.clone();
            tags.push(format!("lang:{}", e.lang));
            EvalRecord {
                gold: e.label,
                predicted: v.label,
                scores: v.scores,
                tags,
            }
        })
        .collect()
}

impl Report {
    /// Computes the report.
    pub fn compute(records: &[EvalRecord]) -> Report {
        let mut confusion = [[0usize; 4]; 4];
        for r in records {
            confusion[label_index(r.gold)][label_index(r.predicted)] += 1;
        }
        let per_category: Vec<CategoryMetrics> = Category::ALL
            .into_iter()
            .map(|c| {
                let i = label_index(Label::from(c));
                let tp = confusion[i][i];
                let fp = (0..4).filter(|&g| g != i).map(|g| confusion[g][i]).sum();
                let fn_ = (0..4).filter(|&p| p != i).map(|p| confusion[i][p]).sum();
                CategoryMetrics {
                    category: c,
                    prf: Prf::from_counts(tp, fp, fn_),
                }
            })
            .collect();
        let macro_f1 = per_category.iter().map(|m| m.prf.f1).sum::<f64>() / 3.0;
        let correct: usize = (0..4).map(|i| confusion[i][i]).sum();

        let binary_at = |flag: &dyn Fn(&EvalRecord) -> bool| {
            let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
            for r in records {
                match (r.gold != Label::Benign, flag(r)) {
                    (true, true) => tp += 1,
                    (true, false) => fn_ += 1,
                    (false, true) => fp += 1,
                    (false, false) => tn += 1,
                }
            }
            Binary::from_counts(tp, fp, fn_, tn)
        };
        let binary = binary_at(&|r| r.predicted != Label::Benign);
        let sweep = SWEEP_THRESHOLDS
            .iter()
            .map(|&t| SweepPoint {
                threshold: t,
                binary: binary_at(&|r| r.scores.top().1 >= t),
            })
            .collect();

        let rate_over = |select: &dyn Fn(&EvalRecord) -> bool,
                         hit: &dyn Fn(&EvalRecord) -> bool| {
            let chosen: Vec<&EvalRecord> = records.iter().filter(|r| select(r)).collect();
            Rate::new(chosen.iter().filter(|r| hit(r)).count(), chosen.len())
        };
        let flagged = |r: &EvalRecord| r.predicted != Label::Benign;
        let hard_negative_fpr = rate_over(
            &|r| r.gold == Label::Benign && r.has_tag(TAG_HARD),
            &flagged,
        );
        let background_fpr = rate_over(
            &|r| r.gold == Label::Benign && r.has_tag(TAG_BACKGROUND),
            &flagged,
        );
        let obf_pos = |r: &EvalRecord| r.gold != Label::Benign && r.has_tag(TAG_OBFUSCATED);
        let obfuscated_recall = rate_over(&obf_pos, &flagged);
        let obfuscated_category_recall = rate_over(&obf_pos, &|r| r.predicted == r.gold);

        let mut by_tag: BTreeMap<String, TagMetrics> = BTreeMap::new();
        for r in records {
            for t in &r.tags {
                let m = by_tag.entry(t.clone()).or_default();
                m.total += 1;
                let f = usize::from(flagged(r));
                if r.gold == Label::Benign {
                    m.fpr.total += 1;
                    m.fpr.count += f;
                } else {
                    m.recall.total += 1;
                    m.recall.count += f;
                }
            }
        }
        for m in by_tag.values_mut() {
            m.recall = Rate::new(m.recall.count, m.recall.total);
            m.fpr = Rate::new(m.fpr.count, m.fpr.total);
        }

        Report {
            n: records.len(),
            per_category,
            macro_f1,
            accuracy: ratio(correct, records.len()),
            labels: LABELS,
            confusion,
            binary,
            hard_negative_fpr,
            background_fpr,
            obfuscated_recall,
            obfuscated_category_recall,
            sweep,
            by_tag,
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "records: {}   accuracy: {:.4}   macro-F1: {:.4}",
            self.n, self.accuracy, self.macro_f1
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<16} {:>9} {:>9} {:>9} {:>8}",
            "category", "precision", "recall", "F1", "support"
        )?;
        for m in &self.per_category {
            writeln!(
                f,
                "{:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                m.category.as_str(),
                m.prf.precision,
                m.prf.recall,
                m.prf.f1,
                m.prf.support
            )?;
        }
        let b = &self.binary;
        writeln!(
            f,
            "{:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}   FPR {} ({}/{})",
            "binary (any)",
            b.precision,
            b.recall,
            b.f1,
            b.tp + b.fn_,
            pct(b.fpr),
            b.fp,
            b.fp + b.tn
        )?;
        writeln!(f)?;
        writeln!(f, "confusion (rows gold, columns predicted):")?;
        write!(f, "{:<16}", "")?;
        for l in LABELS {
            write!(f, " {:>14}", l.as_str())?;
        }
        writeln!(f)?;
        for (g, row) in LABELS.iter().zip(&self.confusion) {
            write!(f, "{:<16}", g.as_str())?;
            for c in row {
                write!(f, " {c:>14}")?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        let rate = |f: &mut fmt::Formatter<'_>, name: &str, r: &Rate| {
            writeln!(
                f,
                "{:<34} {:>8} ({}/{})",
                name,
                pct(r.rate),
                r.count,
                r.total
            )
        };
        rate(f, "hard-negative FPR", &self.hard_negative_fpr)?;
        rate(f, "background FPR", &self.background_fpr)?;
        rate(f, "obfuscated recall (flagged)", &self.obfuscated_recall)?;
        rate(
            f,
            "obfuscated recall (right category)",
            &self.obfuscated_category_recall,
        )?;
        writeln!(f)?;
        writeln!(f, "threshold sweep (flag if top score ≥ t):")?;
        writeln!(
            f,
            "{:>6} {:>9} {:>9} {:>9} {:>9}",
            "t", "precision", "recall", "F1", "FPR"
        )?;
        for p in &self.sweep {
            writeln!(
                f,
                "{:>6.1} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                p.threshold,
                p.binary.precision,
                p.binary.recall,
                p.binary.f1,
                pct(p.binary.fpr)
            )?;
        }
        writeln!(f)?;
        writeln!(f, "by tag:")?;
        writeln!(f, "{:<32} {:>7} {:>18} {:>18}", "tag", "n", "recall", "FPR")?;
        for (t, m) in &self.by_tag {
            let show = |r: &Rate| {
                if r.total == 0 {
                    "-".to_string()
                } else {
                    format!("{} ({}/{})", pct(r.rate), r.count, r.total)
                }
            };
            writeln!(
                f,
                "{:<32} {:>7} {:>18} {:>18}",
                t,
                m.total,
                show(&m.recall),
                show(&m.fpr)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(gold: Label, pred: Label, top: [f32; 3], tags: &[&str]) -> EvalRecord {
        EvalRecord::new(gold, pred, Scores::from_array(top), tags)
    }

    /// Six records, counted by hand:
    /// gold S→S, S→L, R→R, L→B, B→B, B→S.
    fn six() -> Vec<EvalRecord> {
        use Label::*;
        vec![
            rec(Sabotage, Sabotage, [0.9, 0.1, 0.1], &["obfuscated"]),
            rec(Sabotage, Lure, [0.3, 0.1, 0.6], &["obfuscated"]),
            rec(Reconnaissance, Reconnaissance, [0.1, 0.8, 0.2], &[]),
            rec(Lure, Benign, [0.0, 0.0, 0.35], &["obfuscated"]),
            rec(Benign, Benign, [0.05, 0.0, 0.0], &["background"]),
            rec(Benign, Sabotage, [0.7, 0.0, 0.0], &["hard"]),
        ]
    }

    #[test]
    fn confusion_and_per_category() {
        let r = Report::compute(&six());
        assert_eq!(r.n, 6);
        // rows gold B S R L; columns predicted B S R L
        assert_eq!(
            r.confusion,
            [[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0]]
        );
        let s = r.per_category[0].prf; // sabotage: tp 1, fp 1 (benign→S), fn 1 (S→L)
        assert_eq!((s.tp, s.fp, s.fn_, s.support), (1, 1, 1, 2));
        assert!((s.precision - 0.5).abs() < 1e-12 && (s.recall - 0.5).abs() < 1e-12);
        assert!((s.f1 - 0.5).abs() < 1e-12);
        let rc = r.per_category[1].prf; // reconnaissance: perfect
        assert_eq!((rc.precision, rc.recall, rc.f1), (1.0, 1.0, 1.0));
        let l = r.per_category[2].prf; // lure: tp 0, fp 1 (S→L), fn 1 (L→B)
        assert_eq!((l.tp, l.fp, l.fn_), (0, 1, 1));
        assert_eq!(l.f1, 0.0);
        assert!((r.macro_f1 - 0.5).abs() < 1e-12); // (0.5 + 1 + 0) / 3
        assert!((r.accuracy - 0.5).abs() < 1e-12); // 3 of 6
    }

    #[test]
    fn binary_and_rates() {
        let r = Report::compute(&six());
        // positives: 4 (S, S, R, L), flagged 3; benign: 2, flagged 1.
        let b = r.binary;
        assert_eq!((b.tp, b.fp, b.fn_, b.tn), (3, 1, 1, 1));
        assert!((b.precision - 0.75).abs() < 1e-12);
        assert!((b.recall - 0.75).abs() < 1e-12);
        assert!((b.f1 - 0.75).abs() < 1e-12);
        assert!((b.fpr - 0.5).abs() < 1e-12);
        assert_eq!(
            r.hard_negative_fpr,
            Rate {
                count: 1,
                total: 1,
                rate: 1.0
            }
        );
        assert_eq!(
            r.background_fpr,
            Rate {
                count: 0,
                total: 1,
                rate: 0.0
            }
        );
        // obfuscated positives: S→S, S→L, L→B: 2 flagged, 1 right category.
        assert_eq!(
            (r.obfuscated_recall.count, r.obfuscated_recall.total),
            (2, 3)
        );
        assert_eq!(
            (
                r.obfuscated_category_recall.count,
                r.obfuscated_category_recall.total
            ),
            (1, 3)
        );
        let t = r.by_tag.get("obfuscated").copied().unwrap_or_default();
        assert_eq!(
            (t.total, t.recall.count, t.recall.total, t.fpr.total),
            (3, 2, 3, 0)
        );
    }

    #[test]
    fn sweep_uses_top_score() {
        let r = Report::compute(&six());
        assert_eq!(r.sweep.len(), 9);
        // top scores: positives 0.9, 0.6, 0.8, 0.35; benign 0.05, 0.7.
        let at = |t: f32| {
            r.sweep
                .iter()
                .find(|p| (p.threshold - t).abs() < 1e-6)
                .map(|p| p.binary)
        };
        let p3 = at(0.3).unwrap_or_default(); // all 4 positives, 1 benign (0.7)
        assert_eq!((p3.tp, p3.fp, p3.fn_, p3.tn), (4, 1, 0, 1));
        let p5 = at(0.5).unwrap_or_default(); // 0.9, 0.6, 0.8; benign 0.7
        assert_eq!((p5.tp, p5.fp), (3, 1));
        let p8 = at(0.8).unwrap_or_default(); // 0.9, 0.8 (≥); no benign
        assert_eq!((p8.tp, p8.fp, p8.fn_, p8.tn), (2, 0, 2, 2));
        assert_eq!(p8.precision, 1.0);
        assert!((p8.recall - 0.5).abs() < 1e-12);
    }

    #[test]
    fn empty_input_is_all_zero() {
        let r = Report::compute(&[]);
        assert_eq!(r.n, 0);
        assert_eq!(r.binary.f1, 0.0);
        assert_eq!(r.hard_negative_fpr.rate, 0.0);
        assert!(r.by_tag.is_empty());
        assert!(!r.to_string().is_empty());
    }

    #[test]
    fn report_serialises_and_displays() {
        let r = Report::compute(&six());
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["binary"]["tp"], 3);
        assert_eq!(json["per_category"][0]["category"], "sabotage");
        assert_eq!(json["per_category"][0]["precision"], 0.5);
        assert_eq!(json["confusion"][1][3], 1);
        assert_eq!(json["labels"][0], "benign");
        let text = r.to_string();
        assert!(text.contains("hard-negative FPR") && text.contains("threshold sweep"));
    }
}
