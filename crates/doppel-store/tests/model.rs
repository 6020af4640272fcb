//! Store-level tests: model-based property tests, recovery, compaction, events.

use std::collections::BTreeMap;
use std::time::Duration;

use doppel_store::{DAY_NS, EventFilter, MINUTE_NS, NewEvent, Sample, SeriesId, Store, StoreConfig, StoreError, SyncMode};
use proptest::prelude::*;

fn cfg(dir: &std::path::Path) -> StoreConfig {
    StoreConfig::new(dir)
        .with_sync(SyncMode::None)
        .with_memtable_max_samples(1_000_000)
        .with_flush_interval(Duration::from_secs(3600))
        .with_auto_compact(false)
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u8, i64, i32)>),
    Flush,
    Compact,
    Reopen,
}

fn arb_op() -> impl Strategy<Value = Op> {
    // timestamps spread over ~3 days with many collisions
    let ts = prop_oneof![
        0i64..50,
        (0i64..3 * 24 * 60).prop_map(|m| m * MINUTE_NS + 7),
        (0i64..4).prop_map(|d| d * DAY_NS - 1)
    ];
    prop_oneof![
        6 => prop::collection::vec((0u8..3, ts, -1000i32..1000), 1..40).prop_map(Op::Append),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

type Model = BTreeMap<(u8, i64), f64>;

fn naive_downsample(model: &Model, s: u8, start: i64, end: i64, origin: i64, step: i64) -> Vec<(i64, f64, f64, f64, f64, u64)> {
    let mut out: BTreeMap<i64, (f64, f64, f64, f64, u64)> = BTreeMap::new();
    for (&(_, ts), &v) in model.range((s, start)..(s, end)) {
        let b = origin + (ts - origin).div_euclid(step) * step;
        let e = out.entry(b).or_insert((v, v, 0.0, v, 0));
        e.0 = e.0.min(v);
        e.1 = e.1.max(v);
        e.2 += v;
        e.3 = v; // ascending ts => last
        e.4 += 1;
    }
    out.into_iter()
        .map(|(b, (mn, mx, sum, last, n))| (b, mn, mx, sum / n as f64, last, n))
        .collect()
}

fn check(store: &Store, ids: &[SeriesId], model: &Model) {
    for (i, id) in ids.iter().enumerate() {
        let s = i as u8;
        let got = store.query_raw(*id, i64::MIN, i64::MAX).unwrap();
        let want: Vec<(i64, f64)> = model.range((s, i64::MIN)..=(s, i64::MAX)).map(|(&(_, t), &v)| (t, v)).collect();
        assert_eq!(got, want, "series {s}");
        let sub = store.query_raw(*id, 10, DAY_NS).unwrap();
        let want_sub: Vec<(i64, f64)> = want.iter().copied().filter(|(t, _)| *t >= 10 && *t < DAY_NS).collect();
        assert_eq!(sub, want_sub);
        assert_eq!(store.latest(*id).unwrap(), want.last().copied());
        for (start, end, mb) in [(-DAY_NS, 4 * DAY_NS, 7usize), (0, 3 * DAY_NS, 1000), (5, 60, 10), (3, 2 * DAY_NS + 5, 50)] {
            let d = store.query_downsampled(*id, start, end, mb).unwrap();
            assert!(d.buckets.len() <= mb);
            let origin = if d.step_ns % MINUTE_NS == 0 {
                start.div_euclid(MINUTE_NS) * MINUTE_NS
            } else {
                start
            };
            let naive = naive_downsample(model, s, start, end, origin, d.step_ns);
            assert_eq!(d.buckets.len(), naive.len(), "buckets for {start}..{end}/{mb}");
            for (b, n) in d.buckets.iter().zip(&naive) {
                assert_eq!((b.start, b.min, b.max, b.last, b.count), (n.0, n.1, n.2, n.4, n.5));
                assert!((b.mean - n.3).abs() <= 1e-9 * n.3.abs().max(1.0));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(24), ..ProptestConfig::default() })]
    #[test]
    fn store_matches_btreemap_model(ops in prop::collection::vec(arb_op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(cfg(dir.path())).unwrap();
        let ids: Vec<SeriesId> = ["m/a", "m/c", "m/b"].iter().map(|k| store.register_series(k).unwrap()).collect();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Append(rows) => {
                    let batch: Vec<Sample> = rows.iter().map(|&(s, ts, v)| Sample { series: ids[s as usize], ts, value: v as f64, context: 0 }).collect();
                    store.append(&batch).unwrap();
                    for (s, ts, v) in rows { model.insert((s, ts), v as f64); }
                }
                Op::Flush => store.flush_now().unwrap(),
                Op::Compact => { store.compact_now().unwrap(); }
                Op::Reopen => {
                    store.close().unwrap();
                    drop(store);
                    store = Store::open(cfg(dir.path())).unwrap();
                    for (i, k) in ["m/a", "m/c", "m/b"].iter().enumerate() {
                        prop_assert_eq!(store.series_id(k), Some(ids[i]));
                    }
                }
            }
        }
        check(&store, &ids, &model);
        store.flush_now().unwrap();
        check(&store, &ids, &model);
        store.compact_now().unwrap();
        check(&store, &ids, &model);
        drop(store);
        let store = Store::open(cfg(dir.path())).unwrap();
        check(&store, &ids, &model);
    }
}

#[test]
fn register_is_idempotent_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(cfg(dir.path())).unwrap();
        let a = s.register_series("L1-M01/winding_temp").unwrap();
        let b = s.register_series("L1-M01/vibration").unwrap();
        assert_eq!(s.register_series("L1-M01/winding_temp").unwrap(), a);
        assert_ne!(a, b);
        assert!(matches!(
            s.append(&[Sample {
                series: SeriesId(99),
                ts: 0,
                value: 1.0,
                context: 0
            }]),
            Err(StoreError::UnknownSeries(99))
        ));
        assert!(matches!(
            s.append(&[Sample {
                series: a,
                ts: 0,
                value: f64::NAN,
                context: 0
            }]),
            Err(StoreError::InvalidArgument { field: "value", .. })
        ));
    }
    let s = Store::open(cfg(dir.path())).unwrap();
    assert_eq!(s.series_id("L1-M01/vibration"), Some(SeriesId(1)));
    assert_eq!(s.series_key(SeriesId(0)).as_deref(), Some("L1-M01/winding_temp"));
    assert_eq!(s.list_series().len(), 2);
    s.flush_now().unwrap();
    drop(s);
    // catalog checkpoint + no WAL left with the defs
    let s = Store::open(cfg(dir.path())).unwrap();
    assert_eq!(s.list_series().len(), 2);
}

