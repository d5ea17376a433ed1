#![no_main]
//! `cargo fuzz run comptages_csv`: see `cityflow_fuzz::comptages_csv`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::comptages_csv(data));
