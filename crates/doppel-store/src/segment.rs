//! Parquet segment files: series segments, 1-minute rollups and event segments.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::basic::Compression;
use parquet::file::metadata::{KeyValue, PageIndexPolicy};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{IoContext, Result, StoreError};
use crate::memtable::MemPoint;
use crate::wal::sync_dir;
use crate::{Event, MINUTE_NS};

const INDEX_KEY: &str = "doppel.index";
const BATCH_ROWS: usize = 64 * 1024;

/// Which kind of Parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Series,
    Rollup,
    Events,
}

impl Kind {
    pub fn dir_name(self) -> &'static str {
        match self {
            Kind::Series => "series",
            Kind::Rollup => "rollup",
            Kind::Events => "events",
        }
    }
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

pub(crate) fn series_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series", dict_type(), false),
        Field::new("ts", ts_type(), false),
        Field::new("value", DataType::Float64, false),
        Field::new("context", DataType::UInt32, false),
    ]))
}

pub(crate) fn rollup_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series", dict_type(), false),
        Field::new("bucket_start", ts_type(), false),
        Field::new("min", DataType::Float64, false),
        Field::new("max", DataType::Float64, false),
        Field::new("sum", DataType::Float64, false),
        Field::new("count", DataType::UInt64, false),
        Field::new("last_value", DataType::Float64, false),
        Field::new("last_ts", ts_type(), false),
    ]))
}

pub(crate) fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::UInt64, false),
        Field::new("ts", ts_type(), false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("subject", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, false),
    ]))
}

fn props(row_group_rows: usize, dict_cols: &[&str]) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(row_group_rows));
    for c in dict_cols {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(*c), true)
            .set_column_statistics_enabled(ColumnPath::from(*c), EnabledStatistics::Page);
    }
    b = b.set_column_statistics_enabled(ColumnPath::from("ts"), EnabledStatistics::Page);
    b.build()
}

/// Per-series entry of a file's row index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// First row of the series in the file.
    pub start: u64,
    /// Number of rows.
    pub count: u64,
    /// Minimum timestamp (bucket start for rollups).
    pub min_ts: i64,
    /// Maximum timestamp (bucket start for rollups).
    pub max_ts: i64,
}

/// File name of a segment.
pub(crate) fn seg_name(order: u64, version: u32) -> String {
    format!("seg-{order:012}-{version:04}.parquet")
}

/// Parses `seg-<order>-<version>.parquet`.
pub(crate) fn parse_seg_name(name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_prefix("seg-")?.strip_suffix(".parquet")?;
    let (o, v) = rest.split_once('-')?;
    Some((o.parse().ok()?, v.parse().ok()?))
}

/// An opened Parquet file with cached footer metadata and its per-series index.
#[derive(Debug)]
pub(crate) struct ParquetFile {
    pub path: PathBuf,
    meta: ArrowReaderMetadata,
    pub index: HashMap<u32, IndexEntry>,
    /// Row offset of each row group plus total rows at the end.
    rg_starts: Vec<u64>,
}

