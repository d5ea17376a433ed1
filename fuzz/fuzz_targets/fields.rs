#![no_main]
//! `cargo fuzz run fields`: see `cityflow_fuzz::fields`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::fields(data));
