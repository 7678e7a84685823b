//! Fitting the fusion of a model with the rules on the dev split: the rule weight and the
//! per-category thresholds a detector uses with that model (`calibration.json`).
//!
//! The items come from the library's own pre-fusion step ([`verbovka::Detector::analyse_batch`]
//! on a detector with the model), so the fit sees exactly what scoring sees.

use serde::Serialize;
use verbovka::scoring::{Calibration, Fusion, OperatingPoint, RuleEvidence, Thresholds};
use verbovka::{Label, PerCategory, Scores};

/// One dev example for [`fit_calibration`].
#[derive(Debug, Clone, Copy)]
pub struct CalibrationItem {
    /// The gold label.
    pub gold: Label,
    /// The model's logits.
    pub logits: PerCategory<f32>,
    /// The rules' evidence.
    pub evidence: RuleEvidence,
    /// A hard negative (news, warning, job ad, ...): counted in the hard false-positive rate.
    pub hard: bool,
    /// A real Telegram channel post of the background (tag `src:ru_telegram_channels`): also
    /// counted in the background rate, and held to its own limit.
    pub telegram: bool,
}

/// What [`fit_calibration`] maximises and the false-positive rates it must respect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationTargets {
    /// The figure to maximise.
    pub objective: CalibrationObjective,
    /// Largest share of hard negatives that may be flagged.
    pub max_hard_fpr: f32,
    /// Largest share of other benign texts (background) that may be flagged.
    pub max_background_fpr: f32,
    /// Largest share of the background's real Telegram channel posts that may be flagged.
    pub max_telegram_fpr: f32,
}

/// The figure [`fit_calibration`] maximises within the false-positive targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationObjective {
    /// Macro F1 over the three categories: rewards naming the right category.
    MacroF1,
    /// Binary F1 (any category against benign) — whether a post is flagged at all, what a
    /// moderator acts on; macro F1 breaks ties.
    BinaryF1,
    /// The mean of binary and macro F1.
    Mean,
}

/// Quality of one calibration on the items it was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationFit {
    /// The calibration.
    pub calibration: Calibration,
    /// Macro F1 over the three categories (exact label).
    pub macro_f1: f32,
    /// Binary F1: any category against benign.
    pub binary_f1: f32,
    /// Share of positives flagged (any category).
    pub recall: f32,
    /// Share of hard negatives flagged.
    pub hard_fpr: f32,
    /// Share of other benign items flagged.
    pub background_fpr: f32,
    /// Share of the background's Telegram channel posts flagged.
    pub telegram_fpr: f32,
}

/// Chooses the rule weight `b` (from a small grid, `a = 1`, offsets 0: thresholds absorb
/// them) and per-category thresholds that maximise the targets' objective on `items` while keeping both
/// false-positive rates within `targets`; where no choice meets them, the one that comes
/// closest. Thresholds are searched coordinate-wise on a 0.01 grid from four starting points.
pub fn fit_calibration(items: &[CalibrationItem], targets: CalibrationTargets) -> CalibrationFit {
    let mut best: Option<(f32, CalibrationFit)> = None;
    for b in [0.25f32, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0] {
        let fusion = Fusion {
            model_scale: 1.0,
            rule_scale: b,
            offset: PerCategory::splat(0.0),
        };
        let scores: Vec<Scores> = items
            .iter()
            .map(|it| fusion.scores(it.logits, &it.evidence))
            .collect();
        // Coordinate ascent is greedy: start it from several points and keep the best.
        for start in [0.5f32, 0.3, 0.7, 0.9] {
            let mut th = [start; 3];
            let mut current = evaluate_fit(items, &scores, fusion, th);
            for _round in 0..4 {
                let before = th;
                for c in 0..3 {
                    for step in 1..100 {
                        let mut t = th;
                        t[c] = step as f32 / 100.0;
                        let fit = evaluate_fit(items, &scores, fusion, t);
                        if objective(&fit, targets) > objective(&current, targets) {
                            current = fit;
                            th = t;
                        }
                    }
                }
                if th == before {
                    break;
                }
            }
            let value = objective(&current, targets);
            if best.as_ref().is_none_or(|(v, _)| value > *v) {
                best = Some((value, current));
            }
        }
    }
    match best {
        Some((_, fit)) => fit,
        None => evaluate_fit(items, &[], Fusion::default(), [0.5; 3]),
    }
}

/// The objective's figure when the targets are met; below zero, growing with the violation,
/// otherwise.
fn objective(fit: &CalibrationFit, t: CalibrationTargets) -> f32 {
    let over = (fit.hard_fpr - t.max_hard_fpr).max(0.0)
        + (fit.background_fpr - t.max_background_fpr).max(0.0) * 10.0
        + (fit.telegram_fpr - t.max_telegram_fpr).max(0.0) * 10.0;
    if over > 0.0 {
        return -over;
    }
    match t.objective {
        CalibrationObjective::MacroF1 => fit.macro_f1,
        CalibrationObjective::BinaryF1 => fit.binary_f1 + 1e-3 * fit.macro_f1,
        CalibrationObjective::Mean => 0.5 * (fit.binary_f1 + fit.macro_f1),
    }
}

