//! A self-contained HTML report of a run, for the moderator who reviews the flags.
//!
//! [`write_html`] (or [`html`]) turns the scored messages ([`Entry`]: where a message is, its
//! text and its [`Verdict`]) and what the run read ([`RunSummary`]) into one HTML file that
//! needs no server, no network and nothing outside itself:
//!
//! * a summary: messages read, scored and skipped (with reasons), flagged per category, a
//!   per-day chart of the flags (inline SVG), the top authors and chats;
//! * each message with its chat, author, date and `t.me` link, the original text with every
//!   evidence span highlighted by the role of its rule (counter-evidence — news, warnings,
//!   reported speech, legitimate context and allow rules — in its own colour), the
//!   per-category scores, the model's own probability and each term's part of the decision;
//! * filters by label, minimum score and text, sorting, and pages of 50 messages (a little
//!   inline JavaScript; it works from `file://`). The view is kept in the address's fragment
//!   (`report.html#labels=lure,sabotage&min=0.90&q=usdt&sort=new&page=2`), so a moderator can
//!   bookmark or pass on a view.
//!
//! Messages are untrusted input. The static part of the page is HTML-escaped; the messages
//! travel as JSON inside `<script type="application/json">`, with `<`, `>`, `&`, U+2028 and
//! U+2029 written as `\u` escapes so no text can close the element, and are put on the page
//! with `textContent`, never parsed as HTML. Only `http(s)` links become `href`s. Pages are
//! drawn on demand, so a report of 10,000 flagged messages opens as fast as one of ten
//! (`tests/report.rs` measures it in headless Chromium).
//!
//! ```
//! use verbovka::report::{self, Entry, RunSummary};
//!
//! let detector = verbovka::Detector::rules_only()?;
//! let text = "Треба підпалити авто ЗСУ, 500$ одразу після відео, пиши @x <script>alert(1)</script>";
//! let mut entry = Entry::new(text, detector.score(text));
//! entry.chat = Some("Одеса Оголошення".into());
//! let mut run = RunSummary::new("posts.jsonl");
//! run.read = 1;
//! run.scored = 1;
//! let page = report::html(&run, &[entry]);
//! assert!(page.contains("\\u003cscript\\u003ealert(1)"));
//! assert!(!page.contains("<script>alert(1)"));
//! # Ok::<(), verbovka::Error>(())
//! ```
//!
//! The functions only render: no file, clock or environment is read. Give them the entries to
//! show (the examples `score_export` and `score_jsonl` with `--format html` pass the flagged
//! ones, at most 100,000, and say in [`RunSummary::omitted`] how many more there were).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use crate::rules::Role;
use crate::scoring::{Term, Thresholds};
use crate::telegram::{ReadStats, SkipReason};
use crate::{Category, Verdict};

/// One scored message as the report shows it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// The chat's name.
    pub chat: Option<String>,
    /// The sender's display name.
    pub author: Option<String>,
    /// The sender's id as the export writes it (`user123`).
    pub author_id: Option<String>,
    /// The message id within its chat.
    pub message_id: Option<i64>,
    /// When it was posted: ISO 8601 (`2024-05-01T08:25:00Z`); the per-day chart reads the day
    /// from it. Any other string is shown as it is and left out of the chart.
    pub date: Option<String>,
    /// A link to the message (`https://t.me/c/…/…`); shown as a link only when it is
    /// `http(s)`.
    pub link: Option<String>,
    /// The text as scored: the verdict's evidence spans are byte ranges into it.
    pub text: String,
    /// Whether the text was cut before scoring (the reader's or the tool's limit).
    pub text_truncated: bool,
    /// The verdict on `text`.
    pub verdict: Verdict,
}

impl Entry {
    /// An entry with only a text and its verdict; set the other fields as known.
    pub fn new(text: impl Into<String>, verdict: Verdict) -> Entry {
        Entry {
            chat: None,
            author: None,
            author_id: None,
            message_id: None,
            date: None,
            link: None,
            text: text.into(),
            text_truncated: false,
            verdict,
        }
    }

    /// The entry of an exported message and the verdict on its text.
    pub fn from_message(m: &crate::telegram::Message, verdict: Verdict) -> Entry {
        Entry {
            chat: m.chat.name.clone(),
            author: m.author.clone(),
            author_id: m.author_id.clone(),
            message_id: Some(m.id),
            date: m.date_iso(),
            link: m.link(),
            text: m.text.clone(),
            text_truncated: m.truncated,
            verdict,
        }
    }
}

/// What the run read and how: the report's header. Counts are the caller's (they cover every
/// message, the entries only those shown).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct RunSummary {
    /// The input's name (a path, `<stdin>`).
    pub source: String,
    /// What scored it (`rules + model`, `rules only`, plus user rule files).
    pub detector: String,
    /// The thresholds the labels came from.
    pub thresholds: Option<Thresholds>,
    /// Messages (or lines) read.
    pub read: u64,
    /// Messages scored.
    pub scored: u64,
    /// Messages not scored, per reason (`service`, `empty`, `bad line`, …); zeros are left out
    /// of the page.
    pub skipped: Vec<(String, u64)>,
    /// Lines to show under the counts: where damaged input was, texts cut, and the like.
    pub notes: Vec<String>,
    /// Entries that were not given to the report (the caller's limit), flagged or not.
    pub omitted: u64,
    /// When the run was made, as the caller wants it shown (the library reads no clock).
    pub generated: Option<String>,
}

impl RunSummary {
    /// A summary of a run over `source`, all counts zero.
    pub fn new(source: impl Into<String>) -> RunSummary {
        RunSummary {
            source: source.into(),
            ..RunSummary::default()
        }
    }

