//! The arrondissements as SVG paths, for the HTML report's map: read from the same GeoJSON as
//! the point-in-polygon index (opendata.paris.fr `arrondissements.geojson`: `c_ar` 1..20 or
//! `c_arinsee` 751xx, `l_ar`), projected once per run (equirectangular, scaled by cos(latitude)
//! at the map's centre), outer rings only, points closer than half a unit dropped.

use serde_json::Value;

/// Width of the map's SVG view box (its height follows the shape).
pub const WIDTH: f64 = 400.0;

/// One arrondissement: postal code `750xx`, name, SVG path data, label position.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub code: String,
    pub name: String,
    pub path: String,
    pub label_at: (f64, f64),
}

/// Every arrondissement of a run, projected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shapes {
    pub items: Vec<Shape>,
    pub height: f64,
}

fn code_of(props: &Value) -> Option<String> {
    let n = |k: &str| match props.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let ar = n("c_ar").or_else(|| n("c_arinsee").map(|c| c - 75100))?;
    (1..=20).contains(&ar).then(|| format!("750{ar:02}"))
}

/// Rings of `[lon, lat]` points.
type Rings = Vec<Vec<[f64; 2]>>;

/// The outer rings of a Polygon or MultiPolygon.
fn outer_rings(g: &Value) -> Rings {
    let ring = |r: &Value| -> Vec<[f64; 2]> {
        let pts = r.as_array().into_iter().flatten();
        pts.filter_map(|p| Some([p.get(0)?.as_f64()?, p.get(1)?.as_f64()?]))
            .collect()
    };
    let c = g.get("coordinates");
    match g.get("type").and_then(Value::as_str) {
        Some("Polygon") => c.and_then(|c| c.get(0)).map(ring).into_iter().collect(),
        Some("MultiPolygon") => c
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get(0).map(ring))
            .collect(),
        _ => Vec::new(),
    }
}

impl Shapes {
    /// From a FeatureCollection (features without a usable code or polygon are skipped; the
    /// first feature of a code wins).
    pub fn from_geojson(v: &Value) -> Shapes {
        let mut raw: Vec<(String, String, Rings)> = Vec::new();
        for f in v
            .get("features")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let props = f.get("properties").unwrap_or(&Value::Null);
            let Some(code) = code_of(props) else { continue };
            let rings = outer_rings(f.get("geometry").unwrap_or(&Value::Null));
            if rings.iter().all(|r| r.len() < 3) || raw.iter().any(|(c, _, _)| *c == code) {
                continue;
            }
            let name = props
                .get("l_ar")
                .and_then(Value::as_str)
                .unwrap_or(&code)
                .to_string();
            raw.push((code, name, rings));
        }
        raw.sort_by(|a, b| a.0.cmp(&b.0));
        let all = raw.iter().flat_map(|(_, _, r)| r.iter().flatten());
        let mut bb = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for p in all {
            bb = [
                bb[0].min(p[0]),
                bb[1].min(p[1]),
                bb[2].max(p[0]),
                bb[3].max(p[1]),
            ];
        }
        if raw.is_empty() || bb[2] <= bb[0] || bb[3] <= bb[1] {
            return Shapes::default();
        }
        let kx = ((bb[1] + bb[3]) / 2.0).to_radians().cos();
        let scale = WIDTH / ((bb[2] - bb[0]) * kx);
        let xy = |p: &[f64; 2]| ((p[0] - bb[0]) * kx * scale, (bb[3] - p[1]) * scale);
        let items = raw
            .iter()
            .map(|(code, name, rings)| {
                let mut path = String::new();
                let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
                for r in rings {
                    let mut last: Option<(f64, f64)> = None;
                    for p in r {
                        let (x, y) = xy(p);
                        if last.is_some_and(|(lx, ly)| (x - lx).hypot(y - ly) < 0.5) {
                            continue;
                        }
                        let cmd = if last.is_none() { 'M' } else { 'L' };
                        path.push_str(&format!("{cmd}{x:.1} {y:.1}"));
                        last = Some((x, y));
                        (sx, sy, n) = (sx + x, sy + y, n + 1.0);
                    }
                    path.push('Z');
                }
                let label_at = if n > 0.0 {
                    (sx / n, sy / n)
                } else {
                    (0.0, 0.0)
                };
                Shape {
                    code: code.clone(),
                    name: name.clone(),
                    path,
                    label_at,
                }
            })
            .collect();
        Shapes {
            items,
            height: ((bb[3] - bb[1]) * scale).ceil(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn squares_project_to_paths() {
        let sq = |x0: f64| {
            json!([[
                [x0, 48.0],
                [x0 + 1.0, 48.0],
                [x0 + 1.0, 49.0],
                [x0, 49.0],
                [x0, 48.0]
            ]])
        };
        let fc = json!({"features": [
            {"properties": {"c_ar": 2, "l_ar": "2ème <Ardt>"}, "geometry": {"type": "Polygon", "coordinates": sq(3.0)}},
            {"properties": {"c_arinsee": 75101}, "geometry": {"type": "MultiPolygon", "coordinates": [sq(2.0)]}},
            {"properties": {"c_ar": 99}, "geometry": {"type": "Polygon", "coordinates": sq(5.0)}},
            {"properties": {"c_ar": 3}, "geometry": null}
        ]});
        let s = Shapes::from_geojson(&fc);
        let codes: Vec<&str> = s.items.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, ["75001", "75002"]);
        assert!(s.items[0].path.starts_with("M0.0 "), "{}", s.items[0].path);
        assert!(s.items[1].path.ends_with('Z'));
        assert_eq!(s.items[1].name, "2ème <Ardt>");
        // 2° of longitude at cos(48.5°) wide, 1° of latitude high.
        let want = (WIDTH / (2.0 * 48.5f64.to_radians().cos())).ceil();
        assert_eq!(s.height, want);
    }
}
