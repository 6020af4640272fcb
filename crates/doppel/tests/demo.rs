//! The README's first command: `doppel demo` brings up a simulated factory whose assets are all
//! listed with live, changing values within 15 s, and whose bearing faults are diagnosed from vibration
//! frames with the right fault type before the bearing fails.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn demo_serves_every_asset_live_within_15_seconds_and_diagnoses_a_bearing_fault() {
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
            // Faster than real time, so vibration frames (every 10 simulated seconds) confirm a diagnosis quickly.
            "--speed",
            "5",
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
    // Condition monitoring: a simulated bearing fault is diagnosed from the vibration frames with the fault type
    // the ground truth names, before that bearing fails.
    let mut diagnosed: Option<(String, serde_json::Value)> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while diagnosed.is_none() && Instant::now() < deadline {
        let truth = std::fs::read_to_string(dir.join("ground-truth.jsonl")).unwrap();
        let events: Vec<serde_json::Value> = truth.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        for e in events.iter().filter(|e| e["kind"] == "fault_onset" && e["fault"].is_string()) {
            let asset = e["asset"].as_str().unwrap();
            let diag = d.get(&format!("/api/assets/{asset}/diagnosis"));
            let Some(ch) = diag["channels"].as_array().and_then(|c| c.first()) else {
                continue;
            };
            if ch["fault"] != e["fault"] {
                continue;
            }
            let since = ch["fault_since_ns"].as_i64().unwrap();
            let failed_before = events
                .iter()
                .any(|f| f["asset"] == e["asset"] && f["kind"] == "failure" && f["ts_ns"].as_i64().unwrap() <= since);
            if !failed_before {
                diagnosed = Some((asset.to_string(), ch.clone()));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (asset, ch) = diagnosed.unwrap_or_else(|| {
        panic!(
            "no simulated bearing fault was diagnosed with its true type within 60 s; truth: {}",
            std::fs::read_to_string(dir.join("ground-truth.jsonl")).unwrap()
        )
    });
    let evidence = &ch["evidence"];
    assert!(evidence["lines"][0]["prominence_db"].as_f64().unwrap() >= 10.0, "{ch}");
    assert!(["A", "B", "C", "D"].contains(&ch["iso10816"]["zone"].as_str().unwrap()), "{ch}");
    assert!(ch["defect_frequencies"]["bpfo_hz"].as_f64().unwrap() > 0.0);
    // The derived feature signals are stored and queryable like any other signal.
    let signal = ch["signal"].as_str().unwrap();
    let hist = d.get(&format!(
        "/api/assets/{asset}/signals/{signal}_kurtosis/history?raw=true&start=0&end=4102444800000"
    ));
    assert!(!hist["points"].as_array().unwrap().is_empty(), "{hist}");
    // A raw capture was kept around the diagnosis alarm, and its analysis shows the envelope spectrum.
    let caps = d.get(&format!("/api/assets/{asset}/signals/{signal}/captures"));
    let caps = caps["captures"].as_array().unwrap();
    let alarm = caps
        .iter()
        .find(|c| c["reason"].as_str().unwrap().contains("alarm"))
        .unwrap_or_else(|| panic!("no alarm capture: {caps:?}"));
    let detail = d.get(&format!("/api/assets/{asset}/signals/{signal}/captures/{}", alarm["t0_ns"]));
    assert!(detail["envelope_spectrum"]["spectrum"]["amplitude"].as_array().unwrap().len() > 100, "{detail}");
    assert!(detail["diagnosis"]["fault"].is_string());
    let events = d.get(&format!("/api/events?kind=diagnosis&subject={asset}"));
    assert!(events.to_string().contains(ch["fault"].as_str().unwrap()), "{events}");

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
