//! cityflow's network side, on top of the offline core (`cityflow`):
//! - [`upload`]: the `upload` run (DynamoDB, S3, ledger, dry-run, verify);
//! - [`transfer`]: `raw pull` / `raw push` (raw zone <-> local folders, resumable, verified);
//! - [`stations`]: the weather stations pipeline (InfoClimat, Weather Underground, Airbyte JSON
//!   Lines -> documents, quality report, MongoDB `weather_data`, S3 backups).

pub mod stations;
pub mod transfer;
pub mod upload;
