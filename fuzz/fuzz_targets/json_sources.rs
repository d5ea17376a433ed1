#![no_main]
//! `cargo fuzz run json_sources`: see `cityflow_fuzz::json_sources`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| cityflow_fuzz::json_sources(data));
