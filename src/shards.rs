//! Shards of a date range: a backfill fanned out by days.
//!
//! A day's outputs depend on that day's rows, on the day before for bike anomalies and on the
//! metrics of seven days before for the daily report's week-over-week comparison (whose bike
//! figures look back one more day): a shard `[from, to]` reads the days from
//! `from - LOOKBACK_DAYS` and writes only its own. [`plan`] cuts a range into `count` adjacent
//! shards whose sizes differ by at most one day; run one after the other or at once, they write
//! the bytes of one run over the whole range (see README "Backfills").

use chrono::{Days, NaiveDate};

/// Days a run reads before its first day for the daily report's week-over-week comparison.
pub const REPORT_LOOKBACK_DAYS: u64 = 7;

/// Days read before a shard's first day: 7 (the report compares with the week before) + 1 (that
/// day's bike anomalies compare with its day before).
pub const LOOKBACK_DAYS: u64 = REPORT_LOOKBACK_DAYS + 1;

/// One shard of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based, as Kubernetes' `JOB_COMPLETION_INDEX` and AWS Batch's `AWS_BATCH_JOB_ARRAY_INDEX`.
    pub index: usize,
    pub count: usize,
    /// The days it writes.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The first day it reads (`from - LOOKBACK_DAYS`).
    pub read_from: NaiveDate,
}

impl Shard {
    /// The days it writes.
    pub fn days(&self) -> u64 {
        (self.to - self.from).num_days() as u64 + 1
    }
}

/// `[from, to]` cut into `count` adjacent shards (fewer when the range has fewer days), the
/// longer ones first.
pub fn plan(from: NaiveDate, to: NaiveDate, count: usize) -> Result<Vec<Shard>, String> {
    if from > to {
        return Err(format!("--from {from} is after --to {to}"));
    }
    if count == 0 {
        return Err("the shard count must be at least 1".into());
    }
    let days = (to - from).num_days() as usize + 1;
    let count = count.min(days);
    let (base, extra) = (days / count, days % count);
    let mut shards = Vec::with_capacity(count);
    let mut start = from;
    for index in 0..count {
        let len = base + usize::from(index < extra);
        let end = start + Days::new(len as u64 - 1);
        shards.push(Shard {
            index,
            count,
            from: start,
            to: end,
            read_from: start
                .checked_sub_days(Days::new(LOOKBACK_DAYS))
                .unwrap_or(NaiveDate::MIN),
        });
        start = end + Days::new(1);
    }
    Ok(shards)
}

/// Whether shard `s` needs the raw file `rel` (of dataset `kind`, in a `dt=`/date partition or
/// not) to write the bytes of a run over the whole tree: every undated file (exports,
/// référentiel, arrondissements), every road-counter file (an arc's description, and the
/// référentiel's `actif` flags and date, come from the whole tree), every Vélib'
/// `station_information` snapshot (a day's stations are joined to the information of any day),
/// and the other partitions of the days it reads.
pub fn needs(kind: &str, rel: &str, partition: Option<NaiveDate>, s: &Shard) -> bool {
    match partition {
        None => true,
        Some(_) if kind == "comptages" => true,
        Some(_) if kind == "velib" && rel.contains("station_information") => true,
        Some(d) => s.read_from <= d && d <= s.to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn shards_cover_the_range_once_in_order() {
        // 31 days in 4 shards: 8, 8, 8, 7 (hand count).
        let p = plan(d("2024-01-01"), d("2024-01-31"), 4).unwrap();
        let bounds: Vec<(String, String)> = p
            .iter()
            .map(|s| (s.from.to_string(), s.to.to_string()))
            .collect();
        assert_eq!(
            bounds,
            [
                ("2024-01-01", "2024-01-08"),
                ("2024-01-09", "2024-01-16"),
                ("2024-01-17", "2024-01-24"),
                ("2024-01-25", "2024-01-31"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(p[1].read_from, d("2024-01-01"));
        assert_eq!(p[0].read_from, d("2023-12-24"));
        assert!(p.iter().all(|s| s.count == 4));
    }

    #[test]
    fn more_shards_than_days_and_bad_ranges() {
        let p = plan(d("2024-02-28"), d("2024-03-01"), 10).unwrap();
        assert_eq!(p.len(), 3, "2024 is a leap year: 3 days");
        assert!(p.iter().all(|s| s.days() == 1 && s.count == 3));
        assert!(plan(d("2024-01-02"), d("2024-01-01"), 2).is_err());
        assert!(plan(d("2024-01-01"), d("2024-01-01"), 0).is_err());
    }

    #[test]
    fn a_shard_needs_its_read_days_and_what_holds_descriptions() {
        let s = plan(d("2024-01-01"), d("2024-01-31"), 2).unwrap()[1];
        assert_eq!((s.from, s.read_from), (d("2024-01-17"), d("2024-01-09")));
        let p = |x: &str| Some(d(x));
        assert!(needs(
            "bikes",
            "api/bikes/dt=2024-01-09/a.json",
            p("2024-01-09"),
            &s
        ));
        assert!(!needs(
            "bikes",
            "api/bikes/dt=2024-01-08/a.json",
            p("2024-01-08"),
            &s
        ));
        assert!(!needs(
            "bikes",
            "api/bikes/dt=2024-02-01/a.json",
            p("2024-02-01"),
            &s
        ));
        assert!(needs(
            "bikes",
            "batch/comptage-velo-donnees-compteurs.csv",
            None,
            &s
        ));
        assert!(needs(
            "comptages",
            "api/comptages/dt=2023-05-01/x.json",
            p("2023-05-01"),
            &s
        ));
        let info = "api/velib/dt=2023-05-01/station_information.json";
        assert!(needs("velib", info, p("2023-05-01"), &s));
        let status = "api/velib/dt=2023-05-01/station_status.json";
        assert!(!needs("velib", status, p("2023-05-01"), &s));
    }
}
