//! The three binaries of this crate start and describe themselves. (Their behaviour is tested
//! in the workspace's integration tests, `tests/it`; this file also makes `cargo test
//! --workspace` build them before those run.)

use std::process::Command;

#[test]
fn every_binary_prints_its_help() {
    for (bin, word) in [
        (env!("CARGO_BIN_EXE_upload"), "--dry-run"),
        (env!("CARGO_BIN_EXE_raw"), "pull"),
        (env!("CARGO_BIN_EXE_stations"), "backup"),
    ] {
        let o = Command::new(bin).arg("--help").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{bin}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(word), "{bin} --help lacks {word}:\n{text}");
    }
}
