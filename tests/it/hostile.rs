//! The hostile-input corpus: malformed files made from the real formats (slices of the real
//! public files and the generator's tree), dropped into one raw tree beside the good files.
//!
//! One `process` run over good + hostile files must: not panic; name every hostile file in
//! `quality_report_run.json` with one of the reasons its defect calls for; write metrics and
//! reports byte-identical to a run over the good files alone (whatever part of a hostile file is
//! usable repeats good rows: it must be counted once, never twice); keep every source's
//! `rows_used` unchanged; exit with code 1.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use crate::support::*;

/// One malformed file: its place in the raw tree, its bytes, and the reasons the quality report
/// may give for it (at least one of them must be there).
struct Hostile {
    rel: String,
    body: Vec<u8>,
    reasons: &'static [&'static str],
    /// A sample the file must give: (physical line, reason), checked in a run of its own.
    sample: Option<(u64, &'static str)>,
}

#[derive(Default)]
struct Corpus(Vec<Hostile>);

impl Corpus {
    fn add(&mut self, rel: &str, body: impl Into<Vec<u8>>, reasons: &'static [&'static str]) {
        assert!(
            !self.0.iter().any(|h| h.rel == rel),
            "{rel} is in the corpus twice"
        );
        self.0.push(Hostile {
            rel: rel.to_string(),
            body: body.into(),
            reasons,
            sample: None,
        });
    }

    /// Adds a file whose sample with its one reason must name line `line`.
    fn add_at(&mut self, rel: &str, body: Vec<u8>, line: u64, reason: &'static [&'static str]) {
        self.add(rel, body, reason);
        self.0.last_mut().unwrap().sample = Some((line, reason[0]));
    }
}

const DATE_REASONS: &[&str] = &["unparseable_date", "date_out_of_range"];
const NUMBER_REASONS: &[&str] = &["bad_number", "value_out_of_range"];
const WIDTH: &[&str] = &["wrong_column_count"];
const MISSING_COLUMN: &[&str] = &["missing_column"];
const EMPTY: &[&str] = &["empty_file"];
const BAD_JSON: &[&str] = &["bad_json"];
const UTF8: &[&str] = &["invalid_utf8"];

/// The first `n` data lines of a CSV without multi-line fields, bytes untouched (BOM, CRLF).
fn head_lines(b: &[u8], n: usize) -> Vec<u8> {
    lines(b).into_iter().take(n + 1).flatten().collect()
}

/// Header line and data lines, bytes untouched.
fn split(b: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let l = lines(b);
    (l[0].clone(), l[1..].to_vec())
}

fn join(header: &[u8], rows: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header.to_vec();
    for r in rows {
        out.extend_from_slice(r);
    }
    out
}

/// A line with field `i` (before any quoted field) replaced.
fn set_field(line: &[u8], i: usize, value: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = line.splitn(i + 2, |&b| b == b';').collect();
    parts[i] = value;
    parts.join(&b';')
}

/// The byte offset of the `n`-th `;` of a line.
fn nth_delim(line: &[u8], n: usize) -> usize {
    line.iter()
        .enumerate()
        .filter(|(_, &b)| b == b';')
        .nth(n - 1)
        .map(|(i, _)| i)
        .expect("enough fields")
}

/// UTF-8 text re-encoded as Latin-1 (BOM dropped; every other character here is below U+0100).
fn latin1(b: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(b)
        .chars()
        .filter(|&c| c != '\u{feff}')
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 character"))
        .collect()
}

/// Parsed CSV records (BOM stripped), for files with multi-line fields.
fn records(b: &[u8]) -> Vec<csv::ByteRecord> {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(b)
        .byte_records()
        .map(Result::unwrap)
        .collect()
}

/// Records written back as a `;` CSV with `eol` line ends (quoting where needed).
fn write_records(recs: &[csv::ByteRecord], eol: csv::Terminator) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(eol)
        .from_writer(Vec::new());
    for r in recs {
        w.write_byte_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

fn rec_with(r: &csv::ByteRecord, i: usize, v: &[u8]) -> csv::ByteRecord {
    r.iter()
        .enumerate()
        .map(|(j, f)| if j == i { v } else { f })
        .collect()
}

fn to_bytes(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap();
    b.push(b'\n');
    b
}

fn cut(b: &[u8], frac: f64) -> Vec<u8> {
    b[..(b.len() as f64 * frac) as usize].to_vec()
}

/// `depth` nested arrays around `inner`.
fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
}

/// The good files: the generator's tree plus slices of the real public files.
struct Good {
    /// Real road-counter CSV export (BOM, CRLF): header + 72 rows.
    comptages: Vec<u8>,
    /// Generated road-counter CSV.
    gen_comptages: Vec<u8>,
    /// Real road-counter API records (array).
    comptages_api: Value,
    referentiel: Vec<u8>,
    chantiers: Vec<u8>,
    bikes_csv: Vec<u8>,
    bikes_page: Value,
    prim: Value,
    velib_csv: Vec<u8>,
    gbfs_status: Value,
    meteo: Value,
    meteo_csv: Vec<u8>,
    gen_weather: Value,
    arrondissements: Value,
}

