//! cityflow: Paris mobility open data -> per-day metrics, daily reports and quality reports.
//!
//! Where things are:
//! - [`discover`]: which raw files exist and what they are;
//! - [`sources`]: one module per dataset, raw rows -> accumulators, rejects counted;
//! - [`metrics`]: pure accumulators and the metric formulas (one module per dataset);
//! - [`report`]: the daily report (JSON + CSV) from one date's metrics;
//! - [`quality`]: reject counts, samples, duplicates;
//! - [`pipeline`]: the `process` run; [`store`]: where outputs are written;
//! - [`upload`]: the `upload` run (DynamoDB, S3, ledger, dry-run, verify);
//! - [`transfer`]: `raw pull` / `raw push` (raw zone <-> local folders, resumable, verified);
//! - [`stations`]: the weather stations pipeline (InfoClimat, Weather Underground, Airbyte JSON
//!   Lines -> documents, quality report, MongoDB `weather_data`, S3 backups).

pub mod bigcsv;
pub mod config;
pub mod discover;
pub mod error;
pub mod fixed;
pub mod generate;
pub mod geo;
pub mod input;
pub mod json;
pub mod metrics;
pub mod pipeline;
pub mod quality;
pub mod report;
pub mod sources;
pub mod stations;
pub mod store;
pub mod time;
pub mod transfer;
pub mod upload;