    /// A summary of a run over an export, with the export reader's counts (read, skipped
    /// with reasons, damaged messages with their places, texts cut); `scored` is what was
    /// yielded.
    pub fn from_read_stats(source: impl Into<String>, stats: &ReadStats) -> RunSummary {
        let mut run = RunSummary::new(source);
        run.read = stats.read();
        run.scored = stats.yielded;
        run.skipped = SkipReason::ALL
            .iter()
            .map(|r| (r.to_string(), stats.skipped(*r)))
            .collect();
        run.notes = stats.notes.iter().map(|n| n.to_string()).collect();
        if stats.damaged() > stats.notes.len() as u64 {
            run.notes.push(format!(
                "{} more damaged messages not listed",
                stats.damaged() - stats.notes.len() as u64
            ));
        }
        if stats.truncated > 0 {
            run.notes.push(format!(
                "{} texts longer than the reader's limit were cut there",
                stats.truncated
            ));
        }
        if stats.undated > 0 {
            run.notes
                .push(format!("{} messages have no usable date", stats.undated));
        }
        run
    }
}

/// Messages drawn per page.
const PAGE: usize = 50;
/// Rows of the top-authors and top-chats tables.
const TOP: usize = 10;
/// The chart's width and height in SVG units.
const CHART_W: f64 = 760.0;
const CHART_H: f64 = 120.0;
/// The most bars the chart draws per day; longer spans are drawn per month, then per year.
const MAX_BARS: i64 = 120;
/// The widest bar: one day alone is a bar, not a wall.
const MAX_BAR_W: f64 = 28.0;

/// The report as one HTML string (see [`write_html`]).
pub fn html(run: &RunSummary, entries: &[Entry]) -> String {
    let mut out = Vec::new();
    write_html(&mut out, run, entries).expect("writing to a Vec cannot fail");
    // Every piece written is a `&str` or JSON (UTF-8).
    String::from_utf8(out).expect("the report is UTF-8")
}

/// Writes the report of `entries` (in the order given; the page can re-sort) under the
/// header `run` to `out`. Writes as it goes: the entries are serialised one at a time.
pub fn write_html(out: &mut impl Write, run: &RunSummary, entries: &[Entry]) -> io::Result<()> {
    let flagged = entries.iter().filter(|e| e.verdict.is_flagged()).count();
    let mut head = String::with_capacity(16 * 1024);
    let title = format!("verbovka report — {}", run.source);
    let _ = write!(
        head,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    let _ = write!(
        head,
        "<header class=\"top\"><div class=\"brand\">verbovka<span>report</span></div>\
         <div class=\"src\" title=\"{0}\">{0}</div><div class=\"gen\">{1}</div></header><main>",
        esc(&run.source),
        esc(run.generated.as_deref().unwrap_or(""))
    );
    summary_html(&mut head, run, entries, flagged);
    head.push_str(LIST_HTML);
    out.write_all(head.as_bytes())?;

    out.write_all(b"<script type=\"application/json\" id=\"vb-data\">")?;
    write_data(out, run, entries)?;
    out.write_all(b"</script>\n<script>")?;
    out.write_all(SCRIPT.as_bytes())?;
    out.write_all(b"</script></main></body></html>\n")
}

/// The summary section: counts, flags per category, the chart, top authors and chats.
fn summary_html(h: &mut String, run: &RunSummary, entries: &[Entry], flagged: usize) {
    let mut per_cat = [0usize; 3];
    for e in entries {
        if let Some(c) = e.verdict.label.category() {
            per_cat[c.index()] += 1;
        }
    }
    h.push_str("<section class=\"summary\"><div class=\"cards\">");
    let skipped: u64 = run.skipped.iter().map(|(_, n)| n).sum();
    let reasons: Vec<String> = run
        .skipped
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{} {}", esc(r), thousands(*n)))
        .collect();
    let _ = write!(
        h,
        "<div class=\"card-n\"><b id=\"n-read\">{}</b><span>read</span></div>\
         <div class=\"card-n\"><b id=\"n-scored\">{}</b><span>scored</span></div>\
         <div class=\"card-n\"><b id=\"n-skipped\">{}</b><span>skipped{}</span></div>",
        thousands(run.read),
        thousands(run.scored),
        thousands(skipped),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join(", "))
        }
    );
    let _ = write!(
        h,
        "<div class=\"card-n flag\"><b id=\"n-flagged\">{}</b><span>flagged</span></div>",
        thousands(flagged as u64)
    );
    for c in Category::ALL {
        let _ = write!(
            h,
            "<div class=\"card-n lab-{0}\"><b>{1}</b><span>{0}{2}</span></div>",
            c,
            thousands(per_cat[c.index()] as u64),
            run.thresholds
                .map(|t| format!(" ≥ {:.2}", t.0[c]))
                .unwrap_or_default()
        );
    }
    h.push_str("</div>");
    let mut notes = Vec::new();
    if !run.detector.is_empty() {
        notes.push(format!("detector: {}", esc(&run.detector)));
    }
    if run.omitted > 0 {
        notes.push(format!(
            "<b>{} more messages were not included in this report</b> (the tool's limit); \
             the counts above cover every message, the chart, tables and list only those \
             included",
            thousands(run.omitted)
        ));
    }
    for n in &run.notes {
        notes.push(esc(n).into_owned());
    }
    if !notes.is_empty() {
        h.push_str("<ul class=\"notes\">");
        for n in notes {
            let _ = write!(h, "<li>{n}</li>");
        }
        h.push_str("</ul>");
    }
    h.push_str("<div class=\"panels\"><div class=\"panel wide\"><h2>Flagged per day</h2>");
    chart_svg(h, entries);
    h.push_str("</div>");
    let mut authors: HashMap<(&str, &str), [usize; 3]> = HashMap::new();
    let mut chats: HashMap<&str, [usize; 3]> = HashMap::new();
    for e in entries {
        let Some(c) = e.verdict.label.category() else {
            continue;
        };
        let key = (
            e.author.as_deref().unwrap_or("(no name)"),
            e.author_id.as_deref().unwrap_or(""),
        );
        authors.entry(key).or_default()[c.index()] += 1;
        chats
            .entry(e.chat.as_deref().unwrap_or("(unnamed chat)"))
            .or_default()[c.index()] += 1;
    }
    let mut authors: Vec<_> = authors.into_iter().collect();
    authors.sort_by(|a, b| {
        let (na, nb) = (a.1.iter().sum::<usize>(), b.1.iter().sum::<usize>());
        nb.cmp(&na).then(a.0.cmp(&b.0))
    });
    let mut chats: Vec<_> = chats.into_iter().collect();
    chats.sort_by(|a, b| {
        let (na, nb) = (a.1.iter().sum::<usize>(), b.1.iter().sum::<usize>());
        nb.cmp(&na).then(a.0.cmp(b.0))
    });
    h.push_str("<div class=\"panel\"><h2>Top flagged authors</h2>");
    top_table(
        h,
        authors.iter().take(TOP).map(|((name, id), n)| {
            let who = if id.is_empty() {
                esc(name).into_owned()
            } else {
                format!("{} <small>{}</small>", esc(name), esc(id))
            };
            (who, *n)
        }),
        authors.len(),
    );
    h.push_str("</div><div class=\"panel\"><h2>Top chats</h2>");
    top_table(
        h,
        chats
            .iter()
            .take(TOP)
            .map(|(name, n)| (esc(name).into_owned(), *n)),
        chats.len(),
    );
    h.push_str("</div></div></section>");
}

