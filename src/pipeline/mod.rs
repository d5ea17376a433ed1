//! `process` orchestration, stage by stage:
//! 1. discover the raw tree (sorted), for the file kinds of reference data and of [`DATASETS`];
//! 2. load reference data (arrondissements, the référentiel) into [`Shared`];
//! 3. read every dataset through its [`Dataset`] impl: each file in parallel into an
//!    accumulator, merged (rayon map/reduce), then made ready;
//! 4. per day: each dataset's metrics file, then the daily report and the quality report;
//! 5. the référentiel's metrics and the run's quality report; flush the store; summarise.

pub mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant as WallClock;

use chrono::{Days, NaiveDate};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Map, Value};
use tracing::{info, warn};

use crate::analytics::{self, DaySummary};
use crate::config::Settings;
use crate::discover::{discover, FileKind, InputFile, RawTree};
use crate::error::Error;
use crate::geo::ArrondissementIndex;
use crate::json;
use crate::metrics::referentiel as rm;
use crate::metrics::DayDuplicates;
use crate::quality::{QualityAcc, SourceQuality, SourceQualityReport};
use crate::report;
use crate::report::map::Shapes;
use crate::sources::dataset::{Dataset, Progress, Shared};
use crate::sources::{
    arrondissements, bikes, chantiers, comptages, referentiel, traffic, velib, weather,
    DaySelection,
};
use crate::store::{local::LocalStore, OutputDoc, Store, Written};
use crate::time::Clock;

use crate::output::{
    self, MetricsEnvelope, OutputName, QualityReport, ReportEnvelope, RunQualityReport,
};
use summary::{RunSummary, SourceTotals, WriteFailure};

/// Every dataset, in output order (a day's metrics files, the daily report's keys). A new
/// dataset is a `sources/<x>.rs` (reader and [`Dataset`] impl) and `metrics/<x>.rs` pair, and a
/// line here.
const DATASETS: &[&dyn Load] = &[
    &comptages::Comptages,
    &bikes::Bikes,
    &traffic::Traffic,
    &weather::Weather,
    &chantiers::Chantiers,
    &velib::Velib,
];

/// The kinds of raw files a run reads: reference data, then every dataset's.
pub fn file_kinds() -> Vec<FileKind> {
    let datasets = DATASETS.iter().map(|d| d.files());
    [arrondissements::FILES, referentiel::FILES]
        .into_iter()
        .chain(datasets)
        .collect()
}

/// A [`Dataset`] as [`DATASETS`] holds it (one type for all): reads every file of it.
trait Load: Sync {
    fn files(&self) -> FileKind;
    fn dated(&self) -> bool;
    fn load(&self, tree: &RawTree, read: &Reading, shared: &mut Shared) -> Box<dyn Loaded>;
}

/// How a pass reads the datasets: which days, with which progress display.
struct Reading<'a> {
    settings: &'a Settings,
    /// The days read: the run's and the look-back days before them.
    days: DaySelection,
}

/// A dataset read, merged and made ready: what the day stages ask of it.
trait Loaded: Send + Sync {
    fn source(&self) -> &'static str;
    fn days(&self) -> BTreeSet<NaiveDate>;
    fn needs_a_day(&self) -> bool;
    /// Its metrics file of `day`, what the daily report reads of it and its analytics tables
    /// (None: no data that day).
    fn day(&self, day: NaiveDate, timestamp: &str, arr: &ArrondissementIndex) -> Option<DayOut>;
    fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates;
}

impl<D: Dataset> Load for D {
    fn files(&self) -> FileKind {
        D::FILES
    }
    fn dated(&self) -> bool {
        D::DATED
    }

    fn load(&self, tree: &RawTree, read: &Reading, shared: &mut Shared) -> Box<dyn Loaded> {
        let files: Vec<&InputFile> = tree.of(D::FILES.name).collect();
        let bytes = if D::PROGRESS {
            files.iter().map(|f| f.size).sum()
        } else {
            0
        };
        let pb = progress_bar(read.settings, bytes);
        let sel = D::selection(&read.days);
        let (acc, q) = read_all::<D>(&files, &sel, &|n| pb.inc(n));
        pb.finish_and_clear();
        shared.quality.merge(q);
        Box::new(Ready::<D>(D::finish(acc, shared)))
    }
}

/// A dataset's day: its metrics file, the daily report's view of it, its analytics tables.
type DayOut = (Vec<u8>, Value, Vec<analytics::Table>);

