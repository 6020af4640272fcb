//! REST endpoints of the prescriptive twin (see docs/api.md, "Plans, recommendations and work orders").

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use doppel_model::time;
use doppel_plan::business::{Business, Order, Part};
use doppel_plan::workorder::WoState;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::prescribe::{self, PrescribeError};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/plan", get(plan).post(replan))
        .route("/api/recommendations", get(recommendations))
        .route("/api/recommendations/{id}", get(recommendation))
        .route("/api/recommendations/{id}/approve", post(approve))
        .route("/api/recommendations/{id}/reject", post(reject))
        .route("/api/work-orders", get(work_orders))
        .route("/api/work-orders/{id}/{transition}", post(work_order_transition))
        .route("/api/actions", get(actions))
        .route("/api/actions/{id}/rollback", post(rollback))
        .route("/api/audit", get(audit))
        .route("/api/business", get(business).put(put_business))
        .route("/api/business/orders", post(post_orders))
        .route("/api/business/parts/{id}", axum::routing::put(put_part))
}

struct Error(StatusCode, Option<&'static str>, String);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": {"status": self.0.as_u16(), "field": self.1, "message": self.2}}))).into_response()
    }
}

impl From<PrescribeError> for Error {
    fn from(e: PrescribeError) -> Error {
        match e {
            PrescribeError::NotFound { .. } => Error(StatusCode::NOT_FOUND, Some("id"), e.to_string()),
            PrescribeError::Conflict(_) => Error(StatusCode::CONFLICT, None, e.to_string()),
            PrescribeError::Invalid(_) => Error(StatusCode::BAD_REQUEST, Some("body"), e.to_string()),
            PrescribeError::Audit(_) => {
                tracing::error!(error = %e, "audit log write failed; action refused");
                Error(StatusCode::SERVICE_UNAVAILABLE, None, e.to_string())
            }
        }
    }
}

/// Who decides, and why.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// The person (required: every decision is attributed).
    user: Option<String>,
    #[serde(default)]
    note: String,
}

fn user_of(d: &Decision) -> Result<String, Error> {
    match d.user.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() && u.len() <= 128 && !u.starts_with("policy:") => Ok(u.to_string()),
        _ => Err(Error(
            StatusCode::BAD_REQUEST,
            Some("user"),
            "a non-empty \"user\" (at most 128 bytes, not starting with 'policy:') must name who decides".into(),
        )),
    }
}

fn body<T: serde::de::DeserializeOwned + Default>(b: &axum::body::Bytes) -> Result<T, Error> {
    if b.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(b).map_err(|e| Error(StatusCode::BAD_REQUEST, Some("body"), format!("invalid JSON: {e}")))
}

async fn plan(State(state): State<Arc<AppState>>) -> Result<Json<Value>, Error> {
    let p = state.prescribe.lock();
    match p.plan() {
        Some(plan) => Ok(Json(json!({"version": p.version(), "plan": &*plan, "recommendations": prescribe::summary(&p)}))),
        None => Err(Error(
            StatusCode::NOT_FOUND,
            None,
            p.last_error()
                .map_or_else(|| "no plan yet (waiting for predictions)".to_string(), |e| format!("no plan: {e}")),
        )),
    }
}

async fn replan(State(state): State<Arc<AppState>>) -> Result<Json<Value>, Error> {
    let v = prescribe::replan(&state).await.map_err(|e| Error(StatusCode::CONFLICT, None, e))?;
    Ok(Json(json!({"version": v})))
}

#[derive(Debug, Deserialize)]
struct RecQuery {
    state: Option<String>,
    asset: Option<String>,
}

async fn recommendations(State(state): State<Arc<AppState>>, Query(q): Query<RecQuery>) -> Json<Value> {
    let p = state.prescribe.lock();
    let list: Vec<&prescribe::Recommendation> = p
        .recommendations()
        .iter()
        .rev()
        .filter(|r| q.state.as_deref().is_none_or(|s| serde_json::to_value(r.state).is_ok_and(|v| v == s)))
        .filter(|r| q.asset.as_deref().is_none_or(|a| r.asset == a))
        .collect();
    Json(json!({"plan_version": p.version(), "recommendations": list}))
}

