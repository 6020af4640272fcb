//! Raw waveform captures: one durable file per captured frame.
//!
//! Waveform signals are not stored continuously (their features are, as ordinary series). Instead
//! the ingest side keeps *captures*: single frames taken periodically and around alarms. This module
//! stores them below `{store dir}/captures/{asset}/{signal}/`, one file per capture, named by the
//! time of its first sample: `{t0_ns:019}.dwc` (19 digits, so names sort by time and a listing
//! needs no file body).
//!
//! # File format (version 1, little-endian)
//!
//! ```text
//! offset    size  field
//!      0       8  magic "DPCAP001"
//!      8       4  u32 meta_len: bytes before the frame (24 + reason_len rounded up to a multiple of 8)
//!     12       4  u32 CRC-32 (IEEE) of the whole file except these four bytes
//!     16       4  u32 reason_len (1..=1024)
//!     20       4  reserved, 0
//!     24  reason  reason, UTF-8 ("periodic", "alarm:<detail>", "manual", ...), zero-padded to meta_len
//! meta_len   ...  one DWF1 frame with f32 samples (see docs/waveforms.md): 40-byte header + 4 * n bytes
//! ```
//!
//! [`CaptureStore::list`] reads only the first `meta_len + 40` bytes of each listed file (and its
//! size); [`CaptureStore::read`] reads the whole file and checks the CRC. A file is written to a
//! temporary name, fsynced, renamed over its final name and the directory is fsynced, so a capture
//! is durable when [`CaptureStore::write`] returns and a crash never leaves a partial capture
//! under a final name (stale temporary files are deleted by [`CaptureStore::open`]).
//!
//! This crate depends on no other doppel crate, so the DWF1 subset it writes and reads (f32 samples
//! only) is implemented here; a test checks its bytes against the example of docs/waveforms.md,
//! which `doppel_model::wave` checks too.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result, StoreError};
use crate::segment::ensure_dir;
use crate::wal::sync_dir;

/// Magic bytes at the start of every capture file.
pub const FILE_MAGIC: [u8; 8] = *b"DPCAP001";
/// Longest accepted capture reason, in bytes.
pub const MAX_REASON_LEN: usize = 1024;
/// Longest accepted asset or signal id (the plant file's id rule).
pub const MAX_ID_LEN: usize = 64;
/// File name extension of a capture.
pub const EXTENSION: &str = "dwc";

const META_FIXED: usize = 24;
const MAX_META_LEN: usize = META_FIXED + MAX_REASON_LEN;
const NAME_DIGITS: usize = 19;

// The DWF1 frame format (the f32 subset), as in `doppel_model::wave`.
const DWF_MAGIC: [u8; 4] = *b"DWF1";
const DWF_VERSION: u8 = 1;
const DWF_HEADER_LEN: usize = 40;
const DWF_ENCODING_F32: u8 = 0;
const DWF_FLAG_SHAFT_RPM: u8 = 0x01;
/// Largest number of samples in one frame (2^22).
pub const MAX_SAMPLES: usize = 4_194_304;
const MAX_SAMPLE_RATE_HZ: f64 = 1e6;
const MIN_T0_NS: i64 = 0;
/// 2200-12-31T23:59:59.999999999Z.
const MAX_T0_NS: i64 = 7_289_654_400_000_000_000 - 1;
const MAX_FILE_LEN: u64 = (MAX_META_LEN + DWF_HEADER_LEN + 4 * MAX_SAMPLES) as u64;

/// The waveform of one capture: the same fields as `doppel_model::wave::WaveFrame`.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureFrame {
    /// Time of the first sample, ns since the Unix epoch (UTC), within the years 1970 to 2200.
    pub t0_ns: i64,
    /// Sample rate in Hz, in `(0, 1e6]`.
    pub sample_rate_hz: f64,
    /// Shaft speed during the frame in rpm (finite, non-negative), if known.
    pub shaft_rpm: Option<f64>,
    /// The samples (1 to [`MAX_SAMPLES`], all finite), in the signal's unit.
    pub samples: Vec<f32>,
}

/// What is known about a stored capture without reading its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureMeta {
    /// Asset id.
    pub asset: String,
    /// Signal id.
    pub signal: String,
    /// Time of the first sample, ns since the Unix epoch (UTC).
    pub t0_ns: i64,
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
    /// Number of samples.
    pub n_samples: u32,
    /// Shaft speed in rpm, if known.
    pub shaft_rpm: Option<f64>,
    /// Why the capture was kept (`"periodic"`, `"alarm:<detail>"`, `"manual"`, ...).
    pub reason: String,
    /// Size of the capture file in bytes.
    pub bytes: u64,
}

/// What [`CaptureStore::enforce`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Channels (asset, signal) examined.
    pub channels: usize,
    /// Captures deleted because they were older than the age limit.
    pub removed_by_age: usize,
    /// Captures deleted (oldest first) to bring a channel under its byte limit.
    pub removed_by_size: usize,
    /// Bytes of the deleted files.
    pub bytes_removed: u64,
}

/// Raw waveform captures below one directory (`{store dir}/captures` when opened by
/// [`crate::Store::open`]). All methods take `&self`; writers of different channels (and of the
/// same channel) may run concurrently. Use one `CaptureStore` per directory.
#[derive(Debug)]
pub struct CaptureStore {
    dir: PathBuf,
    tmp_seq: AtomicU64,
}

