//! `doppel-store`: an embedded, durable time-series + event store for the doppel digital twin.
//!
//! # Design overview
//!
//! * **Write path.** Callers hand sample/event batches to one WAL writer thread
//!   ([`Store::append`], [`Store::submit`], [`Store::append_events`]). The writer drains
//!   everything queued, encodes it into one buffer, issues one `write()` and one
//!   `fdatasync`, applies the batches to the in-memory *active memtable* and only then
//!   completes the callers (group commit). The queue is bounded
//!   ([`StoreConfig::max_pending_bytes`]); submitters block when it is full.
//! * **WAL format.** `wal/NNNNNN.wal` files, each starting with the magic `DPWAL001`,
//!   followed by records `len u32 | crc32 u32 | type u8 | body` (little endian, CRC over
//!   type+body). Types: 1 = series definition (`id u32, key`), 2 = sample batch
//!   (column-wise: n, series ids, timestamps, values, contexts), 3 = event batch
//!   (seq, ts, kind, subject, payload). On recovery, an invalid record in the *last* WAL
//!   file with no valid frame after it is a torn tail and is truncated; any other invalid
//!   record is [`StoreError::Corrupt`] naming the file and offset. Files are preallocated with
//!   zeros (1 MiB steps) and written in place, so a commit's fdatasync does not also flush a
//!   file-size change; an all-zero remainder after the last record is the clean end of a file.
//! * **Memtable / flush.** When the active memtable exceeds
//!   [`StoreConfig::memtable_max_samples`] or [`StoreConfig::flush_interval`] elapsed, the
//!   writer *freezes* it and rotates the WAL; the background thread writes it to Parquet
//!   while writes continue into a new memtable (queries read segments + frozen + active).
//!   Once the segment files are durable (written to `*.tmp`, fsynced, renamed, directory
//!   fsynced) the catalog is checkpointed and the WAL files covered by the frozen memtable
//!   are deleted.
//! * **Layout.**
//!   `series/day=YYYY-MM-DD/seg-<order>-<version>.parquet` (columns `series` dictionary
//!   Utf8 key, `ts` Timestamp(ns, UTC), `value` f64, `context` u32; sorted by (series key, ts),
//!   deduplicated; row-group statistics), `rollup/day=.../seg-<order>-<version>.parquet`
//!   (1-minute rollups: series, bucket_start, min, max, sum, count, last_value, last_ts),
//!   `events/day=.../seg-<order>-<version>.parquet` (seq, ts, kind, subject, payload) and
//!   `catalog.bin` (series keys + next event sequence, CRC protected), and
//!   `captures/{asset}/{signal}/{t0_ns}.dwc` (raw waveform captures, see [`capture`]). Each Parquet file
//!   carries a per-series row-range index in its footer key/value metadata
//!   (`doppel.index`), so a one-series query reads only the needed row groups/pages.
//! * **Ordering invariant.** Every segment has an *order*: flushes get increasing orders;
//!   a compaction of a day's segments gets the maximum order of its inputs and a higher
//!   *version* (and on open supersedes all older files of that day). For equal
//!   `(series, ts)` the source with the highest order wins, memtables beat segments and
//!   the active memtable beats the frozen one: the later write (WAL order) wins everywhere.
//! * **Rollups** are used by [`Store::query_downsampled`] only for days where exactly one
//!   segment contains the series and no memtable does, so duplicates are never counted
//!   twice; other ranges are scanned raw.
//! * **Events** are additionally kept fully in memory (they are few) with a
//!   `(kind, subject) → (ts, seq)` index for [`Store::last_event_before`].
//!
//! Ranges are half-open: `start <= ts < end`.
//!
//! Beside the store, [`audit`] is a tamper-evident, append-only audit log (a SHA-256 hash chain in a JSON
//! Lines file, fdatasynced per record) for operator and policy actions.

#![warn(missing_docs)]

pub mod audit;
pub mod capture;
pub mod registry;
mod config;
mod error;
mod memtable;
mod segment;
mod store;
/// WAL record format (public for inspection tools).
pub mod wal;

pub mod bench;

