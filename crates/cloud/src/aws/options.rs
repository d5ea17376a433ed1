//! The AWS flags every tool takes (one clap group, flattened into `upload`, `raw` and
//! `stations`), resolved into [`AwsOptions`]: region, endpoints, the one path-style rule, S3
//! checksums and the timeouts of every request.

use std::time::Duration;

use clap::Args;

/// Connect, per-attempt and whole-operation timeouts of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection (TCP and TLS).
    pub connect: Duration,
    /// One attempt of one request, from sending it to the first byte of the answer (a PUT, one
    /// part of a multipart upload, one ranged GET): never a whole file.
    pub read: Duration,
    /// One request with all its retries, ours and the SDK's.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            operation: Duration::from_secs(120),
        }
    }
}

/// Endpoint and client options, resolved from flags and environment.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: String,
    /// Shared endpoint (`--endpoint-url` / `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    pub dynamodb_endpoint: Option<String>,
    pub s3_endpoint: Option<String>,
    /// Path-style S3 addressing (see [`path_style`]).
    pub path_style: bool,
    /// Send S3 checksums (SHA-256 for single PUTs, CRC32 for parts); when off, Content-MD5
    /// instead (some S3-compatible stores reject the SDK's checksums).
    pub s3_checksums: bool,
    /// Explicit (access key, secret) instead of the credential chain (tests, tools).
    pub static_credentials: Option<(String, String)>,
    pub timeouts: Timeouts,
    /// The tool talks to DynamoDB too (`upload`), not only to S3: messages name both endpoints.
    pub uses_dynamodb: bool,
}

impl AwsOptions {
    /// The endpoint S3 requests go to (`None`: AWS itself).
    pub fn s3_endpoint(&self) -> Option<&str> {
        self.s3_endpoint.as_deref().or(self.endpoint.as_deref())
    }

    /// The endpoint DynamoDB requests go to (`None`: AWS itself).
    pub fn dynamodb_endpoint(&self) -> Option<&str> {
        self.dynamodb_endpoint
            .as_deref()
            .or(self.endpoint.as_deref())
    }

    /// Names both services' endpoints in ledgers: `aws:<region>`, or `<dynamodb>+<s3>` with
    /// `aws` for a service left on AWS. URLs without their userinfo ([`cityflow::shown::url`]):
    /// a ledger never holds a password.
    pub fn endpoint_id(&self) -> String {
        let shown = |e: Option<&str>| e.map_or_else(|| "aws".to_string(), cityflow::shown::url);
        match (self.dynamodb_endpoint(), self.s3_endpoint()) {
            (None, None) => format!("aws:{}", self.region),
            (d, s) => format!("{}+{}", shown(d), shown(s)),
        }
    }

    /// A custom endpoint serves at least one service (a local or S3-compatible store).
    pub fn custom_endpoint(&self) -> bool {
        self.s3_endpoint().is_some() || (self.uses_dynamodb && self.dynamodb_endpoint().is_some())
    }

    /// The S3 endpoint for messages: its URL without userinfo, or `AWS S3 (<region>)`.
    pub fn s3_shown(&self) -> String {
        self.s3_endpoint()
            .map_or_else(|| format!("AWS S3 ({})", self.region), cityflow::shown::url)
    }

    /// The DynamoDB endpoint for messages: its URL without userinfo, or `AWS DynamoDB (<region>)`.
    pub fn dynamodb_shown(&self) -> String {
        self.dynamodb_endpoint().map_or_else(
            || format!("AWS DynamoDB ({})", self.region),
            cityflow::shown::url,
        )
    }

    /// Every endpoint the tool talks to, for messages (never a password).
    pub fn endpoints_shown(&self) -> String {
        let (d, s) = (self.dynamodb_shown(), self.s3_shown());
        if !self.uses_dynamodb || d == s {
            s
        } else {
            format!("{d} and {s}")
        }
    }

    /// Names the S3 endpoint in ledgers: the endpoint URL without its userinfo, or
    /// `aws:<region>`.
    pub fn s3_endpoint_id(&self) -> String {
        self.s3_endpoint()
            .map(cityflow::shown::url)
            .unwrap_or_else(|| format!("aws:{}", self.region))
    }
}

/// The one path-style rule: on when a custom endpoint applies to S3 (`--s3-endpoint-url` or
/// `--endpoint-url`), unless `--no-path-style`. (Most S3-compatible stores want path-style;
/// AWS itself wants virtual-hosted addressing.)
pub fn path_style(endpoint: Option<&str>, s3_endpoint: Option<&str>, no_path_style: bool) -> bool {
    s3_endpoint.or(endpoint).is_some() && !no_path_style
}

/// `5`, `2.5`, `5s`, `500ms`, `2m`: a positive duration (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => {
            return Err(format!(
                "{s:?}: a duration is seconds, or a number with ms, s or m"
            ))
        }
    };
    match num.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(Duration::from_secs_f64(n * scale)),
        _ => Err(format!(
            "{s:?}: a duration is a positive number (e.g. 30, 30s, 500ms)"
        )),
    }
}

