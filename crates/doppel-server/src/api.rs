//! REST handlers under `/api/`, the live stream and the OpenAPI spec. Every error is JSON
//! `{"error": {"status": 404, "field": "asset", "message": "..."}}` naming the bad field.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use doppel_ingest::payload::Rejected;
use doppel_model::{Plant, time};
use doppel_store::EventFilter;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::AppState;

/// The OpenAPI document served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest HTTP ingest body.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Builds the router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi))
        .route("/api/plant", get(plant_tree))
        .route("/api/overview", get(overview))
        .route("/api/assets", get(list_assets))
        .route("/api/assets/{asset}", get(asset_detail))
        .route("/api/assets/{asset}/signals/{signal}/history", get(signal_history))
        .route("/api/assets/{asset}/diagnosis", get(asset_diagnosis))
        .route("/api/assets/{asset}/prediction", get(asset_prediction))
        .route("/api/assets/{asset}/maintenance", post(record_maintenance))
        .route("/api/models", get(models_in_use))
        .route("/api/assets/{asset}/signals/{signal}/frames", post(ingest_frames))
        .route("/api/assets/{asset}/signals/{signal}/captures", get(list_captures))
        .route("/api/assets/{asset}/signals/{signal}/captures/{t0}", get(capture_detail))
        .route("/api/lines/{line}", get(line_detail))
        .route("/api/lines/{line}/context", get(line_context).post(set_line_context))
        .route("/api/alerts", get(alerts))
        .route("/api/events", get(events))
        .route("/api/ingest", post(ingest))
        .route("/api/stream", get(stream))
        .merge(crate::plan_api::routes())
        .merge(crate::web::routes())
        .merge(crate::line_api::routes())
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A JSON error naming the offending field.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    field: Option<String>,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, field: impl Into<Option<String>>, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            field: field.into(),
            message: message.into(),
        }
    }
    fn bad(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, Some(field.to_string()), message)
    }
    fn not_found(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, Some(field.to_string()), message)
    }
    fn internal(message: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %message, "internal error answering a request");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error; see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"status": self.status.as_u16(), "field": self.field, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, None, "no such endpoint; see /api/openapi.json")
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    use std::sync::atomic::Ordering::Relaxed;
    let s = state.store.stats();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": (time::now() - state.started_ns) as f64 / 1e9,
        "assets": state.plant.assets.len(),
        "twins": {"samples_applied": state.applied_samples.load(Relaxed)},
        "store": {"samples_written": s.samples_written, "events_written": s.events_written, "series": s.series, "segments": s.segments, "group_commits": s.group_commits},
        "mqtt": {"received": state.mqtt.received.load(Relaxed), "acknowledged": state.mqtt.acked.load(Relaxed), "connects": state.mqtt.connects.load(Relaxed)},
    }))
}

fn asset_index(state: &AppState, id: &str) -> ApiResult<usize> {
    state
        .plant
        .asset_position(id)
        .ok_or_else(|| ApiError::not_found("asset", format!("unknown asset '{id}'")))
}

#[derive(Serialize)]
struct AssetSummary<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    type_id: &'a str,
    site: &'a str,
    area: &'a str,
    line: &'a str,
    position: [f64; 3],
    state: doppel_twin::OperatingState,
    health: doppel_twin::Health,
    last_seen: Option<i64>,
    values: serde_json::Map<String, Value>,
}

async fn list_assets(State(state): State<Arc<AppState>>) -> Json<Vec<Value>> {
    let twins = state.twins.lock();
    let out = state
        .plant
        .assets
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let st = twins.asset_state(i)?;
            let values = st
                .signals
                .iter()
                .map(|s| (s.name.clone(), s.last_value.map_or(Value::Null, |v| json!(v))))
                .collect();
            serde_json::to_value(AssetSummary {
                id: &a.id,
                name: &a.name,
                type_id: &a.type_id,
                site: &a.site,
                area: &a.area,
                line: &a.line,
                position: a.position,
                state: st.state,
                health: st.health,
                last_seen: st.last_seen,
                values,
            })
            .ok()
        })
        .collect();
    Json(out)
}

