//! Health checks before writing (vector's sinks): the tables and the bucket exist and the
//! credentials are accepted, or a message a person can act on (403, 404, unreachable).

use aws_sdk_s3::error::ProvideErrorMetadata;

use super::failure::{classify, describe, failed, Failed, Failure};
use super::retry::{dynamodb_timeouts, retry, retry_check, s3_timeouts};
use cityflow::shown;

/// What to tell a person about a missing bucket: where its name comes from, how to create it.
#[derive(Debug, Clone, Copy)]
pub struct BucketHint {
    /// `--bucket / S3_RAW_BUCKET`
    pub name_from: &'static str,
    /// "create it with `raw push --create-bucket`"
    pub create: &'static str,
}

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Existed,
    Created,
}

/// Checks the bucket at the S3 endpoint `at` (for messages); creates it when it is missing and
/// `create` says so. Says what it checks first (stderr), and gives up within the connect +
/// read timeouts ([`retry_check`]).
pub async fn bucket(
    s3: &aws_sdk_s3::Client,
    at: &str,
    name: &str,
    create: bool,
    hint: &BucketHint,
) -> Result<Bucket, Failed> {
    tracing::info!("checking S3 bucket {} at {at} ...", shown::name(name));
    let t = s3_timeouts(s3);
    let (r, _) = retry_check(&t, || s3.head_bucket().bucket(name).send()).await;
    let Err(e) = r else {
        return Ok(Bucket::Existed);
    };
    let f = classify(&e);
    if f == Failure::Missing && create {
        return create_bucket(s3, name).await.map(|()| Bucket::Created);
    }
    Err((f, bucket_message(at, name, f, &describe(&e), hint)))
}

fn bucket_message(at: &str, b: &str, f: Failure, detail: &str, hint: &BucketHint) -> String {
    let b = shown::name(b);
    match f {
        Failure::Missing => format!(
            "S3 bucket {b} does not exist at {at} (check {}): {}",
            hint.name_from, hint.create
        ),
        Failure::Credentials => format!(
            "S3 at {at} refused access to bucket {b} ({detail}): check AWS_PROFILE / \
             AWS_ACCESS_KEY_ID and the bucket policy"
        ),
        Failure::Unreachable => format!(
            "S3 endpoint unreachable: {at}, checking bucket {b} ({detail}): check \
             --endpoint-url / network"
        ),
        Failure::Other => format!("S3 bucket {b} at {at}: {detail}"),
    }
}

async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str) -> Result<(), Failed> {
    let (r, _) = retry(s3, || s3.create_bucket().bucket(name).send()).await;
    match r {
        Ok(_) => Ok(()),
        // A retried request whose first attempt went through.
        Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) => Err(failed(&format!("creating bucket {name}"), &e)),
    }
}

/// Whether the caller owns the bucket: ListBuckets lists only the caller's own buckets (a
/// bucket of the same name owned by someone else is not in it).
pub async fn owned(s3: &aws_sdk_s3::Client, at: &str, name: &str) -> Result<bool, Failed> {
    tracing::info!(
        "checking that the caller owns S3 bucket {} at {at} ...",
        shown::name(name)
    );
    let t = s3_timeouts(s3);
    let (r, _) = retry_check(&t, || s3.list_buckets().send()).await;
    match r {
        Ok(o) => Ok(o.buckets().iter().any(|b| b.name() == Some(name))),
        Err(e) => {
            let f = classify(&e);
            let what = format!("listing the caller's buckets at {at}");
            Err((f, format!("{what}: {}", describe(&e))))
        }
    }
}

/// Checks that the tables exist and answer at the DynamoDB endpoint `at` (for messages);
/// `create` says how to create a missing one. Says what it checks first (stderr), and gives up
/// within the connect + read timeouts ([`retry_check`]).
pub async fn tables(
    c: &aws_sdk_dynamodb::Client,
    at: &str,
    tables: &[&str],
    create: &str,
) -> Result<(), Failed> {
    let t = dynamodb_timeouts(c);
    for table in tables {
        tracing::info!("checking DynamoDB table {} at {at} ...", shown::name(table));
        let (r, _) = retry_check(&t, || c.describe_table().table_name(*table).send()).await;
        if let Err(e) = r {
            let f = classify(&e);
            return Err((f, table_message(at, table, f, &describe(&e), create)));
        }
    }
    Ok(())
}

