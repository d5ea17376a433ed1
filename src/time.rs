//! Instants and Paris days.
//!
//! Every timestamp is reduced to a UTC instant (seconds since the epoch); the day it belongs to is
//! the Europe/Paris local date of that instant (DST-aware: `+01:00` in winter, `+02:00` in summer).
//! Naive timestamps (no offset) are read as Paris wall-clock time.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Europe::Paris;

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// Not one of the accepted shapes.
    Unparseable,
    /// A naive local time that does not exist in Paris (skipped by the spring DST change).
    NonexistentLocal,
    /// Before 1970 or after 2105: outside what the metrics store.
    OutOfRange,
}

impl std::fmt::Display for TimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeError::Unparseable => "not an ISO-8601 date or date-time",
            TimeError::NonexistentLocal => "local time skipped by the DST change in Paris",
            TimeError::OutOfRange => "date outside 1970-01-01..2105-12-31",
        })
    }
}

/// Seconds since 1970-01-01T00:00:00Z, as stored in the accumulators (fits until 2106).
pub type Instant = u32;

/// Parses the timestamp shapes found in the Paris exports and APIs:
/// RFC 3339 (`2024-01-04T22:00:00+01:00`, `...Z`, fractional seconds), the same with a space
/// instead of `T`, a naive date-time (Paris local time) and a bare date (Paris midnight).
pub fn parse_instant(s: &str) -> Result<Instant, TimeError> {
    if let Some(t) = parse_rfc3339_fast(s.as_bytes()) {
        return to_instant(t);
    }
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return to_instant(dt.timestamp());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return to_instant(dt.timestamp());
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return paris_local(naive);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return paris_local(d.and_time(NaiveTime::MIN));
    }
    Err(TimeError::Unparseable)
}

fn paris_local(naive: NaiveDateTime) -> Result<Instant, TimeError> {
    match Paris.from_local_datetime(&naive) {
        LocalResult::Single(dt) => to_instant(dt.timestamp()),
        // The autumn hour that happens twice: take the first (summer time), as mktime does.
        LocalResult::Ambiguous(first, _) => to_instant(first.timestamp()),
        LocalResult::None => Err(TimeError::NonexistentLocal),
    }
}

fn to_instant(secs: i64) -> Result<Instant, TimeError> {
    // 2105-12-31 keeps a margin below u32::MAX (2106-02-07).
    if (0..=4_291_747_199).contains(&secs) {
        Ok(secs as Instant)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// The exports' shape `YYYY-MM-DDTHH:MM:SS+HH:MM` (exactly 25 bytes, no fraction, valid fields),
/// as epoch seconds; None for anything else (then chrono's parsers decide). Same result as
/// chrono's RFC 3339 parser on every string it accepts, ~10x faster: this is the hot path of the
/// road-counter export.
fn parse_rfc3339_fast(b: &[u8]) -> Option<i64> {
    if b.len() != 25
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[22] != b':'
    {
        return None;
    }
    let num = |i: usize, n: usize| -> Option<i64> {
        b[i..i + n].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let (oh, om) = (num(20, 2)?, num(23, 2)?);
    let sign = match b[19] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 59
        || oh > 23
        || om > 59
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Paris midnights (UTC instants) of the days 2000-01-01 ..= 2049-12-31, computed once: day
/// lookups are the road-counter hot path, and chrono-tz's conversion is slow in comparison.
struct Midnights {
    first_day: i64,
    at: Vec<Instant>,
    /// The dates themselves (building a `NaiveDate` from a day number is not free either).
    dates: Vec<NaiveDate>,
}

const EPOCH_CE_DAYS: i32 = 719_163;

fn midnights() -> &'static Midnights {
    static M: std::sync::OnceLock<Midnights> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let first = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
        let last = NaiveDate::from_ymd_opt(2050, 1, 1).expect("valid date");
        let dates: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
        Midnights {
            first_day: i64::from(first.num_days_from_ce() - EPOCH_CE_DAYS),
            at: dates.iter().copied().map(paris_midnight_slow).collect(),
            dates,
        }
    })
}

fn paris_midnight_slow(d: NaiveDate) -> Instant {
    let local = d.and_time(NaiveTime::MIN);
    // Paris midnights always exist (DST changes happen at 02:00 / 03:00).
    let secs = match Paris.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp(),
        LocalResult::None => local.and_utc().timestamp(),
    };
    secs.clamp(0, i64::from(u32::MAX)) as Instant
}

