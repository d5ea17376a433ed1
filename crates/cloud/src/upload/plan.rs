//! The plan: what each selected target needs, computed the same way for `--dry-run` and for the
//! real run (`+` new, `*` changed, `=` unchanged, `!` error). Pure.

use super::ledger::Ledger;
use super::select::{Invalid, Kind, Local, PARQUET_TYPE};
use crate::plan::Action;
use cityflow::output::sha256_hex;

/// Where things go.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Identifies the endpoint in the ledger (`aws:<region>` or the endpoint URL).
    pub id: String,
    pub metrics_table: String,
    pub reports_table: String,
    pub bucket: String,
    pub reports_prefix: String,
    pub ttl_days: u32,
    /// Where the analytics tables go: `s3://<bucket>/<prefix>/<table>/date=<day>/part-0.parquet`.
    pub analytics_bucket: String,
    pub analytics_prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Remote {
    Item {
        table: String,
        pk_name: &'static str,
        pk: String,
        date: String,
    },
    Object {
        bucket: String,
        key: String,
        content_type: &'static str,
    },
}

impl Remote {
    pub fn describe(&self) -> String {
        match self {
            Remote::Item {
                table, pk, date, ..
            } => format!("dynamodb {table} {pk} {date}"),
            Remote::Object { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// One line of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    /// Ledger key (`<destination>|<target>`).
    pub key: String,
    pub rel: String,
    pub remote: Option<Remote>,
    pub hash: String,
    pub bytes: u64,
    pub error: Option<String>,
    pub local: Option<Local>,
}

/// Options that change what is planned.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub force: bool,
    /// Only the targets that failed last time.
    pub retry_failed: bool,
}

pub fn remote_of(l: &Local, d: &Destination) -> Remote {
    let date = l.date.to_string();
    match &l.kind {
        Kind::Metric { metric_type } => Remote::Item {
            table: d.metrics_table.clone(),
            pk_name: "metric_type",
            pk: metric_type.clone(),
            date,
        },
        Kind::Report => Remote::Item {
            table: d.reports_table.clone(),
            pk_name: "report_id",
            pk: format!("daily_report_{date}"),
            date,
        },
        Kind::ReportFile { content_type } => {
            let name = l.rel.rsplit('/').next().unwrap_or(&l.rel);
            Remote::Object {
                bucket: d.bucket.clone(),
                key: prefixed(&d.reports_prefix, name),
                content_type,
            }
        }
        Kind::Analytics { table } => {
            let name = cityflow::output::OutputName::Analytics {
                table: table.clone(),
                date: l.date,
            };
            let rel = name.rel_path();
            let below = rel.strip_prefix("analytics/").unwrap_or(&rel);
            Remote::Object {
                bucket: d.analytics_bucket.clone(),
                key: prefixed(&d.analytics_prefix, below),
                content_type: PARQUET_TYPE,
            }
        }
    }
}

/// `<prefix>/<name>`, or `<name>` with an empty prefix (slashes around the prefix dropped).
fn prefixed(prefix: &str, name: &str) -> String {
    match prefix.trim_matches('/') {
        "" => name.to_string(),
        p => format!("{p}/{name}"),
    }
}

/// Builds the plan for the selected local files (and the invalid ones, as errors).
pub fn plan(
    locals: Vec<Local>,
    invalid: Vec<Invalid>,
    d: &Destination,
    ledger: &Ledger,
    o: PlanOptions,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for l in locals {
        let remote = remote_of(&l, d);
        let target = match &remote {
            Remote::Item {
                table, pk, date, ..
            } => format!("dynamodb/{table}/{pk}/{date}"),
            Remote::Object { bucket, key, .. } => format!("s3/{bucket}/{key}"),
        };
        let key = format!("{}|{target}", d.id);
        if o.retry_failed && !ledger.failed.contains(&key) {
            continue;
        }
        // What is written depends on the content and, for items, on the TTL setting.
        let hash = match remote {
            Remote::Item { .. } => {
                sha256_hex(format!("{}|ttl={}", l.content_hash, d.ttl_days).as_bytes())
            }
            Remote::Object { .. } => l.content_hash.clone(),
        };
        let action = match ledger.written.get(&key) {
            _ if o.force => Action::Changed,
            None => Action::New,
            Some(e) if e.hash == hash => Action::Unchanged,
            Some(_) => Action::Changed,
        };
        steps.push(Step {
            action,
            key,
            rel: l.rel.clone(),
            remote: Some(remote),
            hash,
            bytes: l.body.len() as u64,
            error: None,
            local: Some(l),
        });
    }
    // Targets that will be written are parsed and checked now, so that the dry-run shows the
    // same errors as the real run.
    {
        use rayon::prelude::*;
        steps
            .par_iter_mut()
            .filter(|st| matches!(st.action, Action::New | Action::Changed))
            .for_each(|st| {
                if let Some(l) = st.local.as_mut() {
                    if let Err(e) = super::select::validate(l) {
                        st.action = Action::Error;
                        st.error = Some(e);
                    }
                }
            });
    }
    for i in invalid {
        steps.push(Step {
            action: Action::Error,
            key: String::new(),
            rel: i.rel,
            remote: None,
            hash: String::new(),
            bytes: 0,
            error: Some(i.reason),
            local: None,
        });
    }
    steps
}
