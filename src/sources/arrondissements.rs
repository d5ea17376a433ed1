//! Paris arrondissements (`batch/arrondissements*.geojson`, the opendata.paris.fr file).

use crate::discover::InputFile;
use crate::geo::ArrondissementIndex;
use crate::input::read_json;
use crate::quality::{QualityAcc, Reason};

pub const SOURCE: &str = "arrondissements";

/// The arrondissements' files (reference data: read before the datasets, see
/// [`Shared`](super::dataset::Shared)).
pub const FILES: crate::discover::FileKind = crate::discover::FileKind {
    name: SOURCE,
    api: &[],
    batch: &["arrondissements"],
};

/// Loads every given file into one index (the first file to define a code wins).
pub fn load<'a>(
    files: impl IntoIterator<Item = &'a InputFile>,
    q: &mut QualityAcc,
) -> ArrondissementIndex {
    let mut idx = ArrondissementIndex::default();
    for f in files {
        let items = match read_json(&f.path) {
            Ok(items) => items,
            Err(e) => {
                q.file_failed(SOURCE, &f.rel, e.line, e.reason, e.detail, 0);
                continue;
            }
        };
        // read_json spreads a FeatureCollection into its features: gather them back.
        let mut feats = Vec::new();
        for it in items {
            if let Some((_, value)) = it.into_record(q, SOURCE, &f.rel) {
                feats.push(value);
            }
        }
        let n = feats.len() as u64;
        let fc = serde_json::json!({"type": "FeatureCollection", "features": feats});
        let (one, problems) = ArrondissementIndex::from_geojson(&fc);
        let c = q.cell(SOURCE, None);
        c.files.insert(f.rel.clone());
        c.rows_read += n;
        // A feature without a number or a polygon is not used: a rejected row.
        for p in problems {
            q.problem(SOURCE, None, &f.rel, 1, Reason::NotARecord, p);
        }
        if one.is_empty() {
            q.file_failed(
                SOURCE,
                &f.rel,
                1,
                Reason::MissingKey,
                "no usable arrondissement polygon".into(),
                0,
            );
        }
        for a in one.items {
            if !idx.items.iter().any(|b| b.code == a.code) {
                idx.items.push(a);
            }
        }
    }
    idx.items.sort_by(|a, b| a.code.cmp(&b.code));
    idx
}

/// Loads a file given outside the raw tree (`--arrondissements`).
pub fn load_path(path: &std::path::Path, q: &mut QualityAcc) -> ArrondissementIndex {
    let rel = path.display().to_string();
    let f = InputFile::new(path, &rel, SOURCE, None);
    load([&f], q)
}
