#![no_main]
//! `cargo fuzz run datetime`: see `cityflow_fuzz::datetime`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::datetime(data));
