//! Writes a full-scale raw tree for the benchmarks (see `bench/scale.sh`).
//!
//! cargo run --release --example scale -- --out /tmp/scale --bytes 6200M \
//!     --referentiel ../shared/data/real/referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv

use std::path::PathBuf;

use chrono::NaiveDate;
use cityflow::generate::scale::{write_scale_tree, ScaleOptions};
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
    #[arg(long)]
    rows: Option<u64>,
    /// Road-counter CSV size instead, e.g. 6200M, 620M, 1G.
    #[arg(long, value_parser = parse_size)]
    bytes: Option<u64>,
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

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let o = ScaleOptions {
        seed: a.seed,
        referentiel: a.referentiel,
        arcs: a.arcs,
        first_day: a.first_day,
        rows: a.rows,
        bytes: a.bytes,
        bike_rows: a.bike_rows,
        api_days: a.api_days,
        ..ScaleOptions::default()
    };
    let st = write_scale_tree(&a.out, &o)?;
    eprintln!(
        "wrote {} road-counter rows ({:.1} MB, {} arcs, {} days), {} bike rows ({:.1} MB), {} API snapshots under {}",
        st.rows,
        st.bytes as f64 / 1e6,
        st.arcs,
        st.days,
        st.bike_rows,
        st.bike_bytes as f64 / 1e6,
        st.api_files,
        a.out.display()
    );
    Ok(())
}
