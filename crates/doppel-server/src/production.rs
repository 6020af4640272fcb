//! The production twin: every line of the plant that has production stations is simulated in step with the
//! plant's clock, chunk by chunk, each chunk continuing from the previous chunk's end state and using the
//! live twins' view of every machine at that moment; each produced unit's genealogy is kept durably and
//! indexed for traceability queries both ways.
//!
//! * **Lines** come from the plant file ([`doppel_line::plant::line_from_plant`], its documented defaults),
//!   with each processing station's measured process signals as process variables (see [`production_line`]).
//! * **Clock.** A line's plant time is the newest stored sample of its machines' running signals: the
//!   demo's accelerated simulator publishes accelerated plant time, a real plant publishes wall-clock time, and
//!   a line whose data stops does not produce. Once the plant time is [`ProductionSettings::min_chunk_s`] past
//!   the end of the last chunk, the next chunk is simulated up to it (at most [`ProductionSettings::max_chunk_s`]
//!   per chunk; a gap longer than [`ProductionSettings::max_catch_up_s`], e.g. after the server was down, is
//!   skipped: the line resumes where it stood).
//! * **Each chunk** continues the previous one's [`LineState`] (units where they are, machines down or set up,
//!   the campaign under way, lots on hand; [`doppel_line::state`]). Every machine gets its asset's
//!   [`Health`] from the prediction engine (health index, failure probability over its horizon), is down for
//!   the chunk if its running signal says it mostly did not run, and records as process conditions the mean
//!   of each measured process signal over the chunk (the stored samples; without samples, the last value the
//!   twin holds). Alarm intervals of the line's assets come from the twins' stored alert events (level
//!   `alarm`) and are added to the genealogy with the simulator's own (health or process-variable alarms).
//! * **Genealogy** is appended to `{data_dir}/trace/` (see [`TraceFile`]: one JSON record per chunk, CRC-32 per
//!   record, `fdatasync` before the chunk counts, torn tail truncated at start) and indexed in memory in
//!   segments ([`Traces`]); at start the index is rebuilt from the files and each line continues from its
//!   last durable chunk. Memory is bounded by [`ProductionSettings::max_indexed_units`]: older segments are
//!   dropped from the index (they stay on disk until the store's retention removes their files).
//! * Simulation and file writes run on blocking threads, never on the async runtime.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use doppel_line::config::{Drift, Health, Lot, ProcessVar};
use doppel_line::plant::{PlantLineOptions, line_from_plant};
use doppel_line::rootcause::{self, RootCauseConfig, RootCauseReport, UnitEvidence};
use doppel_line::state::LineState;
use doppel_line::trace::{TraceBuilder, TraceIndex, TraceLog, UnitGenealogy, UnitRecord};
use doppel_line::{LineConfig, LineError, SimOptions, Simulator};
use doppel_model::{Plant, SignalKind};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Errors of the production twin.
#[derive(Debug, thiserror::Error)]
pub enum ProductionError {
    #[error("genealogy storage {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("line model: {0}")]
    Line(#[from] LineError),
    #[error("store: {0}")]
    Store(#[from] doppel_store::StoreError),
    #[error("the production twin is not running (no data directory)")]
    NotOpen,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProductionError + '_ {
    move |source| ProductionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings of the production twin.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductionSettings {
    /// Run the production twin at all (`doppel serve --no-production` turns it off).
    pub enabled: bool,
    /// A chunk is simulated once the line's plant time is this many seconds past the last one.
    pub min_chunk_s: f64,
    /// Longest chunk, plant seconds (catching up runs several).
    pub max_chunk_s: f64,
    /// Longest gap simulated after a pause of the data (or of the server); a longer one is skipped.
    pub max_catch_up_s: f64,
    /// Seed of the production simulation (each chunk's seed derives from it, the line and the chunk number).
    pub seed: u64,
    /// Units kept in the in-memory genealogy index (older segments are dropped from memory, not from disk).
    pub max_indexed_units: usize,
    /// Units per index segment (the newest segment is rebuilt after each chunk).
    pub segment_units: usize,
    /// How much faster than the plant's clock the business data's clock runs: 1 for a real plant; the demo's
    /// business data is on its accelerated maintenance clock (wear acceleration). Business due dates and the
    /// planner's work orders are converted to plant time with it.
    pub business_clock: f64,
    /// How often the production task looks at the plant clock.
    pub poll: Duration,
    /// Keep genealogy files for this long (the store's retention); `None`: forever.
    pub retention: Option<Duration>,
}

impl Default for ProductionSettings {
    fn default() -> ProductionSettings {
        ProductionSettings {
            enabled: true,
            min_chunk_s: 60.0,
            max_chunk_s: 3600.0,
            max_catch_up_s: 8.0 * 3600.0,
            seed: 1,
            max_indexed_units: 2_000_000,
            segment_units: 100_000,
            business_clock: 1.0,
            poll: Duration::from_secs(1),
            retention: None,
        }
    }
}

/// Reference value of a process variable without data: the builder's rule for its process signal, and for the
/// other measured signals 80 % of the top of their normal envelope (or 120 % of its bottom).
fn nominal(env: &doppel_model::envelope::Envelope) -> Option<f64> {
    if env.normal.high.is_finite() {
        Some(0.8 * env.normal.high)
    } else if env.normal.low.is_finite() {
        Some(1.2 * env.normal.low)
    } else {
        None
    }
}

/// The line `line` as the production twin simulates it: [`line_from_plant`] with its defaults, plus, at every
/// station, each process signal of its asset type that has a finite normal envelope as a process variable
/// (so genealogy records the measured conditions and root-cause analysis has candidates). The variables'
/// own noise is switched off: the production twin takes their values from the measured data.
pub fn production_line(plant: &Plant, line: &str) -> Result<LineConfig, LineError> {
    let opts = PlantLineOptions::default();
    let mut cfg = line_from_plant(plant, line, &opts)?;
    for st in &mut cfg.stations {
        let Some(a) = st.machines.first().and_then(|m| plant.asset(&m.asset)) else {
            continue;
        };
        for sig in &a.signals {
            // measured process signals only: not the predictive models' outputs or other computed signals
            if sig.kind != SignalKind::Process || sig.derived_from.is_some() || st.process_vars.iter().any(|v| v.name == sig.name) {
                continue;
            }
            let Some(env) = &sig.envelopes.default else { continue };
            let Some(mean) = nominal(env) else { continue };
            st.process_vars.push(ProcessVar {
                name: sig.name.clone(),
                mean,
                sd: 0.0,
                tau_s: 0.0,
                drifts: Vec::new(),
                alarm_above: None,
                alarm_below: None,
            });
        }
        for v in &mut st.process_vars {
            v.sd = 0.0;
            v.tau_s = 0.0;
        }
    }
    cfg.validate()?;
    Ok(cfg)
}

/// What one machine was like during a chunk (kept in the chunk record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineInput {
    pub asset: String,
    pub health_index: Option<f64>,
    pub failure_probability_pct: Option<f64>,
    pub horizon_h: Option<f64>,
    /// Not running during the chunk (its running signal mostly at or below the threshold, or the twin down).
    pub down: bool,
    /// (variable, mean over the chunk of the measured values its units recorded as process conditions).
    pub conditions: Vec<(String, f64)>,
}

/// An alarm interval from the twins' alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSpan {
    pub asset: String,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// A unit record as stored (JSON has no NaN: times are optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredUnit(u64, u16, u16, Option<f64>, Option<f64>, bool);

impl StoredUnit {
    fn of(u: &UnitRecord) -> StoredUnit {
        let f = |x: f64| x.is_finite().then_some(x);
        StoredUnit(u.serial, u.product, u.source, f(u.entered_s), f(u.exit_s), u.scrapped)
    }
    fn record(&self) -> UnitRecord {
        UnitRecord {
            serial: self.0,
            product: self.1,
            source: self.2,
            entered_s: self.3.unwrap_or(f64::NAN),
            exit_s: self.4.unwrap_or(f64::NAN),
            scrapped: self.5,
        }
    }
}

/// One simulated chunk of one line: what went in, the genealogy that came out and the state it ended in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// Format version (1).
    pub v: u32,
    pub line: String,
    /// Chunk number of the line, from 1.
    pub chunk: u64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub seed: u64,
    pub serial_base: u64,
    /// The next free serial number after this chunk (all lines share one sequence).
    pub next_serial: u64,
    /// Number of the next lot of blanks the line will open.
    pub next_lot: u64,
    pub machines: Vec<MachineInput>,
    pub alarms: Vec<AlarmSpan>,
    /// Twin alarms still open at the end: (asset, signal, since).
    pub open_alarms: Vec<(String, String, i64)>,
    /// The process variables' references (station, variable, value) the chunk used.
    #[serde(default)]
    pub references: Vec<(String, String, f64)>,
    pub good: u64,
    pub scrap: u64,
    units: Vec<StoredUnit>,
    continued: Vec<StoredUnit>,
    log: TraceLog,
    pub end_state: LineState,
}

impl ChunkRecord {
    /// A record of a chunk of `line` that ran `[start_ns, end_ns)` from `serial_base`, its genealogy `log` and the
    /// state it ended in (no machine inputs or alarms: add them to the public fields).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        line: &str,
        chunk: u64,
        start_ns: i64,
        end_ns: i64,
        seed: u64,
        serial_base: u64,
        next_lot: u64,
        log: &TraceLog,
        end_state: LineState,
        good: u64,
        scrap: u64,
    ) -> ChunkRecord {
        let mut stored = log.clone();
        let units = stored.units.drain(..).map(|u| StoredUnit::of(&u)).collect::<Vec<_>>();
        let continued = stored.continued.drain(..).map(|u| StoredUnit::of(&u)).collect();
        ChunkRecord {
            v: 1,
            line: line.to_string(),
            chunk,
            start_ns,
            end_ns,
            seed,
            serial_base,
            next_serial: serial_base + units.len() as u64,
            next_lot,
            machines: Vec::new(),
            alarms: Vec::new(),
            open_alarms: Vec::new(),
            references: Vec::new(),
            good,
            scrap,
            units,
            continued,
            log: stored,
            end_state,
        }
    }

