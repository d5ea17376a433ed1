//! The daily report as one self-contained HTML page (`reports/daily_report_<date>.html`): inline
//! CSS and SVG, no script, nothing fetched (a Content-Security-Policy forbids it), readable on a
//! phone; and `reports/index.html` listing the days.
//!
//! Every text that comes from the data goes through [`esc`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate};
use chrono_tz::Europe::Paris;
use serde_json::Value;

use super::csv::display_number;
use super::map::{Shapes, WIDTH};
use super::DailyReport;
use crate::analytics::DaySummary;
use crate::quality::SourceQualityReport;

/// The index page, relative to the output folder.
pub const INDEX: &str = "reports/index.html";

/// `reports/daily_report_<day>.html` ([`crate::output::OutputName::ReportHtml`]).
pub fn rel_path(day: NaiveDate) -> String {
    crate::output::OutputName::ReportHtml(day).rel_path()
}

/// The days whose page is in `dir` (the output's `reports/`), sorted.
pub fn days_in(dir: &std::path::Path) -> Vec<NaiveDate> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut days: Vec<NaiveDate> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let d = name
                .to_str()?
                .strip_prefix("daily_report_")?
                .strip_suffix(".html")?;
            NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
        })
        .collect();
    days.sort();
    days
}

/// What one day's page shows.
pub struct HtmlDay<'a> {
    pub report: &'a DailyReport,
    /// The day's metrics as the report reads them (type -> metrics object).
    pub metrics: &'a super::DayMetrics,
    pub summary: &'a DaySummary,
    pub quality: &'a BTreeMap<&'static str, SourceQualityReport>,
    pub map: &'a Shapes,
}

/// HTML-escapes text (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}\
main{max-width:980px;margin:auto;padding:12px}h1{font-size:1.4em;margin:.3em 0}\
h2{font-size:1.1em;margin:0 0 .5em}section{background:#fff;border-radius:8px;padding:12px;\
margin:12px 0;box-shadow:0 1px 2px #0002}.kpis{display:grid;grid-template-columns:\
repeat(auto-fit,minmax(140px,1fr));gap:8px}.kpi{background:#eef2f8;border-radius:6px;padding:8px}\
.kpi b{display:block;font-size:1.3em}.scroll{overflow-x:auto}table{border-collapse:collapse;\
width:100%;font-size:.9em}td,th{padding:4px 6px;border-bottom:1px solid #e3e6eb;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}svg{width:100%;height:auto;display:block}\
svg.bars{max-width:520px}svg.map{max-width:560px;margin:auto}.muted{color:#667}nav a{margin-right:1em}ul.days li{margin:.3em 0}code{word-break:break-all}";

fn page(title: &str, body: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
\
<title>{}</title><style>{STYLE}</style></head>\n<body><main>\n{body}</main></body></html>\n",
        esc(title)
    )
    .into_bytes()
}

fn num(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.as_f64().map(display_number).unwrap_or_default(),
        Some(Value::String(s)) => esc(s),
        _ => "—".into(),
    }
}

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => esc(s),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A table: header cells and rows of already-escaped cells (`n:` prefix = right-aligned).
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "<p class=\"muted\">Aucune donnée</p>".into();
    }
    let mut s = String::from("<div class=\"scroll\"><table><tr>");
    for h in head {
        let _ = write!(s, "<th>{h}</th>");
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            match c.strip_prefix("n:") {
                Some(n) => {
                    let _ = write!(s, "<td class=\"n\">{n}</td>");
                }
                None => {
                    let _ = write!(s, "<td>{c}</td>");
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></div>");
    s
}

/// Horizontal bars: (label already escaped, value).
fn bars(items: &[(String, f64)], color: &str) -> String {
    if items.is_empty() {
        return "<p class=\"muted\">Aucune donnée</p>".into();
    }
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1e-9);
    let h = 22.0 * items.len() as f64;
    let mut s = format!("<svg class=\"bars\" viewBox=\"0 0 400 {h}\" role=\"img\">");
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 22.0 * i as f64;
        let w = 220.0 * v / max;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.0}\" font-size=\"11\">{label}</text>\
<rect x=\"130\" y=\"{:.0}\" width=\"{w:.1}\" height=\"16\" fill=\"{color}\"/>\
<text x=\"{:.1}\" y=\"{:.0}\" font-size=\"11\">{}</text>",
            y + 14.0,
            y + 2.0,
            134.0 + w,
            y + 14.0,
            display_number(*v)
        );
    }
    s.push_str("</svg>");
    s
}