struct Ready<D: Dataset>(D::Ready);

impl<D: Dataset> Loaded for Ready<D> {
    fn source(&self) -> &'static str {
        D::FILES.name
    }
    fn days(&self) -> BTreeSet<NaiveDate> {
        D::days(&self.0)
    }
    fn needs_a_day(&self) -> bool {
        D::needs_a_day(&self.0)
    }
    fn day(&self, day: NaiveDate, timestamp: &str, arr: &ArrondissementIndex) -> Option<DayOut> {
        let m = D::day_metrics(&self.0, day, arr)?;
        let mut tables = D::tables(&self.0, day, &m, arr);
        let mut view = Value::Null;
        let body = output::metrics_body(D::FILES.name, day, timestamp, |out, level| {
            view = D::write_metrics(m, out, level);
        });
        tables.extend(analytics::from_view(D::FILES.name, day, &view));
        Some((body, view, tables))
    }
    fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        D::duplicates(&self.0, day)
    }
}

/// Reads `files` in parallel into one merged accumulator and its quality counters.
fn read_all<D: Dataset>(
    files: &[&InputFile],
    sel: &DaySelection,
    progress: Progress,
) -> (D::Acc, QualityAcc) {
    files
        .par_iter()
        .map(|f| {
            let mut q = QualityAcc::default();
            let a = D::read_file(f, sel, &mut q, progress);
            q.note_file(D::FILES.name, &f.rel);
            (a, q)
        })
        .reduce(
            || (D::Acc::default(), QualityAcc::default()),
            |(mut a, mut qa), (b, qb)| {
                D::merge(&mut a, b);
                qa.merge(qb);
                (a, qa)
            },
        )
}

