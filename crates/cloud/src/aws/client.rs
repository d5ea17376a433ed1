//! AWS clients the idiomatic way: one shared `SdkConfig` (credential chain, profile, region,
//! timeouts, retries), then per-service builders for endpoint URLs, path-style addressing and
//! S3 checksums. And the one async runtime the tools run their requests on.
//!
//! Credentials: with a custom endpoint (a local or S3-compatible store) only the environment
//! and the profile files are read, never the instance-metadata service (an EC2 role means
//! nothing to such a store, and probing it costs seconds and pages of warnings); on AWS itself
//! the SDK's whole chain. [`connect`] resolves them before the first request, so missing
//! credentials are one clear line at once, not a failure of every request.

use aws_sdk_s3::config::ProvideCredentials;

use super::failure::{Failed, Failure};
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

/// Builds both clients (no request is sent; credentials are resolved at the first request).
pub async fn clients(o: &AwsOptions) -> Clients {
    build(o, &sdk_config(o).await)
}

/// Builds both clients after resolving the credentials: none found is a [`Failure::Credentials`]
/// saying where they were looked for, within the connect + read timeouts (the instance-metadata
/// probe included), before any request.
pub async fn connect(o: &AwsOptions) -> Result<Clients, Failed> {
    let sdk = sdk_config(o).await;
    check_credentials(o, &sdk).await?;
    Ok(build(o, &sdk))
}

async fn sdk_config(o: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(o.region.clone()))
        .timeout_config(timeout_config(&o.timeouts))
        .retry_config(sdk_retry_config());
    if let Some((key, secret)) = &o.static_credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            key, secret, None, None, "static",
        ));
    } else if o.custom_endpoint() {
        loader = loader.credentials_provider(
            aws_config::meta::credentials::CredentialsProviderChain::first_try(
                "Environment",
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else(
                "Profile",
                aws_config::profile::ProfileFileCredentialsProvider::builder().build(),
            ),
        );
    }
    loader.load().await
}

fn build(o: &AwsOptions, sdk: &aws_config::SdkConfig) -> Clients {
    let mut d = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(e) = o.dynamodb_endpoint() {
        d = d.endpoint_url(e);
    }
    let mut s = aws_sdk_s3::config::Builder::from(sdk).force_path_style(o.path_style);
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

async fn check_credentials(o: &AwsOptions, sdk: &aws_config::SdkConfig) -> Result<(), Failed> {
    let limit = o.timeouts.connect + o.timeouts.read;
    let found = match sdk.credentials_provider() {
        None => Err("no credential provider".to_string()),
        Some(p) => match tokio::time::timeout(limit, p.provide_credentials()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(cityflow::shown::text(&e.to_string(), &[])),
            Err(_) => Err(format!("none within {:.1} s", limit.as_secs_f64())),
        },
    };
    found.map_err(|why| (Failure::Credentials, no_credentials(o, &why)))
}

/// One line: which endpoint, where credentials were looked for, what to set.
fn no_credentials(o: &AwsOptions, why: &str) -> String {
    if o.custom_endpoint() {
        // The chain's own text ("not enabled") says nothing more.
        let _ = why;
        format!(
            "no AWS credentials for {} (none in the environment or the profile files): set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (or AWS_PROFILE); with an endpoint given, the \
             instance-metadata service is not asked",
            o.endpoints_shown()
        )
    } else {
        format!(
            "no AWS credentials for {} ({why}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, or run on an instance with a role",
            o.endpoints_shown()
        )
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
