//! Geometry: GeoJSON parsing, line lengths, point-in-polygon and the arrondissement index.

use serde_json::Value;

/// Earth radius used by the prototype's haversine (metres).
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// `[lon, lat]` in degrees.
pub type Pt = [f64; 2];

#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Pt),
    LineString(Vec<Pt>),
    MultiLineString(Vec<Vec<Pt>>),
    /// Rings: exterior first, then holes.
    Polygon(Vec<Vec<Pt>>),
    MultiPolygon(Vec<Vec<Vec<Pt>>>),
}

/// Parses a GeoJSON geometry, a Feature (its `geometry`) or a JSON string holding either.
pub fn parse_geometry(v: &Value) -> Result<Geometry, String> {
    match v {
        Value::String(s) => {
            let inner: Value =
                serde_json::from_str(s).map_err(|e| format!("geometry is not JSON: {e}"))?;
            parse_geometry(&inner)
        }
        Value::Object(o) => {
            let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
            if ty == "Feature" {
                return match o.get("geometry") {
                    Some(g) if !g.is_null() => parse_geometry(g),
                    _ => Err("feature without geometry".into()),
                };
            }
            let c = o.get("coordinates").ok_or("geometry without coordinates")?;
            match ty {
                "Point" => Ok(Geometry::Point(pt(c)?)),
                "LineString" => Ok(Geometry::LineString(line(c)?)),
                "MultiLineString" => Ok(Geometry::MultiLineString(list(c, line)?)),
                "Polygon" => Ok(Geometry::Polygon(list(c, line)?)),
                "MultiPolygon" => Ok(Geometry::MultiPolygon(list(c, |p| list(p, line))?)),
                other => Err(format!("unsupported geometry type {other:?}")),
            }
        }
        Value::Null => Err("null geometry".into()),
        _ => Err("geometry is not an object".into()),
    }
}

/// Parses a geometry from its text form (a `geo_shape` CSV cell).
pub fn parse_geometry_str(s: &str) -> Result<Geometry, String> {
    let v: Value = serde_json::from_str(s).map_err(|e| format!("geometry is not JSON: {e}"))?;
    parse_geometry(&v)
}

fn pt(v: &Value) -> Result<Pt, String> {
    let a = v.as_array().ok_or("position is not an array")?;
    if a.len() < 2 {
        return Err("position with fewer than 2 numbers".into());
    }
    let lon = a[0].as_f64().ok_or("longitude is not a number")?;
    let lat = a[1].as_f64().ok_or("latitude is not a number")?;
    check_lon_lat(lon, lat)?;
    Ok([lon, lat])
}

fn line(v: &Value) -> Result<Vec<Pt>, String> {
    list(v, pt)
}

fn list<T>(v: &Value, f: impl Fn(&Value) -> Result<T, String>) -> Result<Vec<T>, String> {
    v.as_array()
        .ok_or("coordinates are not an array")?
        .iter()
        .map(f)
        .collect()
}

pub fn check_lon_lat(lon: f64, lat: f64) -> Result<(), String> {
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!("coordinates out of range (lon {lon}, lat {lat})"));
    }
    Ok(())
}

/// Parses `geo_point_2d` as written in the CSV exports: `"lat, lon"` (with or without the space).
pub fn parse_lat_lon(s: &str) -> Result<Pt, String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("point {s:?} is not \"lat, lon\""))?;
    let lat: f64 = a
        .trim()
        .parse()
        .map_err(|_| format!("point {s:?}: bad latitude"))?;
    let lon: f64 = b
        .trim()
        .parse()
        .map_err(|_| format!("point {s:?}: bad longitude"))?;
    if !lat.is_finite() || !lon.is_finite() {
        return Err(format!("point {s:?} is not finite"));
    }
    check_lon_lat(lon, lat)?;
    Ok([lon, lat])
}

/// Parses a point object `{lon, lat}` (Opendatasoft JSON).
pub fn parse_lon_lat_obj(v: &Value) -> Result<Pt, String> {
    let lon = v
        .get("lon")
        .and_then(Value::as_f64)
        .ok_or("point without numeric lon")?;
    let lat = v
        .get("lat")
        .and_then(Value::as_f64)
        .ok_or("point without numeric lat")?;
    check_lon_lat(lon, lat)?;
    Ok([lon, lat])
}

