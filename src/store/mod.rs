//! Where results go. The only code that writes outputs.

pub mod local;
pub mod mongo;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Backend, Settings};
use crate::time::Clock;

/// One output document: a path relative to the output root and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDoc {
    pub rel_path: String,
    pub body: Vec<u8>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
    /// The stored bytes were already these: nothing written.
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct StoreError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A destination for output documents.
pub trait Store: Sync {
    fn describe(&self) -> String;
    fn put(&self, doc: &OutputDoc) -> Result<Written, StoreError>;
    /// [`Store::put`] of a document the caller is done with (a store that keeps the bytes
    /// takes them instead of copying them).
    fn put_owned(&self, doc: OutputDoc) -> Result<Written, StoreError> {
        self.put(&doc)
    }
    /// Whether it writes files under the output folder (the analytics tables and HTML pages go
    /// to files whatever the backend: a store that does not gets a files store beside it).
    fn writes_files(&self) -> bool {
        false
    }
    /// Makes every `put` so far durable (called once at the end of a run); every output that
    /// could not be made durable, with why.
    fn flush(&self) -> Result<(), Vec<StoreError>> {
        Ok(())
    }
    /// Checks, before any work, that outputs can be written at all (a folder that cannot be
    /// created, a read-only or full file system).
    fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How long `process` waits for MongoDB before writing to files instead.
pub const MONGO_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The store a run writes to.
pub struct Opened {
    pub store: Box<dyn Store>,
    /// MongoDB was selected but unreachable: the results go to files (exit code 3).
    pub fell_back: bool,
}

/// Opens the store `settings` select. An unreachable MongoDB does not lose the run: it falls
/// back to files under the output folder, with a warning naming the URL (password masked).
pub fn open(settings: &Settings, clock: &Clock) -> Opened {
    let files = || Box::new(local::LocalStore::new(&settings.output));
    let Backend::Mongo { url, database } = &settings.backend else {
        return Opened {
            store: files(),
            fell_back: false,
        };
    };
    match mongo::MongoStore::connect(url, database, MONGO_CONNECT_TIMEOUT, clock.now) {
        Ok(m) => Opened {
            store: Box::new(m),
            fell_back: false,
        },
        Err(e) => {
            tracing::warn!(
                "MongoDB unreachable ({e}): writing to files under {} instead",
                settings.output.display()
            );
            Opened {
                store: files(),
                fell_back: true,
            }
        }
    }
}
