//! Benchmarks: durable ingest, PostgreSQL `COPY` baseline and a 30-day downsampling query.
//!
//! These are plain functions so the CLI (`doppel bench store`) can run them; they create
//! their data in the directory given (or a fresh temporary directory) and print nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{StoreConfig, SyncMode};
use crate::error::{Result, StoreError};
use crate::{DAY_NS, Sample, SeriesId, Store, day_string};

/// Result of an ingest benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// What was measured.
    pub name: String,
    /// Rows (samples) ingested.
    pub rows: u64,
    /// Wall time measured.
    pub elapsed: Duration,
    /// `rows / elapsed`.
    pub samples_per_sec: f64,
    /// Free-form details (group commits, segments, settings).
    pub details: String,
}

/// Result of [`query_benchmark`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryBenchResult {
    /// Samples of the queried series.
    pub samples: u64,
    /// Samples written in total (all series).
    pub total_samples: u64,
    /// Time to write and flush the data.
    pub write_time: Duration,
    /// Time of the compaction.
    pub compact_time: Duration,
    /// Buckets returned.
    pub buckets: usize,
    /// Bucket width (ns).
    pub step_ns: i64,
    /// Median latency of `query_downsampled` over the runs.
    pub median: Duration,
    /// All run latencies.
    pub runs: Vec<Duration>,
}

/// Base timestamp of generated rows: 2026-11-01T00:00:00Z.
pub const BENCH_BASE_TS: i64 = 20_758 * DAY_NS;

/// The deterministic rows shared by both ingest benchmarks: row `k` belongs to series
/// `k % series_count` with timestamp `base + (k / series_count)` seconds (1 Hz per series).
pub fn bench_row(k: u64, series_count: u64) -> (u64, i64, f64) {
    let s = k % series_count;
    let n = (k / series_count) as i64;
    let value = 20.0 + (s as f64) * 0.5 + ((n % 600) as f64) * 0.01;
    (s, BENCH_BASE_TS + n * 1_000_000_000, value)
}

/// Key of benchmark series `s`.
pub fn bench_key(s: u64) -> String {
    format!("L{}-M{:03}/sensor_{}", s % 4 + 1, s / 4, s % 7)
}

