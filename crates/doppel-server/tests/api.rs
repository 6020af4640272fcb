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
    for (path, ops) in paths {
        assert!(routes.contains(path), "openapi.json documents {path}, which the router does not serve");
        for method in ops.as_object().unwrap().keys() {
            if path == "/api/stream" {
                continue; // an endless stream; tested below
            }
            let uri = path.replace("{asset}", "l1-cnc-1").replace("{signal}", "spindle_temp").replace("{line}", "l1");
            let body = match (method.as_str(), path.as_str()) {
                ("post", "/api/ingest") => Some(json!({"samples": [{"asset": "l1-cnc-1", "signal": "spindle_temp", "value": 30.0}]})),
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
