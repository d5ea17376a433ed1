//! `process`: raw tree -> per-day metrics, daily reports and quality reports under `output/`.

use std::process::ExitCode;

use cityflow::config::{load_dotenv, ProcessArgs, Settings};
use cityflow::error::Exit;
use cityflow::pipeline;
use std::time::Duration;

use cityflow::config::Backend;
use cityflow::store::local::LocalStore;
use cityflow::store::mongo::MongoStore;
use cityflow::store::Store;
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
    tracing::info!("backend: {}", settings.backend_reason);
    let mut fell_back = false;
    let store: Box<dyn Store> = match &settings.backend {
        Backend::Files => Box::new(LocalStore::new(&settings.output)),
        Backend::Mongo { url, database } => {
            match MongoStore::connect(url, database, Duration::from_secs(3), clock.now) {
                Ok(m) => Box::new(m),
                Err(e) => {
                    // The run is not lost: results go to files, and the exit code says so.
                    tracing::warn!(
                        "MongoDB unreachable ({e}): writing to files under {} instead",
                        settings.output.display()
                    );
                    fell_back = true;
                    Box::new(LocalStore::new(&settings.output))
                }
            }
        }
    };
    match pipeline::run(&settings, &clock, store.as_ref()) {
        Ok(mut summary) => {
            if fell_back && summary.exit_code < Exit::Backend as u8 {
                summary.exit_code = Exit::Backend as u8;
                summary.status = "finished, but MongoDB was unreachable: results are in files";
            }
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

/// mimalloc rather than the system's: the day metrics allocate and free a lot from two threads
/// at once (full size, 2 threads: 5.10-5.38 -> 4.85-4.89 s; see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
