//! The retry policy of every request: the SDK's standard retries inside each call
//! ([`sdk_retry_config`]), and [`retry`] around it, which tries again what is worth trying
//! again (throttling, 5xx, 429, resets, timeouts; never another 4xx) with jittered backoff,
//! within the operation timeout: no call outlives it.

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The raw HTTP response type of both SDKs.
pub type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

/// Attempts of the SDK itself within one call (its standard mode: backoff, retry quota).
pub const SDK_ATTEMPTS: u32 = 3;

/// Our attempts around each call (each of them made of up to [`SDK_ATTEMPTS`]).
pub const MAX_ATTEMPTS: u32 = 8;

pub fn sdk_retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS)
}

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

/// Throttling, 5xx, 429, connection resets and timeouts are worth retrying; other 4xx are not.
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

/// 50 ms × 2^attempt, capped at 5 s, with full jitter.
pub fn backoff(attempt: u32) -> Duration {
    let cap = (50u64 << attempt.min(7)).min(5_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(u64::from(nanos) % cap.max(1) + 1)
}

/// How long one call may take, retries included: the operation timeout of the client.
pub trait TimeBudget {
    fn operation_timeout(&self) -> Duration;
}

impl TimeBudget for Duration {
    fn operation_timeout(&self) -> Duration {
        *self
    }
}

fn configured(t: Option<&aws_config::timeout::TimeoutConfig>) -> Duration {
    t.and_then(|t| t.operation_timeout())
        .unwrap_or(super::options::Timeouts::default().operation)
}

impl TimeBudget for aws_sdk_s3::Client {
    fn operation_timeout(&self) -> Duration {
        configured(self.config().timeout_config())
    }
}

impl TimeBudget for aws_sdk_dynamodb::Client {
    fn operation_timeout(&self) -> Duration {
        configured(self.config().timeout_config())
    }
}

/// The error of a call that ran out of its time: how long, and the flags that set it.
#[derive(Debug)]
struct OutOfTime(Duration, &'static str);

impl std::fmt::Display for OutOfTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no answer within {:.1} s ({})",
            self.0.as_secs_f64(),
            self.1
        )
    }
}

impl std::error::Error for OutOfTime {}

/// Sends a request (built afresh by `send` for each attempt) until it succeeds, fails for good,
/// [`MAX_ATTEMPTS`] are spent or the operation timeout of `budget` is, with backoff between
/// attempts. Returns the last result and how many attempts were retried.
pub async fn retry<T, E, F, Fut>(
    budget: &impl TimeBudget,
    send: F,
) -> (Result<T, SdkError<E, HttpResponse>>, u32)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let why = "--operation-timeout / CITYFLOW_OPERATION_TIMEOUT";
    retry_within(budget.operation_timeout(), why, send).await
}

/// How long a check before the first write (a table, a bucket: one small request) may take:
/// one attempt's read timeout plus the connect timeout, within the operation timeout. A silent
/// endpoint is reported after about one read timeout, not after the whole operation budget.
pub fn check_budget(t: &super::options::Timeouts) -> Duration {
    (t.connect + t.read).min(t.operation)
}

fn timeouts_of(t: Option<&aws_config::timeout::TimeoutConfig>) -> super::options::Timeouts {
    let d = super::options::Timeouts::default();
    super::options::Timeouts {
        connect: t.and_then(|t| t.connect_timeout()).unwrap_or(d.connect),
        read: t.and_then(|t| t.read_timeout()).unwrap_or(d.read),
        operation: configured(t),
    }
}

/// The timeouts an S3 client was built with.
pub fn s3_timeouts(c: &aws_sdk_s3::Client) -> super::options::Timeouts {
    timeouts_of(c.config().timeout_config())
}

/// The timeouts a DynamoDB client was built with.
pub fn dynamodb_timeouts(c: &aws_sdk_dynamodb::Client) -> super::options::Timeouts {
    timeouts_of(c.config().timeout_config())
}

/// [`retry`] within [`check_budget`]: the checks before the first write.
pub async fn retry_check<T, E, F, Fut>(
    t: &super::options::Timeouts,
    send: F,
) -> (Result<T, SdkError<E, HttpResponse>>, u32)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let why = "--connect-timeout + --read-timeout";
    retry_within(check_budget(t), why, send).await
}

