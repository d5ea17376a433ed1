//! Integration tests: one binary, one module per concern. They run the real `process` binary on
//! raw trees built in temporary folders (from fixtures, the generator, or the real public files
//! read from `../shared/data/real`, never copied into the repo).

mod support;

mod analytics;
mod analytics_upload;
mod bad_input;
mod cli;
mod deploy;
mod determinism;
mod fault_matrix;
mod faults;
mod fixture_tree;
mod formats;
mod fuzz_replay;
mod hardening;
mod hostile;
mod kill;
mod mongo;
mod operator;
mod paths;
mod proxy;
mod real_data;
mod real_variants;
mod remote;
mod secrets;
mod shard_plan;
mod shards;
mod source_bikes;
mod source_chantiers;
mod source_traffic;
mod source_velib;
mod source_weather;
mod stations;
mod transfer;
mod upload;
