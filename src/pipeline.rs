//! `process` orchestration: discover (sorted) -> read every file (rayon map/reduce of mergeable
//! accumulators) -> per-day metrics, reports and quality reports -> store.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant as WallClock;

use chrono::{Days, NaiveDate};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use crate::config::Settings;
use crate::discover::InputFile;
use crate::discover::{discover, Dataset, RawTree};
use crate::error::{Error, Exit};
use crate::geo::ArrondissementIndex;
use crate::metrics::comptages::{self as cm, Prepared};
use crate::metrics::referentiel as rm;
use crate::metrics::{
    bikes as bm, chantiers as chm, traffic as tm, velib as vm, weather as wm, DayDuplicates,
};
use crate::quality::{QualityAcc, SourceQuality, SourceQualityReport};
use crate::report;
use crate::sources::{
    arrondissements, bikes, chantiers, comptages, referentiel, traffic, velib, weather,
    DaySelection,
};
use crate::store::{OutputDoc, Store, Written};
use crate::time::Clock;

use crate::json;
pub use crate::json::to_json_bytes;

/// Per-source totals of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceTotals {
    pub files: usize,
    pub files_failed: usize,
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    pub duplicates: u64,
    pub error_rate: f64,
}

/// What a run did (printed as a table on stderr, or as JSON on stdout with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub status: &'static str,
    pub exit_code: u8,
    pub raw: String,
    pub output: String,
    pub dates: Vec<String>,
    pub sources: BTreeMap<&'static str, SourceTotals>,
    /// Files of datasets this version does not process yet (listed, never silently dropped).
    pub files_not_processed: BTreeMap<&'static str, Vec<String>>,
    pub files_ignored: Vec<String>,
    pub rows_outside_selection: u64,
    pub outputs_created: usize,
    pub outputs_replaced: usize,
    pub outputs_unchanged: usize,
    pub write_errors: Vec<String>,
    pub elapsed_ms: u128,
    #[serde(skip)]
    pub exit: Exit,
}

impl RunSummary {
    /// A short table for stderr.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<16} {:>6} {:>12} {:>12} {:>10} {:>10} {:>8}\n",
            "source", "files", "rows read", "rows used", "rejected", "duplicates", "errors"
        );
        for (name, t) in &self.sources {
            s += &format!(
                "{:<16} {:>6} {:>12} {:>12} {:>10} {:>10} {:>7.2}%\n",
                name,
                t.files,
                t.rows_read,
                t.rows_used,
                t.rows_rejected,
                t.duplicates,
                t.error_rate * 100.0
            );
        }
        for (name, files) in &self.files_not_processed {
            s += &format!(
                "{name:<16} {:>6}   not processed by this version\n",
                files.len()
            );
        }
        s += &format!(
            "{} day(s) {}; outputs: {} created, {} replaced, {} unchanged; {} write error(s); {} ms; {}\n",
            self.dates.len(),
            match (self.dates.first(), self.dates.last()) {
                (Some(a), Some(b)) => format!("{a} .. {b}"),
                _ => "(none)".into(),
            },
            self.outputs_created,
            self.outputs_replaced,
            self.outputs_unchanged,
            self.write_errors.len(),
            self.elapsed_ms,
            self.status
        );
        s
    }
}

#[derive(Serialize)]
struct MetricsEnvelope<'a, T: Serialize> {
    metric_type: &'a str,
    date: String,
    timestamp: &'a str,
    metrics: T,
}

/// `comptages_metrics_<day>.json`: a [`MetricsEnvelope`], written by hand (the largest output:
/// ~3 MB a day; tested byte for byte against serde).
fn comptages_body(day: NaiveDate, timestamp: &str, m: &cm::ComptagesMetrics) -> Vec<u8> {
    json::document(|out| {
        let mut o = json::Obj::begin(out, 0);
        o.key(out, "metric_type");
        json::write_str(out, "comptages");
        o.key(out, "date");
        json::write_str(out, &day.to_string());
        o.key(out, "timestamp");
        json::write_str(out, timestamp);
        o.key(out, "metrics");
        m.write_json(out, o.inner());
        o.end(out);
    })
}

#[derive(Serialize)]
struct ReportEnvelope<'a> {
    report_id: String,
    date: String,
    timestamp: &'a str,
    report: report::DailyReport,
}

#[derive(Serialize)]
struct QualityReport<'a> {
    report_id: String,
    date: String,
    timestamp: &'a str,
    /// No rejected row for this date, and no undated reject or failed file in the run.
    clean: bool,
    sources: BTreeMap<&'static str, SourceQualityReport>,
    /// Rows with no usable date, failed files, undated reference data: the same in every report.
    undated: &'a BTreeMap<&'static str, SourceQualityReport>,
}

