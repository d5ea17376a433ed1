#![no_main]
//! `cargo fuzz run xlsx`: see `cityflow_fuzz::xlsx`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::xlsx(data));
