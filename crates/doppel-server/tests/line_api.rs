//! The line, product and factory twins through the API, in-process: six hours of measured data for line 1
//! (with a planted cause: one spindle runs hot for two hours, another goes into alarm for half an hour) drive the
//! production twin; genealogy answers both ways and survives a restart with a torn tail; root cause ranks the
//! planted variable first; what-if, factory, simulation, scheduling and energy give real outputs, and bad input
//! is refused with the field named.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use doppel_model::Plant;
use doppel_server::production::{self, ProductionSettings};
use doppel_server::{AppState, app, build_state, live};
use doppel_store::{Store, StoreConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn plant() -> Arc<Plant> {
    Arc::new(Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap())
}

async fn call(state: &Arc<AppState>, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    let req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
    )
}

async fn ok(state: &Arc<AppState>, method: &str, uri: &str, body: Option<Value>) -> Value {
    let (s, v) = call(state, method, uri, body).await;
    assert_eq!(s, StatusCode::OK, "{method} {uri}: {v}");
    v
}

const MIN: i64 = 60_000_000_000;

/// A deterministic noise in [-1, 1).
fn noise(k: u64) -> f64 {
    let mut z = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Minute `m` of line 1's measurements: spindles at speed with temperatures near 42 °C (l1-cnc-2 at 52 °C in
/// minutes 120–239, l1-cnc-3 at 62 °C, in alarm, in minutes 300–329), loads and vibration that vary at random;
/// conveyors running.
fn minute(t0: i64, m: i64) -> Vec<doppel_ingest::payload::RawSample> {
    let ts = t0 + m * MIN;
    let mut out = Vec::new();
    let mut put = |asset: &str, signal: &str, value: f64| {
        out.push(doppel_ingest::payload::RawSample {
            asset: asset.into(),
            signal: signal.into(),
            ts_ns: ts,
            value: Some(value),
            unit: None,
        })
    };
    for k in 1..=4u64 {
        let a = format!("l1-cnc-{k}");
        let mut temp = 42.0 + 0.6 * noise(m as u64 * 16 + k);
        if k == 2 && (120..240).contains(&m) {
            temp = 52.0;
        }
        if k == 3 && (300..330).contains(&m) {
            temp = 62.0;
        }
        put(&a, "spindle_speed", 8000.0);
        put(&a, "spindle_temp", temp);
        put(&a, "spindle_load", 60.0 + 15.0 * noise(m as u64 * 16 + k + 4));
        put(&a, "vibration", 0.8 + 0.3 * noise(m as u64 * 16 + k + 8));
    }
    for k in 1..=3u64 {
        let a = format!("l1-conv-{k}");
        put(&a, "belt_speed", 0.5);
        put(&a, "motor_current", 4.0 + 0.5 * noise(m as u64 * 16 + k + 12));
    }
    out
}

async fn ingest(state: &Arc<AppState>, t0: i64, minutes: std::ops::Range<i64>) {
    let mut samples = Vec::new();
    for m in minutes {
        samples.extend(minute(t0, m));
    }
    let last = samples.iter().map(|s| s.ts_ns).max().unwrap();
    let n_before = state.applied_samples.load(std::sync::atomic::Ordering::Relaxed);
    let n = samples.len() as u64;
    let ing = state.ingestor.clone();
    tokio::task::spawn_blocking(move || ing.ingest_blocking("test", &samples, Vec::new()).unwrap())
        .await
        .unwrap();
    // the twins have seen it all (their clock is the plant's)
    for _ in 0..600 {
        if state.applied_samples.load(std::sync::atomic::Ordering::Relaxed) >= n_before + n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let i = state.plant.asset_position("l1-cnc-1").unwrap();
    let series = state
        .ingestor
        .catalog()
        .series(i, state.plant.assets[i].signal_index("spindle_speed").unwrap())
        .unwrap();
    assert_eq!(state.store.latest(series).unwrap().map(|x| x.0), Some(last));
    // and the alert events are stored
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn settings() -> ProductionSettings {
    ProductionSettings {
        // short segments, so that queries cross segment boundaries
        segment_units: 150,
        ..ProductionSettings::default()
    }
}

async fn setup() -> (Arc<AppState>, tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path().join("store"))).unwrap());
    let (state, rx) = build_state(plant(), store, Some(Duration::from_secs(86_400))).unwrap();
    tokio::spawn(live::run_twins(state.clone(), rx));
    let trace = dir.path().join("trace");
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.production.open(&trace, settings()).unwrap())
        .await
        .unwrap();
    // six hours that ended an hour ago, on whole minutes
    let t0 = (doppel_model::time::now() / MIN - 7 * 60) * MIN;
    (state, dir, t0)
}