#[test]
fn events_round_trip_and_as_of_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |ts, kind: &str, subject: &str| NewEvent {
        ts,
        kind: kind.into(),
        subject: subject.into(),
        payload: format!("{{\"ts\":{ts}}}"),
    };
    let seqs;
    {
        let s = Store::open(cfg(dir.path())).unwrap();
        seqs = s
            .append_events(vec![ev(10, "state", "M1"), ev(20, "state", "M1"), ev(20, "alarm", "M1"), ev(5, "state", "M2")])
            .unwrap();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        s.flush_now().unwrap();
        let more = s.append_events(vec![ev(20, "state", "M1"), ev(DAY_NS + 1, "state", "M1")]).unwrap();
        assert_eq!(more, vec![5, 6]);
    }
    let s = Store::open(cfg(dir.path())).unwrap();
    let e = s.last_event_before("state", "M1", 20).unwrap();
    assert_eq!(e.seq, 5); // tie on ts broken by highest seq
    assert_eq!(s.last_event_before("state", "M1", 19).unwrap().seq, 1);
    assert!(s.last_event_before("state", "M1", 9).is_none());
    assert_eq!(s.last_event_before("state", "M1", i64::MAX).unwrap().seq, 6);
    let all = s.query_events(&EventFilter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 1, 2, 3, 5, 6]);
    let f = EventFilter {
        kinds: Some(vec!["state".into()]),
        subject: Some("M1".into()),
        limit: 2,
        latest_first: true,
        ..EventFilter::default()
    };
    assert_eq!(s.query_events(&f).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 5]);
    assert_eq!(s.append_events(vec![ev(1, "x", "y")]).unwrap(), vec![7]);
    s.flush_now().unwrap();
    assert_eq!(s.stats().event_segments, 3); // day 0: 2 flushes, day 1: 1
    s.compact_now().unwrap();
    assert_eq!(s.stats().event_segments, 2);
    drop(s);
    let s = Store::open(cfg(dir.path())).unwrap();
    assert_eq!(s.stats().event_segments, 2);
    let all = s.query_events(&EventFilter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![7, 4, 1, 2, 3, 5, 6]);
    assert_eq!(s.last_event_before("state", "M1", 20).unwrap().seq, 5);
}

