//! Error type of the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Result alias used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Every error the store can return.
///
/// The type is `Clone` because one failed group commit is reported to every
/// caller whose batch was part of the group.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory the operation was about.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The device holding `path` is full (ENOSPC / EDQUOT).
    #[error("disk full while writing {path}: {source}")]
    DiskFull {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// On-disk data is corrupt (not a torn tail of the WAL, which is repaired).
    #[error("corrupt data in {path} at byte offset {offset}: {reason}")]
    Corrupt {
        /// File containing the corruption.
        path: PathBuf,
        /// Byte offset (or row number for Parquet content) of the problem.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The series id was never registered.
    #[error("unknown series id {0}")]
    UnknownSeries(u32),
    /// The store is closed (or shutting down).
    #[error("store is closed")]
    Closed,
    /// A caller-supplied argument is invalid.
    #[error("invalid argument `{field}`: {reason}")]
    InvalidArgument {
        /// Name of the offending argument or field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The Parquet/Arrow layer failed while handling `path`.
    #[error("parquet error on {path}: {message}")]
    Parquet {
        /// Segment file concerned.
        path: PathBuf,
        /// Error text from the parquet/arrow crates.
        message: String,
    },
    /// An earlier WAL write failed; the store refuses further writes until reopened.
    #[error("store failed earlier and is read-only until reopened: {0}")]
    Poisoned(String),
    /// PostgreSQL benchmark could not run (missing binaries, failed to start, ...).
    #[error("postgres benchmark: {0}")]
    Postgres(String),
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns, mapping ENOSPC/EDQUOT to [`StoreError::DiskFull`].
    pub fn io(path: impl AsRef<Path>, err: std::io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        let full =
            matches!(err.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) || matches!(err.raw_os_error(), Some(28) | Some(122));
        if full {
            StoreError::DiskFull { path, source: Arc::new(err) }
        } else {
            StoreError::Io { path, source: Arc::new(err) }
        }
    }

    pub(crate) fn parquet(path: impl AsRef<Path>, err: impl std::fmt::Display) -> Self {
        StoreError::Parquet {
            path: path.as_ref().to_path_buf(),
            message: err.to_string(),
        }
    }

    pub(crate) fn corrupt(path: impl AsRef<Path>, offset: u64, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            path: path.as_ref().to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::InvalidArgument { field, reason: reason.into() }
    }
}

/// Extension to attach a path to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| StoreError::io(path, e))
    }
}
