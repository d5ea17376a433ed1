//! Deterministic generator of realistic raw trees, in the exact formats of the Paris exports:
//! the road-counter CSV (BOM, CRLF, `;`, `lat, lon` points, quoted `geo_shape` JSON, mixed
//! `+01:00`/`+02:00` offsets, empty values, the dataset's state spellings, unsorted rows), the
//! référentiel CSV (arcs split over several rows), Opendatasoft API snapshots, and a synthetic
//! arrondissements GeoJSON (20 ring sectors around Notre-Dame: not the real borders).
//!
//! Same seed and options, same bytes.

pub mod scale;
pub mod span;

use std::io::Write;
use std::path::Path;

use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Europe::Paris;
use serde_json::json;

/// SplitMix64: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
}

/// Centre of the synthetic Paris (Notre-Dame).
pub const CENTER: [f64; 2] = [2.3522, 48.8566];
const KM_PER_DEG_LAT: f64 = 111.195;

fn km_to_deg(dx_km: f64, dy_km: f64) -> [f64; 2] {
    let lon_km = KM_PER_DEG_LAT * CENTER[1].to_radians().cos();
    [
        CENTER[0] + dx_km / lon_km,
        CENTER[1] + dy_km / KM_PER_DEG_LAT,
    ]
}

/// Options of a generated tree.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub seed: u64,
    pub arcs: usize,
    pub first_day: NaiveDate,
    pub days: u32,
    /// Share of hourly rows with an empty flow (and, separately, occupancy).
    pub empty_rate: f64,
    /// Hours (of the first day) also written as API JSON snapshots (duplicating CSV rows).
    pub api_hours: Vec<u32>,
    /// Write the référentiel and arrondissements files too.
    pub reference_files: bool,
    /// Write the other datasets too (bike counters, road works, disruptions, weather, Vélib).
    pub other_datasets: bool,
}

impl Default for GenOptions {
    fn default() -> GenOptions {
        GenOptions {
            seed: 7,
            arcs: 16,
            first_day: NaiveDate::from_ymd_opt(2025, 10, 25).expect("valid date"),
            days: 3,
            empty_rate: 0.04,
            api_hours: vec![8, 9],
            reference_files: true,
            other_datasets: true,
        }
    }
}

/// One synthetic arc.
pub struct Arc {
    pub id: u32,
    pub libelle: String,
    pub amont: u32,
    pub aval: u32,
    /// Segments (the référentiel splits some arcs in two).
    pub segments: Vec<Vec<[f64; 2]>>,
    pub point: [f64; 2],
    pub base_flow: f64,
    pub congestion: f64,
}

const STREETS: [&str; 12] = [
    "Bd_Ney",
    "Quai_d'Issy",
    "AV_Champs_Elysees",
    "Rivoli",
    "PI_Lagny",
    "Chapelle",
    "Bd_Voltaire",
    "Av_Daumesnil",
    "Quai_de_Bercy",
    "Bd_Raspail",
    "Rue_de_Rennes",
    "Av_de_Clichy",
];

pub fn make_arcs(o: &GenOptions, rng: &mut Rng) -> Vec<Arc> {
    (0..o.arcs)
        .map(|i| {
            let outside = i % 11 == 10; // a few arcs beyond the 20 arrondissements
            let r_km = if outside {
                6.5 + rng.f64()
            } else {
                5.5 * rng.f64().sqrt()
            };
            let ang = rng.f64() * std::f64::consts::TAU;
            let start = [r_km * ang.cos(), r_km * ang.sin()];
            let heading = rng.f64() * std::f64::consts::TAU;
            let n_pts = 2 + rng.below(3) as usize;
            let step_km = 0.04 + 0.12 * rng.f64();
            let pts: Vec<[f64; 2]> = (0..n_pts)
                .map(|k| {
                    let d = step_km * k as f64;
                    km_to_deg(start[0] + d * heading.cos(), start[1] + d * heading.sin())
                })
                .collect();
            let segments = if i % 5 == 3 && pts.len() >= 3 {
                vec![pts[..2].to_vec(), pts[1..].to_vec()]
            } else {
                vec![pts.clone()]
            };
            let mid = pts[pts.len() / 2];
            Arc {
                id: 1000 + 37 * i as u32,
                libelle: format!("{}_{}", STREETS[i % STREETS.len()], i / STREETS.len() + 1),
                amont: 2000 + 2 * i as u32,
                aval: 2001 + 2 * i as u32,
                segments,
                point: mid,
                base_flow: 150.0 + 1400.0 * rng.f64(),
                congestion: match i % 8 {
                    5 => 10.0, // jammed all day: a congestion alert
                    1 => 0.9 + 0.4 * rng.f64(),
                    _ => 0.4 * rng.f64(),
                },
            }
        })
        .collect()
}

