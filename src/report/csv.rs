//! The daily report as a tidy CSV: one header, the same five columns on every line,
//! `section;rank;key;value;detail`, `;`-separated, CRLF, UTF-8 with a BOM (Excel), readable by
//! `pandas.read_csv(sep=";")` and DuckDB's `read_csv` without options.
//!
//! - `section`: `summary`, `top_troncons`, `top_zones`, `capteurs_defaillants`,
//!   `alertes_congestion`, `chantiers_actifs`, `meteo`, `perturbations`,
//!   `perturbations_severite`, `lignes_impactees`, `velib`;
//! - `rank`: 1.. in ranked sections, empty elsewhere;
//! - `key`: the JSON field name (scalar sections) or the item (arc label, zone, counter id, work
//!   id, line, severity);
//! - `value`: the figure, rounded for display (integers without decimals, others to 2 decimals);
//!   text for text fields;
//! - `detail`: what qualifies the row (alert severity, arrondissement, impact, reason), or empty.
//!
//! `top_zones` ranks the day's zones (arrondissement, `Hors Paris`, `Unknown`) by the lost time
//! of all their arcs (minutes), not single arcs. A section without data has no line.

use serde_json::Value;

use super::DailyReport;
use crate::analytics::ZoneTraffic;

/// Occupancy at which an alert is `CRITIQUE` (the prototype's unused 90 % threshold).
const CRITICAL_OCCUPANCY: f64 = 90.0;

/// The header line.
pub const HEADER: [&str; 5] = ["section", "rank", "key", "value", "detail"];