    /// Units made in this chunk.
    pub fn units_made(&self) -> usize {
        self.units.len()
    }

    /// The chunk's genealogy log.
    pub fn trace_log(&self) -> TraceLog {
        let mut log = self.log.clone();
        log.units = self.units.iter().map(StoredUnit::record).collect();
        log.continued = self.continued.iter().map(StoredUnit::record).collect();
        log
    }
}

// ---------------------------------------------------------------------------------------------------------
// Durable storage

/// Append-only genealogy files `{dir}/trace-{n:06}.dtr`, one record per chunk: the magic `DTR1`, the payload
/// length (u32, little endian), the CRC-32 (IEEE) of the payload (u32 LE), then the payload: the
/// [`ChunkRecord`] as JSON, compressed with DEFLATE (RFC 1951). A record is written with one `write_all` and
/// `fdatasync`ed before the chunk counts (its units become queryable and the line moves on). At open, a last
/// record that is incomplete or fails its checksum (a write torn by a crash) is cut off; a bad record followed
/// by good ones is corruption: it is skipped (its length is in its header) and reported; a broken header
/// before the end of a file loses the rest of that file (reported). Files roll over at
/// [`TraceFile::ROLL_BYTES`]. Inspect a file with any DEFLATE tool after skipping each 12-byte header
/// (e.g. Python's `zlib.decompress(payload, -15)`).
pub struct TraceFile {
    dir: PathBuf,
    file: std::fs::File,
    path: PathBuf,
    number: u64,
    bytes: u64,
}

/// What opening the genealogy files found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recovery {
    pub files: usize,
    pub records: usize,
    /// Bytes of a torn last record cut off.
    pub truncated_bytes: u64,
    /// Records skipped because their checksum or JSON was bad (not at the end).
    pub corrupt_records: usize,
    /// Files removed by retention.
    pub removed_files: usize,
}

fn sync_dir(dir: &Path) -> Result<(), ProductionError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl TraceFile {
    pub const ROLL_BYTES: u64 = 64 << 20;

    fn name(n: u64) -> String {
        format!("trace-{n:06}.dtr")
    }

    /// Opens (or creates) the directory, reads every record in order, repairs a torn tail and removes files
    /// whose newest chunk ended before `keep_after_ns`.
    pub fn open(dir: &Path, keep_after_ns: Option<i64>) -> Result<(TraceFile, Vec<ChunkRecord>, Recovery), ProductionError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let (records, rec, kept) = TraceFile::scan(dir, true, keep_after_ns)?;
        let number = kept.last().copied().unwrap_or(1);
        let path = dir.join(TraceFile::name(number));
        let existed = path.exists();
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        if !existed {
            sync_dir(dir)?;
        }
        let bytes = file.metadata().map_err(io(&path))?.len();
        Ok((
            TraceFile {
                dir: dir.to_path_buf(),
                file,
                path,
                number,
                bytes,
            },
            records,
            rec,
        ))
    }

    /// Reads every record without changing anything (a torn tail is skipped, not cut off; nothing is removed):
    /// for tools reading a stopped server's data directory.
    pub fn read(dir: &Path) -> Result<(Vec<ChunkRecord>, Recovery), ProductionError> {
        let (records, rec, _) = TraceFile::scan(dir, false, None)?;
        Ok((records, rec))
    }

    /// Reads the files in order; with `repair`, cuts off a torn tail and applies retention.
    fn scan(dir: &Path, repair: bool, keep_after_ns: Option<i64>) -> Result<(Vec<ChunkRecord>, Recovery, Vec<u64>), ProductionError> {
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_prefix("trace-")?.strip_suffix(".dtr")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        let mut rec = Recovery::default();
        let mut records = Vec::new();
        let last_number = numbers.last().copied();
        let mut kept = Vec::new();
        for &n in &numbers {
            let path = dir.join(TraceFile::name(n));
            let mut text = Vec::new();
            std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut text)).map_err(io(&path))?;
            let last_file = Some(n) == last_number;
            let mut good_end = 0usize;
            let mut pos = 0usize;
            let mut file_records = Vec::new();
            let mut pending_bad = 0usize;
            while pos < text.len() {
                let rest = &text[pos..];
                if rest.len() < 12 || &rest[..4] != MAGIC {
                    break; // torn, or a broken header: nothing after it can be framed
                }
                let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
                let crc = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]);
                if rest.len() < 12 + len {
                    break; // torn
                }
                let payload = &rest[12..12 + len];
                pos += 12 + len;
                match (crc32fast::hash(payload) == crc).then(|| decode(payload)).flatten() {
                    Some(r) => {
                        rec.corrupt_records += pending_bad;
                        pending_bad = 0;
                        file_records.push(r);
                        good_end = pos;
                    }
                    None => pending_bad += 1,
                }
            }
            if last_file && good_end < text.len() {
                // a torn tail: bad records (or a partial one) after the last good record
                if repair {
                    let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                    f.set_len(good_end as u64).map_err(io(&path))?;
                    f.sync_all().map_err(io(&path))?;
                    tracing::warn!(file = %path.display(), bytes = text.len() - good_end, "genealogy: torn last record cut off");
                }
                rec.truncated_bytes += (text.len() - good_end) as u64;
            } else {
                rec.corrupt_records += pending_bad + usize::from(good_end < text.len() && pending_bad == 0);
                if pending_bad > 0 || good_end < text.len() {
                    tracing::error!(file = %path.display(), "genealogy: corrupt records skipped");
                }
            }
            let newest = file_records.iter().map(|r: &ChunkRecord| r.end_ns).max();
            if let (true, Some(keep), Some(newest)) = (repair, keep_after_ns, newest)
                && newest < keep
                && !last_file
            {
                std::fs::remove_file(&path).map_err(io(&path))?;
                rec.removed_files += 1;
                continue;
            }
            rec.files += 1;
            rec.records += file_records.len();
            records.extend(file_records);
            kept.push(n);
        }
        if rec.removed_files > 0 {
            sync_dir(dir)?;
        }
        Ok((records, rec, kept))
    }

    /// Appends one record durably.
    pub fn append(&mut self, r: &ChunkRecord) -> Result<(), ProductionError> {
        if self.bytes >= TraceFile::ROLL_BYTES {
            self.number += 1;
            self.path = self.dir.join(TraceFile::name(self.number));
            self.file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io(&self.path))?;
            sync_dir(&self.dir)?;
            self.bytes = 0;
        }
        let payload = encode(r).map_err(|e| ProductionError::Io {
            path: self.path.clone(),
            source: e,
        })?;
        let mut line = Vec::with_capacity(12 + payload.len());
        line.extend_from_slice(MAGIC);
        line.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        line.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        line.extend_from_slice(&payload);
        let before = self.bytes;
        let res = self.file.write_all(&line).and_then(|_| self.file.sync_data());
        if let Err(e) = res {
            // leave no partial record behind for the next append to follow
            let _ = self.file.set_len(before);
            let _ = self.file.seek(std::io::SeekFrom::End(0));
            return Err(ProductionError::Io {
                path: self.path.clone(),
                source: e,
            });
        }
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Bytes of the genealogy files.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }
}

