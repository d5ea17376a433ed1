//! `upload`: pushes local metrics and reports to DynamoDB and S3 (see `upload --help`).

use std::process::ExitCode;

use cityflow::cli::load_dotenv;
use cityflow_cloud::upload::{self, Settings, UploadArgs};
use clap::Parser;

fn main() -> ExitCode {
    load_dotenv();
    let args = UploadArgs::parse();
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_max_level(if args.quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        })
        .init();
    let settings = match Settings::resolve(&args) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let (summary, exit) = upload::run(&settings);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serialises")
        );
    } else if !args.quiet || exit as u8 != 0 {
        upload::print_human(&summary);
    }
    if exit as u8 != 0 {
        for m in &summary.messages {
            tracing::error!("{m}");
        }
    }
    ExitCode::from(exit as u8)
}
