#![no_main]
//! `cargo fuzz run bikes_csv`: see `cityflow_fuzz::bikes_csv`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::bikes_csv(data));
