//! `chantiers` metrics (stub: to be written). Interface used by the pipeline:
//! `ChantiersAcc` (Default + merge + days + duplicates) and `metrics(acc, day, arrondissements)`.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;

use crate::geo::ArrondissementIndex;
use crate::metrics::DayDuplicates;

/// Mergeable accumulator of every `chantiers` file read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChantiersAcc {}

impl ChantiersAcc {
    pub fn merge(&mut self, other: ChantiersAcc) {
        let _ = other;
    }

    /// Paris days this source has data for.
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        BTreeSet::new()
    }

    /// Repeated rows of `day` (None: rows with no date of their own), counted once.
    pub fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        let _ = day;
        DayDuplicates::default()
    }
}

/// `chantiers_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChantiersMetrics {}

/// The metrics of `day`, or None when the source has nothing for it.
pub fn metrics(
    acc: &ChantiersAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<ChantiersMetrics> {
    let _ = (acc, day, arrondissements);
    None
}