pub use audit::{AuditError, AuditInput, AuditLog, AuditRecord, VerifyReport};
pub use registry::{ModelRegistry, ModelVersion};
pub use capture::{CaptureFrame, CaptureMeta, CaptureStore};
pub use config::{StoreConfig, SyncMode};
pub use error::{Result, StoreError};
pub use store::{MAX_BUCKETS, Store};

/// Dense identifier of a registered series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u32);

/// One time-series sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Series the sample belongs to.
    pub series: SeriesId,
    /// Timestamp, ns since the Unix epoch (UTC).
    pub ts: i64,
    /// Value (NaN is rejected).
    pub value: f64,
    /// Opaque context tag, 0 = none.
    pub context: u32,
}

const _: () = assert!(std::mem::size_of::<Sample>() == 24);

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Sequence number assigned by the store (monotonically increasing, durable).
    pub seq: u64,
    /// Timestamp, ns since the Unix epoch (UTC).
    pub ts: i64,
    /// Event kind (e.g. `"alarm"`).
    pub kind: String,
    /// Asset or line id.
    pub subject: String,
    /// JSON text, opaque to the store.
    pub payload: String,
}

/// An event to append (the store assigns `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Timestamp, ns since the Unix epoch (UTC).
    pub ts: i64,
    /// Event kind.
    pub kind: String,
    /// Asset or line id.
    pub subject: String,
    /// JSON text, opaque to the store.
    pub payload: String,
}

/// Filter for [`Store::query_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Inclusive lower bound of `ts`.
    pub start: i64,
    /// Exclusive upper bound of `ts`.
    pub end: i64,
    /// Only these kinds (None = all).
    pub kinds: Option<Vec<String>>,
    /// Only this subject (None = all).
    pub subject: Option<String>,
    /// Maximum number of events returned (0 = unlimited).
    pub limit: usize,
    /// Order by (ts, seq) descending instead of ascending.
    pub latest_first: bool,
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter {
            start: i64::MIN,
            end: i64::MAX,
            kinds: None,
            subject: None,
            limit: 0,
            latest_first: false,
        }
    }
}

/// One bucket of a downsampled query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Bucket start (ns); the bucket covers `[start, start + step_ns)`.
    pub start: i64,
    /// Minimum value.
    pub min: f64,
    /// Maximum value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Value of the sample with the largest timestamp.
    pub last: f64,
    /// Number of samples.
    pub count: u64,
}

/// Result of [`Store::query_downsampled`].
#[derive(Debug, Clone, PartialEq)]
pub struct Downsampled {
    /// Bucket width in ns.
    pub step_ns: i64,
    /// Non-empty buckets, ascending by start.
    pub buckets: Vec<Bucket>,
}

/// Counters returned by [`Store::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Samples acknowledged since open (excludes WAL replay).
    pub samples_written: u64,
    /// Events acknowledged since open.
    pub events_written: u64,
    /// Group commits (WAL write + fsync) since open.
    pub group_commits: u64,
    /// Registered series.
    pub series: usize,
    /// Series segments on disk.
    pub segments: usize,
    /// Event segments on disk.
    pub event_segments: usize,
    /// Day partitions with series data.
    pub days: usize,
    /// Bytes in WAL files currently on disk.
    pub wal_bytes: u64,
    /// Samples in the active + frozen memtables.
    pub memtable_samples: usize,
    /// Flushes completed since open.
    pub flushes: u64,
    /// Compactions completed since open.
    pub compactions: u64,
    /// Events held in the in-memory event index.
    pub events_indexed: usize,
}

/// Nanoseconds per day.
pub const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// Nanoseconds per minute (rollup resolution).
pub const MINUTE_NS: i64 = 60 * 1_000_000_000;

/// Day number (days since 1970-01-01) of a timestamp.
pub(crate) fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_NS)
}

/// Formats a day number as `YYYY-MM-DD` (proleptic Gregorian, UTC).
pub(crate) fn day_string(day: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` back into a day number.
pub(crate) fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_round_trip() {
        for day in [-700_000, -1, 0, 1, 20_000, 20_417, 400_000] {
            assert_eq!(parse_day(&day_string(day)), Some(day), "{}", day_string(day));
        }
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_417), "2025-11-25");
    }
}
