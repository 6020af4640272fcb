//! The README's first command: `doppel demo` brings up a simulated factory whose assets are all
//! listed with live, changing values within 15 s, and whose degradation shows in the signals.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn demo_serves_every_asset_live_within_15_seconds_and_shows_degradation() {
    let dir = tempdir("demo");
    let port = free_port();
    let mqtt = free_port();
    let started = Instant::now();
    let d = Doppel::start(
        &[
            "demo",
            "--port",
            &port.to_string(),
            "--mqtt-port",
            &mqtt.to_string(),
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        port,
        &dir.join("log.txt"),
    );
    let plant = doppel_model::Plant::load(&example_plant()).unwrap();

    // Every asset listed, each with at least one value.
    let mut first: Option<serde_json::Value> = None;
    while started.elapsed() < Duration::from_secs(15) {
        let assets = d.get("/api/assets");
        let list = assets.as_array().unwrap();
        assert_eq!(list.len(), plant.assets.len());
        let with_values = list.iter().filter(|a| a["values"].as_object().unwrap().values().any(|v| v.is_number())).count();
        if with_values == plant.assets.len() {
            first = Some(assets);
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let first = first.expect("not every asset had live values within 15 s");
    std::thread::sleep(Duration::from_millis(2500));
    let second = d.get("/api/assets");
    assert!(started.elapsed() < Duration::from_secs(20));
    let changed = first
        .as_array()
        .unwrap()
        .iter()
        .zip(second.as_array().unwrap())
        .filter(|(a, b)| a["values"] != b["values"])
        .count();
    assert!(
        changed >= plant.assets.len() * 9 / 10,
        "only {changed} of {} assets changed their values",
        plant.assets.len()
    );

    // Degradation: an asset the ground truth says has a degrading bearing vibrates more than the
    // healthy assets of its type.
    let truth = std::fs::read_to_string(dir.join("ground-truth.jsonl")).expect("the demo writes a ground-truth log");
    let degrading: Vec<serde_json::Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["kind"] == "fault_onset" && e["mode"] == "bearing_wear")
        .collect();
    assert!(!degrading.is_empty(), "the demo should start with some bearings degrading: {truth}");
    let vib: HashMap<String, (String, f64)> = second
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            Some((
                a["id"].as_str()?.to_string(),
                (a["type"].as_str()?.to_string(), a["values"]["vibration"].as_f64()?),
            ))
        })
        .collect();
    let faulty: Vec<&str> = degrading.iter().filter_map(|e| e["asset"].as_str()).collect();
    let mut shown = 0;
    for asset in &faulty {
        let Some((ty, v)) = vib.get(*asset) else { continue };
        let mut healthy: Vec<f64> = vib
            .iter()
            .filter(|(id, (t, _))| t == ty && !faulty.contains(&id.as_str()))
            .map(|(_, (_, v))| *v)
            .collect();
        if healthy.is_empty() {
            continue;
        }
        healthy.sort_by(f64::total_cmp);
        if *v > healthy[healthy.len() / 2] * 1.3 {
            shown += 1;
        }
    }
    assert!(shown >= 1, "no degrading asset shows raised vibration: {faulty:?} {vib:?}");

    // The rest of the API answers for the demo plant.
    let tree = d.get("/api/plant");
    assert_eq!(tree["sites"][0]["areas"].as_array().unwrap().len(), 3);
    let asset = d.get("/api/assets/l1-cnc-1");
    assert_eq!(asset["asset"]["type"], "cnc_spindle");
    let line = d.get("/api/lines/l1");
    assert!(line["context"]["product"].is_string(), "{line}");
    let hist = d.get("/api/assets/l1-cnc-1/signals/spindle_temp/history?buckets=10");
    assert!(!hist["buckets"].as_array().unwrap().is_empty(), "{hist}");
    let spec = d.get("/api/openapi.json");
    assert_eq!(spec["openapi"], "3.0.3");
    let _ = std::fs::remove_dir_all(&dir);
}
