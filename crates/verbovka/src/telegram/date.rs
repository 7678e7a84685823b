//! Dates as Telegram Desktop writes them, to and from Unix seconds, without a date crate.
//!
//! Three shapes occur: `date_unixtime` (a decimal string), `date` in JSON (ISO 8601, local time
//! of the exporting machine without a zone, or with milliseconds and `Z` from other tools), and
//! the `title` of an HTML `.date` (`14.03.2022 12:34:56`, newer versions add ` UTC+03:00`).
//! A date without a zone is taken as UTC: the exporter's zone is not recorded anywhere.

/// Seconds a timestamp may reach either side of 1970 (about ±31,700 years) before it is
/// treated as nonsense; keeps the calendar arithmetic far from overflow.
const MAX_ABS_SECONDS: i64 = 1_000_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Unix seconds of a calendar date and time, or `None` when a field is out of range.
fn to_unix(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    let valid = (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && (0..=23).contains(&h)
        && (0..=59).contains(&mi)
        && (0..=60).contains(&s); // 60: a leap second, folded into the next minute
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// `2022-03-14T12:34:56Z`: the ISO 8601 UTC form of Unix seconds (`None` when absurd).
pub(crate) fn format_iso(ts: i64) -> Option<String> {
    if !in_range(ts) {
        return None;
    }
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

/// A small cursor over ASCII digits and separators.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// Exactly `n` digits (no sign).
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.s.get(self.i..self.i + n)?;
        let mut v = 0i64;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        self.i += n;
        Some(v)
    }
    /// One or two digits (day and month in hand-written dates).
    #[cfg(feature = "telegram-html")]
    fn digits_1_2(&mut self) -> Option<i64> {
        let two = self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit);
        self.digits(if two { 2 } else { 1 })
    }
    fn byte(&mut self, allowed: &[u8]) -> Option<u8> {
        let b = *self.s.get(self.i)?;
        allowed.contains(&b).then(|| {
            self.i += 1;
            b
        })
    }
    fn rest(&self) -> &[u8] {
        self.s.get(self.i..).unwrap_or_default()
    }
    /// An optional `.fff` fraction (ignored).
    fn skip_fraction(&mut self) {
        if self.byte(b".,").is_some() {
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
        }
    }
    /// A zone suffix: nothing (UTC assumed), `Z`, `±HH:MM`, `±HHMM`, `±HH`, optionally
    /// preceded by spaces and `UTC`/`GMT`. Returns the offset east of UTC in seconds.
    fn zone(&mut self) -> Option<i64> {
        while self.byte(b" ").is_some() {}
        let rest = self.rest();
        if rest.is_empty() || rest == b"Z" || rest == b"z" || rest == b"UTC" || rest == b"GMT" {
            return Some(0);
        }
        if rest.starts_with(b"UTC") || rest.starts_with(b"GMT") {
            self.i += 3;
        }
        let sign = match self.byte(b"+-")? {
            b'-' => -1,
            _ => 1,
        };
        let hours = self.digits(2)?;
        self.byte(b":");
        let minutes = if self.rest().is_empty() {
            0
        } else {
            self.digits(2)?
        };
        (self.rest().is_empty() && hours <= 14 && minutes < 60)
            .then_some(sign * (hours * 3600 + minutes * 60))
    }
}