async fn catch_up(state: &Arc<AppState>) -> usize {
    let st = state.clone();
    tokio::task::spawn_blocking(move || production::catch_up(&st).unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_genealogy_answers_both_ways_survives_a_restart_and_finds_the_planted_cause() {
    let (state, dir, t0) = setup().await;
    let (s, v) = call(&state, "GET", "/api/trace/units/1", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    ingest(&state, t0, 0..360).await;
    let chunks = catch_up(&state).await;
    // 6 hours in chunks of at most one hour, for the line with data (l1); the others have none
    assert!(chunks >= 6, "{chunks}");
    let prod = ok(&state, "GET", "/api/production", None).await;
    let l1 = prod["lines"].as_array().unwrap().iter().find(|l| l["line"] == "l1").unwrap().clone();
    let made = l1["units_made"].as_u64().unwrap();
    // four spindles at about 157 s a part: about 90 parts an hour
    assert!(made > 400 && made < 650, "{l1}");
    assert_eq!(l1["simulated_until_ns"].as_i64(), Some(t0 + 359 * MIN), "{l1}");
    let m2 = &l1["last_chunk"]["machines"].as_array().unwrap()[1];
    assert_eq!(m2["asset"], "l1-cnc-2");
    assert!(m2["conditions"][0][0] == "spindle_temp" && m2["down"] == false, "{m2}");
    assert!(prod["lines"].as_array().unwrap().iter().any(|l| l["line"] == "l2" && l["units_made"] == 0));
    assert!(prod["index"]["lines"][0]["segments"].as_u64().unwrap() >= 3, "{prod}");

    // everything about one finished unit
    let first = l1["last_chunk"]["serial_base"].as_u64().unwrap() - 150;
    let unit = ok(&state, "GET", &format!("/api/trace/units/{first}"), None).await;
    assert_eq!(unit["state"], "finished", "{unit}");
    let visits = unit["visits"].as_array().unwrap();
    let path: Vec<&str> = visits.iter().map(|v| v["station"].as_str().unwrap()).collect();
    assert_eq!(path, ["l1-cnc", "l1-conv-1", "l1-conv-2", "l1-conv-3"], "{unit}");
    let mill = &visits[0];
    let asset = mill["asset"].as_str().unwrap().to_string();
    assert!(asset.starts_with("l1-cnc-"), "{mill}");
    assert!(mill["conditions"]["spindle_temp"].as_f64().unwrap() > 40.0, "{mill}");
    assert_eq!(unit["quality"][0]["check"], "dimension");
    let lot = unit["lots"][0].as_str().unwrap().to_string();
    assert!(lot.starts_with("l1-blank-"), "{unit}");
    // … and the other way: the units of that spindle while it processed this one, and of that lot
    let (a, b) = (mill["start_ns"].as_i64().unwrap(), mill["end_ns"].as_i64().unwrap());
    let by_asset = ok(
        &state,
        "GET",
        &format!("/api/trace/units?asset={asset}&start={}&end={}", a / 1_000_000, b / 1_000_000 + 1),
        None,
    )
    .await;
    assert!(by_asset["serials"].as_array().unwrap().contains(&json!(first)), "{by_asset}");
    let whole = ok(&state, "GET", &format!("/api/trace/units?asset={asset}&limit=100000"), None).await;
    let with_lot = ok(&state, "GET", &format!("/api/trace/units?lot={lot}&limit=100000"), None).await;
    assert!(with_lot["serials"].as_array().unwrap().contains(&json!(first)));
    assert!(with_lot["total"].as_u64().unwrap() <= 500);
    // the answers agree with each unit's own genealogy
    for s in with_lot["serials"].as_array().unwrap().iter().step_by(25) {
        let g = ok(&state, "GET", &format!("/api/trace/units/{s}"), None).await;
        assert!(g["lots"].as_array().unwrap().contains(&json!(lot)), "{g}");
    }
    for s in whole["serials"].as_array().unwrap().iter().step_by(20) {
        let g = ok(&state, "GET", &format!("/api/trace/units/{s}"), None).await;
        assert!(g["visits"].as_array().unwrap().iter().any(|v| v["asset"] == asset.as_str()), "{g}");
    }
    // units made while l1-cnc-3 was in alarm (its twin's alarm from 62 °C, minutes 300–329)
    let hot = ok(&state, "GET", "/api/trace/units?alarm=l1-cnc-3", None).await;
    let iv = hot["alarm_intervals"].as_array().unwrap();
    assert!(!iv.is_empty(), "{hot}");
    let (s0, e0) = (iv[0]["start_ns"].as_i64().unwrap(), iv.last().unwrap()["end_ns"].as_i64().unwrap());
    // the twin's alarm, merged with the simulator's (from the first unit started hot to the first started cool again)
    assert!(
        s0 >= t0 + 299 * MIN && s0 <= t0 + 301 * MIN && e0 >= t0 + 329 * MIN && e0 <= t0 + 336 * MIN,
        "{iv:?}"
    );
    let n_hot = hot["total"].as_u64().unwrap();
    assert!(n_hot >= 5, "{hot}");
    for s in hot["serials"].as_array().unwrap() {
        let g = ok(&state, "GET", &format!("/api/trace/units/{s}"), None).await;
        let v = g["visits"].as_array().unwrap().iter().find(|v| v["asset"] == "l1-cnc-3").unwrap().clone();
        assert!(v["end_ns"].as_i64().unwrap() > s0 && v["start_ns"].as_i64().unwrap() < e0, "{g}");
    }
    // a pump of the line: no alarm, no units; and a pump is not a machine
    let pump = ok(&state, "GET", "/api/trace/units?alarm=l1-coolant-pump", None).await;
    assert_eq!(pump["total"], 0, "{pump}");
    let (s, v) = call(&state, "GET", "/api/trace/units?asset=l1-coolant-pump", None).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("asset")), "{v}");
    let (s, v) = call(&state, "GET", "/api/trace/units?asset=l1-cnc-1&lot=x", None).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("asset")), "{v}");
    let (s, v) = call(&state, "GET", "/api/trace/units/abc", None).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("serial")), "{v}");
    // the dashboard's forms
    let d = ok(&state, "GET", &format!("/api/trace?serial=SN-{first}"), None).await;
    assert_eq!(d["steps"].as_array().unwrap().len(), 4);
    let d = ok(
        &state,
        "GET",
        &format!("/api/trace?asset={asset}&start={}&end={}", a / 1_000_000, b / 1_000_000 + 1),
        None,
    )
    .await;
    assert!(d["items"].as_array().unwrap().iter().any(|x| x["serial"] == first), "{d}");
    let summary = ok(&state, "GET", "/api/trace", None).await;
    assert_eq!(summary["units_indexed"].as_u64(), Some(made), "{summary}");

    // root cause of the dimension failures: the hot spindles' temperature, not their load or vibration
    let rc = ok(&state, "GET", "/api/lines/l1/rootcause?check=dimension", None).await;
    println!("{}", serde_json::to_string_pretty(&rc["candidates"]).unwrap());
    assert_eq!(rc["top"], "l1-cnc.spindle_temp", "{rc}");
    let c = rc["candidates"].as_array().unwrap();
    assert!(c[0]["significant"] == true && c[0]["effect_size"].as_f64().unwrap() > 1.0, "{rc}");
    assert!(rc["failed"].as_u64().unwrap() >= 40, "{rc}");
    for other in c.iter().filter(|x| x["name"] == "l1-cnc.spindle_load" || x["name"] == "l1-cnc.vibration") {
        assert!(other["significant"] == false, "{other}");
    }
    let (s, v) = call(&state, "GET", "/api/lines/l1/rootcause?check=nope", None).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("check")), "{v}");

    // a restart: the index comes back from the files, even with a torn write at the end
    let before_unit = ok(&state, "GET", &format!("/api/trace/units/{first}"), None).await;
    let file = std::fs::read_dir(dir.path().join("trace")).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(b"DTR1\x40\x00\x00\x00garbage");
    std::fs::write(&file, &bytes).unwrap();
    let (st, trace) = (state.clone(), dir.path().join("trace"));
    let rec = tokio::task::spawn_blocking(move || st.production.open(&trace, settings()).unwrap())
        .await
        .unwrap();
    assert_eq!(rec.truncated_bytes, 15);
    assert_eq!(std::fs::metadata(&file).unwrap().len() as usize, len);
    assert_eq!(ok(&state, "GET", &format!("/api/trace/units/{first}"), None).await, before_unit);
    let again = ok(&state, "GET", "/api/trace", None).await;
    assert_eq!(again["units_indexed"].as_u64(), Some(made));
    // and production continues where it stood: new serials follow, none is reused
    let next = ok(&state, "GET", "/api/production", None).await["next_serial"].as_u64().unwrap();
    ingest(&state, t0, 360..420).await;
    assert!(catch_up(&state).await >= 1);
    let p2 = ok(&state, "GET", "/api/production", None).await;
    let l1b = p2["lines"].as_array().unwrap().iter().find(|l| l["line"] == "l1").unwrap().clone();
    assert!(
        l1b["units_made"].as_u64().unwrap() > made && l1b["last_chunk"]["serial_base"].as_u64().unwrap() >= next,
        "{l1b}"
    );
    let g = ok(&state, "GET", &format!("/api/trace/units/{next}"), None).await;
    assert!(g["entered_ns"].as_i64().unwrap() >= t0 + 359 * MIN, "{g}");
}