fn hourly_profile(h: u32) -> f64 {
    const P: [f64; 24] = [
        0.25, 0.18, 0.14, 0.12, 0.15, 0.3, 0.6, 0.9, 1.0, 0.9, 0.8, 0.8, 0.82, 0.8, 0.8, 0.85, 0.9,
        1.0, 1.0, 0.85, 0.65, 0.5, 0.42, 0.33,
    ];
    P[(h % 24) as usize]
}

/// One hourly measurement.
pub struct Measure {
    pub ts: String,
    pub q: Option<f64>,
    pub k: Option<f64>,
    pub state: &'static str,
    pub etat_arc: &'static str,
}

/// An hour's occupancy (%, 5 decimals) from the hour's profile and the arc's congestion.
fn occupancy(prof: f64, congestion: f64, rng: &mut Rng) -> f64 {
    let load = (prof * congestion).min(1.2);
    ((3.0 + 85.0 * load * load + 4.0 * rng.f64()).min(99.0) * 100_000.0).round() / 100_000.0
}

/// The traffic state an occupancy reads as in the export.
fn state_of(k: f64) -> &'static str {
    if k < 15.0 {
        "Fluide"
    } else if k < 30.0 {
        "Pré-saturé"
    } else if k < 50.0 {
        "Saturé"
    } else {
        "Bloqué"
    }
}

/// The measurement of `arc` at `t`: a function of (seed, arc, instant) only, so an API snapshot
/// repeats the CSV's values for the same hour.
fn measure(arc: &Arc, t: chrono::DateTime<chrono_tz::Tz>, o: &GenOptions) -> Measure {
    use chrono::Timelike;
    let rng = &mut Rng::new(o.seed ^ (u64::from(arc.id) << 40) ^ (t.timestamp() as u64));
    let h = t.hour();
    let prof = hourly_profile(h);
    let q = (arc.base_flow * prof * (0.85 + 0.3 * rng.f64())).round();
    let k = occupancy(prof, arc.congestion, rng);
    let state = if rng.chance(0.03) {
        "Inconnu"
    } else {
        state_of(k)
    };
    Measure {
        ts: t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        q: (!rng.chance(o.empty_rate)).then_some(q),
        k: (!rng.chance(o.empty_rate)).then_some(k),
        state,
        etat_arc: if rng.chance(0.025) {
            "Barré"
        } else {
            "Invalide"
        },
    }
}

fn line_json(pts: &[[f64; 2]]) -> String {
    let coords: Vec<String> = pts
        .iter()
        .map(|p| format!("[{}, {}]", p[0], p[1]))
        .collect();
    format!(
        "{{\"coordinates\": [{}], \"type\": \"LineString\"}}",
        coords.join(", ")
    )
}

/// Every hour of the Paris days (23 or 25 on DST days), in time order.
pub fn hours(first: NaiveDate, days: u32) -> Vec<chrono::DateTime<chrono_tz::Tz>> {
    let start = Paris
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("Paris midnight exists");
    let end_day = first + Duration::days(i64::from(days));
    let end = Paris
        .from_local_datetime(&end_day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("Paris midnight exists");
    let mut out = Vec::new();
    let mut t = start;
    while t < end {
        out.push(t);
        t += Duration::hours(1);
    }
    out
}

/// A CSV writer in the open-data exports' dialect: `;` between fields, CRLF after each row.
fn export_csv<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(w)
}

