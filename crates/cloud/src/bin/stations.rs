//! `stations`: weather stations -> documents, quality report, MongoDB, S3 backups
//! (see `stations --help`).

use std::process::ExitCode;

use cityflow::cli::load_dotenv;
use cityflow::error::Exit;
use cityflow::time::Clock;
use cityflow_cloud::stations::cli::{self, Command, StationsArgs};
use clap::Parser;

fn main() -> ExitCode {
    load_dotenv();
    let args = StationsArgs::parse();
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
    let clock = match Clock::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(Exit::Usage as u8);
        }
    };
    let (summary, exit) = match &args.command {
        Command::Run(a) => cli::run(a, &clock, args.quiet),
        Command::Verify(a) => cli::verify(a, args.quiet),
        Command::Backup(a) => cli::backup(a, &clock, args.quiet),
        Command::Restore(a) => cli::restore(a, args.quiet),
    };
    for m in &summary.messages {
        if exit == Exit::Clean {
            tracing::info!("{m}");
        } else {
            tracing::error!("{m}");
        }
    }
    if args.json {
        use std::io::Write;
        // A closed stdout (`| head`) is not worth a panic.
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serialises")
        );
    }
    ExitCode::from(exit as u8)
}
