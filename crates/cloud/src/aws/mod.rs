//! The one AWS layer of `upload`, `raw` and `stations` (never of `process`):
//!
//! - [`options`]: the AWS flags every tool flattens ([`options::AwsArgs`]) -> [`options::AwsOptions`]
//!   (region, endpoints, the one path-style rule, S3 checksums, timeouts);
//! - [`client`]: the clients (one `SdkConfig`: credentials, region, timeouts, retries) and the
//!   one async runtime;
//! - [`retry`]: the retry policy of every request, bounded by the operation timeout;
//! - [`failure`]: errors -> [`failure::Failure`] -> exit codes, and their one-line descriptions;
//! - [`s3`]: the one PUT, GET, HEAD, listing, delete; [`multipart`]: the one multipart upload
//!   (resumable, checked part by part); [`checksum`]: the digests they carry;
//! - [`health`]: the bucket and table checks before writing, with messages a person can act on.

pub mod checksum;
pub mod client;
pub mod failure;
pub mod health;
pub mod multipart;
pub mod options;
pub mod retry;
pub mod s3;
