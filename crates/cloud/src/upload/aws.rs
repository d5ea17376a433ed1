//! AWS clients the idiomatic way: one shared `SdkConfig` (credential chain, profile, region),
//! then per-service builders for endpoint URLs, path-style addressing and S3 checksums.
//! Errors are classified so that the top level can say what a person should do.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

/// Endpoint and client options, resolved from flags and environment.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: String,
    /// Shared endpoint (`--endpoint-url` / `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    pub dynamodb_endpoint: Option<String>,
    pub s3_endpoint: Option<String>,
    /// Path-style S3 addressing (default on with a custom endpoint).
    pub path_style: bool,
    /// Send the SDK's default S3 checksums (some S3-compatible stores reject them); when off,
    /// uploads carry Content-MD5 instead.
    pub s3_checksums: bool,
    /// Explicit (access key, secret) instead of the credential chain (tests, tools).
    pub static_credentials: Option<(String, String)>,
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
}

pub async fn clients(o: &AwsOptions) -> Clients {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(o.region.clone()));
    if let Some((key, secret)) = &o.static_credentials {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key, secret, None, None, "static",
        ));
    }
    let sdk = loader.load().await;
    let mut d = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(e) = o.dynamodb_endpoint.as_ref().or(o.endpoint.as_ref()) {
        d = d.endpoint_url(e);
    }
    let mut s = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(o.path_style);
    if let Some(e) = o.s3_endpoint.as_ref().or(o.endpoint.as_ref()) {
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

/// What went wrong, for exit codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection, DNS, timeout: exit 3.
    Unreachable,
    /// Credentials refused or missing: exit 3.
    Credentials,
    /// Table or bucket missing.
    Missing,
    /// Anything else (per target: exit 1).
    Other,
}

const CREDENTIAL_CODES: [&str; 8] = [
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
];

pub fn classify<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Failure {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Failure::Unreachable,
        SdkError::ConstructionFailure(c) => {
            let msg = format!("{c:?}");
            if msg.contains("credential") || msg.contains("Credential") {
                Failure::Credentials
            } else {
                Failure::Other
            }
        }
        _ => match e.code() {
            Some(c) if CREDENTIAL_CODES.contains(&c) => Failure::Credentials,
            Some("ResourceNotFoundException" | "NoSuchBucket" | "NotFound") => Failure::Missing,
            _ => Failure::Other,
        },
    }
}

/// The raw HTTP response type of both SDKs.
pub type HttpResponse = aws_sdk_dynamodb::config::http::HttpResponse;

const RETRYABLE_CODES: [&str; 12] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Throttling, 5xx, 429, connection resets and timeouts are worth retrying.
pub fn is_retryable<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            matches!(status, Some(429 | 500..=599))
                || e.code().is_some_and(|c| RETRYABLE_CODES.contains(&c))
        }
    }
}

/// Did the connection itself fail to open (nothing listens there)? The SDK has already retried
/// such a request with its own backoff: retrying more only delays the verdict "unreachable".
pub fn refused<E: std::error::Error + 'static>(e: &SdkError<E, HttpResponse>) -> bool {
    if !matches!(e, SdkError::DispatchFailure(_)) {
        return false;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = src {
        if let Some(io) = x.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
        }
        if x.to_string().contains("Connection refused") {
            return true;
        }
        src = x.source();
    }
    false
}

/// Our attempts around each request (the SDK tries each of them up to 3 times itself).
pub const MAX_ATTEMPTS: u32 = 8;

/// 50 ms × 2^attempt, capped at 5 s, with full jitter.
pub fn backoff(attempt: u32) -> std::time::Duration {
    let cap = (50u64 << attempt.min(7)).min(5_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::time::Duration::from_millis(u64::from(nanos) % cap.max(1) + 1)
}

/// Sends a request (built afresh by `send` for each attempt) until it succeeds, fails for good,
/// or [`MAX_ATTEMPTS`] are spent, with backoff between attempts. Returns the last result and how
/// many attempts were retried.
pub async fn retry<T, E, F, Fut>(mut send: F) -> (Result<T, SdkError<E, HttpResponse>>, u32)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut retries = 0u32;
    loop {
        match send().await {
            Err(e) if retries + 1 < MAX_ATTEMPTS && is_retryable(&e) && !refused(&e) => {
                retries += 1;
                tokio::time::sleep(backoff(retries)).await;
            }
            r => return (r, retries),
        }
    }
}

/// A one-line description of an SDK error (code and message; never credentials).
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s.push_str(": ");
                s.push_str(&x.to_string());
                src = x.source();
            }
            s
        }
    }
}

