//! Store configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether group commits are fdatasync'ed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// fdatasync every group commit (durable; default).
    #[default]
    Fsync,
    /// Never fsync the WAL (only for throughput tests; data may be lost on crash).
    None,
}

/// Configuration of a [`crate::Store`]. Build with [`StoreConfig::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Root directory of the store (created if missing).
    pub dir: PathBuf,
    /// WAL sync policy.
    pub sync: SyncMode,
    /// Freeze and flush the memtable once it holds this many samples.
    pub memtable_max_samples: usize,
    /// Freeze and flush a non-empty memtable at least this often.
    pub flush_interval: Duration,
    /// Delete day partitions older than this (None = keep forever). Waveform captures older
    /// than this are deleted too.
    pub retention: Option<Duration>,
    /// Keep at most this many bytes of waveform captures per (asset, signal), deleting the
    /// oldest first (None = no limit).
    pub capture_max_bytes_per_channel: Option<u64>,
    /// Compact a day once it has more than this many segments (past days are compacted once they have 2).
    pub compaction_max_segments: usize,
    /// Backpressure: `submit`/`append` block while more than this many bytes are queued for the WAL writer.
    pub max_pending_bytes: usize,
    /// Maximum rows per Parquet row group.
    pub row_group_rows: usize,
    /// How often the background thread checks flush interval, compaction and retention.
    pub maintenance_interval: Duration,
    /// Run compaction automatically in the background thread.
    pub auto_compact: bool,
}

impl StoreConfig {
    /// Defaults for a store rooted at `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        StoreConfig {
            dir: dir.as_ref().to_path_buf(),
            ..StoreConfig::default()
        }
    }
    /// Sets the sync mode.
    pub fn with_sync(mut self, sync: SyncMode) -> Self {
        self.sync = sync;
        self
    }
    /// Sets the memtable size limit (samples).
    pub fn with_memtable_max_samples(mut self, n: usize) -> Self {
        self.memtable_max_samples = n.max(1);
        self
    }
    /// Sets the flush interval.
    pub fn with_flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = d;
        self
    }
    /// Sets the retention.
    pub fn with_retention(mut self, d: Option<Duration>) -> Self {
        self.retention = d;
        self
    }
    /// Sets the per-channel byte limit of the waveform captures.
    pub fn with_capture_max_bytes_per_channel(mut self, bytes: Option<u64>) -> Self {
        self.capture_max_bytes_per_channel = bytes;
        self
    }
    /// Sets the per-day segment count that triggers compaction.
    pub fn with_compaction_max_segments(mut self, n: usize) -> Self {
        self.compaction_max_segments = n.max(1);
        self
    }
    /// Enables/disables background compaction.
    pub fn with_auto_compact(mut self, on: bool) -> Self {
        self.auto_compact = on;
        self
    }
    /// Sets the row-group size.
    pub fn with_row_group_rows(mut self, n: usize) -> Self {
        self.row_group_rows = n.max(1024);
        self
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: PathBuf::from("doppel-store"),
            sync: SyncMode::Fsync,
            memtable_max_samples: 2_000_000,
            flush_interval: Duration::from_secs(60),
            retention: None,
            capture_max_bytes_per_channel: None,
            compaction_max_segments: 8,
            max_pending_bytes: 64 << 20,
            row_group_rows: 128 * 1024,
            maintenance_interval: Duration::from_secs(1),
            auto_compact: true,
        }
    }
}
