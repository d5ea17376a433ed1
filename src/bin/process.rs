//! `process`: raw tree -> per-day metrics, daily reports and quality reports under `output/`.

use std::process::ExitCode;

use cityflow::config::{ProcessArgs, Settings};
use cityflow::error::Exit;
use cityflow::time::Clock;
use cityflow::{cli, pipeline, store};

fn main() -> ExitCode {
    let args: ProcessArgs = cli::parse();
    cli::init_logging(args.quiet, args.verbose);
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let settings = match Settings::resolve(&args, &cwd) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(e.exit() as u8);
        }
    };
    let Ok(clock) = Clock::from_env().map_err(|e| tracing::error!("{e}")) else {
        return ExitCode::from(Exit::Usage as u8);
    };
    tracing::info!("backend: {}", settings.backend_reason);
    let opened = store::open(&settings, &clock);
    match pipeline::run(&settings, &clock, opened.store.as_ref()) {
        Ok(mut summary) => {
            if opened.fell_back && summary.exit_code < Exit::Backend as u8 {
                summary.exit_code = Exit::Backend as u8;
                summary.status = "finished, but MongoDB was unreachable: results are in files";
            }
            if !args.quiet {
                cli::eprint_text(&summary.table());
            }
            if settings.json {
                cli::print_json(&summary);
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