fn progress_bar(settings: &Settings, total: u64) -> ProgressBar {
    use std::io::IsTerminal;
    if !settings.progress || !std::io::stderr().is_terminal() || total == 0 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} reading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Reference data: the arrondissements (`--arrondissements` or the raw tree's), then the
/// référentiel.
fn load_reference(settings: &Settings, tree: &RawTree) -> Shared {
    let mut quality = QualityAcc::default();
    let arrondissements = match &settings.arrondissements {
        Some(p) => arrondissements::load_path(p, &mut quality),
        None => arrondissements::load(tree.of(arrondissements::SOURCE), &mut quality),
    };
    if arrondissements.is_empty() {
        warn!("no arrondissements file (batch/arrondissements*.geojson or --arrondissements): arrondissements will be null");
    }
    let merged = referentiel::load(tree.of(referentiel::SOURCE), &mut quality);
    Shared {
        arrondissements,
        referentiel: merged.arcs,
        referentiel_duplicates: merged.duplicates,
        quality,
        ..Shared::default()
    }
}

/// The days of a run: every day with dated data; when there is none but undated data needs a
/// day (road works), the selected day or, failing that, the clock's Paris date.
fn run_days(
    dated: BTreeSet<NaiveDate>,
    sel: &DaySelection,
    undated_needs_a_day: bool,
    clock: &Clock,
) -> Vec<NaiveDate> {
    if !dated.is_empty() || !undated_needs_a_day {
        return dated.into_iter().filter(|d| sel.contains(*d)).collect();
    }
    match (sel.from, sel.to) {
        (Some(f), Some(t)) if f == t => vec![f],
        _ => {
            let today = clock.paris_today();
            if sel.contains(today) {
                vec![today]
            } else {
                Vec::new()
            }
        }
    }
}

/// Debug timings of a run's stages.
struct Phases(WallClock);

impl Phases {
    fn done(&mut self, name: &str) {
        tracing::debug!("phase {name}: {} ms", self.0.elapsed().as_millis());
        self.0 = WallClock::now();
    }
}

/// The result of writing one output: its path and what happened.
type Outcome = (String, Result<Written, WriteFailure>);

/// Everything read, and what the output stages share.
struct Run<'a> {
    store: &'a dyn Store,
    /// Where the analytics tables and HTML pages go: `store` when it writes files, else a
    /// files store under the output folder (MongoDB runs write them too).
    files: &'a dyn Store,
    /// Write the Parquet tables.
    analytics: bool,
    /// The arrondissements, drawn (the HTML report's map).
    map: Shapes,
    /// The output folder (the days already reported, for the index page).
    output: std::path::PathBuf,
    timestamp: String,
    shared: Shared,
    datasets: Vec<Box<dyn Loaded>>,
    quality: QualityAcc,
    days: Vec<NaiveDate>,
    /// The days before `days` read for the reports' comparisons (not written).
    lookback: Vec<NaiveDate>,
    /// Windows of days written one after the other, and reads of the inputs.
    windows: usize,
    passes: usize,
    /// Duplicates of the windows already written (their datasets are gone), by source and day.
    past_duplicates: BTreeMap<(&'static str, Option<NaiveDate>), DayDuplicates>,
    /// Quality of what has no date: the same in every quality report.
    undated: BTreeMap<&'static str, SourceQualityReport>,
}

impl Run<'_> {
    fn put(&self, rel_path: String, body: Vec<u8>) -> Outcome {
        Self::put_in(self.store, rel_path, body)
    }

    fn put_in(store: &dyn Store, rel_path: String, body: Vec<u8>) -> Outcome {
        let r = store.put_owned(OutputDoc {
            rel_path: rel_path.clone(),
            body,
        });
        let r = r.map_err(|e| WriteFailure::new(&e));
        if let Err(e) = &r {
            tracing::debug!("{}", e.message());
        }
        (rel_path, r)
    }

    fn duplicates(&self, source: &str, day: Option<NaiveDate>) -> DayDuplicates {
        if source == referentiel::SOURCE && day.is_none() {
            return self.shared.referentiel_duplicates.clone();
        }
        let d = self.datasets.iter().find(|d| d.source() == source);
        match d {
            Some(d) => d.duplicates(day),
            None => self
                .past_duplicates
                .get(&(source, day))
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The quality reports of the cells whose date `keep` accepts.
    fn quality_reports(
        &self,
        keep: impl Fn(Option<NaiveDate>) -> bool,
    ) -> BTreeMap<&'static str, SourceQualityReport> {
        let cells = self.quality.cells.iter().filter(|((_, d), _)| keep(*d));
        cells
            .map(|((s, d), q)| {
                let dd = self.duplicates(s, *d);
                let r = SourceQualityReport::build(q, dd.count, dd.conflicting, dd.samples);
                (*s, r)
            })
            .collect()
    }

    /// Writes the Parquet files of `tables` (those with rows), when turned on.
    fn write_tables(&self, day: NaiveDate, tables: &[analytics::Table]) -> Vec<Outcome> {
        if !self.analytics {
            return Vec::new();
        }
        let mut outcomes = Vec::new();
        for t in tables.iter().filter(|t| !t.rows.is_empty()) {
            let rel = analytics::rel_path(t.def.name, day);
            #[cfg(feature = "analytics")]
            outcomes.push(match analytics::to_parquet(t) {
                Ok(body) => Self::put_in(self.files, rel, body),
                Err(why) => {
                    let path = rel.clone();
                    (rel, Err(WriteFailure { path, why }))
                }
            });
            #[cfg(not(feature = "analytics"))]
            let _ = rel;
        }
        outcomes
    }

    /// Every dataset's metrics file and analytics tables of `day` (written when `write`: a
    /// look-back day is computed for the reports only), the metrics the daily report reads, and
    /// the summary of the tables the HTML and CSV reports read.
    fn day_metrics(
        &self,
        day: NaiveDate,
        write: bool,
    ) -> (report::DayMetrics, DaySummary, Vec<Outcome>) {
        let mut dm = Map::new();
        let mut outcomes = Vec::new();
        let mut tables = Vec::new();
        for d in &self.datasets {
            let arr = &self.shared.arrondissements;
            if let Some((body, view, t)) = d.day(day, &self.timestamp, arr) {
                dm.insert(d.source().into(), view);
                if !write {
                    continue;
                }
                tables.extend(t);
                outcomes.push(
                    self.put(
                        OutputName::Metrics {
                            metric_type: d.source().to_string(),
                            date: day,
                        }
                        .rel_path(),
                        body,
                    ),
                );
            }
        }
        outcomes.extend(self.write_tables(day, &tables));
        (dm, DaySummary::from_tables(&tables), outcomes)
    }

    /// The daily report of `day` (JSON and CSV, compared with the week before) and its quality
    /// report.
    fn day_reports(
        &self,
        day: NaiveDate,
        metrics: &BTreeMap<NaiveDate, report::DayMetrics>,
        summary: &DaySummary,
    ) -> Vec<Outcome> {
        let before = day.checked_sub_days(Days::new(7));
        let wb = before.and_then(|b| metrics.get(&b).map(|m| (b.to_string(), m)));
        let wb = wb.as_ref().map(|(d, m)| (d.as_str(), *m));
        let r = report::build(&day.to_string(), &self.timestamp, &metrics[&day], wb);
        let csv = report::csv_bytes(&r, &summary.zones);
        let sources = self.quality_reports(|d| d == Some(day));
        let html = report::html::day_page(&report::html::HtmlDay {
            report: &r,
            metrics: &metrics[&day],
            summary,
            quality: &sources,
            map: &self.map,
        });
        let mut outcomes = self.write_tables(day, &analytics::quality(day, &sources));
        outcomes.push(Self::put_in(self.files, report::html::rel_path(day), html));
        let env = ReportEnvelope::new(day, &self.timestamp, r);
        let undated_clean = self
            .undated
            .values()
            .all(|r| r.rows_rejected == 0 && r.files_failed.is_empty());
        let clean = undated_clean && sources.values().all(|r| r.rows_rejected == 0);
        let qr = QualityReport::new(day, &self.timestamp, clean, sources, &self.undated);
        outcomes.extend([
            self.put(
                OutputName::ReportJson(day).rel_path(),
                json::to_json_bytes(&env),
            ),
            self.put(OutputName::ReportCsv(day).rel_path(), csv),
            self.put(
                OutputName::Quality(day).rel_path(),
                json::to_json_bytes(&qr),
            ),
        ]);
        outcomes
    }

    /// Per day, in parallel: every metrics file, then (once all are known: a report compares
    /// with the week before) the reports.
    fn write_days(&self, pool: &rayon::ThreadPool, phases: &mut Phases) -> Vec<Outcome> {
        let per_day: Vec<_> = pool.install(|| {
            let back = self.lookback.par_iter().map(|&d| (d, false));
            let days = self.days.par_iter().map(|&d| (d, true)).chain(back);
            days.map(|(day, write)| (day, self.day_metrics(day, write)))
                .collect()
        });
        phases.done("metrics written");
        let mut outcomes = Vec::new();
        let mut metrics = BTreeMap::new();
        let mut summaries = BTreeMap::new();
        for (day, (dm, summary, res)) in per_day {
            outcomes.extend(res);
            metrics.insert(day, dm);
            summaries.insert(day, summary);
        }
        let reports: Vec<Vec<Outcome>> = pool.install(|| {
            let days = self.days.par_iter();
            days.map(|&day| self.day_reports(day, &metrics, &summaries[&day]))
                .collect()
        });
        outcomes.extend(reports.into_iter().flatten());
        outcomes
    }

    /// Over the memory budget (the first pass left a census of the arc-days): reads and writes
    /// the days window by window, each window with its look-back days, as few windows as fit.
    /// Quality counters and reference data stay the first pass's (they are complete).
    fn write_windows(
        &mut self,
        settings: &Settings,
        tree: &RawTree,
        census: &BTreeMap<NaiveDate, u64>,
        pool: &rayon::ThreadPool,
        phases: &mut Phases,
    ) -> Vec<Outcome> {
        let state = crate::budget::state_bytes(settings.memory_limit);
        let back = crate::shards::REPORT_LOOKBACK_DAYS;
        let plan = crate::budget::plan_windows(&self.days, census, back, state);
        info!(
            "{} arc-days do not fit {} MB: {} window(s)",
            census.values().sum::<u64>(),
            settings.memory_limit >> 20,
            plan.len()
        );
        let all_days = std::mem::take(&mut self.days);
        let mut outcomes = Vec::new();
        self.keep_duplicates(&[None]);
        for (a, b) in &plan {
            self.datasets = Vec::new();
            let sel = DaySelection {
                from: Some(*a),
                to: Some(*b),
            };
            let (_, datasets, _) = read_inputs(settings, &sel, tree, pool, phases);
            let dated = datasets.iter().flat_map(|d| d.days()).collect();
            self.lookback = lookback_days(&dated, &sel);
            self.days = all_days
                .iter()
                .copied()
                .filter(|d| sel.contains(*d))
                .collect();
            self.datasets = datasets;
            outcomes.extend(self.write_days(pool, phases));
            let days: Vec<Option<NaiveDate>> = self.days.iter().map(|d| Some(*d)).collect();
            self.keep_duplicates(&days);
        }
        self.datasets = Vec::new();
        self.days = all_days;
        (self.windows, self.passes) = (plan.len(), plan.len() + 1);
        outcomes
    }

    /// Keeps the duplicates of `days` (None: undated) of the datasets held, for the run's totals.
    fn keep_duplicates(&mut self, days: &[Option<NaiveDate>]) {
        for d in &self.datasets {
            for day in days {
                self.past_duplicates
                    .insert((d.source(), *day), d.duplicates(*day));
            }
        }
    }

    /// `reports/index.html`: the days of this run and those already in the output folder.
    fn write_index(&self) -> Outcome {
        let mut days: BTreeSet<NaiveDate> = self.days.iter().copied().collect();
        days.extend(report::html::days_in(&self.output.join("reports")));
        let days: Vec<NaiveDate> = days.into_iter().collect();
        let body = report::html::index_page(&days);
        Self::put_in(self.files, report::html::INDEX.to_string(), body)
    }

    /// The référentiel is undated: written once per run, under the last day of the road-counter
    /// rows read (in the selected days or not: every shard of a range writes the same file),
    /// else the last processed date, else the clock's Paris date.
    fn write_referentiel(&self, clock: &Clock) -> Option<Outcome> {
        let arcs = &self.shared.referentiel;
        if arcs.is_empty() {
            return None;
        }
        let date = self
            .shared
            .road_last_day
            .or_else(|| self.days.last().copied())
            .unwrap_or_else(|| clock.paris_today());
        let env = MetricsEnvelope {
            metric_type: referentiel::SOURCE,
            date: date.to_string(),
            timestamp: &self.timestamp,
            metrics: rm::build(arcs, &|id| self.shared.active_arcs.contains(id)),
        };
        let name = OutputName::Metrics {
            metric_type: referentiel::SOURCE.to_string(),
            date,
        }
        .rel_path();
        Some(self.put(name, json::to_json_bytes(&env)))
    }

    /// Each source's quality over the whole run.
    fn totals(&self) -> BTreeMap<&'static str, SourceQualityReport> {
        let mut by_source: BTreeMap<&'static str, (SourceQuality, u64, u64)> = BTreeMap::new();
        for ((s, d), q) in &self.quality.cells {
            let e = by_source.entry(s).or_default();
            e.0.merge(q.clone());
            let dd = self.duplicates(s, *d);
            e.1 += dd.count;
            e.2 += dd.conflicting;
        }
        let reports = by_source
            .iter()
            .map(|(s, (q, n, c))| (*s, SourceQualityReport::build(q, *n, *c, Vec::new())));
        reports.collect()
    }
}

