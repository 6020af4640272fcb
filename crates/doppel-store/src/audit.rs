//! Tamper-evident, append-only audit log: who did what to which asset, and when.
//!
//! # File format
//!
//! One JSON object per line (JSON Lines, UTF-8, `\n` after every record), fields always in this order:
//!
//! ```text
//! {"seq":1,"ts_ns":1795600800000000000,"actor":"alice","action":"recommendation.approve","subject":"l1-hyd-motor","detail":{"load":0.8},"prev":"000…000","hash":"3f9a…"}
//! ```
//!
//! * `seq` counts from 1 without gaps.
//! * `prev` is the `hash` of the record before (64 zeros for the first record).
//! * `hash` is the lowercase hex SHA-256 of the record's *canonical serialisation without its hash*:
//!   the compact JSON object `{"seq":…,"ts_ns":…,"actor":…,"action":…,"subject":…,"detail":…,"prev":…}` with
//!   the fields in that order, no whitespace, and the keys of every object inside `detail` sorted (by bytes).
//!   That text is exactly the line minus its trailing `,"hash":"<64 hex>"}`, plus the closing `}`, so anyone can
//!   check a line with a text tool and SHA-256, without re-serialising numbers.
//!
//! Because each record hashes its predecessor's hash, changing, deleting, inserting or reordering any record
//! breaks the chain at that record or the next; [`verify`] names the first bad line. Removing records *at the
//! end* of the file leaves a shorter, valid chain: to detect that, keep the head ([`VerifyReport::last_hash`],
//! [`AuditLog::last_hash`]) somewhere else (another system, a printed report) and compare. The chain has no
//! secret key, so it shows accidental damage and naive edits; someone who can rewrite the whole file can also
//! recompute every hash, which only an externally kept head reveals.
//!
//! # Durability and crashes
//!
//! [`AuditLog::append`] writes each line with one `write` and `fdatasync`s the file before it returns, so an
//! acknowledged record is on disk. A crash in the middle of a write can leave an incomplete last line (no
//! `\n`): [`AuditLog::open`] cuts it off and reports how many bytes it removed
//! ([`AuditLog::recovered_torn_bytes`]); that record had not been acknowledged. Every other defect is
//! [`AuditError::Corrupt`] naming the line, and the log does not open. [`verify`] reports an incomplete last line
//! as corruption too, since it cannot tell a crash from an edit.
//!
//! # Concurrency
//!
//! [`AuditLog`] holds an exclusive advisory lock (`flock`) on the file while it is open, so a second writer (in
//! this process or another) fails with [`AuditError::Locked`]. It starts no threads; share it between threads by
//! wrapping it in a `Mutex`. [`read`] and [`verify`] take no lock and may run while a writer appends: they
//! see the records complete when they read.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Largest record line, including its `\n`.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Deepest nesting of arrays and objects accepted in `detail` (the reader's JSON parser stops at 128).
pub const MAX_DETAIL_DEPTH: usize = 64;
/// Longest `actor`, `action` or `subject`, bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// Length of the `,"hash":"<64 hex>"}` suffix every line ends with (before its `\n`).
const HASH_SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;
const HASH_KEY: &[u8] = b",\"hash\":\"";

/// What the caller records; [`AuditLog::append`] adds `seq`, `prev` and `hash`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditInput {
    /// When it happened, ns since the Unix epoch (UTC).
    pub ts_ns: i64,
    /// Who did it: a user name, `policy:<name>` for an automatic policy, or `system`. Not empty.
    pub actor: String,
    /// What was done, dotted: `recommendation.approve`, `command.set_load`, `work_order.done`, `action.rollback`. Not empty.
    pub action: String,
    /// What it was done to: an asset id or another object's id (may be empty).
    pub subject: String,
    /// Anything else worth keeping (parameters, reason, result), as JSON.
    pub detail: Value,
}

/// One record of the log, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When it happened, ns since the Unix epoch (UTC).
    pub ts_ns: i64,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// Free-form JSON detail.
    pub detail: Value,
    /// Hash of the previous record ([`GENESIS_HASH`] for the first).
    pub prev: String,
    /// SHA-256 (lowercase hex) of this record's canonical serialisation without `hash`.
    pub hash: String,
}