fn evaluate_fit(
    items: &[CalibrationItem],
    scores: &[Scores],
    fusion: Fusion,
    th: [f32; 3],
) -> CalibrationFit {
    let thresholds = Thresholds(PerCategory(th));
    let (mut tp, mut fp, mut fneg) = ([0usize; 3], [0usize; 3], [0usize; 3]);
    let (mut hard, mut hard_flagged, mut bg, mut bg_flagged) = (0usize, 0usize, 0usize, 0usize);
    let (mut tg, mut tg_flagged) = (0usize, 0usize);
    let (mut btp, mut bfp, mut bfn) = (0usize, 0usize, 0usize);
    for (it, s) in items.iter().zip(scores) {
        let pred = thresholds.label(*s);
        if let Some(g) = it.gold.category() {
            if pred.category() == Some(g) {
                tp[g.index()] += 1;
            } else {
                fneg[g.index()] += 1;
            }
        }
        if let Some(p) = pred.category() {
            if it.gold.category() != Some(p) {
                fp[p.index()] += 1;
            }
        }
        match (it.gold != Label::Benign, pred != Label::Benign) {
            (true, true) => btp += 1,
            (false, true) => bfp += 1,
            (true, false) => bfn += 1,
            (false, false) => {}
        }
        if it.gold == Label::Benign {
            let flagged = usize::from(pred != Label::Benign);
            if it.hard {
                hard += 1;
                hard_flagged += flagged;
            } else {
                bg += 1;
                bg_flagged += flagged;
            }
            if it.telegram {
                tg += 1;
                tg_flagged += flagged;
            }
        }
    }
    let f1 = |c: usize| {
        let denom = 2 * tp[c] + fp[c] + fneg[c];
        if denom == 0 {
            0.0
        } else {
            2.0 * tp[c] as f32 / denom as f32
        }
    };
    let rate = |k: usize, n: usize| if n == 0 { 0.0 } else { k as f32 / n as f32 };
    CalibrationFit {
        calibration: Calibration {
            fusion,
            thresholds,
            operating_points: Vec::new(),
        },
        macro_f1: (f1(0) + f1(1) + f1(2)) / 3.0,
        binary_f1: if btp == 0 {
            0.0
        } else {
            2.0 * btp as f32 / (2 * btp + bfp + bfn) as f32
        },
        recall: rate(btp, btp + bfn),
        hard_fpr: rate(hard_flagged, hard),
        background_fpr: rate(bg_flagged, bg),
        telegram_fpr: rate(tg_flagged, tg),
    }
}

/// The alarm-budget curve of a fit: its thresholds moved together in log-odds (`logit(t) + δ`
/// for δ from −3 to +8 in steps of ¼, the fitted point at δ = 0), each with the dev background
/// flagged per 10,000, dev recall and the hard-negative rate; in order of rising alarms, only
/// the points no other beats on both (and none past 1,000 alarms per 10,000).
pub fn operating_points(items: &[CalibrationItem], fit: &CalibrationFit) -> Vec<OperatingPoint> {
    let fusion = fit.calibration.fusion;
    let scores: Vec<Scores> = items
        .iter()
        .map(|it| fusion.scores(it.logits, &it.evidence))
        .collect();
    let logit = |t: f32| (t / (1.0 - t)).ln();
    let mut points: Vec<OperatingPoint> = Vec::new();
    for step in -12..=32 {
        let delta = step as f32 * 0.25;
        let th = if step == 0 {
            fit.calibration.thresholds.0
        } else {
            fit.calibration.thresholds.0.map(|t| {
                let t = t.clamp(1e-4, 1.0 - 1e-4);
                verbovka::scoring::sigmoid(logit(t) + delta).clamp(1e-4, 1.0)
            })
        };
        let f = evaluate_fit(items, &scores, fusion, th.0);
        points.push(OperatingPoint {
            thresholds: Thresholds(th),
            alarms_per_10k: f.background_fpr * 10_000.0,
            recall: f.recall,
            hard_fpr: f.hard_fpr,
        });
    }
    points.sort_by(|a, b| {
        a.alarms_per_10k
            .total_cmp(&b.alarms_per_10k)
            .then(a.recall.total_cmp(&b.recall))
    });
    // The front only: a point is kept when it recalls more than every point with fewer
    // alarms (the fitted point always), and at most 1,000 alarms per 10,000.
    let fitted = fit.calibration.thresholds;
    let mut front: Vec<OperatingPoint> = Vec::new();
    for p in points {
        if p.alarms_per_10k > 1_000.0 && p.thresholds != fitted {
            continue;
        }
        match front.last_mut() {
            Some(last) if p.recall <= last.recall && p.thresholds != fitted => {}
            Some(last) if p.alarms_per_10k == last.alarms_per_10k && last.thresholds != fitted => {
                *last = p
            }
            _ => front.push(p),
        }
    }
    front
}

