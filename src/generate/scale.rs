//! Full-scale raw trees for benchmarks: the road-counter export at its real size (6.2 GB,
//! ~20 M rows, ~3,350 arcs, hourly, January to October), the bike-counter CSV export and a year of
//! daily API snapshots, in the exact formats of the Paris exports.
//!
//! - Arcs (ids, labels, nodes, `geo_point_2d`, `geo_shape`) come from a référentiel CSV when one
//!   is given (e.g. the real `referentiel-comptages-routiers` file), else are synthetic.
//! - Rows: BOM, CRLF, `;`, the 15 export columns, `lat, lon` points, quoted `geo_shape` JSON with
//!   doubled quotes, Paris offsets (`+01:00`/`+02:00` across DST), about 17 % of arc-hours absent,
//!   empty flows / occupancies / states at the real file's rates, the dataset's state spellings,
//!   rows shuffled within each week (unsorted, as the export is).
//! - Sized by `rows` or `bytes` (the file stops at the first row boundary past the limit).
//! - Same seed and options, same bytes; memory does not grow with the size (one week's shuffle).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};

use super::{hourly_profile, hours, make_arcs, occupancy, state_of, GenOptions, Rng};

/// Options of a full-scale tree.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub seed: u64,
    /// Référentiel CSV to take the arcs from (else `arcs` synthetic arcs).
    pub referentiel: Option<PathBuf>,
    pub arcs: usize,
    pub first_day: NaiveDate,
    /// Road-counter rows to write (default: stop at `bytes`, else 20.3 M rows).
    pub rows: Option<u64>,
    /// Road-counter CSV size to reach.
    pub bytes: Option<u64>,
    /// Share of arc-hours present in the export.
    pub presence: f64,
    /// Bike-counter CSV rows (0: no file).
    pub bike_rows: u64,
    /// Days of daily API snapshots (all arcs at 08:00), starting at `first_day`.
    pub api_days: u32,
    /// A multi-year road-counter export instead of the sized one (`rows` and `bytes` unused).
    pub span: Option<super::span::SpanOptions>,
}

impl Default for ScaleOptions {
    fn default() -> ScaleOptions {
        ScaleOptions {
            seed: 7,
            referentiel: None,
            arcs: 3350,
            first_day: NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"),
            rows: None,
            bytes: None,
            presence: 0.83,
            bike_rows: 0,
            api_days: 0,
            span: None,
        }
    }
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScaleStats {
    pub arcs: usize,
    pub rows: u64,
    pub bytes: u64,
    pub days: u32,
    pub bike_rows: u64,
    pub bike_bytes: u64,
    pub api_files: u32,
    /// Road-counter files written (1, or one per year of a yearly span).
    pub files: usize,
}

/// One arc, with its export fields preformatted.
pub struct ScaleArc {
    pub id: String,
    pub libelle: String,
    /// `;Identifiant noeud amont;Libelle noeud amont;Identifiant noeud aval;Libelle noeud aval;`
    nodes: String,
    /// `;Date debut dispo data;Date fin dispo data;geo_point_2d;geo_shape\r\n`
    tail: String,
    point: [f64; 2],
    shape: serde_json::Value,
    base_flow: f64,
    congestion: f64,
}

/// A CSV field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn arc_from(
    id: &str,
    libelle: &str,
    nodes: [&str; 4],
    point: [f64; 2],
    shape: &str,
    rng: &mut Rng,
) -> ScaleArc {
    let i = rng.below(8);
    ScaleArc {
        id: id.to_string(),
        libelle: field(libelle),
        nodes: format!(
            ";{};{};{};{};",
            field(nodes[0]),
            field(nodes[1]),
            field(nodes[2]),
            field(nodes[3])
        ),
        tail: format!(
            ";1996-10-10;2023-01-01;{}, {};{}\r\n",
            point[1],
            point[0],
            field(shape)
        ),
        point,
        shape: serde_json::from_str(shape).unwrap_or(serde_json::Value::Null),
        base_flow: 150.0 + 1400.0 * rng.f64(),
        congestion: match i {
            5 => 10.0,
            1 => 0.9 + 0.4 * rng.f64(),
            _ => 0.4 * rng.f64(),
        },
    }
}