fn paris_hour(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|t| t.with_timezone(&Paris).format("%H:%M").to_string())
        .unwrap_or_default()
}

/// The city-wide hourly flow as a line chart.
fn flow_curve(hourly: &[(i64, f64, u64)]) -> String {
    if hourly.is_empty() {
        return "<p class=\"muted\">Aucune donnée de comptage</p>".into();
    }
    let max = hourly.iter().map(|h| h.1).fold(0.0, f64::max).max(1.0);
    let (w, h, left, bottom) = (600.0, 220.0, 50.0, 24.0);
    let n = hourly.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (w - left - 24.0) * i as f64 / n;
    let y = |v: f64| 10.0 + (h - bottom - 10.0) * (1.0 - v / max);
    let pts: Vec<String> = hourly
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect();
    let mut s = format!("<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"débit horaire\">");
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#dde\"/>\
<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            w - 10.0,
            left - 4.0,
            y(v) + 3.0,
            display_number(v.round()),
            yy = y(v)
        );
    }
    for (i, p) in hourly.iter().enumerate().step_by(3) {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(i),
            h - 6.0,
            paris_hour(p.0)
        );
    }
    let _ = write!(
        s,
        "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" points=\"{}\"/></svg>",
        pts.join(" ")
    );
    s.push_str(
        "<p class=\"muted\">Somme des débits horaires de tous les tronçons mesurés \
(véhicules/heure), heure de Paris.</p>",
    );
    s
}

const PALETTE: [&str; 5] = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];

/// The arrondissements coloured by the day's counted vehicles.
fn traffic_map(map: &Shapes, summary: &DaySummary) -> String {
    if map.items.is_empty() {
        return "<p class=\"muted\">Pas de fichier des arrondissements</p>".into();
    }
    let by: BTreeMap<&str, f64> = summary
        .zones
        .iter()
        .filter_map(|z| Some((z.arrondissement.as_deref()?, z.vehicles)))
        .collect();
    let max = by.values().copied().fold(0.0, f64::max);
    let mut s = format!(
        "<svg class=\"map\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"carte\">",
        map.height
    );
    for a in &map.items {
        let v = by.get(a.code.as_str()).copied();
        let fill = match v {
            Some(v) if max > 0.0 => {
                let i = ((v / max) * 4.999).floor().clamp(0.0, 4.0) as usize;
                PALETTE[i]
            }
            Some(_) => PALETTE[0],
            None => "#d9dce1",
        };
        let val = v.map_or("pas de compteur".into(), |v| {
            format!("{} véhicules", display_number(v))
        });
        let _ = write!(
            s,
            "<path d=\"{}\" fill=\"{fill}\" stroke=\"#fff\" stroke-width=\"1\"><title>{} — {val}</title></path>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            a.path,
            esc(&a.name),
            a.label_at.0,
            a.label_at.1,
            esc(a.code.get(3..).unwrap_or(&a.code))
        );
    }
    s.push_str("</svg><p class=\"muted\">");
    for (i, c) in PALETTE.iter().enumerate() {
        let lo = max * i as f64 / 5.0;
        let _ = write!(
            s,
            "<span style=\"background:{c};padding:0 .6em;margin-right:.2em\"></span>≥ {} ",
            display_number(lo.round())
        );
    }
    s.push_str("véhicules ; gris : pas de compteur.</p>");
    s
}

