//! Pure metric code: accumulators (`add` / `merge` / `Default`) and their finalisation into the
//! output structures. One module per dataset, named as in `sources/`.

pub mod comptages;
pub mod referentiel;

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