/// The days a run over `sel` reads: the week before its first day too (the daily report
/// compares with it; those days are not written).
fn read_selection(sel: &DaySelection) -> DaySelection {
    let back = Days::new(crate::shards::REPORT_LOOKBACK_DAYS);
    DaySelection {
        from: sel
            .from
            .map(|f| f.checked_sub_days(back).unwrap_or(NaiveDate::MIN)),
        to: sel.to,
    }
}

/// Reads everything of the days `sel` (and the look-back days before them): reference data,
/// then every dataset (in the pool); the quality counters of those days and of what has no
/// day, finished.
fn read_inputs(
    settings: &Settings,
    sel: &DaySelection,
    tree: &RawTree,
    pool: &rayon::ThreadPool,
    phases: &mut Phases,
) -> (Shared, Vec<Box<dyn Loaded>>, QualityAcc) {
    let mut shared = load_reference(settings, tree);
    let mut datasets = Vec::new();
    let read = Reading {
        settings,
        days: read_selection(sel),
    };
    for d in DATASETS {
        datasets.push(pool.install(|| d.load(tree, &read, &mut shared)));
        phases.done(&format!("read {}", d.files().name));
    }
    let mut quality = std::mem::take(&mut shared.quality).finish();
    quality.keep_days(|d| sel.contains(d));
    (shared, datasets, quality)
}