/// Writes the road-counter CSV (the export's 15 columns) to `w`. Returns the rows written.
pub fn write_comptages_csv<W: Write>(w: W, arcs: &[Arc], o: &GenOptions) -> std::io::Result<u64> {
    let mut w = std::io::BufWriter::new(w);
    w.write_all(b"\xEF\xBB\xBF")?;
    let mut csv = export_csv(w);
    csv.write_record([
        "Identifiant arc",
        "Libelle",
        "Date et heure de comptage",
        "Débit horaire",
        "Taux d'occupation",
        "Etat trafic",
        "Identifiant noeud amont",
        "Libelle noeud amont",
        "Identifiant noeud aval",
        "Libelle noeud aval",
        "Etat arc",
        "Date debut dispo data",
        "Date fin dispo data",
        "geo_point_2d",
        "geo_shape",
    ])?;
    let hs = hours(o.first_day, o.days);
    let mut n = 0;
    for arc in arcs {
        let all: Vec<[f64; 2]> = {
            let mut v = arc.segments[0].clone();
            for s in &arc.segments[1..] {
                v.extend_from_slice(&s[1..]);
            }
            v
        };
        let shape = line_json(&all);
        let point = format!("{}, {}", arc.point[1], arc.point[0]);
        // The real export lists each arc's rows newest first.
        for t in hs.iter().rev() {
            let m = measure(arc, *t, o);
            let num = |x: Option<f64>| x.map(|v| format!("{v:?}")).unwrap_or_default();
            csv.write_record([
                arc.id.to_string(),
                arc.libelle.clone(),
                m.ts,
                num(m.q),
                num(m.k),
                m.state.to_string(),
                arc.amont.to_string(),
                format!("{}-amont", arc.libelle),
                arc.aval.to_string(),
                format!("{}-aval", arc.libelle),
                m.etat_arc.to_string(),
                "1996-10-10".into(),
                "2023-01-01".into(),
                point.clone(),
                shape.clone(),
            ])?;
            n += 1;
        }
    }
    csv.flush()?;
    Ok(n)
}

/// API snapshot (Opendatasoft JSON, technical names) of every arc at hour `t`.
pub fn api_snapshot(
    arcs: &[Arc],
    t: chrono::DateTime<chrono_tz::Tz>,
    o: &GenOptions,
) -> serde_json::Value {
    let recs: Vec<serde_json::Value> = arcs
        .iter()
        .map(|arc| {
            let m = measure(arc, t, o);
            json!({
                "iu_ac": arc.id.to_string(), "libelle": arc.libelle, "t_1h": m.ts, "q": m.q, "k": m.k,
                "etat_trafic": m.state, "iu_nd_amont": arc.amont.to_string(), "libelle_nd_amont": format!("{}-amont", arc.libelle),
                "iu_nd_aval": arc.aval.to_string(), "libelle_nd_aval": format!("{}-aval", arc.libelle), "etat_barre": m.etat_arc,
                "date_debut": "1996-10-10", "date_fin": "2023-01-01",
                "geo_point_2d": {"lon": arc.point[0], "lat": arc.point[1]},
                "geo_shape": {"type": "Feature", "geometry": {"coordinates": arc.segments.concat(), "type": "LineString"}, "properties": {}},
            })
        })
        .collect();
    serde_json::Value::Array(recs)
}

/// The référentiel CSV (current header, arcs split over several rows, `lat,lon` without space).
pub fn write_referentiel_csv<W: Write>(w: W, arcs: &[Arc]) -> std::io::Result<()> {
    let mut csv = export_csv(w);
    csv.write_record([
        "Identifiant arc",
        "Date debut dispo data",
        "Date fin dispo data",
        "Libelle",
        "Identifiant noeud aval",
        "Libelle noeud aval",
        "Identifiant noeud amont",
        "Libelle noeud amont",
        "geo_point_2d",
        "geo_shape",
    ])?;
    for arc in arcs {
        for seg in &arc.segments {
            let mid = seg[seg.len() / 2];
            csv.write_record([
                arc.id.to_string(),
                "2005-01-01T02:00:00+01:00".into(),
                "2019-06-01T03:00:00+01:00".into(),
                arc.libelle.clone(),
                arc.aval.to_string(),
                format!("{}-aval", arc.libelle),
                arc.amont.to_string(),
                format!("{}-amont", arc.libelle),
                format!("{},{}", mid[1], mid[0]),
                line_json(seg),
            ])?;
        }
    }
    csv.flush()
}

