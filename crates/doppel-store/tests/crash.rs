//! kill -9 test: a child process (this test binary re-executed) appends batches and prints
//! each acknowledged batch id; the parent SIGKILLs it at random moments, several times,
//! then reopens the store and checks that every acknowledged sample is present.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doppel_store::{EventFilter, NewEvent, Sample, Store, StoreConfig};

const ENV_DIR: &str = "DOPPEL_STORE_CRASH_DIR";
const ENV_START: &str = "DOPPEL_STORE_CRASH_START";
const PER_BATCH: i64 = 50;
const SERIES: usize = 4;

fn config(dir: &Path) -> StoreConfig {
    // Small memtable so that flushes (segment writes + WAL deletion) race with the kill.
    let mut c = StoreConfig::new(dir).with_memtable_max_samples(3_000).with_compaction_max_segments(3);
    c.maintenance_interval = Duration::from_millis(100); // compactions race with the kill too
    c
}

fn batch_samples(store: &Store, batch: i64) -> Vec<Sample> {
    (0..PER_BATCH)
        .map(|i| {
            let s = store.series_id(&format!("crash/s{}", (batch as usize + i as usize) % SERIES)).unwrap();
            Sample {
                series: s,
                ts: batch * PER_BATCH + i,
                value: (batch * 1000 + i) as f64,
                context: batch as u32,
            }
        })
        .collect()
}

/// Child entry point: does nothing unless started by `kill9_loses_no_acknowledged_sample`.
#[test]
fn crash_child_entry() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    let start: i64 = std::env::var(ENV_START).unwrap().parse().unwrap();
    let store = Arc::new(Store::open(config(Path::new(&dir))).unwrap());
    for s in 0..SERIES {
        store.register_series(&format!("crash/s{s}")).unwrap();
    }
    let threads: Vec<_> = (0..3i64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut b = start + t;
                loop {
                    let batch = batch_samples(&store, b);
                    if t == 2 {
                        // exercise the callback API too
                        let (tx, rx) = std::sync::mpsc::channel();
                        store.submit(batch, Box::new(move |r| tx.send(r).unwrap()));
                        rx.recv().unwrap().unwrap();
                    } else {
                        store.append(&batch).unwrap();
                    }
                    println!("ack {b}");
                    if t == 0 && b % 10 == 0 {
                        let ev = NewEvent {
                            ts: b * PER_BATCH,
                            kind: "batch".into(),
                            subject: format!("b{b}"),
                            payload: format!("{{\"batch\":{b}}}"),
                        };
                        let seqs = store.append_events(vec![ev]).unwrap();
                        println!("ev {} {b}", seqs[0]);
                    }
                    b += 3;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn kill9_loses_no_acknowledged_sample() {
    if std::env::var(ENV_DIR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<i64> = Vec::new();
    let mut acked_events: Vec<(u64, i64)> = Vec::new();
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut start = 0i64;
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_entry", "--nocapture", "--test-threads=1"])
            .env(ENV_DIR, dir.path())
            .env(ENV_START, start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            let mut evs = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ") {
                    ids.push(id.trim().parse::<i64>().unwrap());
                } else if let Some(rest) = line.strip_prefix("ev ") {
                    let mut it = rest.split_whitespace();
                    let seq: u64 = it.next().unwrap().parse().unwrap();
                    let b: i64 = it.next().unwrap().parse().unwrap();
                    evs.push((seq, b));
                }
            }
            (ids, evs)
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = Duration::from_millis(300 + seed % 900);
        let t = Instant::now();
        while t.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (ids, evs) = reader.join().unwrap();
        acked_events.extend(evs);
        eprintln!("round {round}: killed after {wait:?}, {} acked batches", ids.len());
        acked.extend(ids);
        start += 1_000_000;
    }
    assert!(!acked.is_empty(), "child never acknowledged anything");
    let store = Store::open(config(dir.path())).unwrap();
    let mut all = std::collections::HashMap::new();
    for s in 0..SERIES {
        let id = store.series_id(&format!("crash/s{s}")).unwrap();
        for (ts, v, c) in store.query_raw_with_context(id, i64::MIN, i64::MAX).unwrap() {
            all.insert(ts, (v, c));
        }
    }
    for b in &acked {
        for i in 0..PER_BATCH {
            let ts = b * PER_BATCH + i;
            assert_eq!(all.get(&ts), Some(&(((b * 1000 + i) as f64), *b as u32)), "batch {b} sample {i} lost");
        }
    }
    let events = store.query_events(&EventFilter::default()).unwrap();
    let by_seq: std::collections::HashMap<u64, &doppel_store::Event> = events.iter().map(|e| (e.seq, e)).collect();
    for (seq, b) in &acked_events {
        let e = by_seq.get(seq).unwrap_or_else(|| panic!("event seq {seq} lost"));
        assert_eq!(e.subject, format!("b{b}"));
        assert_eq!(store.last_event_before("batch", &e.subject, i64::MAX).unwrap().seq, *seq);
    }
    let max_seq = events.iter().map(|e| e.seq).max().unwrap_or(0);
    let new = store
        .append_events(vec![NewEvent {
            ts: 0,
            kind: "k".into(),
            subject: "s".into(),
            payload: "{}".into(),
        }])
        .unwrap();
    assert!(new[0] > max_seq, "seq not monotonic after crashes");
    eprintln!("{} acknowledged events verified", acked_events.len());
    eprintln!(
        "{} acknowledged batches verified, {} samples in store, stats {:?}",
        acked.len(),
        all.len(),
        store.stats()
    );
}