/// The days with data before `sel` that a run over it reads for the reports' comparisons.
fn lookback_days(dated: &BTreeSet<NaiveDate>, sel: &DaySelection) -> Vec<NaiveDate> {
    let read = read_selection(sel);
    let back = dated.iter().copied();
    back.filter(|d| read.contains(*d) && !sel.contains(*d))
        .collect()
}

/// Runs `process` with `settings`, writing to `store`.
pub fn run(settings: &Settings, clock: &Clock, store: &dyn Store) -> Result<RunSummary, Error> {
    let started = WallClock::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.jobs)
        .build()
        .map_err(|e| Error::Threads(e.to_string()))?;
    store.check_writable().map_err(|e| Error::Unwritable {
        path: e.path,
        source: e.source,
    })?;
    let tree = discover(&settings.raw, &file_kinds()).map_err(|source| Error::RawTree {
        path: settings.raw.clone(),
        source,
    })?;
    info!(
        "raw root {} ({}), {} file(s) recognised",
        settings.raw.display(),
        settings.raw_origin,
        tree.files.len()
    );
    for (what, paths) in [
        ("skipped", &tree.skipped),
        ("not readable", &tree.unreadable),
    ] {
        for p in paths.iter().take(10) {
            warn!("{what}: {p}");
        }
        if paths.len() > 10 {
            warn!(
                "... and {} more path(s) {what} (quality/quality_report_run.json)",
                paths.len() - 10
            );
        }
    }
    let mut phases = Phases(started);
    let timestamp = clock.timestamp();
    crate::budget::arm(crate::budget::state_bytes(settings.memory_limit));
    let (mut shared, datasets, quality) =
        read_inputs(settings, &settings.days, &tree, &pool, &mut phases);
    crate::budget::disarm();
    let census = shared.census.take();
    let mut dated: BTreeSet<NaiveDate> = datasets.iter().flat_map(|d| d.days()).collect();
    dated.extend(census.iter().flat_map(|c| c.keys().copied()));
    let lookback = lookback_days(&dated, &settings.days);
    let needs_a_day = datasets.iter().any(|d| d.needs_a_day());
    let days = run_days(dated, &settings.days, needs_a_day, clock);
    let own_files;
    let files: &dyn Store = if store.writes_files() {
        store
    } else {
        own_files = LocalStore::new(&settings.output);
        &own_files
    };
    let map = load_map(settings, &tree);
    let mut run = Run {
        store,
        files,
        analytics: settings.analytics,
        map,
        output: settings.output.clone(),
        timestamp,
        shared,
        datasets,
        quality,
        days,
        lookback,
        undated: BTreeMap::new(),
        windows: 1,
        passes: 1,
        past_duplicates: BTreeMap::new(),
    };
    run.undated = run.quality_reports(|d| d.is_none());
    let mut outcomes = match census {
        None => run.write_days(&pool, &mut phases),
        Some(c) => run.write_windows(settings, &tree, &c, &pool, &mut phases),
    };
    if !run.days.is_empty() {
        outcomes.push(run.write_index());
    }
    info!(
        "{} window(s) of days, {} pass(es) over the inputs (memory budget {} MB)",
        run.windows,
        run.passes,
        settings.memory_limit >> 20
    );
    outcomes.extend(run.write_referentiel(clock));
    let (totals, outcome) = write_run_quality(&run, &tree);
    outcomes.push(outcome);
    phases.done("reports written");
    let stores: &[&dyn Store] = if store.writes_files() {
        &[store]
    } else {
        &[store, files]
    };
    for s in stores {
        if let Err(errors) = s.flush() {
            summary::failed_at_flush(&mut outcomes, &errors);
        }
    }
    phases.done("outputs synced and renamed");
    Ok(summarise(settings, run, tree, &totals, &outcomes, started))
}

