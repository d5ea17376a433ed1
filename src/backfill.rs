//! The `shards` command: the plan of [`crate::shards::plan`] printed as a table, as JSON, or as
//! shell variables for one shard (what `deploy/shard.sh` evaluates).

use chrono::NaiveDate;
use clap::{Parser, ValueEnum};
use serde::Serialize;

use crate::cli::parse_date;
use crate::error::Exit;
use crate::shards::{plan, Shard, LOOKBACK_DAYS};

const EXAMPLES: &str = "\
Examples:
  shards --from 2024-01-01 --to 2024-12-31 --count 12               the table of 12 shards
  shards --from 2024-01-01 --to 2024-12-31 --count 12 --format json  the same as a JSON array
  eval \"$(shards --from 2024-01-01 --to 2024-12-31 --count 12 --index 3 --format env)\"
      sets SHARD_INDEX SHARD_COUNT SHARD_FROM SHARD_TO SHARD_READ_FROM SHARD_EMPTY
  process --from \"$SHARD_FROM\" --to \"$SHARD_TO\"      writes the days of shard 3 (reads from SHARD_READ_FROM)

A shard writes the days FROM..TO and reads from READ_FROM = FROM - 8 days (the daily report compares
with the week before, whose bike figures look back one more day). A range of fewer days than
--count has as many shards as days: a larger --index has nothing to do (exit 0, SHARD_EMPTY=1).

Exit codes:
  0  the plan was printed (or the shard has nothing to do: said on stderr)
  2  usage error (bad date, --from after --to, --count 0, --format env without --index)
  4  the plan could not be written to stdout";

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table, one shard a line.
    Text,
    /// An array of {index, count, from, to, read_from, days}.
    Json,
    /// `NAME=value` lines for one shard (needs --index), safe to `eval`.
    Env,
}

/// `shards`: cut a date range into adjacent shards for a backfill (offline, no network).
#[derive(Debug, Parser)]
#[command(name = "shards", version, about, long_about = None, after_help = EXAMPLES)]
pub struct ShardsArgs {
    /// First day of the range (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last day of the range (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: NaiveDate,
    /// Number of shards wanted (fewer when the range has fewer days).
    #[arg(long, value_name = "N")]
    pub count: usize,
    /// Only this shard (0-based, as JOB_COMPLETION_INDEX and AWS_BATCH_JOB_ARRAY_INDEX).
    #[arg(long, value_name = "K")]
    pub index: Option<usize>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Serialize)]
struct Row {
    index: usize,
    count: usize,
    from: String,
    to: String,
    read_from: String,
    days: u64,
}

impl From<&Shard> for Row {
    fn from(s: &Shard) -> Row {
        Row {
            index: s.index,
            count: s.count,
            from: s.from.to_string(),
            to: s.to.to_string(),
            read_from: s.read_from.to_string(),
            days: s.days(),
        }
    }
}

/// What `shards` prints on stdout for `args` (the plan, or one shard of it), or a usage error;
/// the second member says, for an index past the plan, that it has nothing to do.
pub fn render(args: &ShardsArgs) -> Result<(String, Option<String>), String> {
    if args.format == Format::Env && args.index.is_none() {
        return Err("--format env prints one shard: give --index K".into());
    }
    let all = plan(args.from, args.to, args.count)?;
    let planned = all.len();
    let chosen: Vec<&Shard> = match args.index {
        Some(k) => all.iter().filter(|s| s.index == k).collect(),
        None => all.iter().collect(),
    };
    let empty = match args.index {
        Some(k) if chosen.is_empty() => Some(format!(
            "nothing to do for shard {k}: {}..{} has {planned} day(s), so {planned} shard(s) \
             (0..{})",
            args.from,
            args.to,
            planned - 1
        )),
        _ => None,
    };
    let out = match args.format {
        Format::Json => {
            let rows: Vec<Row> = chosen.into_iter().map(Row::from).collect();
            let mut t = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
            t.push('\n');
            t
        }
        Format::Env => match chosen.first() {
            Some(s) => format!(
                "SHARD_INDEX={}\nSHARD_COUNT={}\nSHARD_FROM={}\nSHARD_TO={}\nSHARD_READ_FROM={}\n\
                 SHARD_EMPTY=0\n",
                s.index, s.count, s.from, s.to, s.read_from
            ),
            None => format!(
                "SHARD_INDEX={}\nSHARD_COUNT={planned}\nSHARD_EMPTY=1\n",
                args.index.unwrap_or_default()
            ),
        },
        Format::Text => table(&chosen, planned),
    };
    Ok((out, empty))
}

fn table(shards: &[&Shard], planned: usize) -> String {
    let mut t = format!(
        "{:>5}  {:<10}  {:<10}  {:<10}  {:>4}\n",
        "shard", "from", "to", "read_from", "days"
    );
    for s in shards {
        t.push_str(&format!(
            "{:>5}  {}  {}  {}  {:>4}\n",
            s.index,
            s.from,
            s.to,
            s.read_from,
            s.days()
        ));
    }
    t.push_str(&format!(
        "{planned} shard(s); each reads from {LOOKBACK_DAYS} days before its first day\n"
    ));
    t
}

/// The `shards` command: prints the plan; the exit code.
pub fn command(args: &ShardsArgs) -> Exit {
    use std::io::Write;
    let (out, empty) = match render(args) {
        Ok(r) => r,
        Err(e) => {
            crate::cli::eprint_text(&format!("error: {e}\n"));
            return Exit::Usage;
        }
    };
    if let Some(m) = empty {
        crate::cli::eprint_text(&format!("{m}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Exit::Clean,
        Err(e) => {
            crate::cli::eprint_text(&format!("error: cannot write the plan to stdout: {e}\n"));
            Exit::Output
        }
    }
}
