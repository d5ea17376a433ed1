//! Pure metric code: accumulators (`add` / `merge` / `Default`) and their finalisation into the
//! output structures. One module per dataset, named as in `sources/`; nothing here reads raw
//! text (that is `sources/`' job). The one piece that is not plain data is
//! [`comptages::shared`]: lock-sharded writers through which several threads fill one road-counter
//! accumulator from one big file.

pub mod bikes;
pub mod chantiers;
pub mod comptages;
pub mod referentiel;
pub mod traffic;
pub mod velib;
pub mod weather;

use std::cmp::Ordering;

/// Natural order of arc ids: numeric ids by value first, then the others as text.
pub fn arc_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Rows of one day (or undated) that repeated a key already counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayDuplicates {
    pub count: u64,
    /// Keys (e.g. arc and instant) whose repeated rows differed from each other.
    pub conflicting: u64,
    /// A few of them, e.g. `counter X at 2025-11-04T08:00:00+01:00` (at most 20).
    pub samples: Vec<String>,
}
