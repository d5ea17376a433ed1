//! Where results go. The only code that writes outputs.

pub mod local;
pub mod mongo;

use std::path::PathBuf;

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
    /// Makes every `put` so far durable (called once at the end of a run).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
