//! Acknowledged = durable: `doppel serve` is killed with SIGKILL again and again while clients
//! ingest over HTTP; after the last restart every sample whose request was answered 200 is there.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const SERIES: [&str; 4] = ["l1-cnc-1", "l1-cnc-2", "l2-cnc-1", "l3-cnc-1"];
const PER_BATCH: i64 = 250;

#[test]
fn kill_9_during_http_ingest_loses_no_acknowledged_sample() {
    let dir = tempdir("kill9");
    let port = free_port();
    let mut d = Doppel::serve(port, &dir, &["--no-mqtt"]);
    let base = now_ms() - 3_600_000;
    let acked: Arc<Mutex<BTreeMap<(usize, i64), f64>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = d.http;

    // Two concurrent clients, each writing its own series with increasing timestamps.
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut batch: i64 = 0;
                let mut sent_ok = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut items = Vec::new();
                    let mut mine = Vec::new();
                    for j in 0..PER_BATCH {
                        let k = batch * PER_BATCH + j;
                        let s = c * 2 + (k % 2) as usize;
                        let ts = base + k;
                        let value = ((k * 7 + c as i64) % 29_000) as f64;
                        items.push(format!(r#"{{"asset":"{}","signal":"spindle_speed","ts":{ts},"value":{value}}}"#, SERIES[s]));
                        mine.push(((s, ts), value));
                    }
                    let body = format!(r#"{{"samples":[{}]}}"#, items.join(","));
                    match try_http(addr, "POST", "/api/ingest", Some(&body)) {
                        Ok((200, resp)) => {
                            assert!(resp.contains(&format!("\"accepted\":{PER_BATCH}")), "{resp}");
                            acked.lock().unwrap().extend(mine);
                            batch += 1;
                            sent_ok += 1;
                        }
                        // Killed mid-request, or not up yet: retry the same batch (idempotent: same ts, same value).
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
                sent_ok
            })
        })
        .collect();

    let mut rng = 0x2545F4914F6CDD1Du64;
    for round in 0..6 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let wait = 300 + rng % 900;
        std::thread::sleep(Duration::from_millis(wait));
        let before = acked.lock().unwrap().len();
        assert!(before > 0 || round > 0, "no batch was acknowledged before the first kill");
        d.crash_and_restart();
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let batches: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    d.crash_and_restart();

    let acked = acked.lock().unwrap();
    assert!(batches >= 10, "too little was ingested to mean anything: {batches} batches");
    let started = Instant::now();
    for (s, asset) in SERIES.iter().enumerate() {
        let want: Vec<(i64, f64)> = acked.range((s, i64::MIN)..(s + 1, i64::MIN)).map(|(&(_, ts), &v)| (ts, v)).collect();
        let Some(&(last, _)) = want.last() else { continue };
        let h = d.get(&format!(
            "/api/assets/{asset}/signals/spindle_speed/history?raw=true&start={}&end={}",
            base,
            last + 1
        ));
        let got: BTreeMap<i64, f64> = h["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_i64().unwrap() / 1_000_000, p[1].as_f64().unwrap()))
            .collect();
        for (ts, v) in &want {
            assert_eq!(
                got.get(ts),
                Some(v),
                "acknowledged sample {asset} @ {ts} lost after kill -9 (have {} of {} points)",
                got.len(),
                want.len()
            );
        }
    }
    eprintln!(
        "{} acknowledged samples in {batches} batches all present after 6 kill -9 (checked in {:?})",
        acked.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