/// 20 synthetic arrondissements: 4 sectors within 1.5 km of the centre (1-4), 4 up to 3 km
/// (5-8), 12 up to 6 km (9-20). Their properties mimic the opendata.paris.fr file.
pub fn synthetic_arrondissements() -> serde_json::Value {
    let mut feats = Vec::new();
    let rings = [(0.0, 1.5, 4usize), (1.5, 3.0, 4), (3.0, 6.0, 12)];
    let mut n = 1;
    for (r0, r1, sectors) in rings {
        for s in 0..sectors {
            let a0 = s as f64 * 360.0 / sectors as f64;
            let a1 = (s + 1) as f64 * 360.0 / sectors as f64;
            let arc_pts = |r: f64, from: f64, to: f64| -> Vec<[f64; 2]> {
                let steps = ((to - from).abs() / 5.0).ceil().max(1.0) as usize;
                (0..=steps)
                    .map(|i| {
                        let a = (from + (to - from) * i as f64 / steps as f64).to_radians();
                        let p = km_to_deg(r * a.cos(), r * a.sin());
                        [(p[0] * 1e7).round() / 1e7, (p[1] * 1e7).round() / 1e7]
                    })
                    .collect()
            };
            let mut ring = arc_pts(r1, a0, a1);
            if r0 > 0.0 {
                ring.extend(arc_pts(r0, a1, a0));
            } else {
                ring.push([CENTER[0], CENTER[1]]);
            }
            ring.push(ring[0]);
            feats.push(json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"c_ar": n, "c_arinsee": 75100 + n, "l_ar": format!("{n}{} Ardt (synthétique)", if n == 1 { "er" } else { "ème" })},
            }));
            n += 1;
        }
    }
    json!({"type": "FeatureCollection", "features": feats})
}

/// Writes a whole raw tree under `root` (`batch/` and `api/`). Returns the CSV rows written.
pub fn write_tree(root: &Path, o: &GenOptions) -> std::io::Result<u64> {
    let mut rng = Rng::new(o.seed);
    let arcs = make_arcs(o, &mut rng);
    let batch = root.join("batch");
    std::fs::create_dir_all(&batch)?;
    let rows = write_comptages_csv(
        std::fs::File::create(batch.join("comptages-routiers-permanents.csv"))?,
        &arcs,
        o,
    )?;
    if o.reference_files {
        write_referentiel_csv(
            std::fs::File::create(batch.join("referentiel-comptages-routiers.csv"))?,
            &arcs,
        )?;
        let mut a = serde_json::to_vec_pretty(&synthetic_arrondissements())?;
        a.push(b'\n');
        std::fs::write(batch.join("arrondissements-synthetiques.geojson"), a)?;
    }
    let hs = hours(o.first_day, 1);
    for &h in &o.api_hours {
        let Some(t) = hs.get(h as usize) else {
            continue;
        };
        let dir = root.join(format!("api/comptages/dt={}/hour={h:02}", o.first_day));
        std::fs::create_dir_all(&dir)?;
        // The snapshot repeats the CSV rows of that hour: the pipeline counts them once.
        let snap = api_snapshot(&arcs, *t, o);
        let mut body = serde_json::to_vec(&snap)?;
        body.push(b'\n');
        std::fs::write(dir.join("comptages-snapshot.json"), body)?;
    }
    if o.other_datasets {
        write_other_datasets(root, o)?;
    }
    Ok(rows)
}

fn write_json(path: &Path, v: &serde_json::Value, pretty: bool) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut body = if pretty {
        serde_json::to_vec_pretty(v)?
    } else {
        serde_json::to_vec(v)?
    };
    body.push(b'\n');
    std::fs::write(path, body)
}

/// A point `r_km` from the centre at `deg` degrees, rounded like the open-data files.
fn spot(r_km: f64, deg: f64) -> [f64; 2] {
    let a = deg.to_radians();
    let p = km_to_deg(r_km * a.cos(), r_km * a.sin());
    [(p[0] * 1e6).round() / 1e6, (p[1] * 1e6).round() / 1e6]
}

