//! `raw`: `raw pull` / `raw push` between the raw zone in S3 and local folders (see `raw --help`).

use std::process::ExitCode;

use cityflow::cli;
use cityflow_cloud::transfer::{self, RawArgs};

fn main() -> ExitCode {
    let args: RawArgs = cli::parse();
    cli::init_logging(args.transfer().report.quiet, 0);
    ExitCode::from(transfer::command(&args) as u8)
}
