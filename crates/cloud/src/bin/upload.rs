//! `upload`: pushes local metrics and reports to DynamoDB and S3 (see `upload --help`).

use std::process::ExitCode;

use cityflow::cli;
use cityflow_cloud::upload::{self, UploadArgs};

fn main() -> ExitCode {
    let args: UploadArgs = cli::parse();
    cli::init_logging(args.report.quiet, 0);
    ExitCode::from(upload::command(&args) as u8)
}
