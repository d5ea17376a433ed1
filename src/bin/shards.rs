//! `shards`: a backfill's date range cut into adjacent shards (table, JSON, or shell variables
//! for one shard); offline.

use std::process::ExitCode;

use cityflow::backfill::{self, ShardsArgs};
use cityflow::cli;

fn main() -> ExitCode {
    let args: ShardsArgs = cli::parse();
    cli::init_logging(false, 0);
    ExitCode::from(backfill::command(&args) as u8)
}