fn line1_orders() -> Value {
    json!([
        {"id": "A1", "product": "shaft-a", "quantity": 60, "due_h": 2.0},
        {"id": "B1", "product": "shaft-b", "quantity": 40, "due_h": 3.0},
        {"id": "A2", "product": "shaft-a", "quantity": 50, "due_h": 3.5},
        {"id": "B2", "product": "shaft-b", "quantity": 70, "due_h": 5.0},
        {"id": "A3", "product": "shaft-a", "quantity": 30, "due_h": 5.5, "weight": 2.0},
        {"id": "B3", "product": "shaft-b", "quantity": 45, "due_h": 8.0}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatif_factory_simulation_schedule_and_energy_give_real_answers() {
    let (state, _dir, t0) = setup().await;
    ingest(&state, t0, 0..30).await;
    catch_up(&state).await;
    // what the dashboard needs
    let spec = ok(&state, "GET", "/api/whatif", None).await;
    let lines: Vec<&str> = spec["lines"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(lines, ["l1", "l2", "l3"]);
    let l1 = &spec["lines"][0];
    assert_eq!(l1["design_bottleneck"], "l1-cnc");
    assert!(l1["current_state"]["units_in_line"].as_u64().unwrap() > 0, "{l1}");
    assert!(l1["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "l1-cnc.speed"));
    assert_eq!(spec["kpis"].as_array().unwrap().len(), 13);
    assert!(spec["change_kinds"].as_array().unwrap().len() >= 10);

    // a faster bottleneck raises throughput, with an interval that excludes 0
    let body = json!({"line": "l1", "scenarios": [
        {"name": "mill 20 % faster", "changes": [{"kind": "station_speed", "station": "l1-cnc", "factor": 1.2}]},
        {"name": "faster last conveyor", "changes": [{"kind": "station_speed", "station": "l1-conv-3", "factor": 1.5}]}
    ], "replications": 10, "days": 2, "seed": 3});
    let r = ok(&state, "POST", "/api/whatif", Some(body)).await;
    let tp = &r["variants"][0]["kpis"]["throughput_per_h"];
    println!("what-if l1: {tp}");
    assert!(tp["significant"] == true && tp["difference"]["lower"].as_f64().unwrap() > 0.0, "{tp}");
    assert!(tp["relative"].as_f64().unwrap() > 0.1, "{tp}");
    // a non-bottleneck does not (its interval contains 0 or the change is tiny)
    let tp2 = &r["variants"][1]["kpis"]["throughput_per_h"];
    assert!(tp2["relative"].as_f64().unwrap().abs() < 0.03, "{tp2}");
    assert_eq!(r["baseline_bottlenecks"]["l1-cnc"], 10, "{r}");
    assert!(r["from_state"]["units_in_line"].as_u64().unwrap() > 0);
    assert!(r["replications_per_s"].as_f64().unwrap() > 1.0);
    // the dashboard's form
    let r = ok(
        &state,
        "POST",
        "/api/whatif",
        Some(json!({"line": "l1", "parameters": {"l1-cnc.machines": 5, "l1-cnc.speed": 1.0}, "runs": 4, "days": 1})),
    )
    .await;
    assert!(r["difference"]["throughput_per_h"]["mean"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["baseline"]["oee"]["lower"].as_f64().is_some() && r["confidence"] == 0.95);
    // bad input names the field
    for (body, field) in [
        (
            json!({"line": "l1", "scenarios": [{"name": "x", "changes": []}], "replications": 500}),
            "replications",
        ),
        (json!({"line": "l1", "scenarios": [{"name": "x", "changes": []}], "days": 400}), "days"),
        (
            json!({"line": "l1", "scenarios": [{"name": "x", "changes": [{"kind": "station_speed", "station": "nope", "factor": 1.1}]}]}),
            "scenarios[0].changes[0].station",
        ),
        (
            json!({"line": "l1", "scenarios": [{"name": "x", "changes": [{"kind": "station_speed", "station": "l1-cnc", "factor": "fast"}]}]}),
            "scenarios[0].changes[0]",
        ),
        (json!({"line": "l1", "parameters": {"l1-cnc.colour": 2}}), "parameters.l1-cnc.colour"),
        (
            json!({"line": "l1", "scenarios": [{"name": "x", "changes": []}], "replications": 200, "days": 90}),
            "replications",
        ),
        (json!({"scenarios": []}), "line"),
    ] {
        let (s, v) = call(&state, "POST", "/api/whatif", Some(body.clone())).await;
        assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}: {v}");
    }
    let (s, v) = call(&state, "POST", "/api/whatif", Some(json!({"line": "u1", "scenarios": []}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::NOT_FOUND, Some("line")), "{v}");

    // factory: a late lot starves line 1, a copy of line 3 adds its output
    let f = ok(
        &state,
        "POST",
        "/api/whatif/factory",
        Some(json!({"scenarios": [
            {"name": "lot 2 of l1 a day late", "changes": [{"kind": "lot_delay", "component": "l1-blank", "lot": "l1-blank-00002", "delay_h": 24}]},
            {"name": "a second line 3", "changes": [{"kind": "copy_line", "line": "l3", "id": "l3b"}]}
        ], "replications": 5, "days": 3, "supply": {"on_hand_lots": 1}})),
    )
    .await;
    let late = &f["variants"][0];
    let l1c = late["lines"].as_array().unwrap().iter().find(|l| l["line"] == "l1").unwrap();
    println!("factory: {late}");
    assert!(l1c["significant"] == true && l1c["difference"]["mean"].as_f64().unwrap() < 0.0, "{l1c}");
    assert!(l1c["no_material_share"]["mean"].as_f64().unwrap() > 0.02, "{l1c}");
    let more = &f["variants"][1]["total"];
    assert!(more["difference"]["lower"].as_f64().unwrap() > 0.0, "{more}");
    let (s, v) = call(
        &state,
        "POST",
        "/api/whatif/factory",
        Some(json!({"scenarios": [{"name": "x", "changes": [{"kind": "copy_line", "line": "zz", "id": "q"}]}]})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("scenarios[0].changes[0].line")),
        "{v}"
    );

    // one simulated day: the bottleneck a person expects (four spindles at 150 s against 2 s conveyors)
    let sim = ok(&state, "GET", "/api/lines/l1/simulation?hours=24", None).await;
    assert_eq!(sim["bottleneck"]["station"], "l1-cnc", "{sim}");
    let st = sim["stations"].as_array().unwrap();
    assert_eq!(st.len(), 4);
    let cnc_busy = st[0]["shares"]["busy"].as_f64().unwrap();
    assert!(cnc_busy > 0.7, "{}", st[0]);
    assert!(sim["oee"]["oee"].as_f64().unwrap() > 0.5 && sim["oee"]["oee"].as_f64().unwrap() < 1.0);
    let (s, v) = call(&state, "GET", "/api/lines/l1/simulation?hours=0", None).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("hours")), "{v}");

    // scheduling: at least as good as EDD in the model, and no worse in simulation
    let sch = ok(
        &state,
        "POST",
        "/api/lines/l1/schedule",
        Some(json!({"orders": line1_orders(), "replications": 8, "blocked": [{"start_h": 1.0, "end_h": 1.5}]})),
    )
    .await;
    let (best, edd) = (sch["schedule"]["objective"].as_f64().unwrap(), sch["edd"]["objective"].as_f64().unwrap());
    println!("schedule: optimised {best:.0}, EDD {edd:.0}, FIFO {}", sch["fifo"]["objective"]);
    assert!(best <= edd + 1e-6, "{sch}");
    let sims = sch["simulated"].as_array().unwrap();
    let (so, se) = (&sims[0], &sims[1]);
    assert_eq!((so["name"].as_str(), se["name"].as_str()), (Some("optimised"), Some("edd")));
    // the objective counts changeovers: the optimised sequence changes over less and finishes sooner
    let m = |x: &Value, k: &str| x[k]["mean"].as_f64().unwrap();
    assert!(
        m(so, "changeovers") <= m(se, "changeovers") && m(so, "makespan_s") <= m(se, "makespan_s") + se["makespan_s"]["half_width"].as_f64().unwrap(),
        "{sims:?}"
    );
    // on tardiness alone (no weight on changeovers) it is no later than EDD, in the model and simulated
    let t = ok(
        &state,
        "POST",
        "/api/lines/l1/schedule",
        Some(json!({"orders": line1_orders(), "replications": 8, "setup_weight": 0.0})),
    )
    .await;
    assert!(
        t["schedule"]["weighted_tardiness_s"].as_f64().unwrap() <= t["edd"]["weighted_tardiness_s"].as_f64().unwrap() + 1e-6,
        "{t}"
    );
    let ts = t["simulated"].as_array().unwrap();
    assert!(
        m(&ts[0], "weighted_tardiness_s") <= m(&ts[1], "weighted_tardiness_s") + ts[1]["weighted_tardiness_s"]["half_width"].as_f64().unwrap() + 60.0,
        "{ts:?}"
    );
    assert_eq!(sch["blocked"][0]["source"], "request");
    assert_eq!(sch["schedule"]["sequence"].as_array().unwrap().len(), 6);
    for (body, field) in [
        (
            json!({"orders": [{"id": "x", "product": "flange-c", "quantity": 5, "due_h": 1}]}),
            "orders[0].product",
        ),
        (json!({"orders": [{"id": "x", "product": "shaft-a", "quantity": 5}]}), "orders[0].due_h"),
        (json!({}), "orders"),
    ] {
        let (s, v) = call(&state, "POST", "/api/lines/l1/schedule", Some(body.clone())).await;
        assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}: {v}");
    }

    // energy: a simulated week under the business price, and night against day shift under a time-of-use tariff
    let e = ok(&state, "GET", "/api/lines/l1/energy?days=2", None).await;
    let (kwh, cost) = (e["energy_kwh"].as_f64().unwrap(), e["cost"].as_f64().unwrap());
    assert!(kwh > 100.0 && (cost - 0.15 * kwh).abs() < 1e-6 * kwh, "{e}");
    assert!(e["kwh_per_good_unit"].as_f64().unwrap() > 0.0 && e["by_station"].as_array().unwrap().len() == 4);
    let e2 = ok(&state, "GET", "/api/lines/l1/energy?days=2&peak=0.3&off_peak=0.1", None).await;
    assert!(e2["cost"].as_f64().unwrap() < 0.3 * kwh && e2["cost"].as_f64().unwrap() > 0.1 * kwh, "{e2}");
    let ew = ok(
        &state,
        "POST",
        "/api/lines/l1/energy",
        Some(json!({"tariff": {"peak": 0.32, "off_peak": 0.11, "peak_start_h": 6, "peak_end_h": 22}, "replications": 5, "days": 7})),
    )
    .await;
    let night = &ew["variants"][0]["kpis"];
    println!("energy: {night}");
    assert!(
        night["energy_cost_per_good_unit"]["significant"] == true && night["energy_cost_per_good_unit"]["relative"].as_f64().unwrap() < -0.3,
        "{ew}"
    );
    assert!(night["throughput_per_h"]["relative"].as_f64().unwrap().abs() < 0.05, "{ew}");
    let (s, v) = call(&state, "POST", "/api/lines/l1/energy", Some(json!({"tariff": {"peak": -1, "off_peak": 0.1}}))).await;
    assert_eq!((s, v["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("tariff")), "{v}");
}

#[test]
fn the_line_routes_are_the_documented_ones() {
    let source = include_str!("../src/line_api.rs");
    let routes: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".route(\""))
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(routes, doppel_server::line_api::PATHS);
    let spec: Value = serde_json::from_str(doppel_server::api::OPENAPI).unwrap();
    for p in doppel_server::line_api::PATHS {
        assert!(spec["paths"][p].is_object(), "{p} not in openapi.json");
    }
}