/// The arrondissements for the HTML map: `--arrondissements`, else the raw tree's first file
/// (the index reports their problems; an unreadable file just gives no map).
fn load_map(settings: &Settings, tree: &RawTree) -> Shapes {
    let path = match &settings.arrondissements {
        Some(p) => p.clone(),
        None => match tree.of(arrondissements::SOURCE).next() {
            Some(f) => f.path.clone(),
            None => return Shapes::default(),
        },
    };
    /// Far above the real file (~1 MB): anything larger is not read for a drawing.
    const MAX_BYTES: u64 = 64 << 20;
    if std::fs::metadata(&path).map_or(true, |m| m.len() > MAX_BYTES) {
        return Shapes::default();
    }
    let v = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    v.map(|v| Shapes::from_geojson(&v)).unwrap_or_default()
}

/// Files of kinds this version discovers but does not read: none (every kind a run discovers
/// is read), kept in the outputs for their format.
fn files_not_processed() -> BTreeMap<&'static str, Vec<String>> {
    BTreeMap::new()
}

/// Writes the run's quality report; returns each source's totals.
fn write_run_quality(
    run: &Run,
    tree: &RawTree,
) -> (BTreeMap<&'static str, SourceQualityReport>, Outcome) {
    let totals = run.totals();
    let dates: Vec<String> = run.days.iter().map(NaiveDate::to_string).collect();
    let report = RunQualityReport {
        report_id: "quality_report_run",
        timestamp: &run.timestamp,
        clean: !run.quality.has_rejects() && tree.unreadable.is_empty(),
        dates: &dates,
        totals: &totals,
        undated: &run.undated,
        files_not_processed: &files_not_processed(),
        files_ignored: &tree.ignored,
        paths_skipped: &tree.skipped,
        paths_unreadable: &tree.unreadable,
        rows_outside_selection: run.quality.outside.values().sum(),
        rows_outside_selection_by_source: &run.quality.outside,
    };
    let name = OutputName::QualityRun.rel_path();
    let outcome = run.put(name, json::to_json_bytes(&report));
    (totals, outcome)
}