fn good_tree(root: &Path) -> Good {
    let o = cityflow::generate::GenOptions::default();
    cityflow::generate::write_tree(root, &o).unwrap();
    let mut meteo: Value = serde_json::from_slice(&read(real(
        "weather/openmeteo_archive_daily_paris_2016-2025_clombion.json",
    )))
    .unwrap();
    for (_, v) in meteo["daily"].as_object_mut().unwrap().iter_mut() {
        v.as_array_mut().unwrap().truncate(10);
    }
    let json_of = |rel: &str| -> Value { serde_json::from_slice(&read(real(rel))).unwrap() };
    let g = Good {
        comptages: head_lines(
            &read(real(
                "comptages-routiers-permanents/crp_washington_louisgthier.csv",
            )),
            72,
        ),
        gen_comptages: read(root.join("batch/comptages-routiers-permanents.csv")),
        comptages_api: json_of("comptages-routiers-permanents/crp_api_records_mff09.json"),
        referentiel: head_lines(
            &read(real(
                "referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv",
            )),
            200,
        ),
        chantiers: read(real(
            "chantiers-perturbants/chantiers-perturbants_ameya_2023.csv",
        )),
        bikes_csv: read(repo().join("tests/fixtures/bikes/comptage-velo-donnees-compteurs.csv")),
        bikes_page: json_of("comptage-velo/api_v2.1_records_page_fixture_ambiya12.json"),
        prim: json_of("disruptions/prim_navitia_line_reports_yannsko_2024-04.json"),
        velib_csv: head_lines(&read(real("velib/velib-disponibilite_mxvml_2026.csv")), 150),
        gbfs_status: json_of("velib/gbfs_station_status_banacchini_pretty.json"),
        meteo,
        meteo_csv: read(repo().join("tests/fixtures/weather/openmeteo_daily_paris.csv")),
        gen_weather: serde_json::from_slice(&read(
            root.join("api/weather/dt=2025-10-25/hour=02/weather_data.json"),
        ))
        .unwrap(),
        arrondissements: json_of("geo/arrondissements-paris.geojson"),
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("batch/comptages-washington.csv", g.comptages.clone()),
        (
            "api/comptages/dt=2026-06-21/crp_api_records.json",
            to_bytes(&g.comptages_api),
        ),
        ("batch/referentiel-reel.csv", g.referentiel.clone()),
        ("batch/chantiers-reel.csv", g.chantiers.clone()),
        (
            "batch/comptage-velo-donnees-compteurs.csv",
            g.bikes_csv.clone(),
        ),
        ("api/bikes/dt=2025-12-31/page.json", to_bytes(&g.bikes_page)),
        (
            "api/traffic/dt=2024-04-30/line_reports.json",
            to_bytes(&g.prim),
        ),
        ("batch/velib-disponibilite.csv", g.velib_csv.clone()),
        (
            "api/velib/dt=2024-11-19/hour=08/station_status.json",
            to_bytes(&g.gbfs_status),
        ),
        (
            "api/velib/dt=2024-11-19/hour=08/station_information.json",
            read(real(
                "velib/gbfs_station_information_banacchini_pretty.json",
            )),
        ),
        ("batch/open-meteo-paris.json", to_bytes(&g.meteo)),
        ("batch/open-meteo-paris-daily.csv", g.meteo_csv.clone()),
        (
            "batch/owm-onecall.json",
            read(real(
                "weather/owm_onecall_paris_florianlangard.derived.json",
            )),
        ),
        (
            "batch/arrondissements-paris.geojson",
            to_bytes(&g.arrondissements),
        ),
    ];
    for (rel, body) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    g
}

/// Size of the field of the "50 MB single field" files.
const BIG: usize = 50 << 20;

/// The corpus. Names sort after the good files' (`-zz-`), so that no hostile row is ever read
/// first; every usable row left in a hostile file repeats a good row.
fn corpus(g: &Good) -> Corpus {
    let mut c = Corpus::default();
    comptages_csv(&mut c, g);
    comptages_json(&mut c, g);
    referentiel(&mut c, g);
    chantiers(&mut c, g);
    bikes(&mut c, g);
    traffic(&mut c, g);
    weather(&mut c, g);
    velib(&mut c, g);
    arrondissements(&mut c, g);
    c
}