async fn asset_detail(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let i = asset_index(&state, &id)?;
    let asset = &state.plant.assets[i];
    let live = state.twins.lock().asset_state(i).ok_or_else(|| ApiError::internal("twin missing"))?;
    let (context_id, context) = state.ingestor.context_at(&asset.line, i64::MAX);
    Ok(Json(json!({
        "asset": asset,
        "live": live,
        "context": {"context_id": context_id, "line": asset.line, "context": context},
        "condition": state.ingestor.waves().status(Some(&asset.id)),
        "prediction": prediction_of(&state, i),
    })))
}

fn prediction_of(state: &AppState, i: usize) -> Value {
    let asset = &state.plant.assets[i];
    let Some(spec) = asset.predict.as_ref() else {
        return Value::Null;
    };
    let engine = state.predict.lock();
    let model = state.model.lock().as_ref().map(|m| json!({"name": m.name, "version": m.version}));
    json!({
        "inputs": spec.inputs,
        "settings": spec.settings,
        "step_s": spec.step_s,
        "model": if engine.has_model(i) { model } else { None },
        "latest": engine.latest(i),
    })
}

/// Predictive state of an asset: latest health index, anomaly score, RUL with interval, failure probability.
async fn asset_prediction(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let i = asset_index(&state, &id)?;
    if state.plant.assets[i].predict.is_none() {
        return Err(ApiError::bad(
            "asset",
            format!("asset '{id}' has no predictive models: its type has no [predict] table in the plant file"),
        ));
    }
    Ok(Json(json!({"asset": id, "prediction": prediction_of(&state, i)})))
}

/// Completed maintenance (as a CMMS reports it); a repair or replacement starts a new life for the models.
async fn record_maintenance(State(state): State<Arc<AppState>>, Path(id): Path<String>, body: axum::body::Bytes) -> ApiResult<Json<Value>> {
    asset_index(&state, &id)?;
    let (ts, record) = doppel_ingest::payload::parse_maintenance_body(&body, time::now()).map_err(|e| match e {
        doppel_ingest::payload::PayloadError::Field { field, reason } => ApiError::bad(&field, reason),
        other => ApiError::bad("body", other.to_string()),
    })?;
    let ing = state.ingestor.clone();
    let (a, r) = (id.clone(), record.clone());
    tokio::task::spawn_blocking(move || ing.record_maintenance("http", &a, ts, r))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({"asset": id, "ts": ts, "record": record})))
}

/// The predictive model version in use.
async fn models_in_use(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"in_use": *state.model.lock()}))
}

/// Condition monitoring of an asset's waveform channels: features, ISO zone, diagnosis with evidence.
async fn asset_diagnosis(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let i = asset_index(&state, &id)?;
    let asset = &state.plant.assets[i];
    let waves: Vec<&str> = asset
        .signals
        .iter()
        .filter(|s| s.kind == doppel_model::SignalKind::Waveform)
        .map(|s| s.name.as_str())
        .collect();
    Ok(Json(json!({
        "asset": asset.id,
        "waveform_signals": waves,
        "channels": state.ingestor.waves().status(Some(&asset.id)),
    })))
}

fn waveform_signal<'a>(state: &'a AppState, id: &str, signal: &str) -> ApiResult<(usize, &'a doppel_model::Signal)> {
    let i = asset_index(state, id)?;
    let sig = state.plant.assets[i]
        .signal(signal)
        .ok_or_else(|| ApiError::not_found("signal", format!("asset '{id}' has no signal '{signal}'")))?;
    if sig.kind != doppel_model::SignalKind::Waveform {
        return Err(ApiError::bad("signal", format!("'{signal}' is not a waveform signal")));
    }
    Ok((i, sig))
}

/// Binary waveform frames (DWF1, docs/waveforms.md). Answers after features, captures and events are durable.
async fn ingest_frames(State(state): State<Arc<AppState>>, Path((id, signal)): Path<(String, String)>, body: axum::body::Bytes) -> ApiResult<Response> {
    waveform_signal(&state, &id, &signal)?;
    if body.is_empty() {
        return Err(ApiError::bad("body", "no frames: the body must hold one or more DWF1 frames"));
    }
    let ing = state.ingestor.clone();
    let outcome = tokio::task::spawn_blocking(move || ing.ingest_frames_blocking("http", &id, &signal, &body))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, format!("not stored (nothing was acknowledged): {e}")))?;
    let status = if outcome.accepted == 0 && !outcome.quarantined.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

