//! `stations`: weather stations -> documents, quality report, MongoDB, S3 backups
//! (see `stations --help`).

use std::process::ExitCode;

use cityflow::cli;
use cityflow_cloud::stations::cli::{self as stations, StationsArgs};

fn main() -> ExitCode {
    let args: StationsArgs = cli::parse();
    cli::init_logging(args.quiet, 0);
    ExitCode::from(stations::command(&args) as u8)
}
