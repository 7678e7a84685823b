//! `--format html` of `score_export` and `score_jsonl`: the entries kept for the report, within
//! bounds, and the report's date.

use verbovka::report::Entry;

/// The most messages a report holds; more are counted in `RunSummary::omitted`. A browser
/// still opens 100,000 (pages are drawn on demand) and the file stays in the hundreds of MB.
pub const MAX_ENTRIES: usize = 100_000;

/// The most text a report holds, summed over its messages (texts are up to 1 MiB each): a
/// run stays within memory whatever the export.
pub const MAX_TEXT_BYTES: usize = 256 << 20;

/// The entries of a report, in input order, up to the limits.
#[derive(Default)]
pub struct Collector {
    pub entries: Vec<Entry>,
    text_bytes: usize,
    /// Entries not kept because a limit was reached.
    pub omitted: u64,
}

impl Collector {
    /// Keeps `entry` if the limits allow; `false` when it was counted as omitted.
    pub fn push(&mut self, entry: Entry) -> bool {
        if self.entries.len() >= MAX_ENTRIES || self.text_bytes + entry.text.len() > MAX_TEXT_BYTES
        {
            self.omitted += 1;
            return false;
        }
        self.text_bytes += entry.text.len();
        self.entries.push(entry);
        true
    }
}

/// Now, as `2026-12-04 18:45 UTC`, for the report's header (the library reads no clock).
pub fn now_utc() -> Option<String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!(
        "generated {y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    ))
}