/// Why the run had nothing to process, if so: no input file recognised, or dated datasets
/// whose rows all fall outside the selected days (or that hold no row at all).
fn nothing_to_process(settings: &Settings, run: &Run, tree: &RawTree) -> Option<String> {
    let dated: Vec<&str> = DATASETS
        .iter()
        .filter(|d| d.dated())
        .map(|d| d.files().name)
        .collect();
    let files = |names: &[&str]| {
        tree.files
            .iter()
            .filter(|f| names.contains(&f.kind))
            .count()
    };
    if tree.files.is_empty() {
        return Some(format!(
            "nothing to process: no input file recognised under {} ({} file(s) there match no \
             layout; expected batch/<dataset>*.csv|json or api/<dataset>/dt=YYYY-MM-DD/..., see \
             README \"Input layout\")",
            settings.raw.display(),
            tree.ignored.len()
        ));
    }
    let in_days = |s: &str, d: Option<NaiveDate>| {
        dated.contains(&s) && d.is_some_and(|d| run.days.contains(&d))
    };
    let rows: u64 = run
        .quality
        .cells
        .iter()
        .filter(|((s, d), _)| in_days(s, *d))
        .map(|(_, c)| c.rows_read)
        .sum();
    if files(&dated) == 0 || rows > 0 || run.quality.has_rejects() {
        return None;
    }
    let outside: Vec<String> = run
        .quality
        .outside
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    Some(format!(
        "nothing to process: {} dated file(s) read, but no row falls in the selected days ({}); \
         rows on other days: {}",
        files(&dated),
        summary::selection_text(&settings.days),
        if outside.is_empty() {
            "none".to_string()
        } else {
            outside.join(", ")
        }
    ))
}