/// Bike counters (Opendatasoft pages, one per day), road works (CSV export), transit
/// disruptions (Navitia snapshots), weather (Visual Crossing timelines) and Vélib (GBFS pairs).
pub fn write_other_datasets(root: &Path, o: &GenOptions) -> std::io::Result<()> {
    let days: Vec<NaiveDate> = (0..o.days)
        .map(|i| o.first_day + Duration::days(i64::from(i)))
        .collect();
    write_bikes(root, o, &days)?;
    write_works(root, o)?;
    write_traffic(root, &days)?;
    write_weather(root, &days)?;
    write_velib(root, o, &days)
}

/// `api/<dataset>/dt=<day>/hour=<hour>/<file>` under `root`, as JSON.
fn write_api_json(
    root: &Path,
    (dataset, day, hour, file): (&str, NaiveDate, &str, &str),
    v: &serde_json::Value,
    pretty: bool,
) -> std::io::Result<()> {
    let path = format!("api/{dataset}/dt={day}/hour={hour}/{file}");
    write_json(&root.join(path), v, pretty)
}

/// Bike counters: 6 counters; one stuck at zero (failing), one that jumps on the last day.
fn write_bikes(root: &Path, o: &GenOptions, days: &[NaiveDate]) -> std::io::Result<()> {
    let counters: Vec<(String, String, [f64; 2], f64)> = (0..6)
        .map(|i| {
            let id = format!("1000{}-10{}", 3000 + i, 3000 + i);
            let name = format!(
                "{} {} O-E",
                10 + 7 * i,
                [
                    "boulevard Diderot",
                    "quai de la Loire",
                    "rue de Rivoli",
                    "avenue de France",
                    "boulevard Magenta",
                    "quai d'Austerlitz"
                ][i]
            );
            (
                id,
                name,
                spot(0.8 + 0.7 * i as f64, 40.0 + 61.0 * i as f64),
                20.0 + 35.0 * i as f64,
            )
        })
        .collect();
    for (di, day) in days.iter().enumerate() {
        let mut results = Vec::new();
        for (ci, (id, name, p, base)) in counters.iter().enumerate() {
            for t in hours(*day, 1) {
                use chrono::Timelike;
                let mut rng = Rng::new(o.seed ^ 0xB1CE ^ (ci as u64) << 32 ^ t.timestamp() as u64);
                let mut n = (base * hourly_profile(t.hour()) * (0.8 + 0.4 * rng.f64())).round();
                if ci == 2 {
                    n = 0.0; // a counter stuck at zero all day: failing
                }
                if ci == 4 && di + 1 == days.len() {
                    n *= 5.0; // +400 % against the day before: an anomaly
                }
                results.push(json!({
                    "id_compteur": id, "nom_compteur": name, "id": id.split('-').next(), "name": name,
                    "sum_counts": n as u64,
                    "date": t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                    "coordinates": {"lon": p[0], "lat": p[1]},
                    "mois_annee_comptage": t.format("%Y-%m").to_string(),
                }));
            }
        }
        let page = json!({"total_count": results.len(), "results": results});
        write_api_json(root, ("bikes", *day, "02", "bikes_data.json"), &page, false)?;
    }
    Ok(())
}