/// Arcs of a référentiel CSV (first row of each id; split arcs keep their first segment).
pub fn arcs_from_referentiel(path: &Path, seed: u64) -> std::io::Result<Vec<ScaleArc>> {
    let bytes = std::fs::read(path)?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(body);
    let header = r.headers().map_err(std::io::Error::other)?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| std::io::Error::other(format!("{}: no column `{name}`", path.display())))
    };
    let c = [
        col("Identifiant arc")?,
        col("Libelle")?,
        col("Identifiant noeud amont")?,
        col("Libelle noeud amont")?,
        col("Identifiant noeud aval")?,
        col("Libelle noeud aval")?,
        col("geo_point_2d")?,
        col("geo_shape")?,
    ];
    let mut rng = Rng::new(seed ^ 0xA5C5);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(std::io::Error::other)?;
        let get = |i: usize| rec.get(c[i]).unwrap_or("").trim();
        let id = get(0);
        if id.is_empty() || !seen.insert(id.to_string()) {
            continue;
        }
        let point = crate::geo::parse_lat_lon(get(6)).unwrap_or(super::CENTER);
        out.push(arc_from(
            id,
            get(1),
            [get(2), get(3), get(4), get(5)],
            point,
            get(7),
            &mut rng,
        ));
    }
    Ok(out)
}

/// Synthetic arcs (the small generator's geometry).
pub fn synthetic_arcs(n: usize, seed: u64) -> Vec<ScaleArc> {
    let o = GenOptions {
        seed,
        arcs: n,
        ..GenOptions::default()
    };
    let mut rng = Rng::new(seed);
    let arcs = make_arcs(&o, &mut rng);
    let mut rng = Rng::new(seed ^ 0xA5C5);
    arcs.iter()
        .map(|a| {
            let pts: Vec<[f64; 2]> = a.segments.concat();
            let shape = serde_json::json!({"coordinates": pts, "type": "LineString"}).to_string();
            let amont = a.amont.to_string();
            let aval = a.aval.to_string();
            arc_from(
                &a.id.to_string(),
                &a.libelle,
                [
                    &amont,
                    &format!("{}-amont", a.libelle),
                    &aval,
                    &format!("{}-aval", a.libelle),
                ],
                a.point,
                &shape,
                &mut rng,
            )
        })
        .collect()
}

/// One arc-hour: a function of (seed, arc, instant) only, so API snapshots repeat CSV rows.
pub(super) struct Reading {
    present: bool,
    q: Option<f64>,
    k: Option<f64>,
    state: &'static str,
    barre: bool,
}

pub(super) fn reading(
    seed: u64,
    arc_no: usize,
    arc: &ScaleArc,
    t: i64,
    hour: u32,
    presence: f64,
) -> Reading {
    let rng = &mut Rng::new(seed ^ ((arc_no as u64) << 40) ^ (t as u64));
    let present = rng.chance(presence);
    let prof = hourly_profile(hour);
    let q = (arc.base_flow * prof * (0.85 + 0.3 * rng.f64())).round();
    let k = occupancy(prof, arc.congestion, rng);
    let u = rng.f64();
    let state = if u < 0.045 {
        "Inconnu"
    } else if u < 0.048 {
        ""
    } else {
        state_of(k)
    };
    Reading {
        present,
        q: (!rng.chance(0.038)).then_some(q),
        k: (!rng.chance(0.045)).then_some(k),
        state,
        barre: rng.chance(0.023),
    }
}