#[test]
fn retention_drops_old_days() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(dir.path()).with_retention(Some(Duration::from_secs(86_400)))).unwrap();
    let id = s.register_series("a").unwrap();
    let batch: Vec<Sample> = (0..5)
        .map(|d| Sample {
            series: id,
            ts: d * DAY_NS + 1,
            value: d as f64,
            context: 0,
        })
        .collect();
    s.append(&batch).unwrap();
    s.append_events(vec![NewEvent {
        ts: 1,
        kind: "k".into(),
        subject: "s".into(),
        payload: "{}".into(),
    }])
    .unwrap();
    s.flush_now().unwrap();
    assert_eq!(s.stats().days, 5);
    // now = start of day 4 + 1ns: cutoff = day 3 + 1ns => days 0,1,2 are entirely older.
    let removed = s.enforce_retention(4 * DAY_NS + 1).unwrap();
    assert_eq!(removed, 3);
    assert_eq!(s.query_raw(id, i64::MIN, i64::MAX).unwrap(), vec![(3 * DAY_NS + 1, 3.0), (4 * DAY_NS + 1, 4.0)]);
    assert!(s.query_events(&EventFilter::default()).unwrap().is_empty());
    assert!(!dir.path().join("series/day=1970-01-01").exists());
}

fn wal_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn torn_tail_is_truncated_and_complete_records_kept() {
    let dir = tempfile::tempdir().unwrap();
    let n_batches = 20;
    {
        let s = Store::open(cfg(dir.path())).unwrap();
        let id = s.register_series("a").unwrap();
        for b in 0..n_batches {
            s.append(&[Sample {
                series: id,
                ts: b,
                value: b as f64,
                context: 0,
            }])
            .unwrap();
        }
    }
    // the data lives in the last non-empty WAL file; copy it to try many cut points
    let files = wal_files(dir.path());
    let full = files
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .max_by_key(|(_, d)| d.len())
        .unwrap();
    // WAL files are preallocated with zeros: cut only within the records.
    let used = full.1.iter().rposition(|b| *b != 0).map_or(8, |i| i + 1);
    for cut in (8..used).step_by(7) {
        let d2 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d2.path().join("wal")).unwrap();
        std::fs::write(d2.path().join("wal/000001.wal"), &full.1[..cut]).unwrap();
        let s = Store::open(cfg(d2.path())).unwrap();
        if let Some(id) = s.series_id("a") {
            let got = s.query_raw(id, i64::MIN, i64::MAX).unwrap();
            // a prefix of the batches survives
            for (i, (t, v)) in got.iter().enumerate() {
                assert_eq!((*t, *v), (i as i64, i as f64));
            }
        }
        drop(s);
        // reopening after the repair is clean too
        Store::open(cfg(d2.path())).unwrap();
    }
}