/// A table of names (already escaped HTML) with their flags per category.
fn top_table(h: &mut String, rows: impl Iterator<Item = (String, [usize; 3])>, total: usize) {
    let mut any = false;
    h.push_str("<table class=\"top\"><tbody>");
    for (name, n) in rows {
        any = true;
        let sum: usize = n.iter().sum();
        let _ = write!(h, "<tr><td class=\"nm\">{name}</td><td class=\"bars\">");
        for c in Category::ALL {
            if n[c.index()] > 0 {
                let _ = write!(
                    h,
                    "<span class=\"pill lab-{c}\" title=\"{c}\">{}</span>",
                    n[c.index()]
                );
            }
        }
        let _ = write!(h, "</td><td class=\"num\">{sum}</td></tr>");
    }
    if !any {
        h.push_str("<tr><td class=\"none\">nothing flagged</td></tr>");
    }
    h.push_str("</tbody></table>");
    if total > TOP {
        let _ = write!(h, "<p class=\"more\">{} more</p>", total - TOP);
    }
}

/// Days since 1970 of an ISO date, if it is one.
fn day_of(date: &str) -> Option<i64> {
    crate::telegram::date::parse_iso(date).map(|t| t.div_euclid(86_400))
}

/// How the chart groups its bars.
#[derive(Clone, Copy, PartialEq)]
enum Bucket {
    Day,
    Month,
    Year,
}

impl Bucket {
    /// The bucket number of a day (days since 1970).
    fn of(self, day: i64) -> i64 {
        let (y, m, _) = crate::telegram::date::civil_from_days(day);
        match self {
            Bucket::Day => day,
            Bucket::Month => y * 12 + (m - 1),
            Bucket::Year => y,
        }
    }

    fn label(self, b: i64) -> String {
        match self {
            Bucket::Day => {
                let (y, m, d) = crate::telegram::date::civil_from_days(b);
                format!("{y:04}-{m:02}-{d:02}")
            }
            Bucket::Month => format!("{:04}-{:02}", b.div_euclid(12), b.rem_euclid(12) + 1),
            Bucket::Year => format!("{b:04}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Month => "month",
            Bucket::Year => "year",
        }
    }
}

/// A stacked bar per day (or month, or year) of the flagged entries, as inline SVG.
fn chart_svg(h: &mut String, entries: &[Entry]) {
    let days: Vec<(i64, Category)> = entries
        .iter()
        .filter_map(|e| Some((day_of(e.date.as_deref()?)?, e.verdict.label.category()?)))
        .collect();
    let undated = entries.iter().filter(|e| e.verdict.is_flagged()).count() - days.len();
    let (Some(first), Some(last)) = (
        days.iter().map(|d| d.0).min(),
        days.iter().map(|d| d.0).max(),
    ) else {
        h.push_str("<p class=\"none\">no dated flagged messages</p>");
        return;
    };
    let bucket = [Bucket::Day, Bucket::Month, Bucket::Year]
        .into_iter()
        .find(|b| b.of(last) - b.of(first) < MAX_BARS)
        .unwrap_or(Bucket::Year);
    let (b0, b1) = (bucket.of(first), bucket.of(last));
    let mut counts: BTreeMap<i64, [usize; 3]> = BTreeMap::new();
    for (d, c) in &days {
        counts.entry(bucket.of(*d)).or_default()[c.index()] += 1;
    }
    let n = (b1 - b0 + 1).max(1);
    let max = counts
        .values()
        .map(|c| c.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let slot = CHART_W / n as f64;
    let bar = (slot * 0.8).clamp(0.5, MAX_BAR_W);
    let _ = write!(
        h,
        "<svg class=\"chart\" viewBox=\"0 0 {CHART_W} {}\" \
         role=\"img\" aria-label=\"flagged messages per {}\">",
        CHART_H + 18.0,
        bucket.name()
    );
    for i in (1..=4).map(|q| q as f64 / 4.0) {
        let y = CHART_H - CHART_H * i;
        let _ = write!(
            h,
            "<line class=\"grid\" x1=\"0\" x2=\"{CHART_W}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>"
        );
    }
    for (b, c) in &counts {
        let x = (b - b0) as f64 * slot + (slot - bar) / 2.0;
        let mut y = CHART_H;
        let total: usize = c.iter().sum();
        let tip: Vec<String> = Category::ALL
            .iter()
            .filter(|k| c[k.index()] > 0)
            .map(|k| format!("{k} {}", c[k.index()]))
            .collect();
        let _ = write!(
            h,
            "<g><title>{}: {total} flagged ({})</title>",
            bucket.label(*b),
            tip.join(", ")
        );
        for k in Category::ALL {
            let v = c[k.index()];
            if v == 0 {
                continue;
            }
            let hgt = CHART_H * v as f64 / max as f64;
            y -= hgt;
            let _ = write!(
                h,
                "<rect class=\"lab-{k}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bar:.2}\" height=\"{hgt:.2}\"/>"
            );
        }
        h.push_str("</g>");
    }
    let y = CHART_H + 14.0;
    if b0 == b1 {
        let _ = write!(
            h,
            "<text x=\"{}\" y=\"{y}\" class=\"ax mid\">{}</text>",
            CHART_W / 2.0,
            bucket.label(b0)
        );
    } else {
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{y}\" class=\"ax\">{}</text>\
             <text x=\"{CHART_W}\" y=\"{y}\" class=\"ax end\">{}</text>",
            bucket.label(b0),
            bucket.label(b1)
        );
    }
    let _ = write!(h, "<text x=\"2\" y=\"10\" class=\"ax\">{max}</text></svg>");
    let _ = write!(
        h,
        "<p class=\"legend-s\">per {}; max {max} a {}{}</p>",
        bucket.name(),
        bucket.name(),
        if undated > 0 {
            format!("; {undated} flagged without a date")
        } else {
            String::new()
        }
    );
}

/// The page's data, as the script reads it.
#[derive(Serialize)]
struct Data<'a> {
    cats: [&'static str; 3],
    roles: Vec<&'static str>,
    negative: Vec<bool>,
    terms: Vec<&'static str>,
    thresholds: Option<[f32; 3]>,
    page: usize,
    rules: Vec<RuleInfo<'a>>,
    items: Items<'a>,
}

/// A rule that fired somewhere in the report: the evidence points at it by index.
#[derive(Serialize)]
struct RuleInfo<'a> {
    id: &'a str,
    role: usize,
    scope: String,
    explain: &'a str,
}

