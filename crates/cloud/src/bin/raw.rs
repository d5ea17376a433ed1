//! `raw`: `raw pull` / `raw push` between the raw zone in S3 and local folders (see `raw --help`).

use std::process::ExitCode;

use cityflow::cli::load_dotenv;
use cityflow_cloud::transfer::{self, PullSettings, PushSettings, RawArgs, RawCommand};
use clap::Parser;

fn main() -> ExitCode {
    load_dotenv();
    let args = RawArgs::parse();
    let t = match &args.command {
        RawCommand::Pull(p) => &p.transfer,
        RawCommand::Push(p) => &p.transfer,
    };
    let (json, quiet) = (t.json, t.quiet);
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_max_level(if quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        })
        .init();
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let resolved = match &args.command {
        RawCommand::Pull(p) => PullSettings::resolve(p, &cwd).map(|s| {
            tracing::info!("pull s3://{}/{} -> {}", s.bucket, s.prefix, s.raw.display());
            transfer::pull::run(&s)
        }),
        RawCommand::Push(p) => PushSettings::resolve(p).map(|s| {
            tracing::info!(
                "push {} -> s3://{}/{}",
                s.source.display(),
                s.bucket,
                s.prefix
            );
            transfer::push::run(&s)
        }),
    };
    let (summary, exit) = match resolved {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serialises")
        );
    } else if !quiet || exit as u8 != 0 {
        transfer::print_human(&summary);
    }
    if exit as u8 != 0 {
        for m in &summary.messages {
            tracing::error!("{m}");
        }
        for i in summary.items.iter().filter(|i| i.error.is_some()) {
            tracing::error!(
                "{}: {}",
                if i.key.is_empty() { &i.path } else { &i.key },
                i.error.as_deref().unwrap_or_default()
            );
        }
    }
    ExitCode::from(exit as u8)
}