#[test]
fn corrupted_middle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(cfg(dir.path())).unwrap();
        let id = s.register_series("a").unwrap();
        for b in 0..10 {
            s.append(&[Sample {
                series: id,
                ts: b,
                value: 1.0,
                context: 0,
            }])
            .unwrap();
        }
    }
    let files = wal_files(dir.path());
    let target = files.iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut data = std::fs::read(target).unwrap();
    data[30] ^= 0x55;
    std::fs::write(target, &data).unwrap();
    match Store::open(cfg(dir.path())) {
        Err(StoreError::Corrupt { path, offset, .. }) => {
            assert_eq!(&path, target);
            assert!((8..=30).contains(&offset), "offset {offset}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn submit_callbacks_and_background_flush() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(
        StoreConfig::new(dir.path())
            .with_memtable_max_samples(1000)
            .with_auto_compact(true)
            .with_compaction_max_segments(3),
    )
    .unwrap();
    let id = s.register_series("a").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for b in 0..50i64 {
        let tx = tx.clone();
        let batch: Vec<Sample> = (0..100)
            .map(|i| Sample {
                series: id,
                ts: b * 100 + i,
                value: 1.0,
                context: 7,
            })
            .collect();
        s.submit(batch, Box::new(move |r| tx.send(r.is_ok()).unwrap()));
    }
    drop(tx);
    let acks: Vec<bool> = rx.iter().collect();
    assert_eq!(acks.len(), 50);
    assert!(acks.iter().all(|&a| a));
    s.flush_now().unwrap();
    let st = s.stats();
    assert_eq!(st.samples_written, 5000);
    assert!(st.flushes >= 1, "{st:?}");
    assert_eq!(s.query_raw(id, 0, 5000).unwrap().len(), 5000);
    assert_eq!(s.query_raw_with_context(id, 0, 1).unwrap(), vec![(0, 1.0, 7)]);
}

fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for kind in ["series", "rollup"] {
        let base = dir.join(kind);
        for day in std::fs::read_dir(&base).unwrap() {
            for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
                out.push(f.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn crash_between_compaction_and_cleanup_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(dir.path())).unwrap();
    let id = s.register_series("a").unwrap();
    s.append(&[
        Sample {
            series: id,
            ts: 5,
            value: 1.0,
            context: 0,
        },
        Sample {
            series: id,
            ts: 6,
            value: 1.0,
            context: 0,
        },
    ])
    .unwrap();
    s.flush_now().unwrap();
    s.append(&[Sample {
        series: id,
        ts: 5,
        value: 2.0,
        context: 0,
    }])
    .unwrap();
    s.flush_now().unwrap();
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = parquet_files(dir.path())
        .into_iter()
        .map(|p| {
            let d = std::fs::read(&p).unwrap();
            (p, d)
        })
        .collect();
    assert_eq!(before.len(), 4); // 2 segments + 2 rollups
    assert_eq!(s.compact_now().unwrap(), 1);
    assert_eq!(s.stats().segments, 1);
    let d = s.query_downsampled(id, 0, 60 * MINUTE_NS, 10).unwrap();
    assert_eq!(d.buckets.len(), 1);
    assert_eq!((d.buckets[0].count, d.buckets[0].max, d.buckets[0].last), (2, 2.0, 1.0));
    s.close().unwrap();
    drop(s);
    // Simulate a crash after the compacted file was renamed but before the inputs were deleted.
    for (p, data) in &before {
        std::fs::write(p, data).unwrap();
    }
    assert_eq!(parquet_files(dir.path()).len(), 6);
    let s = Store::open(cfg(dir.path())).unwrap();
    assert_eq!(parquet_files(dir.path()).len(), 2);
    assert_eq!(s.stats().segments, 1);
    assert_eq!(s.query_raw(id, 0, 100).unwrap(), vec![(5, 2.0), (6, 1.0)]);
}

#[test]
fn second_open_of_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _s = Store::open(cfg(dir.path())).unwrap();
    assert!(matches!(Store::open(cfg(dir.path())), Err(StoreError::InvalidArgument { field: "dir", .. })));
}

#[test]
fn acknowledged_data_stays_visible_during_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(Store::open(cfg(dir.path()).with_memtable_max_samples(2_000)).unwrap());
    let id = s.register_series("a").unwrap();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer = {
        let (s, acked) = (s.clone(), acked.clone());
        std::thread::spawn(move || {
            for b in 0..200i64 {
                let batch: Vec<Sample> = (0..250)
                    .map(|i| Sample {
                        series: id,
                        ts: b * 250 + i,
                        value: 1.0,
                        context: 0,
                    })
                    .collect();
                s.append(&batch).unwrap();
                acked.store((b + 1) * 250, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    let mut checks = 0;
    while !writer.is_finished() {
        let before = acked.load(std::sync::atomic::Ordering::SeqCst);
        let n = s.query_raw(id, 0, i64::MAX).unwrap().len() as i64;
        assert!(n >= before, "saw {n} samples but {before} were acknowledged");
        let latest = s.latest(id).unwrap().map_or(-1, |(t, _)| t);
        assert!(latest + 1 >= before);
        checks += 1;
    }
    writer.join().unwrap();
    assert_eq!(s.query_raw(id, 0, i64::MAX).unwrap().len(), 50_000);
    assert!(s.stats().flushes >= 5, "{:?} after {checks} checks", s.stats());
}