/// Checks that the tables and bucket exist and are reachable before writing.
pub async fn health(
    c: &Clients,
    tables: &[&str],
    bucket: Option<&str>,
) -> Result<(), (Failure, String)> {
    for t in tables {
        let (r, _) = retry(|| c.dynamodb.describe_table().table_name(*t).send()).await;
        if let Err(e) = r {
            let f = classify(&e);
            let msg = match f {
                Failure::Missing => {
                    format!("DynamoDB table {t} does not exist: create it with `upload --init`")
                }
                Failure::Credentials => format!(
                    "DynamoDB refused the credentials ({}): check AWS_PROFILE / AWS_ACCESS_KEY_ID",
                    describe(&e)
                ),
                Failure::Unreachable => format!(
                    "DynamoDB endpoint unreachable ({}): check --endpoint-url / network",
                    describe(&e)
                ),
                Failure::Other => format!("DynamoDB table {t}: {}", describe(&e)),
            };
            return Err((f, msg));
        }
    }
    if let Some(b) = bucket {
        let (r, _) = retry(|| c.s3.head_bucket().bucket(b).send()).await;
        if let Err(e) = r {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let f = match (classify(&e), status) {
                (Failure::Other, Some(404)) => Failure::Missing,
                (Failure::Other, Some(403)) => Failure::Credentials,
                (f, _) => f,
            };
            let msg = match f {
                Failure::Missing => format!(
                    "S3 bucket {b} does not exist: create it with `upload --init --create-bucket`"
                ),
                Failure::Credentials => format!(
                    "S3 refused access to bucket {b}: check the credentials and the bucket policy"
                ),
                Failure::Unreachable => format!(
                    "S3 endpoint unreachable ({}): check --endpoint-url / network",
                    describe(&e)
                ),
                Failure::Other => format!("S3 bucket {b}: {}", describe(&e)),
            };
            return Err((f, msg));
        }
    }
    Ok(())
}

/// Creates the tables if missing (on-demand billing), enables TTL on `ttl`, and creates the
/// bucket when asked. Returns what was done, one line each.
pub async fn init(
    c: &Clients,
    tables: &[(&str, &str)],
    bucket: Option<&str>,
) -> Result<Vec<String>, (Failure, String)> {
    let mut done = Vec::new();
    for (table, pk) in tables {
        match c.dynamodb.describe_table().table_name(*table).send().await {
            Ok(_) => done.push(format!("table {table}: exists")),
            Err(e) if classify(&e) == Failure::Missing => {
                let attr = |n: &str| {
                    AttributeDefinition::builder()
                        .attribute_name(n)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("complete")
                };
                let key = |n: &str, k: KeyType| {
                    KeySchemaElement::builder()
                        .attribute_name(n)
                        .key_type(k)
                        .build()
                        .expect("complete")
                };
                c.dynamodb
                    .create_table()
                    .table_name(*table)
                    .attribute_definitions(attr(pk))
                    .attribute_definitions(attr("date"))
                    .key_schema(key(pk, KeyType::Hash))
                    .key_schema(key("date", KeyType::Range))
                    .billing_mode(BillingMode::PayPerRequest)
                    .send()
                    .await
                    .map_err(|e| {
                        (
                            classify(&e),
                            format!("creating table {table}: {}", describe(&e)),
                        )
                    })?;
                done.push(format!("table {table}: created ({pk}, date)"));
            }
            Err(e) => return Err((classify(&e), format!("table {table}: {}", describe(&e)))),
        }
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .expect("complete");
        match c
            .dynamodb
            .update_time_to_live()
            .table_name(*table)
            .time_to_live_specification(spec)
            .send()
            .await
        {
            Ok(_) => done.push(format!("table {table}: TTL on `ttl`")),
            // Already enabled is not an error.
            Err(e) if describe(&e).contains("already enabled") => {
                done.push(format!("table {table}: TTL already on"))
            }
            Err(e) => return Err((classify(&e), format!("TTL on {table}: {}", describe(&e)))),
        }
    }
    if let Some(b) = bucket {
        match c.s3.head_bucket().bucket(b).send().await {
            Ok(_) => done.push(format!("bucket {b}: exists")),
            Err(_) => {
                c.s3.create_bucket().bucket(b).send().await.map_err(|e| {
                    (
                        classify(&e),
                        format!("creating bucket {b}: {}", describe(&e)),
                    )
                })?;
                done.push(format!("bucket {b}: created"));
            }
        }
    }
    Ok(done)
}
