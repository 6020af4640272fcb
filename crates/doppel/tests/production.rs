//! The production twin in the demo: units are produced in step with the simulated plant; a serial's genealogy names
//! the machines that processed it, and asking those machines (and its lot of blanks) for their units finds it;
//! a what-if on the live line, a schedule of the business data's order and root cause answer; after `kill -9` and a
//! restart the genealogy is still there and serial numbers continue.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn post(d: &Doppel, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = http(d.http, "POST", path, Some(&body.to_string()));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default()
}

/// The first serial that has been through line 1's last station.
fn finished_unit(d: &Doppel, dir: &std::path::Path, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = http(d.http, "GET", "/api/trace/units?asset=l1-conv-3&limit=5", None);
        if status == 200 {
            let v: Value = serde_json::from_str(&body).unwrap();
            if let Some(s) = v["serials"].as_array().and_then(|a| a.first()).and_then(Value::as_u64) {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no finished unit on line 1 within {limit:?}: {body}; production: {}; log: {}",
            d.get("/api/production"),
            log(dir)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_demo_produces_units_whose_genealogy_answers_both_ways_and_survives_kill_9() {
    let dir = tempdir("production");
    let port = free_port();
    let mqtt = free_port();
    let args: Vec<String> = [
        "demo",
        "--port",
        &port.to_string(),
        "--mqtt-port",
        &mqtt.to_string(),
        "--data-dir",
        dir.to_str().unwrap(),
        // 30 plant seconds per second: a one-minute production chunk every 2 s
        "--speed",
        "30",
        "--waveform-every-s",
        "0",
        "--no-training",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Doppel::start(&argv, port, &dir.join("log.txt"));

    let serial = finished_unit(&d, &dir, Duration::from_secs(120));
    let unit = d.get(&format!("/api/trace/units/{serial}"));
    assert_eq!(unit["line"], "l1", "{unit}");
    let visits = unit["visits"].as_array().unwrap();
    let path: Vec<&str> = visits.iter().map(|v| v["station"].as_str().unwrap()).collect();
    assert_eq!(path, ["l1-cnc", "l1-conv-1", "l1-conv-2", "l1-conv-3"], "{unit}");
    // the conditions are the demo's measured spindle signals at that time
    let temp = visits[0]["conditions"]["spindle_temp"].as_f64().unwrap();
    assert!(temp > 0.0 && temp < 150.0, "{unit}");
    assert!(visits[0]["conditions"]["spindle_load"].is_number(), "{unit}");
    // every machine that processed it knows it, in the time it was there
    for v in visits {
        let (a, s, e) = (v["asset"].as_str().unwrap(), v["start_ns"].as_i64().unwrap(), v["end_ns"].as_i64().unwrap());
        let found = d.get(&format!("/api/trace/units?asset={a}&start={}&end={}", s / 1_000_000, e / 1_000_000 + 1));
        assert!(found["serials"].as_array().unwrap().contains(&json!(serial)), "{a}: {found}");
    }
    let lot = unit["lots"][0].as_str().unwrap();
    let with_lot = d.get(&format!("/api/trace/units?lot={lot}&limit=1000"));
    assert!(with_lot["serials"].as_array().unwrap().contains(&json!(serial)), "{with_lot}");
    let spindle = visits[0]["asset"].as_str().unwrap();
    let alarm = d.get(&format!("/api/trace/units?alarm={spindle}"));
    assert!(alarm["alarm_intervals"].is_array() && alarm["total"].is_u64(), "{alarm}");
    let prod = d.get("/api/production");
    let l1 = prod["lines"].as_array().unwrap().iter().find(|l| l["line"] == "l1").unwrap().clone();
    assert!(l1["chunks"].as_u64().unwrap() >= 2 && l1["units_made"].as_u64().unwrap() >= 5, "{prod}");
    assert!(prod["storage"]["bytes"].as_u64().unwrap() > 0, "{prod}");

    // what-if on the live line: a faster mill makes more
    let (status, r) = post(
        &d,
        "/api/whatif",
        &json!({"line": "l1", "scenarios": [{"name": "mill +20 %", "changes": [{"kind": "station_speed", "station": "l1-cnc", "factor": 1.2}]}], "replications": 6, "days": 1}),
    );
    assert_eq!(status, 200, "{r}");
    let tp = &r["variants"][0]["kpis"]["throughput_per_h"];
    assert!(tp["significant"] == true && tp["difference"]["mean"].as_f64().unwrap() > 0.0, "{tp}");
    assert!(r["from_state"]["units_in_line"].is_u64(), "{r}");
    // the business data's order of line 3, around the planner's work orders
    let (status, s) = post(&d, "/api/lines/l3/schedule", &json!({"replications": 3}));
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["orders_from"], "business data");
    assert_eq!(s["schedule"]["sequence"], json!(["PO-1003"]), "{s}");
    let (status, rc) = (
        http(d.http, "GET", "/api/lines/l1/rootcause?check=dimension&permutations=99", None).0,
        d.get("/api/lines/l1/simulation?hours=8"),
    );
    assert!(status == 200 || status == 404, "root cause: {status}");
    assert_eq!(rc["bottleneck"]["station"], "l1-cnc", "{rc}");

    // kill -9 and start again on the same data: the genealogy is back, production goes on with new serials
    let before = d.get(&format!("/api/trace/units/{serial}"));
    let next_before = d.get("/api/production")["next_serial"].as_u64().unwrap();
    d.crash_and_restart();
    // the index is rebuilt in the background after the server answers
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(d.http, "GET", &format!("/api/trace/units/{serial}"), None).0 == 503 {
        assert!(Instant::now() < deadline, "genealogy not back within 30 s; log: {}", log(&dir));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.get(&format!("/api/trace/units/{serial}")), before);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = d.get("/api/production");
        if p["next_serial"].as_u64().unwrap() > next_before {
            assert!(p["storage"]["records_at_start"].as_u64().unwrap() >= 2, "{p}");
            break;
        }
        assert!(Instant::now() < deadline, "no production after the restart: {p}; log: {}", log(&dir));
        std::thread::sleep(Duration::from_millis(500));
    }
    let fresh = d.get(&format!("/api/trace/units/{next_before}"));
    assert!(fresh["entered_ns"].as_i64().unwrap() >= before["entered_ns"].as_i64().unwrap(), "{fresh}");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
