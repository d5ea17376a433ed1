//! Where each destination name of `upload` came from (flag, environment, `.env`, default),
//! printed before the first write so a forgotten variable shows.

use clap::parser::ValueSource;
use clap::CommandFactory;

use super::{Settings, UploadArgs};

/// Where the value of the flag `id` (its field name) came from: `flag --x`, `env X`,
/// `.env line N (X)`, `default`, or `given` when the flags were not parsed by
/// [`cityflow::cli::parse`] (a library call).
pub fn of(id: &str) -> String {
    let Some(m) = cityflow::cli::matches() else {
        return "given".into();
    };
    let cmd = UploadArgs::command();
    let arg = cmd.get_arguments().find(|a| a.get_id() == id);
    let long = arg.and_then(|a| a.get_long()).unwrap_or(id);
    let var = arg
        .and_then(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned());
    match (m.value_source(id), var) {
        (Some(ValueSource::CommandLine), _) => format!("flag --{long}"),
        (Some(ValueSource::EnvVariable), Some(v)) => match cityflow::cli::dotenv::set_by_file(&v) {
            Some(at) => format!("{v} from {at}"),
            None => format!("env {v}"),
        },
        (Some(ValueSource::DefaultValue), _) => "default".into(),
        _ => "given".into(),
    }
}

/// The flag `id` took its default value (neither a flag nor a variable set it).
pub fn is_default(id: &str) -> bool {
    cityflow::cli::matches().is_some_and(|m| m.value_source(id) == Some(ValueSource::DefaultValue))
}

/// The destinations, one line each with where the name came from.
pub fn destinations(s: &Settings) -> Vec<String> {
    let d = &s.destination;
    let (dynamodb, s3) = (s.aws.dynamodb_shown(), s.aws.s3_shown());
    vec![
        format!(
            "metrics table {} at {dynamodb} ({})",
            cityflow::shown::name(&d.metrics_table),
            of("metrics_table")
        ),
        format!(
            "reports table {} at {dynamodb} ({})",
            cityflow::shown::name(&d.reports_table),
            of("reports_table")
        ),
        format!(
            "reports bucket s3://{}/{} at {s3} ({})",
            cityflow::shown::name(&d.bucket),
            cityflow::shown::name(&d.reports_prefix),
            of("bucket")
        ),
    ]
}