/// The AWS flags of every tool (S3 side; `upload` adds its DynamoDB endpoint).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    #[arg(long, env = "AWS_REGION", default_value = "eu-west-3")]
    pub region: String,
    /// Endpoint of every service (AWS-compatible stores: SeaweedFS, MinIO, Garage,
    /// LocalStack; local servers).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// S3 endpoint (before --endpoint-url for S3).
    #[arg(long, env = "AWS_ENDPOINT_URL_S3", value_name = "URL")]
    pub s3_endpoint_url: Option<String>,
    /// Virtual-hosted S3 addressing even with a custom endpoint (path-style by default there).
    #[arg(long)]
    pub no_path_style: bool,
    /// `on`: S3 checksums on every request (SHA-256, CRC32 for parts); `off`: Content-MD5
    /// (stores that reject the SDK's checksums).
    #[arg(long, env = "CITYFLOW_S3_CHECKSUMS", default_value = "on", value_parser = ["on", "off"])]
    pub s3_checksums: String,
    /// Opening a connection, at most (e.g. 5, 5s, 500ms).
    #[arg(long, env = "CITYFLOW_CONNECT_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// One attempt of one request (a PUT, a part, a ranged GET) until its answer starts.
    #[arg(long, env = "CITYFLOW_READ_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub read_timeout: Duration,
    /// One request with all its retries.
    #[arg(long, env = "CITYFLOW_OPERATION_TIMEOUT", value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub operation_timeout: Duration,
}

impl AwsArgs {
    /// The options, with `dynamodb_endpoint` for the tools that talk to DynamoDB.
    pub fn options(&self, dynamodb_endpoint: Option<String>) -> AwsOptions {
        AwsOptions {
            region: self.region.clone(),
            endpoint: self.endpoint_url.clone(),
            dynamodb_endpoint,
            s3_endpoint: self.s3_endpoint_url.clone(),
            path_style: path_style(
                self.endpoint_url.as_deref(),
                self.s3_endpoint_url.as_deref(),
                self.no_path_style,
            ),
            s3_checksums: self.s3_checksums == "on",
            static_credentials: None,
            uses_dynamodb: false,
            timeouts: Timeouts {
                connect: self.connect_timeout,
                read: self.read_timeout,
                operation: self.operation_timeout,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        aws: AwsArgs,
    }

    fn options(args: &[&str]) -> AwsOptions {
        let mut all = vec!["t"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().aws.options(None)
    }

    #[test]
    fn path_style_is_on_exactly_when_a_custom_endpoint_serves_s3() {
        assert!(!path_style(None, None, false));
        assert!(path_style(Some("http://x"), None, false));
        assert!(path_style(None, Some("http://x"), false));
        assert!(path_style(Some("http://x"), Some("http://y"), false));
        assert!(!path_style(Some("http://x"), Some("http://y"), true));
        assert!(!path_style(None, None, true));
        // Through the flags: a DynamoDB-only endpoint leaves S3 on AWS, virtual-hosted.
        let aws = options(&["--region", "eu-west-3"]);
        assert!(!aws.path_style);
        assert_eq!(aws.s3_endpoint_id(), "aws:eu-west-3");
        let o = options(&["--s3-endpoint-url", "http://127.0.0.1:8333"]);
        assert!(o.path_style);
        assert!(!options(&["--endpoint-url", "http://h:1", "--no-path-style"]).path_style);
        let d = aws.clone();
        let d = AwsOptions {
            dynamodb_endpoint: Some("http://d:8000".into()),
            ..d
        };
        assert!(!d.path_style);
        assert_eq!(d.endpoint_id(), "http://d:8000+aws");
        assert_eq!(o.endpoint_id(), "aws+http://127.0.0.1:8333");
        assert_eq!(aws.endpoint_id(), "aws:eu-west-3");
        // Ledgers never hold the userinfo of an endpoint.
        let o = options(&["--endpoint-url", "http://user:p?a@ss@h:1"]);
        assert_eq!(o.s3_endpoint_id(), "http://***@h:1");
        assert_eq!(o.endpoint_id(), "http://***@h:1+http://***@h:1");
    }

    #[test]
    fn timeouts_have_defaults_flags_and_units() {
        let o = options(&[]);
        assert_eq!(o.timeouts, Timeouts::default());
        assert_eq!(o.timeouts.connect, Duration::from_secs(5));
        assert_eq!(o.timeouts.read, Duration::from_secs(30));
        assert_eq!(o.timeouts.operation, Duration::from_secs(120));
        let o = options(&[
            "--connect-timeout",
            "500ms",
            "--read-timeout",
            "2.5",
            "--operation-timeout",
            "2m",
        ]);
        assert_eq!(o.timeouts.connect, Duration::from_millis(500));
        assert_eq!(o.timeouts.read, Duration::from_millis(2500));
        assert_eq!(o.timeouts.operation, Duration::from_secs(120));
        for bad in ["0", "-1", "soon", "5h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(Cli::try_parse_from(["t", "--read-timeout", "0s"]).is_err());
    }
}
