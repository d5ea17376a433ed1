//! What went wrong with a request, in the terms the top level acts on: [`Failure`] (and from
//! it the exit code), plus a one-line description that never shows credentials.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use cityflow::error::Exit;

use super::retry::HttpResponse;

/// What went wrong, for exit codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection, DNS, timeout, an answer cut mid-body: exit 3.
    Unreachable,
    /// Credentials refused or missing: exit 3.
    Credentials,
    /// Table or bucket missing: exit 2 (a configuration error).
    Missing,
    /// Anything else (per target: exit 1).
    Other,
}

/// A failure and its message.
pub type Failed = (Failure, String);

/// The message of work that never started because a signal stopped the run.
pub const INTERRUPTED: &str = "not started: the run was interrupted";

/// The failure of work that never started because a signal stopped the run.
pub fn interrupted() -> Failed {
    (Failure::Other, INTERRUPTED.to_string())
}

impl Failure {
    /// The exit code of a run stopped by this failure.
    pub fn exit(self) -> Exit {
        match self {
            Failure::Unreachable | Failure::Credentials => Exit::Backend,
            Failure::Missing => Exit::Usage,
            Failure::Other => Exit::Unclean,
        }
    }

    /// Unreachable endpoints and refused credentials stop a whole run: every other request
    /// would fail the same way.
    pub fn stops_the_run(self) -> bool {
        matches!(self, Failure::Unreachable | Failure::Credentials)
    }
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

/// Classifies an SDK error: by kind (no connection, timeout), by error code, then by HTTP
/// status for answers without a body (HEAD): 403 refused, 404 missing.
pub fn classify<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Failure {
    let by_code = match e {
        // No connection, no answer in time, or an answer cut before its end (after retries).
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            return Failure::Unreachable
        }
        SdkError::ConstructionFailure(c) => {
            let msg = format!("{c:?}");
            return if msg.contains("credential") || msg.contains("Credential") {
                Failure::Credentials
            } else {
                Failure::Other
            };
        }
        _ => match e.code() {
            Some(c) if CREDENTIAL_CODES.contains(&c) => Failure::Credentials,
            Some("ResourceNotFoundException" | "NoSuchBucket" | "NotFound") => Failure::Missing,
            _ => Failure::Other,
        },
    };
    match (by_code, e.raw_response().map(|r| r.status().as_u16())) {
        (Failure::Other, Some(403)) => Failure::Credentials,
        (Failure::Other, Some(404)) => Failure::Missing,
        (f, _) => f,
    }
}

/// A one-line description of an SDK error (code and message; never credentials: URLs it quotes
/// lose their userinfo, control characters are escaped, [`cityflow::shown::text`]).
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    cityflow::shown::text(&describe_raw(e), &[])
}

fn describe_raw<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
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

/// An error as (failure class, `<what>: <description>`).
pub fn failed<E>(what: &str, e: &SdkError<E, HttpResponse>) -> Failed
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    (classify(e), format!("{what}: {}", describe(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_exit_codes() {
        assert_eq!(Failure::Unreachable.exit() as u8, 3);
        assert_eq!(Failure::Credentials.exit() as u8, 3);
        assert_eq!(Failure::Missing.exit() as u8, 2);
        assert_eq!(Failure::Other.exit() as u8, 1);
        assert!(Failure::Unreachable.stops_the_run() && !Failure::Missing.stops_the_run());
    }
}