/// ISO 8601 as written in `date`: `2019-07-05T16:55:32`, `2017-01-01T06:20:09.248Z`,
/// `2023-01-01 10:00:00+03:00`, or a bare `2023-01-01` (midnight).
pub(crate) fn parse_iso(s: &str) -> Option<i64> {
    let mut c = Cursor {
        s: s.trim().as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    c.byte(b"-")?;
    let mo = c.digits(2)?;
    c.byte(b"-")?;
    let d = c.digits(2)?;
    if c.rest().is_empty() {
        return to_unix(y, mo, d, 0, 0, 0);
    }
    c.byte(b"Tt ")?;
    let h = c.digits(2)?;
    c.byte(b":")?;
    let mi = c.digits(2)?;
    let sec = if c.byte(b":").is_some() {
        c.digits(2)?
    } else {
        0
    };
    c.skip_fraction();
    let offset = c.zone()?;
    Some(to_unix(y, mo, d, h, mi, sec)? - offset)
}

/// The `title` of an HTML `.date`: `14.03.2022 12:34:56`, `14.03.2022 12:34:56 UTC+03:00`.
#[cfg(feature = "telegram-html")]
pub(crate) fn parse_html_title(s: &str) -> Option<i64> {
    let mut c = Cursor {
        s: s.trim().as_bytes(),
        i: 0,
    };
    let d = c.digits_1_2()?;
    c.byte(b".")?;
    let mo = c.digits_1_2()?;
    c.byte(b".")?;
    let y = c.digits(4)?;
    c.byte(b" ")?;
    let h = c.digits_1_2()?;
    c.byte(b":")?;
    let mi = c.digits(2)?;
    let sec = if c.byte(b":").is_some() {
        c.digits(2)?
    } else {
        0
    };
    let offset = c.zone()?;
    Some(to_unix(y, mo, d, h, mi, sec)? - offset)
}

/// `date_unixtime` as a string of digits (an optional sign; surrounding spaces tolerated).
pub(crate) fn parse_unix(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|&t| in_range(t))
}

/// Accepts a number that JSON wrote as a float (`1652135033.0`).
pub(crate) fn unix_from_f64(v: f64) -> Option<i64> {
    // `as` saturates; the range check below rejects the saturated values and NaN.
    let t = v as i64;
    (v.is_finite() && in_range(t)).then_some(t)
}

pub(crate) fn checked_unix(t: i64) -> Option<i64> {
    in_range(t).then_some(t)
}

/// Within ±`MAX_ABS_SECONDS` (`unsigned_abs`: `i64::MIN` has no `abs`).
fn in_range(t: i64) -> bool {
    t.unsigned_abs() <= MAX_ABS_SECONDS.unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extreme timestamps are rejected, never overflowed (`i64::MIN.abs()` panics in debug).
    #[test]
    fn extreme_unix_times_are_rejected() {
        for s in ["-9223372036854775808", "9223372036854775807", "-1e30"] {
            assert_eq!(parse_unix(s), None, "{s}");
        }
        assert_eq!(checked_unix(i64::MIN), None);
        assert_eq!(checked_unix(i64::MAX), None);
        assert_eq!(format_iso(i64::MIN), None);
        assert_eq!(unix_from_f64(-9.3e18), None);
        assert_eq!(parse_unix("1652135033"), Some(1_652_135_033));
    }

    #[test]
    fn iso_shapes() {
        assert_eq!(parse_iso("1970-01-01T00:00:00"), Some(0));
        assert_eq!(parse_iso("2022-05-09T22:23:53"), Some(1_652_135_033));
        assert_eq!(parse_iso("2017-01-01T06:20:09.248Z"), Some(1_483_251_609));
        assert_eq!(parse_iso("2022-05-10T01:23:53+03:00"), Some(1_652_135_033));
        assert_eq!(parse_iso("2022-05-09 22:23:53"), Some(1_652_135_033));
        assert_eq!(parse_iso("2022-05-09"), Some(1_652_054_400));
        assert_eq!(parse_iso("2022-02-30T00:00:00"), None);
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(parse_iso("2022-05-09T22:23:53 nonsense"), None);
    }

    #[cfg(feature = "telegram-html")]
    #[test]
    fn html_titles() {
        assert_eq!(
            parse_html_title("10.05.2022 01:23:53 UTC+03:00"),
            Some(1_652_135_033)
        );
        assert_eq!(parse_html_title("09.05.2022 22:23:53"), Some(1_652_135_033));
        assert_eq!(parse_html_title("9.5.2022 22:23"), Some(1_652_134_980));
        assert_eq!(
            parse_html_title("09.05.2022 19:23:53 UTC-03:00"),
            Some(1_652_135_033)
        );
    }

    #[test]
    fn format_round_trip() {
        assert_eq!(format_iso(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            format_iso(1_652_135_033).as_deref(),
            Some("2022-05-09T22:23:53Z")
        );
        assert_eq!(format_iso(-1).as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(format_iso(i64::MAX), None);
        for ts in [951_782_400i64, 4_107_542_399, 1_709_164_800] {
            let iso = format_iso(ts).unwrap_or_default();
            assert_eq!(parse_iso(&iso), Some(ts), "{iso}");
        }
    }
}