fn table_message(at: &str, t: &str, f: Failure, detail: &str, create: &str) -> String {
    let t = shown::name(t);
    match f {
        Failure::Missing => format!("DynamoDB table {t} does not exist at {at}: {create}"),
        Failure::Credentials => format!(
            "DynamoDB at {at} refused the credentials ({detail}): check AWS_PROFILE / \
             AWS_ACCESS_KEY_ID"
        ),
        Failure::Unreachable => format!(
            "DynamoDB endpoint unreachable: {at}, checking table {t} ({detail}): check \
             --endpoint-url / network"
        ),
        Failure::Other => format!("DynamoDB table {t} at {at}: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::client::{clients, runtime};
    use crate::aws::options::{AwsOptions, Timeouts};
    use std::time::{Duration, Instant};

    const HINT: BucketHint = BucketHint {
        name_from: "--bucket / S3_X",
        create: "create it with `x --create-bucket`",
    };

    fn options(endpoint: String, timeouts: Timeouts) -> AwsOptions {
        AwsOptions {
            region: "us-east-1".into(),
            endpoint: Some(endpoint),
            path_style: true,
            s3_checksums: true,
            static_credentials: Some(("key".into(), "secret".into())),
            timeouts,
            ..AwsOptions::default()
        }
    }

    /// A server that accepts connections and never answers: every request must end, as
    /// unreachable (exit 3), within the operation timeout: never a hang.
    #[test]
    fn an_endpoint_that_never_answers_is_unreachable_within_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for c in listener.incoming() {
                held.push(c);
            }
        });
        let t = Timeouts {
            connect: Duration::from_secs(1),
            read: Duration::from_millis(400),
            operation: Duration::from_millis(1500),
        };
        let rt = runtime().unwrap();
        let c = rt.block_on(clients(&options(url, t)));
        let t0 = Instant::now();
        let (f, msg) = rt
            .block_on(bucket(&c.s3, "http://h", "b", false, &HINT))
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(f, Failure::Unreachable, "{msg}");
        assert_eq!(f.exit() as u8, 3);
        assert!(msg.contains("S3 endpoint unreachable"), "{msg}");
        assert!(took < Duration::from_secs(4), "{took:?}: {msg}");
        let t0 = Instant::now();
        let (f, msg) = rt
            .block_on(tables(&c.dynamodb, "http://h", &["t"], "create it"))
            .unwrap_err();
        assert_eq!(f, Failure::Unreachable, "{msg}");
        assert!(msg.contains("DynamoDB endpoint unreachable"), "{msg}");
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    }

    #[test]
    fn nothing_listening_is_unreachable_at_once() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let rt = runtime().unwrap();
        let c = rt.block_on(clients(&options(
            format!("http://127.0.0.1:{port}"),
            Timeouts::default(),
        )));
        let t0 = Instant::now();
        let (f, msg) = rt
            .block_on(bucket(&c.s3, "http://h", "b", true, &HINT))
            .unwrap_err();
        assert_eq!(f, Failure::Unreachable, "{msg}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    }

    #[test]
    fn messages_say_what_to_do() {
        let m = |f| bucket_message("http://h:1", "b", f, "Code: text", &HINT);
        assert_eq!(
            m(Failure::Missing),
            "S3 bucket b does not exist at http://h:1 (check --bucket / S3_X): create it with \
             `x --create-bucket`"
        );
        assert!(m(Failure::Credentials).contains("check AWS_PROFILE / AWS_ACCESS_KEY_ID"));
        assert!(m(Failure::Unreachable).contains("check --endpoint-url / network"));
        assert!(m(Failure::Unreachable)
            .starts_with("S3 endpoint unreachable: http://h:1, checking bucket b"));
        assert_eq!(m(Failure::Other), "S3 bucket b at http://h:1: Code: text");
        let t = table_message("http://d:2", "t", Failure::Unreachable, "x", "");
        assert!(
            t.starts_with("DynamoDB endpoint unreachable: http://d:2, checking table t"),
            "{t}"
        );
    }
}
