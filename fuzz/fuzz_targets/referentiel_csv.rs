#![no_main]
//! `cargo fuzz run referentiel_csv`: see `cityflow_fuzz::referentiel_csv`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::referentiel_csv(data));
