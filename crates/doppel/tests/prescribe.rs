//! Prescriptive twins end to end in the demo: a developing fault produces a recommendation with its alternatives
//! and their simulated consequences; a person approves it through the API; the work order runs (the repair command
//! reaches the simulator, which repairs the asset and reports the maintenance under the work order) and the asset
//! starts a new life; an automatic derate happens within its guardrail limit; everything is in the audit log,
//! whose hash chain verifies.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn post(d: &Doppel, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (status, text) = http(d.http, "POST", path, Some(body));
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

fn log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default()
}

#[test]
fn demo_recommends_a_repair_a_person_approves_it_the_work_order_runs_and_a_derate_is_automatic_and_audited() {
    let dir = tempdir("prescribe");
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
            "--speed",
            "10",
            "--waveform-every-s",
            "0",
        ],
        port,
        &dir.join("log.txt"),
    );
    // Models (trained in the background), then plans.
    let deadline = Instant::now() + Duration::from_secs(300);
    while d.get("/api/models")["in_use"].is_null() {
        assert!(Instant::now() < deadline, "no predictive model within 300 s; log: {}", log(&dir));
        std::thread::sleep(Duration::from_millis(500));
    }
    let business = d.get("/api/business");
    assert_eq!(business["lines"].as_array().unwrap().len(), 4, "{business}");

    // A maintenance recommendation with alternatives simulated over the RUL scenarios.
    let deadline = Instant::now() + Duration::from_secs(240);
    let rec = loop {
        let recs = d.get("/api/recommendations?state=open");
        if let Some(r) = recs["recommendations"].as_array().unwrap().iter().find(|r| r["action"] == "maintain") {
            break r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no open maintenance recommendation within 240 s: {recs}; log: {}",
            log(&dir)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let alts = rec["alternatives"].as_array().unwrap();
    assert!(alts.len() >= 2, "{rec}");
    assert!(alts.iter().any(|a| a["kind"] == "run_on"), "run on is always an alternative: {rec}");
    assert!(alts.iter().any(|a| a["chosen"] == true), "{rec}");
    for a in alts {
        let c = &a["consequences"];
        assert!((0.0..=1.0).contains(&c["failure_probability"].as_f64().unwrap()), "{a}");
        assert!(c["downtime_h"].as_f64().unwrap() >= 0.0 && a["expected_cost"].as_f64().unwrap() >= 0.0, "{a}");
    }
    assert!(rec["prediction"]["risk_if_run_on"].as_f64().unwrap() > 0.0, "{rec}");
    let plan = d.get("/api/plan");
    assert!(
        plan["version"].as_u64().unwrap() >= 1 && plan["plan"]["expected_total"].as_f64().unwrap() <= plan["plan"]["run_on_total"].as_f64().unwrap() + 1e-6,
        "{plan}"
    );

    // Approval needs a named user; then a work order is scheduled.
    let id = rec["id"].as_str().unwrap();
    let asset = rec["asset"].as_str().unwrap().to_string();
    let (status, body) = post(&d, &format!("/api/recommendations/{id}/approve"), "{}");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "user");
    let approved_ms = now_ms();
    let (status, body) = post(&d, &format!("/api/recommendations/{id}/approve"), r#"{"user": "alice", "note": "crew early"}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "approved", "{body}");
    let wo = body["work_order"].as_str().unwrap().to_string();
    let (status, _) = post(&d, &format!("/api/recommendations/{id}/approve"), r#"{"user": "alice"}"#);
    assert_eq!(status, 409, "approving twice is a conflict");

    // The work order runs at its slot (a technician may also start it now) and the plant reports it done.
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = Instant::now();
    let done = loop {
        let list = d.get("/api/work-orders");
        let w = list["work_orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == wo.as_str())
            .cloned()
            .unwrap();
        if w["state"] == "done" {
            break w;
        }
        if w["state"] == "scheduled" && started.elapsed() > Duration::from_secs(30) {
            let (s, b) = post(&d, &format!("/api/work-orders/{wo}/start"), r#"{"user": "bob"}"#);
            assert!(s == 200 || s == 409, "{b}");
        }
        assert!(Instant::now() < deadline, "work order not done within 120 s: {w}; log: {}", log(&dir));
        std::thread::sleep(Duration::from_millis(300));
    };
    let states: Vec<&str> = done["history"].as_array().unwrap().iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(states, ["approved", "scheduled", "in_progress", "done"], "{done}");
    // The repair reached the simulator under the work order, and the twin renewed the asset.
    let events = d.get(&format!("/api/events?kind=maintenance&subject={asset}&start={approved_ms}"));
    let stored = events.as_array().unwrap();
    assert!(
        stored.iter().any(|e| e["payload"]["work_order"] == wo.as_str()),
        "no maintenance record naming {wo}: {events}"
    );
    let actions = d.get("/api/actions");
    let repair = actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "repair" && a["work_order"] == wo.as_str())
        .cloned()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut repair = repair;
    while repair["status"] == "sent" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        repair = d.get("/api/actions")["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "repair" && a["work_order"] == wo.as_str())
            .cloned()
            .unwrap();
    }
    assert_eq!(repair["status"], "applied", "the simulator acknowledges the repair: {repair}");
    let truth = std::fs::read_to_string(dir.join("ground-truth.jsonl")).unwrap();
    assert!(
        truth.lines().any(|l| l.contains("\"repaired\"") && l.contains(&format!("\"{asset}\""))),
        "no repair of {asset} in the ground truth"
    );

    // An automatic derate within its 20 % limit, executed by the policy and acknowledged by the plant.
    let deadline = Instant::now() + Duration::from_secs(240);
    let derate = loop {
        let actions = d.get("/api/actions");
        if let Some(a) = actions["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "derate" && a["by"].as_str().unwrap().starts_with("policy:"))
        {
            break a.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no automatic derate within 240 s: {actions}; recommendations: {}",
            d.get("/api/recommendations")
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let share = derate["derate"].as_f64().unwrap();
    assert!(share > 0.0 && share <= 0.2 + 1e-9, "{derate}");

    // Everything is audited, in one hash chain.
    let audit = d.get("/api/audit?limit=10000");
    let records = audit["records"].as_array().unwrap();
    let has = |action: &str, pred: &dyn Fn(&serde_json::Value) -> bool| records.iter().any(|r| r["action"] == action && pred(r));
    assert!(
        has("recommendation.approve", &|r| r["actor"] == "alice" && r["detail"]["recommendation"] == id),
        "{audit}"
    );
    assert!(has("work_order.done", &|r| r["detail"]["work_order"] == wo.as_str()), "{audit}");
    assert!(has("command.derate", &|r| r["actor"].as_str().unwrap().starts_with("policy:")), "{audit}");
    for w in records.windows(2) {
        assert_eq!(w[1]["prev"], w[0]["hash"], "broken chain: {w:?}");
    }
    drop(d);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doppel"))
        .args(["audit", "verify", "--data-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("intact"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