const MAGIC: &[u8; 4] = b"DTR1";

fn encode(r: &ChunkRecord) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    let mut z = flate2::write::DeflateEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::fast());
    z.write_all(&json)?;
    z.finish()
}

fn decode(payload: &[u8]) -> Option<ChunkRecord> {
    let mut json = Vec::new();
    flate2::read::DeflateDecoder::new(payload).read_to_end(&mut json).ok()?;
    serde_json::from_slice(&json).ok()
}

// ---------------------------------------------------------------------------------------------------------
// The in-memory index: segments per line

struct Segment {
    index: TraceIndex,
    units: usize,
    /// Units also in the line's previous segment (in the line across the boundary): counted once.
    overlap: usize,
    /// (first, last) chunk end time.
    first_ns: i64,
    last_ns: i64,
}

#[derive(Default)]
struct LineTrace {
    sealed: VecDeque<Segment>,
    /// The newest segment, rebuilt after each chunk from the logs the runtime keeps ([`LineRun::open_logs`]).
    open: Option<Segment>,
    /// Units dropped from memory by the bound.
    dropped_units: u64,
    dropped_until_ns: Option<i64>,
}

impl LineTrace {
    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.sealed.iter().chain(self.open.as_ref())
    }

    fn build(logs: &[(TraceLog, Vec<AlarmSpan>)], first_ns: i64, last_ns: i64) -> Segment {
        let mut b = TraceBuilder::new();
        for (log, alarms) in logs {
            b.add(log);
            for a in alarms {
                b.add_alarm(&a.asset, a.start_ns, a.end_ns);
            }
        }
        let index = b.finish();
        Segment {
            units: index.units(),
            overlap: 0,
            index,
            first_ns,
            last_ns,
        }
    }
}

/// Genealogy of every line, indexed for queries both ways (see the module docs).
pub struct Traces {
    lines: BTreeMap<String, LineTrace>,
    /// line of each asset
    asset_line: HashMap<String, String>,
    /// machines (station assets) of each line
    machines: BTreeMap<String, Vec<String>>,
    max_units: usize,
}

/// Units found by a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub total: usize,
    /// The first `limit` serials, ascending.
    pub serials: Vec<u64>,
    pub truncated: bool,
}

impl Found {
    fn of(mut v: Vec<u64>, limit: usize) -> Found {
        v.sort_unstable();
        v.dedup();
        let total = v.len();
        v.truncate(limit);
        Found {
            total,
            truncated: total > v.len(),
            serials: v,
        }
    }
}

impl Traces {
    fn new(plant: &Plant, lines: &[(String, LineConfig)], max_units: usize) -> Traces {
        let mut machines = BTreeMap::new();
        for (id, cfg) in lines {
            machines.insert(
                id.clone(),
                cfg.stations.iter().flat_map(|s| s.machines.iter().map(|m| m.asset.clone())).collect(),
            );
        }
        Traces {
            lines: lines.iter().map(|(id, _)| (id.clone(), LineTrace::default())).collect(),
            asset_line: plant.assets.iter().map(|a| (a.id.clone(), a.line.clone())).collect(),
            machines,
            max_units: max_units.max(1),
        }
    }

    /// Installs a line's newest segment: sealed (a new open one starts) or still open.
    fn install(&mut self, line: &str, mut seg: Segment, sealed: bool) {
        let Some(lt) = self.lines.get_mut(line) else { return };
        // units continued from the previous segment have serials up to its last one
        if let Some(prev_last) = lt.sealed.back().and_then(|p| p.index.serials().last().copied()) {
            seg.overlap = seg.index.serials().partition_point(|&s| s <= prev_last);
        }
        if sealed {
            lt.sealed.push_back(seg);
            lt.open = None;
            self.evict();
        } else {
            lt.open = Some(seg);
        }
    }

    /// Drops the oldest sealed segments while more than `max_units` units are indexed.
    fn evict(&mut self) {
        loop {
            if self.units() <= self.max_units {
                return;
            }
            let oldest = self.lines.iter().filter_map(|(id, l)| l.sealed.front().map(|s| (s.first_ns, id.clone()))).min();
            let Some((_, id)) = oldest else { return };
            if let Some(lt) = self.lines.get_mut(&id)
                && let Some(s) = lt.sealed.pop_front()
            {
                lt.dropped_units += (s.units - s.overlap) as u64;
                lt.dropped_until_ns = Some(s.last_ns);
                // the units it shared with the next segment now count there
                if let Some(next) = lt.sealed.front_mut().or(lt.open.as_mut()) {
                    lt.dropped_units -= next.overlap as u64;
                    next.overlap = 0;
                }
            }
        }
    }

    /// Units indexed (all lines; a unit in two segments counts once).
    pub fn units(&self) -> usize {
        self.lines.values().flat_map(|l| l.segments()).map(|s| s.units - s.overlap).sum()
    }

    /// Approximate bytes of the index.
    pub fn memory_bytes(&self) -> usize {
        self.lines.values().flat_map(|l| l.segments()).map(|s| s.index.memory_bytes()).sum()
    }

    /// The line of an asset.
    pub fn line_of(&self, asset: &str) -> Option<&str> {
        self.asset_line.get(asset).map(String::as_str)
    }

    /// Whether `asset` is a machine of a simulated station.
    pub fn is_machine(&self, asset: &str) -> bool {
        self.line_of(asset)
            .and_then(|l| self.machines.get(l))
            .is_some_and(|m| m.iter().any(|x| x == asset))
    }

    /// Everything about serial `serial`: the unit's record from its newest segment, visits, lots and quality
    /// results from all (a unit in the line across a segment boundary has parts in two).
    pub fn unit(&self, serial: u64) -> Option<(String, UnitGenealogy)> {
        for (id, lt) in &self.lines {
            let mut found: Option<UnitGenealogy> = None;
            for seg in lt.segments() {
                let Some(g) = seg.index.unit(serial) else { continue };
                found = Some(match found {
                    None => g,
                    Some(mut acc) => {
                        acc.visits.extend(g.visits);
                        acc.lots.extend(g.lots);
                        acc.quality.extend(g.quality);
                        acc.entered_ns = acc.entered_ns.or(g.entered_ns);
                        acc.exit_ns = g.exit_ns.or(acc.exit_ns);
                        acc.scrapped = g.scrapped || acc.scrapped;
                        acc
                    }
                });
            }
            if let Some(mut g) = found {
                g.visits.sort_by_key(|v| v.start_ns);
                g.visits.dedup();
                g.lots.sort();
                g.lots.dedup();
                g.quality.sort_by_key(|q| q.at_ns);
                return Some((id.clone(), g));
            }
        }
        None
    }

