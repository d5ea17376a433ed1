//! AWS clients the idiomatic way: one shared `SdkConfig` (credential chain, profile, region,
//! timeouts, retries), then per-service builders for endpoint URLs, path-style addressing and
//! S3 checksums. And the one async runtime the tools run their requests on.

use super::options::{AwsOptions, Timeouts};
use super::retry::sdk_retry_config;

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The SDK timeouts: connect, per attempt (first byte of the answer), whole call.
pub fn timeout_config(t: &Timeouts) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(t.connect)
        .read_timeout(t.read)
        .operation_attempt_timeout(t.read)
        .operation_timeout(t.operation)
        .build()
}

/// Builds both clients (no request is sent).
pub async fn clients(o: &AwsOptions) -> Clients {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(o.region.clone()))
        .timeout_config(timeout_config(&o.timeouts))
        .retry_config(sdk_retry_config());
    if let Some((key, secret)) = &o.static_credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            key, secret, None, None, "static",
        ));
    }
    let sdk = loader.load().await;
    let mut d = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(e) = o.dynamodb_endpoint() {
        d = d.endpoint_url(e);
    }
    let mut s = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(o.path_style);
    if let Some(e) = o.s3_endpoint() {
        s = s.endpoint_url(e);
    }
    if !o.s3_checksums {
        s = s
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            );
    }
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(d.build()),
        s3: aws_sdk_s3::Client::from_conf(s.build()),
    }
}

/// The runtime every tool runs its requests on: two workers (the machines have two cores; the
/// work is waiting on the network, hashing and file I/O go to the blocking pool).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
