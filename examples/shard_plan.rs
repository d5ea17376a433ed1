//! Prints the shards of a date range, one a line: `index from to read_from` (`bench/span.sh`'s
//! shard check; the plan is `cityflow::shards::plan`).
//!
//! cargo run --release --example shard_plan -- 2022-01-01 2024-12-31 4

use chrono::NaiveDate;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [from, to, count] => from
            .parse::<NaiveDate>()
            .and_then(|f| to.parse::<NaiveDate>().map(|t| (f, t)))
            .map_err(|e| e.to_string())
            .and_then(|(f, t)| {
                let n = count
                    .parse::<usize>()
                    .map_err(|e| format!("{count:?}: {e}"))?;
                cityflow::shards::plan(f, t, n)
            }),
        _ => Err("usage: shard_plan FROM TO COUNT".to_string()),
    };
    match parsed {
        Ok(shards) => {
            for s in shards {
                println!("{} {} {} {}", s.index, s.from, s.to, s.read_from);
            }
        }
        Err(e) => {
            eprintln!("shard_plan: {e}");
            std::process::exit(2);
        }
    }
}