impl ParquetFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).at(path)?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional))
            .map_err(|e| StoreError::parquet(path, e))?;
        let md = meta.metadata();
        let mut rg_starts = Vec::with_capacity(md.num_row_groups() + 1);
        let mut acc = 0u64;
        for rg in md.row_groups() {
            rg_starts.push(acc);
            acc += u64::try_from(rg.num_rows()).map_err(|_| StoreError::corrupt(path, 0, "negative row count"))?;
        }
        rg_starts.push(acc);
        let mut index = HashMap::new();
        if let Some(kvs) = md.file_metadata().key_value_metadata()
            && let Some(kv) = kvs.iter().find(|kv| kv.key == INDEX_KEY)
        {
            let text = kv.value.as_deref().unwrap_or("");
            for (lineno, line) in text.lines().enumerate() {
                let bad = || StoreError::corrupt(path, 0, format!("bad {INDEX_KEY} line {lineno}: {line:?}"));
                let f: Vec<&str> = line.split(' ').collect();
                if f.len() != 5 {
                    return Err(bad());
                }
                let sid: u32 = f[0].parse().map_err(|_| bad())?;
                let e = IndexEntry {
                    start: f[1].parse().map_err(|_| bad())?,
                    count: f[2].parse().map_err(|_| bad())?,
                    min_ts: f[3].parse().map_err(|_| bad())?,
                    max_ts: f[4].parse().map_err(|_| bad())?,
                };
                if e.start.checked_add(e.count).is_none_or(|end| end > acc) {
                    return Err(bad());
                }
                index.insert(sid, e);
            }
        }
        Ok(ParquetFile {
            path: path.to_path_buf(),
            meta,
            index,
            rg_starts,
        })
    }

    pub fn num_rows(&self) -> u64 {
        self.rg_starts.last().copied().unwrap_or(0)
    }

    /// Streams the rows `[entry.start, entry.start+count)` projected to columns `cols`.
    pub fn read_rows(&self, start: u64, count: u64, cols: &[usize], mut f: impl FnMut(&RecordBatch) -> Result<()>) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let end = start + count;
        let nrg = self.rg_starts.len() - 1;
        let rgs: Vec<usize> = (0..nrg).filter(|&i| self.rg_starts[i] < end && self.rg_starts[i + 1] > start).collect();
        let (Some(&first), Some(&last)) = (rgs.first(), rgs.last()) else {
            return Ok(());
        };
        let first_row = self.rg_starts[first];
        let last_row = self.rg_starts[last + 1];
        let mut sel = Vec::with_capacity(3);
        if start > first_row {
            sel.push(RowSelector::skip((start - first_row) as usize));
        }
        sel.push(RowSelector::select(count as usize));
        if last_row > end {
            sel.push(RowSelector::skip((last_row - end) as usize));
        }
        let file = File::open(&self.path).at(&self.path)?;
        let mask = ProjectionMask::roots(self.meta.parquet_schema(), cols.iter().copied());
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
            .with_projection(mask)
            .with_row_groups(rgs)
            .with_row_selection(RowSelection::from(sel))
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| StoreError::parquet(&self.path, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| StoreError::parquet(&self.path, e))?;
            f(&batch)?;
        }
        Ok(())
    }

    /// Reads all points of series `sid` with `start <= ts < end` (series files only).
    pub fn read_points(&self, sid: u32, start: i64, end: i64, out: &mut Vec<MemPoint>) -> Result<()> {
        let Some(e) = self.index.get(&sid).copied() else {
            return Ok(());
        };
        if e.max_ts < start || e.min_ts >= end {
            return Ok(());
        }
        let path = &self.path;
        self.read_rows(e.start, e.count, &[1, 2, 3], |b| {
            let ts = col::<TimestampNanosecondArray>(path, b, 0)?;
            let v = col::<Float64Array>(path, b, 1)?;
            let c = col::<UInt32Array>(path, b, 2)?;
            for i in 0..b.num_rows() {
                let t = ts.value(i);
                if t >= start && t < end {
                    out.push(MemPoint {
                        ts: t,
                        value: v.value(i),
                        context: c.value(i),
                    });
                }
            }
            Ok(())
        })
    }

    /// Reads all points of `sid` (used by compaction).
    pub fn read_all_points(&self, sid: u32, out: &mut Vec<MemPoint>) -> Result<()> {
        self.read_points(sid, i64::MIN, i64::MAX, out)
    }

    /// Reads rollup rows of `sid` with `start <= bucket_start < end` (rollup files only).
    pub fn read_rollups(&self, sid: u32, start: i64, end: i64, out: &mut Vec<RollupRow>) -> Result<()> {
        let Some(e) = self.index.get(&sid).copied() else {
            return Ok(());
        };
        if e.max_ts < start || e.min_ts >= end {
            return Ok(());
        }
        let path = &self.path;
        self.read_rows(e.start, e.count, &[1, 2, 3, 4, 5, 6, 7], |b| {
            let bs = col::<TimestampNanosecondArray>(path, b, 0)?;
            let mn = col::<Float64Array>(path, b, 1)?;
            let mx = col::<Float64Array>(path, b, 2)?;
            let sm = col::<Float64Array>(path, b, 3)?;
            let cn = col::<UInt64Array>(path, b, 4)?;
            let lv = col::<Float64Array>(path, b, 5)?;
            let lt = col::<TimestampNanosecondArray>(path, b, 6)?;
            for i in 0..b.num_rows() {
                let t = bs.value(i);
                if t >= start && t < end {
                    out.push(RollupRow {
                        bucket: t,
                        min: mn.value(i),
                        max: mx.value(i),
                        sum: sm.value(i),
                        count: cn.value(i),
                        last_value: lv.value(i),
                        last_ts: lt.value(i),
                    });
                }
            }
            Ok(())
        })
    }

    /// Reads every event of an events file.
    pub fn read_events(&self, out: &mut Vec<Event>) -> Result<()> {
        let path = &self.path;
        self.read_rows(0, self.num_rows(), &[0, 1, 2, 3, 4], |b| {
            let seq = col::<UInt64Array>(path, b, 0)?;
            let ts = col::<TimestampNanosecondArray>(path, b, 1)?;
            let kind = col::<StringArray>(path, b, 2)?;
            let subject = col::<StringArray>(path, b, 3)?;
            let payload = col::<StringArray>(path, b, 4)?;
            for i in 0..b.num_rows() {
                out.push(Event {
                    seq: seq.value(i),
                    ts: ts.value(i),
                    kind: kind.value(i).to_string(),
                    subject: subject.value(i).to_string(),
                    payload: payload.value(i).to_string(),
                });
            }
            Ok(())
        })
    }
}