/// The instant of the Paris midnight that starts day `d`.
pub fn paris_midnight(d: NaiveDate) -> Instant {
    let m = midnights();
    let i = i64::from(d.num_days_from_ce() - EPOCH_CE_DAYS) - m.first_day;
    match usize::try_from(i).ok().and_then(|i| m.at.get(i)) {
        Some(t) => *t,
        None => paris_midnight_slow(d),
    }
}

/// The Paris local date of an instant.
pub fn paris_day(t: Instant) -> NaiveDate {
    let m = midnights();
    // Paris is UTC+1 or UTC+2: the local date is that of t+1h, or the day after.
    let d = (i64::from(t) + 3600).div_euclid(86_400) - m.first_day;
    if let (Ok(i), true) = (usize::try_from(d), d + 1 < m.at.len() as i64) {
        return if t >= m.at[i + 1] {
            m.dates[i + 1]
        } else {
            m.dates[i]
        };
    }
    paris_day_slow(t)
}

fn paris_day_slow(t: Instant) -> NaiveDate {
    let utc = DateTime::<Utc>::from_timestamp(i64::from(t), 0).expect("u32 seconds are in range");
    utc.with_timezone(&Paris).date_naive()
}

/// RFC 3339 in Paris local time with its offset, e.g. `2024-01-04T20:00:00+01:00`.
pub fn format_paris(t: Instant) -> String {
    use chrono::{Datelike, Timelike};
    let utc = DateTime::<Utc>::from_timestamp(i64::from(t), 0).expect("u32 seconds are in range");
    let local = utc.with_timezone(&Paris);
    let off = local.offset().fix().local_minus_utc();
    let sign = if off < 0 { b'-' } else { b'+' };
    let off = off.unsigned_abs();
    // Written digit by digit (a strftime pattern is parsed again on every call, and `format!`
    // costs ten times this). A u32 instant is before 2107: the year has 4 digits.
    let mut b = *b"0000-00-00T00:00:00+00:00";
    let year = local.year().clamp(0, 9999) as u32;
    digits(&mut b[0..4], year);
    digits(&mut b[5..7], local.month());
    digits(&mut b[8..10], local.day());
    digits(&mut b[11..13], local.hour());
    digits(&mut b[14..16], local.minute());
    digits(&mut b[17..19], local.second());
    b[19] = sign;
    digits(&mut b[20..22], off / 3600 % 100);
    digits(&mut b[23..25], (off % 3600) / 60);
    b.iter().map(|&c| char::from(c)).collect()
}

