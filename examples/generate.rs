//! Writes a deterministic synthetic raw tree in the Paris export formats.
//!
//! cargo run --release --example generate -- --out sample/cityflow-raw/raw
//! cargo run --release --example generate -- --out /tmp/big --arcs 3350 --days 30 --no-api

use std::path::PathBuf;

use chrono::NaiveDate;
use cityflow::generate::{write_tree, GenOptions};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Raw root to write (`batch/`, `api/` under it).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long, default_value_t = 16)]
    arcs: usize,
    #[arg(long, default_value = "2025-10-25")]
    first_day: NaiveDate,
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// No API snapshots.
    #[arg(long)]
    no_api: bool,
    /// Road counters and their reference files only (no bikes, works, disruptions, weather, Vélib).
    #[arg(long)]
    comptages_only: bool,
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let mut o = GenOptions {
        seed: a.seed,
        arcs: a.arcs,
        first_day: a.first_day,
        days: a.days,
        ..GenOptions::default()
    };
    if a.no_api {
        o.api_hours.clear();
    }
    o.other_datasets = !a.comptages_only;
    let rows = write_tree(&a.out, &o)?;
    eprintln!("wrote {} road-counter rows under {}", rows, a.out.display());
    Ok(())
}
