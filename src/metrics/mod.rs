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
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use crate::time::Instant;

/// Natural order of arc ids: numeric ids by value first, then the others as text.
pub fn arc_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A map of accumulators by key, for [`merge_keyed`].
pub trait KeyedAccs<K, V>: IntoIterator<Item = (K, V)> {
    fn has_none(&self) -> bool;
    fn acc_mut(&mut self, k: &K) -> Option<&mut V>;
    fn put(&mut self, k: K, v: V);
}

/// [`KeyedAccs`] for a map type whose key type has the bounds given.
macro_rules! keyed_accs {
    ($map:ident, $($bound:tt)+) => {
        impl<K: $($bound)+, V> KeyedAccs<K, V> for $map<K, V> {
            fn has_none(&self) -> bool {
                self.is_empty()
            }
            fn acc_mut(&mut self, k: &K) -> Option<&mut V> {
                self.get_mut(k)
            }
            fn put(&mut self, k: K, v: V) {
                self.insert(k, v);
            }
        }
    };
}

keyed_accs!(HashMap, Eq + Hash);
keyed_accs!(BTreeMap, Ord);

/// Merges `other`'s accumulators into `into`, key by key: `merge` where the key is in both, a
/// move otherwise (the whole map when `into` has none). Order-free when `merge` is.
pub fn merge_keyed<K, V, M: KeyedAccs<K, V>>(
    into: &mut M,
    other: M,
    mut merge: impl FnMut(&mut V, V),
) {
    if into.has_none() {
        *into = other;
        return;
    }
    for (k, v) in other {
        match into.acc_mut(&k) {
            Some(cur) => merge(cur, v),
            None => into.put(k, v),
        }
    }
}

/// Keeps the 3 earliest duplicated instants (the same whatever the merge order).
pub fn note_dup(v: &mut Vec<Instant>, t: Instant) {
    if let Err(i) = v.binary_search(&t) {
        v.insert(i, t);
        v.truncate(3);
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
