//! `weather` metrics (stub: to be written). Interface used by the pipeline:
//! `WeatherAcc` (Default + merge + days + duplicates) and `metrics(acc, day, arrondissements)`.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;

use crate::geo::ArrondissementIndex;
use crate::metrics::DayDuplicates;

/// Mergeable accumulator of every `weather` file read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeatherAcc {}

impl WeatherAcc {
    pub fn merge(&mut self, other: WeatherAcc) {
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

/// `weather_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeatherMetrics {}

/// The metrics of `day`, or None when the source has nothing for it.
pub fn metrics(
    acc: &WeatherAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<WeatherMetrics> {
    let _ = (acc, day, arrondissements);
    None
}