/// The entries, serialised one at a time (no copy of the whole list is made).
struct Items<'a> {
    entries: &'a [Entry],
    /// Rule id → its index in [`Data::rules`] and the explanation the table holds.
    rule_index: HashMap<&'a str, (usize, &'a str)>,
}

impl Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.entries.len()))?;
        for (i, e) in self.entries.iter().enumerate() {
            seq.serialize_element(&item(i, e, &self.rule_index))?;
        }
        seq.end()
    }
}

/// One message as the script reads it (short keys: a report holds thousands).
#[derive(Serialize)]
struct Item<'a> {
    /// Position in the caller's order.
    n: usize,
    label: &'static str,
    risk: f32,
    /// Fused scores per category.
    s: [f32; 3],
    /// The model's own probabilities, if it took part.
    m: Option<[f32; 3]>,
    /// Per category: `[term index, logit]` of each term.
    k: [Vec<(usize, f32)>; 3],
    chat: Option<&'a str>,
    author: Option<&'a str>,
    aid: Option<&'a str>,
    id: Option<i64>,
    date: Option<&'a str>,
    link: Option<&'a str>,
    /// The text in runs: a plain string, or `[text, [evidence index, …]]` (the first index
    /// decides the colour).
    seg: Vec<Seg<'a>>,
    /// Evidence: `[rule index, weight, matched text, explanation if it differs from the rule's]`.
    ev: Vec<Ev<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cut: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    trunc: bool,
    #[serde(skip_serializing_if = "is_zero")]
    disc: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    merr: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Seg<'a> {
    Plain(&'a str),
    Marked(&'a str, Vec<usize>),
}

#[derive(Serialize)]
#[serde(untagged)]
enum Ev<'a> {
    Plain(usize, f32, &'a str),
    Explained(usize, f32, &'a str, &'a str),
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

/// Three decimals are what the page shows; fewer digits keep a large report small.
fn r3(x: f32) -> f32 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn item<'a>(n: usize, e: &'a Entry, rule_index: &HashMap<&'a str, (usize, &'a str)>) -> Item<'a> {
    let v = &e.verdict;
    let mut k: [Vec<(usize, f32)>; 3] = Default::default();
    for c in &v.contributions {
        k[c.category.index()].push((c.term.index(), r3(c.logit)));
    }
    let ev = v
        .evidence
        .iter()
        .map(|ev| {
            let (r, explain) = rule_index[ev.rule.as_str()];
            if ev.explain == explain {
                Ev::Plain(r, r3(ev.weight), &ev.text)
            } else {
                Ev::Explained(r, r3(ev.weight), &ev.text, &ev.explain)
            }
        })
        .collect();
    Item {
        n,
        label: v.label.as_str(),
        risk: r3(v.risk),
        s: v.scores.to_array().map(r3),
        m: v.model.map(|m| m.to_array().map(r3)),
        k,
        chat: e.chat.as_deref(),
        author: e.author.as_deref(),
        aid: e.author_id.as_deref(),
        id: e.message_id,
        date: e.date.as_deref(),
        link: e.link.as_deref().filter(|l| is_web_link(l)),
        seg: segments(&e.text, v),
        ev,
        cut: e.text_truncated,
        trunc: v.truncated,
        disc: r3(v.model_discount),
        merr: v.model_error.as_deref(),
    }
}

/// The note the detector appends to the explanation of a quoted match.
const QUOTED_NOTE: &str = " (quoted in a news or warning context: counts less)";

fn base_explain(explain: &str) -> &str {
    explain.strip_suffix(QUOTED_NOTE).unwrap_or(explain)
}

