//! Writes a full-scale raw tree for the benchmarks (see `bench/scale.sh`).
//!
//! cargo run --release --example scale -- --out /tmp/scale --bytes 6200M \
//!     --referentiel ../shared/data/real/referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv
//!
//! A multi-year export instead (`bench/span.sh`): every arc on every day of a range, one row an
//! arc-day (`sparse`) or every Paris hour (`hourly`), optionally one file a year and shuffled:
//!
//! cargo run --release --example scale -- --out /tmp/span3 --first-day 2022-01-01 --years 3 \
//!     --shape sparse --hour 8 --yearly --shuffle-days 7

use std::path::PathBuf;

use chrono::NaiveDate;
use cityflow::generate::scale::{write_scale_tree, ScaleOptions};
use cityflow::generate::span::{last_day_of_years, SpanOptions, SpanShape};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Raw root to write (`batch/`, `api/` under it).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Take the arcs (ids, labels, geometry) from this référentiel CSV.
    #[arg(long)]
    referentiel: Option<PathBuf>,
    /// Synthetic arcs when no référentiel is given.
    #[arg(long, default_value_t = 3350)]
    arcs: usize,
    #[arg(long, default_value = "2025-01-01")]
    first_day: NaiveDate,
    /// Road-counter rows (default 20.3 M, the real export's count).
    #[arg(long, conflicts_with_all = ["years", "to"])]
    rows: Option<u64>,
    /// Road-counter CSV size instead, e.g. 6200M, 620M, 1G.
    #[arg(long, value_parser = parse_size, conflicts_with_all = ["years", "to"])]
    bytes: Option<u64>,
    /// Multi-year export: this many calendar years from --first-day (3 from 2022-01-01: 1,096 days).
    #[arg(long, conflicts_with = "to")]
    years: Option<u32>,
    /// Multi-year export: from --first-day to this day (inclusive).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Rows of a multi-year export: `sparse` (one an arc-day) or `hourly` (every Paris hour:
    /// 24 an arc-day, 23 / 25 on the DST Sundays).
    #[arg(long, default_value = "sparse", value_parser = ["sparse", "hourly"])]
    shape: String,
    /// Paris hour of the sparse rows (0-23), or `seeded` (drawn per arc and day).
    #[arg(long, default_value = "8")]
    hour: String,
    /// One file per calendar year (`comptages-routiers-permanents-2016.csv`, ...).
    #[arg(long)]
    yearly: bool,
    /// Shuffle the rows within blocks of this many days (0: sorted by day, hour, arc).
    #[arg(long, default_value_t = 0)]
    shuffle_days: u32,
    /// Bike-counter CSV rows (the real export has 888,027).
    #[arg(long, default_value_t = 0)]
    bike_rows: u64,
    /// Days of daily API snapshots.
    #[arg(long, default_value_t = 0)]
    api_days: u32,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (
            &s[..i],
            match s[i..].to_ascii_uppercase().as_str() {
                "K" | "KB" => 1e3,
                "M" | "MB" => 1e6,
                "G" | "GB" => 1e9,
                u => return Err(format!("unknown unit {u:?}")),
            },
        ),
        None => (s, 1.0),
    };
    let n: f64 = num.parse().map_err(|e| format!("{s:?}: {e}"))?;
    Ok((n * mult) as u64)
}

/// The multi-year export the flags ask for, if any.
fn span_of(a: &Args) -> Result<Option<SpanOptions>, String> {
    let last_day = match (a.years, a.to) {
        (Some(y), _) => last_day_of_years(a.first_day, y)
            .ok_or_else(|| format!("--years {y}: past the last representable date"))?,
        (None, Some(to)) => to,
        (None, None) => return Ok(None),
    };
    let shape = match (a.shape.as_str(), a.hour.as_str()) {
        ("hourly", _) => SpanShape::Hourly,
        (_, "seeded") => SpanShape::Sparse { hour: None },
        (_, h) => match h.parse::<u32>() {
            Ok(h) if h < 24 => SpanShape::Sparse { hour: Some(h) },
            _ => return Err(format!("--hour {h:?}: expected 0-23 or `seeded`")),
        },
    };
    Ok(Some(SpanOptions {
        last_day,
        shape,
        yearly: a.yearly,
        shuffle_days: a.shuffle_days,
    }))
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let span = span_of(&a).map_err(std::io::Error::other)?;
    let o = ScaleOptions {
        seed: a.seed,
        referentiel: a.referentiel,
        arcs: a.arcs,
        first_day: a.first_day,
        rows: a.rows,
        bytes: a.bytes,
        bike_rows: a.bike_rows,
        api_days: a.api_days,
        span,
        ..ScaleOptions::default()
    };
    let st = write_scale_tree(&a.out, &o)?;
    eprintln!(
        "wrote {} road-counter rows ({:.1} MB in {} file(s), {} arcs, {} days), {} bike rows ({:.1} MB), {} API snapshots under {}",
        st.rows,
        st.bytes as f64 / 1e6,
        st.files,
        st.arcs,
        st.days,
        st.bike_rows,
        st.bike_bytes as f64 / 1e6,
        st.api_files,
        a.out.display()
    );
    Ok(())
}