fn kpis(r: &DailyReport) -> String {
    let s = serde_json::to_value(&r.summary).unwrap_or(Value::Null);
    let items = [
        ("Véhicules comptés", "total_vehicules_paris"),
        ("Temps perdu (min)", "temps_perdu_total_minutes"),
        ("Tronçons saturés", "nombre_troncons_satures"),
        ("Capteurs disponibles (%)", "taux_disponibilite_capteurs"),
        ("Vélos comptés", "total_velos_paris"),
    ];
    let mut o = String::from("<div class=\"kpis\">");
    for (label, k) in items {
        let _ = write!(
            o,
            "<div class=\"kpi\">{label}<b>{}</b></div>",
            num(s.get(k))
        );
    }
    o.push_str("</div>");
    o
}

fn congested(r: &DailyReport) -> String {
    let rows: Vec<Vec<String>> = r
        .top_10_zones_congestionnees
        .iter()
        .map(|a| {
            vec![
                text(a, "libelle"),
                text(a, "arrondissement"),
                format!("n:{}", num(a.get("taux_occupation_moyen"))),
                format!("n:{}", num(a.get("temps_perdu_total_minutes"))),
                format!("n:{}", num(a.get("debit_journalier_total"))),
            ]
        })
        .collect();
    table(
        &[
            "Tronçon",
            "Arr.",
            "Occupation (%)",
            "Temps perdu (min)",
            "Véhicules",
        ],
        &rows,
    )
}

fn counts(v: Option<&Value>) -> Vec<(String, f64)> {
    let o = v.and_then(Value::as_object).into_iter().flatten();
    o.filter_map(|(k, v)| Some((esc(k), v.as_f64()?))).collect()
}

fn transit(m: &super::DayMetrics) -> String {
    let Some(t) = m.get("traffic") else {
        return "<p class=\"muted\">Aucune donnée de perturbation</p>".into();
    };
    let lines = t.get("top_lignes_impactees").and_then(Value::as_array);
    let lines: Vec<(String, f64)> = lines
        .into_iter()
        .flatten()
        .filter_map(|l| Some((text(l, "ligne"), l.get("count")?.as_f64()?)))
        .collect();
    format!(
        "<p>Indice de fiabilité : <b>{} %</b> · perturbations actives : <b>{}</b></p>\
<h3>Par sévérité</h3>{}<h3>Par ligne</h3>{}",
        num(t.get("reliability_index")),
        num(t.get("active_disruptions_count")),
        bars(&counts(t.get("disruptions_by_severity")), "#d29922"),
        bars(&lines, "#8250df")
    )
}

fn weather(r: &DailyReport) -> String {
    let w = &r.meteo_impact;
    if w.as_object().is_none_or(|o| o.is_empty()) {
        return "<p class=\"muted\">Aucune donnée météo</p>".into();
    }
    let rows = [
        ("Température moyenne (°C)", "temp_moyenne"),
        ("Min / max (°C)", ""),
        ("Précipitations (mm)", "precip_totale"),
        ("Vent moyen (km/h)", "vent_moyen"),
        ("Conditions", "conditions"),
        ("Impact mobilité (points)", "impact_mobilite"),
    ];
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(label, k)| {
            let v = if k.is_empty() {
                format!("{} / {}", num(w.get("temp_min")), num(w.get("temp_max")))
            } else {
                num(w.get(*k))
            };
            vec![label.to_string(), v]
        })
        .collect();
    table(&["", ""], &rows)
}

fn velib(m: &super::DayMetrics) -> String {
    let Some(v) = m.get("velib") else {
        return "<p class=\"muted\">Aucune donnée Vélib'</p>".into();
    };
    let groups = v.get("par_arrondissement").and_then(Value::as_array);
    let occ: Vec<(String, f64)> = groups
        .into_iter()
        .flatten()
        .filter_map(|g| {
            Some((
                text(g, "arrondissement"),
                g.get("taux_occupation")?.as_f64()?,
            ))
        })
        .collect();
    format!(
        "<p>Taux d'occupation : <b>{} %</b> · vélos disponibles : <b>{}</b> · stations vides : \
<b>{}</b> · pleines : <b>{}</b></p>{}",
        num(v.get("taux_occupation")),
        num(v.get("velos_disponibles")),
        num(v.get("stations_vides")),
        num(v.get("stations_pleines")),
        bars(&occ, "#1a7f37")
    )
}