/// Result of [`verify`]: the chain is intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of records (also the last `seq`).
    pub records: u64,
    /// Hash of the last record ([`GENESIS_HASH`] for an empty log): keep it elsewhere to detect a truncated file later.
    pub last_hash: String,
}

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading, writing or syncing `path` failed.
    #[error("audit log {path}: {source}")]
    Io {
        /// The log file (or its directory).
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an intact chain; `line` (from 1) is the first bad line.
    #[error("audit log {path}, line {line}: {reason}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// First bad line, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A field of an [`AuditInput`] was rejected; nothing was written.
    #[error("audit record field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Another [`AuditLog`] (in this or another process) has the file open.
    #[error("audit log {path} is already open for writing elsewhere")]
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// An earlier append failed part-way; the log takes no more records until it is opened again.
    #[error("audit log {path}: an earlier write failed; open the log again to recover")]
    Poisoned {
        /// The log file.
        path: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open audit log, ready to append. See the [module documentation](self) for the format and guarantees.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    /// Bytes of complete records: where the next record goes.
    len: u64,
    last_seq: u64,
    last_hash: String,
    /// Byte offset of the record with seq `i + 1`.
    offsets: Vec<u64>,
    torn: u64,
    poisoned: bool,
}

impl AuditLog {
    /// Opens the log at `path`, creating it (and its parent directory) if missing, and verifies the whole chain.
    ///
    /// An incomplete last line (a write cut short by a crash) is removed from the file; see
    /// [`AuditLog::recovered_torn_bytes`].
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] naming the first bad line when the chain is broken anywhere else,
    /// [`AuditError::Locked`] when another `AuditLog` has the file open, [`AuditError::Io`] on I/O failure.
    pub fn open(path: impl AsRef<Path>) -> Result<AuditLog, AuditError> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let existed = path.exists();
        let file = OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(AuditError::Locked { path }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        if !existed {
            // Make the new directory entry durable, so an acknowledged first record cannot vanish with its file.
            file.sync_all().map_err(io_err(&path))?;
            File::open(&dir).and_then(|d| d.sync_all()).map_err(io_err(&dir))?;
        }
        let scan = scan(&path, &file, |_| {})?;
        if scan.torn > 0 {
            file.set_len(scan.valid_len).map_err(io_err(&path))?;
            file.sync_data().map_err(io_err(&path))?;
        }
        Ok(AuditLog {
            path,
            file,
            len: scan.valid_len,
            last_seq: scan.records,
            last_hash: scan.last_hash,
            offsets: scan.offsets,
            torn: scan.torn,
            poisoned: false,
        })
    }

    /// Bytes of an incomplete last line that [`AuditLog::open`] removed (0 if the file ended cleanly). Such a
    /// line is a record whose append never returned; callers may want to log this.
    #[must_use]
    pub fn recovered_torn_bytes(&self) -> u64 {
        self.torn
    }

    /// The log file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `seq` of the last record (0 when empty).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Hash of the last record ([`GENESIS_HASH`] when empty).
    #[must_use]
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// Appends one record and returns it once it is durable (written with one `write`, then `fdatasync`ed).
    ///
    /// # Errors
    /// [`AuditError::Invalid`] (nothing written) when `actor` or `action` is empty, a name is longer than
    /// [`MAX_NAME_BYTES`], `detail` nests deeper than [`MAX_DETAIL_DEPTH`] or the record would exceed
    /// [`MAX_RECORD_BYTES`]. [`AuditError::Io`] when the write or sync fails: the log then cuts the file back to
    /// the last acknowledged record (best effort) and refuses further appends with [`AuditError::Poisoned`]
    /// until it is opened again.
    pub fn append(&mut self, entry: AuditInput) -> Result<AuditRecord, AuditError> {
        if self.poisoned {
            return Err(AuditError::Poisoned { path: self.path.clone() });
        }
        check_name("actor", &entry.actor, false)?;
        check_name("action", &entry.action, false)?;
        check_name("subject", &entry.subject, true)?;
        let seq = self.last_seq + 1;
        let mut line = unhashed_bytes(seq, &entry, &self.last_hash)?;
        let hash = sha256_hex(&line);
        line.pop();
        line.extend_from_slice(HASH_KEY);
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}\n");
        if line.len() > MAX_RECORD_BYTES {
            return Err(AuditError::Invalid {
                field: "detail",
                reason: format!("the record would be {} bytes, more than the limit of {MAX_RECORD_BYTES}", line.len()),
            });
        }
        if let Err(e) = self.file.write_all(&line).and_then(|()| self.file.sync_data()) {
            self.poisoned = true;
            // Best effort: leave no partial (or unacknowledged) line behind. If this fails too, the next open
            // removes a partial line; a complete one stays, as a record whose append reported an error.
            let _ = self.file.set_len(self.len).and_then(|()| self.file.sync_data());
            return Err(io_err(&self.path)(e));
        }
        self.offsets.push(self.len);
        self.len += line.len() as u64;
        self.last_seq = seq;
        let prev = std::mem::replace(&mut self.last_hash, hash.clone());
        Ok(AuditRecord {
            seq,
            ts_ns: entry.ts_ns,
            actor: entry.actor,
            action: entry.action,
            subject: entry.subject,
            detail: entry.detail,
            prev,
            hash,
        })
    }

    /// Records with `seq > since_seq`, oldest first, at most `limit` of them (0 = no limit). Reads them from the
    /// file (an index of line offsets is kept in memory) and checks each one's hash and its link to the record
    /// before it.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] when a record read back no longer matches (the file was changed since it was
    /// opened), [`AuditError::Io`] on I/O failure.
    pub fn records(&self, since_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, AuditError> {
        if since_seq >= self.last_seq {
            return Ok(Vec::new());
        }
        let want = if limit == 0 { usize::MAX } else { limit };
        // Start at the record before the first one wanted (when there is one): its hash checks the first one's `prev`.
        let first = since_seq.saturating_sub(1);
        let offset = self.offsets[first as usize];
        let mut file = File::open(&self.path).map_err(io_err(&self.path))?;
        file.seek(SeekFrom::Start(offset)).map_err(io_err(&self.path))?;
        let mut reader = BufReader::new(file.take(self.len - offset));
        let mut prev: Option<String> = (since_seq == 0).then(|| GENESIS_HASH.to_string());
        let mut line_no = first;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while out.len() < want {
            buf.clear();
            if read_line(&mut reader, &mut buf).map_err(io_err(&self.path))? == 0 {
                break;
            }
            line_no += 1;
            let Some(body) = buf.strip_suffix(b"\n") else {
                return Err(corrupt(&self.path, line_no, "incomplete line (the file was changed since it was opened)"));
            };
            let rec = check_line(body, line_no, prev.as_deref()).map_err(|r| corrupt(&self.path, line_no, r))?;
            prev = Some(rec.hash.clone());
            if line_no > since_seq {
                out.push(rec);
            }
        }
        Ok(out)
    }
}