#[derive(Deserialize)]
struct CaptureQuery {
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
}

/// Raw captures kept for a waveform signal (metadata only), oldest first.
async fn list_captures(
    State(state): State<Arc<AppState>>,
    Path((id, signal)): Path<(String, String)>,
    Query(q): Query<CaptureQuery>,
) -> ApiResult<Json<Value>> {
    waveform_signal(&state, &id, &signal)?;
    let start = q.start.as_deref().map(|v| parse_time("start", v)).transpose()?.unwrap_or(i64::MIN);
    let end = q.end.as_deref().map(|v| parse_time("end", v)).transpose()?.unwrap_or(i64::MAX);
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let store = state.store.clone();
    let list = tokio::task::spawn_blocking(move || store.captures().list(&id, &signal, start, end, limit))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "captures": list.iter().map(capture_json).collect::<Vec<_>>() })))
}

fn capture_json(m: &doppel_store::capture::CaptureMeta) -> Value {
    json!({
        "asset": m.asset, "signal": m.signal, "t0_ns": m.t0_ns, "time": time::format_rfc3339(m.t0_ns),
        "sample_rate_hz": m.sample_rate_hz, "samples": m.n_samples, "shaft_rpm": m.shaft_rpm, "reason": m.reason, "bytes": m.bytes,
    })
}

#[derive(Deserialize)]
struct CaptureDetailQuery {
    /// Include the raw samples.
    samples: Option<bool>,
}

/// Keeps at most `max` points of a spectrum up to `max_hz` (largest amplitude per group, so peaks survive).
fn thin(s: &doppel_signal::SpectrumView<'_>, max_hz: f64, max: usize) -> Value {
    let n = ((max_hz / s.df_hz).floor() as usize + 1).min(s.amplitude.len());
    let group = n.div_ceil(max.max(1)).max(1);
    let mut f = Vec::with_capacity(n / group + 1);
    let mut a = Vec::with_capacity(n / group + 1);
    let mut i = 0;
    while i < n {
        let end = (i + group).min(n);
        let (k, v) = (i..end).map(|k| (k, s.amplitude[k])).fold((i, f32::MIN), |m, x| if x.1 > m.1 { x } else { m });
        f.push(k as f64 * s.df_hz);
        a.push(v);
        i = end;
    }
    json!({"df_hz": s.df_hz * group as f64, "frequency_hz": f, "amplitude": a})
}