/// Great-circle distance (haversine, R = 6,371 km), metres.
pub fn haversine_m(a: Pt, b: Pt) -> f64 {
    let (lat1, lat2) = (a[1].to_radians(), b[1].to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b[0] - a[0]).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Length of a line geometry in metres (sum over every part); `None` for non-linear shapes.
pub fn length_m(g: &Geometry) -> Option<f64> {
    let one = |l: &[Pt]| l.windows(2).map(|w| haversine_m(w[0], w[1])).sum::<f64>();
    match g {
        Geometry::LineString(l) => Some(one(l)),
        Geometry::MultiLineString(ls) => Some(ls.iter().map(|l| one(l)).sum()),
        _ => None,
    }
}

/// The prototype's centre point: the point itself, a line's middle vertex, a polygon's mean
/// exterior vertex.
pub fn center(g: &Geometry) -> Option<Pt> {
    match g {
        Geometry::Point(p) => Some(*p),
        Geometry::LineString(l) if !l.is_empty() => Some(l[l.len() / 2]),
        Geometry::MultiLineString(ls) => {
            ls.first().filter(|l| !l.is_empty()).map(|l| l[l.len() / 2])
        }
        Geometry::Polygon(rings) => rings.first().and_then(|r| mean(r)),
        Geometry::MultiPolygon(ps) => ps.first().and_then(|p| p.first()).and_then(|r| mean(r)),
        _ => None,
    }
}

fn mean(r: &[Pt]) -> Option<Pt> {
    if r.is_empty() {
        return None;
    }
    let n = r.len() as f64;
    Some([
        r.iter().map(|p| p[0]).sum::<f64>() / n,
        r.iter().map(|p| p[1]).sum::<f64>() / n,
    ])
}

/// Even-odd ray casting on one ring.
fn in_ring(p: Pt, ring: &[Pt]) -> bool {
    let mut inside = false;
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi) = (ring[i][0], ring[i][1]);
        let (xj, yj) = (ring[j][0], ring[j][1]);
        if (yi > p[1]) != (yj > p[1]) && p[0] < (xj - xi) * (p[1] - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Point in a polygon (exterior ring minus holes).
fn in_polygon(p: Pt, rings: &[Vec<Pt>]) -> bool {
    match rings.split_first() {
        Some((outer, holes)) => in_ring(p, outer) && !holes.iter().any(|h| in_ring(p, h)),
        None => false,
    }
}

/// One arrondissement: postal code (`75001`..`75020`), name and shape.
#[derive(Debug, Clone)]
pub struct Arrondissement {
    pub code: String,
    pub name: String,
    polygons: Vec<Vec<Vec<Pt>>>,
    bbox: [f64; 4],
}

/// The 20 arrondissements, for point-in-polygon lookups.
#[derive(Debug, Clone, Default)]
pub struct ArrondissementIndex {
    pub items: Vec<Arrondissement>,
}

impl ArrondissementIndex {
    /// Builds the index from an opendata.paris.fr `arrondissements.geojson` FeatureCollection
    /// (properties `c_ar` 1..20 or `c_arinsee` 751xx, `l_ar`). Features it cannot use are returned
    /// as messages; later features with an already-seen code are ignored.
    pub fn from_geojson(v: &Value) -> (ArrondissementIndex, Vec<String>) {
        let mut idx = ArrondissementIndex::default();
        let mut problems = Vec::new();
        let feats = match v.get("features").and_then(Value::as_array) {
            Some(f) => f,
            None => {
                problems.push("not a FeatureCollection (no \"features\" array)".to_string());
                return (idx, problems);
            }
        };
        for (i, f) in feats.iter().enumerate() {
            let props = f.get("properties").cloned().unwrap_or(Value::Null);
            let code = arr_code(&props);
            let Some(code) = code else {
                problems.push(format!(
                    "feature {i}: no arrondissement number (c_ar / c_arinsee)"
                ));
                continue;
            };
            let polygons = match f.get("geometry").map(parse_geometry) {
                Some(Ok(Geometry::Polygon(p))) => vec![p],
                Some(Ok(Geometry::MultiPolygon(ps))) => ps,
                Some(Ok(_)) => {
                    problems.push(format!("feature {i} ({code}): geometry is not a polygon"));
                    continue;
                }
                Some(Err(e)) => {
                    problems.push(format!("feature {i} ({code}): {e}"));
                    continue;
                }
                None => {
                    problems.push(format!("feature {i} ({code}): no geometry"));
                    continue;
                }
            };
            if idx.items.iter().any(|a| a.code == code) {
                continue;
            }
            let mut bbox = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
            for p in polygons.iter().flat_map(|p| p.iter().flatten()) {
                bbox = [
                    bbox[0].min(p[0]),
                    bbox[1].min(p[1]),
                    bbox[2].max(p[0]),
                    bbox[3].max(p[1]),
                ];
            }
            let name = props
                .get("l_ar")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| code.clone());
            idx.items.push(Arrondissement {
                code,
                name,
                polygons,
                bbox,
            });
        }
        idx.items.sort_by(|a, b| a.code.cmp(&b.code));
        (idx, problems)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The postal code of the arrondissement containing the point, if any.
    pub fn lookup(&self, p: Pt) -> Option<&str> {
        self.items
            .iter()
            .find(|a| {
                p[0] >= a.bbox[0]
                    && p[0] <= a.bbox[2]
                    && p[1] >= a.bbox[1]
                    && p[1] <= a.bbox[3]
                    && a.polygons.iter().any(|poly| in_polygon(p, poly))
            })
            .map(|a| a.code.as_str())
    }
}

fn arr_code(props: &Value) -> Option<String> {
    let num = |k: &str| -> Option<i64> {
        match props.get(k)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let n = match (num("c_ar"), num("c_arinsee")) {
        (Some(n), _) if (1..=20).contains(&n) => n,
        (_, Some(insee)) if (75101..=75120).contains(&insee) => insee - 75100,
        _ => return None,
    };
    Some(format!("750{n:02}"))
}

/// Signed area (m²) of one ring on the sphere, by the Chamberlain–Duquette formula
/// `A = R²/2 · Σ (λ[i+1] − λ[i−1]) · sin φ[i]` (exact for edges that are straight in the
/// (λ, sin φ) plane, i.e. along meridians and parallels; at the size of a work the difference
/// with great-circle edges is negligible). `sin φ[0]` is subtracted from every term (the Δλ sum
/// to 0), which keeps precision on tiny rings. Positive when counter-clockwise.
fn ring_area_signed(ring: &[Pt]) -> f64 {
    let mut pts: &[Pt] = ring;
    if pts.len() >= 2 && pts[0] == pts[pts.len() - 1] {
        pts = &pts[..pts.len() - 1];
    }
    let n = pts.len();
    if n < 3 {
        return 0.0;
    }
    let s0 = pts[0][1].to_radians().sin();
    let mut sum = 0.0;
    for i in 0..n {
        let prev = pts[(i + n - 1) % n][0].to_radians();
        let next = pts[(i + 1) % n][0].to_radians();
        sum += (next - prev) * (pts[i][1].to_radians().sin() - s0);
    }
    sum * EARTH_RADIUS_M * EARTH_RADIUS_M / 2.0
}

fn check_ring(ring: &[Pt]) -> Result<(), String> {
    let mut distinct: Vec<Pt> = Vec::new();
    for p in ring {
        if !distinct.contains(p) {
            distinct.push(*p);
            if distinct.len() >= 3 {
                return Ok(());
            }
        }
    }
    Err(format!(
        "polygon ring with {} distinct position(s) (at least 3 needed)",
        distinct.len()
    ))
}

fn polygon_rings_area(rings: &[Vec<Pt>]) -> Result<f64, String> {
    let (outer, holes) = rings.split_first().ok_or("polygon without rings")?;
    check_ring(outer)?;
    let mut a = ring_area_signed(outer).abs();
    for h in holes {
        check_ring(h)?;
        a -= ring_area_signed(h).abs();
    }
    if a < 0.0 {
        return Err("polygon holes are larger than its exterior ring".into());
    }
    Ok(a)
}

/// True area (m²) of a Polygon (holes subtracted) or MultiPolygon (parts summed) on the sphere
/// (R = 6,371,000 m). Other geometry types and degenerate rings are errors (no area).
pub fn polygon_area_m2(g: &Geometry) -> Result<f64, String> {
    match g {
        Geometry::Polygon(rings) => polygon_rings_area(rings),
        Geometry::MultiPolygon(ps) => {
            if ps.is_empty() {
                return Err("empty MultiPolygon".into());
            }
            ps.iter().map(|p| polygon_rings_area(p)).sum()
        }
        Geometry::Point(_) => Err("geometry is a Point, not a polygon".into()),
        Geometry::LineString(_) => Err("geometry is a LineString, not a polygon".into()),
        Geometry::MultiLineString(_) => Err("geometry is a MultiLineString, not a polygon".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rect(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> Vec<Pt> {
        vec![
            [lon1, lat1],
            [lon2, lat1],
            [lon2, lat2],
            [lon1, lat2],
            [lon1, lat1],
        ]
    }

    #[test]
    fn square_of_a_hundredth_of_a_degree_at_paris() {
        // [2.35, 2.36] × [48.85, 48.86]: the exact area of a lon/lat box on the sphere is
        // R² · Δλ · (sin φ2 − sin φ1)
        //   = 6,371,000² · (0.01 · π/180) · (sin 48.86° − sin 48.85°)
        //   = 40,589,641,000,000 · 0.00017453292519943296 · (0.7531042742016877 − 0.7529894373157874)
        //   = 40,589,641,000,000 · 0.00017453292519943296 · 0.00011483688590030461
        //   = 813,530.7717 m²
        // Cross-check: 0.01° of latitude = R·π/180/100 = 1,111.9493 m, 0.01° of longitude at the
        // mid latitude 48.855° = 1,111.9493 · cos 48.855° = 731.6258 m; 1,111.9493 · 731.6258 =
        // 813,530.77 m². The prototype's shoelace without cos(lat) gave 1,111.9493² = 1,236,431 m²
        // (+52 %).
        let g = Geometry::Polygon(vec![rect(2.35, 48.85, 2.36, 48.86)]);
        let a = polygon_area_m2(&g).unwrap();
        assert!((a - 813_530.771_701_4).abs() < 1e-3, "{a}");
        // orientation does not matter
        let mut cw = rect(2.35, 48.85, 2.36, 48.86);
        cw.reverse();
        let a2 = polygon_area_m2(&Geometry::Polygon(vec![cw])).unwrap();
        assert!((a - a2).abs() < 1e-6);
        // an unclosed ring is closed implicitly
        let mut open = rect(2.35, 48.85, 2.36, 48.86);
        open.pop();
        assert!((polygon_area_m2(&Geometry::Polygon(vec![open])).unwrap() - a).abs() < 1e-6);
    }

    #[test]
    fn square_with_a_hole_and_multipolygon() {
        // hole [2.353, 2.357] × [48.853, 48.857]:
        //   R² · (0.004 · π/180) · (sin 48.857° − sin 48.853°) = 130,164.9236 m²
        // polygon = 813,530.7717 − 130,164.9236 = 683,365.8481 m²
        let outer = rect(2.35, 48.85, 2.36, 48.86);
        let hole = rect(2.353, 48.853, 2.357, 48.857);
        let g = Geometry::Polygon(vec![outer.clone(), hole.clone()]);
        let a = polygon_area_m2(&g).unwrap();
        assert!((a - 683_365.848_090_2).abs() < 1e-3, "{a}");
        // MultiPolygon: the holed square + [2.30, 2.31] × [48.80, 48.81]
        //   second part = R² · (0.01 · π/180) · (sin 48.81° − sin 48.80°) = 814,342.9917 m²
        //   total = 683,365.8481 + 814,342.9917 = 1,497,708.8398 m²
        let g = Geometry::MultiPolygon(vec![
            vec![outer, hole],
            vec![rect(2.30, 48.80, 2.31, 48.81)],
        ]);
        let a = polygon_area_m2(&g).unwrap();
        assert!((a - 1_497_708.839_756).abs() < 1e-2, "{a}");
    }

    #[test]
    fn invalid_geometries_have_no_area() {
        assert!(polygon_area_m2(&Geometry::Point([2.3, 48.8])).is_err());
        assert!(polygon_area_m2(&Geometry::LineString(vec![[2.3, 48.8], [2.4, 48.8]])).is_err());
        let flat = vec![[2.3, 48.8], [2.4, 48.8], [2.3, 48.8]];
        assert!(polygon_area_m2(&Geometry::Polygon(vec![flat])).is_err());
        assert!(polygon_area_m2(&Geometry::Polygon(vec![])).is_err());
        assert!(polygon_area_m2(&Geometry::MultiPolygon(vec![])).is_err());
        let big_hole = Geometry::Polygon(vec![
            rect(2.35, 48.85, 2.36, 48.86),
            rect(2.30, 48.80, 2.40, 48.90),
        ]);
        assert!(polygon_area_m2(&big_hole).is_err());
    }

    #[test]
    fn haversine_of_one_degree_of_latitude() {
        // 1 degree of latitude = R * pi / 180 = 111,194.93 m
        let d = haversine_m([2.0, 48.0], [2.0, 49.0]);
        assert!((d - 111_194.926_644_558_7).abs() < 1e-6, "{d}");
    }

    #[test]
    fn parses_csv_points_with_or_without_space() {
        assert_eq!(parse_lat_lon("48.87, 2.30").unwrap(), [2.30, 48.87]);
        assert_eq!(parse_lat_lon("48.87,2.30").unwrap(), [2.30, 48.87]);
        assert!(parse_lat_lon("48.87").is_err());
        assert!(parse_lat_lon("148.87, 2.3").is_err());
        assert!(parse_lat_lon("NaN, 2.3").is_err());
    }

    #[test]
    fn geometry_from_string_and_feature() {
        let s = r#"{"coordinates": [[2.0, 48.0], [2.0, 48.5], [2.0, 49.0]], "type": "LineString"}"#;
        let g = parse_geometry_str(s).unwrap();
        assert_eq!(center(&g), Some([2.0, 48.5]));
        let f = json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[2.0, 48.0], [2.0, 49.0]]}, "properties": {}});
        let g2 = parse_geometry(&f).unwrap();
        assert!((length_m(&g2).unwrap() - length_m(&g).unwrap()).abs() < 1e-6);
        assert!(parse_geometry(&json!({"type": "Feature", "geometry": null})).is_err());
        assert!(parse_geometry_str("{\"type\": \"LineString\"}").is_err());
        assert!(
            parse_geometry_str("{\"type\": \"LineString\", \"coordinates\": [[\"a\", 1]]}")
                .is_err()
        );
    }

    #[test]
    fn point_in_polygon_with_hole() {
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"c_ar": 4, "l_ar": "4ème"},
             "geometry": {"type": "Polygon", "coordinates": [
                [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]],
                [[4.0, 4.0], [6.0, 4.0], [6.0, 6.0], [4.0, 6.0], [4.0, 4.0]]]}},
            {"type": "Feature", "properties": {"c_arinsee": 75112},
             "geometry": {"type": "Polygon", "coordinates": [[[20.0, 0.0], [30.0, 0.0], [30.0, 10.0], [20.0, 0.0]]]}},
            {"type": "Feature", "properties": {}, "geometry": null}
        ]});
        let (idx, problems) = ArrondissementIndex::from_geojson(&fc);
        assert_eq!(problems.len(), 1);
        assert_eq!(idx.lookup([1.0, 1.0]), Some("75004"));
        assert_eq!(idx.lookup([5.0, 5.0]), None, "inside the hole");
        assert_eq!(idx.lookup([29.0, 5.0]), Some("75012"));
        assert_eq!(idx.lookup([21.0, 5.0]), None);
    }
}
