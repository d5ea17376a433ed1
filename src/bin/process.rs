//! `process`: raw tree -> per-day metrics, daily reports and quality reports under `output/`.

use std::process::ExitCode;

use cityflow::config::{load_dotenv, ProcessArgs, Settings};
use cityflow::error::Exit;
use cityflow::pipeline;
use cityflow::store::local::LocalStore;
use cityflow::time::Clock;
use clap::Parser;

fn main() -> ExitCode {
    load_dotenv();
    let args = ProcessArgs::parse();
    let level = match (args.quiet, args.verbose) {
        (true, _) => tracing::Level::WARN,
        (false, 0) => tracing::Level::INFO,
        (false, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_max_level(level)
        .init();
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let settings = match Settings::resolve(&args, &cwd) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(e.exit() as u8);
        }
    };
    let clock = match Clock::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(Exit::Usage as u8);
        }
    };
    let store = LocalStore::new(&settings.output);
    match pipeline::run(&settings, &clock, &store) {
        Ok(summary) => {
            if !args.quiet {
                eprint!("{}", summary.table());
            }
            if settings.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).expect("summary serialises")
                );
            }
            ExitCode::from(summary.exit_code)
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.exit() as u8)
        }
    }
}