/// Whether `link` may be an `href`: `http` or `https` only (never `javascript:`).
fn is_web_link(link: &str) -> bool {
    let l = link.trim_start();
    let lower = l.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Cuts `text` into runs at every evidence boundary; a run covered by evidence lists it, the
/// most specific (shortest span, then the heaviest) first. Spans that do not fit the text
/// (a verdict on another text) are left out.
fn segments<'a>(text: &'a str, v: &Verdict) -> Vec<Seg<'a>> {
    let spans: Vec<(usize, usize, usize)> = v
        .evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.span.is_empty() && e.span.slice(text).is_some())
        .map(|(i, e)| (e.span.start, e.span.end, i))
        .collect();
    let mut cuts: Vec<usize> = spans.iter().flat_map(|s| [s.0, s.1]).collect();
    cuts.push(0);
    cuts.push(text.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len());
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let run = &text[a..b];
        let mut cover: Vec<usize> = spans
            .iter()
            .filter(|s| s.0 <= a && b <= s.1)
            .map(|s| s.2)
            .collect();
        if cover.is_empty() {
            out.push(Seg::Plain(run));
            continue;
        }
        cover.sort_by(|&x, &y| {
            let (ex, ey) = (&v.evidence[x], &v.evidence[y]);
            ex.span
                .len()
                .cmp(&ey.span.len())
                .then(ey.weight.abs().total_cmp(&ex.weight.abs()))
                .then(x.cmp(&y))
        });
        out.push(Seg::Marked(run, cover));
    }
    out
}

fn write_data(out: &mut impl Write, run: &RunSummary, entries: &[Entry]) -> io::Result<()> {
    let mut rules = Vec::new();
    let mut rule_index = HashMap::new();
    for e in entries {
        for ev in &e.verdict.evidence {
            if !rule_index.contains_key(ev.rule.as_str()) {
                let explain = base_explain(&ev.explain);
                rule_index.insert(ev.rule.as_str(), (rules.len(), explain));
                rules.push(RuleInfo {
                    id: &ev.rule,
                    role: ev.role as usize,
                    scope: ev.category.to_string(),
                    explain,
                });
            }
        }
    }
    let data = Data {
        cats: Category::ALL.map(Category::as_str),
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        negative: Role::ALL.iter().map(|r| r.is_negative()).collect(),
        terms: Term::ALL.iter().map(|t| t.as_str()).collect(),
        thresholds: run.thresholds.map(|t| t.0 .0.map(r3)),
        page: PAGE,
        rules,
        items: Items {
            entries,
            rule_index,
        },
    };
    let mut ser = serde_json::Serializer::with_formatter(out, ScriptSafe);
    data.serialize(&mut ser).map_err(io::Error::other)
}

/// JSON that can sit inside `<script>`: `<`, `>` and `&` escaped (nothing can close the
/// element or open a comment), U+2028 and U+2029 too (line terminators to older parsers).
/// They only ever occur inside strings, which is where the formatter sees them.
struct ScriptSafe;

impl serde_json::ser::Formatter for ScriptSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut last = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[last..i])?;
            w.write_all(esc.as_bytes())?;
            last = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[last..])
    }
}

/// `12,345`: counts a moderator reads at a glance.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text for HTML content and quoted attribute values.
fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The list's frame: legend, filters, pager and the empty list the script fills.
const LIST_HTML: &str = r#"<section class="list"><div class="bar" id="vb-bar">
<div class="filters">
<span class="lbl">show</span>
<label class="tog lab-sabotage"><input type="checkbox" data-label="sabotage" checked> sabotage <i data-count="sabotage"></i></label>
<label class="tog lab-reconnaissance"><input type="checkbox" data-label="reconnaissance" checked> reconnaissance <i data-count="reconnaissance"></i></label>
<label class="tog lab-lure"><input type="checkbox" data-label="lure" checked> lure <i data-count="lure"></i></label>
<label class="tog lab-benign"><input type="checkbox" data-label="benign" checked> benign <i data-count="benign"></i></label>
<label class="min">score ≥ <input type="range" id="vb-min" min="0" max="1" step="0.01" value="0"><output id="vb-min-v">0.00</output></label>
<input type="search" id="vb-q" placeholder="search text, author, chat" aria-label="search">
<select id="vb-sort" aria-label="sort"><option value="risk">highest score first</option><option value="new">newest first</option><option value="old">oldest first</option><option value="order">export order</option></select>
</div>
<div class="pager"><button type="button" id="vb-prev" aria-label="previous page">‹</button><span id="vb-pos"></span><button type="button" id="vb-next" aria-label="next page">›</button></div>
</div>
<div class="legend"><span class="lbl">evidence</span><mark class="hl r-action">action</mark><mark class="hl r-target">target</mark><mark class="hl r-hook">hook</mark><mark class="hl r-payment">payment</mark><mark class="hl r-contact">contact</mark><mark class="hl r-proof">proof</mark><mark class="hl r-secrecy">secrecy</mark><mark class="hl r-urgency">urgency</mark><mark class="hl neg">counter: news, warning, reported, legit, allow</mark></div>
<div id="vb-list" aria-live="polite"><noscript><p class="none">The message list needs JavaScript; the summary above does not.</p></noscript></div>
<div class="pager foot"><button type="button" id="vb-prev2" aria-label="previous page">‹ previous</button><span id="vb-pos2"></span><button type="button" id="vb-next2" aria-label="next page">next ›</button></div>
<p id="vb-ready" hidden></p>
</section>"#;

