//! Predictive twins end to end: `doppel demo` trains models from a simulated fleet in the background, the twins
//! then show RUL with an interval, failure probability, health index and anomaly score (API and stored signals),
//! and a simulated failure is predicted before it happens. Then, with the demo stopped, `doppel learn train
//! --from-store` retrains from the stored history (lives cut at the stored maintenance records), and
//! `doppel learn rul` reproduces the C-MAPSS figures.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn truth(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("ground-truth.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn demo_twins_predict_failures_before_they_happen_and_retrain_from_history() {
    let dir = tempdir("predict");
    let port = free_port();
    let mqtt = free_port();
    let d = Doppel::start(
        &[
            "demo",
            "--port",
            &port.to_string(),
            "--mqtt-port",
            &mqtt.to_string(),
            "--data-dir",
            dir.to_str().unwrap(),
            // 30 simulated seconds per second: at the demo's wear acceleration a bearing fails every few minutes
            // somewhere in the plant. No vibration frames: this test is about the process-signal models.
            "--speed",
            "30",
            "--waveform-every-s",
            "0",
        ],
        port,
        &dir.join("log.txt"),
    );
    let plant = doppel_model::Plant::load(&example_plant()).unwrap();
    let predicted: Vec<&doppel_model::Asset> = plant.assets.iter().filter(|a| a.predict.is_some()).collect();

    // The background training registers a model and the server loads it.
    let deadline = Instant::now() + Duration::from_secs(300);
    while d.get("/api/models")["in_use"].is_null() {
        assert!(
            Instant::now() < deadline,
            "no predictive model within 300 s; log: {}",
            std::fs::read_to_string(dir.join("log.txt")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let models = d.get("/api/models");
    assert_eq!(models["in_use"]["asset_types"].as_array().unwrap().len(), 4, "{models}");
    assert!(models["in_use"]["meta"]["source"].as_str().unwrap().contains("simulated fleet"), "{models}");

    // Every predicted asset that runs shows a prediction with a consistent interval.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first: Vec<serde_json::Value>;
    loop {
        first = predicted
            .iter()
            .map(|a| d.get(&format!("/api/assets/{}/prediction", a.id))["prediction"]["latest"].clone())
            .collect();
        let with = first.iter().filter(|p| p["rul_h"].is_number()).count();
        if with >= predicted.len() * 3 / 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {with} of {} assets have a prediction: {first:?}",
            predicted.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for p in first.iter().filter(|p| p["rul_h"].is_number()) {
        let (rul, lo, hi) = (
            p["rul_h"].as_f64().unwrap(),
            p["rul_lower_h"].as_f64().unwrap(),
            p["rul_upper_h"].as_f64().unwrap(),
        );
        assert!(0.0 <= lo && lo <= rul && rul <= hi, "{p}");
        let prob = p["failure_probability_pct"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&prob), "{p}");
        assert!((0.0..=1.0).contains(&p["health_index"].as_f64().unwrap()), "{p}");
        assert!(p["anomaly_score"].as_f64().unwrap() >= 0.0, "{p}");
    }
    let model_ready_ns = first.iter().filter_map(|p| p["ts_ns"].as_i64()).min().unwrap();

    // Failures after the model was in use: was P(failure within the horizon) >= 50 % before each?
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut outcomes: Vec<(String, bool, f64)> = Vec::new();
    while Instant::now() < deadline && outcomes.len() < 3 {
        outcomes.clear();
        for f in truth(&dir)
            .iter()
            .filter(|e| e["kind"] == "failure" && e["ts_ns"].as_i64().unwrap() > model_ready_ns + 120_000_000_000)
        {
            let asset = f["asset"].as_str().unwrap();
            if !predicted.iter().any(|a| a.id == asset) {
                continue;
            }
            let ts_ns = f["ts_ns"].as_i64().unwrap();
            // The failure's own life: after the asset's previous repair (if any).
            let since_ns = truth(&dir)
                .iter()
                .filter(|e| e["kind"] == "repaired" && e["asset"] == asset && e["ts_ns"].as_i64().unwrap() < ts_ns)
                .map(|e| e["ts_ns"].as_i64().unwrap())
                .max()
                .unwrap_or(0);
            // start/end in epoch milliseconds; points come back as [ts_ns, value].
            let hist = d.get(&format!(
                "/api/assets/{asset}/signals/failure_probability/history?raw=true&start={}&end={}",
                since_ns / 1_000_000 + 1,
                ts_ns / 1_000_000 + 1
            ));
            let points = hist["points"].as_array().unwrap();
            let first_alarm = points
                .iter()
                .find(|p| p[1].as_f64().unwrap() >= 50.0 && p[0].as_i64().unwrap() <= ts_ns)
                .map(|p| p[0].as_i64().unwrap());
            let lead_min = first_alarm.map_or(0.0, |t| (ts_ns - t) as f64 / 60e9);
            outcomes.push((asset.to_string(), first_alarm.is_some(), lead_min));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("failures seen with the model in use (asset, predicted, lead in simulated minutes): {outcomes:?}");
    assert!(!outcomes.is_empty(), "no failure within 240 s at speed 30; truth: {:?}", truth(&dir));
    let hits = outcomes.iter().filter(|o| o.1).count();
    assert!(hits * 2 > outcomes.len(), "most failures should be predicted before they happen: {outcomes:?}");

    // The predictions are stored signals, with history, and they move as degradation develops.
    let a = &outcomes.iter().find(|o| o.1).unwrap().0;
    let hist = d.get(&format!("/api/assets/{a}/signals/rul/history?raw=true&start=0&end=4102444800000"));
    let ruls: Vec<f64> = hist["points"].as_array().unwrap().iter().map(|p| p[1].as_f64().unwrap()).collect();
    assert!(ruls.len() > 10, "{hist}");
    // (Demo RULs are minutes: wear runs 2000 times faster than real time.)
    let (first_rul, last_rul) = (ruls[0], ruls[ruls.len() - 1]);
    assert!(
        last_rul < 0.75 * first_rul,
        "the RUL of {a} should fall as it degrades towards failure: {ruls:?}"
    );
    // Repairs arrive as maintenance records (as a CMMS would send them) and are stored.
    let repairs = d.get(&format!("/api/events?kind=maintenance&subject={a}"));
    assert!(
        repairs.to_string().contains("repair") || truth(&dir).iter().all(|e| e["kind"] != "repaired" || e["asset"] != a.as_str()),
        "{repairs}"
    );
    // A CMMS reports a repair of a motor (at the motor's latest data time: the simulated clock runs ahead).
    let motor = "l1-hyd-motor";
    let at_ns = d.get(&format!("/api/assets/{motor}/prediction"))["prediction"]["latest"]["ts_ns"]
        .as_i64()
        .unwrap();
    let body = format!(
        r#"{{"ts": {}, "kind": "repair", "component": "de_bearing", "work_order": "WO-1"}}"#,
        at_ns / 1_000_000
    );
    let (status, answer) = http(d.http, "POST", &format!("/api/assets/{motor}/maintenance"), Some(&body));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = http(d.http, "POST", "/api/assets/l1-meter/maintenance", Some(r#"{"kind": "fix"}"#));
    assert_eq!(status, 400, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.get(&format!("/api/assets/{motor}/prediction"))["prediction"]["latest"]["steps"]
        .as_u64()
        .unwrap_or(0)
        > 5
    {
        assert!(Instant::now() < deadline, "the repair did not start a new life for {motor}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(d);

    // Retraining from the stored history (the server is stopped).
    let out = Command::new(BIN)
        // A few simulated hours are stored: lives are short, so a short RUL cap leaves healthy steps
        // (more than a cap before the end of a life) for the anomaly detectors.
        .args([
            "learn",
            "train",
            "--from-store",
            "--data-dir",
            dir.to_str().unwrap(),
            "--cap-h",
            "0.1",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["version"], 2, "{report}");
    assert!(report["source"].as_str().unwrap().contains("stored history"), "{report}");
    assert!(!report["types"].as_object().unwrap().is_empty(), "{report}");
    // The reported repair ended a life as run to failure.
    assert!(report["types"]["induction_motor"]["failures"].as_u64().unwrap() >= 1, "{report}");
    let list = Command::new(BIN)
        .args(["learn", "models", "--data-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("predictive v1") && list.contains("predictive v2"), "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn learn_rul_reports_the_cmapss_figures() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cmapss");
    assert!(data.join("train_FD001.txt").is_file(), "C-MAPSS FD001 is missing in {}", data.display());
    let out = Command::new(BIN)
        .args(["learn", "rul", "--cmapss", data.to_str().unwrap(), "--subset", "FD001"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let value = |key: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no `{key} <value>` line in:\n{text}"))
    };
    assert!(value("RMSE ") <= 12.5, "{text}");
    assert!(value("PHM08 ") <= 300.0, "{text}");
    assert!((0.85..=0.95).contains(&value("coverage ")), "{text}");
    assert!(value("training_seconds ") <= 60.0, "{text}");
    // A subset that is not there is a clear error naming the file.
    let out = Command::new(BIN)
        .args(["learn", "rul", "--cmapss", data.to_str().unwrap(), "--subset", "FD009"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("train_FD009.txt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