/// Measures durable ingest: `writers` threads call [`Store::append`] (fsync on, group
/// commit) with batches of `batch_size`; the clock stops after [`Store::flush_now`] has
/// written everything to Parquet. `dir` must be empty or absent.
pub fn ingest_benchmark(dir: &Path, total_samples: usize, series_count: usize, batch_size: usize, writers: usize) -> Result<BenchResult> {
    if series_count == 0 || batch_size == 0 || writers == 0 {
        return Err(StoreError::invalid("series_count/batch_size/writers", "must be > 0"));
    }
    let store = Arc::new(Store::open(StoreConfig::new(dir).with_sync(SyncMode::Fsync).with_auto_compact(false))?);
    let ids: Vec<SeriesId> = (0..series_count as u64).map(|s| store.register_series(&bench_key(s))).collect::<Result<_>>()?;
    let ids = Arc::new(ids);
    let total = total_samples as u64;
    let start = Instant::now();
    let handles: Vec<_> = (0..writers as u64)
        .map(|w| {
            let store = store.clone();
            let ids = ids.clone();
            let nw = writers as u64;
            let sc = series_count as u64;
            std::thread::spawn(move || -> Result<()> {
                // Writer w takes rows k with (k / batch) % writers == w.
                let mut batch = Vec::with_capacity(batch_size);
                let mut b = w;
                loop {
                    let lo = b * batch_size as u64;
                    if lo >= total {
                        break;
                    }
                    let hi = (lo + batch_size as u64).min(total);
                    batch.clear();
                    for k in lo..hi {
                        let (s, ts, value) = bench_row(k, sc);
                        batch.push(Sample {
                            series: ids[s as usize],
                            ts,
                            value,
                            context: 0,
                        });
                    }
                    store.append(&batch)?;
                    b += nw;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| StoreError::invalid("writers", "writer thread panicked"))??;
    }
    let appended = start.elapsed();
    store.flush_now()?;
    let elapsed = start.elapsed();
    let st = store.stats();
    store.close()?;
    Ok(BenchResult {
        name: "doppel-store durable ingest".into(),
        rows: total,
        elapsed,
        samples_per_sec: total as f64 / elapsed.as_secs_f64(),
        details: format!(
            "{writers} writers x batch {batch_size}, {series_count} series, fsync on, background compaction off; appends acked after {:.3}s, \
             {} group commits, {} flushes, {} segments",
            appended.as_secs_f64(),
            st.group_commits,
            st.flushes,
            st.segments
        ),
    })
}

/// Writes 30 (`days`) days of 1 Hz data for one series plus `other_series` series at
/// 0.1 Hz, flushes, compacts and times `query_downsampled(.., 1000)` over the whole range
/// (median of `runs`).
pub fn query_benchmark(dir: &Path, days: u32, other_series: usize, runs: usize) -> Result<QueryBenchResult> {
    let store = Store::open(StoreConfig::new(dir).with_sync(SyncMode::None).with_auto_compact(false))?;
    let main = store.register_series("L1-M01/winding_temp")?;
    let others: Vec<SeriesId> = (0..other_series as u64).map(|s| store.register_series(&bench_key(s))).collect::<Result<_>>()?;
    let start_ts = BENCH_BASE_TS - i64::from(days) * DAY_NS;
    let end_ts = BENCH_BASE_TS;
    let secs = i64::from(days) * 86_400;
    let t0 = Instant::now();
    let mut batch = Vec::with_capacity(100_000);
    let mut total = 0u64;
    for sec in 0..secs {
        let ts = start_ts + sec * 1_000_000_000;
        let v = 60.0 + 10.0 * ((sec % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU).sin();
        batch.push(Sample {
            series: main,
            ts,
            value: v,
            context: 0,
        });
        if sec % 10 == 0 {
            for (i, id) in others.iter().enumerate() {
                batch.push(Sample {
                    series: *id,
                    ts,
                    value: i as f64 + v,
                    context: 0,
                });
            }
        }
        if batch.len() >= 100_000 {
            total += batch.len() as u64;
            store.append(&batch)?;
            batch.clear();
        }
    }
    total += batch.len() as u64;
    store.append(&batch)?;
    store.flush_now()?;
    let write_time = t0.elapsed();
    let t1 = Instant::now();
    store.compact_now()?;
    let compact_time = t1.elapsed();
    let mut lat = Vec::with_capacity(runs.max(1));
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let d = store.query_downsampled(main, start_ts, end_ts, 1000)?;
        lat.push(t.elapsed());
        last = Some(d);
    }
    let mut sorted = lat.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let d = last.ok_or(StoreError::Closed)?;
    let samples = d.buckets.iter().map(|b| b.count).sum();
    Ok(QueryBenchResult {
        samples,
        total_samples: total,
        write_time,
        compact_time,
        buckets: d.buckets.len(),
        step_ns: d.step_ns,
        median,
        runs: lat,
    })
}

fn find_pg_bin(name: &str) -> Option<PathBuf> {
    let mut cands = vec![PathBuf::from("/usr/local/bin").join(name)];
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut vers: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        vers.sort();
        vers.reverse();
        cands.extend(vers.into_iter().map(|v| v.join("bin").join(name)));
    }
    cands.push(PathBuf::from("/usr/bin").join(name));
    if let Some(paths) = std::env::var_os("PATH") {
        cands.extend(std::env::split_paths(&paths).map(|p| p.join(name)));
    }
    cands.into_iter().find(|p| p.is_file())
}

fn pg_err(msg: impl Into<String>) -> StoreError {
    StoreError::Postgres(msg.into())
}

/// A throwaway PostgreSQL cluster; stopped and deleted on drop.
struct PgCluster {
    root: PathBuf,
    pg_ctl: PathBuf,
    as_postgres: bool,
    started: bool,
}

impl PgCluster {
    fn cmd(&self, prog: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.arg("-u").arg("postgres").arg("--").arg(prog);
            c
        } else {
            Command::new(prog)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.started {
            let _ = self
                .cmd(&self.pg_ctl)
                .arg("-D")
                .arg(self.root.join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn run_checked(mut c: Command, what: &str) -> Result<()> {
    let out = c.output().map_err(|e| pg_err(format!("{what}: cannot run: {e}")))?;
    if !out.status.success() {
        return Err(pg_err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Formats ns since epoch as a PostgreSQL timestamptz literal (µs precision, UTC).
fn pg_ts(ts: i64) -> String {
    let day = ts.div_euclid(DAY_NS);
    let rem = ts.rem_euclid(DAY_NS);
    let us = rem / 1000;
    let (h, m, s, frac) = (us / 3_600_000_000, us / 60_000_000 % 60, us / 1_000_000 % 60, us % 1_000_000);
    format!("{} {h:02}:{m:02}:{s:02}.{frac:06}+00", day_string(day))
}

/// Times `COPY samples FROM STDIN` (via `psql`) of the same rows as [`ingest_benchmark`]
/// into a plain table `(series text, ts timestamptz, value double precision)` of a
/// throwaway cluster (initdb in a temp dir, default durability: fsync on, synchronous
/// commit). As root the cluster runs as the `postgres` system user via `runuser`.
pub fn postgres_copy_benchmark(total_rows: usize, series_count: usize) -> Result<BenchResult> {
    if series_count == 0 {
        return Err(StoreError::invalid("series_count", "must be > 0"));
    }
    let missing = |b: &str| {
        pg_err(format!(
            "`{b}` not found (looked in /usr/local/bin, /usr/lib/postgresql/*/bin, /usr/bin, PATH); \
             install PostgreSQL server binaries, e.g. `apt-get install postgresql`"
        ))
    };
    let initdb = find_pg_bin("initdb").ok_or_else(|| missing("initdb"))?;
    let pg_ctl = find_pg_bin("pg_ctl").ok_or_else(|| missing("pg_ctl"))?;
    let psql = find_pg_bin("psql").ok_or_else(|| missing("psql"))?;
    let uid = Command::new("id").arg("-u").output().map_err(|e| pg_err(format!("cannot run `id -u`: {e}")))?;
    let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!("doppel-pg-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
    let mut pg = PgCluster {
        root: root.clone(),
        pg_ctl: pg_ctl.clone(),
        as_postgres,
        started: false,
    };
    if as_postgres {
        let ok = Command::new("id").arg("postgres").output().map(|o| o.status.success()).unwrap_or(false);
        if !ok {
            return Err(pg_err(
                "running as root, which PostgreSQL refuses, and no `postgres` system user exists: \
                 create one (`useradd -r postgres`) or run as an unprivileged user",
            ));
        }
        let mut c = Command::new("chown");
        c.arg("-R").arg("postgres").arg(&root);
        run_checked(c, "chown of the temp dir to postgres")?;
    }
    let data = root.join("data");
    let mut c = pg.cmd(&initdb);
    c.arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "bench", "-E", "UTF8", "--locale=C", "--no-sync"]);
    run_checked(c, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| pg_err(format!("no free loopback port: {e}")))?
        .port();
    let mut c = pg.cmd(&pg_ctl);
    c.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(root.join("server.log"))
        .arg("-o")
        .arg(format!("-p {port} -k {} -c listen_addresses=127.0.0.1", root.display()))
        .args(["-w", "-t", "60", "start"]);
    pg.started = true;
    run_checked(c, "pg_ctl start").map_err(|e| {
        let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
        pg_err(format!("{e}\nserver log:\n{log}"))
    })?;
    let psql_cmd = |sql: &str| {
        let mut c = pg.cmd(&psql);
        c.arg("-X")
            .arg("-q")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-h")
            .arg(&root)
            .arg("-p")
            .arg(port.to_string())
            .args(["-U", "bench", "-d", "postgres", "-c", sql]);
        c
    };
    run_checked(
        psql_cmd("CREATE TABLE samples (series text, ts timestamptz, value double precision)"),
        "CREATE TABLE",
    )?;

    // Same rows as the store benchmark, rendered as COPY text before the clock starts.
    let keys: Vec<String> = (0..series_count as u64).map(bench_key).collect();
    let mut text = Vec::with_capacity(total_rows * 64);
    for k in 0..total_rows as u64 {
        let (s, ts, v) = bench_row(k, series_count as u64);
        let _ = writeln!(text, "{}\t{}\t{}", keys[s as usize], pg_ts(ts), v);
    }
    let start = Instant::now();
    let mut child = psql_cmd("COPY samples (series, ts, value) FROM STDIN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| pg_err(format!("cannot run psql: {e}")))?;
    {
        let mut stdin = child.stdin.take().ok_or_else(|| pg_err("psql stdin unavailable"))?;
        stdin.write_all(&text).map_err(|e| pg_err(format!("writing COPY data to psql: {e}")))?;
    }
    let out = child.wait_with_output().map_err(|e| pg_err(format!("psql: {e}")))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(pg_err(format!("COPY failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    drop(pg);
    Ok(BenchResult {
        name: "PostgreSQL COPY FROM STDIN".into(),
        rows: total_rows as u64,
        elapsed,
        samples_per_sec: total_rows as f64 / elapsed.as_secs_f64(),
        details: format!(
            "plain table (text, timestamptz, float8), default durability (fsync on), {} MiB of COPY text{}",
            text.len() >> 20,
            if as_postgres {
                ", cluster run as system user postgres via runuser"
            } else {
                ""
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_timestamp_format() {
        assert_eq!(pg_ts(0), "1970-01-01 00:00:00.000000+00");
        assert_eq!(pg_ts(BENCH_BASE_TS + 3_723_000_001_000), "2026-11-01 01:02:03.000001+00");
    }

    #[test]
    fn small_ingest_and_query_benchmarks_run() {
        let d = tempfile::tempdir().unwrap();
        let r = ingest_benchmark(&d.path().join("ingest"), 20_000, 10, 1000, 2).unwrap();
        assert_eq!(r.rows, 20_000);
        let store = Store::open(StoreConfig::new(d.path().join("ingest"))).unwrap();
        let id = store.series_id(&bench_key(3)).unwrap();
        assert_eq!(store.query_raw(id, i64::MIN, i64::MAX).unwrap().len(), 2000);
        drop(store);
        let q = query_benchmark(&d.path().join("query"), 2, 2, 3).unwrap();
        assert_eq!(q.samples, 2 * 86_400);
        assert!(q.buckets <= 1000);
    }
}