fn comptages_csv(c: &mut Corpus, g: &Good) {
    let (h, rows) = split(&g.comptages);
    let (gh, grows) = split(&g.gen_comptages);
    let p = |name: &str| format!("batch/comptages-zz-hostile-{name}.csv");
    // Truncated inside the third field of the last row.
    let mut t = join(&h, &rows[..10]);
    t.extend_from_slice(&rows[10][..nth_delim(&rows[10], 2) + 8]);
    c.add(&p("truncated"), t, WIDTH);
    // Truncated inside the header.
    c.add(&p("truncated-header"), h[..40].to_vec(), MISSING_COLUMN);
    // `,` instead of `;`: the header still splits into the 15 names, every row into more.
    let comma: Vec<u8> = join(&h, &rows[..8])
        .iter()
        .map(|&b| if b == b';' { b',' } else { b })
        .collect();
    c.add(&p("comma-delimiter"), comma, WIDTH);
    let pipe: Vec<u8> = join(&gh, &grows[..8])
        .iter()
        .map(|&b| if b == b';' { b'|' } else { b })
        .collect();
    c.add(&p("pipe-delimiter"), pipe, MISSING_COLUMN);
    // A required column dropped from the header and every row.
    let drop4 = |l: &[u8]| -> Vec<u8> {
        let (a, b) = (nth_delim(l, 4), nth_delim(l, 5));
        [&l[..a], &l[b..]].concat()
    };
    let missing: Vec<Vec<u8>> = rows[..6].iter().map(|r| drop4(r)).collect();
    c.add(
        &p("missing-column"),
        join(&drop4(&h), &missing),
        MISSING_COLUMN,
    );
    // Rows with a field too many, and rows with fields missing.
    let extra: Vec<Vec<u8>> = rows[..9]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i % 3 == 0 {
                [b"x;".as_slice(), r].concat()
            } else {
                r.clone()
            }
        })
        .collect();
    c.add(&p("extra-field"), join(&h, &extra), WIDTH);
    let short: Vec<Vec<u8>> = grows[..5]
        .iter()
        .map(|r| [&r[..nth_delim(r, 6)], b"\n".as_slice()].concat())
        .collect();
    c.add(&p("short-rows"), join(&gh, &short), WIDTH);
    // A header naming one column more than the rows have.
    let wide_h = [&h[..h.len() - 2], b";Commentaire\r\n".as_slice()].concat();
    c.add(&p("extra-header-column"), join(&wide_h, &rows[..5]), WIDTH);
    c.add(&p("header-only"), h.clone(), EMPTY);
    c.add(&p("header-only-no-eol"), h[..h.len() - 2].to_vec(), EMPTY);
    c.add(&p("empty"), Vec::new(), EMPTY);
    c.add(&p("bom-only"), b"\xEF\xBB\xBF".to_vec(), EMPTY);
    c.add(&p("blank-lines"), b"\r\n\r\n\n".to_vec(), EMPTY);
    // Non-UTF-8 bytes in a key field.
    let mut bad = rows[..6].to_vec();
    bad[2] = set_field(&bad[2], 2, b"2024-01-04T\xff\xfe:00:00+01:00");
    c.add(&p("non-utf8"), join(&h, &bad), UTF8);
    // The whole export in Latin-1 (the header's `Débit` is not UTF-8 any more).
    c.add(&p("latin1"), latin1(&join(&h, &rows[..6])), UTF8);
    // Mixed encodings: every other row in Latin-1 (`Pré-saturé` in `Etat trafic`).
    let mixed: Vec<Vec<u8>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| if i % 2 == 1 { latin1(r) } else { r.clone() })
        .collect();
    assert_ne!(mixed, rows, "some rows have accents");
    c.add(&p("mixed-encodings"), join(&h, &mixed), UTF8);
    // Two exports concatenated: the second BOM and header land in the middle.
    let twice = [join(&h, &rows[..5]), join(&h, &rows[5..10])].concat();
    c.add(&p("bom-in-middle"), twice, DATE_REASONS);
    // CRLF inside quotes (the geo_shape JSON spread over lines, still valid), then a bad row:
    // its sample must give the physical line.
    let mut crlf: Vec<Vec<u8>> = rows[..4]
        .iter()
        .map(|r| {
            let s = String::from_utf8(r.clone()).unwrap();
            s.replacen("{\"\"coordinates\"\": ", "{\"\"coordinates\"\":\r\n", 1)
                .replacen("]], ", "]],\r\n", 1)
                .into_bytes()
        })
        .collect();
    assert!(crlf
        .iter()
        .all(|r| r.iter().filter(|&&b| b == b'\n').count() == 3));
    // the bad row's line: 1 + the line breaks before it (header, 4 rows of 3 lines), i.e. 14
    let line = 1 + join(&h, &crlf).iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(line, 14);
    crlf.push(set_field(&rows[4], 3, b"douze"));
    c.add_at(&p("crlf-in-quotes"), join(&h, &crlf), line, &["bad_number"]);
    // A 50 MB date field; and 50 MB on one line with no delimiter at all.
    let mut big = h.clone();
    big.extend_from_slice(b"4264;AV_Champs_Elysees;");
    big.resize(big.len() + BIG, b'9');
    big.extend_from_slice(b";1;1;Fluide;1;A;2;B;Invalide;;;;\r\n");
    c.add(&p("50mb-field"), big, DATE_REASONS);
    c.add(&p("50mb-line"), vec![b'A'; BIG], MISSING_COLUMN);
    // Dates out of range or impossible.
    let dates: Vec<Vec<u8>> = [
        "1969-12-31T23:00:00+00:00",
        "2200-01-01T00:00:00+01:00",
        "2024-13-45T00:00:00+01:00",
        "2024-02-30T10:00:00+01:00",
        "0000-01-01",
        "+275760-09-13T00:00:00Z",
    ]
    .iter()
    .zip(rows.iter())
    .map(|(d, r)| set_field(r, 2, d.as_bytes()))
    .collect();
    c.add(&p("dates-out-of-range"), join(&h, &dates), DATE_REASONS);
    // NaN, infinities and numbers out of range.
    let nums: Vec<Vec<u8>> = [
        ("NaN", "1"),
        ("inf", "1"),
        ("-Infinity", "1"),
        ("1e999", "1"),
        ("99999999999999999999999", "1"),
        ("-5", "1"),
        ("5", "1e30"),
        ("5", "NaN"),
    ]
    .iter()
    .zip(rows.iter())
    .map(|((q, k), r)| set_field(&set_field(r, 3, q.as_bytes()), 4, k.as_bytes()))
    .collect();
    c.add(&p("numbers-nan-inf"), join(&h, &nums), NUMBER_REASONS);
    // An unterminated quote swallows the rest of the file into one field.
    let mut open = rows[..8].to_vec();
    open[3] = set_field(&open[3], 1, b"\"AV_Champs");
    c.add(&p("unterminated-quote"), join(&h, &open), WIDTH);
    // Binary garbage named like an export.
    let mut rng = cityflow::generate::Rng::new(17);
    let garbage: Vec<u8> = (0..4096).map(|_| rng.below(256) as u8).collect();
    c.add(
        &p("binary"),
        garbage,
        &["missing_column", "invalid_utf8", "wrong_column_count"],
    );
    // NUL bytes inside fields.
    let mut nul = rows[..4].to_vec();
    nul[1] = set_field(&nul[1], 0, b"42\x0064");
    nul[2] = set_field(&nul[2], 3, b"1\x00");
    c.add(
        &p("nul-bytes"),
        join(&h, &nul),
        &["bad_number", "missing_key"],
    );
    // A BOM glued to a row's id (not a header): not a new arc.
    let mut glued = rows[..3].to_vec();
    glued[1] = [b"\xEF\xBB\xBF".as_slice(), &glued[1]].concat();
    c.add(&p("bom-glued-to-id"), join(&h, &glued), &["missing_key"]);
    // JSON in a `.csv`.
    c.add(
        &p("json-named-csv"),
        to_bytes(&g.comptages_api),
        MISSING_COLUMN,
    );
}