/// Checks that `id` is a safe path segment: 1 to 64 ASCII letters, digits, `_` or `-` (the plant
/// file's id rule), so `..`, `/`, `\`, NUL and every other path trick are rejected.
fn check_id(field: &'static str, id: &str) -> Result<()> {
    let ok = !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        let shown: String = id.chars().take(80).collect();
        Err(StoreError::invalid(
            field,
            format!("{shown:?} is not a valid id: 1 to {MAX_ID_LEN} ASCII letters, digits, '_' or '-'"),
        ))
    }
}

fn is_valid_id(name: &str) -> bool {
    check_id("id", name).is_ok()
}

fn file_name(t0_ns: i64) -> String {
    format!("{t0_ns:0NAME_DIGITS$}.{EXTENSION}")
}

/// `t0_ns` of a final capture file name; `None` for temporary or foreign files.
fn parse_file_name(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_tmp_name(name: &str) -> bool {
    name.ends_with(".tmp")
}

fn check_frame(frame: &CaptureFrame) -> Result<()> {
    if !(MIN_T0_NS..=MAX_T0_NS).contains(&frame.t0_ns) {
        return Err(StoreError::invalid(
            "t0_ns",
            format!("{} ns is outside the years 1970 to 2200 ({MIN_T0_NS}..={MAX_T0_NS})", frame.t0_ns),
        ));
    }
    let rate = frame.sample_rate_hz;
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_SAMPLE_RATE_HZ) {
        return Err(StoreError::invalid(
            "sample_rate_hz",
            format!("{rate} Hz is not in (0, {MAX_SAMPLE_RATE_HZ:e}]"),
        ));
    }
    if let Some(rpm) = frame.shaft_rpm
        && !(rpm.is_finite() && rpm >= 0.0)
    {
        return Err(StoreError::invalid("shaft_rpm", format!("{rpm} rpm is not a finite, non-negative speed")));
    }
    let n = frame.samples.len();
    if !(1..=MAX_SAMPLES).contains(&n) {
        return Err(StoreError::invalid("samples", format!("{n} samples is not in 1..={MAX_SAMPLES}")));
    }
    if let Some((i, x)) = frame.samples.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(StoreError::invalid("samples", format!("sample {i} is not finite ({x})")));
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<()> {
    if reason.is_empty() || reason.len() > MAX_REASON_LEN {
        return Err(StoreError::invalid(
            "reason",
            format!("must be 1 to {MAX_REASON_LEN} bytes, got {}", reason.len()),
        ));
    }
    Ok(())
}

fn meta_len_for(reason_len: usize) -> usize {
    (META_FIXED + reason_len).next_multiple_of(8)
}

fn file_crc(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..12]);
    h.update(&bytes[16..]);
    h.finalize()
}

