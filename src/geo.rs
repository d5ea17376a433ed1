//! Geometry: GeoJSON parsing, line lengths, areas, point-in-polygon and the arrondissement
//! index.
//!
//! Which formula each figure uses:
//! - **lengths** ([`length_m`], [`geodesic_m`]): geodesic distance on the WGS84 ellipsoid,
//!   Karney's algorithm (crate `geographiclib-rs`, a port of GeographicLib), summed over the
//!   vertices of each line;
//! - **areas** ([`polygon_area_m2`]): geodesic area on the WGS84 ellipsoid, Karney's algorithm
//!   (`geographiclib-rs`'s `PolygonArea`, edges are geodesics), holes subtracted, parts summed;
//! - **point in polygon** ([`ArrondissementIndex::lookup`]): even-odd ray casting in the
//!   (longitude, latitude) plane, as GIS tools do for GeoJSON (RFC 7946 §3.1.1: edges are
//!   straight in lon/lat). Kept in this module rather than taken from the `geo` crate: `geo`
//!   would add about 20 crates to `process` (and Rust 1.88) for this one test; the results
//!   are checked against the arrondissements' own reference points in the tests.
//! - [`haversine_m`] (sphere R = 6,371 km, the prototype's) is kept for comparisons only.

use std::sync::OnceLock;

use geographiclib_rs::{Geodesic, InverseGeodesic, PolygonArea, Winding};
use serde_json::Value;

/// Earth radius used by the prototype's haversine (metres).
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// The WGS84 ellipsoid (a = 6,378,137 m, f = 1/298.257223563).
fn wgs84() -> &'static Geodesic {
    static G: OnceLock<Geodesic> = OnceLock::new();
    G.get_or_init(Geodesic::wgs84)
}

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

/// Geodesic distance on the WGS84 ellipsoid (Karney), metres.
pub fn geodesic_m(a: Pt, b: Pt) -> f64 {
    wgs84().inverse(a[1], a[0], b[1], b[0])
}

/// Great-circle distance (haversine, R = 6,371 km), metres: the prototype's formula, kept for
/// comparisons (no figure uses it).
pub fn haversine_m(a: Pt, b: Pt) -> f64 {
    let (lat1, lat2) = (a[1].to_radians(), b[1].to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b[0] - a[0]).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Length of a line geometry in metres (geodesic on WGS84, summed over every part); `None` for
/// non-linear shapes.
pub fn length_m(g: &Geometry) -> Option<f64> {
    let one = |l: &[Pt]| l.windows(2).map(|w| geodesic_m(w[0], w[1])).sum::<f64>();
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

/// Area (m², unsigned) of one ring: geodesic polygon on WGS84 (Karney's `PolygonArea`), the
/// ring closed implicitly (a repeated closing vertex is dropped), either orientation.
fn ring_area(ring: &[Pt]) -> f64 {
    let mut pts: &[Pt] = ring;
    if pts.len() >= 2 && pts[0] == pts[pts.len() - 1] {
        pts = &pts[..pts.len() - 1];
    }
    if pts.len() < 3 {
        return 0.0;
    }
    let mut pa = PolygonArea::new(wgs84(), Winding::CounterClockwise);
    for p in pts {
        pa.add_point(p[1], p[0]);
    }
    // Signed: a clockwise ring gives minus its area, not the rest of the Earth.
    let (_perimeter, area, _n) = pa.compute(true);
    area.abs()
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
    let mut a = ring_area(outer);
    for h in holes {
        check_ring(h)?;
        a -= ring_area(h);
    }
    if a < 0.0 {
        return Err("polygon holes are larger than its exterior ring".into());
    }
    Ok(a)
}

/// Geodesic area (m²) on the WGS84 ellipsoid of a Polygon (holes subtracted) or MultiPolygon
/// (parts summed). Other geometry types and degenerate rings are errors (no area).
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
        // [2.35, 2.36] × [48.85, 48.86], geodesic edges on WGS84. Expected value from Python
        // geographiclib 2.0 (tests/independent/geodesic_areas.py does the same on files):
        //   p = Geodesic.WGS84.Polygon(); p.AddPoint(lat, lon) x4; p.Compute(False, True)
        //   -> 816,080.5093593597 m²
        // Check by hand: the ellipsoid's radii of curvature at the mid latitude 48.855°,
        // N = a/√(1−e² sin²φ) = 6,390,278.07 m and M = a(1−e²)/(1−e² sin²φ)^1.5 =
        // 6,371,687.61 m, give N·cos φ·Δλ · M·Δφ = 816,080.512 m² (3e-9 relative). On the
        // 6,371 km sphere (the former formula) the box is 813,530.77 m², 0.31 % less.
        let g = Geometry::Polygon(vec![rect(2.35, 48.85, 2.36, 48.86)]);
        let a = polygon_area_m2(&g).unwrap();
        assert!((a - 816_080.509_359_359_7).abs() < 1e-6 * a, "{a}");
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
        // Python geographiclib 2.0, as above: hole [2.353, 2.357] × [48.853, 48.857] =
        // 130,572.8818359375 m²; polygon = 816,080.5093593597 − 130,572.8818359375 =
        // 685,507.6275234222 m²
        let outer = rect(2.35, 48.85, 2.36, 48.86);
        let hole = rect(2.353, 48.853, 2.357, 48.857);
        let g = Geometry::Polygon(vec![outer.clone(), hole.clone()]);
        let a = polygon_area_m2(&g).unwrap();
        assert!((a - 685_507.627_523_422_2).abs() < 1e-6 * a, "{a}");
        // MultiPolygon: the holed square + [2.30, 2.31] × [48.80, 48.81]; total
        // 1,502,393.4071683884 m² (Python geographiclib)
        let g = Geometry::MultiPolygon(vec![
            vec![outer, hole],
            vec![rect(2.30, 48.80, 2.31, 48.81)],
        ]);
        let a = polygon_area_m2(&g).unwrap();
        assert!((a - 1_502_393.407_168_388_4).abs() < 1e-6 * a, "{a}");
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
    fn geodesic_of_one_degree_of_latitude() {
        // Meridian arc 48°..49° on WGS84: Python geographiclib 2.0
        // Geodesic.WGS84.Inverse(48, 2, 49, 2)['s12'] = 111,200.0367623785 m. Check by hand:
        // the meridian radius of curvature at 48.5°, M = a(1−e²)/(1−e² sin²φ)^1.5 =
        // 6,371,292.97 m, times π/180 = 111,200.040 m (3 mm more: M varies over the degree).
        let d = geodesic_m([2.0, 48.0], [2.0, 49.0]);
        assert!((d - 111_200.036_762_378_5).abs() < 1e-6, "{d}");
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
