//! cityflow's network side, on top of the offline core (`cityflow`):
//! - [`aws`]: the one AWS layer (flags, clients, timeouts and retries, S3 requests, multipart,
//!   health checks, errors -> exit codes) that the three tools share;
//! - [`plan`]: the plan's actions (`+ * = !`) and sizes, as the tools print them;
//! - [`upload`]: the `upload` run (DynamoDB, S3, ledger, dry-run, verify);
//! - [`transfer`]: `raw pull` / `raw push` (raw zone <-> local folders, resumable, verified);
//! - [`signal`]: SIGINT / SIGTERM during a transfer (stop new work, save the ledger, 130 / 143);
//! - [`stations`]: the weather stations pipeline (InfoClimat, Weather Underground, Airbyte JSON
//!   Lines -> documents, quality report, MongoDB `weather_data`, S3 backups).

pub mod aws;
pub mod plan;
pub mod signal;
pub mod stations;
pub mod transfer;
pub mod upload;