/// The alarm-budget curve as an SVG plot (dev recall against dev background alarms per 10,000,
/// log scale), with the shipped point marked: for the model card.
pub fn alarm_curve_svg(points: &[OperatingPoint], shipped: &OperatingPoint) -> String {
    let (w, h, left, bottom, top, right) = (640.0f32, 400.0f32, 70.0f32, 50.0f32, 30.0f32, 20.0f32);
    let (lo, hi) = (0.1f32, 1000.0f32);
    let x = |a: f32| {
        let a = a.clamp(lo, hi);
        left + (a.log10() - lo.log10()) / (hi.log10() - lo.log10()) * (w - left - right)
    };
    let (rmin, rmax) = (0.5f32, 1.0f32);
    let y = |r: f32| top + (rmax - r.clamp(rmin, rmax)) / (rmax - rmin) * (h - top - bottom);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for a in [0.1f32, 1.0, 10.0, 100.0, 1000.0] {
        svg += &format!(
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
            x(a), top, h - bottom, h - bottom + 16.0, a
        );
    }
    for r in [0.5f32, 0.6, 0.7, 0.8, 0.9, 1.0] {
        svg += &format!(
            "<line x1=\"{0}\" y1=\"{1:.1}\" x2=\"{2}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4:.1}\" text-anchor=\"end\">{5:.0} %</text>\n",
            left, y(r), w - right, left - 6.0, y(r) + 4.0, r * 100.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.alarms_per_10k), y(p.recall)))
        .collect();
    svg += &format!(
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n",
        path.join(" ")
    );
    svg += &format!(
        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"#d62728\"/><text x=\"{:.1}\" y=\"{:.1}\">shipped</text>\n",
        x(shipped.alarms_per_10k),
        y(shipped.recall),
        x(shipped.alarms_per_10k) + 8.0,
        y(shipped.recall) + 16.0
    );
    svg += &format!(
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">dev real messages flagged per 10,000 (log scale; below 0.1 drawn at 0.1)</text>\n<text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">dev positives flagged</text>\n</svg>\n",
        (left + w - right) / 2.0, h - 12.0, (top + h - bottom) / 2.0, (top + h - bottom) / 2.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use verbovka::Category;

    /// Ten items per row: gold label, logits, hard negative.
    fn calibration_items() -> Vec<CalibrationItem> {
        let rows = [
            (Label::Benign, [-4.0, -4.0, -4.0], false),
            (Label::Benign, [-4.0, -4.0, 1.0], true),
            (Label::Sabotage, [3.0, -4.0, -4.0], false),
            // Reconnaissance posts whose lure score is higher than their reconnaissance score
            // and than the lure posts' own: naming them right costs the lure posts.
            (Label::Reconnaissance, [-4.0, 2.0, 2.5], false),
            (Label::Lure, [-4.0, -4.0, 2.2], false),
        ];
        rows.iter()
            .flat_map(|&(gold, logits, hard)| {
                std::iter::repeat_n(
                    CalibrationItem {
                        gold,
                        logits: PerCategory(logits),
                        evidence: RuleEvidence::default(),
                        hard,
                        telegram: false,
                    },
                    10,
                )
            })
            .collect()
    }

    #[test]
    fn calibration_objectives_trade_category_for_flagging() {
        let items = calibration_items();
        let targets = |objective| CalibrationTargets {
            objective,
            max_hard_fpr: 0.0,
            max_background_fpr: 0.0,
            max_telegram_fpr: 0.0,
        };
        let macro_fit = fit_calibration(&items, targets(CalibrationObjective::MacroF1));
        let binary_fit = fit_calibration(&items, targets(CalibrationObjective::BinaryF1));
        for fit in [&macro_fit, &binary_fit] {
            assert_eq!((fit.hard_fpr, fit.background_fpr), (0.0, 0.0), "{fit:?}");
        }
        // Macro F1: lure threshold above the reconnaissance posts' lure score (0.924), so
        // they are named right and the lure posts (0.900) are missed.
        assert!(
            macro_fit.calibration.thresholds.0[Category::Lure] > 0.924,
            "{macro_fit:?}"
        );
        assert!(
            (macro_fit.macro_f1 - 2.0 / 3.0).abs() < 1e-4,
            "{macro_fit:?}"
        );
        assert!((macro_fit.binary_f1 - 0.8).abs() < 1e-4, "{macro_fit:?}");
        // Binary F1: every positive flagged, reconnaissance named lure.
        assert!((binary_fit.binary_f1 - 1.0).abs() < 1e-6, "{binary_fit:?}");
        assert!(binary_fit.macro_f1 < macro_fit.macro_f1, "{binary_fit:?}");
    }
}