/// Every record of the log at `path`, oldest first, after checking the whole chain. An incomplete last line
/// (an append in progress, or one torn by a crash) is not returned.
///
/// # Errors
/// [`AuditError::Corrupt`] naming the first bad line, [`AuditError::Io`] when the file cannot be read.
pub fn read(path: impl AsRef<Path>) -> Result<Vec<AuditRecord>, AuditError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    scan(path, &file, |r| out.push(r))?;
    Ok(out)
}

/// Checks the whole chain of the log at `path`: every line a well-formed record, every hash right, `seq`
/// counting from 1 without gaps and every `prev` equal to the hash before it. Detects a changed field, a
/// deleted, inserted or moved line, and an incomplete last line; see the module documentation for truncation.
///
/// # Errors
/// [`AuditError::Corrupt`] naming the first bad line, [`AuditError::Io`] when the file cannot be read.
pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, AuditError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(io_err(path))?;
    let scan = scan(path, &file, |_| {})?;
    if scan.torn > 0 {
        return Err(corrupt(
            path,
            scan.records + 1,
            format!("incomplete last line ({} bytes without a newline): a torn write or an edit", scan.torn),
        ));
    }
    Ok(VerifyReport {
        records: scan.records,
        last_hash: scan.last_hash,
    })
}

fn corrupt(path: &Path, line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// What a scan of a log file found.
struct Scan {
    records: u64,
    last_hash: String,
    /// Bytes of complete, valid records.
    valid_len: u64,
    /// Bytes after the last `\n` (an incomplete last line).
    torn: u64,
    offsets: Vec<u64>,
}

/// Reads records from `file` (positioned at the start of the log), checking each and the chain, calling `each`
/// for every record. Stops at the end of the file; bytes after the last `\n` are reported as `torn`.
fn scan(path: &Path, file: &File, mut each: impl FnMut(AuditRecord)) -> Result<Scan, AuditError> {
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut prev = GENESIS_HASH.to_string();
    let mut line_no: u64 = 0;
    let mut valid_len: u64 = 0;
    let mut offsets = Vec::new();
    let mut torn = 0;
    loop {
        buf.clear();
        let n = read_line(&mut reader, &mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let Some(body) = buf.strip_suffix(b"\n") else {
            if buf.len() > MAX_RECORD_BYTES {
                return Err(corrupt(path, line_no, format!("line longer than {MAX_RECORD_BYTES} bytes")));
            }
            torn = buf.len() as u64;
            line_no -= 1;
            break;
        };
        let rec = check_line(body, line_no, Some(&prev)).map_err(|r| corrupt(path, line_no, r))?;
        offsets.push(valid_len);
        valid_len += buf.len() as u64;
        prev.clone_from(&rec.hash);
        each(rec);
    }
    Ok(Scan {
        records: line_no,
        last_hash: prev,
        valid_len,
        torn,
        offsets,
    })
}

/// Reads one line (with its `\n`, if any) of at most [`MAX_RECORD_BYTES`] + 1 bytes into `buf`.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    reader.take(MAX_RECORD_BYTES as u64 + 1).read_until(b'\n', buf)
}

/// Checks one line (without its `\n`) as record number `line_no`: well-formed, hash right, `seq == line_no`
/// and, when given, `prev` equal to `expected_prev`. The error is the reason, without the line number.
fn check_line(body: &[u8], line_no: u64, expected_prev: Option<&str>) -> Result<AuditRecord, String> {
    if body.len() > MAX_RECORD_BYTES {
        return Err(format!("line longer than {MAX_RECORD_BYTES} bytes"));
    }
    let rec: AuditRecord = serde_json::from_slice(body).map_err(|e| format!("not a valid audit record: {e}"))?;
    let split = body.len().checked_sub(HASH_SUFFIX_LEN).ok_or("too short to be an audit record")?;
    let (unhashed, suffix) = body.split_at(split);
    let hex = &suffix[HASH_KEY.len()..HASH_KEY.len() + 64];
    if !suffix.starts_with(HASH_KEY) || !suffix.ends_with(b"\"}") || !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("`hash` must be the last field, written as 64 lowercase hex digits".into());
    }
    let mut hasher = Sha256::new();
    hasher.update(unhashed);
    hasher.update(b"}");
    let computed = to_hex(&hasher.finalize());
    if computed.as_bytes() != hex {
        return Err(format!("hash mismatch: the record hashes to {computed} but says {} (it was changed)", rec.hash));
    }
    if rec.seq != line_no {
        return Err(format!(
            "sequence number {} where {line_no} was expected (a record was deleted, inserted or moved)",
            rec.seq
        ));
    }
    if let Some(p) = expected_prev
        && rec.prev != p
    {
        return Err(format!(
            "`prev` {} is not the hash {p} of the record before (a record was deleted, inserted or moved)",
            rec.prev
        ));
    }
    Ok(rec)
}

