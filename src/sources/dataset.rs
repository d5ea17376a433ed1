//! The one interface every dataset offers the pipeline: which files it takes, how one file is
//! read into a mergeable accumulator, and what a day of it becomes.
//!
//! Each `sources/<x>.rs` implements [`Dataset`] right after its `SOURCE` line, on a unit struct
//! (`bikes::Bikes`...), with the accumulator and formulas of `metrics/<x>.rs`; the pipeline lists
//! those structs once (`pipeline::DATASETS`) and does the rest. Reference data (arrondissements,
//! the référentiel) are not datasets: they have no days, and every dataset may read them
//! ([`Shared`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::discover::{FileKind, InputFile};
use crate::geo::ArrondissementIndex;
use crate::json;
use crate::metrics::referentiel::RefArc;
use crate::metrics::DayDuplicates;
use crate::quality::QualityAcc;
use crate::sources::DaySelection;

/// Told the number of bytes read so far, as reading goes (drives the progress bar).
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// What the datasets of a run share once reference data is loaded: they may read it, and the
/// road counters complete it.
#[derive(Default)]
pub struct Shared {
    pub arrondissements: ArrondissementIndex,
    /// The sensor arcs' référentiel, by arc id.
    pub referentiel: BTreeMap<String, RefArc>,
    /// The référentiel's arcs found in several of its files (undated duplicates).
    pub referentiel_duplicates: DayDuplicates,
    /// Arc ids with road-counter rows, in the selected days or not (the référentiel output
    /// marks them active).
    pub active_arcs: BTreeSet<String>,
    /// The last Paris day of any road-counter row read, in the selected days or not (the
    /// référentiel output is written under it).
    pub road_last_day: Option<NaiveDate>,
    /// Road-counter arc-days per day, when reading went over the memory budget (no rows were
    /// kept then: the run reads again, window by window).
    pub census: Option<BTreeMap<NaiveDate, u64>>,
    /// Every source's quality counters of the run.
    pub quality: QualityAcc,
}

/// A dataset: raw files -> accumulator (merged over files in parallel) -> metrics per day.
///
/// Only `read_file` runs per row; everything else runs once per file, dataset or day.
pub trait Dataset: Sync + 'static {
    /// Its files; `FILES.name` is the source name (quality reports, `<name>_metrics_<day>.json`).
    const FILES: FileKind;
    /// Whether `read_file` reports the bytes it reads through its `progress` (a bar is shown).
    const PROGRESS: bool = false;
    /// Whether its rows have days of their own (not road works, reported on the others' days):
    /// a run whose selection holds no row of a dated dataset has nothing to process.
    const DATED: bool = true;
    /// What files are read into: `Default` is the identity of `merge`.
    type Acc: Default + Send;
    /// The merged accumulator, ready to give each day's metrics.
    type Ready: Sync + Send;
    /// One day's metrics.
    type Metrics: Serialize;

    /// The days to read, from the run's selection (the selection itself unless overridden).
    fn selection(sel: &DaySelection) -> DaySelection {
        *sel
    }
    /// Reads one file (never fails: problems are counted in `q`, this file's counters).
    fn read_file(
        f: &InputFile,
        sel: &DaySelection,
        q: &mut QualityAcc,
        progress: Progress,
    ) -> Self::Acc;
    fn merge(acc: &mut Self::Acc, other: Self::Acc);
    /// The accumulator of all files, made ready (may use and complete the shared data).
    fn finish(acc: Self::Acc, shared: &mut Shared) -> Self::Ready;
    /// The days it has data for.
    fn days(r: &Self::Ready) -> BTreeSet<NaiveDate>;
    /// Whether it holds undated data that needs a day of output when no dataset has dated rows.
    fn needs_a_day(_: &Self::Ready) -> bool {
        false
    }
    /// The metrics of `day`, or None when it has nothing for that day.
    fn day_metrics(
        r: &Self::Ready,
        day: NaiveDate,
        arr: &ArrondissementIndex,
    ) -> Option<Self::Metrics>;
    /// Writes `m` at depth `level` of its output file in the JSON format of [`json`], and
    /// returns what the daily report reads of it (by default: all of it).
    fn write_metrics(m: Self::Metrics, out: &mut Vec<u8>, level: usize) -> Value {
        let v = serde_json::to_value(m).expect("metrics serialise");
        json::write_at(out, level, &v);
        v
    }
    /// The analytics tables of `day` that need more than the metrics' JSON (see
    /// [`crate::analytics`]); none by default.
    fn tables(
        _: &Self::Ready,
        _: NaiveDate,
        _: &Self::Metrics,
        _: &ArrondissementIndex,
    ) -> Vec<crate::analytics::Table> {
        Vec::new()
    }
    /// Rows of `day` (or undated) that repeated a key already counted.
    fn duplicates(r: &Self::Ready, day: Option<NaiveDate>) -> DayDuplicates;
}

/// The [`Dataset`] items of a dataset whose merged accumulator is ready as it is (every one but
/// the road counters), inside its `impl Dataset`: `accumulator_dataset!(x, XAcc, XMetrics)`
/// reads each file with the `read_file(file, selection, quality)` of the module it is used in,
/// and takes the rest from `metrics/x.rs`: `XAcc::{merge, days, duplicates}` and
/// `metrics(acc, day, arrondissements) -> Option<XMetrics>`.
macro_rules! accumulator_dataset {
    ($m:ident, $acc:ident, $metrics:ident) => {
        type Acc = $crate::metrics::$m::$acc;
        type Ready = $crate::metrics::$m::$acc;
        type Metrics = $crate::metrics::$m::$metrics;

        fn read_file(
            f: &$crate::discover::InputFile,
            sel: &$crate::sources::DaySelection,
            q: &mut $crate::quality::QualityAcc,
            _: $crate::sources::dataset::Progress,
        ) -> Self::Acc {
            read_file(f, sel, q)
        }
        fn merge(acc: &mut Self::Acc, other: Self::Acc) {
            acc.merge(other)
        }
        fn finish(acc: Self::Acc, _: &mut $crate::sources::dataset::Shared) -> Self::Ready {
            acc
        }
        fn days(acc: &Self::Ready) -> std::collections::BTreeSet<chrono::NaiveDate> {
            acc.days()
        }
        fn day_metrics(
            acc: &Self::Ready,
            day: chrono::NaiveDate,
            arr: &$crate::geo::ArrondissementIndex,
        ) -> Option<Self::Metrics> {
            $crate::metrics::$m::metrics(acc, day, arr)
        }
        fn duplicates(
            acc: &Self::Ready,
            day: Option<chrono::NaiveDate>,
        ) -> $crate::metrics::DayDuplicates {
            acc.duplicates(day)
        }
    };
}
pub(crate) use accumulator_dataset;