/// What the run did, and its exit code.
fn summarise(
    settings: &Settings,
    run: Run,
    tree: RawTree,
    totals: &BTreeMap<&'static str, SourceQualityReport>,
    outcomes: &[Outcome],
    started: WallClock,
) -> RunSummary {
    let count = |w: Written| outcomes.iter().filter(|(_, r)| *r == Ok(w)).count();
    let failures: Vec<&WriteFailure> = outcomes
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    summary::log_write_failures(&failures);
    let write_errors: Vec<String> = failures.iter().map(|f| f.message()).collect();
    let nothing = nothing_to_process(settings, &run, &tree);
    if let Some(why) = &nothing {
        warn!("{why}");
    }
    let (exit, status) = summary::exit_of(
        !write_errors.is_empty(),
        nothing.is_some(),
        !run.quality.has_rejects() && tree.unreadable.is_empty(),
    );
    RunSummary {
        status,
        exit_code: exit as u8,
        raw: settings.raw.display().to_string(),
        output: run.store.describe(),
        dates: run.days.iter().map(NaiveDate::to_string).collect(),
        sources: totals
            .iter()
            .map(|(s, r)| (*s, SourceTotals::new(r)))
            .collect(),
        files_not_processed: files_not_processed(),
        files_ignored: tree.ignored,
        paths_skipped: tree.skipped,
        paths_unreadable: tree.unreadable,
        rows_outside_selection: run.quality.outside.values().sum(),
        rows_outside_selection_by_source: run.quality.outside.clone(),
        outputs_created: count(Written::Created),
        outputs_replaced: count(Written::Replaced),
        outputs_unchanged: count(Written::Unchanged),
        write_errors,
        files_failed: summary::failed_files(totals),
        quality_report: if run.store.writes_files() {
            let path = settings.output.join(OutputName::QualityRun.rel_path());
            path.display().to_string()
        } else {
            "MongoDB collection `quality`, quality_report_run".into()
        },
        memory_limit_bytes: settings.memory_limit,
        windows: run.windows,
        passes: run.passes,
        elapsed_ms: started.elapsed().as_millis(),
        exit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds of a run classify the documented layouts.
    #[test]
    fn discovers_every_kind_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "api/bikes/dt=2025-11-04/hour=02/b.json",
            "api/bikes/dt=2025-11-04/hour=02/a.jsonl",
            "api/traffic/2025-11-04/stream-data-1-x.json",
            "api/comptages/dt=2025-11-03/snap.json",
            "batch/comptages-routiers-permanents.csv",
            "batch/comptages-routiers-permanents-2.csv",
            "batch/2025-11-01/referentiel-geographique.csv",
            "batch/arrondissements.geojson",
            "batch/notes.txt",
            "batch/comptage-velo-donnees-compteurs.csv",
            "batch/velo-notes.csv",
            "batch/.hidden.csv",
            "README.md",
        ] {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, "x").unwrap();
        }
        let t = discover(root, &file_kinds()).unwrap();
        let got: Vec<(&str, &str, Option<String>)> = t
            .files
            .iter()
            .map(|f| {
                (
                    f.rel.as_str(),
                    f.kind,
                    f.partition_date.map(|d| d.to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "api/bikes/dt=2025-11-04/hour=02/a.jsonl",
                    "bikes",
                    Some("2025-11-04".into())
                ),
                (
                    "api/bikes/dt=2025-11-04/hour=02/b.json",
                    "bikes",
                    Some("2025-11-04".into())
                ),
                (
                    "api/comptages/dt=2025-11-03/snap.json",
                    "comptages",
                    Some("2025-11-03".into())
                ),
                (
                    "api/traffic/2025-11-04/stream-data-1-x.json",
                    "traffic",
                    Some("2025-11-04".into())
                ),
                (
                    "batch/2025-11-01/referentiel-geographique.csv",
                    "referentiel",
                    None
                ),
                ("batch/arrondissements.geojson", "arrondissements", None),
                ("batch/comptage-velo-donnees-compteurs.csv", "bikes", None),
                (
                    "batch/comptages-routiers-permanents-2.csv",
                    "comptages",
                    None
                ),
                ("batch/comptages-routiers-permanents.csv", "comptages", None),
            ]
        );
        assert_eq!(
            t.ignored,
            vec!["README.md", "batch/notes.txt", "batch/velo-notes.csv"]
        );
    }

    /// The hand-written road-counter metrics are serde's bytes, on the real export's days.
    #[test]
    fn comptages_body_is_the_serde_envelope() {
        let real = std::env::var("CITYFLOW_REAL_DATA")
            .unwrap_or_else(|_| "../shared/data/real".to_string());
        let real = std::path::Path::new(&real);
        let f = real.join("comptages-routiers-permanents/crp_washington_louisgthier.csv");
        let geo = std::fs::read(real.join("geo/arrondissements-paris.geojson"))
            .expect("real data (set CITYFLOW_REAL_DATA)");
        let (arr, _) = ArrondissementIndex::from_geojson(&serde_json::from_slice(&geo).unwrap());
        let file = InputFile::new(&f, "batch/crp.csv", comptages::SOURCE, None);
        let mut q = QualityAcc::default();
        let acc = comptages::Comptages::read_file(&file, &Default::default(), &mut q, &|_| {});
        let mut shared = Shared {
            arrondissements: arr,
            ..Shared::default()
        };
        let p = comptages::Comptages::finish(acc, &mut shared);
        let mut days = 0;
        for day in p.days() {
            let m = p.metrics(day).unwrap();
            let env = MetricsEnvelope {
                metric_type: "comptages",
                date: day.to_string(),
                timestamp: "2023-11-14T22:13:20Z",
                metrics: &m,
            };
            let want = json::to_json_bytes(&env);
            let got = output::metrics_body("comptages", day, "2023-11-14T22:13:20Z", |o, l| {
                comptages::Comptages::write_metrics(m, o, l);
            });
            assert!(got == want, "{day}");
            days += 1;
        }
        assert!(days > 3, "{days}");
    }
}