/// One export row (CRLF-terminated) of `arc` at `ts` (Paris, `%Y-%m-%dT%H:%M:%S%:z`) into `line`.
pub(super) fn push_row(
    line: &mut Vec<u8>,
    arc: &ScaleArc,
    ts: &str,
    r: &Reading,
) -> std::io::Result<()> {
    line.clear();
    line.extend_from_slice(arc.id.as_bytes());
    line.push(b';');
    line.extend_from_slice(arc.libelle.as_bytes());
    line.push(b';');
    line.extend_from_slice(ts.as_bytes());
    line.push(b';');
    if let Some(q) = r.q {
        write!(line, "{q:?}")?;
    }
    line.push(b';');
    if let Some(k) = r.k {
        write!(line, "{k:?}")?;
    }
    line.push(b';');
    line.extend_from_slice(r.state.as_bytes());
    line.extend_from_slice(arc.nodes.as_bytes());
    line.extend_from_slice(if r.barre { "Barré" } else { "Invalide" }.as_bytes());
    line.extend_from_slice(arc.tail.as_bytes());
    Ok(())
}

/// Counts bytes written through it.
pub(super) struct Counting<W> {
    pub(super) w: W,
    pub(super) n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(b)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

pub(super) const HEADER: &str = "Identifiant arc;Libelle;Date et heure de comptage;Débit horaire;Taux d'occupation;Etat trafic;Identifiant noeud amont;Libelle noeud amont;Identifiant noeud aval;Libelle noeud aval;Etat arc;Date debut dispo data;Date fin dispo data;geo_point_2d;geo_shape\r\n";

/// Writes the road-counter export to `w`; returns (rows, bytes, days covered).
pub fn write_comptages<W: Write>(
    w: W,
    arcs: &[ScaleArc],
    o: &ScaleOptions,
) -> std::io::Result<(u64, u64, u32)> {
    use chrono::Timelike;
    let mut w = Counting {
        w: std::io::BufWriter::with_capacity(1 << 20, w),
        n: 0,
    };
    w.write_all(b"\xEF\xBB\xBF")?;
    w.write_all(HEADER.as_bytes())?;
    let row_limit = match (o.rows, o.bytes) {
        (Some(r), _) => r,
        (None, Some(_)) => u64::MAX,
        (None, None) => 20_300_000,
    };
    let byte_limit = o.bytes.unwrap_or(u64::MAX);
    let mut rng = Rng::new(o.seed ^ 0x5EED);
    let (mut rows, mut days) = (0u64, 0u32);
    let mut line = Vec::with_capacity(1024);
    let mut block = o.first_day;
    while rows < row_limit && w.n < byte_limit {
        let hs = hours(block, 7);
        let stamps: Vec<(i64, u32, String)> = hs
            .iter()
            .map(|t| {
                (
                    t.timestamp(),
                    t.hour(),
                    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                )
            })
            .collect();
        let n = arcs.len() * stamps.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut last_day = block;
        for idx in order {
            if rows >= row_limit || w.n >= byte_limit {
                break;
            }
            let (a, h) = (idx as usize % arcs.len(), idx as usize / arcs.len());
            let (t, hour, ts) = &stamps[h];
            let arc = &arcs[a];
            let r = reading(o.seed, a, arc, *t, *hour, o.presence);
            if !r.present {
                continue;
            }
            push_row(&mut line, arc, ts, &r)?;
            w.write_all(&line)?;
            rows += 1;
            let d = NaiveDate::parse_from_str(&ts[..10], "%Y-%m-%d").unwrap_or(block);
            last_day = last_day.max(d);
        }
        days = (last_day - o.first_day).num_days() as u32 + 1;
        block += Duration::days(7);
    }
    w.flush()?;
    Ok((rows, w.n, days))
}

const BIKE_HEADER: &str = "Identifiant du compteur;Nom du compteur;Identifiant du site de comptage;Nom du site de comptage;Comptage horaire;Date et heure de comptage;Date d'installation du site de comptage;Lien vers photo du site de comptage;Coordonnées géographiques;Identifiant technique compteur;ID Photos;test_lien_vers_photos_du_site_de_comptage_;id_photo_1;url_sites;type_dimage;mois_annee_comptage\n";

const BIKE_STREETS: [&str; 8] = [
    "97 avenue Denfert-Rochereau",
    "44 avenue des Champs Elysées",
    "Totem 73 boulevard de Sébastopol",
    "27 quai de la Tournelle",
    "Pont des Invalides",
    "89 boulevard de Magenta",
    "Face au 48 quai de la marne",
    "152 boulevard du Montparnasse",
];

/// Writes the bike-counter export (16 columns, `;`, BOM, shuffled hours); returns its bytes.
pub fn write_bikes<W: Write>(w: W, o: &ScaleOptions) -> std::io::Result<u64> {
    use chrono::Timelike;
    let mut w = Counting {
        w: std::io::BufWriter::with_capacity(1 << 20, w),
        n: 0,
    };
    w.write_all(b"\xEF\xBB\xBF")?;
    w.write_all(BIKE_HEADER.as_bytes())?;
    let counters = 101usize;
    let mut rng = Rng::new(o.seed ^ 0xB1CE);
    let statics: Vec<(String, String, String)> = (0..counters)
        .map(|i| {
            let site = 100_003_096 + 7919 * i as u64;
            let id = format!("{site}-{}", 353_242_251 + 104_729 * i as u64);
            let street = BIKE_STREETS[i % BIKE_STREETS.len()];
            let dir = ["SO-NE", "NE-SO", "E-O", "O-E"][i % 4];
            let p = super::spot(0.5 + 5.0 * rng.f64(), 360.0 * rng.f64());
            let photo = format!(
                "https://filer.eco-counter-tools.com/file/{}/{:x}{:x}.jpeg",
                10 + i % 90,
                rng.next_u64(),
                rng.next_u64()
            );
            let head = format!("{id};{street} {dir};{site};{street};");
            let tail = format!(
                ";2012-02-22;{photo};{}, {};Y2H{:08};{photo};{photo};{:x}.jpeg;https://www.eco-visio.net/Photos/{site};jpg;",
                p[1], p[0], 19_070_373 + i, rng.next_u64()
            );
            (head, tail, id)
        })
        .collect();
    let mut rows = 0u64;
    let mut block = o.first_day;
    let mut line = Vec::with_capacity(2048);
    while rows < o.bike_rows {
        let hs = hours(block, 7);
        let n = counters * hs.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        for idx in order {
            if rows >= o.bike_rows {
                break;
            }
            let (c, h) = (idx as usize % counters, idx as usize / counters);
            let t = hs[h];
            let (head, tail, _) = &statics[c];
            let count = (hourly_profile(t.hour()) * (20.0 + 300.0 * rng.f64())).round() as u64;
            line.clear();
            line.extend_from_slice(head.as_bytes());
            write!(line, "{count};{}", t.format("%Y-%m-%dT%H:%M:%S%:z"))?;
            line.extend_from_slice(tail.as_bytes());
            writeln!(line, "{}", t.format("%Y-%m"))?;
            w.write_all(&line)?;
            rows += 1;
        }
        block += Duration::days(7);
    }
    w.flush()?;
    Ok(w.n)
}

/// A daily Opendatasoft snapshot of every arc at 08:00 Paris time.
fn api_snapshot(arcs: &[ScaleArc], day: NaiveDate, o: &ScaleOptions) -> serde_json::Value {
    use chrono::Timelike;
    let t = hours(day, 1)[8];
    let ts = t.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
    let recs: Vec<serde_json::Value> = arcs
        .iter()
        .enumerate()
        .map(|(i, arc)| {
            let r = reading(o.seed, i, arc, t.timestamp(), t.hour(), 1.0);
            serde_json::json!({
                "iu_ac": arc.id, "libelle": arc.libelle, "t_1h": ts, "q": r.q, "k": r.k,
                "etat_trafic": r.state, "etat_barre": if r.barre { "Barré" } else { "Invalide" },
                "date_debut": "1996-10-10", "date_fin": "2023-01-01",
                "geo_point_2d": {"lon": arc.point[0], "lat": arc.point[1]},
                "geo_shape": {"type": "Feature", "geometry": arc.shape, "properties": {}},
            })
        })
        .collect();
    serde_json::json!({"total_count": recs.len(), "results": recs})
}

/// Writes the tree under `root`: `batch/comptages-routiers-permanents.csv` (or, with a `span`, its
/// files: see [`super::span`]), the référentiel
/// (when given, copied as `batch/referentiel-comptages-routiers.csv`), the synthetic
/// arrondissements, `batch/comptage-velo-donnees-compteurs.csv` and `api/comptages/dt=*/hour=08/`.
pub fn write_scale_tree(root: &Path, o: &ScaleOptions) -> std::io::Result<ScaleStats> {
    let arcs = match &o.referentiel {
        Some(p) => arcs_from_referentiel(p, o.seed)?,
        None => synthetic_arcs(o.arcs, o.seed),
    };
    if arcs.is_empty() {
        return Err(std::io::Error::other("no arcs"));
    }
    let batch = root.join("batch");
    std::fs::create_dir_all(&batch)?;
    let mut st = ScaleStats {
        arcs: arcs.len(),
        ..ScaleStats::default()
    };
    if let Some(span) = &o.span {
        let files = super::span::write_span(&batch, &arcs, o.seed, o.first_day, span)?;
        st.rows = files.iter().map(|f| f.rows).sum();
        st.bytes = files.iter().map(|f| f.bytes).sum();
        st.days = (span.last_day - o.first_day).num_days() as u32 + 1;
        st.files = files.len();
    } else {
        let f = std::fs::File::create(batch.join("comptages-routiers-permanents.csv"))?;
        (st.rows, st.bytes, st.days) = write_comptages(f, &arcs, o)?;
        st.files = 1;
    }
    if let Some(p) = &o.referentiel {
        std::fs::copy(p, batch.join("referentiel-comptages-routiers.csv"))?;
    }
    let mut a = serde_json::to_vec_pretty(&super::synthetic_arrondissements())?;
    a.push(b'\n');
    std::fs::write(batch.join("arrondissements-synthetiques.geojson"), a)?;
    if o.bike_rows > 0 {
        let f = std::fs::File::create(batch.join("comptage-velo-donnees-compteurs.csv"))?;
        st.bike_bytes = write_bikes(f, o)?;
        st.bike_rows = o.bike_rows;
    }
    for i in 0..o.api_days {
        let day = o.first_day + Duration::days(i64::from(i));
        let dir = root.join(format!("api/comptages/dt={day}/hour=08"));
        std::fs::create_dir_all(&dir)?;
        let mut body = serde_json::to_vec(&api_snapshot(&arcs, day, o))?;
        body.push(b'\n');
        std::fs::write(dir.join("comptages-snapshot.json"), body)?;
        st.api_files += 1;
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ScaleOptions {
        ScaleOptions {
            arcs: 5,
            rows: Some(2_000),
            bike_rows: 300,
            api_days: 2,
            ..ScaleOptions::default()
        }
    }

    #[test]
    fn deterministic_and_sized() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let sa = write_scale_tree(a.path(), &small()).unwrap();
        write_scale_tree(b.path(), &small()).unwrap();
        for f in [
            "batch/comptages-routiers-permanents.csv",
            "batch/comptage-velo-donnees-compteurs.csv",
            "api/comptages/dt=2025-01-02/hour=08/comptages-snapshot.json",
        ] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        assert_eq!(sa.rows, 2_000);
        let csv = std::fs::read(a.path().join("batch/comptages-routiers-permanents.csv")).unwrap();
        // BOM, header, 2,000 CRLF rows.
        assert!(csv.starts_with(b"\xEF\xBB\xBFIdentifiant arc;"));
        assert_eq!(csv.windows(2).filter(|w| w == b"\r\n").count(), 2_001);
        assert_eq!(sa.bytes, csv.len() as u64);
        let by_bytes = ScaleOptions {
            rows: None,
            bytes: Some(100_000),
            ..small()
        };
        let c = tempfile::tempdir().unwrap();
        let sc = write_scale_tree(c.path(), &by_bytes).unwrap();
        assert!(sc.bytes >= 100_000 && sc.bytes < 101_000, "{}", sc.bytes);
    }
}
