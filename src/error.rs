//! Errors that stop a run, and the exit codes.

use std::path::PathBuf;

/// Documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything read was used; every output written.
    Clean = 0,
    /// Finished, but some input was rejected or a source/file failed (see the quality report).
    Unclean = 1,
    /// Usage or configuration error: nothing was processed.
    Usage = 2,
    /// A backend (database, remote store) was unreachable.
    Backend = 3,
    /// Some output could not be written.
    Output = 4,
    /// Nothing to process: no input file recognised, or no row of a dated dataset in the
    /// selected days.
    NoData = 5,
    /// Stopped by SIGINT (Ctrl-C): 128 + 2.
    Interrupted = 130,
    /// Stopped by SIGTERM: 128 + 15.
    Terminated = 143,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("cannot read the raw tree {path}: {source}")]
    RawTree {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
    #[error("cannot write under {path}: {source}; nothing was read (check --output / OUTPUT_DIR, its permissions and free space)")]
    Unwritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Config(_) | Error::RawTree { .. } => Exit::Usage,
            Error::Threads(_) | Error::Unwritable { .. } => Exit::Output,
        }
    }
}