fn comptages_json(c: &mut Corpus, g: &Good) {
    let recs = g.comptages_api.as_array().unwrap();
    let p = |name: &str| format!("api/comptages/dt=2026-06-21/zz-hostile-{name}.json");
    let doc = to_bytes(&g.comptages_api);
    c.add(&p("truncated"), cut(&doc, 0.5), BAD_JSON);
    // JSON Lines whose second line nests 100,000 arrays (past serde_json's recursion limit).
    let deep = format!(
        "{}\n{}\n",
        serde_json::to_string(&recs[0]).unwrap(),
        nested(100_000, "1")
    );
    c.add(&p("deeply-nested"), deep, BAD_JSON);
    // A 10 MB array of zeros (1.5 GB once parsed): refused by its memory estimate, unparsed.
    let zeros = [b"[".as_slice(), &b"0,".repeat(5_000_000), b"0]"].concat();
    c.add(&p("array-of-zeros"), zeros, &["read_error"]);
    // Nesting within the limit, in a measurement.
    let mut r = recs[1].clone();
    r["q"] = serde_json::from_str(&nested(120, "5")).unwrap();
    c.add(&p("nested-measure"), to_bytes(&json!([r])), NUMBER_REASONS);
    // Numbers out of range: 1e400 is not even JSON for serde_json; big integers are read.
    let raw = |r: &Value, field: &str, text: &str| -> String {
        let mut r = r.clone();
        r[field] = json!("@RAW@");
        serde_json::to_string(&r)
            .unwrap()
            .replace("\"@RAW@\"", text)
    };
    let lines = [
        raw(&recs[2], "q", "1e400"),
        raw(&recs[3], "q", "123456789012345678901234567890"),
        raw(&recs[4], "k", "-1e-400"),
    ];
    c.add(
        &p("numbers-out-of-range"),
        lines.join("\n"),
        &["bad_json", "value_out_of_range"],
    );
    // NaN and Infinity: bare (not JSON) and as strings.
    let mut r6 = recs[6].clone();
    r6["q"] = json!("NaN");
    let mut r7 = recs[7].clone();
    r7["k"] = json!("-Infinity");
    let nan = format!(
        "{}\n{}\n{}\n",
        raw(&recs[5], "q", "NaN"),
        serde_json::to_string(&r6).unwrap(),
        serde_json::to_string(&r7).unwrap(),
    );
    c.add(&p("nan-infinity"), nan, &["bad_json", "bad_number"]);
    let dates: Vec<Value> = ["1900-01-01T00:00:00+00:00", "3000-01-01", "2026-06-31", ""]
        .iter()
        .zip(recs.iter())
        .map(|(d, r)| {
            let mut r = r.clone();
            r["t_1h"] = json!(d);
            r
        })
        .collect();
    c.add(
        &p("dates-out-of-range"),
        to_bytes(&json!(dates)),
        DATE_REASONS,
    );
    let mut latin = serde_json::to_vec(&recs[8]).unwrap();
    latin.extend_from_slice(b"\n{\"iu_ac\": \"5381\", \"libelle\": \"Caf\xe9\"}\n");
    c.add(&p("non-utf8"), latin, BAD_JSON);
    // A BOM at the start of a JSON Lines line (two ingestion files concatenated).
    let mut bom = serde_json::to_vec(&recs[9]).unwrap();
    bom.extend_from_slice(b"\n\xEF\xBB\xBF");
    bom.extend_from_slice(&serde_json::to_vec(&recs[10]).unwrap());
    bom.push(b'\n');
    c.add(&p("bom-in-middle"), bom, BAD_JSON);
    c.add(
        &p("ingested-html"),
        "{\"_raw\": \"<html>504</html>\"}\n",
        &["ingested_non_json"],
    );
    c.add(&p("empty"), "", EMPTY);
    c.add(&p("scalars"), "[1, \"x\", null, true]", &["not_a_record"]);
    let mut big = String::from("[{\"iu_ac\": \"5381\", \"t_1h\": \"");
    big.push_str(&"7".repeat(BIG));
    big.push_str("\"}]");
    c.add(&p("50mb-field"), big, DATE_REASONS);
}

