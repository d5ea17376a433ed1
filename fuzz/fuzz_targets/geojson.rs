#![no_main]
//! `cargo fuzz run geojson`: see `cityflow_fuzz::geojson`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::geojson(data));
