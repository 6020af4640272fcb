//! The store: writer thread (group commit), background flusher/compactor, queries.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::capture::CaptureStore;
use crate::config::{StoreConfig, SyncMode};
use crate::error::{IoContext, Result, StoreError};
use crate::memtable::{MemPoint, Memtable, sort_dedup_last};
use crate::segment::{
    Kind, ParquetFile, RollupRow, RollupWriter, SeriesWriter, ensure_dir, minute_rollups, parse_seg_name, remove_tmp_files, seg_name, write_events,
};
use crate::wal::{self, WalRecord, WalWriter, sync_dir};
use crate::{Bucket, DAY_NS, Downsampled, Event, EventFilter, MINUTE_NS, NewEvent, Sample, SeriesId, StoreStats, day_of, day_string, parse_day};

type Done = Box<dyn FnOnce(Result<()>) + Send>;

/// Largest `max_buckets` accepted by [`Store::query_downsampled`].
pub const MAX_BUCKETS: usize = 1 << 20;

const CATALOG_MAGIC: &[u8; 8] = b"DPCAT001";

/// Least time between two capture retention passes of the background thread.
const CAPTURE_RETENTION_INTERVAL: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct Catalog {
    keys: Vec<String>,
    by_key: HashMap<String, u32>,
}

impl Catalog {
    fn add(&mut self, key: String) -> u32 {
        let id = self.keys.len() as u32;
        self.by_key.insert(key.clone(), id);
        self.keys.push(key);
        id
    }
}

enum Item {
    Samples(Vec<Sample>, Done),
    Events(Vec<Event>, Done),
    SeriesDef(u32, String, Done),
    /// Flush barrier: completed once everything queued before it is in a durable segment.
    Freeze(Done),
}

impl Item {
    fn bytes(&self) -> usize {
        match self {
            Item::Samples(s, _) => s.len() * 24 + 16,
            Item::Events(e, _) => e.iter().map(|e| 32 + e.kind.len() + e.subject.len() + e.payload.len()).sum::<usize>(),
            Item::SeriesDef(_, k, _) => k.len() + 16,
            Item::Freeze(_) => 0,
        }
    }
}

struct Queue {
    items: VecDeque<Item>,
    pending_bytes: usize,
    closed: bool,
    next_seq: u64,
}

/// A segment (series data + optional rollup).
#[derive(Debug)]
struct Segment {
    order: u64,
    version: u32,
    data: ParquetFile,
    rollup: Option<ParquetFile>,
}

/// An events segment file.
#[derive(Debug)]
struct EventSeg {
    order: u64,
    version: u32,
    file: ParquetFile,
}

/// Whether segment `(o, v)` is superseded by a compaction output among `files` (same day):
/// a compacted file `(o2, v2 > 0)` replaces every file with `o <= o2` and a lower version.
fn is_superseded(files: &[(u64, u32)], o: u64, v: u32) -> bool {
    files.iter().any(|&(o2, v2)| v2 > 0 && (o2, v2) != (o, v) && o <= o2 && v < v2)
}

#[derive(Debug, Default)]
struct EventIndex {
    by_seq: BTreeMap<u64, Event>,
    by_ts: BTreeSet<(i64, u64)>,
    by_key: HashMap<(String, String), BTreeSet<(i64, u64)>>,
}

impl EventIndex {
    fn insert(&mut self, e: Event) {
        if self.by_seq.contains_key(&e.seq) {
            return;
        }
        self.by_ts.insert((e.ts, e.seq));
        self.by_key.entry((e.kind.clone(), e.subject.clone())).or_default().insert((e.ts, e.seq));
        self.by_seq.insert(e.seq, e);
    }