#[derive(Serialize)]
struct RunQualityReport<'a> {
    report_id: &'static str,
    timestamp: &'a str,
    clean: bool,
    dates: &'a [String],
    totals: BTreeMap<&'static str, SourceQualityReport>,
    undated: &'a BTreeMap<&'static str, SourceQualityReport>,
    files_not_processed: &'a BTreeMap<&'static str, Vec<String>>,
    files_ignored: &'a [String],
    rows_outside_selection: u64,
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

/// The trimmed comptages object the report reads (keeps reports of many days cheap to hold).
fn report_view(m: &cm::ComptagesMetrics) -> Value {
    json!({
        "global_metrics": m.global_metrics,
        "top_10_troncons": m.top_10_troncons,
        "top_10_zones_congestionnees": m.top_10_zones_congestionnees,
        "alertes_congestion": m.alertes_congestion.iter().take(20).collect::<Vec<_>>(),
    })
}

/// Reads every file of one dataset in parallel into one merged accumulator and its quality.
fn read_all<A: Default + Send>(
    source: &'static str,
    files: Vec<&InputFile>,
    sel: &DaySelection,
    read: fn(&InputFile, &DaySelection, &mut QualityAcc) -> A,
    merge: fn(&mut A, A),
) -> (A, QualityAcc) {
    files
        .par_iter()
        .map(|f| {
            let mut q = QualityAcc::default();
            let a = read(f, sel, &mut q);
            q.note_file(source, &f.rel);
            (a, q)
        })
        .reduce(
            || (A::default(), QualityAcc::default()),
            |(mut a, mut qa), (b, qb)| {
                merge(&mut a, b);
                qa.merge(qb);
                (a, qa)
            },
        )
}

/// The datasets other than road counters, each merged over all its files.
#[derive(Default)]
struct Others {
    bikes: bm::BikesAcc,
    chantiers: chm::ChantiersAcc,
    traffic: tm::TrafficAcc,
    weather: wm::WeatherAcc,
    velib: vm::VelibAcc,
}

impl Others {
    fn read(tree: &RawTree, sel: &DaySelection, quality: &mut QualityAcc) -> Others {
        let files = |d: Dataset| -> Vec<&InputFile> {
            if d.is_processed() {
                tree.of(d).collect()
            } else {
                Vec::new()
            }
        };
        let mut o = Others::default();
        // Bikes anomalies compare a day with the day before: read one more day than selected
        // (only selected days are written).
        let bikes_sel = DaySelection {
            from: sel.from.and_then(|f| f.pred_opt()),
            to: sel.to,
        };
        let (a, q) = read_all(
            bikes::SOURCE,
            files(Dataset::Bikes),
            &bikes_sel,
            bikes::read_file,
            bm::BikesAcc::merge,
        );
        o.bikes = a;
        quality.merge(q);
        let (a, q) = read_all(
            chantiers::SOURCE,
            files(Dataset::Chantiers),
            sel,
            chantiers::read_file,
            chm::ChantiersAcc::merge,
        );
        o.chantiers = a;
        quality.merge(q);
        let (a, q) = read_all(
            traffic::SOURCE,
            files(Dataset::Traffic),
            sel,
            traffic::read_file,
            tm::TrafficAcc::merge,
        );
        o.traffic = a;
        quality.merge(q);
        let (a, q) = read_all(
            weather::SOURCE,
            files(Dataset::Weather),
            sel,
            weather::read_file,
            wm::WeatherAcc::merge,
        );
        o.weather = a;
        quality.merge(q);
        let (a, q) = read_all(
            velib::SOURCE,
            files(Dataset::Velib),
            sel,
            velib::read_file,
            vm::VelibAcc::merge,
        );
        o.velib = a;
        quality.merge(q);
        o
    }

    /// Days these datasets have data for (chantiers has none of its own).
    fn days(&self) -> BTreeSet<NaiveDate> {
        let mut d = self.bikes.days();
        d.extend(self.traffic.days());
        d.extend(self.weather.days());
        d.extend(self.velib.days());
        d
    }