async fn recommendation(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, Error> {
    let p = state.prescribe.lock();
    p.recommendations()
        .iter()
        .find(|r| r.id == id)
        .map(|r| Json(json!(r)))
        .ok_or_else(|| Error(StatusCode::NOT_FOUND, Some("id"), format!("no recommendation '{id}'")))
}

async fn approve(State(state): State<Arc<AppState>>, Path(id): Path<String>, b: axum::body::Bytes) -> Result<Json<Value>, Error> {
    let d: Decision = body(&b)?;
    let user = user_of(&d)?;
    let r = state.prescribe.lock().approve(&id, &user, &d.note, time::now())?;
    let _ = state
        .live
        .send(Arc::from(json!({"type": "recommendation", "id": r.id, "state": r.state}).to_string()));
    Ok(Json(json!(r)))
}

async fn reject(State(state): State<Arc<AppState>>, Path(id): Path<String>, b: axum::body::Bytes) -> Result<Json<Value>, Error> {
    let d: Decision = body(&b)?;
    let user = user_of(&d)?;
    let r = state.prescribe.lock().reject(&id, &user, &d.note, time::now())?;
    let _ = state
        .live
        .send(Arc::from(json!({"type": "recommendation", "id": r.id, "state": r.state}).to_string()));
    Ok(Json(json!(r)))
}

async fn work_orders(State(state): State<Arc<AppState>>) -> Json<Value> {
    let p = state.prescribe.lock();
    Json(json!({"work_orders": p.work_orders()}))
}

async fn work_order_transition(
    State(state): State<Arc<AppState>>,
    Path((id, transition)): Path<(String, String)>,
    b: axum::body::Bytes,
) -> Result<Json<Value>, Error> {
    let d: Decision = body(&b)?;
    let user = user_of(&d)?;
    let to = match transition.as_str() {
        "start" => WoState::InProgress,
        "complete" => WoState::Done,
        "cancel" => WoState::Cancelled,
        other => {
            return Err(Error(
                StatusCode::NOT_FOUND,
                Some("transition"),
                format!("'{other}': expected start, complete or cancel"),
            ));
        }
    };
    let now = time::now();
    let wo = {
        let mut p = state.prescribe.lock();
        if to == WoState::InProgress {
            // Starting sends the repair command, as when its scheduled time comes.
            let wo = p
                .work_orders()
                .iter()
                .find(|w| w.id == id)
                .cloned()
                .ok_or_else(|| Error(StatusCode::NOT_FOUND, Some("id"), format!("no work order '{id}'")))?;
            if wo.state != WoState::Scheduled {
                return Err(Error(
                    StatusCode::CONFLICT,
                    None,
                    format!("work order {id} is {}, not scheduled", wo.state.as_str()),
                ));
            }
        }
        p.work_order_to(&id, to, &user, &d.note, now)?
    };
    if to == WoState::Done {
        // A completed work order is a completed maintenance: the twin starts a new life for the asset.
        if state.plant.asset_position(&wo.asset).is_some() {
            let asset = wo.asset.clone();
            let record = doppel_model::MaintenanceRecord {
                kind: doppel_model::MaintenanceKind::Repair,
                component: None,
                work_order: Some(wo.id.clone()),
                note: Some(format!("work order completed by {user}")),
            };
            let ingestor = state.ingestor.clone();
            tokio::task::spawn_blocking(move || ingestor.record_maintenance("api", &asset, now, record))
                .await
                .map_err(|e| Error(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()))?
                .map_err(|e| Error(StatusCode::SERVICE_UNAVAILABLE, None, format!("maintenance record not stored: {e}")))?;
        }
    }
    Ok(Json(json!(wo)))
}

async fn actions(State(state): State<Arc<AppState>>) -> Json<Value> {
    let p = state.prescribe.lock();
    Json(json!({"actions": p.actions()}))
}

async fn rollback(State(state): State<Arc<AppState>>, Path(id): Path<String>, b: axum::body::Bytes) -> Result<Json<Value>, Error> {
    let d: Decision = body(&b)?;
    let user = user_of(&d)?;
    let a = state.prescribe.lock().rollback(&id, &user, time::now())?;
    Ok(Json(json!(a)))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

async fn audit(State(state): State<Arc<AppState>>, Query(q): Query<AuditQuery>) -> Result<Json<Value>, Error> {
    let limit = q.limit.unwrap_or(200).min(10_000);
    let records = state.prescribe.lock().audit_records(q.since.unwrap_or(0), limit)?;
    Ok(Json(json!({"records": records})))
}

async fn business(State(state): State<Arc<AppState>>) -> Json<Value> {
    let p = state.prescribe.lock();
    Json(json!(p.business))
}

#[derive(Debug, Deserialize)]
struct ActorQuery {
    user: Option<String>,
}

fn actor(q: &ActorQuery) -> Result<String, Error> {
    user_of(&Decision {
        user: q.user.clone(),
        note: String::new(),
    })
}

async fn put_business(State(state): State<Arc<AppState>>, Query(q): Query<ActorQuery>, b: axum::body::Bytes) -> Result<Json<Value>, Error> {
    let user = actor(&q)?;
    let business: Business = serde_json::from_slice(&b).map_err(|e| Error(StatusCode::BAD_REQUEST, Some("body"), format!("invalid business data: {e}")))?;
    state.prescribe.lock().set_business(business, time::now(), &user)?;
    Ok(Json(json!({"ok": true})))
}

async fn post_orders(State(state): State<Arc<AppState>>, Query(q): Query<ActorQuery>, b: axum::body::Bytes) -> Result<Json<Value>, Error> {
    let user = actor(&q)?;
    let orders: Vec<Order> =
        serde_json::from_slice(&b).map_err(|e| Error(StatusCode::BAD_REQUEST, Some("body"), format!("expected a JSON array of orders: {e}")))?;
    let mut p = state.prescribe.lock();
    let mut business = p.business.clone();
    for o in orders {
        match business.orders.iter_mut().find(|x| x.id == o.id) {
            Some(x) => *x = o,
            None => business.orders.push(o),
        }
    }
    p.set_business(business, time::now(), &user)?;
    Ok(Json(json!({"orders": p.business.orders.len()})))
}

async fn put_part(State(state): State<Arc<AppState>>, Path(id): Path<String>, Query(q): Query<ActorQuery>, b: axum::body::Bytes) -> Result<Json<Value>, Error> {
    let user = actor(&q)?;
    let part: Part = serde_json::from_slice(&b).map_err(|e| Error(StatusCode::BAD_REQUEST, Some("body"), format!("invalid part: {e}")))?;
    if part.id != id {
        return Err(Error(
            StatusCode::BAD_REQUEST,
            Some("id"),
            format!("body id '{}' differs from the path's '{id}'", part.id),
        ));
    }
    let mut p = state.prescribe.lock();
    let mut business = p.business.clone();
    match business.parts.iter_mut().find(|x| x.id == id) {
        Some(x) => *x = part,
        None => business.parts.push(part),
    }
    p.set_business(business, time::now(), &user)?;
    Ok(Json(json!({"ok": true})))
}