    /// Units processed by machine `asset` at some time in `[t0, t1)`.
    pub fn units_by_asset(&self, asset: &str, t0: i64, t1: i64, limit: usize) -> Found {
        let mut v = Vec::new();
        if let Some(lt) = self.line_of(asset).and_then(|l| self.lines.get(l)) {
            for seg in lt.segments() {
                v.extend(seg.index.units_by_asset(asset, t0, t1));
            }
        }
        Found::of(v, limit)
    }

    /// The merged alarm intervals of `asset` (twins' alarms and the simulator's).
    pub fn alarm_intervals(&self, asset: &str) -> Vec<(i64, i64)> {
        let mut iv: Vec<(i64, i64)> = Vec::new();
        if let Some(lt) = self.line_of(asset).and_then(|l| self.lines.get(l)) {
            for seg in lt.segments() {
                iv.extend_from_slice(seg.index.alarm_intervals(asset));
            }
        }
        iv.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (s, e) in iv {
            match out.last_mut() {
                Some(l) if s <= l.1 => l.1 = l.1.max(e),
                _ => out.push((s, e)),
            }
        }
        out
    }

    /// Units made while `asset` was in alarm: processed by it in its alarm intervals when it is a machine; for
    /// another asset of a line (a pump, a motor), processed by any of the line's machines meanwhile.
    pub fn units_in_alarm(&self, asset: &str, limit: usize) -> (Found, Vec<(i64, i64)>) {
        let iv = self.alarm_intervals(asset);
        let machines: Vec<String> = if self.is_machine(asset) {
            vec![asset.to_string()]
        } else {
            self.line_of(asset).and_then(|l| self.machines.get(l)).cloned().unwrap_or_default()
        };
        let mut v = Vec::new();
        if let Some(lt) = self.line_of(asset).and_then(|l| self.lines.get(l)) {
            for seg in lt.segments() {
                for m in &machines {
                    for &(s, e) in &iv {
                        v.extend(seg.index.units_by_asset(m, s, e));
                    }
                }
            }
        }
        (Found::of(v, limit), iv)
    }

    /// Units that consumed lot `lot`.
    pub fn units_with_lot(&self, lot: &str, limit: usize) -> Found {
        let mut v = Vec::new();
        for lt in self.lines.values() {
            for seg in lt.segments() {
                v.extend(seg.index.units_with_lot(lot));
            }
        }
        Found::of(v, limit)
    }

    /// Root cause of failures of quality check `check` on `line`, from the genealogy of its last `last` units
    /// that have the check (candidates: every process variable of the line's stations).
    pub fn root_cause(&self, line: &str, cfg: &LineConfig, check: &str, last: usize, rc: &RootCauseConfig) -> Result<(RootCauseReport, usize), LineError> {
        let Some(lt) = self.lines.get(line) else {
            return Err(LineError::UnknownLine(line.to_string()));
        };
        let candidates: Vec<(String, String)> = cfg
            .stations
            .iter()
            .flat_map(|s| s.process_vars.iter().map(move |v| (s.id.clone(), v.name.clone())))
            .collect();
        let mut serials: Vec<u64> = lt.segments().flat_map(|s| s.index.serials().iter().copied()).collect();
        serials.sort_unstable();
        serials.dedup();
        let mut units: Vec<UnitEvidence> = Vec::new();
        for &s in serials.iter().rev() {
            if units.len() >= last {
                break;
            }
            let Some((_, g)) = self.unit(s) else { continue };
            if let Some(e) = rootcause::evidence(&g, check, &candidates) {
                units.push(e);
            }
        }
        let n = units.len();
        let names: Vec<String> = candidates.iter().map(|(s, v)| format!("{s}.{v}")).collect();
        Ok((rootcause::rank_units(units, &names, rc)?, n))
    }