    /// Each type's metrics of `day`, as JSON, in report order.
    fn metrics(&self, day: NaiveDate, arr: &ArrondissementIndex) -> Vec<(&'static str, Value)> {
        fn v<T: Serialize>(x: Option<T>) -> Option<Value> {
            x.map(|m| serde_json::to_value(m).expect("metrics serialise"))
        }
        [
            ("bikes", v(bm::metrics(&self.bikes, day, arr))),
            ("traffic", v(tm::metrics(&self.traffic, day, arr))),
            ("weather", v(wm::metrics(&self.weather, day, arr))),
            ("chantiers", v(chm::metrics(&self.chantiers, day, arr))),
            ("velib", v(vm::metrics(&self.velib, day, arr))),
        ]
        .into_iter()
        .filter_map(|(t, m)| m.map(|m| (t, m)))
        .collect()
    }

    fn duplicates(&self, source: &str, day: Option<NaiveDate>) -> DayDuplicates {
        match source {
            bikes::SOURCE => self.bikes.duplicates(day),
            chantiers::SOURCE => self.chantiers.duplicates(day),
            traffic::SOURCE => self.traffic.duplicates(day),
            weather::SOURCE => self.weather.duplicates(day),
            velib::SOURCE => self.velib.duplicates(day),
            _ => DayDuplicates::default(),
        }
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

/// The result of writing one output: its path and what happened.
type Outcome = (String, Result<Written, String>);

/// Runs `process` with `settings`, writing to `store`.
pub fn run(settings: &Settings, clock: &Clock, store: &dyn Store) -> Result<RunSummary, Error> {
    let started = WallClock::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.jobs)
        .build()
        .map_err(|e| Error::Threads(e.to_string()))?;
    let tree: RawTree = discover(&settings.raw).map_err(|source| Error::RawTree {
        path: settings.raw.clone(),
        source,
    })?;
    info!(
        "raw root {} ({}), {} file(s) recognised",
        settings.raw.display(),
        settings.raw_origin,
        tree.files.len()
    );
    let timestamp = clock.timestamp();
    let mut quality = QualityAcc::default();

    // Reference data first: arrondissements, then the référentiel.
    let arr = match &settings.arrondissements {
        Some(p) => arrondissements::load_path(p, &mut quality),
        None => arrondissements::load(tree.of(Dataset::Arrondissements), &mut quality),
    };
    if arr.is_empty() {
        warn!("no arrondissements file (batch/arrondissements*.geojson or --arrondissements): arrondissements will be null");
    }
    let mut ref_rows = Vec::new();
    for f in tree.of(Dataset::Referentiel) {
        ref_rows.extend(referentiel::read_file(f, &mut quality));
    }
    let mut ref_arcs = rm::merge_rows(ref_rows);

    // Road counters: every file, in parallel.
    let files: Vec<_> = tree.of(Dataset::Comptages).collect();
    let pb = progress_bar(settings, files.iter().map(|f| f.size).sum());
    let inc = |n: u64| pb.inc(n);
    let out = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let mut out = comptages::read_file(f, &settings.days, &inc);
                out.quality.note_file(comptages::SOURCE, &f.rel);
                out
            })
            .reduce(comptages::FileOutput::default, comptages::FileOutput::merge)
    });
    pb.finish_and_clear();
    let phase = |name: &str, since: &mut WallClock| {
        tracing::debug!("phase {name}: {} ms", since.elapsed().as_millis());
        *since = WallClock::now();
    };
    let mut since = started;
    phase("read road counters", &mut since);
    quality.merge(out.quality);
    let rows_outside = out.rows_outside;
    let active: BTreeSet<String> = out.acc.arc_ids().map(str::to_string).collect();
    for (id, a) in ref_arcs.iter_mut() {
        a.actif = active.contains(id);
    }
    let ctx = cm::Context {
        arrondissements: &arr,
        referentiel: &ref_arcs,
    };
    let prepared: Prepared = pool.install(|| cm::prepare(out.acc, &ctx));
    phase("prepare road counters", &mut since);
    for w in &prepared.warnings {
        quality.problem(
            comptages::SOURCE,
            None,
            &w.file,
            w.line,
            w.reason,
            w.detail.clone(),
        );
    }
    let others = pool.install(|| Others::read(&tree, &settings.days, &mut quality));
    phase("read other datasets", &mut since);
    let quality = quality.finish();
    let mut dated: BTreeSet<NaiveDate> = prepared.days().collect();
    dated.extend(others.days());
    let days = run_days(
        dated,
        &settings.days,
        others.chantiers != chm::ChantiersAcc::default(),
        clock,
    );
    if days.is_empty() {
        warn!("no dated rows found in {}", settings.raw.display());
    }

    let mut not_processed: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for f in tree.files.iter().filter(|f| !f.dataset.is_processed()) {
        not_processed
            .entry(f.dataset.name())
            .or_default()
            .push(f.rel.clone());
    }
    for (name, files) in &not_processed {
        warn!(
            "{} {name} file(s) found but not processed by this version (e.g. {})",
            files.len(),
            files[0]
        );
    }

    // Quality views.
    let dup_of = |source: &str, day: Option<NaiveDate>| -> DayDuplicates {
        if source == comptages::SOURCE {
            day.and_then(|d| prepared.duplicates.get(&d))
                .cloned()
                .unwrap_or_default()
        } else {
            others.duplicates(source, day)
        }
    };
    let build = |(s, d): &(&'static str, Option<NaiveDate>), q: &SourceQuality| {
        let dd = dup_of(s, *d);
        (
            *s,
            SourceQualityReport::build(q, dd.count, dd.conflicting, dd.samples),
        )
    };
    let undated: BTreeMap<&'static str, SourceQualityReport> = quality
        .cells
        .iter()
        .filter(|((_, d), _)| d.is_none())
        .map(|(k, q)| build(k, q))
        .collect();
    let undated_clean = undated
        .values()
        .all(|r| r.rows_rejected == 0 && r.files_failed.is_empty());

    let mut outcomes: Vec<Outcome> = Vec::new();
    let put = |doc: OutputDoc| -> Outcome {
        let rel_path = doc.rel_path.clone();
        let r = store.put_owned(doc).map_err(|e| e.to_string());
        if let Err(e) = &r {
            tracing::error!("{e}");
        }
        (rel_path, r)
    };

    // Per day: every type's metrics, then keep what the report needs.
    let per_day: Vec<(NaiveDate, report::DayMetrics, Vec<Outcome>)> = pool.install(|| {
        days.par_iter()
            .map(|&day| {
                let mut res = Vec::new();
                let view = prepared.metrics(day).map(|m| {
                    res.push(put(OutputDoc {
                        rel_path: format!("metrics/comptages_metrics_{day}.json"),
                        body: comptages_body(day, &timestamp, &m),
                    }));
                    report_view(&m)
                });
                let mut dm = Map::new();
                if let Some(v) = view {
                    dm.insert("comptages".into(), v);
                }
                for (metric_type, metrics) in others.metrics(day, &arr) {
                    let env = MetricsEnvelope {
                        metric_type,
                        date: day.to_string(),
                        timestamp: &timestamp,
                        metrics: &metrics,
                    };
                    res.push(put(OutputDoc {
                        rel_path: format!("metrics/{metric_type}_metrics_{day}.json"),
                        body: to_json_bytes(&env),
                    }));
                    dm.insert(metric_type.into(), metrics);
                }
                (day, dm, res)
            })
            .collect()
    });
    phase("metrics written", &mut since);
    let mut day_metrics: BTreeMap<NaiveDate, report::DayMetrics> = BTreeMap::new();
    for (day, dm, res) in per_day {
        outcomes.extend(res);
        day_metrics.insert(day, dm);
    }

    // Per day: report (JSON + CSV) and quality report.
    let docs: Vec<Vec<Outcome>> = pool.install(|| {
        days.par_iter()
            .map(|&day| {
                let m = &day_metrics[&day];
                let before = day.checked_sub_days(Days::new(7));
                let wb = before.and_then(|b| day_metrics.get(&b).map(|wm| (b.to_string(), wm)));
                let r = report::build(
                    &day.to_string(),
                    &timestamp,
                    m,
                    wb.as_ref().map(|(d, wm)| (d.as_str(), *wm)),
                );
                let csv = report::csv_bytes(&r);
                let env = ReportEnvelope {
                    report_id: format!("daily_report_{day}"),
                    date: day.to_string(),
                    timestamp: &timestamp,
                    report: r,
                };
                let mut res = vec![
                    put(OutputDoc {
                        rel_path: format!("reports/daily_report_{day}.json"),
                        body: to_json_bytes(&env),
                    }),
                    put(OutputDoc {
                        rel_path: format!("reports/daily_report_{day}.csv"),
                        body: csv,
                    }),
                ];
                let sources: BTreeMap<&'static str, SourceQualityReport> = quality
                    .cells
                    .iter()
                    .filter(|((_, d), _)| *d == Some(day))
                    .map(|(k, q)| build(k, q))
                    .collect();
                let clean = undated_clean && sources.values().all(|r| r.rows_rejected == 0);
                let qr = QualityReport {
                    report_id: format!("quality_report_{day}"),
                    date: day.to_string(),
                    timestamp: &timestamp,
                    clean,
                    sources,
                    undated: &undated,
                };
                res.push(put(OutputDoc {
                    rel_path: format!("quality/quality_report_{day}.json"),
                    body: to_json_bytes(&qr),
                }));
                res
            })
            .collect()
    });
    outcomes.extend(docs.into_iter().flatten());

    // The référentiel is undated: written once per run, under the last processed date (or the
    // clock's Paris date when the run has no dated input).
    if !ref_arcs.is_empty() {
        let date = days.last().copied().unwrap_or_else(|| clock.paris_today());
        let metrics = rm::build(&ref_arcs, &|id| active.contains(id));
        let env = MetricsEnvelope {
            metric_type: "referentiel",
            date: date.to_string(),
            timestamp: &timestamp,
            metrics,
        };
        outcomes.push(put(OutputDoc {
            rel_path: format!("metrics/referentiel_metrics_{date}.json"),
            body: to_json_bytes(&env),
        }));
    }

    // Run-level quality report and totals.
    let mut by_source: BTreeMap<&'static str, (SourceQuality, u64, u64)> = BTreeMap::new();
    for ((s, d), q) in &quality.cells {
        let e = by_source.entry(s).or_default();
        e.0.merge(q.clone());
        let dd = dup_of(s, *d);
        e.1 += dd.count;
        e.2 += dd.conflicting;
    }
    let totals: BTreeMap<&'static str, SourceQualityReport> = by_source
        .iter()
        .map(|(s, (q, n, c))| (*s, SourceQualityReport::build(q, *n, *c, Vec::new())))
        .collect();
    let date_strings: Vec<String> = days.iter().map(NaiveDate::to_string).collect();
    let clean = !quality.has_rejects();
    let run_q = RunQualityReport {
        report_id: "quality_report_run",
        timestamp: &timestamp,
        clean,
        dates: &date_strings,
        totals: totals.clone(),
        undated: &undated,
        files_not_processed: &not_processed,
        files_ignored: &tree.ignored,
        rows_outside_selection: rows_outside,
    };
    outcomes.push(put(OutputDoc {
        rel_path: "quality/quality_report_run.json".into(),
        body: to_json_bytes(&run_q),
    }));

    phase("reports written", &mut since);
    if let Err(e) = store.flush() {
        tracing::error!("{e}");
        outcomes.push((e.path.display().to_string(), Err(e.to_string())));
    }
    phase("outputs synced and renamed", &mut since);
    let count = |w: Written| outcomes.iter().filter(|(_, r)| *r == Ok(w)).count();
    let write_errors: Vec<String> = outcomes
        .iter()
        .filter_map(|(_, r)| r.as_ref().err().cloned())
        .collect();
    let exit = if !write_errors.is_empty() {
        Exit::Output
    } else if !clean {
        Exit::Unclean
    } else {
        Exit::Clean
    };
    let sources = totals
        .iter()
        .map(|(s, r)| {
            (
                *s,
                SourceTotals {
                    files: r.files_read.len(),
                    files_failed: r.files_failed.len(),
                    rows_read: r.rows_read,
                    rows_used: r.rows_used,
                    rows_rejected: r.rows_rejected,
                    duplicates: r.duplicates,
                    error_rate: r.error_rate,
                },
            )
        })
        .collect();
    Ok(RunSummary {
        status: match exit {
            Exit::Clean => "clean",
            Exit::Unclean => "finished with rejected input",
            _ => "finished with write errors",
        },
        exit_code: exit as u8,
        raw: settings.raw.display().to_string(),
        output: store.describe(),
        dates: date_strings,
        sources,
        files_not_processed: not_processed,
        files_ignored: tree.ignored,
        rows_outside_selection: rows_outside,
        outputs_created: count(Written::Created),
        outputs_replaced: count(Written::Replaced),
        outputs_unchanged: count(Written::Unchanged),
        write_errors,
        elapsed_ms: started.elapsed().as_millis(),
        exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let file = InputFile::new(&f, "batch/crp.csv", Dataset::Comptages, None);
        let out = crate::sources::comptages::read_file(&file, &Default::default(), &|_| {});
        let refs = BTreeMap::new();
        let ctx = cm::Context {
            arrondissements: &arr,
            referentiel: &refs,
        };
        let p = cm::prepare(out.acc, &ctx);
        let mut days = 0;
        for day in p.days() {
            let m = p.metrics(day).unwrap();
            let env = MetricsEnvelope {
                metric_type: "comptages",
                date: day.to_string(),
                timestamp: "2023-11-14T22:13:20Z",
                metrics: &m,
            };
            let want = to_json_bytes(&env);
            let got = comptages_body(day, "2023-11-14T22:13:20Z", &m);
            assert!(got == want, "{day}");
            days += 1;
        }
        assert!(days > 3, "{days}");
    }
}