fn quality(q: &BTreeMap<&'static str, SourceQualityReport>) -> String {
    let rows: Vec<Vec<String>> = q
        .iter()
        .map(|(s, r)| {
            vec![
                esc(s),
                format!("n:{}", r.rows_read),
                format!("n:{}", r.rows_used),
                format!("n:{}", r.rows_rejected),
                format!("n:{}", r.duplicates),
            ]
        })
        .collect();
    let mut o = table(
        &["Source", "Lues", "Utilisées", "Rejetées", "Doublons"],
        &rows,
    );
    let samples: Vec<String> = q
        .iter()
        .flat_map(|(s, r)| {
            r.samples
                .iter()
                .take(5)
                .map(move |x| format!("<li><b>{}</b> <code>{}</code></li>", esc(s), esc(x)))
        })
        .collect();
    if !samples.is_empty() {
        let _ = write!(
            o,
            "<h3>Premières lignes rejetées</h3><ul>{}</ul>",
            samples.join("")
        );
    }
    o
}

/// One day's page.
pub fn day_page(d: &HtmlDay) -> Vec<u8> {
    let r = d.report;
    let works = d
        .metrics
        .get("chantiers")
        .map(|c| c.get("chantiers_par_arrondissement"));
    let works = counts(works.flatten());
    let sections = [
        (
            "Débit horaire, toute la ville",
            flow_curve(&d.summary.hourly),
        ),
        ("Tronçons les plus congestionnés", congested(r)),
        ("Trafic par arrondissement", traffic_map(d.map, d.summary)),
        (
            "Chantiers actifs par arrondissement",
            bars(&works, "#bc4c00"),
        ),
        ("Perturbations des transports", transit(d.metrics)),
        ("Météo", weather(r)),
        ("Vélib'", velib(d.metrics)),
        ("Qualité des données", quality(d.quality)),
    ];
    let mut body = format!(
        "<nav><a href=\"index.html\">← Tous les jours</a></nav><h1>Rapport du {}</h1>\
<p class=\"muted\">Généré {}</p>{}",
        esc(&r.date),
        esc(&r.generated_at),
        kpis(r)
    );
    for (title, html) in sections {
        let _ = writeln!(body, "<section><h2>{title}</h2>{html}</section>");
    }
    page(&format!("Cityflow — {}", r.date), &body)
}

/// `index.html`: the days, newest first.
pub fn index_page(days: &[NaiveDate]) -> Vec<u8> {
    let mut body =
        String::from("<h1>Cityflow — rapports quotidiens</h1><section><ul class=\"days\">");
    for d in days.iter().rev() {
        let _ = write!(body, "<li><a href=\"daily_report_{d}.html\">{d}</a></li>");
    }
    body.push_str("</ul></section>");
    page("Cityflow — rapports quotidiens", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("\"><img src=x onerror=alert(1)> & <script>'"),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;&#39;"
        );
    }

    #[test]
    fn labels_from_the_data_stay_text() {
        let mut m = super::super::DayMetrics::new();
        let evil = "\"><img src=x onerror=alert(1)><script>alert(2)</script>";
        m.insert(
            "comptages".into(),
            serde_json::json!({"top_10_zones_congestionnees": [{"libelle": evil, "arrondissement": evil}]}),
        );
        m.insert(
            "traffic".into(),
            serde_json::json!({"top_lignes_impactees": [{"ligne": evil, "count": 1}]}),
        );
        let r = super::super::build(evil, "x", &m, None);
        let q = BTreeMap::new();
        let page = day_page(&HtmlDay {
            report: &r,
            metrics: &m,
            summary: &DaySummary::default(),
            quality: &q,
            map: &Shapes::default(),
        });
        let s = String::from_utf8(page).unwrap();
        assert!(!s.contains("<img"), "{s}");
        assert!(!s.contains("<script"), "{s}");
        assert!(s.contains("&lt;script&gt;alert(2)"));
    }
}