/// One raw capture with its analysis: spectrum, velocity spectrum, envelope spectrum with the bearing's defect
/// frequencies, time-domain features and the diagnosis of that frame.
async fn capture_detail(
    State(state): State<Arc<AppState>>,
    Path((id, signal, t0)): Path<(String, String, String)>,
    Query(q): Query<CaptureDetailQuery>,
) -> ApiResult<Json<Value>> {
    let (ai, sig) = waveform_signal(&state, &id, &signal)?;
    let t0_ns = parse_time("t0", &t0).or_else(|_| t0.parse::<i64>().map_err(|_| ApiError::bad("t0", format!("'{t0}' is not a capture time"))))?;
    let asset = state.plant.assets[ai].clone();
    let sig = sig.clone();
    let store = state.store.clone();
    let with_samples = q.samples.unwrap_or(false);
    let (a2, s2) = (id.clone(), signal.clone());
    let found = tokio::task::spawn_blocking(move || store.captures().read(&a2, &s2, t0_ns))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let Some((meta, frame)) = found else {
        return Err(ApiError::not_found("t0", format!("no capture of {id}/{signal} at {t0_ns} ns")));
    };
    let fs = frame.sample_rate_hz;
    let unit = if sig.unit.symbol == "g" {
        doppel_signal::AccelUnit::G
    } else {
        doppel_signal::AccelUnit::MetrePerSecondSquared
    };
    let spectrum =
        doppel_signal::amplitude_spectrum(&frame.samples, fs, doppel_signal::WindowKind::Hann).map_err(|e| ApiError::bad("capture", e.to_string()))?;
    let velocity = doppel_signal::velocity_spectrum(&spectrum.view(), unit);
    let rpm = frame.shaft_rpm.or_else(|| asset.param("rated_speed_rpm"));
    let bearing = rpm.and_then(|r| doppel_ingest::wave::bearing_frequencies(&asset, &sig, r));
    let analysis = match &bearing {
        Some((_, f)) => doppel_signal::diagnosis::diagnose_recording(
            &frame.samples,
            fs,
            f,
            // The live monitor's line thresholds, so a capture's diagnosis matches what the twin concluded.
            &doppel_signal::diagnosis::RecordingOptions {
                unit,
                rules: state.ingestor.waves().config().rules,
                ..Default::default()
            },
        )
        .ok(),
        None => None,
    };
    let envelope = analysis.as_ref().and_then(|a| {
        let band = a.bands.iter().find(|b| b.from_kurtogram).or(a.bands.first())?.band;
        doppel_signal::envelope_spectrum(&frame.samples, fs, band).ok().map(|e| (band, e))
    });
    let env_max = bearing.as_ref().map_or(500.0, |(_, f)| (3.5 * f.bpfi_hz.max(f.bpfo_hz)).min(fs / 2.0));
    Ok(Json(json!({
        "capture": capture_json(&meta),
        "shaft_rpm": rpm,
        "bearing": bearing.as_ref().map(|b| &b.0),
        "defect_frequencies": bearing.as_ref().map(|b| b.1),
        "features": analysis.as_ref().map(|a| a.time),
        "velocity_rms_mm_s": analysis.as_ref().map(|a| a.velocity_rms_mm_s),
        "diagnosis": analysis.as_ref().map(|a| &a.diagnosis),
        "spectrum": thin(&spectrum.view(), fs / 2.0, 4000),
        "velocity_spectrum": thin(&velocity.view(), 1000.0, 2000),
        "envelope_spectrum": envelope.as_ref().map(|(band, e)| json!({"band_hz": [band.lo_hz, band.hi_hz], "spectrum": thin(&e.spectrum.view(), env_max, 2000)})),
        "samples": if with_samples { json!(frame.samples) } else { Value::Null },
    })))
}

#[derive(Deserialize)]
struct HistoryQuery {
    start: Option<String>,
    end: Option<String>,
    buckets: Option<usize>,
    raw: Option<bool>,
}

/// Parses a query timestamp: RFC 3339 or integer epoch milliseconds.
fn parse_time(field: &str, v: &str) -> ApiResult<i64> {
    time::parse_user_time(v).ok_or_else(|| ApiError::bad(field, format!("'{v}' is not an RFC 3339 timestamp nor epoch milliseconds (in range)")))
}

async fn signal_history(
    State(state): State<Arc<AppState>>,
    Path((id, signal)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let i = asset_index(&state, &id)?;
    let asset = &state.plant.assets[i];
    let si = asset
        .signal_index(&signal)
        .ok_or_else(|| ApiError::not_found("signal", format!("asset '{id}' has no signal '{signal}'")))?;
    let series = state
        .ingestor
        .catalog()
        .series(i, si)
        .ok_or_else(|| ApiError::internal("series not registered"))?;
    let end = match &q.end {
        Some(v) => parse_time("end", v)?,
        None => time::now(),
    };
    let start = match &q.start {
        Some(v) => parse_time("start", v)?,
        None => end - 3600 * time::NANOS_PER_SEC,
    };
    if start >= end {
        return Err(ApiError::bad("start", "start must be before end"));
    }
    let buckets = q.buckets.unwrap_or(500);
    if buckets == 0 || buckets > 100_000 {
        return Err(ApiError::bad("buckets", "must be between 1 and 100000"));
    }
    let store = state.store.clone();
    let unit = asset.signals[si].unit.symbol;
    if q.raw.unwrap_or(false) {
        let points = tokio::task::spawn_blocking(move || store.query_raw(series, start, end))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        if points.len() > 1_000_000 {
            return Err(ApiError::bad(
                "raw",
                format!("{} points in range; narrow the range or use buckets", points.len()),
            ));
        }
        return Ok(Json(
            json!({"asset": id, "signal": signal, "unit": unit, "start": start, "end": end, "points": points}),
        ));
    }
    let ds = tokio::task::spawn_blocking(move || store.query_downsampled(series, start, end, buckets))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let rows: Vec<Value> = ds
        .buckets
        .iter()
        .map(|b| json!({"start": b.start, "min": b.min, "max": b.max, "mean": b.mean, "last": b.last, "count": b.count}))
        .collect();
    Ok(Json(
        json!({"asset": id, "signal": signal, "unit": unit, "start": start, "end": end, "step_ns": ds.step_ns, "buckets": rows}),
    ))
}

fn check_line(state: &AppState, line: &str) -> ApiResult<()> {
    state
        .plant
        .line(line)
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("line", format!("unknown line '{line}'")))
}