fn check_name(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), AuditError> {
    if value.is_empty() && !may_be_empty {
        return Err(AuditError::Invalid {
            field,
            reason: "must not be empty".into(),
        });
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(AuditError::Invalid {
            field,
            reason: format!("{} bytes, more than the limit of {MAX_NAME_BYTES}", value.len()),
        });
    }
    Ok(())
}

/// The canonical serialisation of a record without its hash (see the module documentation).
fn unhashed_bytes(seq: u64, e: &AuditInput, prev: &str) -> Result<Vec<u8>, AuditError> {
    let mut out = String::with_capacity(256);
    let _ = write!(out, "{{\"seq\":{seq},\"ts_ns\":{},\"actor\":", e.ts_ns);
    push_json_string(&mut out, &e.actor);
    out.push_str(",\"action\":");
    push_json_string(&mut out, &e.action);
    out.push_str(",\"subject\":");
    push_json_string(&mut out, &e.subject);
    out.push_str(",\"detail\":");
    canonical_json(&e.detail, 0, &mut out)?;
    out.push_str(",\"prev\":\"");
    out.push_str(prev);
    out.push_str("\"}");
    Ok(out.into_bytes())
}

fn push_json_string(out: &mut String, s: &str) {
    // Serialising a `&str` to JSON cannot fail; `Value::String` displays as its JSON text.
    let _ = write!(out, "{}", Value::String(s.to_string()));
}

