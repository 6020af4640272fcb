//! The API in-process (no sockets): every route documented in the OpenAPI spec and vice versa,
//! context as-of lookups, HTTP ingest reaching the twins with alerts, and the live stream.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use doppel_model::Plant;
use doppel_server::{AppState, app, build_state, live};
use doppel_store::{Store, StoreConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn plant() -> Arc<Plant> {
    Arc::new(Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap())
}

async fn setup() -> (Arc<AppState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let (state, rx) = build_state(plant(), store, Some(std::time::Duration::from_secs(86_400))).unwrap();
    tokio::spawn(live::run_twins(state.clone(), rx));
    (state, dir)
}

async fn call_bytes(state: &Arc<AppState>, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder().method(method).uri(uri).header("content-type", "application/octet-stream");
    let resp = app(state.clone()).oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
    )
}

/// One second of a 12.8 kHz drive-end accelerometer on a 6309 bearing (8 balls, 17.46 / 72.5 mm) at 1465 rpm with an
/// outer-race defect: impacts at BPFO (with 1 % timing jitter) ringing a 3 kHz resonance, plus 1× and noise.
fn outer_race_frame(t0_ns: i64, seed: u64) -> Vec<u8> {
    let fs = 12_800.0;
    let fr = 1465.0 / 60.0;
    let bpfo = 8.0 / 2.0 * fr * (1.0 - 17.46 / 72.5);
    let mut x = vec![0f32; 12_800];
    let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut uniform = move || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((rng >> 11) as f64) / ((1u64 << 53) as f64)
    };
    for (i, v) in x.iter_mut().enumerate() {
        let t = i as f64 / fs;
        let noise = (uniform() + uniform() + uniform() + uniform() - 2.0) * 0.05;
        *v = (0.02 * (2.0 * std::f64::consts::PI * fr * t).sin() + noise) as f32;
    }
    let mut t = uniform() / bpfo;
    while t < 1.0 {
        let start = (t * fs) as usize;
        for k in 0..200.min(x.len().saturating_sub(start)) {
            let tau = k as f64 / fs;
            x[start + k] += (1.5 * (-0.06 * 2.0 * std::f64::consts::PI * 3000.0 * tau).exp() * (2.0 * std::f64::consts::PI * 3000.0 * tau).sin()) as f32;
        }
        t += (1.0 + 0.01 * (uniform() - 0.5)) / bpfo;
    }
    let frame = doppel_model::WaveFrame {
        t0_ns,
        sample_rate_hz: fs,
        shaft_rpm: Some(1465.0),
        samples: x,
    };
    doppel_model::wave::encode(&frame, doppel_model::Encoding::i16_auto(&frame.samples)).unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let (state, _dir) = setup().await;
    let spec: Value = serde_json::from_str(doppel_server::api::OPENAPI).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    // Routes registered in api.rs, read from its source so a new route cannot be forgotten.
    let source = include_str!("../src/api.rs");
    let routes: Vec<String> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".route(\""))
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect();
    assert!(routes.len() >= 10, "{routes:?}");
    for r in &routes {
        if r == "/" {
            continue;
        }
        assert!(paths.contains_key(r), "route {r} is not in openapi.json");
    }
    // A waveform frame first, so the capture routes have something to show.
    let t0 = doppel_model::time::now() - 5_000_000_000;
    let (status, resp) = call_bytes(&state, "POST", "/api/assets/l1-hyd-motor/signals/accel_de/frames", outer_race_frame(t0, 1)).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    for (path, ops) in paths {
        assert!(routes.contains(path), "openapi.json documents {path}, which the router does not serve");
        if path.contains("/frames") {
            continue; // binary body; exercised above and in its own test
        }
        for method in ops.as_object().unwrap().keys() {
            if path == "/api/stream" {
                continue; // an endless stream; tested below
            }
            let uri = if path.contains("/captures") || path.contains("/diagnosis") {
                path.replace("{asset}", "l1-hyd-motor")
                    .replace("{signal}", "accel_de")
                    .replace("{t0}", &t0.to_string())
            } else {
                path.replace("{asset}", "l1-cnc-1").replace("{signal}", "spindle_temp").replace("{line}", "l1")
            };
            let body = match (method.as_str(), path.as_str()) {
                ("post", "/api/ingest") => Some(json!({"samples": [{"asset": "l1-cnc-1", "signal": "spindle_temp", "value": 30.0}]})),
                ("post", p) if p.ends_with("/maintenance") => Some(json!({"kind": "service", "note": "inspection"})),
                ("post", _) => Some(json!({"product": "shaft-a"})),
                _ => None,
            };
            let (status, resp) = call(&state, &method.to_uppercase(), &uri, body).await;
            assert!(status.is_success(), "{method} {uri}: {status} {resp}");
        }
    }
    let (status, resp) = call(&state, "GET", "/api/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(resp.to_string().contains("openapi"), "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_changes_are_stored_and_answer_as_of_queries() {
    let (state, _dir) = setup().await;
    let t0: i64 = 1_790_000_000_000; // ms
    for (dt, body) in [
        (0, json!({"product": "shaft-a", "batch": "B1", "work_order": "WO-1"})),
        (60_000, json!({"batch": "B2"})),
        (120_000, json!({"product": "shaft-b", "batch": null})),
    ] {
        let mut b = body.clone();
        b["ts"] = json!(t0 + dt);
        let (status, resp) = call(&state, "POST", "/api/lines/l1/context", Some(b)).await;
        assert_eq!(status, StatusCode::OK, "{resp}");
    }
    let at = |ms: i64| format!("/api/lines/l1/context?at={ms}");
    let (_, before) = call(&state, "GET", &at(t0 - 1), None).await;
    assert_eq!(before["context_id"], 0);
    let (_, c1) = call(&state, "GET", &at(t0 + 30_000), None).await;
    assert_eq!(c1["context"], json!({"product": "shaft-a", "batch": "B1", "work_order": "WO-1", "mode": null}));
    let (_, c2) = call(&state, "GET", &at(t0 + 90_000), None).await;
    assert_eq!(
        (c2["context"]["product"].as_str(), c2["context"]["batch"].as_str()),
        (Some("shaft-a"), Some("B2"))
    );
    let (_, c3) = call(&state, "GET", &at(t0 + 500_000), None).await;
    assert_eq!(c3["context"], json!({"product": "shaft-b", "batch": null, "work_order": "WO-1", "mode": null}));
    // Stored as events, and rebuilt after a restart of the pipeline.
    let (_, evs) = call(&state, "GET", "/api/events?kind=context&subject=l1", None).await;
    assert_eq!(evs.as_array().unwrap().len(), 3);
    // Samples are tagged with the context in force at their timestamp.
    let (status, _) = call(
        &state,
        "POST",
        "/api/ingest",
        Some(json!({"samples": [{"asset": "l1-cnc-2", "signal": "spindle_temp", "ts": t0 + 61_000, "value": 31.0}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let series = state.store.series_id("l1-cnc-2/spindle_temp").unwrap();
    let rows = state
        .store
        .query_raw_with_context(series, (t0 + 61_000) * 1_000_000, (t0 + 61_001) * 1_000_000)
        .unwrap();
    let (line, ctx) = state.ingestor.context_by_id(rows[0].2).unwrap();
    assert_eq!((line.as_str(), ctx.batch.as_deref()), ("l1", Some("B2")));
    // Unknown fields and unknown lines are clear 4xx errors.
    let (status, resp) = call(&state, "POST", "/api/lines/l1/context", Some(json!({"product": "x", "colour": "red"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert!(resp.to_string().contains("colour"), "{resp}");
    let (status, resp) = call(&state, "GET", "/api/lines/l9/context", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(resp["error"]["field"], "line");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_reaches_the_twin_raises_an_alert_and_streams_it() {
    let (state, _dir) = setup().await;
    let mut live = state.live.subscribe();
    let now_ms = doppel_model::time::now() / 1_000_000;
    let samples: Vec<Value> = (0..5)
        .map(|i| json!({"asset": "l1-hyd-motor", "signal": "winding_temp", "ts": now_ms - 5000 + i * 1000, "value": 100.0 + 12.0 * i as f64}))
        .collect();
    let (status, resp) = call(&state, "POST", "/api/ingest", Some(json!({"samples": samples}))).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(resp["accepted"], 5);
    // 100, 112 normal; 124 warning; 136 warning; 148 alarm (envelope: normal <= 120, warning <= 140).
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while kinds.iter().filter(|k: &&String| k.as_str() == "alert_raised").count() < 2 {
        let msg = tokio::time::timeout_at(deadline, live.recv())
            .await
            .expect("no alert on the live stream")
            .unwrap();
        let v: Value = serde_json::from_str(&msg).unwrap();
        kinds.push(v["type"].as_str().unwrap().to_string());
    }
    let (_, asset) = call(&state, "GET", "/api/assets/l1-hyd-motor", None).await;
    let sig = asset["live"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "winding_temp")
        .unwrap()
        .clone();
    assert_eq!(sig["last_value"], 148.0);
    assert_eq!(sig["status"], "alarm");
    let (_, alerts) = call(&state, "GET", "/api/alerts", None).await;
    let a = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["signal"] == "winding_temp")
        .expect("alert listed")
        .clone();
    assert_eq!(a["level"], "alarm");
    // The alert events are stored too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, evs) = call(&state, "GET", "/api/events?kind=alert_raised&subject=l1-hyd-motor", None).await;
    assert!(!evs.as_array().unwrap().is_empty(), "{evs}");
    // The SSE endpoint answers with an event stream.
    let req = Request::builder().uri("/api/stream").body(Body::empty()).unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame()).await.unwrap().unwrap().unwrap();
    let text = String::from_utf8_lossy(frame.data_ref().unwrap()).into_owned();
    assert!(text.starts_with("event: hello"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waveform_frames_become_features_a_diagnosis_and_captures() {
    let (state, _dir) = setup().await;
    let base = doppel_model::time::now() - 120_000_000_000;
    let uri = "/api/assets/l1-hyd-motor/signals/accel_de/frames";
    for k in 0..6 {
        let (status, resp) = call_bytes(&state, "POST", uri, outer_race_frame(base + k * 10_000_000_000, k as u64)).await;
        assert_eq!(status, StatusCode::OK, "{resp}");
        assert_eq!(resp["accepted"], 8, "8 features per frame: {resp}");
    }
    let (_, diag) = call(&state, "GET", "/api/assets/l1-hyd-motor/diagnosis", None).await;
    let ch = &diag["channels"][0];
    assert_eq!(ch["fault"], "outer_race", "{ch}");
    assert_eq!(ch["evidence"]["lines"][0]["label"], "BPFO", "{ch}");
    assert!(ch["evidence"]["lines"][0]["prominence_db"].as_f64().unwrap() > 14.0, "{ch}");
    assert_eq!(ch["speed_source"], "frame");
    assert!(ch["features"]["time"]["kurtosis"].as_f64().unwrap() > 4.0, "{ch}");
    // The asset view carries the same condition.
    let (_, asset) = call(&state, "GET", "/api/assets/l1-hyd-motor", None).await;
    assert_eq!(asset["condition"][0]["fault"], "outer_race");
    // Features are stored signals.
    let (_, hist) = call(&state, "GET", "/api/assets/l1-hyd-motor/signals/accel_de_kurtosis/history?raw=true", None).await;
    assert_eq!(hist["points"].as_array().unwrap().len(), 6, "{hist}");
    // A periodic capture (first frame) and captures around the diagnosis alarm.
    let (_, caps) = call(&state, "GET", "/api/assets/l1-hyd-motor/signals/accel_de/captures", None).await;
    let caps = caps["captures"].as_array().unwrap().clone();
    assert!(caps.iter().any(|c| c["reason"] == "periodic"), "{caps:?}");
    let alarm = caps
        .iter()
        .find(|c| c["reason"].as_str().unwrap().starts_with("alarm:"))
        .unwrap_or_else(|| panic!("{caps:?}"));
    let (status, detail) = call(
        &state,
        "GET",
        &format!("/api/assets/l1-hyd-motor/signals/accel_de/captures/{}", alarm["t0_ns"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["diagnosis"]["fault"], "outer_race", "{}", detail["diagnosis"]);
    assert!(detail["defect_frequencies"]["bpfo_hz"].as_f64().unwrap() > 70.0);
    assert!(!detail["envelope_spectrum"]["spectrum"]["amplitude"].as_array().unwrap().is_empty());
    // A diagnosis event records the change with its evidence.
    let (_, events) = call(&state, "GET", "/api/events?kind=diagnosis", None).await;
    assert!(events.to_string().contains("outer_race"), "{events}");

    // Bad input: garbage is quarantined with the field named; frames for a non-waveform signal are refused.
    let (status, resp) = call_bytes(&state, "POST", uri, b"not a frame at all".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{resp}");
    assert_eq!(resp["quarantined"][0]["field"], "magic", "{resp}");
    let (status, resp) = call_bytes(&state, "POST", "/api/assets/l1-hyd-motor/signals/current/frames", outer_race_frame(base, 9)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    let (status, _) = call(&state, "GET", "/api/assets/l1-hyd-motor/signals/accel_de/captures/12345", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// After a restart the predictive twins rebuild each asset's current life from the store, cut at its last
/// renewing maintenance.
#[tokio::test(flavor = "multi_thread")]
async fn predictions_restore_the_current_life_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let motor = plant().asset_position("l1-chip-motor").unwrap();
    let t0 = 1_767_225_600_000_000_000i64;
    {
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
        let (state, _rx) = build_state(plant(), store.clone(), None).unwrap();
        // 30 minutes at 1 Hz; a repair at minute 20 (after which 600 s = 60 steps of 10 s follow).
        let mut samples = Vec::new();
        for s in 0..1800i64 {
            for (signal, v) in [
                ("speed", 1460.0),
                ("vibration", 1.2),
                ("bearing_temp", 45.0),
                ("winding_temp_residual", 0.3),
                ("current", 18.0),
            ] {
                samples.push(doppel_ingest::payload::RawSample {
                    asset: "l1-chip-motor".into(),
                    signal: signal.into(),
                    ts_ns: t0 + s * 1_000_000_000,
                    value: Some(v),
                    unit: None,
                });
            }
        }
        let ing = state.ingestor.clone();
        tokio::task::spawn_blocking(move || {
            ing.ingest_blocking("test", &samples, Vec::new()).unwrap();
            let repair = doppel_model::MaintenanceRecord {
                kind: doppel_model::MaintenanceKind::Repair,
                component: Some("de_bearing".into()),
                work_order: None,
                note: None,
            };
            ing.record_maintenance("test", "l1-chip-motor", t0 + 1200 * 1_000_000_000 - 1, repair).unwrap();
        })
        .await
        .unwrap();
        store.close().unwrap();
    }
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let (state, _rx) = build_state(plant(), store, None).unwrap();
    let steps = state.predict.lock().life_steps(motor).unwrap();
    // The step open at the end of the data is not closed yet: 59 or 60 steps since the repair.
    assert!((59..=60).contains(&steps), "{steps} steps restored");
}