async fn line_detail(State(state): State<Arc<AppState>>, Path(line): Path<String>) -> ApiResult<Json<Value>> {
    check_line(&state, &line)?;
    let ls = state.twins.lock().line_state(&line).ok_or_else(|| ApiError::internal("line twin missing"))?;
    Ok(Json(serde_json::to_value(ls).map_err(ApiError::internal)?))
}

#[derive(Deserialize)]
struct AtQuery {
    at: Option<String>,
}

async fn line_context(State(state): State<Arc<AppState>>, Path(line): Path<String>, Query(q): Query<AtQuery>) -> ApiResult<Json<Value>> {
    check_line(&state, &line)?;
    let at = match &q.at {
        Some(v) => parse_time("at", v)?,
        None => time::now(),
    };
    let (context_id, context) = state.ingestor.context_at(&line, at);
    // Ambient conditions: the site's ambient asset's values in force at `at`.
    let mut ambient = serde_json::Map::new();
    let plant = &state.plant;
    let ambient_asset = plant.lines().find(|(_, _, l)| l.id == line).and_then(|(s, _, _)| s.ambient_asset.as_deref());
    if let Some(amb) = ambient_asset.and_then(|a| plant.asset_position(a)) {
        for (si, sig) in plant.assets[amb].signals.iter().enumerate() {
            let Some(series) = state.ingestor.catalog().series(amb, si) else { continue };
            let store = state.store.clone();
            let last = tokio::task::spawn_blocking(move || store.query_raw(series, at - 3600 * time::NANOS_PER_SEC, at.saturating_add(1)))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?
                .last()
                .copied();
            if let Some((ts, v)) = last {
                ambient.insert(sig.name.clone(), json!({"value": v, "unit": sig.unit.symbol, "ts": ts}));
            }
        }
    }
    Ok(Json(
        json!({"line": line, "at": at, "context_id": context_id, "context": context, "ambient": ambient}),
    ))
}

async fn set_line_context(State(state): State<Arc<AppState>>, Path(line): Path<String>, body: axum::body::Bytes) -> ApiResult<Json<Value>> {
    check_line(&state, &line)?;
    let (ts, update) = doppel_ingest::payload::parse_context_body(&body, time::now()).map_err(|e| match e {
        doppel_ingest::payload::PayloadError::Field { field, reason } => ApiError::bad(&field, reason),
        other => ApiError::bad("body", other.to_string()),
    })?;
    let ing = state.ingestor.clone();
    let l = line.clone();
    tokio::task::spawn_blocking(move || ing.set_context("http", &l, ts, update))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let (context_id, context) = state.ingestor.context_at(&line, ts);
    Ok(Json(json!({"line": line, "ts": ts, "context_id": context_id, "context": context})))
}

async fn alerts(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(state.twins.lock().open_alerts()))
}

#[derive(Deserialize)]
struct EventsQuery {
    kind: Option<String>,
    subject: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
}

