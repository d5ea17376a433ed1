//! cityflow: Paris mobility open data -> per-day metrics, daily reports and quality reports.
//!
//! Where things are:
//! - [`discover`]: which raw files exist and what they are;
//! - [`sources`]: one module per dataset, raw rows -> accumulators, rejects counted;
//! - [`metrics`]: pure accumulators and the metric formulas (one module per dataset);
//! - [`report`]: the daily report (JSON, CSV, HTML) from one date's metrics;
//! - [`analytics`]: typed per-day tables (Parquet) for DuckDB / Athena;
//! - [`quality`]: reject counts, samples, duplicates;
//! - [`pipeline`]: the `process` run; [`store`]: where outputs are written;
//! - [`output`]: output kinds, their names, the volatile-free content hash;
//! - [`shards`]: a date range cut into shards (backfills), and the raw files a shard needs.
//!
//! This crate has no AWS SDK: `upload`, `raw` and `stations` live in `cityflow-cloud`
//! (`crates/cloud`), which depends on this one.

pub mod analytics;
pub mod backfill;
pub mod bigcsv;
pub mod budget;
pub mod cli;
pub mod config;
pub mod discover;
pub mod error;
pub mod fixed;
pub mod generate;
pub mod geo;
pub mod input;
pub mod json;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod quality;
pub mod report;
pub mod safe_file;
pub mod shards;
pub mod shown;
pub mod sources;
pub mod store;
pub mod time;
