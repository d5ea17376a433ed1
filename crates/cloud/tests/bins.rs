//! The three binaries of this crate start and describe themselves, and take the same AWS flags.
//! (Their behaviour is tested in the workspace's integration tests, `tests/it`; this file also
//! makes `cargo test --workspace` build them before those run.)

use std::process::Command;
use std::time::{Duration, Instant};

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

#[test]
fn every_tool_takes_the_same_aws_flags() {
    for (bin, sub) in [
        (env!("CARGO_BIN_EXE_upload"), &[][..]),
        (env!("CARGO_BIN_EXE_raw"), &["pull"][..]),
        (env!("CARGO_BIN_EXE_raw"), &["push"][..]),
        (env!("CARGO_BIN_EXE_stations"), &["backup"][..]),
        (env!("CARGO_BIN_EXE_stations"), &["restore"][..]),
    ] {
        let o = Command::new(bin).args(sub).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        for flag in [
            "--region",
            "--endpoint-url",
            "--s3-endpoint-url",
            "--no-path-style",
            "--s3-checksums",
            "--connect-timeout",
            "--read-timeout",
            "--operation-timeout",
            "CITYFLOW_READ_TIMEOUT",
        ] {
            assert!(
                text.contains(flag),
                "{bin} {sub:?} --help lacks {flag}:\n{text}"
            );
        }
    }
}

/// An endpoint that accepts connections and never answers: the run ends within the
/// configured timeouts, as "unreachable" (exit 3), never a hang.
#[test]
fn a_silent_endpoint_is_unreachable_within_the_timeouts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_raw"))
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "key")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CITYFLOW_READ_TIMEOUT", "300ms")
        .args(["pull", "--bucket", "b", "--s3-endpoint-url", &url])
        .args(["--operation-timeout", "1s", "--raw"])
        .arg(dir.path())
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(took < Duration::from_secs(8), "{took:?}: {err}");
}