async fn events(State(state): State<Arc<AppState>>, Query(q): Query<EventsQuery>) -> ApiResult<Json<Value>> {
    let filter = EventFilter {
        start: q.start.as_deref().map(|v| parse_time("start", v)).transpose()?.unwrap_or(i64::MIN),
        end: q.end.as_deref().map(|v| parse_time("end", v)).transpose()?.unwrap_or(i64::MAX),
        kinds: q.kind.map(|k| k.split(',').map(str::to_string).collect()),
        subject: q.subject,
        limit: q.limit.unwrap_or(500).min(10_000),
        latest_first: true,
    };
    let store = state.store.clone();
    let evs = tokio::task::spawn_blocking(move || store.query_events(&filter))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let out: Vec<Value> = evs
        .into_iter()
        .map(|e| {
            let payload = serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::String(e.payload));
            json!({"seq": e.seq, "ts": e.ts, "kind": e.kind, "subject": e.subject, "payload": payload})
        })
        .collect();
    Ok(Json(json!(out)))
}

async fn ingest(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> ApiResult<Response> {
    let now = time::now();
    let (samples, rejected): (Vec<_>, Vec<Rejected>) = doppel_ingest::parse_bulk(&body, now).map_err(|e| ApiError::bad("body", e.to_string()))?;
    if samples.is_empty() && rejected.is_empty() {
        return Err(ApiError::bad("samples", "no samples"));
    }
    let ing = state.ingestor.clone();
    let outcome = tokio::task::spawn_blocking(move || ing.ingest_blocking("http", &samples, rejected))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, format!("not stored (nothing was acknowledged): {e}")))?;
    let status = if outcome.accepted == 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

#[derive(Deserialize)]
struct StreamQuery {
    /// Comma-separated event types to receive (default: all).
    types: Option<String>,
}

async fn stream(State(state): State<Arc<AppState>>, Query(q): Query<StreamQuery>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let types: Option<Vec<String>> = q.types.map(|t| t.split(',').map(|s| format!("\"type\":\"{}\"", s.trim())).collect());
    let rx = state.live.subscribe();
    let hello = tokio_stream::once(Ok(SseEvent::default()
        .event("hello")
        .data(json!({"assets": state.plant.assets.len()}).to_string())));
    let live = BroadcastStream::new(rx).filter_map(move |m| match m {
        Ok(text) => {
            if let Some(types) = &types
                && !types.iter().any(|t| text.contains(t.as_str()))
            {
                return None;
            }
            Some(Ok(SseEvent::default().data(text.as_ref())))
        }
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(SseEvent::default().event("lagged").data(json!({"missed": n}).to_string()))),
    });
    Sse::new(hello.chain(live)).keep_alive(KeepAlive::default())
}

/// The dashboard's overview: line KPIs with energy per unit, plant totals, asset health and predictions.
async fn overview(State(state): State<Arc<AppState>>) -> Json<Value> {
    let energy = crate::overview::energy(&state).await;
    Json(crate::overview::overview(&state, &energy))
}

/// Tree of the plant with live health per node.
async fn plant_tree(State(state): State<Arc<AppState>>) -> Json<Value> {
    let plant: &Plant = &state.plant;
    let twins = state.twins.lock();
    let sites: Vec<Value> = plant
        .sites
        .iter()
        .map(|s| {
            let areas: Vec<Value> = s
                .areas
                .iter()
                .map(|a| {
                    let lines: Vec<Value> = a
                        .lines
                        .iter()
                        .map(|l| {
                            let ls = twins.line_state(&l.id);
                            let assets: Vec<Value> = l
                                .assets
                                .iter()
                                .filter_map(|id| {
                                    let i = plant.asset_position(id)?;
                                    Some(json!({"id": id, "name": plant.assets[i].name, "type": plant.assets[i].type_id, "state": twins.operating_state(i), "health": twins.health(i)}))
                                })
                                .collect();
                            json!({"id": l.id, "name": l.name, "position": l.position, "health": ls.as_ref().map(|x| x.worst_health), "kpis": ls.as_ref().map(|x| &x.kpis), "context": ls.as_ref().map(|x| &x.context), "assets": assets})
                        })
                        .collect();
                    json!({"id": a.id, "name": a.name, "lines": lines})
                })
                .collect();
            json!({"id": s.id, "name": s.name, "timezone": s.timezone, "areas": areas})
        })
        .collect();
    Json(json!({"enterprise": plant.enterprise, "sites": sites}))
}