fn col<'a, T: 'static>(path: &Path, b: &'a RecordBatch, i: usize) -> Result<&'a T> {
    b.columns()
        .get(i)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| StoreError::corrupt(path, 0, format!("unexpected type of column {i}")))
}

/// One 1-minute rollup row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RollupRow {
    pub bucket: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: u64,
    pub last_value: f64,
    pub last_ts: i64,
}

/// Computes 1-minute rollups of sorted, deduplicated points.
pub(crate) fn minute_rollups(points: &[MemPoint], out: &mut Vec<RollupRow>) {
    let mut cur: Option<RollupRow> = None;
    for p in points {
        let b = p.ts.div_euclid(MINUTE_NS) * MINUTE_NS;
        match &mut cur {
            Some(r) if r.bucket == b => {
                r.min = r.min.min(p.value);
                r.max = r.max.max(p.value);
                r.sum += p.value;
                r.count += 1;
                r.last_value = p.value;
                r.last_ts = p.ts;
            }
            _ => {
                if let Some(r) = cur.take() {
                    out.push(r);
                }
                cur = Some(RollupRow {
                    bucket: b,
                    min: p.value,
                    max: p.value,
                    sum: p.value,
                    count: 1,
                    last_value: p.value,
                    last_ts: p.ts,
                });
            }
        }
    }
    if let Some(r) = cur {
        out.push(r);
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Makes sure `dir` exists and its creation is durable.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).at(dir)?;
        if let Some(p) = dir.parent() {
            sync_dir(p)?;
            if let Some(pp) = p.parent() {
                sync_dir(pp)?;
            }
        }
    }
    Ok(())
}

/// Buffered Parquet writer that writes to `<path>.tmp` and renames durably on finish.
struct Durable {
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
}

impl Durable {
    fn create(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        if let Some(d) = path.parent() {
            ensure_dir(d)?;
        }
        let tmp = tmp_path(path);
        let file = File::create(&tmp).at(&tmp)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| StoreError::parquet(&tmp, e))?;
        Ok(Durable {
            path: path.to_path_buf(),
            tmp,
            writer,
            schema,
        })
    }

    fn write(&mut self, cols: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| StoreError::parquet(&self.tmp, e))?;
        self.writer.write(&batch).map_err(|e| StoreError::parquet(&self.tmp, e))
    }

    fn finish(mut self, index: Option<String>) -> Result<ParquetFile> {
        if let Some(ix) = index {
            self.writer.append_key_value_metadata(KeyValue::new(INDEX_KEY.to_string(), ix));
        }
        let file = self.writer.into_inner().map_err(|e| StoreError::parquet(&self.tmp, e))?;
        file.sync_all().at(&self.tmp)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).at(&self.path)?;
        if let Some(d) = self.path.parent() {
            sync_dir(d)?;
        }
        ParquetFile::open(&self.path)
    }
}