/// `v` in decimal, right-aligned and zero-padded in `out` (high digits beyond it dropped).
fn digits(out: &mut [u8], mut v: u32) {
    for c in out.iter_mut().rev() {
        *c = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// The run's clock, injected so that outputs are reproducible: `SOURCE_DATE_EPOCH` (seconds) when
/// set, else the wall clock. Only envelope `timestamp`s and `generated_at` use it; days never do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub now: DateTime<Utc>,
}

impl Clock {
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.trim().is_empty() => {
                let secs: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?;
                let now = DateTime::<Utc>::from_timestamp(secs, 0)
                    .ok_or_else(|| format!("SOURCE_DATE_EPOCH={v:?} is out of range"))?;
                Ok(Clock { now })
            }
            _ => Ok(Clock { now: Utc::now() }),
        }
    }

    /// `2026-11-21T19:23:00Z`
    pub fn timestamp(&self) -> String {
        self.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    pub fn paris_today(&self) -> NaiveDate {
        self.now.with_timezone(&Paris).date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn offsets_give_the_same_instant() {
        let a = parse_instant("2024-01-04T22:00:00+01:00").unwrap();
        let b = parse_instant("2024-01-04T21:00:00Z").unwrap();
        let c = parse_instant("2024-01-04 22:00:00+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, 1_704_402_000);
    }

    #[test]
    fn paris_day_is_local_not_utc() {
        // 23:30 UTC on Jan 4 is 00:30 on Jan 5 in Paris (winter, +01:00).
        let t = parse_instant("2024-01-04T23:30:00Z").unwrap();
        assert_eq!(paris_day(t), d("2024-01-05"));
        // 22:30 UTC on Jul 4 is 00:30 on Jul 5 in Paris (summer, +02:00).
        let t = parse_instant("2024-07-04T22:30:00Z").unwrap();
        assert_eq!(paris_day(t), d("2024-07-05"));
        let t = parse_instant("2024-07-04T21:30:00Z").unwrap();
        assert_eq!(paris_day(t), d("2024-07-04"));
    }

    #[test]
    fn naive_times_are_paris_local() {
        assert_eq!(
            parse_instant("2024-01-04T22:00:00").unwrap(),
            parse_instant("2024-01-04T22:00:00+01:00").unwrap()
        );
        assert_eq!(
            parse_instant("2024-01-04").unwrap(),
            parse_instant("2024-01-04T00:00:00+01:00").unwrap()
        );
        // 2024-03-31 02:30 does not exist in Paris.
        assert_eq!(
            parse_instant("2024-03-31T02:30:00"),
            Err(TimeError::NonexistentLocal)
        );
        // 2024-10-27 02:30 happens twice: the first one is summer time (+02:00).
        assert_eq!(
            parse_instant("2024-10-27T02:30:00").unwrap(),
            parse_instant("2024-10-27T02:30:00+02:00").unwrap()
        );
    }

    #[test]
    fn fast_paths_agree_with_chrono() {
        // Every hour of 2023-2026 (all DST changes), and the day table's edges.
        let start = parse_instant("2023-01-01T00:00:00Z").unwrap();
        for h in 0..(4 * 366 * 24) {
            let t = start + h * 3600 + (h % 7) * 60;
            assert_eq!(paris_day(t), paris_day_slow(t), "{t}");
            let day = paris_day(t);
            assert_eq!(paris_midnight(day), paris_midnight_slow(day));
            let s = format_paris(t);
            assert_eq!(
                parse_instant(&s).unwrap(),
                DateTime::parse_from_rfc3339(&s).unwrap().timestamp() as Instant,
                "{s}"
            );
        }
        for t in [
            0,
            946_684_799,
            946_684_800,
            2_524_607_999,
            2_524_608_000,
            u32::MAX,
        ] {
            assert_eq!(paris_day(t), paris_day_slow(t), "{t}");
        }
        // Shapes the fast parser leaves to chrono: same results as before.
        for s in [
            "2024-02-29T10:00:00+01:00",
            "2023-02-29T10:00:00+01:00",
            "2024-01-04T24:00:00+01:00",
            "2024-01-04T23:59:60+01:00",
            "2024-01-04T22:00:00-05:30",
            "2024-01-04T22:00:00+1:00 ",
            "2024-13-04T22:00:00+01:00",
            "2024-01-04T22:00:00.5+01:00",
            "+024-01-04T22:00:00+01:00",
        ] {
            let fast = parse_rfc3339_fast(s.as_bytes());
            let chrono = DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp());
            if fast.is_some() {
                assert_eq!(fast, chrono, "{s}");
            }
        }
    }

    #[test]
    fn bad_and_out_of_range() {
        assert_eq!(parse_instant("04/01/2024"), Err(TimeError::Unparseable));
        assert_eq!(parse_instant(""), Err(TimeError::Unparseable));
        assert_eq!(
            parse_instant("2024-13-01T00:00:00+01:00"),
            Err(TimeError::Unparseable)
        );
        assert_eq!(
            parse_instant("1969-12-31T00:00:00Z"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            parse_instant("2200-01-01T00:00:00Z"),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn formats_with_the_paris_offset() {
        let t = parse_instant("2024-01-04T21:00:00Z").unwrap();
        assert_eq!(format_paris(t), "2024-01-04T22:00:00+01:00");
        let t = parse_instant("2024-07-04T21:00:00Z").unwrap();
        assert_eq!(format_paris(t), "2024-07-04T23:00:00+02:00");
        // Against chrono's own formatting, over the whole range of instants (both ends, every
        // DST change on the way, odd seconds).
        let chrono_fmt = |t: Instant| {
            DateTime::<Utc>::from_timestamp(i64::from(t), 0)
                .unwrap()
                .with_timezone(&Paris)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        let mut t: u64 = 0;
        while t <= u64::from(u32::MAX) {
            for d in [0, 1, 3599, 3600, 3601] {
                if let Ok(x) = u32::try_from(t + d) {
                    assert_eq!(format_paris(x), chrono_fmt(x), "{x}");
                }
            }
            t += 86_399 * 3 + 17;
        }
        assert_eq!(format_paris(u32::MAX), chrono_fmt(u32::MAX));
    }
}