fn referentiel(c: &mut Corpus, g: &Good) {
    let (h, rows) = split(&g.referentiel);
    let p = |name: &str| format!("batch/referentiel-zz-hostile-{name}.csv");
    let mut t = join(&h, &rows[..20]);
    t.extend_from_slice(&rows[20][..30]);
    c.add(&p("truncated"), t, WIDTH);
    let no_id: Vec<u8> = String::from_utf8(join(&h, &rows[..5]))
        .unwrap()
        .replacen("Identifiant arc", "Ident arc", 1)
        .into_bytes();
    c.add(&p("missing-id-column"), no_id, MISSING_COLUMN);
    let mut bad = rows[..5].to_vec();
    bad[1] = set_field(&bad[1], 3, b"PI_Champ\xe9rret");
    c.add(&p("non-utf8"), join(&h, &bad), UTF8);
    c.add(&p("header-only"), h.clone(), EMPTY);
    // Unusable shapes and points: warnings, the rows still repeat good ones.
    let mut shapes = rows[..4].to_vec();
    shapes[0] = [&shapes[0][..nth_delim(&shapes[0], 9) + 1], b"{not json\r\n"].concat();
    shapes[1] = [
        &shapes[1][..nth_delim(&shapes[1], 9) + 1],
        b"\"{\"\"type\"\": \"\"LineString\"\", \"\"coordinates\"\": [[500, 95]]}\"\r\n",
    ]
    .concat();
    shapes[2] = set_field(&shapes[2], 8, b"NaN,inf");
    c.add(
        &p("bad-shapes"),
        join(&h, &shapes),
        &["bad_geometry", "bad_point"],
    );
}

fn chantiers(c: &mut Corpus, g: &Good) {
    let recs = records(&g.chantiers);
    let h = &recs[0];
    let col = |name: &str| h.iter().position(|f| f == name.as_bytes()).unwrap();
    let (id, start, end) = (col("Identifiant"), col("Date de début"), col("Date de fin"));
    let p = |name: &str| format!("batch/chantiers-zz-hostile-{name}.csv");
    let body = write_records(&recs[..30], csv::Terminator::Any(b'\n'));
    c.add(
        &p("truncated"),
        cut(&body, 0.5),
        &["wrong_column_count", "read_error", "unparseable_date"],
    );
    let mut no_id = vec![rec_with(h, id, b"Ident")];
    no_id.extend(recs[1..5].iter().cloned());
    c.add(
        &p("missing-id-column"),
        write_records(&no_id, csv::Terminator::Any(b'\n')),
        MISSING_COLUMN,
    );
    c.add(
        &p("header-only"),
        write_records(&recs[..1], csv::Terminator::CRLF),
        EMPTY,
    );
    let mut dates = vec![h.clone()];
    for (i, (s, e)) in [
        ("1970-01-01", "2030-01-01"),
        ("2023-05-01", "2023-04-01"),
        ("2024-02-30", "2024-03-01"),
        ("2023-01-01", "9999-99-99"),
        ("", ""),
    ]
    .iter()
    .enumerate()
    {
        dates.push(rec_with(
            &rec_with(&recs[1 + i], start, s.as_bytes()),
            end,
            e.as_bytes(),
        ));
    }
    c.add(
        &p("dates-out-of-range"),
        write_records(&dates, csv::Terminator::Any(b'\n')),
        &["unparseable_date", "date_out_of_range", "inconsistent"],
    );
    // The multi-line fields with CRLF, then a row with no id: its physical line is checked.
    let mut crlf: Vec<csv::ByteRecord> = recs[..12]
        .iter()
        .map(|r| {
            r.iter()
                .map(|f| {
                    String::from_utf8_lossy(f)
                        .replace('\n', "\r\n")
                        .into_bytes()
                })
                .collect()
        })
        .collect();
    let before = write_records(&crlf, csv::Terminator::CRLF);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(line > 13, "some fields span lines");
    assert!(before
        .windows(3)
        .any(|w| w != b"\"\r\n" && w[1..] == *b"\r\n"));
    crlf.push(rec_with(&recs[12], id, b""));
    c.add_at(
        &p("crlf-in-quotes"),
        write_records(&crlf, csv::Terminator::CRLF),
        line,
        &["missing_key"],
    );
    let mut bad = recs[..5].to_vec();
    bad[2] = rec_with(&bad[2], start, b"2023-0\xe9-01");
    c.add(
        &p("non-utf8"),
        write_records(&bad, csv::Terminator::Any(b'\n')),
        &["invalid_utf8", "unparseable_date"],
    );
    let comma: Vec<u8> = write_records(&recs[..5], csv::Terminator::Any(b'\n'))
        .iter()
        .map(|&b| if b == b';' { b',' } else { b })
        .collect();
    c.add(
        &p("comma-delimiter"),
        comma,
        &["missing_column", "wrong_column_count"],
    );
}