/// Road works: a CSV export (BOM, `;`, a multi-line description), polygons around the centre.
fn write_works(root: &Path, o: &GenOptions) -> std::io::Result<()> {
    let mut csv = export_csv(Vec::from(*b"\xEF\xBB\xBF"));
    csv.write_record([
        "Identifiant",
        "Identifiant CTV",
        "Code postal de l'arrondissement",
        "Numéro de STV",
        "Typologie",
        "Maitre d'ouvrage",
        "Objet",
        "Description",
        "Voie(s)",
        "Précisions de localisation",
        "Date de début",
        "Date de fin",
        "Impact sur la circulation",
        "Détail de l'impact sur la circulation",
        "Niveau de perturbation",
        "Statut",
        "URL LettreInfoChantier",
        "geo_shape",
        "geo_point_2d",
    ])?;
    let impacts = [
        "RESTREINTE",
        "BARRAGE_TOTAL",
        "SENS_UNIQUE",
        "IMPASSE",
        "RESTREINTE",
        "",
    ];
    for i in 0..12 {
        let c = spot(0.5 + 0.45 * i as f64, 17.0 + 83.0 * i as f64);
        let (dx, dy) = (0.0008 + 0.0002 * (i % 3) as f64, 0.0005);
        let r6 = |x: f64| (x * 1e6).round() / 1e6;
        let (w, e, so, n) = (r6(c[0] - dx), r6(c[0] + dx), r6(c[1] - dy), r6(c[1] + dy));
        let ring = json!([[[w, so], [e, so], [e, n], [w, n], [w, so]]]);
        let start = o.first_day + Duration::days(i64::from(i % 4) - 2);
        let end = start + Duration::days(1 + i64::from(i % 5));
        csv.write_record([
            format!("CP{:06}", 3000 + i),
            String::new(),
            if i % 6 == 5 {
                String::new()
            } else {
                format!("750{:02}", 1 + (i * 7) % 20)
            },
            String::new(),
            (1 + i % 3).to_string(),
            "Ville de Paris".into(),
            "Travaux de voirie".into(),
            if i == 3 {
                "Réfection de chaussée.\nCirculation alternée.".into()
            } else {
                "Réfection de chaussée".into()
            },
            format!("Rue {}", i + 1),
            String::new(),
            start.to_string(),
            end.to_string(),
            impacts[i as usize % impacts.len()].into(),
            String::new(),
            (1 + i % 2).to_string(),
            "En cours".into(),
            String::new(),
            json!({"type": "Polygon", "coordinates": ring}).to_string(),
            format!("{}, {}", c[1], c[0]),
        ])?;
    }
    let body = csv
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::create_dir_all(root.join("batch"))?;
    std::fs::write(
        root.join("batch/chantiers-perturbants-la-circulation.csv"),
        body,
    )?;
    Ok(())
}

/// Transit disruptions: one Navitia snapshot per day at 08:00 Paris time.
fn write_traffic(root: &Path, days: &[NaiveDate]) -> std::io::Result<()> {
    let lines = [
        ("metro", "3bis", "Métro"),
        ("metro", "1", "Métro"),
        ("rer", "B", "RER"),
        ("tramway", "T3a", "Tramway"),
        ("bus", "72", "Bus"),
    ];
    for day in days {
        let mut ds = Vec::new();
        for (i, (mode, code, mode_name)) in lines.iter().enumerate() {
            let begin = *day - Duration::days(i as i64 % 2);
            // Navitia's own priority runs backwards (0 = strongest); the effect is what counts.
            let (prio, effect, name) = [
                (0, "NO_SERVICE", "bloquante"),
                (30, "SIGNIFICANT_DELAYS", "perturbée"),
                (50, "OTHER_EFFECT", "information"),
                (30, "SIGNIFICANT_DELAYS", "perturbée"),
                (0, "NO_SERVICE", "bloquante"),
            ][i];
            ds.push(json!({
                "id": format!("d{:03}-{}", i, day.format("%m%d")), "disruption_id": format!("dis-{i}"), "status": "active",
                "severity": {"name": name, "effect": effect, "color": "#FF0000", "priority": prio},
                "application_periods": [
                    {"begin": format!("{}T{:02}0000", begin.format("%Y%m%d"), 6 + i), "end": format!("{}T{:02}3000", day.format("%Y%m%d"), 9 + 2 * i)},
                    {"begin": format!("{}T{:02}0000", day.format("%Y%m%d"), 8 + i), "end": format!("{}T{:02}0000", day.format("%Y%m%d"), 10 + 2 * i)},
                ],
                "messages": [{"text": format!("{mode_name} {code} : trafic perturbé", ), "channel": {"name": "titre"}}],
                "impacted_objects": [{"pt_object": {"embedded_type": "line", "id": format!("line:IDFM:{code}"), "name": format!("{mode_name} {code}"),
                    "line": {"code": code, "name": format!("{mode_name} {code}"), "commercial_mode": {"id": format!("commercial_mode:{mode}"), "name": mode_name}}}}],
                "cause": "travaux", "category": "Incidents", "updated_at": format!("{}T070000", day.format("%Y%m%d")), "tags": [],
            }));
        }
        let snap = json!({"disruptions": ds, "context": {"current_datetime": format!("{}T080000", day.format("%Y%m%d")), "timezone": "Europe/Paris"}, "pagination": {"total_result": 5}});
        write_api_json(
            root,
            ("traffic", *day, "08", "traffic_data.json"),
            &snap,
            true,
        )?;
    }
    Ok(())
}