async fn retry_within<T, E, F, Fut>(
    limit: Duration,
    why: &'static str,
    mut send: F,
) -> (Result<T, SdkError<E, HttpResponse>>, u32)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut retries = 0u32;
    loop {
        let Ok(r) = tokio::time::timeout_at(deadline, send()).await else {
            return (Err(SdkError::timeout_error(OutOfTime(limit, why))), retries);
        };
        match r {
            Err(e) if retries + 1 < MAX_ATTEMPTS && is_retryable(&e) && !refused(&e) => {
                let pause = backoff(retries + 1);
                if tokio::time::Instant::now() + pause >= deadline {
                    return (Err(e), retries);
                }
                retries += 1;
                tokio::time::sleep(pause).await;
            }
            r => return (r, retries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::head_bucket::HeadBucketError;
    use aws_sdk_s3::primitives::SdkBody;

    type E = SdkError<HeadBucketError, HttpResponse>;

    fn answer(status: u16, code: Option<&str>) -> E {
        let mut meta = ErrorMetadata::builder();
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(HeadBucketError::generic(meta.build()), raw)
    }

    fn refused_connection() -> E {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        SdkError::dispatch_failure(ConnectorError::io(Box::new(io)))
    }

    #[test]
    fn throttling_and_server_errors_are_retried_client_errors_are_not() {
        for (status, code) in [
            (500, None),
            (502, None),
            (503, Some("SlowDown")),
            (429, None),
            (400, Some("ThrottlingException")),
            (400, Some("ProvisionedThroughputExceededException")),
            (400, Some("RequestLimitExceeded")),
            (400, Some("RequestTimeout")),
        ] {
            assert!(is_retryable(&answer(status, code)), "{status} {code:?}");
        }
        for (status, code) in [
            (400, Some("ValidationException")),
            (403, Some("AccessDenied")),
            (404, Some("NoSuchBucket")),
            (404, None),
            (409, Some("BucketAlreadyOwnedByYou")),
            (412, Some("PreconditionFailed")),
        ] {
            assert!(!is_retryable(&answer(status, code)), "{status} {code:?}");
        }
        let t: E = SdkError::timeout_error("slow");
        assert!(is_retryable(&t));
        assert!(is_retryable(&refused_connection()) && refused(&refused_connection()));
        assert!(!refused(&answer(503, None)));
    }

    #[test]
    fn failures_are_classified_by_kind_code_and_status() {
        use crate::aws::failure::{classify, Failure};
        assert_eq!(classify(&refused_connection()), Failure::Unreachable);
        assert_eq!(classify(&E::timeout_error("slow")), Failure::Unreachable);
        assert_eq!(classify(&answer(403, None)), Failure::Credentials);
        assert_eq!(
            classify(&answer(400, Some("InvalidAccessKeyId"))),
            Failure::Credentials
        );
        assert_eq!(classify(&answer(404, None)), Failure::Missing);
        assert_eq!(
            classify(&answer(400, Some("ResourceNotFoundException"))),
            Failure::Missing
        );
        assert_eq!(classify(&answer(503, Some("SlowDown"))), Failure::Other);
    }

    fn attempts_of(err: fn() -> E, budget: Duration) -> (u32, u32) {
        let rt = crate::aws::client::runtime().unwrap();
        let mut n = 0;
        let (r, retries) = rt.block_on(retry(&budget, || {
            n += 1;
            let e = err();
            async move { Err::<(), E>(e) }
        }));
        assert!(r.is_err());
        (n, retries)
    }

    #[test]
    fn retry_stops_at_a_client_error_a_refusal_or_the_attempt_limit() {
        assert_eq!(
            attempts_of(
                || answer(403, Some("AccessDenied")),
                Duration::from_secs(60)
            ),
            (1, 0)
        );
        assert_eq!(
            attempts_of(refused_connection, Duration::from_secs(60)),
            (1, 0)
        );
        let (n, retries) = attempts_of(|| answer(503, Some("SlowDown")), Duration::from_secs(60));
        assert_eq!((n, retries), (MAX_ATTEMPTS, MAX_ATTEMPTS - 1));
    }

    #[test]
    fn retry_never_outlives_the_operation_timeout() {
        let t0 = std::time::Instant::now();
        let (n, _) = attempts_of(|| answer(500, None), Duration::from_millis(300));
        assert!((1..MAX_ATTEMPTS).contains(&n), "{n}");
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        // A call that hangs is cut at the deadline, as a timeout.
        let rt = crate::aws::client::runtime().unwrap();
        let t0 = std::time::Instant::now();
        let (r, _) = rt.block_on(retry(&Duration::from_millis(200), || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<(), E>(())
        }));
        let e = r.unwrap_err();
        assert!(matches!(e, SdkError::TimeoutError(_)));
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert!(crate::aws::failure::describe(&e).contains("--operation-timeout"));
    }
}