fn bikes(c: &mut Corpus, g: &Good) {
    let p = |name: &str| format!("api/bikes/dt=2025-12-31/zz-hostile-{name}.json");
    let page = to_bytes(&g.bikes_page);
    c.add(&p("truncated"), cut(&page, 0.6), BAD_JSON);
    let mut bad = g.bikes_page.clone();
    let r0 = bad["results"][0].clone();
    let results = bad["results"].as_array_mut().unwrap();
    for (i, v) in [json!(-3), json!("NaN"), json!(1e300), json!(2.5)]
        .into_iter()
        .enumerate()
    {
        let mut r = r0.clone();
        r["sum_counts"] = v;
        r["date"] = json!(format!("2025-12-31T0{i}:00:00+00:00"));
        results.push(r);
    }
    let mut r = r0.clone();
    r["date"] = json!("2025-12-31T25:00:00+00:00");
    results.push(r);
    let mut r = r0.clone();
    r["id_compteur"] = json!("100056038\u{0}-101056038");
    results.push(r);
    c.add(
        &p("bad-values"),
        to_bytes(&bad),
        &[
            "value_out_of_range",
            "bad_number",
            "unparseable_date",
            "missing_key",
        ],
    );
    let (h, rows) = split(&g.bikes_csv);
    let q = |name: &str| format!("batch/comptage-velo-zz-hostile-{name}.csv");
    let no_count = String::from_utf8(join(&h, &rows))
        .unwrap()
        .replacen("Comptage horaire", "Comptage", 1)
        .into_bytes();
    c.add(&q("missing-column"), no_count, MISSING_COLUMN);
    c.add(&q("header-only"), h.clone(), EMPTY);
    let mut t = join(&h, &rows[..2]);
    t.extend_from_slice(&rows[2][..25]);
    c.add(&q("truncated"), t, WIDTH);
}

fn traffic(c: &mut Corpus, g: &Good) {
    let p = |name: &str| format!("api/traffic/dt=2024-04-30/zz-hostile-{name}.json");
    c.add(&p("truncated"), cut(&to_bytes(&g.prim), 0.3), BAD_JSON);
    let mut doc = g.prim.clone();
    let d0 = doc["disruptions"][0].clone();
    let ds = doc["disruptions"].as_array_mut().unwrap();
    ds.truncate(2);
    for (i, (b, e)) in [
        ("19000101T000000", "20240601T034500"),
        ("20240417T060000", "30000101T000000"),
        ("20240601T000000", "20240417T000000"),
        ("2024-04-17", "soon"),
    ]
    .iter()
    .enumerate()
    {
        let mut d = d0.clone();
        d["id"] = json!(format!("hostile-{i}"));
        d["application_periods"] = json!([{"begin": b, "end": e}]);
        ds.push(d);
    }
    c.add(
        &p("periods-out-of-range"),
        to_bytes(&doc),
        &["unparseable_date", "date_out_of_range", "inconsistent"],
    );
    let mut doc = g.prim.clone();
    let ds = doc["disruptions"].as_array_mut().unwrap();
    ds.truncate(1);
    ds.extend([json!(1), json!("x"), json!(null), json!([])]);
    let mut deep = d0.clone();
    deep["id"] = json!("hostile-deep");
    deep["impacted_objects"] = serde_json::from_str(&nested(120, "{}")).unwrap();
    deep["application_periods"] = json!([{"begin": "x", "end": "y"}]);
    ds.push(deep);
    c.add(
        &p("not-records"),
        to_bytes(&doc),
        &["not_a_record", "unparseable_date"],
    );
}

