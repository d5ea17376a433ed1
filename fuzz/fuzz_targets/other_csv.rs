#![no_main]
//! `cargo fuzz run other_csv`: see `cityflow_fuzz::other_csv`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::other_csv(data));