    fn remove_before(&mut self, ts: i64) {
        let old: Vec<(i64, u64)> = self.by_ts.range(..(ts, 0)).copied().collect();
        for (t, seq) in old {
            self.by_ts.remove(&(t, seq));
            if let Some(e) = self.by_seq.remove(&seq) {
                let key = (e.kind, e.subject);
                if let Some(set) = self.by_key.get_mut(&key) {
                    set.remove(&(t, seq));
                    if set.is_empty() {
                        self.by_key.remove(&key);
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Tables {
    /// Series segments per day, ascending by (order, version).
    days: BTreeMap<i64, Vec<Arc<Segment>>>,
    event_days: BTreeMap<i64, Vec<Arc<EventSeg>>>,
    frozen: Option<Arc<Memtable>>,
    events: EventIndex,
}

struct FlushJob {
    mem: Arc<Memtable>,
    /// WAL files with number <= this are covered by `mem` (and everything before).
    covered_wal: u64,
    waiters: Vec<Done>,
}

#[derive(Default)]
struct FlushCtl {
    job: Option<FlushJob>,
    shutdown: bool,
}

#[derive(Default)]
struct Counters {
    samples: AtomicU64,
    events: AtomicU64,
    commits: AtomicU64,
    flushes: AtomicU64,
    compactions: AtomicU64,
}

struct Inner {
    cfg: StoreConfig,
    wal_dir: PathBuf,
    catalog: RwLock<Catalog>,
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    space_cv: Condvar,
    tables: RwLock<Tables>,
    active: Mutex<Memtable>,
    flush: Mutex<FlushCtl>,
    flush_cv: Condvar,
    /// Serialises flush, compaction and retention (they change the segment set).
    maint: Mutex<()>,
    next_order: AtomicU64,
    failed: Mutex<Option<String>>,
    closed: AtomicBool,
    counters: Counters,
    /// Raw waveform captures below `captures/`.
    captures: CaptureStore,
    /// Held (flock) for the lifetime of the store: one process per directory.
    _lock: File,
}

/// The embedded time-series + event store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Store {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.inner.cfg.dir).finish_non_exhaustive()
    }
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

fn kind_dir(root: &Path, kind: Kind, day: i64) -> PathBuf {
    root.join(kind.dir_name()).join(format!("day={}", day_string(day)))
}

/// Lists `(day, order, version, path)` of the segment files below `root/<kind>`.
fn list_segment_files(root: &Path, kind: Kind) -> Result<Vec<(i64, u64, u32, PathBuf)>> {
    let base = root.join(kind.dir_name());
    let mut out = Vec::new();
    if !base.exists() {
        return Ok(out);
    }
    for ent in std::fs::read_dir(&base).at(&base)? {
        let ent = ent.at(&base)?;
        let name = ent.file_name();
        let Some(day) = name.to_str().and_then(|n| n.strip_prefix("day=")).and_then(parse_day) else {
            continue;
        };
        let ddir = ent.path();
        for f in std::fs::read_dir(&ddir).at(&ddir)? {
            let f = f.at(&ddir)?;
            let fname = f.file_name();
            if let Some((order, version)) = fname.to_str().and_then(parse_seg_name) {
                out.push((day, order, version, f.path()));
            }
        }
    }
    out.sort_by_key(|(d, o, v, _)| (*d, *o, *v));
    Ok(out)
}

fn remove_file_if_exists(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(p, e)),
    }
}

fn write_catalog(dir: &Path, keys: &[String], next_seq: u64) -> Result<()> {
    let mut buf = CATALOG_MAGIC.to_vec();
    buf.extend_from_slice(&next_seq.to_le_bytes());
    buf.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    for k in keys {
        buf.extend_from_slice(&(k.len() as u32).to_le_bytes());
        buf.extend_from_slice(k.as_bytes());
    }
    let crc = crc32fast::hash(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("catalog.bin.tmp");
    let path = dir.join("catalog.bin");
    let mut f = File::create(&tmp).at(&tmp)?;
    f.write_all(&buf).at(&tmp)?;
    f.sync_all().at(&tmp)?;
    drop(f);
    std::fs::rename(&tmp, &path).at(&path)?;
    sync_dir(dir)
}

fn read_catalog(dir: &Path) -> Result<(Vec<String>, u64)> {
    let path = dir.join("catalog.bin");
    if !path.exists() {
        return Ok((Vec::new(), 1));
    }
    let data = std::fs::read(&path).at(&path)?;
    let bad = |off: usize, why: &str| StoreError::corrupt(&path, off as u64, why.to_string());
    if data.len() < 24 || &data[..8] != CATALOG_MAGIC {
        return Err(bad(0, "bad catalog header"));
    }
    let body = &data[..data.len() - 4];
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&data[data.len() - 4..]);
    if crc32fast::hash(body) != u32::from_le_bytes(crc) {
        return Err(bad(data.len() - 4, "catalog CRC mismatch"));
    }
    let mut pos = 8;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = body.get(pos..pos + n).ok_or_else(|| bad(pos, "catalog truncated"))?;
        pos += n;
        Ok(s)
    };
    let mut b8 = [0u8; 8];
    b8.copy_from_slice(take(8)?);
    let next_seq = u64::from_le_bytes(b8);
    let mut b4 = [0u8; 4];
    b4.copy_from_slice(take(4)?);
    let n = u32::from_le_bytes(b4) as usize;
    let mut keys = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        b4.copy_from_slice(take(4)?);
        let l = u32::from_le_bytes(b4) as usize;
        let k = take(l)?;
        keys.push(String::from_utf8(k.to_vec()).map_err(|_| bad(0, "catalog key is not UTF-8"))?);
    }
    Ok((keys, next_seq))
}

impl Store {
    /// Opens (or creates) the store in `cfg.dir`: loads the catalog and segment indexes,
    /// repairs a torn WAL tail, replays the WAL into the memtable and starts the writer and
    /// background threads.
    pub fn open(cfg: StoreConfig) -> Result<Store> {
        if cfg.memtable_max_samples == 0 {
            return Err(StoreError::invalid("memtable_max_samples", "must be > 0"));
        }
        let root = cfg.dir.clone();
        std::fs::create_dir_all(&root).at(&root)?;
        let lock_path = root.join("LOCK");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .at(&lock_path)?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::invalid("dir", format!("{} is already opened by another Store", root.display())));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io(&lock_path, e)),
        }
        let wal_dir = root.join("wal");
        for d in [wal_dir.clone(), root.join("series"), root.join("rollup"), root.join("events")] {
            ensure_dir(&d)?;
        }
        for k in [Kind::Series, Kind::Rollup, Kind::Events] {
            remove_tmp_files(&root.join(k.dir_name()))?;
        }
        remove_file_if_exists(&root.join("catalog.bin.tmp"))?;
        let captures = CaptureStore::open(root.join("captures"))?;

        let (keys, mut next_seq) = read_catalog(&root)?;
        let mut catalog = Catalog::default();
        for k in keys {
            catalog.add(k);
        }

        // Segments; drop files superseded by a compaction that crashed before cleanup.
        let mut max_order = 0u64;
        let series_files = list_segment_files(&root, Kind::Series)?;
        let rollup_files = list_segment_files(&root, Kind::Rollup)?;
        let mut by_day: BTreeMap<i64, Vec<(u64, u32, PathBuf)>> = BTreeMap::new();
        for (d, o, v, p) in series_files {
            by_day.entry(d).or_default().push((o, v, p));
        }
        let mut tables = Tables::default();
        for (day, files) in by_day {
            let mut keep: Vec<(u64, u32, PathBuf)> = Vec::new();
            for (o, v, p) in &files {
                let ov: Vec<(u64, u32)> = files.iter().map(|(o, v, _)| (*o, *v)).collect();
                if is_superseded(&ov, *o, *v) {
                    remove_file_if_exists(p)?;
                    remove_file_if_exists(&kind_dir(&root, Kind::Rollup, day).join(seg_name(*o, *v)))?;
                } else {
                    keep.push((*o, *v, p.clone()));
                }
            }
            let mut segs = Vec::new();
            for (o, v, p) in keep {
                max_order = max_order.max(o);
                let data = ParquetFile::open(&p)?;
                let rp = kind_dir(&root, Kind::Rollup, day).join(seg_name(o, v));
                let rollup = if rp.exists() { ParquetFile::open(&rp).ok() } else { None };
                segs.push(Arc::new(Segment {
                    order: o,
                    version: v,
                    data,
                    rollup,
                }));
            }
            if !segs.is_empty() {
                tables.days.insert(day, segs);
            }
        }
        for (day, o, v, p) in rollup_files {
            let sp = kind_dir(&root, Kind::Series, day).join(seg_name(o, v));
            if !sp.exists() {
                remove_file_if_exists(&p)?;
            }
        }
        let event_files = list_segment_files(&root, Kind::Events)?;
        for (day, o, v, p) in &event_files {
            let ov: Vec<(u64, u32)> = event_files.iter().filter(|f| f.0 == *day).map(|f| (f.1, f.2)).collect();
            if is_superseded(&ov, *o, *v) {
                remove_file_if_exists(p)?;
                continue;
            }
            max_order = max_order.max(*o);
            let file = ParquetFile::open(p)?;
            let mut evs = Vec::new();
            file.read_events(&mut evs)?;
            for e in evs {
                next_seq = next_seq.max(e.seq + 1);
                tables.events.insert(e);
            }
            tables
                .event_days
                .entry(*day)
                .or_default()
                .push(Arc::new(EventSeg { order: *o, version: *v, file }));
        }

        // WAL replay.
        let mut mem = Memtable::new();
        let wal_files = wal::list_wal_files(&wal_dir)?;
        for (i, n) in wal_files.iter().enumerate() {
            let path = wal::wal_path(&wal_dir, *n);
            let contents = wal::read_wal_file(&path, i + 1 == wal_files.len(), true)?;
            for (ri, rec) in contents.records.into_iter().enumerate() {
                match rec {
                    WalRecord::SeriesDef { id, key } => {
                        let len = catalog.keys.len() as u32;
                        if id == len {
                            catalog.add(key);
                        } else if id > len || catalog.keys[id as usize] != key {
                            return Err(StoreError::corrupt(
                                &path,
                                0,
                                format!("record {ri}: series definition {id}={key:?} conflicts with catalog"),
                            ));
                        }
                    }
                    WalRecord::Samples(s) => {
                        if let Some(bad) = s.iter().find(|s| s.series.0 as usize >= catalog.keys.len()) {
                            return Err(StoreError::corrupt(
                                &path,
                                0,
                                format!("record {ri}: sample for undefined series {}", bad.series.0),
                            ));
                        }
                        mem.insert(&s);
                    }
                    WalRecord::Events(evs) => {
                        let fresh: Vec<Event> = evs.into_iter().filter(|e| !tables.events.by_seq.contains_key(&e.seq)).collect();
                        for e in &fresh {
                            next_seq = next_seq.max(e.seq + 1);
                            tables.events.insert(e.clone());
                        }
                        mem.insert_events(&fresh);
                    }
                }
            }
        }
        let wal_writer = WalWriter::create(&wal_dir, wal_files.last().copied().unwrap_or(0) + 1)?;

        let inner = Arc::new(Inner {
            cfg,
            wal_dir,
            catalog: RwLock::new(catalog),
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                pending_bytes: 0,
                closed: false,
                next_seq,
            }),
            queue_cv: Condvar::new(),
            space_cv: Condvar::new(),
            tables: RwLock::new(tables),
            active: Mutex::new(mem),
            flush: Mutex::new(FlushCtl::default()),
            flush_cv: Condvar::new(),
            maint: Mutex::new(()),
            next_order: AtomicU64::new(max_order + 1),
            failed: Mutex::new(None),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
            captures,
            _lock: lock_file,
        });
        let w = inner.clone();
        let writer = std::thread::Builder::new()
            .name("doppel-store-wal".into())
            .spawn(move || w.writer_loop(wal_writer))
            .map_err(|e| StoreError::io(&inner.cfg.dir, e))?;
        let b = inner.clone();
        let bg = std::thread::Builder::new()
            .name("doppel-store-bg".into())
            .spawn(move || b.background_loop())
            .map_err(|e| StoreError::io(&inner.cfg.dir, e))?;
        Ok(Store {
            inner,
            threads: Mutex::new(vec![writer, bg]),
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.cfg
    }

    /// The raw waveform captures kept below `{dir}/captures`.
    pub fn captures(&self) -> &CaptureStore {
        &self.inner.captures
    }

    /// Registers `key` (idempotent) and returns its id; durable when this returns Ok.
    pub fn register_series(&self, key: &str) -> Result<SeriesId> {
        if key.is_empty() {
            return Err(StoreError::invalid("key", "series key must not be empty"));
        }
        if let Some(&id) = read(&self.inner.catalog).by_key.get(key) {
            return Ok(SeriesId(id));
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let id = {
            let mut cat = write(&self.inner.catalog);
            if let Some(&id) = cat.by_key.get(key) {
                return Ok(SeriesId(id));
            }
            let id = cat.keys.len() as u32;
            // Enqueue while holding the catalog lock: nobody can use the id before the
            // definition is queued, so the definition precedes its samples in the WAL.
            let done: Done = Box::new(move |r| {
                let _ = tx.send(r);
            });
            self.inner.enqueue(Item::SeriesDef(id, key.to_string(), done))?;
            cat.add(key.to_string());
            id
        };
        rx.recv().map_err(|_| StoreError::Closed)??;
        Ok(SeriesId(id))
    }

    /// Key of a registered series.
    pub fn series_key(&self, id: SeriesId) -> Option<String> {
        read(&self.inner.catalog).keys.get(id.0 as usize).cloned()
    }

    /// Id of a registered key.
    pub fn series_id(&self, key: &str) -> Option<SeriesId> {
        read(&self.inner.catalog).by_key.get(key).map(|&i| SeriesId(i))
    }

    /// All registered series, ordered by id.
    pub fn list_series(&self) -> Vec<(SeriesId, String)> {
        read(&self.inner.catalog)
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (SeriesId(i as u32), k.clone()))
            .collect()
    }

    fn validate(&self, samples: &[Sample]) -> Result<()> {
        let n = read(&self.inner.catalog).keys.len();
        for s in samples {
            if s.series.0 as usize >= n {
                return Err(StoreError::UnknownSeries(s.series.0));
            }
            if s.value.is_nan() {
                return Err(StoreError::invalid("value", format!("NaN for series {} at ts {}", s.series.0, s.ts)));
            }
        }
        Ok(())
    }

    /// Appends samples; blocks until they are durable (fsynced in the WAL, unless `SyncMode::None`).
    pub fn append(&self, samples: &[Sample]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(
            samples.to_vec(),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Queues samples without waiting; `done` is called from the writer thread after the
    /// fsync covering the batch (or with the error). Blocks only for backpressure when more
    /// than [`StoreConfig::max_pending_bytes`] are queued.
    pub fn submit(&self, samples: Vec<Sample>, done: Box<dyn FnOnce(Result<(), StoreError>) + Send>) {
        if let Err(e) = self.validate(&samples) {
            done(Err(e));
            return;
        }
        if let Err(e) = self.inner.enqueue(Item::Samples(samples, done)) {
            // enqueue consumed the callback only on success; on error it was already called.
            let _ = e;
        }
    }

    /// Appends events, assigning sequence numbers; blocks until durable; returns the seqs.
    pub fn append_events(&self, events: Vec<NewEvent>) -> Result<Vec<u64>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let done: Done = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let seqs = self.inner.enqueue_events(events, done)?;
        rx.recv().map_err(|_| StoreError::Closed)??;
        Ok(seqs)
    }

    /// Events matching `filter`, ordered by (ts, seq) (descending when `latest_first`).
    pub fn query_events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        if filter.start >= filter.end {
            return Ok(Vec::new());
        }
        let t = read(&self.inner.tables);
        let ix = &t.events;
        let matches = |e: &&Event| filter.kinds.as_ref().is_none_or(|ks| ks.contains(&e.kind)) && filter.subject.as_ref().is_none_or(|s| *s == e.subject);
        let limit = if filter.limit == 0 { usize::MAX } else { filter.limit };
        let range = ix.by_ts.range((filter.start, 0)..(filter.end, 0));
        let lookup = |&(_, seq): &(i64, u64)| ix.by_seq.get(&seq);
        let out: Vec<Event> = if filter.latest_first {
            range.rev().filter_map(lookup).filter(matches).take(limit).cloned().collect()
        } else {
            range.filter_map(lookup).filter(matches).take(limit).cloned().collect()
        };
        Ok(out)
    }

    /// Latest event of `kind` and `subject` with `event.ts <= ts` (ties: highest seq).
    pub fn last_event_before(&self, kind: &str, subject: &str, ts: i64) -> Option<Event> {
        let t = read(&self.inner.tables);
        let set = t.events.by_key.get(&(kind.to_string(), subject.to_string()))?;
        let &(_, seq) = set.range(..=(ts, u64::MAX)).next_back()?;
        t.events.by_seq.get(&seq).cloned()
    }

    fn check_series(&self, series: SeriesId) -> Result<()> {
        if (series.0 as usize) < read(&self.inner.catalog).keys.len() {
            Ok(())
        } else {
            Err(StoreError::UnknownSeries(series.0))
        }
    }

    /// Raw samples of `series` with `start <= ts < end`, sorted, deduplicated (later write wins).
    pub fn query_raw(&self, series: SeriesId, start: i64, end: i64) -> Result<Vec<(i64, f64)>> {
        self.check_series(series)?;
        let pts = self.query_points(series, start, end)?;
        Ok(pts.into_iter().map(|p| (p.ts, p.value)).collect())
    }

    /// Like [`Store::query_raw`] but also returns the context tag: `(ts, value, context)`.
    pub fn query_raw_with_context(&self, series: SeriesId, start: i64, end: i64) -> Result<Vec<(i64, f64, u32)>> {
        self.check_series(series)?;
        let pts = self.query_points(series, start, end)?;
        Ok(pts.into_iter().map(|p| (p.ts, p.value, p.context)).collect())
    }

    fn query_points(&self, series: SeriesId, start: i64, end: i64) -> Result<Vec<MemPoint>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let t = read(&self.inner.tables);
        let mut out = Vec::new();
        for segs in t.days.range(day_of(start)..=day_of(end - 1)).map(|(_, s)| s) {
            for s in segs {
                s.data.read_points(series.0, start, end, &mut out)?;
            }
        }
        if let Some(f) = &t.frozen {
            f.collect(series.0, start, end, &mut out);
        }
        lock(&self.inner.active).collect(series.0, start, end, &mut out);
        drop(t);
        sort_dedup_last(&mut out);
        Ok(out)
    }

    /// Latest sample (largest ts) of `series`.
    pub fn latest(&self, series: SeriesId) -> Result<Option<(i64, f64)>> {
        self.check_series(series)?;
        let mut best: Option<i64> = None;
        {
            let t = read(&self.inner.tables);
            for segs in t.days.values().rev() {
                let m = segs.iter().filter_map(|s| s.data.index.get(&series.0)).map(|e| e.max_ts).max();
                if m.is_some() {
                    best = m;
                    break;
                }
            }
            if let Some(p) = t.frozen.as_ref().and_then(|f| f.latest(series.0)) {
                best = Some(best.map_or(p.ts, |b| b.max(p.ts)));
            }
            if let Some(p) = lock(&self.inner.active).latest(series.0) {
                best = Some(best.map_or(p.ts, |b| b.max(p.ts)));
            }
        }
        let Some(ts) = best else { return Ok(None) };
        let pts = self.query_points(series, ts, ts.saturating_add(1))?;
        Ok(pts.last().map(|p| (p.ts, p.value)))
    }

    /// Downsamples `series` over `[start, end)` into at most `max_buckets` buckets (empty
    /// buckets omitted). Steps of 60 s or more are snapped to a multiple of 60 s with buckets
    /// aligned to whole minutes, and 1-minute rollups are used for days where exactly one
    /// segment (and no memtable) holds the series.
    pub fn query_downsampled(&self, series: SeriesId, start: i64, end: i64, max_buckets: usize) -> Result<Downsampled> {
        self.check_series(series)?;
        if max_buckets == 0 || max_buckets > MAX_BUCKETS {
            return Err(StoreError::invalid("max_buckets", format!("must be in 1..={MAX_BUCKETS}")));
        }
        if start >= end {
            return Err(StoreError::invalid("end", "must be greater than start"));
        }
        let (origin, step) = bucket_plan(start, end, max_buckets);
        let mut acc = Accumulator::new(origin, step, max_buckets);
        if step % MINUTE_NS != 0 {
            for p in self.query_points(series, start, end)? {
                acc.add_point(p.ts, p.value);
            }
            return Ok(acc.finish());
        }
        let sid = series.0;
        let t = read(&self.inner.tables);
        let mut mem = Vec::new();
        if let Some(f) = &t.frozen {
            f.collect(sid, start, end, &mut mem);
        }
        lock(&self.inner.active).collect(sid, start, end, &mut mem);
        sort_dedup_last(&mut mem);
        let mut raw = Vec::new();
        let mut rolls = Vec::new();
        for day in day_of(start)..=day_of(end - 1) {
            let ds = start.max(day * DAY_NS);
            let de = end.min((day + 1).saturating_mul(DAY_NS));
            let lo = mem.partition_point(|p| p.ts < ds);
            let hi = mem.partition_point(|p| p.ts < de);
            let day_mem = &mem[lo..hi];
            let segs: Vec<&Arc<Segment>> = t
                .days
                .get(&day)
                .map(|v| {
                    v.iter()
                        .filter(|s| s.data.index.get(&sid).is_some_and(|e| e.max_ts >= ds && e.min_ts < de))
                        .collect()
                })
                .unwrap_or_default();
            let rs = ceil_to(ds, MINUTE_NS);
            let re = floor_to(de, MINUTE_NS);
            if let ([seg], true, true) = (segs.as_slice(), day_mem.is_empty(), rs < re)
                && let Some(r) = &seg.rollup
            {
                rolls.clear();
                r.read_rollups(sid, rs, re, &mut rolls)?;
                for row in &rolls {
                    acc.add_rollup(row);
                }
                raw.clear();
                seg.data.read_points(sid, ds, rs, &mut raw)?;
                seg.data.read_points(sid, re, de, &mut raw)?;
                for p in &raw {
                    acc.add_point(p.ts, p.value);
                }
            } else {
                raw.clear();
                for s in &segs {
                    s.data.read_points(sid, ds, de, &mut raw)?;
                }
                raw.extend_from_slice(day_mem);
                sort_dedup_last(&mut raw);
                for p in &raw {
                    acc.add_point(p.ts, p.value);
                }
            }
        }
        Ok(acc.finish())
    }

    /// Counters and sizes.
    pub fn stats(&self) -> StoreStats {
        let inner = &self.inner;
        let t = read(&inner.tables);
        let mut wal_bytes = 0;
        if let Ok(rd) = std::fs::read_dir(&inner.wal_dir) {
            for e in rd.flatten() {
                wal_bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        let memtable_samples = t.frozen.as_ref().map_or(0, |f| f.samples) + lock(&inner.active).samples;
        StoreStats {
            samples_written: inner.counters.samples.load(Ordering::Relaxed),
            events_written: inner.counters.events.load(Ordering::Relaxed),
            group_commits: inner.counters.commits.load(Ordering::Relaxed),
            series: read(&inner.catalog).keys.len(),
            segments: t.days.values().map(|v| v.len()).sum(),
            event_segments: t.event_days.values().map(|v| v.len()).sum(),
            days: t.days.len(),
            wal_bytes,
            memtable_samples,
            flushes: inner.counters.flushes.load(Ordering::Relaxed),
            compactions: inner.counters.compactions.load(Ordering::Relaxed),
            events_indexed: t.events.by_seq.len(),
        }
    }

    /// Blocks until everything appended before this call is in durable Parquet segments
    /// (and the covered WAL files are deleted).
    pub fn flush_now(&self) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel(1);
        let done: Done = Box::new(move |r| {
            let _ = tx.send(r);
        });
        self.inner.enqueue(Item::Freeze(done))?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Compacts every day partition that has more than one segment (blocking).
    pub fn compact_now(&self) -> Result<usize> {
        let _g = lock(&self.inner.maint);
        self.inner.compact(|_, n| n > 1)
    }

    /// Deletes whole day partitions that ended before `now_ns - retention`. Returns the
    /// number of day partitions removed (0 when no retention is configured). Also applies
    /// retention to the waveform captures: those older than `retention` and, per channel,
    /// the oldest beyond [`StoreConfig::capture_max_bytes_per_channel`].
    pub fn enforce_retention(&self, now_ns: i64) -> Result<usize> {
        let _g = lock(&self.inner.maint);
        self.inner.enforce_retention(now_ns)
    }

    /// Stops the writer and background threads (queued batches are still committed).
    /// Further writes return [`StoreError::Closed`]; queries keep working.
    pub fn close(&self) -> Result<()> {
        self.inner.closed.store(true, Ordering::SeqCst);
        {
            let mut q = lock(&self.inner.queue);
            q.closed = true;
            self.inner.queue_cv.notify_all();
            self.inner.space_cv.notify_all();
        }
        let handles: Vec<JoinHandle<()>> = lock(&self.threads).drain(..).collect();
        let mut it = handles.into_iter();
        if let Some(w) = it.next() {
            let _ = w.join();
        }
        {
            let mut c = lock(&self.inner.flush);
            c.shutdown = true;
            self.inner.flush_cv.notify_all();
        }
        for h in it {
            let _ = h.join();
        }
        match lock(&self.inner.failed).clone() {
            Some(msg) => Err(StoreError::Poisoned(msg)),
            None => Ok(()),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn ceil_to(x: i64, m: i64) -> i64 {
    let f = floor_to(x, m);
    if f == x { x } else { f.saturating_add(m) }
}

fn floor_to(x: i64, m: i64) -> i64 {
    x.div_euclid(m) * m
}

/// Chooses `(origin, step)` so that `[start, end)` fits in `max_buckets` buckets
/// `[origin + k*step, origin + (k+1)*step)`; steps >= 60 s are minute multiples and minute aligned.
pub(crate) fn bucket_plan(start: i64, end: i64, max_buckets: usize) -> (i64, i64) {
    let mb = max_buckets as i128;
    let span = end as i128 - start as i128;
    let step = ((span + mb - 1) / mb).max(1);
    if step < MINUTE_NS as i128 {
        return (start, step as i64);
    }
    let origin = floor_to(start, MINUTE_NS);
    let span = end as i128 - origin as i128;
    let step = (span + mb - 1) / mb;
    let m = MINUTE_NS as i128;
    let step = (step + m - 1) / m * m;
    (origin, step.min(i64::MAX as i128) as i64)
}

struct Accumulator {
    origin: i64,
    step: i64,
    slots: Vec<Option<Acc>>,
}

#[derive(Clone, Copy)]
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
    last_ts: i64,
    last: f64,
}

impl Accumulator {
    fn new(origin: i64, step: i64, max_buckets: usize) -> Self {
        Accumulator {
            origin,
            step,
            slots: vec![None; max_buckets],
        }
    }
    fn slot(&mut self, ts: i64) -> Option<&mut Option<Acc>> {
        let k = ((ts as i128 - self.origin as i128) / self.step as i128) as usize;
        self.slots.get_mut(k)
    }
    fn add_point(&mut self, ts: i64, v: f64) {
        self.add(
            ts,
            Acc {
                min: v,
                max: v,
                sum: v,
                count: 1,
                last_ts: ts,
                last: v,
            },
        );
    }
    fn add_rollup(&mut self, r: &RollupRow) {
        self.add(
            r.bucket,
            Acc {
                min: r.min,
                max: r.max,
                sum: r.sum,
                count: r.count,
                last_ts: r.last_ts,
                last: r.last_value,
            },
        );
    }
    fn add(&mut self, ts: i64, a: Acc) {
        let Some(slot) = self.slot(ts) else { return };
        match slot {
            None => *slot = Some(a),
            Some(b) => {
                b.min = b.min.min(a.min);
                b.max = b.max.max(a.max);
                b.sum += a.sum;
                b.count += a.count;
                if a.last_ts >= b.last_ts {
                    b.last_ts = a.last_ts;
                    b.last = a.last;
                }
            }
        }
    }
    fn finish(self) -> Downsampled {
        let (origin, step) = (self.origin, self.step);
        let buckets = self
            .slots
            .into_iter()
            .enumerate()
            .filter_map(|(k, s)| {
                s.map(|a| Bucket {
                    start: origin.saturating_add((k as i64).saturating_mul(step)),
                    min: a.min,
                    max: a.max,
                    mean: a.sum / a.count as f64,
                    last: a.last,
                    count: a.count,
                })
            })
            .collect();
        Downsampled { step_ns: step, buckets }
    }
}

impl Inner {
    fn poisoned(&self) -> Option<StoreError> {
        lock(&self.failed).clone().map(StoreError::Poisoned)
    }

    /// Queues an item (blocking for backpressure). On error the item's callback is NOT called.
    fn enqueue(&self, item: Item) -> Result<()> {
        if let Some(e) = self.poisoned() {
            return Err(e);
        }
        let bytes = item.bytes();
        let mut q = lock(&self.queue);
        while !q.closed && q.pending_bytes > 0 && q.pending_bytes + bytes > self.cfg.max_pending_bytes {
            q = self.space_cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        if q.closed {
            drop(q);
            fail_item(item, StoreError::Closed);
            return Err(StoreError::Closed);
        }
        q.pending_bytes += bytes;
        q.items.push_back(item);
        self.queue_cv.notify_one();
        Ok(())
    }

    fn enqueue_events(&self, events: Vec<NewEvent>, done: Done) -> Result<Vec<u64>> {
        if let Some(e) = self.poisoned() {
            return Err(e);
        }
        let mut q = lock(&self.queue);
        let bytes: usize = events.iter().map(|e| 32 + e.kind.len() + e.subject.len() + e.payload.len()).sum();
        while !q.closed && q.pending_bytes > 0 && q.pending_bytes + bytes > self.cfg.max_pending_bytes {
            q = self.space_cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        if q.closed {
            return Err(StoreError::Closed);
        }
        let first = q.next_seq;
        q.next_seq += events.len() as u64;
        let evs: Vec<Event> = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| Event {
                seq: first + i as u64,
                ts: e.ts,
                kind: e.kind,
                subject: e.subject,
                payload: e.payload,
            })
            .collect();
        let seqs = evs.iter().map(|e| e.seq).collect();
        q.pending_bytes += bytes;
        q.items.push_back(Item::Events(evs, done));
        self.queue_cv.notify_one();
        Ok(seqs)
    }

    fn writer_loop(self: Arc<Self>, mut wal: WalWriter) {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        loop {
            let (items, closing) = {
                let mut q = lock(&self.queue);
                if q.items.is_empty() && !q.closed {
                    let (g, _) = self.queue_cv.wait_timeout(q, self.cfg.maintenance_interval).unwrap_or_else(|p| p.into_inner());
                    q = g;
                }
                let items: Vec<Item> = q.items.drain(..).collect();
                q.pending_bytes = 0;
                self.space_cv.notify_all();
                (items, q.closed)
            };
            if items.is_empty() {
                if closing {
                    break;
                }
                if self.freeze_due()
                    && let Err(e) = self.freeze(&mut wal, Vec::new())
                {
                    self.set_failed(&e);
                }
                continue;
            }
            if let Some(e) = self.poisoned() {
                for it in items {
                    fail_item(it, e.clone());
                }
                continue;
            }
            buf.clear();
            for it in &items {
                match it {
                    Item::Samples(s, _) => wal::encode_samples(&mut buf, s),
                    Item::Events(e, _) => wal::encode_events(&mut buf, e),
                    Item::SeriesDef(id, key, _) => wal::encode_series_def(&mut buf, *id, key),
                    Item::Freeze(_) => {}
                }
            }
            if !buf.is_empty()
                && let Err(e) = wal.write(&buf, self.cfg.sync == SyncMode::Fsync)
            {
                self.set_failed(&e);
                for it in items {
                    fail_item(it, e.clone());
                }
                continue;
            }
            self.counters.commits.fetch_add(1, Ordering::Relaxed);
            // Apply to memory, then acknowledge.
            let mut new_events = Vec::new();
            {
                let mut a = lock(&self.active);
                for it in &items {
                    match it {
                        Item::Samples(s, _) => a.insert(s),
                        Item::Events(e, _) => {
                            a.insert_events(e);
                            new_events.extend(e.iter().cloned());
                        }
                        _ => {}
                    }
                }
            }
            if !new_events.is_empty() {
                let mut t = write(&self.tables);
                for e in new_events {
                    t.events.insert(e);
                }
            }
            let mut waiters = Vec::new();
            let mut nsamples = 0u64;
            let mut nevents = 0u64;
            for it in items {
                match it {
                    Item::Samples(s, d) => {
                        nsamples += s.len() as u64;
                        call(d, Ok(()));
                    }
                    Item::Events(e, d) => {
                        nevents += e.len() as u64;
                        call(d, Ok(()));
                    }
                    Item::SeriesDef(_, _, d) => call(d, Ok(())),
                    Item::Freeze(d) => waiters.push(d),
                }
            }
            self.counters.samples.fetch_add(nsamples, Ordering::Relaxed);
            self.counters.events.fetch_add(nevents, Ordering::Relaxed);
            if (!waiters.is_empty() || self.freeze_due())
                && let Err(e) = self.freeze(&mut wal, waiters)
            {
                self.set_failed(&e);
            }
        }
    }

    /// Whether the active memtable should be frozen now. While a flush is running the
    /// writer keeps filling the active memtable (no stall) up to twice the limit; beyond
    /// that it freezes, which waits for the running flush (backpressure).
    fn freeze_due(&self) -> bool {
        let (samples, aged) = {
            let a = lock(&self.active);
            (a.samples, !a.is_empty() && a.created.elapsed() >= self.cfg.flush_interval)
        };
        let max = self.cfg.memtable_max_samples;
        if samples >= max.saturating_mul(2) {
            return true;
        }
        (samples >= max || aged) && lock(&self.flush).job.is_none()
    }

    fn set_failed(&self, e: &StoreError) {
        let mut f = lock(&self.failed);
        if f.is_none() {
            *f = Some(e.to_string());
        }
    }

    /// Freezes the active memtable and hands it to the background thread. `waiters` are
    /// completed once that flush (or the one in progress, if the memtable is empty) is done.
    fn freeze(&self, wal: &mut WalWriter, mut waiters: Vec<Done>) -> Result<()> {
        let mut ctl = lock(&self.flush);
        if lock(&self.active).is_empty() {
            match &mut ctl.job {
                Some(job) => job.waiters.append(&mut waiters),
                None => {
                    drop(ctl);
                    for w in waiters {
                        call(w, Ok(()));
                    }
                }
            }
            return Ok(());
        }
        while ctl.job.is_some() && !ctl.shutdown && !self.closed.load(Ordering::SeqCst) {
            ctl = self.flush_cv.wait_timeout(ctl, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
        }
        if ctl.job.is_some() {
            // Shutting down with a flush still pending: the data stays in the WAL.
            drop(ctl);
            for w in waiters {
                call(w, Err(StoreError::Closed));
            }
            return Ok(());
        }
        let covered = match wal.rotate() {
            Ok(c) => c,
            Err(e) => {
                drop(ctl);
                for w in waiters {
                    call(w, Err(e.clone()));
                }
                return Err(e);
            }
        };
        let mem = {
            let mut t = write(&self.tables);
            let mut a = lock(&self.active);
            let mem = Arc::new(std::mem::replace(&mut *a, Memtable::new()));
            t.frozen = Some(mem.clone());
            mem
        };
        ctl.job = Some(FlushJob {
            mem,
            covered_wal: covered,
            waiters,
        });
        self.flush_cv.notify_all();
        Ok(())
    }

    fn background_loop(self: Arc<Self>) {
        let mut last_maint = std::time::Instant::now();
        let mut last_capture_retention: Option<std::time::Instant> = None;
        loop {
            let job = {
                let mut ctl = lock(&self.flush);
                if ctl.job.is_none() && !ctl.shutdown {
                    let (g, _) = self
                        .flush_cv
                        .wait_timeout(ctl, self.cfg.maintenance_interval)
                        .unwrap_or_else(|p| p.into_inner());
                    ctl = g;
                }
                match &ctl.job {
                    Some(j) => Some((j.mem.clone(), j.covered_wal)),
                    None if ctl.shutdown => return,
                    None => None,
                }
            };
            if let Some((mem, covered)) = job {
                let res = {
                    let _g = lock(&self.maint);
                    self.flush_memtable(&mem, covered)
                };
                let waiters = {
                    let mut ctl = lock(&self.flush);
                    let waiters = match &mut ctl.job {
                        Some(j) => std::mem::take(&mut j.waiters),
                        None => Vec::new(),
                    };
                    if res.is_ok() {
                        ctl.job = None;
                    }
                    self.flush_cv.notify_all();
                    waiters
                };
                for w in waiters {
                    call(w, res.clone());
                }
                if res.is_err() {
                    // Retry after a pause (e.g. disk full); writers block on the pending job.
                    let ctl = lock(&self.flush);
                    if !ctl.shutdown {
                        let _ = self.flush_cv.wait_timeout(ctl, self.cfg.maintenance_interval);
                    } else {
                        return;
                    }
                }
            }
            if last_maint.elapsed() >= self.cfg.maintenance_interval {
                last_maint = std::time::Instant::now();
                {
                    let _g = lock(&self.maint);
                    if self.cfg.auto_compact {
                        let today = day_of(now_ns());
                        let max = self.cfg.compaction_max_segments;
                        let _ = self.compact(|day, n| n > max || (day < today && n > 1));
                    }
                    if self.cfg.retention.is_some() {
                        let _ = self.enforce_series_retention(now_ns());
                    }
                }
                // Capture retention lists directories (without holding `maint`: captures are
                // not segments), so it runs at most once a minute.
                if last_capture_retention.is_none_or(|t| t.elapsed() >= CAPTURE_RETENTION_INTERVAL) {
                    last_capture_retention = Some(std::time::Instant::now());
                    let _ = self.enforce_capture_retention(now_ns());
                }
            }
        }
    }

    fn keys_snapshot(&self) -> Vec<String> {
        read(&self.catalog).keys.clone()
    }

    /// Writes a frozen memtable to segments, installs them, checkpoints the catalog and
    /// deletes the covered WAL files. Caller holds `maint`.
    fn flush_memtable(&self, mem: &Memtable, covered_wal: u64) -> Result<()> {
        let root = &self.cfg.dir;
        let keys = self.keys_snapshot();
        let order = self.next_order.fetch_add(1, Ordering::SeqCst);
        let name = seg_name(order, 0);
        // Sorted, deduplicated points per series, in key order, split by day.
        let mut ids: Vec<u32> = (0..mem.series.len() as u32).filter(|&i| !mem.series[i as usize].is_empty()).collect();
        ids.sort_by(|a, b| keys.get(*a as usize).cmp(&keys.get(*b as usize)));
        let mut per_day: BTreeMap<i64, Vec<(u32, Vec<MemPoint>)>> = BTreeMap::new();
        for &sid in &ids {
            let mut pts = mem.series[sid as usize].clone();
            sort_dedup_last(&mut pts);
            let mut rest = pts.as_slice();
            while let Some(first) = rest.first() {
                let day = day_of(first.ts);
                let n = rest.partition_point(|p| day_of(p.ts) == day);
                per_day.entry(day).or_default().push((sid, rest[..n].to_vec()));
                rest = &rest[n..];
            }
        }
        let mut new_segs = Vec::new();
        let mut rolls = Vec::new();
        for (day, series) in per_day {
            let sp = kind_dir(root, Kind::Series, day).join(&name);
            let rp = kind_dir(root, Kind::Rollup, day).join(&name);
            let mut sw = SeriesWriter::create(&sp, self.cfg.row_group_rows)?;
            let mut rw = RollupWriter::create(&rp, self.cfg.row_group_rows)?;
            for (sid, pts) in &series {
                let key = keys.get(*sid as usize).map(String::as_str).unwrap_or("");
                sw.add_series(*sid, key, pts)?;
                rolls.clear();
                minute_rollups(pts, &mut rolls);
                rw.add_series(*sid, key, &rolls)?;
            }
            let rollup = rw.finish()?;
            let data = sw.finish()?;
            new_segs.push((
                day,
                Arc::new(Segment {
                    order,
                    version: 0,
                    data,
                    rollup: Some(rollup),
                }),
            ));
        }
        let mut new_event_files = Vec::new();
        if !mem.events.is_empty() {
            let mut evs = mem.events.clone();
            evs.sort_by_key(|e| e.seq);
            let mut by_day: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
            for e in evs {
                by_day.entry(day_of(e.ts)).or_default().push(e);
            }
            for (day, evs) in by_day {
                let p = kind_dir(root, Kind::Events, day).join(&name);
                let file = write_events(&p, &evs, self.cfg.row_group_rows)?;
                new_event_files.push((day, Arc::new(EventSeg { order, version: 0, file })));
            }
        }
        {
            let mut t = write(&self.tables);
            for (day, seg) in new_segs {
                t.days.entry(day).or_default().push(seg);
            }
            for (day, f) in new_event_files {
                t.event_days.entry(day).or_default().push(f);
            }
            t.frozen = None;
        }
        let next_seq = lock(&self.queue).next_seq;
        write_catalog(root, &keys, next_seq)?;
        for n in wal::list_wal_files(&self.wal_dir)? {
            if n <= covered_wal {
                remove_file_if_exists(&wal::wal_path(&self.wal_dir, n))?;
            }
        }
        sync_dir(&self.wal_dir)?;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Compacts days for which `pred(day, segment_count)` holds. Caller holds `maint`.
    fn compact(&self, pred: impl Fn(i64, usize) -> bool) -> Result<usize> {
        let todo: Vec<(i64, Vec<Arc<Segment>>)> = {
            let t = read(&self.tables);
            t.days.iter().filter(|(d, s)| pred(**d, s.len())).map(|(d, s)| (*d, s.clone())).collect()
        };
        let mut done = 0;
        for (day, segs) in todo {
            if segs.len() < 2 {
                continue;
            }
            self.compact_day(day, &segs)?;
            done += 1;
        }
        let event_todo: Vec<(i64, Vec<Arc<EventSeg>>)> = {
            let t = read(&self.tables);
            t.event_days
                .iter()
                .filter(|(d, s)| s.len() > 1 && pred(**d, s.len()))
                .map(|(d, s)| (*d, s.clone()))
                .collect()
        };
        for (day, files) in event_todo {
            self.compact_event_day(day, &files)?;
        }
        Ok(done)
    }

    /// Merges a day's event files into one (events are immutable; dedup by seq).
    fn compact_event_day(&self, day: i64, files: &[Arc<EventSeg>]) -> Result<()> {
        let order = files.iter().map(|f| f.order).max().unwrap_or(0);
        let version = files.iter().map(|f| f.version).max().unwrap_or(0) + 1;
        let mut evs = Vec::new();
        for f in files {
            f.file.read_events(&mut evs)?;
        }
        evs.sort_by_key(|e| e.seq);
        evs.dedup_by_key(|e| e.seq);
        let dir = kind_dir(&self.cfg.dir, Kind::Events, day);
        let file = write_events(&dir.join(seg_name(order, version)), &evs, self.cfg.row_group_rows)?;
        let new = Arc::new(EventSeg { order, version, file });
        {
            let mut t = write(&self.tables);
            let list = t.event_days.entry(day).or_default();
            list.retain(|s| !files.iter().any(|o| Arc::ptr_eq(o, s)));
            list.push(new);
        }
        for f in files {
            remove_file_if_exists(&f.file.path)?;
        }
        sync_dir(&dir)
    }

    fn compact_day(&self, day: i64, segs: &[Arc<Segment>]) -> Result<()> {
        let root = &self.cfg.dir;
        let keys = self.keys_snapshot();
        let order = segs.iter().map(|s| s.order).max().unwrap_or(0);
        let version = segs.iter().map(|s| s.version).max().unwrap_or(0) + 1;
        let name = seg_name(order, version);
        let mut ids: Vec<u32> = segs.iter().flat_map(|s| s.data.index.keys().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.sort_by(|a, b| keys.get(*a as usize).cmp(&keys.get(*b as usize)));
        let mut ordered: Vec<&Arc<Segment>> = segs.iter().collect();
        ordered.sort_by_key(|s| (s.order, s.version));
        let sp = kind_dir(root, Kind::Series, day).join(&name);
        let rp = kind_dir(root, Kind::Rollup, day).join(&name);
        let mut sw = SeriesWriter::create(&sp, self.cfg.row_group_rows)?;
        let mut rw = RollupWriter::create(&rp, self.cfg.row_group_rows)?;
        let mut pts = Vec::new();
        let mut rolls = Vec::new();
        for sid in ids {
            pts.clear();
            for s in &ordered {
                s.data.read_all_points(sid, &mut pts)?;
            }
            sort_dedup_last(&mut pts);
            let key = keys.get(sid as usize).map(String::as_str).unwrap_or("");
            sw.add_series(sid, key, &pts)?;
            rolls.clear();
            minute_rollups(&pts, &mut rolls);
            rw.add_series(sid, key, &rolls)?;
        }
        let rollup = rw.finish()?;
        let data = sw.finish()?;
        let new = Arc::new(Segment {
            order,
            version,
            data,
            rollup: Some(rollup),
        });
        {
            let mut t = write(&self.tables);
            let list = t.days.entry(day).or_default();
            list.retain(|s| !segs.iter().any(|o| Arc::ptr_eq(o, s)));
            list.push(new);
            list.sort_by_key(|s| (s.order, s.version));
        }
        for s in segs {
            remove_file_if_exists(&s.data.path)?;
            if let Some(r) = &s.rollup {
                remove_file_if_exists(&r.path)?;
            }
        }
        sync_dir(&kind_dir(root, Kind::Series, day))?;
        sync_dir(&kind_dir(root, Kind::Rollup, day))?;
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn enforce_retention(&self, now_ns: i64) -> Result<usize> {
        let days = self.enforce_series_retention(now_ns)?;
        self.enforce_capture_retention(now_ns)?;
        Ok(days)
    }

    /// Deletes captures older than `retention` and beyond the per-channel byte limit.
    fn enforce_capture_retention(&self, now_ns: i64) -> Result<()> {
        let max_age = self.cfg.retention.map(|r| i64::try_from(r.as_nanos()).unwrap_or(i64::MAX));
        if max_age.is_some() || self.cfg.capture_max_bytes_per_channel.is_some() {
            self.captures.enforce(now_ns, max_age, self.cfg.capture_max_bytes_per_channel)?;
        }
        Ok(())
    }

    fn enforce_series_retention(&self, now_ns: i64) -> Result<usize> {
        let Some(ret) = self.cfg.retention else {
            return Ok(0);
        };
        let cutoff = now_ns.saturating_sub(i64::try_from(ret.as_nanos()).unwrap_or(i64::MAX));
        // Day d is deleted when all of it is older than the cutoff: (d+1)*DAY <= cutoff.
        let first_kept = cutoff.div_euclid(DAY_NS);
        let (days, event_days) = {
            let mut t = write(&self.tables);
            let keep = t.days.split_off(&first_kept);
            let old = std::mem::replace(&mut t.days, keep);
            let keep_e = t.event_days.split_off(&first_kept);
            let old_e = std::mem::replace(&mut t.event_days, keep_e);
            t.events.remove_before(first_kept.saturating_mul(DAY_NS));
            (old.into_keys().collect::<Vec<_>>(), old_e.into_keys().collect::<Vec<_>>())
        };
        let root = &self.cfg.dir;
        let mut all: BTreeSet<i64> = days.iter().copied().collect();
        all.extend(event_days);
        for &day in &all {
            for k in [Kind::Series, Kind::Rollup, Kind::Events] {
                let d = kind_dir(root, k, day);
                if d.exists() {
                    std::fs::remove_dir_all(&d).at(&d)?;
                }
            }
        }
        for k in [Kind::Series, Kind::Rollup, Kind::Events] {
            sync_dir(&root.join(k.dir_name()))?;
        }
        Ok(all.len())
    }
}

/// Runs a completion callback; a panicking callback must not take the writer thread down.
fn call(d: Done, r: Result<()>) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || d(r)));
}

fn fail_item(item: Item, e: StoreError) {
    match item {
        Item::Samples(_, d) | Item::Events(_, d) | Item::SeriesDef(_, _, d) | Item::Freeze(d) => call(d, Err(e)),
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Store>();
}