fn weather(c: &mut Corpus, g: &Good) {
    let p = |name: &str| format!("batch/open-meteo-zz-hostile-{name}.json");
    c.add(&p("truncated"), cut(&to_bytes(&g.meteo), 0.7), BAD_JSON);
    let mut m = g.meteo.clone();
    let d = m["daily"].as_object_mut().unwrap();
    d["temperature_2m_max"][1] = json!("NaN");
    d["temperature_2m_max"][2] = json!(1e300);
    d["temperature_2m_min"][3] = json!(-500);
    d["precipitation_sum"][4] = json!(-1);
    d["time"][5] = json!("2016-13-06");
    c.add(
        &p("bad-values"),
        to_bytes(&m),
        &["bad_number", "value_out_of_range", "unparseable_date"],
    );
    // A column shorter than `time`: its last days have no maximum. Weather keeps the newest
    // file's entry of a day (a later snapshot corrects an earlier one), so this file sorts
    // before the complete one (`aa`), which stays the newest.
    let mut m = g.meteo.clone();
    m["daily"]["temperature_2m_max"]
        .as_array_mut()
        .unwrap()
        .truncate(4);
    c.add(
        "batch/open-meteo-aa-hostile-ragged-arrays.json",
        to_bytes(&m),
        &["short_array"],
    );
    let mut vc = g.gen_weather.clone();
    vc["days"][0]["tempmin"] = json!(30);
    vc["days"][0]["tempmax"] = json!(-30);
    c.add(
        "api/weather/dt=2025-10-25/hour=02/zz-hostile-inconsistent.json",
        to_bytes(&vc),
        &["inconsistent"],
    );
    let csv_pipe: Vec<u8> = g
        .meteo_csv
        .iter()
        .map(|&b| if b == b',' { b'|' } else { b })
        .collect();
    let (meta_and_header, _) = g
        .meteo_csv
        .split_at(g.meteo_csv.windows(2).position(|w| w == b"\n2").unwrap() + 1);
    c.add(
        "batch/open-meteo-zz-hostile-header-only.csv",
        meta_and_header.to_vec(),
        EMPTY,
    );
    c.add(
        "batch/open-meteo-zz-hostile-pipe.csv",
        csv_pipe,
        &["missing_column", "empty_file", "missing_key"],
    );
}

fn velib(c: &mut Corpus, g: &Good) {
    let (h, rows) = split(&g.velib_csv);
    let p = |name: &str| format!("batch/velib-zz-hostile-{name}.csv");
    let mut t = join(&h, &rows[..10]);
    t.extend_from_slice(&rows[10][..20]);
    c.add(&p("truncated"), t, WIDTH);
    c.add(&p("latin1"), latin1(&join(&h, &rows[..10])), UTF8);
    c.add(&p("header-only"), h.clone(), EMPTY);
    let extra: Vec<Vec<u8>> = rows[..6]
        .iter()
        .map(|r| [b"x;".as_slice(), r].concat())
        .collect();
    c.add(&p("extra-field"), join(&h, &extra), WIDTH);
    let mut nums = rows[..4].to_vec();
    nums[0] = set_field(&nums[0], 5, b"-3");
    nums[1] = set_field(&nums[1], 5, b"NaN");
    nums[2] = set_field(&nums[2], 10, b"2200-01-01T00:00:00+01:00");
    nums[3] = set_field(&nums[3], 0, b"16\x00107");
    c.add(
        &p("bad-values"),
        join(&h, &nums),
        &[
            "value_out_of_range",
            "bad_number",
            "date_out_of_range",
            "missing_key",
        ],
    );
    let q = |name: &str| format!("api/velib/dt=2024-11-19/hour=08/zz-hostile-{name}.json");
    c.add(
        &q("truncated"),
        cut(&to_bytes(&g.gbfs_status), 0.4),
        BAD_JSON,
    );
    let mut s = g.gbfs_status.clone();
    let st = s["data"]["stations"].as_array_mut().unwrap();
    st.truncate(3);
    st[0]["num_bikes_available"] = json!(-3);
    st[1]["num_docks_available"] = json!(1e30);
    st[2]["last_reported"] = json!(99_999_999_999u64);
    c.add(
        &q("bad-values"),
        to_bytes(&s),
        &["value_out_of_range", "bad_number", "date_out_of_range"],
    );
}

fn arrondissements(c: &mut Corpus, g: &Good) {
    let p = |name: &str| format!("batch/arrondissements-zz-hostile-{name}.geojson");
    c.add(
        &p("truncated"),
        cut(&to_bytes(&g.arrondissements), 0.5),
        BAD_JSON,
    );
    let mut a = g.arrondissements.clone();
    let f = a["features"].as_array_mut().unwrap();
    f.truncate(2);
    f[0]["geometry"]["coordinates"] = json!([[[500.0, 95.0], [1, 2], [3, 4]]]);
    f[1]["geometry"] = json!({"type": "Polygon", "coordinates": nested(100, "0")});
    c.add(&p("bad-polygons"), to_bytes(&a), &["not_a_record"]);
    c.add(
        &p("scalar"),
        "42\n",
        &["not_a_record", "missing_key", "bad_geometry"],
    );
}