    /// Per line: units indexed, dropped from memory, and the time span indexed.
    pub fn summary(&self) -> Vec<serde_json::Value> {
        self.lines
            .iter()
            .map(|(id, lt)| {
                let units: usize = lt.segments().map(|s| s.units - s.overlap).sum();
                let span = lt
                    .segments()
                    .filter_map(|s| s.index.time_span())
                    .fold(None, |acc: Option<(i64, i64)>, (a, b)| Some(acc.map_or((a, b), |(x, y)| (x.min(a), y.max(b)))));
                let (lo, hi) = lt
                    .segments()
                    .filter_map(|s| Some((*s.index.serials().first()?, *s.index.serials().last()?)))
                    .fold((None, None), |(lo, hi): (Option<u64>, Option<u64>), (a, b)| {
                        (Some(lo.map_or(a, |x| x.min(a))), Some(hi.map_or(b, |x| x.max(b))))
                    });
                serde_json::json!({
                    "line": id, "units_indexed": units, "segments": lt.segments().count(),
                    "first_serial": lo, "last_serial": hi,
                    "from_ns": span.map(|s| s.0), "to_ns": span.map(|s| s.1),
                    "dropped_from_memory": lt.dropped_units, "dropped_until_ns": lt.dropped_until_ns,
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------------
// The runtime

struct LineRun {
    id: String,
    /// Index of the line in the plant's production lines (seeds).
    k: u64,
    base: LineConfig,
    state: Option<LineState>,
    end_ns: Option<i64>,
    chunks: u64,
    next_lot: u64,
    open_alarms: Vec<(String, String, i64)>,
    made: u64,
    good: u64,
    scrap: u64,
    last_chunk: Option<ChunkSummary>,
    open: OpenSegment,
    /// The calibrated reference of each station's process variables (per station, per variable).
    reference: Option<Vec<Vec<Option<f64>>>>,
}

/// The logs and alarm spans of a line's open index segment (only the production task touches them).
#[derive(Default)]
struct OpenSegment {
    logs: Vec<(TraceLog, Vec<AlarmSpan>)>,
    units: usize,
    first_ns: i64,
}

impl OpenSegment {
    /// Adds a chunk's genealogy; returns the segment to install (rebuilt when `build` or when it is full, then
    /// sealed).
    fn add(&mut self, log: TraceLog, alarms: Vec<AlarmSpan>, end_ns: i64, segment_units: usize, build: bool) -> Option<(Segment, bool)> {
        if self.logs.is_empty() {
            self.first_ns = end_ns;
        }
        self.units += log.units.len();
        self.logs.push((log, alarms));
        let sealed = self.units >= segment_units.max(1);
        if !(sealed || build) {
            return None;
        }
        let seg = LineTrace::build(&self.logs, self.first_ns, end_ns);
        if sealed {
            self.logs.clear();
            self.units = 0;
        }
        Some((seg, sealed))
    }
}

/// The last chunk of a line, for status answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkSummary {
    pub chunk: u64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub units_made: usize,
    pub good: u64,
    pub scrap: u64,
    pub in_line: usize,
    pub serial_base: u64,
    pub machines: Vec<MachineInput>,
}

struct Runtime {
    lines: Vec<LineRun>,
    next_serial: u64,
    file: Option<TraceFile>,
    recovery: Recovery,
    last_error: Option<String>,
}

/// The production twin of a server ([`AppState::production`]).
pub struct Production {
    plant: Arc<Plant>,
    settings: RwLock<ProductionSettings>,
    runtime: Mutex<Runtime>,
    traces: RwLock<Traces>,
    /// The production lines (id, configuration).
    lines: Vec<(String, LineConfig)>,
    /// One stepper at a time.
    stepping: Mutex<()>,
}

/// The lot of blanks number `n` of a line (the plant builder's naming).
fn lot_id(line: &str, n: u64) -> String {
    format!("{line}-blank-{n:05}")
}

fn chunk_seed(seed: u64, line: u64, chunk: u64) -> u64 {
    // SplitMix64 of the three, so neighbouring chunks get unrelated streams
    let mut z = seed ^ line.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ chunk.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Production {
    /// The production twin of `plant`'s lines (not running until [`Production::open`]).
    pub fn new(plant: Arc<Plant>) -> Production {
        let mut lines: Vec<(String, LineConfig)> = plant
            .lines()
            .filter_map(|(_, _, l)| production_line(&plant, &l.id).ok().map(|c| (l.id.clone(), c)))
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        let settings = ProductionSettings::default();
        let traces = Traces::new(&plant, &lines, settings.max_indexed_units);
        let runs = lines
            .iter()
            .enumerate()
            .map(|(k, (id, cfg))| LineRun {
                id: id.clone(),
                k: k as u64,
                base: cfg.clone(),
                state: None,
                end_ns: None,
                chunks: 0,
                next_lot: 1,
                open_alarms: Vec::new(),
                made: 0,
                good: 0,
                scrap: 0,
                last_chunk: None,
                open: OpenSegment::default(),
                reference: None,
            })
            .collect();
        Production {
            plant,
            settings: RwLock::new(settings),
            runtime: Mutex::new(Runtime {
                lines: runs,
                next_serial: 1,
                file: None,
                recovery: Recovery::default(),
                last_error: None,
            }),
            traces: RwLock::new(traces),
            lines,
            stepping: Mutex::new(()),
        }
    }

    /// The production lines and their configurations (plant-derived, without live health).
    pub fn lines(&self) -> &[(String, LineConfig)] {
        &self.lines
    }

    pub fn line_config(&self, line: &str) -> Option<&LineConfig> {
        self.lines.iter().find(|(id, _)| id == line).map(|(_, c)| c)
    }

    pub fn settings(&self) -> ProductionSettings {
        self.settings.read().clone()
    }

    /// Whether genealogy is being recorded.
    pub fn is_open(&self) -> bool {
        self.runtime.lock().file.is_some()
    }

    /// Read access to the genealogy index.
    pub fn traces(&self) -> parking_lot::RwLockReadGuard<'_, Traces> {
        self.traces.read()
    }

    /// Opens `dir` (`{data_dir}/trace`), rebuilds the index from its records and resumes every line from its
    /// last durable chunk. Blocking.
    pub fn open(&self, dir: &Path, settings: ProductionSettings) -> Result<Recovery, ProductionError> {
        let keep_after = settings
            .retention
            .map(|r| doppel_model::time::now() - i64::try_from(r.as_nanos()).unwrap_or(i64::MAX));
        let (file, records, recovery) = TraceFile::open(dir, keep_after)?;
        self.apply_records(records, &settings);
        let mut rt = self.runtime.lock();
        rt.file = Some(file);
        rt.recovery = recovery.clone();
        drop(rt);
        *self.settings.write() = settings;
        tracing::info!(
            records = recovery.records,
            units = self.traces.read().units(),
            truncated_bytes = recovery.truncated_bytes,
            corrupt = recovery.corrupt_records,
            "production twin: genealogy restored"
        );
        Ok(recovery)
    }

    /// The genealogy of a stopped server's `{data_dir}/trace`, read without changing it (no production runs).
    pub fn read_only(plant: Arc<Plant>, dir: &Path) -> Result<(Production, Recovery), ProductionError> {
        let (records, recovery) = TraceFile::read(dir)?;
        let p = Production::new(plant);
        let settings = ProductionSettings {
            enabled: false,
            max_indexed_units: usize::MAX,
            ..ProductionSettings::default()
        };
        p.apply_records(records, &settings);
        p.runtime.lock().recovery = recovery.clone();
        *p.settings.write() = settings;
        Ok((p, recovery))
    }

    /// Rebuilds the index and every line's state from `records` (in order).
    fn apply_records(&self, records: Vec<ChunkRecord>, settings: &ProductionSettings) {
        let mut traces = Traces::new(&self.plant, &self.lines, settings.max_indexed_units);
        let mut rt = self.runtime.lock();
        let mut last_end: HashMap<String, i64> = HashMap::new();
        rt.next_serial = 1;
        for run in &mut rt.lines {
            run.state = None;
            run.end_ns = None;
            run.chunks = 0;
            run.next_lot = 1;
            run.open_alarms.clear();
            run.made = 0;
            run.good = 0;
            run.scrap = 0;
            run.last_chunk = None;
            run.open = OpenSegment::default();
            run.reference = None;
        }
        for r in records {
            rt.next_serial = rt.next_serial.max(r.next_serial);
            let Some(run) = rt.lines.iter_mut().find(|l| l.id == r.line) else {
                tracing::warn!(line = %r.line, "genealogy of a line the plant no longer has: not indexed");
                continue;
            };
            run.state = Some(r.end_state.clone());
            run.end_ns = Some(r.end_ns);
            run.chunks = r.chunk;
            run.next_lot = r.next_lot;
            run.open_alarms = r.open_alarms.clone();
            if !r.references.is_empty() {
                run.reference = Some(unflatten(&run.base, &r.references));
            }
            run.made += r.units.len() as u64;
            run.good += r.good;
            run.scrap += r.scrap;
            last_end.insert(r.line.clone(), r.end_ns);
            let log = r.trace_log();
            if let Some((seg, sealed)) = run.open.add(log, r.alarms.clone(), r.end_ns, settings.segment_units, false) {
                traces.install(&r.line, seg, sealed);
            }
        }
        for run in &mut rt.lines {
            if let Some(end) = last_end.get(&run.id)
                && !run.open.logs.is_empty()
            {
                traces.install(&run.id, LineTrace::build(&run.open.logs, run.open.first_ns, *end), false);
            }
        }
        traces.evict();
        *self.traces.write() = traces;
    }

    /// The current state of a line (end of its last chunk) and when that was.
    pub fn current(&self, line: &str) -> Option<(LineState, i64)> {
        let rt = self.runtime.lock();
        let r = rt.lines.iter().find(|l| l.id == line)?;
        Some((r.state.clone()?, r.end_ns?))
    }

    /// Status of every line.
    pub fn status(&self) -> serde_json::Value {
        let rt = self.runtime.lock();
        let s = self.settings.read();
        let traces = self.traces.read();
        let lines: Vec<serde_json::Value> = rt
            .lines
            .iter()
            .map(|l| {
                serde_json::json!({
                    "line": l.id, "chunks": l.chunks, "simulated_until_ns": l.end_ns,
                    "units_made": l.made, "good": l.good, "scrap": l.scrap,
                    "in_line": l.state.as_ref().map_or(0, |s| s.units.len()),
                    "last_chunk": l.last_chunk,
                })
            })
            .collect();
        serde_json::json!({
            "running": rt.file.is_some(),
            "next_serial": rt.next_serial,
            "lines": lines,
            "index": {"units": traces.units(), "memory_bytes": traces.memory_bytes(), "max_units": s.max_indexed_units, "segment_units": s.segment_units, "lines": traces.summary()},
            "storage": {"files": rt.recovery.files, "records_at_start": rt.recovery.records, "truncated_bytes_at_start": rt.recovery.truncated_bytes,
                        "corrupt_records_at_start": rt.recovery.corrupt_records, "bytes": rt.file.as_ref().map(|f| f.disk_bytes())},
            "settings": {"min_chunk_s": s.min_chunk_s, "max_chunk_s": s.max_chunk_s, "max_catch_up_s": s.max_catch_up_s, "business_clock": s.business_clock},
            "last_error": rt.last_error,
        })
    }
}

/// The live health of every machine of `cfg` (from the prediction engine) applied to a copy.
pub fn with_live_health(state: &AppState, cfg: &LineConfig) -> LineConfig {
    let mut out = cfg.clone();
    let engine = state.predict.lock();
    for st in &mut out.stations {
        for m in &mut st.machines {
            if let Some(i) = state.plant.asset_position(&m.asset)
                && let Some(p) = engine.latest(i)
            {
                m.health = Health::from_twin(p.health_index, p.failure_probability_pct.map(|x| x / 100.0), p.horizon_h * 3600.0);
            }
        }
    }
    out
}

/// `cfg` starting from the line's current state as the production twin has it (units waiting at each station,
/// machines down with their remaining repair, set up for their product): the baseline of a what-if on the live
/// line. Without a production state, `cfg` unchanged.
pub fn with_current_state(cfg: &LineConfig, st: Option<&LineState>) -> LineConfig {
    let mut out = cfg.clone();
    let Some(st) = st else { return out };
    for s in &mut out.stations {
        s.initial_wip = st
            .units_at(&s.id)
            .into_iter()
            .map(|(product, count)| doppel_line::config::InitialUnits { product, count })
            .collect();
        for (k, m) in s.machines.iter_mut().enumerate() {
            if let Some(ms) = st.machines.iter().find(|x| x.station == s.id && x.machine == k) {
                m.down_for_s = ms.down_remaining_s;
                m.set_up_for = ms.last_product.clone();
            }
        }
    }
    out
}

/// `lines` as a factory whose lines draw their components from shared supplies named `{line}-{component}`
/// (the plant builder's `blank`s: `l1-blank`, lots `l1-blank-00001`…): `on_hand` lots at the start, then a
/// delivery every `every_h` hours (default: a lot's worth of the line's design rate, 10 % ahead), enough for
/// `horizon_s`. Lot delays ([`doppel_line::factory::FactoryChange::LotDelay`]) then act on a line's supply.
pub fn factory_of(lines: Vec<LineConfig>, id: &str, horizon_s: f64, on_hand: usize, every_h: Option<f64>) -> doppel_line::factory::FactoryConfig {
    let mut out = Vec::new();
    let mut shared = Vec::new();
    for mut l in lines {
        for comp in std::mem::take(&mut l.components) {
            let name = format!("{}-{}", l.id, comp.component);
            for s in &mut l.stations {
                for c in &mut s.consumes {
                    if c.component == comp.component {
                        c.component = name.clone();
                    }
                }
            }
            let size = comp.lots.first().map_or(500, |x| x.quantity);
            let unit_s = l.design_bottleneck().map_or(60.0, |b| l.capacity_cycle(b));
            let every_s = every_h.map_or(size as f64 * unit_s / 1.1, |h| h * 3600.0).max(60.0);
            let n = on_hand + (horizon_s / every_s).ceil() as usize + 1;
            shared.push(doppel_line::config::ComponentSupply {
                component: name.clone(),
                lots: (0..n)
                    .map(|k| Lot {
                        id: format!("{name}-{:05}", k + 1),
                        quantity: size,
                        arrival_s: if k < on_hand { 0.0 } else { (k + 1 - on_hand) as f64 * every_s },
                    })
                    .collect(),
            });
        }
        out.push(l);
    }
    doppel_line::factory::FactoryConfig {
        id: id.to_string(),
        lines: out,
        shared,
    }
}

/// The stored series of a machine's running signal (else its first signal).
fn clock_series(state: &AppState, asset: &str) -> Option<doppel_store::SeriesId> {
    let ai = state.plant.asset_position(asset)?;
    let a = &state.plant.assets[ai];
    let sig = a
        .running
        .as_ref()
        .map(|r| r.signal.as_str())
        .or_else(|| a.signals.first().map(|s| s.name.as_str()))?;
    state.ingestor.catalog().series(ai, a.signal_index(sig)?)
}

/// The line's plant time: the newest stored sample of its machines' running signals.
fn plant_now(state: &AppState, cfg: &LineConfig) -> Option<i64> {
    cfg.stations
        .iter()
        .flat_map(|s| &s.machines)
        .filter_map(|m| clock_series(state, &m.asset))
        .filter_map(|id| state.store.latest(id).ok().flatten())
        .map(|(ts, _)| ts)
        .max()
}

/// Earliest stored sample of the line's running signals in `[from, to)`.
fn first_data(state: &AppState, cfg: &LineConfig, from: i64, to: i64) -> Option<i64> {
    let mut first: Option<i64> = None;
    for m in cfg.stations.iter().flat_map(|s| &s.machines) {
        let Some(series) = clock_series(state, &m.asset) else { continue };
        // the first bucket with data, then its first point
        let t = state
            .store
            .query_downsampled(series, from, to, 512)
            .ok()
            .and_then(|d| d.buckets.first().map(|b| b.start))
            .and_then(|b0| state.store.query_raw(series, b0.max(from), to).ok())
            .and_then(|p| p.first().map(|x| x.0));
        if let Some(t) = t {
            first = Some(first.map_or(t, |f: i64| f.min(t)));
        }
    }
    first
}

/// A measured signal as (offset s, value) bins, each holding until the next.
type Bins = Vec<(f64, f64)>;

/// Twin alarms open at a moment: (asset, signal, since).
type OpenAlarms = Vec<(String, String, i64)>;

/// Width of the bins in which measured process signals become process conditions, seconds.
pub const CONDITION_BIN_S: f64 = 60.0;

/// A measured signal over `[t0, t1)` as sample-and-hold bin means of [`CONDITION_BIN_S`]: (offset from `t0`
/// in seconds, value) where each value holds until the next; the first from the last sample in the hour
/// before `t0` when the chunk starts without one. Empty without data.
fn signal_bins(state: &AppState, ai: usize, signal: &str, t0: i64, t1: i64) -> Vec<(f64, f64)> {
    let Some(si) = state.plant.assets[ai].signal_index(signal) else {
        return Vec::new();
    };
    let Some(series) = state.ingestor.catalog().series(ai, si) else {
        return Vec::new();
    };
    let pts = state.store.query_raw(series, t0, t1).unwrap_or_default();
    let mut out: Vec<(f64, f64)> = Vec::new();
    if pts.first().is_none_or(|p| p.0 > t0)
        && let Some(b) = state.store.query_raw(series, t0 - 3_600_000_000_000, t0).ok().and_then(|v| v.last().copied())
    {
        out.push((0.0, b.1));
    }
    let bin_ns = (CONDITION_BIN_S * 1e9) as i64;
    let mut k = 0;
    while k < pts.len() {
        let b = (pts[k].0 - t0) / bin_ns;
        let mut sum = 0.0;
        let mut n = 0.0;
        while k < pts.len() && (pts[k].0 - t0) / bin_ns == b {
            sum += pts[k].1;
            n += 1.0;
            k += 1;
        }
        out.push((b as f64 * CONDITION_BIN_S, sum / n));
    }
    out
}

/// Share of a stored running signal's samples in `[t0, t1)` at or below the threshold (None: no samples).
fn down_share(state: &AppState, ai: usize, t0: i64, t1: i64) -> Option<f64> {
    let a = &state.plant.assets[ai];
    let r = a.running.as_ref()?;
    let si = a.signal_index(&r.signal)?;
    let series = state.ingestor.catalog().series(ai, si)?;
    let pts = state.store.query_raw(series, t0, t1).ok()?;
    if pts.is_empty() {
        return None;
    }
    Some(pts.iter().filter(|p| p.1 <= r.above).count() as f64 / pts.len() as f64)
}

/// Alarm intervals of the line's assets in `[t0, t1)` from the stored alert events, continuing the alarms open
/// at `t0`; returns the spans and the alarms still open at `t1`.
fn alarm_spans(state: &AppState, line: &str, open: &[(String, String, i64)], t0: i64, t1: i64) -> Result<(Vec<AlarmSpan>, OpenAlarms), ProductionError> {
    let assets: Vec<String> = state.plant.line(line).map(|l| l.assets.clone()).unwrap_or_default();
    let evs = state.store.query_events(&doppel_store::EventFilter {
        start: t0,
        end: t1,
        kinds: Some(vec!["alert_raised".into(), "alert_downgraded".into(), "alert_cleared".into()]),
        subject: None,
        limit: 0,
        latest_first: false,
    })?;
    let mut open: BTreeMap<(String, String), i64> = open.iter().map(|(a, s, t)| ((a.clone(), s.clone()), *t)).collect();
    let mut spans = Vec::new();
    let mut evs: Vec<_> = evs.into_iter().filter(|e| assets.contains(&e.subject)).collect();
    evs.sort_by_key(|e| (e.ts, e.seq));
    for e in evs {
        let Ok(p) = serde_json::from_str::<serde_json::Value>(&e.payload) else {
            continue;
        };
        let signal = p["signal"].as_str().unwrap_or("").to_string();
        let key = (e.subject.clone(), signal);
        let level = p["level"].as_str().unwrap_or("");
        match (e.kind.as_str(), level) {
            ("alert_raised", "alarm") => {
                open.entry(key).or_insert(e.ts);
            }
            ("alert_downgraded", _) | ("alert_cleared", _) => {
                if let Some(s) = open.remove(&key) {
                    spans.push(AlarmSpan {
                        asset: key.0,
                        start_ns: s.max(t0),
                        end_ns: e.ts,
                    });
                }
            }
            _ => {}
        }
    }
    // still open at the end of the chunk: recorded up to it, carried into the next
    for ((a, _), s) in &open {
        spans.push(AlarmSpan {
            asset: a.clone(),
            start_ns: (*s).max(t0),
            end_ns: t1,
        });
    }
    Ok((spans, open.into_iter().map(|((a, s), t)| (a, s, t)).collect()))
}

fn flatten(cfg: &LineConfig, reference: &[Vec<Option<f64>>]) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for (si, st) in cfg.stations.iter().enumerate() {
        for (vi, v) in st.process_vars.iter().enumerate() {
            if let Some(r) = reference.get(si).and_then(|x| x.get(vi)).copied().flatten() {
                out.push((st.id.clone(), v.name.clone(), r));
            }
        }
    }
    out
}

fn unflatten(cfg: &LineConfig, refs: &[(String, String, f64)]) -> Vec<Vec<Option<f64>>> {
    cfg.stations
        .iter()
        .map(|st| {
            st.process_vars
                .iter()
                .map(|v| refs.iter().find(|r| r.0 == st.id && r.1 == v.name).map(|r| r.2))
                .collect()
        })
        .collect()
}

/// Simulates every line that is due (blocking: run it on a blocking thread). Returns the chunks made.
pub fn step(state: &AppState) -> Result<usize, ProductionError> {
    let prod = &state.production;
    let _one = prod.stepping.lock();
    let settings = prod.settings();
    if !settings.enabled {
        return Ok(0);
    }
    let mut made = 0;
    let n = prod.runtime.lock().lines.len();
    for li in 0..n {
        match step_line(state, &settings, li) {
            Ok(true) => made += 1,
            Ok(false) => {}
            Err(e) => {
                prod.runtime.lock().last_error = Some(e.to_string());
                return Err(e);
            }
        }
    }
    Ok(made)
}

/// Steps until every line has caught up with its plant time (blocking; tests and start-up).
pub fn catch_up(state: &AppState) -> Result<usize, ProductionError> {
    let mut total = 0;
    loop {
        let n = step(state)?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

fn step_line(state: &AppState, s: &ProductionSettings, li: usize) -> Result<bool, ProductionError> {
    let prod = &state.production;
    let (id, base, prev_end, prev_state, chunk, next_lot, open_alarms, k, reference) = {
        let rt = prod.runtime.lock();
        if rt.file.is_none() {
            return Err(ProductionError::NotOpen);
        }
        let r = &rt.lines[li];
        (
            r.id.clone(),
            r.base.clone(),
            r.end_ns,
            r.state.clone(),
            r.chunks + 1,
            r.next_lot,
            r.open_alarms.clone(),
            r.k,
            r.reference.clone(),
        )
    };
    let Some(now) = plant_now(state, &base) else { return Ok(false) };
    let min_ns = (s.min_chunk_s * 1e9) as i64;
    let max_ns = (s.max_chunk_s * 1e9) as i64;
    let catch_ns = (s.max_catch_up_s * 1e9) as i64;
    let mut start = match prev_end {
        Some(e) => e,
        None => first_data(state, &base, now - catch_ns, now + 1).unwrap_or(now),
    };
    if now - start < min_ns {
        if prev_end.is_none() && start == now {
            // nothing before now: production starts here
            let mut rt = prod.runtime.lock();
            rt.lines[li].end_ns.get_or_insert(now);
        }
        return Ok(false);
    }
    if now - start > catch_ns {
        tracing::warn!(line = %id, skipped_h = (now - start - catch_ns) as f64 / 3.6e12, "production twin: gap in the plant's data longer than the catch-up limit skipped");
        start = now - catch_ns;
    }
    let end = now.min(start + max_ns);
    let len_s = (end - start) as f64 * 1e-9;

    // the machines as the twins saw them
    let mut cfg = base.clone();
    let mut inputs = Vec::new();
    {
        let engine = state.predict.lock();
        let twins = state.twins.lock();
        for st in &mut cfg.stations {
            for m in &mut st.machines {
                let Some(ai) = state.plant.asset_position(&m.asset) else { continue };
                let p = engine.latest(ai);
                if let Some(p) = p {
                    m.health = Health::from_twin(p.health_index, p.failure_probability_pct.map(|x| x / 100.0), p.horizon_h * 3600.0);
                }
                let twin_down = matches!(
                    twins.operating_state(ai),
                    Some(doppel_twin::OperatingState::Down | doppel_twin::OperatingState::Idle)
                );
                inputs.push((ai, m.asset.clone(), p, twin_down));
            }
        }
    }
    // the measured process signals, per station, machine and variable
    let mut measured: Vec<Vec<Vec<Bins>>> = Vec::new();
    let mut mi = 0;
    for st in &cfg.stations {
        let mut per_machine = Vec::new();
        for _ in &st.machines {
            let ai = inputs[mi].0;
            mi += 1;
            let vars = st
                .process_vars
                .iter()
                .map(|v| {
                    let mut bins = signal_bins(state, ai, &v.name, start, end);
                    if bins.is_empty() {
                        let twins = state.twins.lock();
                        if let Some(x) = twins
                            .asset_state(ai)
                            .and_then(|a| a.signals.iter().find(|x| x.name == v.name).and_then(|x| x.last_value))
                        {
                            bins.push((0.0, x));
                        }
                    }
                    bins
                })
                .collect();
            per_machine.push(vars);
        }
        measured.push(per_machine);
    }
    // the reference of each variable (what quality effects read deviations from): calibrated from the first
    // chunk with data of that variable, the mean over the station's machines; the builder's value until then
    let mut reference = reference.unwrap_or_else(|| cfg.stations.iter().map(|st| vec![None; st.process_vars.len()]).collect());
    for (si, st) in cfg.stations.iter().enumerate() {
        for vi in 0..st.process_vars.len() {
            if reference[si][vi].is_none() {
                let vals: Vec<f64> = measured[si].iter().flat_map(|m| m[vi].iter().map(|x| x.1)).collect();
                if !vals.is_empty() {
                    reference[si][vi] = Some(vals.iter().sum::<f64>() / vals.len() as f64);
                }
            }
        }
    }
    let mut machine_inputs = Vec::new();
    let mut mi = 0;
    for (si, st) in cfg.stations.iter_mut().enumerate() {
        for (vi, v) in st.process_vars.iter_mut().enumerate() {
            if let Some(r) = reference.get(si).and_then(|x| x.get(vi)).copied().flatten() {
                v.mean = r;
            }
        }
        let names: Vec<String> = st.process_vars.iter().map(|v| v.name.clone()).collect();
        let means: Vec<f64> = st.process_vars.iter().map(|v| v.mean).collect();
        for (k, m) in st.machines.iter_mut().enumerate() {
            let (ai, asset, p, twin_down) = inputs[mi].clone();
            mi += 1;
            let down = down_share(state, ai, start, end).map_or(twin_down, |x| x > 0.5);
            if down {
                m.down_for_s = Some(len_s);
            }
            let mut conditions = Vec::new();
            for (vi, name) in names.iter().enumerate() {
                let bins = &measured[si][k][vi];
                // each bin's value holds until the next: the measured condition when a unit starts
                for (b, &(from, v)) in bins.iter().enumerate() {
                    let to = bins.get(b + 1).map_or(len_s + 1.0, |x| x.0);
                    st.process_vars[vi].drifts.push(Drift {
                        start_s: if b == 0 { 0.0 } else { from },
                        end_s: to,
                        ramp_s: 0.0,
                        delta: v - means[vi],
                        machine: Some(k),
                    });
                }
                let mean = if bins.is_empty() {
                    means[vi]
                } else {
                    bins.iter().map(|x| x.1).sum::<f64>() / bins.len() as f64
                };
                conditions.push((name.clone(), mean));
            }
            machine_inputs.push(MachineInput {
                asset,
                health_index: p.and_then(|p| p.health_index),
                failure_probability_pct: p.and_then(|p| p.failure_probability_pct),
                horizon_h: p.map(|p| p.horizon_h),
                down,
                conditions,
            });
        }
    }
    // lots: those on hand, then enough new ones for the chunk at the first station's fastest rate
    let mut next_lot = next_lot;
    for comp in &mut cfg.components {
        let mut lots = prev_state.as_ref().map(|st| st.lots_on_hand(&comp.component)).unwrap_or_default();
        let size = comp.lots.first().map_or(500, |l| l.quantity).max(1);
        let first = &cfg.stations[0];
        let per_unit = f64::from(first.consumes.iter().find(|c| c.component == comp.component).map_or(1, |c| c.per_unit));
        let rate = first.machines.len() as f64 / first.cycle.mean().max(1e-3);
        // enough on hand for the chunk at half again the first station's mean rate
        let need = (len_s * rate * per_unit * 1.5).ceil() as u64 + size;
        let mut have: u64 = lots.iter().map(|l| l.quantity).sum();
        while have < need {
            lots.push(Lot {
                id: lot_id(&id, next_lot),
                quantity: size,
                arrival_s: 0.0,
            });
            next_lot += 1;
            have += size;
        }
        comp.lots = lots;
    }
    let serial_base = prod.runtime.lock().next_serial;
    let seed = chunk_seed(s.seed, k, chunk);
    let opts = SimOptions {
        trace: true,
        end_state: true,
        start_ns: start,
        serial_base,
        ..SimOptions::new(seed, len_s, 0.0)
    };
    let sim = Simulator::new(&cfg)?;
    let run = match &prev_state {
        Some(st) => sim.run_from(&opts, st)?,
        None => sim.run(&opts)?,
    };
    let log = run.trace.clone().unwrap_or_default();
    let end_state = run.end_state.clone().unwrap_or_default();
    let (alarms, open_after) = alarm_spans(state, &id, &open_alarms, start, end)?;
    let mut record = ChunkRecord::new(
        &id,
        chunk,
        start,
        end,
        seed,
        serial_base,
        next_lot,
        &log,
        end_state.clone(),
        run.kpis.good,
        run.kpis.scrap,
    );
    record.machines = machine_inputs.clone();
    record.alarms = alarms.clone();
    record.open_alarms = open_after.clone();
    record.references = flatten(&base, &reference);
    let next_serial = record.next_serial;
    // durable before it counts
    {
        let mut rt = prod.runtime.lock();
        let Some(file) = rt.file.as_mut() else { return Err(ProductionError::NotOpen) };
        file.append(&record)?;
        rt.next_serial = next_serial;
        let r = &mut rt.lines[li];
        r.state = Some(end_state.clone());
        r.end_ns = Some(end);
        r.chunks = chunk;
        r.next_lot = next_lot;
        r.open_alarms = open_after;
        r.reference = Some(reference);
        r.made += log.units.len() as u64;
        r.good += run.kpis.good;
        r.scrap += run.kpis.scrap;
        r.last_chunk = Some(ChunkSummary {
            chunk,
            start_ns: start,
            end_ns: end,
            units_made: log.units.len(),
            good: run.kpis.good,
            scrap: run.kpis.scrap,
            in_line: end_state.units.len(),
            serial_base,
            machines: machine_inputs,
        });
        rt.last_error = None;
    }
    // index: rebuild the open segment (only this task touches the open logs), then swap it in
    let mut open = std::mem::take(&mut prod.runtime.lock().lines[li].open);
    let built = open.add(log, alarms, end, s.segment_units, true);
    prod.runtime.lock().lines[li].open = open;
    if let Some((seg, sealed)) = built {
        prod.traces.write().install(&id, seg, sealed);
    }
    tracing::debug!(line = %id, chunk, units = next_serial - serial_base, in_line = end_state.units.len(), "production chunk");
    Ok(true)
}

/// The production task: steps the lines every `poll`, on a blocking thread.
pub async fn run(state: Arc<AppState>) {
    loop {
        let poll = state.production.settings().poll;
        tokio::time::sleep(poll).await;
        let st = state.clone();
        match tokio::task::spawn_blocking(move || step(&st)).await {
            Ok(Ok(_)) => {}
            Ok(Err(ProductionError::NotOpen)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "production twin: chunk not simulated"),
            Err(e) => tracing::error!(error = %e, "production twin: task failed"),
        }
    }
}

/// Seconds of plant time from `now_ns` to `t_ns` on the business clock (see [`ProductionSettings::business_clock`]).
pub fn business_to_plant_s(t_ns: i64, business_now_ns: i64, business_clock: f64) -> f64 {
    (t_ns - business_now_ns) as f64 * 1e-9 * business_clock
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: &str, chunk: u64) -> ChunkRecord {
        ChunkRecord {
            v: 1,
            line: line.into(),
            chunk,
            start_ns: 0,
            end_ns: chunk as i64,
            seed: 1,
            serial_base: 0,
            next_serial: 0,
            next_lot: 1,
            machines: Vec::new(),
            alarms: Vec::new(),
            open_alarms: Vec::new(),
            references: Vec::new(),
            good: 0,
            scrap: 0,
            units: vec![StoredUnit(1, 0, 0, Some(1.0), None, false)],
            continued: Vec::new(),
            log: TraceLog::default(),
            end_state: LineState::default(),
        }
    }

    #[test]
    fn records_survive_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut f, recs, rec) = TraceFile::open(dir.path(), None).unwrap();
            assert!(recs.is_empty() && rec.records == 0);
            for k in 1..=3 {
                f.append(&record("l1", k)).unwrap();
            }
        }
        let path = dir.path().join(TraceFile::name(1));
        // a torn write: part of a record at the end
        let mut text = std::fs::read(&path).unwrap();
        let whole = text.len();
        let half = text[..whole / 5].to_vec();
        text.extend_from_slice(&half);
        std::fs::write(&path, &text).unwrap();
        let (mut f, recs, rec) = TraceFile::open(dir.path(), None).unwrap();
        assert_eq!(recs.iter().map(|r| r.chunk).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(rec.truncated_bytes as usize, half.len());
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, whole);
        assert!(recs[0].trace_log().units[0].exit_s.is_nan());
        f.append(&record("l1", 4)).unwrap();
        drop(f);
        // a bad record in the middle is skipped, the rest kept
        let mut text = std::fs::read(&path).unwrap();
        let first_len = u32::from_le_bytes([text[4], text[5], text[6], text[7]]) as usize;
        let second = 12 + first_len;
        text[second + 20] ^= 0x20;
        std::fs::write(&path, &text).unwrap();
        let (_, recs, rec) = TraceFile::open(dir.path(), None).unwrap();
        assert_eq!(recs.iter().map(|r| r.chunk).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!((rec.corrupt_records, rec.truncated_bytes), (1, 0));
    }

    #[test]
    fn production_lines_have_the_measured_signals_as_variables() {
        let plant = Plant::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap();
        let l1 = production_line(&plant, "l1").unwrap();
        let names: Vec<&str> = l1.stations[0].process_vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, vec!["spindle_temp", "spindle_load", "vibration"]);
        assert!(l1.stations[1].process_vars.iter().any(|v| v.name == "motor_current"));
        assert!(l1.stations.iter().flat_map(|s| &s.process_vars).all(|v| v.sd == 0.0));
        assert_eq!(l1.quality[0].effects[0].var, "spindle_temp");
        assert_eq!(chunk_seed(1, 0, 1), chunk_seed(1, 0, 1));
        assert_ne!(chunk_seed(1, 0, 1), chunk_seed(1, 0, 2));
    }
}