const CSS: &str = r#"
:root{--bg:#f4f5f7;--fg:#1d2330;--mut:#5f6b7a;--line:#dde1e6;--card:#fff;
--sab:#c62828;--rec:#e66a00;--lur:#7b1fa2;--ben:#607080;}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
header.top{display:flex;align-items:center;gap:16px;background:#1b2433;color:#e8edf3;padding:10px 20px;position:sticky;top:0;z-index:3}
.brand{font-weight:700;font-size:17px;letter-spacing:.3px}.brand span{font-weight:400;opacity:.65;margin-left:6px}
.src{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;opacity:.85;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;flex:1}
.gen{font-size:12px;opacity:.7}
main{max-width:1280px;margin:0 auto;padding:16px 20px 40px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.6px;color:var(--mut);margin:0 0 8px;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card-n{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:110px}
.card-n b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.card-n span{color:var(--mut);font-size:12.5px}
.card-n.flag b{color:#b3261e}
.card-n.lab-sabotage{border-top:3px solid var(--sab)}.card-n.lab-reconnaissance{border-top:3px solid var(--rec)}.card-n.lab-lure{border-top:3px solid var(--lur)}
ul.notes{margin:10px 0 0;padding-left:18px;color:var(--mut);font-size:12.5px}
.panels{display:grid;grid-template-columns:2fr 1fr 1fr;gap:12px;margin-top:12px}
@media (max-width:1000px){.panels{grid-template-columns:1fr}}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
svg.chart{width:100%;height:auto;max-height:170px;display:block}
svg .grid{stroke:#eceff3;stroke-width:1}
svg rect.lab-sabotage{fill:var(--sab)}svg rect.lab-reconnaissance{fill:var(--rec)}svg rect.lab-lure{fill:var(--lur)}
svg .ax{font-size:10px;fill:var(--mut)}svg .ax.end{text-anchor:end}svg .ax.mid{text-anchor:middle}
.legend-s,.more,.none{color:var(--mut);font-size:12px;margin:4px 0 0}
table.top{width:100%;border-collapse:collapse;font-size:13px}
table.top td{padding:3px 4px;border-bottom:1px solid #f0f2f5;vertical-align:top}
table.top td.nm{max-width:0;width:60%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.top td.nm small{color:var(--mut)}
table.top td.num{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
td.bars{white-space:nowrap;text-align:right}
.pill{display:inline-block;min-width:20px;text-align:center;border-radius:9px;color:#fff;font-size:11px;padding:0 5px;margin-left:2px}
.pill.lab-sabotage{background:var(--sab)}.pill.lab-reconnaissance{background:var(--rec)}.pill.lab-lure{background:var(--lur)}
section.list{margin-top:18px}
.bar{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:8px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px;position:sticky;top:44px;z-index:2}
.filters{display:flex;flex-wrap:wrap;align-items:center;gap:8px}
.lbl{color:var(--mut);font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.tog{border:1px solid var(--line);border-radius:14px;padding:2px 10px 2px 6px;cursor:pointer;user-select:none;font-size:13px}
.tog i{font-style:normal;color:var(--mut);font-size:12px}
.tog.lab-sabotage{border-color:var(--sab)}.tog.lab-reconnaissance{border-color:var(--rec)}.tog.lab-lure{border-color:var(--lur)}
.min{font-size:13px;display:flex;align-items:center;gap:4px}.min output{font-variant-numeric:tabular-nums;width:32px}
#vb-q{border:1px solid var(--line);border-radius:6px;padding:4px 8px;width:210px;font:inherit}
#vb-min{width:110px}
#vb-sort{border:1px solid var(--line);border-radius:6px;padding:3px 6px;font:inherit;background:#fff}
.pager{display:flex;align-items:center;gap:8px;font-size:13px;font-variant-numeric:tabular-nums}
.pager button{border:1px solid var(--line);background:#fff;border-radius:6px;padding:3px 10px;cursor:pointer;font:inherit}
.pager button:disabled{opacity:.4;cursor:default}
.pager.foot{justify-content:center;margin-top:14px}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:10px 2px}
.msg{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--ben);border-radius:8px;margin:10px 0;overflow:hidden}
.msg.lab-sabotage{border-left-color:var(--sab)}.msg.lab-reconnaissance{border-left-color:var(--rec)}.msg.lab-lure{border-left-color:var(--lur)}
.msg-h{display:flex;flex-wrap:wrap;align-items:center;gap:6px 12px;padding:8px 14px;border-bottom:1px solid #eef0f3;font-size:13px;color:var(--mut)}
.msg-h .who{color:var(--fg);font-weight:600}
.msg-h .chat{color:var(--fg)}
.msg-h a{color:#1a5fb4;text-decoration:none}.msg-h a:hover{text-decoration:underline}
.chip{color:#fff;border-radius:4px;padding:1px 8px;font-weight:600;font-size:12.5px;background:var(--ben)}
.chip.lab-sabotage{background:var(--sab)}.chip.lab-reconnaissance{background:var(--rec)}.chip.lab-lure{background:var(--lur)}
.msg-b{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:0}
@media (max-width:900px){.msg-b{grid-template-columns:1fr}}
.text{padding:12px 14px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:14.5px;line-height:1.6}
.side{padding:10px 14px;border-left:1px solid #eef0f3;background:#fafbfc;font-size:12.5px}
table.sc{width:100%;border-collapse:collapse}
table.sc td{padding:2px 2px;white-space:nowrap}
table.sc td.v{text-align:right;font-variant-numeric:tabular-nums;width:38px}
table.sc tr.top td{font-weight:700}
.track{position:relative;height:8px;background:#e9ecf0;border-radius:4px;width:100%;min-width:80px}
.fill{position:absolute;left:0;top:0;bottom:0;border-radius:4px;background:var(--ben)}
.fill.lab-sabotage{background:var(--sab)}.fill.lab-reconnaissance{background:var(--rec)}.fill.lab-lure{background:var(--lur)}
.thr{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1d2330}
.why{margin:8px 0 0;color:var(--fg)}
.why b{font-weight:600;display:block}
.warn{color:#8a4b00;margin:6px 0 0}
details.ev{border-top:1px solid #eef0f3}
details.ev summary{cursor:pointer;padding:6px 14px;color:var(--mut);font-size:12.5px}
table.evt{width:100%;border-collapse:collapse;font-size:12.5px;margin:0 0 8px}
table.evt td{padding:3px 14px 3px 0;vertical-align:top}
table.evt td:first-child{padding-left:14px;white-space:nowrap}
table.evt td.w{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.evt td.id{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}
table.evt tr.neg td.w{color:#00695c}
mark.hl{border-radius:3px;padding:0 1px;color:inherit;border-bottom:2px solid}
mark.r-action{background:#fde0dc;border-color:#d93025}
mark.r-target{background:#feefc3;border-color:#e37400}
mark.r-hook{background:#f3e5f5;border-color:#8e24aa}
mark.r-payment{background:#e6f4ea;border-color:#188038}
mark.r-contact{background:#e3edfd;border-color:#1a73e8}
mark.r-proof{background:#e0f7fa;border-color:#00838f}
mark.r-secrecy{background:#e8eaed;border-color:#3c4043}
mark.r-urgency{background:#fce4ec;border-color:#c2185b}
mark.neg{background:#e0f2f1;border-bottom:2px dashed #00796b}
.legend mark.hl{font-size:12px;padding:0 6px}
.empty{padding:30px;text-align:center;color:var(--mut);background:var(--card);border:1px dashed var(--line);border-radius:8px;margin-top:10px}
"#;

/// The page's script: reads the JSON once, filters and sorts in memory, draws one page with
/// `textContent` (never `innerHTML`).
const SCRIPT: &str = r#"(function(){'use strict';
var t0=performance.now();
var D=JSON.parse(document.getElementById('vb-data').textContent);
var items=D.items,rules=D.rules,CATS=D.cats,PAGE=D.page||50;
var st={labels:{sabotage:true,reconnaissance:true,lure:true,benign:true},min:0,q:'',sort:'risk',page:0};
var view=[];
function $(id){return document.getElementById(id);}
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=String(text);return e;}
function th(n){return String(n).replace(/\B(?=(\d{3})+(?!\d))/g,',');}
function f2(x){return x==null?'–':Number(x).toFixed(2);}
function sg(x){return (x<0?'−':'+')+Math.abs(x).toFixed(2);}
function plain(it){if(it._p==null){var s='';for(var i=0;i<it.seg.length;i++){var g=it.seg[i];s+=typeof g==='string'?g:g[0];}it._p=s;}return it._p;}
function hay(it){if(it._h==null)it._h=(plain(it)+'\n'+(it.chat||'')+'\n'+(it.author||'')+'\n'+(it.aid||'')).toLowerCase();return it._h;}
function when(d){if(!d)return '';var m=/^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?Z$/.exec(d);return m?m[1]+' '+m[2]+' UTC':d;}
var counts={};items.forEach(function(it){counts[it.label]=(counts[it.label]||0)+1;});
document.querySelectorAll('[data-count]').forEach(function(e){var n=counts[e.getAttribute('data-count')]||0;e.textContent=th(n);if(!n)e.parentNode.hidden=true;});
function refilter(){var q=st.q.toLowerCase();view=[];
for(var i=0;i<items.length;i++){var it=items[i];if(!st.labels[it.label])continue;if(it.risk<st.min)continue;if(q&&hay(it).indexOf(q)<0)continue;view.push(it);}
var s=st.sort;view.sort(function(a,b){
if(s==='risk')return (b.risk-a.risk)||(a.n-b.n);
if(s==='new'||s==='old'){var x=a.date||'',y=b.date||'';if(x===y)return a.n-b.n;if(!x)return 1;if(!y)return -1;return (x<y?-1:1)*(s==='new'?-1:1);}
return a.n-b.n;});
st.page=0;draw();}
function ruleOf(e){return rules[e[0]];}
function isNeg(e){return D.negative[ruleOf(e).role];}
function mark(it,g){var ids=g[1],e0=it.ev[ids[0]],r0=ruleOf(e0);
var m=el('mark','hl '+(isNeg(e0)?'neg r-'+D.roles[r0.role]:'r-'+D.roles[r0.role]),g[0]);
m.title=ids.map(function(i){var e=it.ev[i],r=ruleOf(e);return r.id+' ('+D.roles[r.role]+' '+sg(e[1])+'): '+(e[3]||r.explain);}).join('\n');
m.setAttribute('data-rule',r0.id);return m;}
function scores(it){var t=el('table','sc'),top=it.label==='benign'?null:it.label;
var hd=el('tr');hd.appendChild(el('td',null,''));hd.appendChild(el('td',null,'score'));hd.appendChild(el('td','v',''));hd.appendChild(el('td','v',it.m?'model':''));t.appendChild(hd);
for(var c=0;c<3;c++){var tr=el('tr',CATS[c]===top?'top':null);tr.appendChild(el('td',null,CATS[c]));
var td=el('td'),tk=el('div','track'),fl=el('div','fill lab-'+CATS[c]);fl.style.width=(100*it.s[c]).toFixed(1)+'%';tk.appendChild(fl);
if(D.thresholds){var th=el('div','thr');th.style.left=(100*D.thresholds[c]).toFixed(1)+'%';th.title='threshold '+f2(D.thresholds[c]);tk.appendChild(th);}
td.appendChild(tk);tr.appendChild(td);tr.appendChild(el('td','v',f2(it.s[c])));tr.appendChild(el('td','v',it.m?f2(it.m[c]):''));t.appendChild(tr);}
return t;}
function why(it){var c=CATS.indexOf(it.label);if(c<0){c=0;for(var i=1;i<3;i++)if(it.s[i]>it.s[c])c=i;}
var ks=it.k[c]||[],p=el('p','why'),tot=0,mod=0;
p.appendChild(el('b',null,'why '+CATS[c]));
p.appendChild(document.createTextNode(ks.map(function(k){return D.terms[k[0]]+' '+sg(k[1]);}).join(' · ')||'no term'));
ks.forEach(function(k){if(D.terms[k[0]]!=='offset'){tot+=Math.abs(k[1]);if(D.terms[k[0]]==='model')mod+=Math.abs(k[1]);}});
if(it.m&&tot>0){p.appendChild(el('br'));p.appendChild(document.createTextNode("model's share "+Math.round(100*mod/tot)+' %'));}
return p;}
function evTable(it){var d=el('details','ev'),s=el('summary',null,'evidence: '+it.ev.length+' rule'+(it.ev.length===1?'':'s'));d.appendChild(s);
var t=el('table','evt');it.ev.forEach(function(e){var r=ruleOf(e),tr=el('tr',isNeg(e)?'neg':null);
var sw=el('td');sw.appendChild(el('mark','hl '+(isNeg(e)?'neg ':'')+'r-'+D.roles[r.role],D.roles[r.role]));tr.appendChild(sw);
tr.appendChild(el('td','w',sg(e[1])));tr.appendChild(el('td','id',r.id));tr.appendChild(el('td',null,'«'+e[2]+'» '+(e[3]||r.explain)));t.appendChild(tr);});
d.appendChild(t);return d;}
function card(it){var a=el('article','msg lab-'+it.label),h=el('div','msg-h');
h.appendChild(el('span','chip lab-'+it.label,it.label+' '+f2(it.risk)));
h.appendChild(el('span','chat',it.chat||'(chat not named)'));
var w=el('span','who',it.author||'(no name)');h.appendChild(w);if(it.aid)h.appendChild(el('span',null,it.aid));
if(it.id!=null)h.appendChild(el('span',null,'#'+it.id));if(it.date)h.appendChild(el('span',null,when(it.date)));
if(it.link&&/^https?:\/\//i.test(it.link)){var l=el('a',null,'open in Telegram ↗');l.href=it.link;l.target='_blank';l.rel='noopener noreferrer';h.appendChild(l);}
a.appendChild(h);var b=el('div','msg-b'),tx=el('div','text');
it.seg.forEach(function(g){tx.appendChild(typeof g==='string'?document.createTextNode(g):mark(it,g));});
b.appendChild(tx);var sd=el('div','side');sd.appendChild(scores(it));sd.appendChild(why(it));
if(it.cut)sd.appendChild(el('p','warn','text cut at the reader\'s limit'));
if(it.trunc)sd.appendChild(el('p','warn','the model read only the beginning of this long text'));
if(it.disc)sd.appendChild(el('p','warn','model discounted by '+f2(it.disc)+' (short text)'));
if(it.merr)sd.appendChild(el('p','warn','model not used: '+it.merr));
b.appendChild(sd);a.appendChild(b);if(it.ev.length)a.appendChild(evTable(it));return a;}
function draw(){var list=$('vb-list'),pages=Math.max(1,Math.ceil(view.length/PAGE));if(st.page>=pages)st.page=pages-1;
list.textContent='';var from=st.page*PAGE,to=Math.min(view.length,from+PAGE);
if(!view.length){list.appendChild(el('div','empty',items.length?'no message matches the filters':'nothing flagged: no message to review'));}
var frag=document.createDocumentFragment();for(var i=from;i<to;i++)frag.appendChild(card(view[i]));list.appendChild(frag);
var pos=view.length?(from+1)+'–'+to+' of '+th(view.length)+(view.length<items.length?' (of '+th(items.length)+')':''):'0 of '+th(items.length);
$('vb-pos').textContent=pos;$('vb-pos2').textContent='page '+(st.page+1)+' of '+pages;
['vb-prev','vb-prev2'].forEach(function(id){$(id).disabled=st.page===0;});['vb-next','vb-next2'].forEach(function(id){$(id).disabled=st.page>=pages-1;});writeHash();}
function readHash(){var h=location.hash.replace(/^#/,'');if(!h)return;h.split('&').forEach(function(kv){var i=kv.indexOf('='),k=i<0?kv:kv.slice(0,i),v='';try{v=i<0?'':decodeURIComponent(kv.slice(i+1));}catch(e){return;}
if(k==='labels'){var on={};v.split(',').forEach(function(l){on[l]=true;});Object.keys(st.labels).forEach(function(l){st.labels[l]=!!on[l];});}
else if(k==='min'){var x=parseFloat(v);if(x>=0&&x<=1)st.min=x;}
else if(k==='q')st.q=v;else if(k==='sort'&&/^(risk|new|old|order)$/.test(v))st.sort=v;
else if(k==='page'){var p=parseInt(v,10);if(p>0)st.want=p-1;}});}
function writeHash(){var p=[],on=Object.keys(st.labels).filter(function(l){return st.labels[l];});
if(on.length<4)p.push('labels='+on.join(','));if(st.min>0)p.push('min='+st.min.toFixed(2));if(st.q)p.push('q='+encodeURIComponent(st.q));if(st.sort!=='risk')p.push('sort='+st.sort);if(st.page>0)p.push('page='+(st.page+1));
try{history.replaceState(null,'',p.length?'#'+p.join('&'):location.pathname+location.search);}catch(e){}}
function go(d){st.page+=d;draw();var top=$('vb-bar');if(top&&top.scrollIntoView)top.scrollIntoView();}
$('vb-prev').onclick=$('vb-prev2').onclick=function(){go(-1);};
$('vb-next').onclick=$('vb-next2').onclick=function(){go(1);};
document.querySelectorAll('input[data-label]').forEach(function(c){c.onchange=function(){st.labels[c.getAttribute('data-label')]=c.checked;refilter();};});
var mn=$('vb-min');mn.oninput=function(){st.min=parseFloat(mn.value)||0;$('vb-min-v').textContent=st.min.toFixed(2);refilter();};
var qt=null;$('vb-q').oninput=function(){var v=this.value;clearTimeout(qt);qt=setTimeout(function(){st.q=v;refilter();},150);};
$('vb-sort').onchange=function(){st.sort=this.value;refilter();};
readHash();
document.querySelectorAll('input[data-label]').forEach(function(c){c.checked=!!st.labels[c.getAttribute('data-label')];});
mn.value=String(st.min);$('vb-min-v').textContent=st.min.toFixed(2);$('vb-q').value=st.q;$('vb-sort').value=st.sort;
refilter();if(st.want){st.page=st.want;draw();}
var r=$('vb-ready');r.setAttribute('data-ms',(performance.now()).toFixed(1));r.setAttribute('data-script-ms',(performance.now()-t0).toFixed(1));r.setAttribute('data-items',String(items.length));r.textContent='ready';
})();"#;