fn dict_column(keys: &[String], idx: Vec<i32>) -> Result<ArrayRef, arrow_schema::ArrowError> {
    let values = StringArray::from_iter_values(keys.iter());
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(idx), Arc::new(values))?))
}

fn ts_column(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
}

fn index_text(index: &[(u32, IndexEntry)]) -> String {
    let mut s = String::with_capacity(index.len() * 40);
    for (sid, e) in index {
        s.push_str(&format!("{sid} {} {} {} {}\n", e.start, e.count, e.min_ts, e.max_ts));
    }
    s
}

/// Writes a series segment; call `add_series` in ascending key order with sorted, deduplicated points.
pub(crate) struct SeriesWriter {
    out: Durable,
    keys: Vec<String>,
    key_idx: Vec<i32>,
    ts: Vec<i64>,
    vals: Vec<f64>,
    ctx: Vec<u32>,
    rows: u64,
    index: Vec<(u32, IndexEntry)>,
}

impl SeriesWriter {
    pub fn create(path: &Path, row_group_rows: usize) -> Result<Self> {
        Ok(SeriesWriter {
            out: Durable::create(path, series_schema(), props(row_group_rows, &["series"]))?,
            keys: Vec::new(),
            key_idx: Vec::new(),
            ts: Vec::new(),
            vals: Vec::new(),
            ctx: Vec::new(),
            rows: 0,
            index: Vec::new(),
        })
    }

    pub fn add_series(&mut self, sid: u32, key: &str, points: &[MemPoint]) -> Result<()> {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return Ok(());
        };
        self.index.push((
            sid,
            IndexEntry {
                start: self.rows,
                count: points.len() as u64,
                min_ts: first.ts,
                max_ts: last.ts,
            },
        ));
        self.rows += points.len() as u64;
        let mut rest = points;
        while !rest.is_empty() {
            let room = BATCH_ROWS - self.ts.len();
            let n = room.min(rest.len());
            let ki = self.keys.len() as i32;
            self.keys.push(key.to_string());
            for p in &rest[..n] {
                self.key_idx.push(ki);
                self.ts.push(p.ts);
                self.vals.push(p.value);
                self.ctx.push(p.context);
            }
            rest = &rest[n..];
            if self.ts.len() >= BATCH_ROWS {
                self.flush_batch()?;
            }
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.ts.is_empty() {
            return Ok(());
        }
        let keys = std::mem::take(&mut self.keys);
        let series = dict_column(&keys, std::mem::take(&mut self.key_idx)).map_err(|e| StoreError::parquet(&self.out.tmp, e))?;
        let cols: Vec<ArrayRef> = vec![
            series,
            ts_column(std::mem::take(&mut self.ts)),
            Arc::new(Float64Array::from(std::mem::take(&mut self.vals))),
            Arc::new(UInt32Array::from(std::mem::take(&mut self.ctx))),
        ];
        self.out.write(cols)
    }

    pub fn finish(mut self) -> Result<ParquetFile> {
        self.flush_batch()?;
        let ix = index_text(&self.index);
        self.out.finish(Some(ix))
    }
}

/// Writes a rollup file; call `add_series` in ascending key order.
pub(crate) struct RollupWriter {
    out: Durable,
    keys: Vec<String>,
    key_idx: Vec<i32>,
    rows_buf: Vec<RollupRow>,
    rows: u64,
    index: Vec<(u32, IndexEntry)>,
}