/// Every file of `dir` (relative path -> bytes) under `metrics/` and `reports/`.
/// The metrics and reports of a run, but the HTML pages (they show the quality panel).
pub fn results(out: &Path) -> BTreeMap<String, Vec<u8>> {
    all_files(out)
        .into_iter()
        .filter(|(k, _)| k.starts_with("metrics/") || k.starts_with("reports/"))
        .filter(|(k, _)| !k.ends_with(".html"))
        .collect()
}

/// The reasons given for `file` by any source of the run report.
fn reasons_for(run: &Value, file: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, s) in run["totals"].as_object().unwrap() {
        if let Some(r) = s["problems_by_file"].get(file) {
            out.extend(r.as_object().unwrap().keys().cloned());
        }
    }
    out
}

#[test]
fn every_hostile_file_is_named_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let good = good_tree(&raw);

    let out_good = dir.path().join("out-good");
    let t0 = Instant::now();
    let o = process(&raw, &out_good, &["--json"]);
    let good_secs = t0.elapsed().as_secs_f64();
    let good_run = json(out_good.join("quality/quality_report_run.json"));
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let c = corpus(&good);
    assert!(c.0.len() >= 50, "only {} hostile files", c.0.len());
    for h in &c.0 {
        let p = raw.join(&h.rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &h.body).unwrap();
    }
    let out = dir.path().join("out");
    let t0 = Instant::now();
    let o = process(&raw, &out, &["--json"]);
    let secs = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["exit_code"], 1);
    eprintln!(
        "hostile corpus: {} files, good run {good_secs:.1} s, run with the corpus {secs:.1} s",
        c.0.len()
    );

    // Every hostile file is named with one of the reasons its defect calls for.
    let run = json(out.join("quality/quality_report_run.json"));
    let mut unnamed = Vec::new();
    for h in &c.0 {
        let got = reasons_for(&run, &h.rel);
        if !h.reasons.iter().any(|r| got.contains(*r)) {
            unnamed.push(format!(
                "{}: expected one of {:?}, got {:?}",
                h.rel, h.reasons, got
            ));
        }
    }
    assert!(unnamed.is_empty(), "{}", unnamed.join("\n"));
    // ... and the good files are not blamed for them.
    for (_, s) in run["totals"].as_object().unwrap() {
        if let Some(files) = s["problems_by_file"].as_object() {
            for f in files.keys() {
                assert!(
                    f.contains("-hostile-") || good_run["totals"].to_string().contains(f.as_str()),
                    "{f} is blamed"
                );
            }
        }
    }
    // The report stays small: a 50 MB field is not copied into it.
    let size = std::fs::metadata(out.join("quality/quality_report_run.json"))
        .unwrap()
        .len();
    assert!(size < 1 << 20, "quality_report_run.json is {size} bytes");

    // The same metrics and reports, byte for byte, as without the hostile files.
    let a = results(&out_good);
    let b = results(&out);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the hostile files changed the set of outputs"
    );
    for (k, v) in &a {
        if b[k] != *v {
            let (x, y) = (String::from_utf8_lossy(v), String::from_utf8_lossy(&b[k]));
            let n = x
                .lines()
                .zip(y.lines())
                .position(|(l, m)| l != m)
                .unwrap_or(0);
            let context = |t: &str| -> String {
                t.lines()
                    .skip(n.saturating_sub(12))
                    .take(16)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "{k} differs with the hostile files from line {}:\n{}\n--- with them:\n{}",
                n + 1,
                context(&x),
                context(&y)
            );
        }
    }
    // Physical lines through CRLF inside quotes: these files alone (the samples of a run are
    // the first 20 per source), each sample at its line.
    let with_lines: Vec<&Hostile> = c.0.iter().filter(|h| h.sample.is_some()).collect();
    let small = tree(
        &with_lines
            .iter()
            .map(|h| (h.rel.as_str(), h.body.clone()))
            .collect::<Vec<_>>(),
    );
    let out_small = dir.path().join("out-small");
    process(small.path(), &out_small, &[]);
    let all_samples =
        String::from_utf8(read(out_small.join("quality/quality_report_run.json"))).unwrap();
    for h in with_lines {
        let (line, reason) = h.sample.unwrap();
        let want = format!("\"{}:{line}: {reason}: ", h.rel);
        assert!(
            all_samples.contains(&want),
            "no sample {want} in {all_samples}"
        );
    }

    // Nothing lost, nothing counted twice: rows used per source are unchanged. Reference data
    // has no duplicate count (a repeated référentiel row or arrondissement adds nothing, as the
    // identical outputs show, but counts as used): there, nothing is lost.
    for (s, t) in good_run["totals"].as_object().unwrap() {
        let (used, before) = (&run["totals"][s]["rows_used"], &t["rows_used"]);
        if s == "referentiel" || s == "arrondissements" {
            assert!(used.as_u64() >= before.as_u64(), "{s}: rows used went down");
        } else {
            assert_eq!(used, before, "{s}: rows used changed");
        }
    }
}