/// Weather: a Visual Crossing timeline per day.
fn write_weather(root: &Path, days: &[NaiveDate]) -> std::io::Result<()> {
    for (i, day) in days.iter().enumerate() {
        let tmin = 6.0 + i as f64;
        let (precip, wind, cond) = [
            (0.0, 15.5, "Partially cloudy"),
            (7.4, 33.1, "Rain, Overcast"),
            (1.2, 12.0, "Overcast"),
        ][i % 3];
        let w = json!({
            "queryCost": 1, "resolvedAddress": "Paris, Île-de-France, France", "timezone": "Europe/Paris", "tzoffset": 1.0,
            "days": [{"datetime": day.to_string(), "tempmax": tmin + 8.5, "tempmin": tmin, "temp": tmin + 4.2,
                      "precip": precip, "windspeed": wind, "conditions": cond}],
        });
        write_api_json(root, ("weather", *day, "02", "weather_data.json"), &w, true)?;
    }
    Ok(())
}

/// Vélib: a GBFS pair per day at noon, 24 stations, ids above 2^31 as in the real feed.
fn write_velib(root: &Path, o: &GenOptions, days: &[NaiveDate]) -> std::io::Result<()> {
    for (di, day) in days.iter().enumerate() {
        let noon = Paris
            .from_local_datetime(&day.and_hms_opt(12, 0, 0).expect("noon"))
            .earliest()
            .expect("noon exists")
            .timestamp();
        let mut info = Vec::new();
        let mut status = Vec::new();
        for i in 0..24u64 {
            let p = spot(0.4 + 0.25 * i as f64, 13.0 * i as f64);
            let id = 2_515_000_000u64 + 7919 * i;
            let cap = 20 + (i % 4) * 10;
            let mut rng = Rng::new(o.seed ^ 0x7E11B ^ i << 20 ^ di as u64);
            let bikes = if i % 9 == 4 {
                0
            } else if i % 11 == 6 {
                cap
            } else {
                rng.below(cap + 1)
            };
            let ebikes = bikes / 3;
            info.push(json!({"station_id": id, "stationCode": format!("{}", 1000 + i), "name": format!("Station {}", i + 1), "lat": p[1], "lon": p[0], "capacity": cap, "rental_methods": ["CREDITCARD"]}));
            status.push(json!({
                "station_id": id, "num_bikes_available": bikes, "numBikesAvailable": bikes,
                "num_bikes_available_types": [{"mechanical": bikes - ebikes}, {"ebike": ebikes}],
                "num_docks_available": cap - bikes, "numDocksAvailable": cap - bikes,
                "is_installed": 1, "is_returning": 1, "is_renting": if i == 23 { 0 } else { 1 },
                "last_reported": if i == 22 { noon - 3 * 86_400 } else { noon - 60 * i as i64 },
            }));
        }
        for (file, stations) in [
            ("station_information.json", info),
            ("station_status.json", status),
        ] {
            let doc =
                json!({"lastUpdatedOther": noon, "ttl": 3600, "data": {"stations": stations}});
            write_api_json(root, ("velib", *day, "12", file), &doc, false)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(hours(d("2025-10-26"), 1).len(), 25);
        assert_eq!(hours(d("2025-03-30"), 1).len(), 23);
        assert_eq!(hours(d("2025-10-25"), 3).len(), 73);
    }

    #[test]
    fn same_seed_same_bytes() {
        let o = GenOptions::default();
        let mut a = Vec::new();
        let mut b = Vec::new();
        let arcs = make_arcs(&o, &mut Rng::new(1));
        write_comptages_csv(&mut a, &arcs, &o).unwrap();
        let arcs = make_arcs(&o, &mut Rng::new(1));
        write_comptages_csv(&mut b, &arcs, &o).unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with(b"\xEF\xBB\xBFIdentifiant arc;"));
    }
}
