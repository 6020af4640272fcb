//! The web dashboard as the server delivers it (in-process, no sockets): every file under `web/` is embedded
//! and served with its media type and cache policy, revalidation answers 304, nothing outside the list is
//! reachable, every script and stylesheet the page or a module refers to exists; and the overview the
//! dashboard reads (`GET /api/overview`), including energy per unit computed from stored counters.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use doppel_model::Plant;
use doppel_server::web::{FILES, cache_control, content_type};
use doppel_server::{AppState, app, build_state, live};
use doppel_store::{Store, StoreConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

async fn setup() -> (Arc<AppState>, tempfile::TempDir) {
    let plant = Arc::new(Plant::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plants/example.toml")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let (state, rx) = build_state(plant, store, Some(std::time::Duration::from_secs(86_400))).unwrap();
    tokio::spawn(live::run_twins(state.clone(), rx));
    (state, dir)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn get(state: &Arc<AppState>, uri: &str, if_none_match: Option<&str>) -> Answer {
    let mut req = Request::builder().method("GET").uri(uri);
    if let Some(tag) = if_none_match {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    let resp = app(state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, headers, body }
}

fn files_on_disk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            files_on_disk(&entry.path(), &format!("{name}/"), out);
        } else {
            out.insert(name);
        }
    }
}

#[test]
fn every_file_under_web_is_embedded_and_nothing_else() {
    let mut on_disk = BTreeSet::new();
    files_on_disk(&web_dir(), "", &mut on_disk);
    let embedded: BTreeSet<String> = FILES.iter().map(|f| f.path.to_string()).collect();
    assert_eq!(embedded.len(), FILES.len(), "a file is listed twice in web::FILES");
    assert_eq!(on_disk, embedded, "web::FILES must list exactly the files under crates/doppel-server/web/");
    for f in FILES {
        assert_eq!(f.bytes, std::fs::read(web_dir().join(f.path)).unwrap().as_slice(), "{} is stale", f.path);
    }
    // Vendored libraries come with their licences and without source maps.
    for lib in ["vendor/uplot-1.6.32/", "vendor/three-0.180.0/"] {
        assert!(embedded.contains(&format!("{lib}LICENSE")), "{lib} has no LICENSE");
    }
    assert!(!embedded.iter().any(|p| p.ends_with(".map")), "no source maps are vendored");
    let vendored: usize = FILES.iter().filter(|f| f.path.starts_with("vendor/")).map(|f| f.bytes.len()).sum();
    assert!(vendored < 1_200_000, "vendored libraries grew to {vendored} bytes");
}

/// Every `/web/...` URL in the page, and every relative or `/web/` import of every module, is a served file.
#[test]
fn the_page_and_its_modules_refer_only_to_embedded_files() {
    let embedded: BTreeSet<&str> = FILES.iter().map(|f| f.path).collect();
    let index = std::str::from_utf8(FILES.iter().find(|f| f.path == "index.html").unwrap().bytes).unwrap();
    let mut refs = 0;
    for part in index.split("\"/web/").skip(1) {
        let path = part.split('"').next().unwrap();
        assert!(embedded.contains(path), "index.html refers to /web/{path}, which is not embedded");
        refs += 1;
    }
    assert!(
        refs >= 5,
        "index.html should load the styles, uPlot, the import map's three.js and the app ({refs} refs)"
    );
    for f in FILES.iter().filter(|f| f.path.starts_with("js/") && f.path.ends_with(".js")) {
        let text = std::str::from_utf8(f.bytes).unwrap();
        let base = Path::new(f.path).parent().unwrap();
        for spec in import_specifiers(text) {
            let target = if let Some(abs) = spec.strip_prefix("/web/") {
                PathBuf::from(abs)
            } else if spec.starts_with('.') {
                normalize(&base.join(&spec))
            } else {
                assert_eq!(spec, "three", "{}: bare import '{spec}' has no entry in the import map", f.path);
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            assert!(
                embedded.contains(target.as_str()),
                "{} imports '{spec}' → {target}, which is not embedded",
                f.path
            );
        }
    }
}

/// `import ... from 'x'` and `import('x')` specifiers of a module.
fn import_specifiers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (marker, quote_after) in [(" from '", '\''), ("import('", '\'')] {
        for part in text.split(marker).skip(1) {
            out.push(part.split(quote_after).next().unwrap().to_string());
        }
    }
    out
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_served_with_their_type_cache_policy_and_etag() {
    let (state, _dir) = setup().await;
    let page = get(&state, "/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-cache");
    assert!(String::from_utf8_lossy(&page.body).contains("<script type=\"module\" src=\"/web/js/app.js\">"));
    let etag = page.headers[header::ETAG].to_str().unwrap().to_string();
    let again = get(&state, "/", Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED, "an unchanged file revalidates with 304");
    assert!(again.body.is_empty());
    let changed = get(&state, "/", Some("\"0000000000000000\"")).await;
    assert_eq!(changed.status, StatusCode::OK);

    for f in FILES {
        let a = get(&state, &format!("/web/{}", f.path), None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", f.path);
        assert_eq!(a.headers[header::CONTENT_TYPE], content_type(f.path), "{}", f.path);
        assert_eq!(a.headers[header::CACHE_CONTROL], cache_control(f.path), "{}", f.path);
        assert_eq!(a.headers["x-content-type-options"], "nosniff");
        assert_eq!(a.body, f.bytes, "{}", f.path);
    }
    assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
    assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
    assert_eq!(cache_control("vendor/three-0.180.0/three.core.min.js"), "public, max-age=31536000, immutable");
    assert_eq!(cache_control("js/app.js"), "no-cache");

    for bad in [
        "/web/nope.js",
        "/web/../Cargo.toml",
        "/web/%2e%2e/src/web.rs",
        "/web/js/../../src/lib.rs",
        "/web/",
    ] {
        let a = get(&state, bad, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{bad}");
        let body: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        assert_eq!(body["error"]["status"], 404, "{bad}: {body}");
    }
    let icon = get(&state, "/favicon.ico", None).await;
    assert_eq!(
        (icon.status, icon.headers[header::CONTENT_TYPE].to_str().unwrap()),
        (StatusCode::OK, "image/svg+xml")
    );
}

async fn ingest(state: &Arc<AppState>, samples: Vec<Value>) {
    let req = Request::builder()
        .method("POST")
        .uri("/api/ingest")
        .header("content-type", "application/json")
        .body(Body::from(json!({ "samples": samples }).to_string()))
        .unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_has_line_kpis_energy_per_unit_and_asset_health() {
    let (state, _dir) = setup().await;
    let t0: i64 = doppel_model::time::now() / 1_000_000 - 600_000; // ms, 10 min ago
    // Line 1 over 5 minutes: its feeder meter counts 100 → 112 kWh, with a counter reset (the meter restarted
    // at 0 and counted 3 more), so 12 + 3 = 15 kWh; its output conveyor counts 40 → 70 parts (30 units).
    let mut samples = Vec::new();
    for k in 0..=5 {
        let energy = if k <= 3 { 100.0 + 4.0 * k as f64 } else { 3.0 * (k - 4) as f64 };
        samples.push(json!({"asset": "l1-meter", "signal": "energy", "ts": t0 + k * 60_000, "value": energy}));
        samples.push(json!({"asset": "l1-conv-3", "signal": "items_total", "ts": t0 + k * 60_000, "value": 40.0 + 6.0 * k as f64}));
    }
    samples.push(json!({"asset": "l2-meter", "signal": "energy", "ts": t0, "value": 5.0}));
    samples.push(json!({"asset": "l2-meter", "signal": "energy", "ts": t0 + 60_000, "value": 6.5}));
    // An alarm on line 3.
    samples.push(json!({"asset": "l3-cnc-1", "signal": "spindle_temp", "ts": t0 + 300_000, "value": 75.0}));
    ingest(&state, samples).await;
    // The twins apply committed data asynchronously.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let o = loop {
        let a = get(&state, "/api/overview", None).await;
        assert_eq!(a.status, StatusCode::OK);
        let o: Value = serde_json::from_slice(&a.body).unwrap();
        let l3 = o["lines"].as_array().unwrap().iter().find(|l| l["id"] == "l3").unwrap().clone();
        if l3["kpis"]["open_alerts"] == 1 {
            break o;
        }
        assert!(std::time::Instant::now() < deadline, "the alert never reached the overview: {o}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let line = |id: &str| o["lines"].as_array().unwrap().iter().find(|l| l["id"] == id).unwrap().clone();
    assert_eq!(o["lines"].as_array().unwrap().len(), 4);
    let l1 = line("l1");
    let e = &l1["energy"];
    assert_eq!(e["meters"], json!(["l1-meter/energy"]), "{l1}");
    assert!((e["energy_kwh"].as_f64().unwrap() - 15.0).abs() < 1e-9, "{e}");
    assert!((e["units"].as_f64().unwrap() - 30.0).abs() < 1e-9, "{e}");
    assert!((e["kwh_per_unit"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{e}");
    assert_eq!(e["end"].as_i64().unwrap() - e["start"].as_i64().unwrap(), 300_000_000_000, "{e}");
    // Line 2 used energy but counted no output in that span: no figure per unit.
    let e2 = &line("l2")["energy"];
    assert!((e2["energy_kwh"].as_f64().unwrap() - 1.5).abs() < 1e-9 && e2["kwh_per_unit"].is_null(), "{e2}");
    // Line 3 has an alarm; its KPIs and health are those of the twin.
    let l3 = line("l3");
    assert_eq!(l3["worst_health"], "alarm", "{l3}");
    assert_eq!(o["plant"]["open_alerts"], 1, "{}", o["plant"]);
    let cnc = o["assets"].as_array().unwrap().iter().find(|a| a["id"] == "l3-cnc-1").unwrap();
    assert_eq!(cnc["health"], "alarm");
    assert!(cnc["prediction"].is_null(), "no model is registered: {cnc}");
    assert_eq!(o["assets"].as_array().unwrap().len(), state.plant.assets.len());
    assert_eq!(o["plant"]["assets_by_health"]["alarm"], 1, "{}", o["plant"]);
    // The energy figures are cached between refreshes, and the plant tree carries each line's layout origin.
    assert!(state.energy.lock().computed_ns.is_some());
    let tree: Value = serde_json::from_slice(&get(&state, "/api/plant", None).await.body).unwrap();
    let origins: Vec<&Value> = tree["sites"][0]["areas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["lines"].as_array().unwrap())
        .map(|l| &l["position"])
        .collect();
    assert!(origins.iter().all(|p| p.as_array().is_some_and(|v| v.len() == 3)), "{origins:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_carries_overview_events() {
    let (state, _dir) = setup().await;
    let mut rx = state.live.subscribe();
    tokio::spawn(doppel_server::overview::run(state.clone()));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("no overview event within 10 s")
            .unwrap();
        let v: Value = serde_json::from_str(&msg).unwrap();
        if v["type"] == "overview" {
            assert_eq!(v["lines"].as_array().unwrap().len(), 4, "{v}");
            assert_eq!(v["assets"].as_array().unwrap().len(), state.plant.assets.len());
            break;
        }
    }
}