impl RollupWriter {
    pub fn create(path: &Path, row_group_rows: usize) -> Result<Self> {
        Ok(RollupWriter {
            out: Durable::create(path, rollup_schema(), props(row_group_rows, &["series"]))?,
            keys: Vec::new(),
            key_idx: Vec::new(),
            rows_buf: Vec::new(),
            rows: 0,
            index: Vec::new(),
        })
    }

    pub fn add_series(&mut self, sid: u32, key: &str, rows: &[RollupRow]) -> Result<()> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(());
        };
        self.index.push((
            sid,
            IndexEntry {
                start: self.rows,
                count: rows.len() as u64,
                min_ts: first.bucket,
                max_ts: last.bucket,
            },
        ));
        self.rows += rows.len() as u64;
        let ki = self.keys.len() as i32;
        self.keys.push(key.to_string());
        self.key_idx.extend(std::iter::repeat_n(ki, rows.len()));
        self.rows_buf.extend_from_slice(rows);
        if self.rows_buf.len() >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.rows_buf.is_empty() {
            return Ok(());
        }
        let keys = std::mem::take(&mut self.keys);
        let rows = std::mem::take(&mut self.rows_buf);
        let series = dict_column(&keys, std::mem::take(&mut self.key_idx)).map_err(|e| StoreError::parquet(&self.out.tmp, e))?;
        let cols: Vec<ArrayRef> = vec![
            series,
            ts_column(rows.iter().map(|r| r.bucket).collect()),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.min))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.max))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.sum))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.count))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.last_value))),
            ts_column(rows.iter().map(|r| r.last_ts).collect()),
        ];
        self.out.write(cols)
    }

    pub fn finish(mut self) -> Result<ParquetFile> {
        self.flush_batch()?;
        let ix = index_text(&self.index);
        self.out.finish(Some(ix))
    }
}

/// Writes an events file (events sorted by seq).
pub(crate) fn write_events(path: &Path, events: &[Event], row_group_rows: usize) -> Result<ParquetFile> {
    let mut out = Durable::create(path, events_schema(), props(row_group_rows, &["kind", "subject"]))?;
    for chunk in events.chunks(BATCH_ROWS) {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(chunk.iter().map(|e| e.seq))),
            ts_column(chunk.iter().map(|e| e.ts).collect()),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.kind.as_str()))),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.subject.as_str()))),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.payload.as_str()))),
        ];
        out.write(cols)?;
    }
    out.finish(None)
}

/// Removes leftover `*.tmp` files below `dir` (crash during a segment write).
pub(crate) fn remove_tmp_files(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for ent in std::fs::read_dir(dir).at(dir)? {
        let p = ent.at(dir)?.path();
        if p.is_dir() {
            remove_tmp_files(&p)?;
        } else if p.extension().is_some_and(|e| e == "tmp") {
            std::fs::remove_file(&p).at(&p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_segment_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series/day=1970-01-01").join(seg_name(1, 0));
        let mut w = SeriesWriter::create(&path, 1024).unwrap();
        let pts = |n: i64, off: f64| -> Vec<MemPoint> {
            (0..n)
                .map(|i| MemPoint {
                    ts: i * 1000,
                    value: i as f64 + off,
                    context: i as u32,
                })
                .collect()
        };
        w.add_series(7, "a", &pts(3000, 0.0)).unwrap();
        w.add_series(3, "b", &pts(10, 0.5)).unwrap();
        w.add_series(9, "c", &pts(5000, 0.25)).unwrap();
        let f = w.finish().unwrap();
        assert_eq!(f.num_rows(), 8010);
        let mut out = Vec::new();
        f.read_points(3, i64::MIN, i64::MAX, &mut out).unwrap();
        assert_eq!(out, pts(10, 0.5));
        out.clear();
        f.read_points(9, 1000, 4000, &mut out).unwrap();
        assert_eq!(out, pts(4, 0.25)[1..].to_vec());
        let reopened = ParquetFile::open(&path).unwrap();
        assert_eq!(reopened.index, f.index);
        assert_eq!(parse_seg_name(&seg_name(42, 3)), Some((42, 3)));
    }
}