/// Encodes a validated frame as a capture file.
fn encode_file(frame: &CaptureFrame, reason: &str) -> Vec<u8> {
    let meta_len = meta_len_for(reason.len());
    let n = frame.samples.len();
    let mut b = Vec::with_capacity(meta_len + DWF_HEADER_LEN + 4 * n);
    b.extend_from_slice(&FILE_MAGIC);
    b.extend_from_slice(&(meta_len as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(reason.len() as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(reason.as_bytes());
    b.resize(meta_len, 0);
    encode_frame(frame, &mut b);
    let crc = file_crc(&b);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Appends a DWF1 frame with f32 samples (the frame is valid: see [`check_frame`]).
fn encode_frame(frame: &CaptureFrame, b: &mut Vec<u8>) {
    b.extend_from_slice(&DWF_MAGIC);
    b.push(DWF_VERSION);
    b.push(DWF_ENCODING_F32);
    b.push(if frame.shaft_rpm.is_some() { DWF_FLAG_SHAFT_RPM } else { 0 });
    b.push(0);
    b.extend_from_slice(&frame.t0_ns.to_le_bytes());
    b.extend_from_slice(&frame.sample_rate_hz.to_le_bytes());
    b.extend_from_slice(&frame.shaft_rpm.unwrap_or(f64::NAN).to_le_bytes());
    b.extend_from_slice(&(frame.samples.len() as u32).to_le_bytes());
    b.extend_from_slice(&0f32.to_le_bytes());
    for x in &frame.samples {
        b.extend_from_slice(&x.to_le_bytes());
    }
}

fn le<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[at..at + N]);
    a
}

/// The metadata record and frame header of a capture file.
struct Head {
    meta_len: usize,
    reason: String,
    t0_ns: i64,
    sample_rate_hz: f64,
    shaft_rpm: Option<f64>,
    n_samples: usize,
}

impl Head {
    fn body_offset(&self) -> usize {
        self.meta_len + DWF_HEADER_LEN
    }
}

/// Parses the head of a capture file: `bytes` holds at least the first `meta_len + 40` bytes of
/// a file of `file_len` bytes named for `name_t0`.
fn parse_head(path: &Path, bytes: &[u8], file_len: u64, name_t0: i64) -> Result<Head> {
    let bad = |offset: usize, reason: String| StoreError::corrupt(path, offset as u64, reason);
    let need = |offset: usize, expected: usize| {
        if bytes.len() < expected {
            Err(bad(offset, format!("truncated capture: {expected} bytes expected, {} present", bytes.len())))
        } else {
            Ok(())
        }
    };
    need(0, META_FIXED)?;
    if bytes[..8] != FILE_MAGIC {
        return Err(bad(0, format!("not a capture file: magic {:02x?}, expected \"DPCAP001\"", &bytes[..8])));
    }
    let meta_len = u32::from_le_bytes(le(bytes, 8)) as usize;
    let reason_len = u32::from_le_bytes(le(bytes, 16)) as usize;
    if !(1..=MAX_REASON_LEN).contains(&reason_len) || meta_len != meta_len_for(reason_len) {
        return Err(bad(8, format!("inconsistent metadata length {meta_len} for a reason of {reason_len} bytes")));
    }
    if le::<4>(bytes, 20) != [0; 4] {
        return Err(bad(20, "reserved bytes are not zero".into()));
    }
    need(meta_len, meta_len + DWF_HEADER_LEN)?;
    let reason = std::str::from_utf8(&bytes[META_FIXED..META_FIXED + reason_len])
        .map_err(|e| bad(META_FIXED + e.valid_up_to(), "reason is not UTF-8".into()))?
        .to_string();
    let h = &bytes[meta_len..meta_len + DWF_HEADER_LEN];
    let at = |off: usize| meta_len + off;
    if h[..4] != DWF_MAGIC {
        return Err(bad(at(0), format!("frame magic {:02x?}, expected \"DWF1\"", &h[..4])));
    }
    if h[4] != DWF_VERSION || h[5] != DWF_ENCODING_F32 || h[6] & !DWF_FLAG_SHAFT_RPM != 0 || h[7] != 0 {
        return Err(bad(at(4), format!("unsupported frame version/encoding/flags {:02x?}", &h[4..8])));
    }
    let t0_ns = i64::from_le_bytes(le(h, 8));
    if t0_ns != name_t0 {
        return Err(bad(at(8), format!("frame t0_ns {t0_ns} does not match the file name ({name_t0})")));
    }
    let sample_rate_hz = f64::from_le_bytes(le(h, 16));
    if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0 && sample_rate_hz <= MAX_SAMPLE_RATE_HZ) {
        return Err(bad(at(16), format!("sample_rate_hz {sample_rate_hz} out of range")));
    }
    let shaft_rpm = if h[6] & DWF_FLAG_SHAFT_RPM != 0 {
        let rpm = f64::from_le_bytes(le(h, 24));
        if !(rpm.is_finite() && rpm >= 0.0) {
            return Err(bad(at(24), format!("shaft_rpm {rpm} out of range")));
        }
        Some(rpm)
    } else {
        None
    };
    let n_samples = u32::from_le_bytes(le(h, 32)) as usize;
    if !(1..=MAX_SAMPLES).contains(&n_samples) {
        return Err(bad(at(32), format!("n_samples {n_samples} out of range")));
    }
    let head = Head {
        meta_len,
        reason,
        t0_ns,
        sample_rate_hz,
        shaft_rpm,
        n_samples,
    };
    let expected = (head.body_offset() + 4 * n_samples) as u64;
    if file_len != expected {
        let what = if file_len < expected {
            "truncated capture"
        } else {
            "trailing bytes after the frame"
        };
        return Err(bad(head.body_offset(), format!("{what}: {expected} bytes expected, {file_len} present")));
    }
    Ok(head)
}

fn meta_of(asset: &str, signal: &str, head: &Head, bytes: u64) -> CaptureMeta {
    CaptureMeta {
        asset: asset.to_string(),
        signal: signal.to_string(),
        t0_ns: head.t0_ns,
        sample_rate_hz: head.sample_rate_hz,
        n_samples: head.n_samples as u32,
        shaft_rpm: head.shaft_rpm,
        reason: head.reason.clone(),
        bytes,
    }
}

/// Opens a file for reading; `None` if it does not exist (for example deleted by retention).
fn open_existing(path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Names of the subdirectories of `dir` that are valid ids, sorted (empty if `dir` is missing).
fn id_dirs(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in entries {
        let ent = ent.at(dir)?;
        if let Some(name) = ent.file_name().to_str()
            && is_valid_id(name)
            && ent.file_type().at(ent.path())?.is_dir()
        {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// `(t0_ns, path)` of the capture files in a channel directory, oldest first. Temporary and
/// foreign files are skipped; a missing directory has none.
fn channel_files(dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in entries {
        let ent = ent.at(dir)?;
        if let Some(t0) = ent.file_name().to_str().and_then(parse_file_name) {
            out.push((t0, ent.path()));
        }
    }
    out.sort_unstable_by_key(|(t0, _)| *t0);
    Ok(out)
}

impl CaptureStore {
    /// Opens (or creates) the capture directory `dir` and deletes temporary files left by a crash.
    pub fn open(dir: impl AsRef<Path>) -> Result<CaptureStore> {
        let dir = dir.as_ref().to_path_buf();
        ensure_dir(&dir)?;
        for asset in id_dirs(&dir)? {
            let adir = dir.join(&asset);
            for signal in id_dirs(&adir)? {
                let cdir = adir.join(&signal);
                let mut removed = false;
                for ent in std::fs::read_dir(&cdir).at(&cdir)? {
                    let ent = ent.at(&cdir)?;
                    if ent.file_name().to_str().is_some_and(is_tmp_name) {
                        let p = ent.path();
                        std::fs::remove_file(&p).at(&p)?;
                        removed = true;
                    }
                }
                if removed {
                    sync_dir(&cdir)?;
                }
            }
        }
        Ok(CaptureStore {
            dir,
            tmp_seq: AtomicU64::new(0),
        })
    }

    /// The directory the captures live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn channel_dir(&self, asset: &str, signal: &str) -> Result<PathBuf> {
        check_id("asset", asset)?;
        check_id("signal", signal)?;
        Ok(self.dir.join(asset).join(signal))
    }

    /// Creates `dir` (a child of an existing directory) durably if it is missing.
    fn ensure_child_dir(dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io(dir, e)),
        }
        // Whoever created it, its entry must be durable before a capture inside it is reported.
        match dir.parent() {
            Some(p) => sync_dir(p),
            None => Ok(()),
        }
    }

    /// Stores a capture of `asset`/`signal` durably (temporary file, fsync, rename, directory
    /// fsync) before returning. Writing the same `(asset, signal, t0_ns)` again replaces the
    /// earlier capture (the last write wins). Rejects invalid ids, an empty or over-long reason
    /// and frames outside the DWF1 limits with [`StoreError::InvalidArgument`].
    pub fn write(&self, asset: &str, signal: &str, frame: &CaptureFrame, reason: &str) -> Result<CaptureMeta> {
        let cdir = self.channel_dir(asset, signal)?;
        check_reason(reason)?;
        check_frame(frame)?;
        let bytes = encode_file(frame, reason);
        Self::ensure_child_dir(&self.dir.join(asset))?;
        Self::ensure_child_dir(&cdir)?;
        let name = file_name(frame.t0_ns);
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = cdir.join(format!("{name}.{}-{seq}.tmp", std::process::id()));
        let path = cdir.join(&name);
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp).at(&tmp)?;
            f.write_all(&bytes).at(&tmp)?;
            f.sync_all().at(&tmp)?;
            drop(f);
            std::fs::rename(&tmp, &path).at(&path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(&cdir)?;
        Ok(CaptureMeta {
            asset: asset.to_string(),
            signal: signal.to_string(),
            t0_ns: frame.t0_ns,
            sample_rate_hz: frame.sample_rate_hz,
            n_samples: frame.samples.len() as u32,
            shaft_rpm: frame.shaft_rpm,
            reason: reason.to_string(),
            bytes: bytes.len() as u64,
        })
    }

    /// Reads the metadata of one capture file (its head only); `None` if it vanished.
    fn read_meta(&self, asset: &str, signal: &str, t0_ns: i64, path: &Path) -> Result<Option<CaptureMeta>> {
        let Some(f) = open_existing(path)? else {
            return Ok(None);
        };
        let file_len = f.metadata().at(path)?.len();
        let mut head = Vec::with_capacity(MAX_META_LEN + DWF_HEADER_LEN);
        f.take((MAX_META_LEN + DWF_HEADER_LEN) as u64).read_to_end(&mut head).at(path)?;
        let h = parse_head(path, &head, file_len, t0_ns)?;
        Ok(Some(meta_of(asset, signal, &h, file_len)))
    }

    /// Captures of `asset`/`signal` with `from_ns <= t0_ns < to_ns`, oldest first, at most `limit`
    /// of them (0 = no limit). Only the heads of the returned files are read. A capture file whose
    /// head is corrupt, or whose size does not match its head, is a [`StoreError::Corrupt`] naming
    /// the file. An unknown channel has no captures.
    pub fn list(&self, asset: &str, signal: &str, from_ns: i64, to_ns: i64, limit: usize) -> Result<Vec<CaptureMeta>> {
        let cdir = self.channel_dir(asset, signal)?;
        let mut out = Vec::new();
        for (t0, path) in channel_files(&cdir)? {
            if t0 < from_ns {
                continue;
            }
            if t0 >= to_ns || (limit > 0 && out.len() >= limit) {
                break;
            }
            if let Some(meta) = self.read_meta(asset, signal, t0, &path)? {
                out.push(meta);
            }
        }
        Ok(out)
    }

    /// The most recent capture of `asset`/`signal` (metadata only; see [`CaptureStore::read`]).
    pub fn latest(&self, asset: &str, signal: &str) -> Result<Option<CaptureMeta>> {
        let cdir = self.channel_dir(asset, signal)?;
        for (t0, path) in channel_files(&cdir)?.into_iter().rev() {
            if let Some(meta) = self.read_meta(asset, signal, t0, &path)? {
                return Ok(Some(meta));
            }
        }
        Ok(None)
    }

    /// Reads the capture of `asset`/`signal` whose first sample is at `t0_ns`, checking its CRC
    /// and every field. `None` if there is none; [`StoreError::Corrupt`] naming the file if it is
    /// damaged.
    pub fn read(&self, asset: &str, signal: &str, t0_ns: i64) -> Result<Option<(CaptureMeta, CaptureFrame)>> {
        let cdir = self.channel_dir(asset, signal)?;
        if !(MIN_T0_NS..=MAX_T0_NS).contains(&t0_ns) {
            return Ok(None);
        }
        let path = cdir.join(file_name(t0_ns));
        let Some(f) = open_existing(&path)? else {
            return Ok(None);
        };
        let file_len = f.metadata().at(&path)?.len();
        if file_len > MAX_FILE_LEN {
            return Err(StoreError::corrupt(
                &path,
                0,
                format!("file of {file_len} bytes is larger than any capture ({MAX_FILE_LEN})"),
            ));
        }
        let mut bytes = Vec::with_capacity(file_len as usize);
        f.take(MAX_FILE_LEN).read_to_end(&mut bytes).at(&path)?;
        let head = parse_head(&path, &bytes, bytes.len() as u64, t0_ns)?;
        let stored = u32::from_le_bytes(le(&bytes, 12));
        let actual = file_crc(&bytes);
        if stored != actual {
            return Err(StoreError::corrupt(
                &path,
                12,
                format!("CRC mismatch: stored {stored:#010x}, computed {actual:#010x}"),
            ));
        }
        let start = head.body_offset();
        let mut samples = Vec::with_capacity(head.n_samples);
        for (i, chunk) in bytes[start..].chunks_exact(4).enumerate() {
            let x = f32::from_le_bytes(le(chunk, 0));
            if !x.is_finite() {
                return Err(StoreError::corrupt(&path, (start + 4 * i) as u64, format!("sample {i} is not finite ({x})")));
            }
            samples.push(x);
        }
        let meta = meta_of(asset, signal, &head, bytes.len() as u64);
        let frame = CaptureFrame {
            t0_ns: head.t0_ns,
            sample_rate_hz: head.sample_rate_hz,
            shaft_rpm: head.shaft_rpm,
            samples,
        };
        Ok(Some((meta, frame)))
    }

    /// Every `(asset, signal)` that has a capture directory, sorted.
    pub fn channels(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for asset in id_dirs(&self.dir)? {
            for signal in id_dirs(&self.dir.join(&asset))? {
                out.push((asset.clone(), signal));
            }
        }
        Ok(out)
    }

    /// Applies retention to every channel, oldest captures first: deletes captures whose `t0_ns`
    /// is before `now_ns - max_age_ns`, then, while a channel's capture files take more than
    /// `max_bytes_per_channel` bytes, its oldest capture. `None` disables a limit. Works from file
    /// names and sizes only, so damaged captures age out too.
    pub fn enforce(&self, now_ns: i64, max_age_ns: Option<i64>, max_bytes_per_channel: Option<u64>) -> Result<RetentionReport> {
        let mut report = RetentionReport::default();
        let cutoff = max_age_ns.map(|age| now_ns.saturating_sub(age.max(0)));
        for (asset, signal) in self.channels()? {
            report.channels += 1;
            let cdir = self.dir.join(&asset).join(&signal);
            let mut files = Vec::new();
            for (t0, path) in channel_files(&cdir)? {
                match std::fs::metadata(&path) {
                    Ok(m) => files.push((t0, path, m.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(&path, e)),
                }
            }
            let mut total: u64 = files.iter().map(|(_, _, len)| len).sum();
            let mut removed = false;
            for (t0, path, len) in files {
                let by_age = cutoff.is_some_and(|c| t0 < c);
                let by_size = max_bytes_per_channel.is_some_and(|m| total > m);
                if !by_age && !by_size {
                    // Files are oldest first: the rest are newer and the total only shrinks.
                    break;
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        removed = true;
                        report.bytes_removed += len;
                        if by_age {
                            report.removed_by_age += 1;
                        } else {
                            report.removed_by_size += 1;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io(&path, e)),
                }
                total = total.saturating_sub(len);
            }
            if removed {
                sync_dir(&cdir)?;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// 2026-11-25T10:00:00Z.
    const T0: i64 = 1_795_600_800_000_000_000;
    const SEC: i64 = 1_000_000_000;

    fn frame(t0_ns: i64, n: usize) -> CaptureFrame {
        CaptureFrame {
            t0_ns,
            sample_rate_hz: 12_800.0,
            shaft_rpm: Some(1480.0),
            samples: (0..n).map(|i| (i as f32 * 0.01).sin()).collect(),
        }
    }

    fn open() -> (tempfile::TempDir, CaptureStore) {
        let dir = tempfile::tempdir().unwrap();
        let cs = CaptureStore::open(dir.path().join("captures")).unwrap();
        (dir, cs)
    }

    fn path_of(cs: &CaptureStore, asset: &str, signal: &str, t0: i64) -> PathBuf {
        cs.dir().join(asset).join(signal).join(file_name(t0))
    }

    #[test]
    fn frame_bytes_match_the_documented_example() {
        // The f32 hex dump of docs/waveforms.md (also checked in doppel_model::wave).
        let expected = "44 57 46 31 01 00 01 00 00 40 68 02 6a 41 eb 18 00 00 00 00 00 00 c9 40 00 00 00 00 00 20 97 40 \
                        04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 3f 00 00 80 be 00 00 80 3f";
        let f = CaptureFrame {
            samples: vec![0.0, 0.5, -0.25, 1.0],
            ..frame(T0, 0)
        };
        let mut b = Vec::new();
        encode_frame(&f, &mut b);
        let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(hex.join(" "), expected.split_whitespace().collect::<Vec<_>>().join(" "));
        // And the file layout: 24 + 8 ("periodic") = 32 bytes of metadata, then the frame.
        let file = encode_file(&f, "periodic");
        assert_eq!(&file[..8], b"DPCAP001");
        assert_eq!(u32::from_le_bytes(le(&file, 8)), 32);
        assert_eq!(&file[32..], &b[..]);
        assert_eq!(file_name(T0), "1795600800000000000.dwc");
        assert_eq!(file_name(5), "0000000000000000005.dwc");
    }

    #[test]
    fn write_list_read_round_trip() {
        let (_d, cs) = open();
        let a = frame(T0, 1000);
        let b = CaptureFrame {
            shaft_rpm: None,
            ..frame(T0 + 60 * SEC, 3)
        };
        let ma = cs.write("m1", "accel_de", &a, "periodic").unwrap();
        let mb = cs.write("m1", "accel_de", &b, "alarm:vibration warning").unwrap();
        assert_eq!(ma.bytes, 32 + 40 + 4000);
        assert_eq!(ma.bytes, std::fs::metadata(path_of(&cs, "m1", "accel_de", T0)).unwrap().len());
        let listed = cs.list("m1", "accel_de", i64::MIN, i64::MAX, 0).unwrap();
        assert_eq!(listed, vec![ma.clone(), mb.clone()]);
        assert_eq!(listed[1].reason, "alarm:vibration warning");
        assert_eq!(listed[1].shaft_rpm, None);
        assert_eq!(listed[0].n_samples, 1000);
        assert_eq!(cs.read("m1", "accel_de", T0).unwrap(), Some((ma, a)));
        assert_eq!(cs.read("m1", "accel_de", T0 + 60 * SEC).unwrap(), Some((mb.clone(), b)));
        assert_eq!(cs.latest("m1", "accel_de").unwrap(), Some(mb));
        assert_eq!(cs.read("m1", "accel_de", T0 + 1).unwrap(), None);
        assert_eq!(cs.read("m1", "accel_de", -1).unwrap(), None);
        assert_eq!(cs.read("m1", "other", T0).unwrap(), None);
        assert!(cs.list("nobody", "nothing", 0, i64::MAX, 0).unwrap().is_empty());
        assert_eq!(cs.latest("nobody", "nothing").unwrap(), None);
        assert_eq!(cs.channels().unwrap(), vec![("m1".to_string(), "accel_de".to_string())]);
    }

    #[test]
    fn list_is_sorted_half_open_and_limited() {
        let (_d, cs) = open();
        for k in [5i64, 1, 3, 2, 4, 0] {
            cs.write("p1", "accel", &frame(T0 + k * SEC, 4), "periodic").unwrap();
        }
        let t0s = |v: Vec<CaptureMeta>| v.iter().map(|m| (m.t0_ns - T0) / SEC).collect::<Vec<_>>();
        assert_eq!(t0s(cs.list("p1", "accel", i64::MIN, i64::MAX, 0).unwrap()), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(t0s(cs.list("p1", "accel", T0 + SEC, T0 + 4 * SEC, 0).unwrap()), vec![1, 2, 3]);
        assert_eq!(t0s(cs.list("p1", "accel", T0 + SEC, i64::MAX, 2).unwrap()), vec![1, 2]);
        assert_eq!(cs.latest("p1", "accel").unwrap().unwrap().t0_ns, T0 + 5 * SEC);
    }

    #[test]
    fn same_t0_is_replaced_last_write_wins() {
        let (_d, cs) = open();
        cs.write("m1", "accel_de", &frame(T0, 10), "periodic").unwrap();
        let second = CaptureFrame {
            samples: vec![7.0; 20],
            ..frame(T0, 0)
        };
        cs.write("m1", "accel_de", &second, "manual").unwrap();
        let listed = cs.list("m1", "accel_de", i64::MIN, i64::MAX, 0).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].reason, "manual");
        assert_eq!(cs.read("m1", "accel_de", T0).unwrap().unwrap().1, second);
        let names: Vec<_> = std::fs::read_dir(cs.dir().join("m1/accel_de"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind: {names:?}");
    }

    #[test]
    fn captures_survive_reopen_and_stale_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let f = frame(T0, 256);
        {
            let cs = CaptureStore::open(dir.path()).unwrap();
            cs.write("m1", "accel_de", &f, "periodic").unwrap();
        }
        // A crash in the middle of a write leaves a temporary file: never listed, removed at open.
        let tmp = dir.path().join("m1/accel_de").join(format!("{}.99-0.tmp", file_name(T0 + SEC)));
        std::fs::write(&tmp, b"partial").unwrap();
        let cs = CaptureStore::open(dir.path()).unwrap();
        assert!(!tmp.exists());
        std::fs::write(&tmp, b"partial").unwrap();
        assert_eq!(cs.list("m1", "accel_de", i64::MIN, i64::MAX, 0).unwrap().len(), 1);
        assert_eq!(cs.latest("m1", "accel_de").unwrap().unwrap().t0_ns, T0);
        assert_eq!(cs.read("m1", "accel_de", T0).unwrap().unwrap().1, f);
        // Foreign files are ignored too.
        std::fs::write(dir.path().join("m1/accel_de/notes.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("m1/accel_de/123.dwc"), b"short name").unwrap();
        assert_eq!(cs.list("m1", "accel_de", i64::MIN, i64::MAX, 0).unwrap().len(), 1);
    }

    #[test]
    fn hostile_ids_are_rejected() {
        let root = tempfile::tempdir().unwrap();
        let cs = CaptureStore::open(root.path().join("captures")).unwrap();
        let f = frame(T0, 4);
        let long = "x".repeat(MAX_ID_LEN + 1);
        let bad = ["", ".", "..", "../etc", "a/b", "/abs", "a\\b", "a\0b", "a b", "ä", "a.b", "C:", long.as_str()];
        for id in bad {
            for (asset, signal, field) in [(id, "ok", "asset"), ("ok", id, "signal")] {
                let e = cs.write(asset, signal, &f, "periodic").unwrap_err();
                assert!(matches!(e, StoreError::InvalidArgument { field: fl, .. } if fl == field), "{id:?}: {e}");
                assert!(cs.list(asset, signal, 0, i64::MAX, 0).is_err());
                assert!(cs.read(asset, signal, T0).is_err());
                assert!(cs.latest(asset, signal).is_err());
            }
        }
        // Nothing was created anywhere.
        let top: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(top, vec![std::ffi::OsString::from("captures")]);
        assert_eq!(std::fs::read_dir(cs.dir()).unwrap().count(), 0);
        cs.write(&"a".repeat(MAX_ID_LEN), "Sig_1-x", &f, "periodic").unwrap();
    }

    #[test]
    fn invalid_frames_and_reasons_are_rejected() {
        let (_d, cs) = open();
        let field = |f: &CaptureFrame, reason: &str| match cs.write("m1", "s", f, reason).unwrap_err() {
            StoreError::InvalidArgument { field, .. } => field,
            e => panic!("unexpected {e}"),
        };
        assert_eq!(field(&frame(T0, 0), "periodic"), "samples");
        assert_eq!(field(&frame(-1, 4), "periodic"), "t0_ns");
        assert_eq!(field(&frame(MAX_T0_NS + 1, 4), "periodic"), "t0_ns");
        assert_eq!(
            field(
                &CaptureFrame {
                    sample_rate_hz: 0.0,
                    ..frame(T0, 4)
                },
                "periodic"
            ),
            "sample_rate_hz"
        );
        assert_eq!(
            field(
                &CaptureFrame {
                    sample_rate_hz: 2e6,
                    ..frame(T0, 4)
                },
                "periodic"
            ),
            "sample_rate_hz"
        );
        assert_eq!(
            field(
                &CaptureFrame {
                    shaft_rpm: Some(-1.0),
                    ..frame(T0, 4)
                },
                "periodic"
            ),
            "shaft_rpm"
        );
        assert_eq!(
            field(
                &CaptureFrame {
                    samples: vec![1.0, f32::NAN],
                    ..frame(T0, 0)
                },
                "periodic"
            ),
            "samples"
        );
        assert_eq!(field(&frame(T0, 4), ""), "reason");
        assert_eq!(field(&frame(T0, 4), &"r".repeat(MAX_REASON_LEN + 1)), "reason");
        let m = cs.write("m1", "s", &frame(T0, 4), &"r".repeat(MAX_REASON_LEN)).unwrap();
        assert_eq!(cs.list("m1", "s", 0, i64::MAX, 0).unwrap(), vec![m]);
        assert!(cs.channels().unwrap().len() == 1);
    }

    fn corrupt_path(e: StoreError) -> PathBuf {
        match e {
            StoreError::Corrupt { path, .. } => path,
            e => panic!("expected Corrupt, got {e}"),
        }
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file() {
        let (_d, cs) = open();
        cs.write("m1", "a", &frame(T0, 100), "periodic").unwrap();
        let path = path_of(&cs, "m1", "a", T0);
        let good = std::fs::read(&path).unwrap();

        // Truncated: both list (size check) and read report it.
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        let e = cs.read("m1", "a", T0).unwrap_err();
        assert!(
            e.to_string().contains(&path.display().to_string()) && e.to_string().contains("truncated"),
            "{e}"
        );
        assert_eq!(corrupt_path(e), path);
        assert_eq!(corrupt_path(cs.list("m1", "a", 0, i64::MAX, 0).unwrap_err()), path);
        assert_eq!(corrupt_path(cs.latest("m1", "a").unwrap_err()), path);

        // Truncated inside the head.
        std::fs::write(&path, &good[..30]).unwrap();
        assert_eq!(corrupt_path(cs.list("m1", "a", 0, i64::MAX, 0).unwrap_err()), path);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(corrupt_path(cs.read("m1", "a", T0).unwrap_err()), path);

        // A flipped sample bit: the head is fine (list works), the CRC catches it on read.
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(cs.list("m1", "a", 0, i64::MAX, 0).unwrap().len(), 1);
        let e = cs.read("m1", "a", T0).unwrap_err();
        assert!(e.to_string().contains("CRC"), "{e}");
        assert_eq!(corrupt_path(e), path);

        // Trailing bytes, foreign content, a file renamed to another t0.
        std::fs::write(&path, [&good[..], b"junk"].concat()).unwrap();
        assert_eq!(corrupt_path(cs.read("m1", "a", T0).unwrap_err()), path);
        std::fs::write(&path, vec![b'x'; 5000]).unwrap();
        assert_eq!(corrupt_path(cs.read("m1", "a", T0).unwrap_err()), path);
        std::fs::write(&path, &good).unwrap();
        let moved = path_of(&cs, "m1", "a", T0 + SEC);
        std::fs::rename(&path, &moved).unwrap();
        let e = cs.read("m1", "a", T0 + SEC).unwrap_err();
        assert!(e.to_string().contains("does not match the file name"), "{e}");
        assert_eq!(corrupt_path(e), moved);

        // Retention still removes damaged captures (it looks at names and sizes only).
        let r = cs.enforce(T0 + 3600 * SEC, Some(60 * SEC), None).unwrap();
        assert_eq!(r.removed_by_age, 1);
        assert!(cs.list("m1", "a", 0, i64::MAX, 0).unwrap().is_empty());
    }

    #[test]
    fn retention_by_age_and_by_bytes() {
        let (_d, cs) = open();
        for k in 0..10 {
            cs.write("m1", "a", &frame(T0 + k * 60 * SEC, 100), "periodic").unwrap();
            cs.write("m2", "b", &frame(T0 + k * 60 * SEC, 100), "periodic").unwrap();
        }
        let size = cs.latest("m1", "a").unwrap().unwrap().bytes;
        // Keep the last 5 minutes (t0 >= now - 5 min): minutes 5..=9 of 0..=9 when now = minute 10.
        let now = T0 + 10 * 60 * SEC;
        let r = cs.enforce(now, Some(5 * 60 * SEC), None).unwrap();
        assert_eq!(
            r,
            RetentionReport {
                channels: 2,
                removed_by_age: 10,
                removed_by_size: 0,
                bytes_removed: 10 * size
            }
        );
        let left = cs.list("m1", "a", i64::MIN, i64::MAX, 0).unwrap();
        assert_eq!(left.first().unwrap().t0_ns, T0 + 5 * 60 * SEC);
        assert_eq!(left.len(), 5);
        // Byte limit: at most 2.5 captures' worth per channel keeps the newest 2.
        let r = cs.enforce(now, None, Some(size * 5 / 2)).unwrap();
        assert_eq!((r.removed_by_age, r.removed_by_size, r.bytes_removed), (0, 6, 6 * size));
        for (a, s) in [("m1", "a"), ("m2", "b")] {
            let t: Vec<i64> = cs.list(a, s, i64::MIN, i64::MAX, 0).unwrap().iter().map(|m| m.t0_ns).collect();
            assert_eq!(t, vec![T0 + 8 * 60 * SEC, T0 + 9 * 60 * SEC]);
        }
        // Nothing to do, and no limits at all.
        assert_eq!(cs.enforce(now, Some(i64::MAX), Some(u64::MAX)).unwrap().bytes_removed, 0);
        assert_eq!(cs.enforce(now, None, None).unwrap().bytes_removed, 0);
        // Both limits at once: age first, then size.
        let r = cs.enforce(T0 + 9 * 60 * SEC + 1, Some(1), Some(0)).unwrap();
        assert_eq!((r.removed_by_age, r.removed_by_size), (2, 2));
        assert!(cs.latest("m1", "a").unwrap().is_none());
    }

    #[test]
    fn concurrent_writers_of_different_channels() {
        let (_d, cs) = open();
        let cs = Arc::new(cs);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let cs = cs.clone();
                std::thread::spawn(move || {
                    for k in 0..20 {
                        let asset = format!("asset{}", t % 4);
                        let signal = format!("sig{t}");
                        cs.write(&asset, &signal, &frame(T0 + k * SEC, 64 + t as usize), "periodic").unwrap();
                        // The same channel as another thread's, same t0: last write wins, no error.
                        cs.write("shared", "s", &frame(T0 + k * SEC, 8), "periodic").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(cs.channels().unwrap().len(), 9);
        for t in 0..8 {
            let listed = cs.list(&format!("asset{}", t % 4), &format!("sig{t}"), i64::MIN, i64::MAX, 0).unwrap();
            assert_eq!(listed.len(), 20);
            assert!(listed.iter().all(|m| m.n_samples == 64 + t as u32));
            assert!(listed.windows(2).all(|w| w[0].t0_ns < w[1].t0_ns));
        }
        let shared = cs.list("shared", "s", i64::MIN, i64::MAX, 0).unwrap();
        assert_eq!(shared.len(), 20);
        for m in shared {
            cs.read("shared", "s", m.t0_ns).unwrap().unwrap();
        }
    }

    #[test]
    fn store_opens_captures_and_its_retention_ages_them_out() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::DAY_NS * 20_000;
        let cfg = crate::StoreConfig::new(dir.path()).with_retention(Some(std::time::Duration::from_secs(3600)));
        let f_old = frame(now - 2 * 3600 * SEC, 32);
        let f_new = frame(now - 60 * SEC, 32);
        {
            let store = crate::Store::open(cfg.clone()).unwrap();
            assert_eq!(store.captures().dir(), dir.path().join("captures"));
            store.captures().write("m1", "accel_de", &f_old, "periodic").unwrap();
            store.captures().write("m1", "accel_de", &f_new, "alarm:high").unwrap();
            store.close().unwrap();
        }
        let store = crate::Store::open(cfg).unwrap();
        assert_eq!(store.captures().list("m1", "accel_de", i64::MIN, i64::MAX, 0).unwrap().len(), 2);
        store.enforce_retention(now).unwrap();
        let left = store.captures().list("m1", "accel_de", i64::MIN, i64::MAX, 0).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].reason, "alarm:high");
        assert_eq!(store.captures().read("m1", "accel_de", f_new.t0_ns).unwrap().unwrap().1, f_new);
    }

    #[test]
    fn store_byte_limit_applies_without_age_retention() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::StoreConfig::new(dir.path()).with_capture_max_bytes_per_channel(Some(1));
        let store = crate::Store::open(cfg).unwrap();
        store.captures().write("m1", "a", &frame(T0, 8), "periodic").unwrap();
        store.captures().write("m1", "a", &frame(T0 + SEC, 8), "periodic").unwrap();
        assert_eq!(store.enforce_retention(T0 + 2 * SEC).unwrap(), 0);
        assert!(store.captures().latest("m1", "a").unwrap().is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn damaged_files_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<Option<usize>>()) {
            let (_d, cs) = open();
            cs.write("m1", "a", &frame(T0, 16), "alarm:x").unwrap();
            let path = path_of(&cs, "m1", "a", T0);
            let mut b = std::fs::read(&path).unwrap();
            for (at, v) in edits {
                let at = at % b.len();
                b[at] = v;
            }
            if let Some(c) = cut {
                b.truncate(c % (b.len() + 1));
            }
            std::fs::write(&path, &b).unwrap();
            match cs.read("m1", "a", T0) {
                Ok(Some((m, f))) => {
                    prop_assert_eq!(m.n_samples as usize, f.samples.len());
                    prop_assert!(f.samples.iter().all(|x| x.is_finite()));
                }
                Ok(None) => prop_assert!(false, "file exists"),
                Err(e) => prop_assert_eq!(corrupt_path(e), path.clone()),
            }
            if let Err(e) = cs.list("m1", "a", 0, i64::MAX, 0) {
                prop_assert_eq!(corrupt_path(e), path);
            }
        }
    }
}
