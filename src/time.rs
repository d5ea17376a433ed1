//! Instants and Paris days.
//!
//! Every timestamp is reduced to a UTC instant (seconds since the epoch); the day it belongs to is
//! the Europe/Paris local date of that instant (DST-aware: `+01:00` in winter, `+02:00` in summer).
//! Naive timestamps (no offset) are read as Paris wall-clock time.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
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

/// The Paris local date of an instant.
pub fn paris_day(t: Instant) -> NaiveDate {
    let utc = DateTime::<Utc>::from_timestamp(i64::from(t), 0).expect("u32 seconds are in range");
    utc.with_timezone(&Paris).date_naive()
}

/// RFC 3339 in Paris local time with its offset, e.g. `2024-01-04T20:00:00+01:00`.
pub fn format_paris(t: Instant) -> String {
    let utc = DateTime::<Utc>::from_timestamp(i64::from(t), 0).expect("u32 seconds are in range");
    let local = utc.with_timezone(&Paris);
    let off = local.offset().fix().local_minus_utc();
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    format!(
        "{}{}{:02}:{:02}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        sign,
        off / 3600,
        (off % 3600) / 60
    )
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
    }
}