/// A number for display: integers without decimals, others rounded to 2 decimals (half away
/// from zero, trailing zeros dropped).
pub fn display_number(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let r = (x * 100.0).round() / 100.0;
    if r == r.trunc() && r.abs() < 1e15 {
        return format!("{}", r as i64);
    }
    let s = format!("{r:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A JSON value as a cell: numbers for display, text as is, null and nested values empty.
fn cell(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.as_f64().map(display_number).unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn text_or(v: &Value, a: &str, b: &str) -> String {
    let s = cell(v.get(a));
    if s.is_empty() {
        cell(v.get(b))
    } else {
        s
    }
}

struct Rows(Vec<[String; 5]>);

impl Rows {
    fn push(&mut self, section: &str, rank: Option<usize>, key: &str, value: String, detail: &str) {
        let rank = rank.map(|r| r.to_string()).unwrap_or_default();
        self.0
            .push([section.into(), rank, key.into(), value, detail.into()]);
    }

    /// The scalar fields `keys` of an object, in that order.
    fn scalars(&mut self, section: &str, v: &Value, keys: &[&str]) {
        for k in keys {
            if let Some(x) = v
                .get(*k)
                .filter(|x| !x.is_object() && !x.is_array() && !x.is_null())
            {
                self.push(section, None, k, cell(Some(x)), "");
            }
        }
    }

    fn ranked<'a>(
        &mut self,
        section: &str,
        items: impl IntoIterator<Item = &'a Value>,
        row: impl Fn(&Value) -> (String, String, String),
    ) {
        for (i, it) in items.into_iter().enumerate() {
            let (k, v, d) = row(it);
            self.push(section, Some(i + 1), &k, v, &d);
        }
    }
}

fn alert_severity(a: &Value) -> &'static str {
    let occ = a.get("taux_occupation_moyen").and_then(Value::as_f64);
    if occ.unwrap_or(0.0) >= CRITICAL_OCCUPANCY {
        "CRITIQUE"
    } else {
        "ELEVEE"
    }
}

/// The rows (header first).
pub fn csv_rows(r: &DailyReport, zones: &[ZoneTraffic]) -> Vec<[String; 5]> {
    let mut rows = Rows(vec![HEADER.map(String::from)]);
    let summary = serde_json::to_value(&r.summary).unwrap_or(Value::Null);
    let summary_keys = [
        "total_vehicules_paris",
        "temps_perdu_total_minutes",
        "nombre_troncons_satures",
        "taux_disponibilite_capteurs",
        "total_velos_paris",
    ];
    rows.scalars("summary", &summary, &summary_keys);
    rows.ranked(
        "top_troncons",
        r.top_10_troncons_frequentes.iter().take(10),
        |t| {
            let arr = cell(t.get("arrondissement"));
            (
                text_or(t, "libelle", "identifiant_arc"),
                cell(t.get("debit_journalier_total")),
                arr,
            )
        },
    );
    for (i, z) in zones.iter().take(10).enumerate() {
        let detail = format!("{} tronçons", z.arcs);
        rows.push(
            "top_zones",
            Some(i + 1),
            &z.zone,
            display_number(z.lost_min),
            &detail,
        );
    }
    rows.ranked(
        "capteurs_defaillants",
        r.capteurs_defaillants.iter().take(20),
        |c| {
            (
                cell(c.get("id_compteur")),
                cell(c.get("raison")),
                cell(c.get("type")),
            )
        },
    );
    rows.ranked(
        "alertes_congestion",
        r.alertes_congestion.iter().take(20),
        |a| {
            let occ = cell(a.get("taux_occupation_moyen"));
            (
                text_or(a, "libelle", "identifiant_arc"),
                occ,
                alert_severity(a).into(),
            )
        },
    );
    rows.ranked(
        "chantiers_actifs",
        r.chantiers_actifs.iter().take(20),
        |c| {
            let detail = [cell(c.get("typologie")), cell(c.get("arrondissement"))].join(" ");
            (
                cell(c.get("identifiant")),
                cell(c.get("impact")),
                detail.trim().into(),
            )
        },
    );
    let meteo = [
        "date",
        "temp_moyenne",
        "temp_min",
        "temp_max",
        "precip_totale",
        "vent_moyen",
        "conditions",
        "impact_mobilite",
    ];
    rows.scalars("meteo", &r.meteo_impact, &meteo);
    let p = &r.perturbations_transport;
    let transport = [
        "reliability_index",
        "active_disruptions_count",
        "total_disruptions_count",
    ];
    rows.scalars("perturbations", p, &transport);
    if let Some(Value::Object(sev)) = p.get("disruptions_by_severity") {
        for (k, v) in sev {
            rows.push("perturbations_severite", None, k, cell(Some(v)), "");
        }
    }
    let lines = p.get("top_lignes_impactees").and_then(Value::as_array);
    rows.ranked("lignes_impactees", lines.into_iter().flatten(), |l| {
        (cell(l.get("ligne")), cell(l.get("count")), String::new())
    });
    rows.scalars("velib", &r.velib_disponibilite, &super::VELIB_KEYS);
    rows.0
}

/// The CSV bytes: BOM, `;`, CRLF after every line, minimal quoting.
pub fn csv_bytes(r: &DailyReport, zones: &[ZoneTraffic]) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(::csv::Terminator::CRLF)
        .from_writer("\u{feff}".as_bytes().to_vec());
    for row in csv_rows(r, zones) {
        w.write_record(&row)
            .expect("writing CSV to memory cannot fail");
    }
    w.into_inner().expect("flushing CSV to memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build;
    use serde_json::{json, Map};

    #[test]
    fn display_numbers() {
        assert_eq!(display_number(8462.87249491927), "8462.87");
        assert_eq!(display_number(209279.0), "209279");
        assert_eq!(display_number(96.0), "96");
        assert_eq!(display_number(12.6), "12.6");
        assert_eq!(display_number(0.005), "0.01");
        assert_eq!(display_number(-1.234), "-1.23");
        assert_eq!(display_number(f64::NAN), "");
    }

    #[test]
    fn one_header_five_columns_every_line() {
        let mut m = Map::new();
        m.insert(
            "chantiers".into(),
            json!({"chantiers_actifs": [{"identifiant": "CP1", "typologie": "2", "impact": "RESTREINTE", "arrondissement": "75010"}]}),
        );
        m.insert(
            "comptages".into(),
            json!({"alertes_congestion": [{"libelle": "Rue; du \"Bac\"", "taux_occupation_moyen": 92.5}],
                   "global_metrics": {"total_vehicules_jour": 10.0, "temps_perdu_total_paris": 8462.87249491927}}),
        );
        m.insert(
            "bikes".into(),
            json!({"metrics": [{"total_jour": 3.0}], "failing_sensors": ["100-1"]}),
        );
        m.insert(
            "traffic".into(),
            json!({"reliability_index": 87.5, "disruptions_by_severity": {"CRITIQUE": 2}}),
        );
        let r = build("2025-11-04", "x", &m, None);
        let zones = vec![ZoneTraffic {
            zone: "Arrondissement 75007".into(),
            arrondissement: Some("75007".into()),
            arcs: 2,
            vehicles: 10.0,
            lost_min: 3021.3912195722805,
        }];
        let bytes = csv_bytes(&r, &zones);
        assert!(bytes.starts_with(b"\xEF\xBB\xBFsection;rank;key;value;detail\r\n"));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(
            text.contains("summary;;total_vehicules_paris;10;\r\n"),
            "{text}"
        );
        assert!(
            text.contains("summary;;temps_perdu_total_minutes;8462.87;\r\n"),
            "{text}"
        );
        assert!(
            text.contains("top_zones;1;Arrondissement 75007;3021.39;2 tronçons\r\n"),
            "{text}"
        );
        assert!(
            text.contains("alertes_congestion;1;\"Rue; du \"\"Bac\"\"\";92.5;CRITIQUE\r\n"),
            "{text}"
        );
        assert!(
            text.contains("chantiers_actifs;1;CP1;RESTREINTE;2 75010\r\n"),
            "{text}"
        );
        assert!(
            text.contains("capteurs_defaillants;1;100-1;;bike\r\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "perturbations;;reliability_index;87.5;\r\nperturbations_severite;;CRITIQUE;2;\r\n"
            ),
            "{text}"
        );
        let mut rd = ::csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(text.as_bytes());
        for rec in rd.records() {
            assert_eq!(rec.unwrap().len(), 5);
        }
    }
}
