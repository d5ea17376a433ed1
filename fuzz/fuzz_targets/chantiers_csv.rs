#![no_main]
//! `cargo fuzz run chantiers_csv`: see `cityflow_fuzz::chantiers_csv`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::chantiers_csv(data));