/// Compact JSON with the keys of every object sorted by bytes.
fn canonical_json(v: &Value, depth: usize, out: &mut String) -> Result<(), AuditError> {
    match v {
        Value::Array(_) | Value::Object(_) if depth >= MAX_DETAIL_DEPTH => Err(AuditError::Invalid {
            field: "detail",
            reason: format!("nested deeper than {MAX_DETAIL_DEPTH} levels"),
        }),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, depth + 1, out)?;
            }
            out.push(']');
            Ok(())
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, k);
                out.push(':');
                canonical_json(&map[k], depth + 1, out)?;
            }
            out.push('}');
            Ok(())
        }
        scalar => {
            let _ = write!(out, "{scalar}");
            Ok(())
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn input(i: u64) -> AuditInput {
        AuditInput {
            ts_ns: 1_795_600_800_000_000_000 + i as i64,
            actor: if i.is_multiple_of(2) { "alice".into() } else { "policy:derate".into() },
            action: "command.set_load".into(),
            subject: format!("asset-{i}"),
            detail: json!({"load": 0.8, "reason": "winding \"hot\"\n", "i": i}),
        }
    }

    fn log_with(n: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit").join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        for i in 0..n {
            log.append(input(i)).unwrap();
        }
        (dir, path)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    fn bad_line(r: Result<VerifyReport, AuditError>) -> (u64, String) {
        match r {
            Err(AuditError::Corrupt { line, reason, .. }) => (line, reason),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn appends_form_a_hash_chain_in_the_documented_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new-dir/audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!((log.last_seq(), log.last_hash()), (0, GENESIS_HASH));
        let a = log
            .append(AuditInput {
                ts_ns: 5,
                actor: "alice".into(),
                action: "recommendation.approve".into(),
                subject: "l1-hyd-motor".into(),
                detail: json!({"z": 1, "a": {"y": [1.5, null, true], "b": "x"}}),
            })
            .unwrap();
        let b = log.append(input(1)).unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(a.prev, GENESIS_HASH);
        assert_eq!(b.prev, a.hash);
        assert_eq!(log.last_hash(), b.hash);
        let text = lines(&path);
        // Fixed field order, compact, detail keys sorted; the hash covers the line without its hash field.
        let expected_unhashed = format!(
            r#"{{"seq":1,"ts_ns":5,"actor":"alice","action":"recommendation.approve","subject":"l1-hyd-motor","detail":{{"a":{{"b":"x","y":[1.5,null,true]}},"z":1}},"prev":"{GENESIS_HASH}"}}"#
        );
        assert_eq!(a.hash, sha256_hex(expected_unhashed.as_bytes()));
        assert_eq!(
            text[0],
            format!("{},\"hash\":\"{}\"}}", &expected_unhashed[..expected_unhashed.len() - 1], a.hash)
        );
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].detail, json!({"a": {"b": "x", "y": [1.5, null, true]}, "z": 1}));
        assert_eq!(back[1], b);
        let report = verify(&path).unwrap();
        assert_eq!(report, VerifyReport { records: 2, last_hash: b.hash });
    }

    #[test]
    fn reopening_continues_the_chain_and_records_pages() {
        let (_d, path) = log_with(5);
        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.recovered_torn_bytes(), 0);
        assert_eq!(log.last_seq(), 5);
        let r = log.append(input(5)).unwrap();
        assert_eq!(r.seq, 6);
        assert_eq!(verify(&path).unwrap().records, 6);
        let all = log.records(0, 0).unwrap();
        assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(all, read(&path).unwrap());
        assert_eq!(log.records(2, 3).unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(log.records(5, 10).unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6]);
        assert!(log.records(6, 10).unwrap().is_empty());
        assert_eq!(log.records(0, 1).unwrap()[0].seq, 1);
    }

    #[test]
    fn a_second_writer_is_refused() {
        let (_d, path) = log_with(1);
        let _first = AuditLog::open(&path).unwrap();
        assert!(matches!(AuditLog::open(&path), Err(AuditError::Locked { .. })));
    }

    #[test]
    fn a_torn_last_line_is_cut_off_on_open_and_reported_by_verify() {
        let (_d, path) = log_with(3);
        let full = std::fs::read(&path).unwrap();
        let mut torn = full.clone();
        torn.extend_from_slice(br#"{"seq":4,"ts_ns":1,"act"#);
        std::fs::write(&path, &torn).unwrap();
        let (line, reason) = bad_line(verify(&path));
        assert_eq!(line, 4);
        assert!(reason.contains("incomplete last line"), "{reason}");
        assert_eq!(read(&path).unwrap().len(), 3, "read skips a line still being written");
        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.recovered_torn_bytes(), (torn.len() - full.len()) as u64);
        assert_eq!(std::fs::read(&path).unwrap(), full);
        assert_eq!(log.append(input(3)).unwrap().seq, 4);
        assert_eq!(verify(&path).unwrap().records, 4);
    }

    #[test]
    fn a_modified_field_is_detected() {
        let (_d, path) = log_with(4);
        let mut l = lines(&path);
        l[2] = l[2].replace("\"asset-2\"", "\"asset-9\"");
        write_lines(&path, &l);
        let (line, reason) = bad_line(verify(&path));
        assert_eq!(line, 3);
        assert!(reason.contains("hash mismatch"), "{reason}");
        assert!(matches!(AuditLog::open(&path), Err(AuditError::Corrupt { line: 3, .. })));
    }

    #[test]
    fn deleted_reordered_and_inserted_lines_are_detected() {
        let (_d, path) = log_with(5);
        let original = lines(&path);

        let mut deleted = original.clone();
        deleted.remove(1);
        write_lines(&path, &deleted);
        let (line, reason) = bad_line(verify(&path));
        assert_eq!(line, 2);
        assert!(reason.contains("sequence number 3"), "{reason}");

        let mut first_deleted = original.clone();
        first_deleted.remove(0);
        write_lines(&path, &first_deleted);
        assert_eq!(bad_line(verify(&path)).0, 1);

        let mut swapped = original.clone();
        swapped.swap(2, 3);
        write_lines(&path, &swapped);
        assert_eq!(bad_line(verify(&path)).0, 3);

        let mut duplicated = original.clone();
        duplicated.insert(2, original[1].clone());
        write_lines(&path, &duplicated);
        assert_eq!(bad_line(verify(&path)).0, 3);

        // A forged record with a correct hash, seq and prev: the record after it no longer fits.
        let prev: AuditRecord = serde_json::from_str(&original[1]).unwrap();
        let mut forged = String::from_utf8(unhashed_bytes(3, &input(42), &prev.hash).unwrap()).unwrap();
        let hash = sha256_hex(forged.as_bytes());
        forged.pop();
        forged.push_str(&format!(",\"hash\":\"{hash}\"}}"));
        let mut inserted = original.clone();
        inserted.insert(2, forged);
        write_lines(&path, &inserted);
        let (line, reason) = bad_line(verify(&path));
        assert_eq!(line, 4);
        assert!(reason.contains("sequence number 3 where 4"), "{reason}");

        // An edit that keeps seq but recomputes the hash breaks the next record's `prev`.
        let mut rehashed = original.clone();
        let mut edited = String::from_utf8(unhashed_bytes(2, &input(77), &serde_json::from_str::<AuditRecord>(&original[0]).unwrap().hash).unwrap()).unwrap();
        let hash = sha256_hex(edited.as_bytes());
        edited.pop();
        edited.push_str(&format!(",\"hash\":\"{hash}\"}}"));
        rehashed[1] = edited;
        write_lines(&path, &rehashed);
        let (line, reason) = bad_line(verify(&path));
        assert_eq!(line, 3);
        assert!(reason.contains("`prev`"), "{reason}");

        write_lines(&path, &original);
        assert_eq!(verify(&path).unwrap().records, 5);
    }

    #[test]
    fn bad_input_is_rejected_before_anything_is_written() {
        let (_d, path) = log_with(1);
        let mut log = AuditLog::open(&path).unwrap();
        let mut e = input(1);
        e.actor.clear();
        assert!(matches!(log.append(e), Err(AuditError::Invalid { field: "actor", .. })));
        let mut e = input(1);
        e.action = "x".repeat(MAX_NAME_BYTES + 1);
        assert!(matches!(log.append(e), Err(AuditError::Invalid { field: "action", .. })));
        let mut deep = json!(1);
        for _ in 0..MAX_DETAIL_DEPTH {
            deep = json!([deep]);
        }
        let mut e = input(1);
        e.detail = deep.clone();
        log.append(e).unwrap();
        let mut e = input(2);
        e.detail = json!({ "k": deep });
        assert!(matches!(log.append(e), Err(AuditError::Invalid { field: "detail", .. })));
        let mut e = input(3);
        e.detail = json!("x".repeat(MAX_RECORD_BYTES));
        assert!(matches!(log.append(e), Err(AuditError::Invalid { field: "detail", .. })));
        assert_eq!(verify(&path).unwrap().records, 2);
        assert_eq!(read(&path).unwrap()[1].detail, deep);
    }

    #[test]
    fn an_empty_line_or_other_text_names_its_line() {
        let (_d, path) = log_with(2);
        let mut l = lines(&path);
        l.insert(1, String::new());
        write_lines(&path, &l);
        let (line, reason) = bad_line(verify(&path));
        assert_eq!(line, 2);
        assert!(reason.contains("not a valid audit record"), "{reason}");
        assert!(matches!(read(&path), Err(AuditError::Corrupt { line: 2, .. })));
    }

    fn arb_input() -> impl Strategy<Value = AuditInput> {
        (
            any::<i64>(),
            "[a-z:._-]{1,12}",
            "[a-z._]{1,20}",
            "\\PC{0,12}",
            proptest::collection::btree_map(
                "\\PC{1,6}",
                prop_oneof![any::<f64>().prop_map(|f| json!(f)), "\\PC{0,10}".prop_map(|s| json!(s))],
                0..4,
            ),
        )
            .prop_map(|(ts_ns, actor, action, subject, detail)| AuditInput {
                ts_ns,
                actor,
                action,
                subject,
                detail: json!(detail),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_single_byte_change_is_detected(entries in proptest::collection::vec(arb_input(), 1..6), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("a.jsonl");
            {
                let mut log = AuditLog::open(&path).unwrap();
                for e in entries.clone() {
                    log.append(e).unwrap();
                }
            }
            prop_assert_eq!(verify(&path).unwrap().records, entries.len() as u64);
            let mut bytes = std::fs::read(&path).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            std::fs::write(&path, &bytes).unwrap();
            let line_of_byte = bytes[..i].iter().filter(|b| **b == b'\n').count() as u64 + 1;
            match verify(&path) {
                Err(AuditError::Corrupt { line, .. }) => prop_assert!(line >= 1 && line <= line_of_byte + 1, "line {} for a change in line {}", line, line_of_byte),
                other => prop_assert!(false, "change at byte {} not detected: {:?}", i, other),
            }
        }

        #[test]
        fn reopening_after_appends_continues_the_chain(batches in proptest::collection::vec(proptest::collection::vec(arb_input(), 0..4), 1..4)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("a.jsonl");
            let mut all = Vec::new();
            for batch in batches {
                let mut log = AuditLog::open(&path).unwrap();
                prop_assert_eq!(log.last_seq(), all.len() as u64);
                for e in batch {
                    all.push(log.append(e).unwrap());
                }
            }
            let back = read(&path).unwrap();
            prop_assert_eq!(back.len(), all.len());
            for (b, a) in back.iter().zip(&all) {
                prop_assert_eq!((b.seq, &b.hash, &b.prev), (a.seq, &a.hash, &a.prev));
            }
            let report = verify(&path).unwrap();
            prop_assert_eq!(report.records, all.len() as u64);
            prop_assert_eq!(report.last_hash, all.last().map_or(GENESIS_HASH.to_string(), |r| r.hash.clone()));
        }
    }
}
