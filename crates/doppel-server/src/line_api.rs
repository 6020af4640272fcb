//! REST endpoints of the line, product and factory twins (docs/api.md, "Lines: simulation, what-if,
//! scheduling, energy, root cause" and "Traceability"; docs/line.md): what-if on the live line with confidence
//! intervals, factory scenarios, a line's simulated KPIs and bottleneck, order sequencing around the planner's
//! maintenance, energy under a time-of-use tariff, root cause of quality failures from genealogy, and
//! genealogy queries both ways. Simulations run on blocking threads and are bounded ([`LIMITS`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use doppel_line::config::{Calendar, LineConfig, Order, Window};
use doppel_line::energy::{Tariff, energy_report};
use doppel_line::factory::{FactoryChange, FactoryConfig, FactoryScenario, evaluate_factory};
use doppel_line::rootcause::RootCauseConfig;
use doppel_line::schedule::{ScheduleProblem, simulate_schedules};
use doppel_line::stats::Estimate;
use doppel_line::whatif::{Change, KPIS, Scenario, WhatIfConfig, run_whatif};
use doppel_line::{LineError, SimOptions, Simulator};
use doppel_model::time;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::AppState;
use crate::production::{self, with_current_state, with_live_health};

/// Bounds of one request.
pub struct Limits {
    pub replications: usize,
    pub days: f64,
    pub scenarios: usize,
    pub changes: usize,
    /// replications × (scenarios + 1) × days.
    pub replication_days: f64,
    pub orders: usize,
    pub list: usize,
}

pub const LIMITS: Limits = Limits {
    replications: 200,
    days: 90.0,
    scenarios: 10,
    changes: 50,
    replication_days: 20_000.0,
    orders: 200,
    list: 100_000,
};

/// The paths this module serves (tests/line_api.rs calls each with real inputs).
pub const PATHS: [&str; 10] = [
    "/api/whatif",
    "/api/whatif/factory",
    "/api/lines/{line}/simulation",
    "/api/lines/{line}/schedule",
    "/api/lines/{line}/energy",
    "/api/lines/{line}/rootcause",
    "/api/production",
    "/api/trace",
    "/api/trace/units",
    "/api/trace/units/{serial}",
];

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/whatif", get(whatif_spec).post(whatif))
        .route("/api/whatif/factory", axum::routing::post(factory))
        .route("/api/lines/{line}/simulation", get(simulation))
        .route("/api/lines/{line}/schedule", axum::routing::post(schedule))
        .route("/api/lines/{line}/energy", get(energy).post(energy_whatif))
        .route("/api/lines/{line}/rootcause", get(root_cause))
        .route("/api/production", get(production_status))
        .route("/api/trace", get(trace))
        .route("/api/trace/units", get(trace_units))
        .route("/api/trace/units/{serial}", get(trace_unit))
}

/// A JSON error naming the field (the API's error shape).
#[derive(Debug)]
pub struct Error(StatusCode, Option<String>, String);

impl Error {
    fn bad(field: &str, msg: impl Into<String>) -> Error {
        Error(StatusCode::BAD_REQUEST, Some(field.to_string()), msg.into())
    }
    fn not_found(field: &str, msg: impl Into<String>) -> Error {
        Error(StatusCode::NOT_FOUND, Some(field.to_string()), msg.into())
    }
    fn internal(e: impl std::fmt::Display) -> Error {
        tracing::error!(error = %e, "internal error answering a line request");
        Error(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error; see the server log".into())
    }
    /// A model error: the field it names, under `prefix` (a change's own kind is dropped from its field:
    /// `station_speed.factor` under `scenarios[0].changes[1].` is `scenarios[0].changes[1].factor`).
    fn line(prefix: &str, e: LineError) -> Error {
        let field = match &e {
            LineError::Invalid { field, .. } => {
                let f = match field.split_once('.') {
                    Some((kind, rest)) if prefix.ends_with("].") && CHANGE_KINDS.contains(&kind) => rest,
                    _ => field.as_str(),
                };
                format!("{prefix}{f}")
            }
            LineError::UnknownStation(_) => format!("{prefix}station"),
            LineError::UnknownProduct(_) => format!("{prefix}product"),
            LineError::UnknownComponent(_) => format!("{prefix}component"),
            LineError::UnknownLine(_) | LineError::NoStations(_) => format!("{prefix}line"),
        };
        Error(StatusCode::BAD_REQUEST, Some(field), e.to_string())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.1 {
            Some(field) => write!(f, "{field}: {}", self.2),
            None => write!(f, "{}", self.2),
        }
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": {"status": self.0.as_u16(), "field": self.1, "message": self.2}}))).into_response()
    }
}

type Res<T> = Result<T, Error>;

const CHANGE_KINDS: [&str; 10] = [
    "station_speed",
    "buffer_size",
    "machines",
    "product_mix",
    "shift_pattern",
    "maintenance_windows",
    "machine_health",
    "failures",
    "demand",
    "energy_tariff",
];

/// Parses a JSON body; an error names the failing field's path (`scenarios[0].changes[1].factor`).
fn body<T: DeserializeOwned>(b: &[u8], empty_ok: bool) -> Res<T> {
    let text: &[u8] = if b.iter().all(u8::is_ascii_whitespace) {
        if empty_ok {
            b"{}"
        } else {
            return Err(Error::bad("body", "a JSON body is required"));
        }
    } else {
        b
    };
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() { "body".to_string() } else { path };
        Error::bad(&field, e.into_inner().to_string())
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Res<T> + Send + 'static) -> Res<T> {
    tokio::task::spawn_blocking(f).await.map_err(Error::internal)?
}

fn line_config(state: &AppState, line: &str) -> Res<LineConfig> {
    if let Some(c) = state.production.line_config(line) {
        return Ok(c.clone());
    }
    if state.plant.line(line).is_some() {
        return Err(Error::not_found(
            "line",
            format!("line '{line}' has no production stations (no asset type with `production`) to simulate"),
        ));
    }
    Err(Error::not_found("line", format!("unknown line '{line}'")))
}

/// The line as it is now: live health, and (when asked) the production twin's current state.
fn live_line(state: &AppState, line: &str, from_current_state: bool) -> Res<(LineConfig, Value)> {
    let cfg = with_live_health(state, &line_config(state, line)?);
    if !from_current_state {
        return Ok((cfg, Value::Null));
    }
    match state.production.current(line) {
        Some((st, at)) => {
            let from = json!({"at_ns": at, "at": time::format_rfc3339(at), "units_in_line": st.units.len(),
                "machines_down": st.machines.iter().filter(|m| m.down_remaining_s.is_some()).map(|m| &m.asset).collect::<Vec<_>>()});
            Ok((with_current_state(&cfg, Some(&st)), from))
        }
        None => Ok((cfg, Value::Null)),
    }
}

fn est(e: &Estimate) -> Value {
    json!({"mean": e.mean, "half_width": e.half_width, "lower": e.lower(), "upper": e.upper(), "sd": e.sd, "n": e.n})
}

fn scaled(e: &Estimate, k: f64) -> Estimate {
    Estimate {
        mean: e.mean * k,
        half_width: e.half_width * k,
        sd: e.sd * k,
        ..*e
    }
}

/// (label, unit) of a what-if KPI.
fn kpi_meta(k: &str) -> (&'static str, &'static str) {
    match k {
        "throughput_per_h" => ("Throughput (good units)", "1/h"),
        "good" => ("Good units", "count"),
        "scrap" => ("Scrapped units", "count"),
        "wip_mean" => ("Work in process (mean)", "count"),
        "lead_time_mean_s" => ("Lead time (mean)", "s"),
        "lead_time_p95_s" => ("Lead time (95th percentile)", "s"),
        "oee" => ("OEE", "1"),
        "availability" => ("Availability", "1"),
        "performance" => ("Performance", "1"),
        "quality" => ("Quality rate", "1"),
        "energy_kwh" => ("Energy", "kWh"),
        "kwh_per_good_unit" => ("Energy per good unit", "kWh"),
        "energy_cost_per_good_unit" => ("Energy cost per good unit", "currency"),
        _ => ("", ""),
    }
}

fn kpi_list() -> Vec<Value> {
    KPIS.iter()
        .map(|k| {
            let (label, unit) = kpi_meta(k);
            json!({"name": k, "label": label, "unit": unit})
        })
        .collect()
}

/// The simple parameters of a line the dashboard's form offers: speed, machines and buffer per station.
fn parameters(cfg: &LineConfig) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, s) in cfg.stations.iter().enumerate() {
        out.push(
            json!({"name": format!("{}.speed", s.id), "label": format!("Speed of {}", s.id), "unit": "1", "default": 1.0, "min": 0.5, "max": 2.0, "step": 0.05,
            "description": format!("processing speed of {} relative to now (1.1 = 10 % faster)", s.id)}),
        );
        out.push(
            json!({"name": format!("{}.machines", s.id), "label": format!("Machines at {}", s.id), "unit": "count", "default": s.machines.len(),
            "min": 1, "max": s.machines.len() + 4, "step": 1, "description": format!("parallel machines at {}", s.id)}),
        );
        if i > 0
            && let Some(b) = s.buffer
        {
            out.push(json!({"name": format!("{}.buffer", s.id), "label": format!("Buffer before {}", s.id), "unit": "count", "default": b, "min": 0, "max": 50, "step": 1,
                "description": format!("places in the buffer in front of {}", s.id)}));
        }
    }
    out
}

fn parameter_changes(cfg: &LineConfig, params: &BTreeMap<String, f64>) -> Res<Vec<Change>> {
    let mut out = Vec::new();
    for (name, &v) in params {
        let field = format!("parameters.{name}");
        let (station, what) = name
            .rsplit_once('.')
            .ok_or_else(|| Error::bad(&field, "expected <station>.speed, .machines or .buffer"))?;
        let s = cfg
            .stations
            .iter()
            .find(|s| s.id == station)
            .ok_or_else(|| Error::bad(&field, format!("line '{}' has no station '{station}'", cfg.id)))?;
        if !v.is_finite() || v < 0.0 {
            return Err(Error::bad(&field, "must be a finite number ≥ 0"));
        }
        match what {
            "speed" if (v - 1.0).abs() > 1e-12 => {
                if v <= 0.0 {
                    return Err(Error::bad(&field, "must be > 0"));
                }
                out.push(Change::StationSpeed {
                    station: station.into(),
                    factor: v,
                })
            }
            "machines" if v.round() as usize != s.machines.len() => {
                if v < 1.0 {
                    return Err(Error::bad(&field, "at least one machine"));
                }
                out.push(Change::Machines {
                    station: station.into(),
                    count: v.round() as usize,
                })
            }
            "buffer" if s.buffer != Some(v.round() as usize) => out.push(Change::BufferSize {
                station: station.into(),
                capacity: Some(v.round() as usize),
            }),
            "speed" | "machines" | "buffer" => {}
            _ => return Err(Error::bad(&field, "expected <station>.speed, .machines or .buffer")),
        }
    }
    Ok(out)
}

fn change_kinds() -> Value {
    json!([
        {"kind": "station_speed", "fields": {"station": "station id", "factor": "speed multiplier > 0"}, "example": {"kind": "station_speed", "station": "l1-cnc", "factor": 1.1}},
        {"kind": "buffer_size", "fields": {"station": "station id", "capacity": "places, null = unbounded"}, "example": {"kind": "buffer_size", "station": "l1-conv-2", "capacity": 8}},
        {"kind": "machines", "fields": {"station": "station id", "count": "parallel machines ≥ 1"}, "example": {"kind": "machines", "station": "l1-cnc", "count": 5}},
        {"kind": "product_mix", "fields": {"source": "source id", "mix": "product → weight"}, "example": {"kind": "product_mix", "source": "l1-in", "mix": {"shaft-a": 3, "shaft-b": 1}}},
        {"kind": "shift_pattern", "fields": {"calendar": "{period_s, shifts: [{start_s, end_s}]} or null (always scheduled)"}, "example": {"kind": "shift_pattern", "calendar": {"period_s": 604800, "shifts": [{"start_s": 21600, "end_s": 50400}]}}},
        {"kind": "maintenance_windows", "fields": {"station": "station id", "windows": "[{start_s, end_s}] from now"}, "example": {"kind": "maintenance_windows", "station": "l1-cnc", "windows": [{"start_s": 3600, "end_s": 7200}]}},
        {"kind": "machine_health", "fields": {"station": "station id", "machine": "index or null (all)", "health": "{hazard_factor, extra_hazard_per_s, speed_factor, scrap_factor, index, alarm}"},
            "example": {"kind": "machine_health", "station": "l1-cnc", "machine": 1, "health": {"hazard_factor": 1, "extra_hazard_per_s": 0, "speed_factor": 1, "scrap_factor": 1, "index": 1, "alarm": false}}},
        {"kind": "failures", "fields": {"station": "station id", "failures": "{clock: calendar|operations, mean_between, repair: distribution} or null"}, "example": {"kind": "failures", "station": "l1-cnc", "failures": null}},
        {"kind": "demand", "fields": {"source": "renewal source id", "factor": "arrival rate multiplier"}, "example": {"kind": "demand", "source": "in", "factor": 1.2}},
        {"kind": "energy_tariff", "fields": {"tariff": "{hourly: [price per kWh for each hour of the period]}"}, "example": {"kind": "energy_tariff", "tariff": {"hourly": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.1, 0.1]}}}
    ])
}

fn factory_change_kinds() -> Value {
    json!([
        {"kind": "line", "fields": {"line": "line id", "change": "a line-level change (station ids as in the line)"}, "example": {"kind": "line", "line": "l1", "change": {"kind": "machines", "station": "l1-cnc", "count": 5}}},
        {"kind": "copy_line", "fields": {"line": "line to copy (its copy gets a supply of its own, delivered like the original's)", "id": "new line id"}, "example": {"kind": "copy_line", "line": "l3", "id": "l3b"}},
        {"kind": "add_line", "fields": {"config": "a full line configuration (LineConfig)"}},
        {"kind": "remove_line", "fields": {"line": "line id"}, "example": {"kind": "remove_line", "line": "l2"}},
        {"kind": "demand", "fields": {"line": "line id", "factor": "rate multiplier of a demand-driven source"}},
        {"kind": "lot_delay", "fields": {"component": "supply id ({line}-blank)", "lot": "lot id", "delay_h": "hours late"}, "example": {"kind": "lot_delay", "component": "l1-blank", "lot": "l1-blank-00002", "delay_h": 12}}
    ])
}

// ---------------------------------------------------------------------------------------------------------
// What-if

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TariffSpec {
    hourly: Option<Vec<f64>>,
    price: Option<f64>,
    peak: Option<f64>,
    off_peak: Option<f64>,
    peak_start_h: Option<usize>,
    peak_end_h: Option<usize>,
}

impl TariffSpec {
    fn tariff(&self, field: &str) -> Res<Tariff> {
        let t = if let Some(h) = &self.hourly {
            Tariff { hourly: h.clone() }
        } else if let (Some(p), Some(o)) = (self.peak, self.off_peak) {
            let (a, b) = (self.peak_start_h.unwrap_or(6), self.peak_end_h.unwrap_or(22));
            if a > b || b > 24 {
                return Err(Error::bad(&format!("{field}.peak_start_h"), "need 0 ≤ peak_start_h ≤ peak_end_h ≤ 24"));
            }
            Tariff::day_night(p, o, a, b)
        } else if let Some(p) = self.price {
            Tariff::flat(p)
        } else {
            return Err(Error::bad(
                field,
                "give hourly prices, peak and off_peak (with peak_start_h, peak_end_h), or one price",
            ));
        };
        if t.validate().is_err() {
            return Err(Error::bad(field, "prices must be finite and ≥ 0, at least one"));
        }
        Ok(t)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhatIfRequest {
    line: Option<String>,
    #[serde(default)]
    scenarios: Vec<Scenario>,
    /// The dashboard's simple form: `{"<station>.speed": 1.1, ...}` as one scenario.
    parameters: Option<BTreeMap<String, f64>>,
    replications: Option<usize>,
    /// Alias of `replications` (the dashboard's form).
    runs: Option<usize>,
    days: Option<f64>,
    warmup_h: Option<f64>,
    seed: Option<u64>,
    /// Start from the production twin's current state of the line (default true).
    from_current_state: Option<bool>,
    tariff: Option<TariffSpec>,
    level: Option<f64>,
}

fn check_budget(reps: usize, scenarios: usize, days: f64) -> Res<()> {
    if !(2..=LIMITS.replications).contains(&reps) {
        return Err(Error::bad("replications", format!("must be between 2 and {}", LIMITS.replications)));
    }
    if !(days.is_finite() && days > 0.0 && days <= LIMITS.days) {
        return Err(Error::bad("days", format!("must be in (0, {}]", LIMITS.days)));
    }
    if scenarios > LIMITS.scenarios {
        return Err(Error::bad("scenarios", format!("at most {} scenarios", LIMITS.scenarios)));
    }
    let work = reps as f64 * (scenarios + 1) as f64 * days;
    if work > LIMITS.replication_days {
        return Err(Error::bad(
            "replications",
            format!(
                "{reps} replications × {} configurations × {days} days = {work:.0} simulated days; the limit is {:.0}",
                scenarios + 1,
                LIMITS.replication_days
            ),
        ));
    }
    Ok(())
}

fn report_json(r: &doppel_line::whatif::WhatIfReport) -> (Value, Value) {
    let baseline: serde_json::Map<String, Value> = r.baseline.iter().map(|(k, e)| (k.clone(), est(e))).collect();
    let variants: Vec<Value> = r
        .variants
        .iter()
        .map(|v| {
            let kpis: serde_json::Map<String, Value> = v
                .rows
                .iter()
                .map(|row| {
                    (
                        row.kpi.clone(),
                        json!({"baseline": est(&row.baseline), "variant": est(&row.variant), "difference": est(&row.difference),
                               "relative": row.relative, "significant": row.significant}),
                    )
                })
                .collect();
            json!({"name": v.name, "kpis": kpis, "bottlenecks": v.bottlenecks})
        })
        .collect();
    (Value::Object(baseline), Value::Array(variants))
}

async fn whatif_spec(State(state): State<Arc<AppState>>) -> Res<Json<Value>> {
    let mut lines = Vec::new();
    for (id, _) in state.production.lines() {
        let (cfg, from) = live_line(&state, id, true)?;
        let name = state.plant.line(id).map(|l| l.name.clone()).unwrap_or_default();
        lines.push(json!({
            "id": id, "name": name,
            "stations": cfg.stations.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            "products": cfg.products, "sources": cfg.sources.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            "design_bottleneck": cfg.design_bottleneck().map(|i| cfg.stations[i].id.clone()),
            "parameters": parameters(&cfg),
            "current_state": from,
            "baseline": cfg,
        }));
    }
    let shared: Vec<Value> = state
        .production
        .lines()
        .iter()
        .filter(|(_, c)| !c.components.is_empty())
        .map(|(id, _)| json!({"component": format!("{id}-blank"), "line": id, "first_lots": (1..=3).map(|k| format!("{id}-blank-{k:05}")).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({
        "lines": lines,
        "kpis": kpi_list(),
        "change_kinds": change_kinds(),
        "default_runs": 20,
        "defaults": {"replications": 20, "days": 7, "warmup_h": 0, "seed": 1, "from_current_state": true, "level": 0.95},
        "limits": {"replications": LIMITS.replications, "days": LIMITS.days, "scenarios": LIMITS.scenarios, "changes": LIMITS.changes, "replication_days": LIMITS.replication_days},
        "factory": {"lines": state.production.lines().iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), "supplies": shared, "change_kinds": factory_change_kinds()},
    })))
}

async fn whatif(State(state): State<Arc<AppState>>, b: axum::body::Bytes) -> Res<Json<Value>> {
    let req: WhatIfRequest = body(&b, false)?;
    let line = req
        .line
        .clone()
        .ok_or_else(|| Error::bad("line", "which line: one of the ids GET /api/whatif lists"))?;
    let (cfg, from) = live_line(&state, &line, req.from_current_state.unwrap_or(true))?;
    let mut scenarios = req.scenarios;
    if let Some(p) = &req.parameters {
        scenarios.push(Scenario {
            name: "scenario".into(),
            changes: parameter_changes(&cfg, p)?,
        });
    }
    if scenarios.is_empty() {
        return Err(Error::bad("scenarios", "at least one scenario (or the form's parameters)"));
    }
    for (i, s) in scenarios.iter().enumerate() {
        if s.changes.len() > LIMITS.changes {
            return Err(Error::bad(&format!("scenarios[{i}].changes"), format!("at most {} changes", LIMITS.changes)));
        }
        for j in 0..s.changes.len() {
            if let Err(e) = doppel_line::whatif::apply(&cfg, &s.changes[..=j], None) {
                return Err(Error::line(&format!("scenarios[{i}].changes[{j}]."), e));
            }
        }
    }
    let reps = req.replications.or(req.runs).unwrap_or(20);
    let days = req.days.unwrap_or(7.0);
    check_budget(reps, scenarios.len(), days)?;
    let warmup_h = req.warmup_h.unwrap_or(0.0);
    if !(warmup_h.is_finite() && warmup_h >= 0.0 && warmup_h < days * 24.0) {
        return Err(Error::bad("warmup_h", "must be ≥ 0 and shorter than the run"));
    }
    let level = req.level.unwrap_or(0.95);
    if !(level > 0.5 && level < 1.0) {
        return Err(Error::bad("level", "must be in (0.5, 1)"));
    }
    let mut wc = WhatIfConfig::new(reps, days * 86_400.0, warmup_h * 3600.0, req.seed.unwrap_or(1));
    wc.level = level;
    if let Some(t) = &req.tariff {
        wc.tariff = Some(t.tariff("tariff")?);
    }
    let started = std::time::Instant::now();
    let cfg2 = cfg.clone();
    let report = blocking(move || run_whatif(&cfg2, &scenarios, &wc).map_err(|e| Error::line("", e))).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let (baseline, variants) = report_json(&report);
    let first = report.variants.first();
    let pick = |f: &dyn Fn(&doppel_line::whatif::KpiRow) -> &Estimate| -> Value {
        first.map_or(Value::Null, |v| Value::Object(v.rows.iter().map(|r| (r.kpi.clone(), est(f(r)))).collect()))
    };
    Ok(Json(json!({
        "line": line, "replications": report.replications, "runs": report.replications, "days": days, "warmup_h": warmup_h,
        "seed": req.seed.unwrap_or(1), "confidence": level, "from_state": from,
        "baseline": baseline, "baseline_bottlenecks": report.baseline_bottlenecks, "variants": variants,
        "scenario": pick(&|r| &r.variant), "difference": pick(&|r| &r.difference),
        "kpis": kpi_list(),
        "simulated_runs": report.runs, "events": report.events, "elapsed_s": elapsed,
        "replications_per_s": report.runs as f64 / elapsed.max(1e-9),
    })))
}

// ---------------------------------------------------------------------------------------------------------
// Factory

/// A factory change as the API (and `doppel line factory --scenarios`) takes it.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FactoryChangeSpec {
    Line { line: String, change: Change },
    CopyLine { line: String, id: String },
    AddLine { config: Box<LineConfig> },
    RemoveLine { line: String },
    Demand { line: String, factor: f64 },
    LotDelay { component: String, lot: String, delay_h: f64 },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactoryScenarioSpec {
    pub name: String,
    pub changes: Vec<FactoryChangeSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SupplySpec {
    /// Lots of blanks on hand at the start, per line.
    on_hand_lots: Option<usize>,
    /// Hours between lot deliveries (default: a lot's worth of the line's design rate, 10 % ahead).
    lot_every_h: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactoryRequest {
    scenarios: Vec<FactoryScenarioSpec>,
    replications: Option<usize>,
    days: Option<f64>,
    seed: Option<u64>,
    supply: Option<SupplySpec>,
}

/// The plant's production lines with their live health as a factory (see [`production::factory_of`]).
pub fn plant_factory(state: &AppState, horizon_s: f64, on_hand: usize, every_h: Option<f64>) -> FactoryConfig {
    let lines = state.production.lines().iter().map(|(_, c)| with_live_health(state, c)).collect();
    production::factory_of(lines, &state.plant.enterprise, horizon_s, on_hand, every_h)
}

/// The API's factory scenarios as [`FactoryScenario`]s on `base`, each checked against it; errors name the field.
pub fn factory_scenarios(base: &FactoryConfig, specs: &[FactoryScenarioSpec]) -> Result<Vec<FactoryScenario>, Error> {
    let mut scenarios = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let mut changes = Vec::new();
        for (j, c) in s.changes.iter().enumerate() {
            let f = format!("scenarios[{i}].changes[{j}]");
            changes.push(match c {
                FactoryChangeSpec::Line { line, change } => FactoryChange::Line {
                    line: line.clone(),
                    change: change.clone(),
                },
                FactoryChangeSpec::CopyLine { line, id } => {
                    let mut c = base
                        .lines
                        .iter()
                        .find(|l| l.id == *line)
                        .cloned()
                        .ok_or_else(|| Error::bad(&format!("{f}.line"), format!("unknown line '{line}'")))?;
                    if base.lines.iter().any(|l| l.id == *id) {
                        return Err(Error::bad(&format!("{f}.id"), format!("line '{id}' exists")));
                    }
                    // the copy gets a supply of its own, delivered like the original's
                    let prefix = format!("{line}-");
                    for st in &mut c.stations {
                        for k in &mut st.consumes {
                            if let Some(sup) = base.shared.iter().find(|x| x.component == k.component) {
                                let own = k.component.strip_prefix(&prefix).unwrap_or(&k.component).to_string();
                                if !c.components.iter().any(|x| x.component == own) {
                                    let mut lots = sup.lots.clone();
                                    for l in &mut lots {
                                        l.id = format!("{id}-{}", l.id.strip_prefix(&prefix).unwrap_or(&l.id));
                                    }
                                    c.components.push(doppel_line::config::ComponentSupply { component: own.clone(), lots });
                                }
                                k.component = own;
                            }
                        }
                    }
                    c.id = id.clone();
                    FactoryChange::AddLine { config: c }
                }
                FactoryChangeSpec::AddLine { config } => FactoryChange::AddLine { config: (**config).clone() },
                FactoryChangeSpec::RemoveLine { line } => FactoryChange::RemoveLine { line: line.clone() },
                FactoryChangeSpec::Demand { line, factor } => {
                    let l = base
                        .lines
                        .iter()
                        .find(|l| l.id == *line)
                        .ok_or_else(|| Error::bad(&format!("{f}.line"), format!("unknown line '{line}'")))?;
                    FactoryChange::Line {
                        line: line.clone(),
                        change: Change::Demand {
                            source: l.sources.first().map(|s| s.id.clone()).unwrap_or_default(),
                            factor: *factor,
                        },
                    }
                }
                FactoryChangeSpec::LotDelay { component, lot, delay_h } => {
                    if !(delay_h.is_finite() && *delay_h >= 0.0) {
                        return Err(Error::bad(&format!("{f}.delay_h"), "must be ≥ 0"));
                    }
                    FactoryChange::LotDelay {
                        component: component.clone(),
                        lot: lot.clone(),
                        delay_s: delay_h * 3600.0,
                    }
                }
            });
        }
        if let Err(e) = doppel_line::factory::apply_factory(base, &changes) {
            return Err(Error::line(&format!("scenarios[{i}].changes."), e));
        }
        scenarios.push(FactoryScenario { name: s.name.clone(), changes });
    }
    Ok(scenarios)
}

async fn factory(State(state): State<Arc<AppState>>, b: axum::body::Bytes) -> Res<Json<Value>> {
    let req: FactoryRequest = body(&b, false)?;
    let reps = req.replications.unwrap_or(10);
    let days = req.days.unwrap_or(7.0);
    if req.scenarios.is_empty() {
        return Err(Error::bad("scenarios", "at least one scenario"));
    }
    check_budget(reps, req.scenarios.len(), days)?;
    let supply = req.supply.unwrap_or(SupplySpec {
        on_hand_lots: None,
        lot_every_h: None,
    });
    let on_hand = supply.on_hand_lots.unwrap_or(2);
    if on_hand > 1000 {
        return Err(Error::bad("supply.on_hand_lots", "at most 1000"));
    }
    if let Some(h) = supply.lot_every_h
        && !(h.is_finite() && h > 0.0)
    {
        return Err(Error::bad("supply.lot_every_h", "must be > 0"));
    }
    let base = plant_factory(&state, days * 86_400.0, on_hand, supply.lot_every_h);
    let scenarios = factory_scenarios(&base, &req.scenarios)?;
    let wc = WhatIfConfig::new(reps, days * 86_400.0, 0.0, req.seed.unwrap_or(1));
    let started = std::time::Instant::now();
    let report = blocking(move || evaluate_factory(&base, &scenarios, &wc).map_err(|e| Error::line("", e))).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let cmp = |c: &doppel_line::factory::LineComparison| {
        json!({"line": c.line, "baseline": est(&c.baseline), "variant": est(&c.variant), "difference": est(&c.difference), "significant": c.significant,
               "no_material_share": est(&c.no_material_share), "bottlenecks": c.bottlenecks})
    };
    Ok(Json(json!({
        "replications": report.replications, "days": days, "kpi": "throughput_per_h", "confidence": 0.95,
        "supply": {"on_hand_lots": on_hand, "lot_every_h": supply.lot_every_h},
        "baseline": report.baseline.iter().map(|(l, e)| json!({"line": l, "throughput_per_h": est(e)})).collect::<Vec<_>>(),
        "variants": report.variants.iter().map(|v| json!({"name": v.name, "total": cmp(&v.total), "lines": v.lines.iter().map(cmp).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "elapsed_s": elapsed,
    })))
}

// ---------------------------------------------------------------------------------------------------------
// Simulation of a line

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimQuery {
    hours: Option<f64>,
    seed: Option<u64>,
    from_current_state: Option<bool>,
}

async fn simulation(State(state): State<Arc<AppState>>, Path(line): Path<String>, Query(q): Query<SimQuery>) -> Res<Json<Value>> {
    let hours = q.hours.unwrap_or(24.0);
    if !(hours.is_finite() && hours > 0.0 && hours <= LIMITS.days * 24.0) {
        return Err(Error::bad("hours", format!("must be in (0, {}]", LIMITS.days * 24.0)));
    }
    let (cfg, from) = live_line(&state, &line, q.from_current_state.unwrap_or(true))?;
    let seed = q.seed.unwrap_or(1);
    let cfg2 = cfg.clone();
    let run = blocking(move || {
        Simulator::new(&cfg2)
            .and_then(|s| s.run(&SimOptions::new(seed, hours * 3600.0, 0.0)))
            .map_err(|e| Error::line("", e))
    })
    .await?;
    let stations: Vec<Value> = run
        .stations
        .iter()
        .zip(&cfg.stations)
        .enumerate()
        .map(|(i, (r, c))| {
            json!({
                "id": r.id, "machines": c.machines.iter().map(|m| json!({"asset": m.asset, "health": m.health, "down_for_s": m.down_for_s})).collect::<Vec<_>>(),
                "ideal_cycle_s": c.ideal_cycle_s, "buffer": c.buffer, "produced": r.produced, "good": r.good, "scrap": r.scrap,
                "failures": r.failures, "changeovers": r.changeovers, "throughput_per_h": r.throughput_per_h,
                "shares": r.shares, "utilisation": r.utilisation, "mean_queue": r.mean_queue, "oee": r.oee,
                "bottleneck_share": run.bottleneck.total.get(i), "sole_bottleneck_share": run.bottleneck.sole.get(i),
                "shifting_bottleneck_share": run.bottleneck.shifting.get(i), "mean_active_period_s": run.bottleneck.mean_active_s.get(i),
            })
        })
        .collect();
    Ok(Json(json!({
        "line": line, "hours": hours, "seed": seed, "from_state": from,
        "kpis": run.kpis, "oee": run.kpis.oee,
        "bottleneck": {"station": run.bottleneck.id, "method": "active period (Roser, Nakano & Tanaka 2001, 2002)"},
        "design_bottleneck": cfg.design_bottleneck().map(|i| cfg.stations[i].id.clone()),
        "stations": stations, "events": run.events,
    })))
}

// ---------------------------------------------------------------------------------------------------------
// Scheduling

/// An order as the API (and `doppel line schedule --orders`) takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    pub id: String,
    pub product: String,
    pub quantity: u32,
    /// Due in this many hours from now (plant time).
    pub due_h: Option<f64>,
    /// Or an absolute due time (RFC 3339 or epoch milliseconds).
    pub due: Option<String>,
    #[serde(default)]
    pub release_h: f64,
    pub weight: Option<f64>,
}

/// The orders for line `cfg`, times in seconds from `now_ns`; errors name the field.
pub fn orders_of(cfg: &LineConfig, os: &[OrderSpec], now_ns: i64) -> Result<Vec<Order>, Error> {
    if os.is_empty() || os.len() > LIMITS.orders {
        return Err(Error::bad("orders", format!("between 1 and {} orders", LIMITS.orders)));
    }
    let mut orders = Vec::new();
    for (i, o) in os.iter().enumerate() {
        let due_s = match (o.due_h, &o.due) {
            (Some(h), _) => h * 3600.0,
            (None, Some(t)) => {
                let ns = time::parse_user_time(t).ok_or_else(|| Error::bad(&format!("orders[{i}].due"), "not an RFC 3339 time nor epoch milliseconds"))?;
                (ns - now_ns) as f64 * 1e-9
            }
            (None, None) => return Err(Error::bad(&format!("orders[{i}].due_h"), "give due_h (hours from now) or due (a time)")),
        };
        if !cfg.products.contains(&o.product) {
            return Err(Error::bad(
                &format!("orders[{i}].product"),
                format!("line '{}' makes {}", cfg.id, cfg.products.join(", ")),
            ));
        }
        if o.quantity == 0 || !due_s.is_finite() || !(o.release_h.is_finite() && o.release_h >= 0.0) {
            return Err(Error::bad(&format!("orders[{i}]"), "quantity ≥ 1, a finite due date, release_h ≥ 0"));
        }
        orders.push(Order {
            id: o.id.clone(),
            product: o.product.clone(),
            quantity: o.quantity,
            release_s: o.release_h * 3600.0,
            due_s,
            weight: o.weight.unwrap_or(1.0),
        });
    }
    Ok(orders)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowSpec {
    start_h: f64,
    end_h: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleRequest {
    /// Orders to sequence; default: the business data's orders of this line.
    orders: Option<Vec<OrderSpec>>,
    /// Objective weight of one second of changeover, in weighted-tardiness seconds (default 1).
    setup_weight: Option<f64>,
    replications: Option<usize>,
    seed: Option<u64>,
    /// Extra blocked windows, hours from now.
    #[serde(default)]
    blocked: Vec<WindowSpec>,
    /// Block the planner's work orders and the business data's downtime windows (default true).
    use_planner: Option<bool>,
}

async fn schedule(State(state): State<Arc<AppState>>, Path(line): Path<String>, b: axum::body::Bytes) -> Res<Json<Value>> {
    let req: ScheduleRequest = body(&b, true)?;
    let (cfg, _) = live_line(&state, &line, false)?;
    let clock = state.production.settings().business_clock;
    let wall = time::now();
    let plant_now = state.production.current(&line).map(|(_, t)| t).unwrap_or(wall);
    let mut orders = Vec::new();
    let mut source = "request";
    match &req.orders {
        Some(os) => orders = orders_of(&cfg, os, plant_now)?,
        None => {
            source = "business data";
            let business = state.prescribe.lock().business.clone();
            for (i, o) in business.orders.iter().filter(|o| o.line == line).enumerate() {
                let Some(due) = doppel_plan::business::parse_when(&o.due, wall) else {
                    continue;
                };
                if !cfg.products.contains(&o.product) {
                    return Err(Error::bad(
                        &format!("business.orders[{i}].product"),
                        format!(
                            "order {} is for '{}', but line '{line}' makes {}: give the orders in the request",
                            o.id,
                            o.product,
                            cfg.products.join(", ")
                        ),
                    ));
                }
                orders.push(Order {
                    id: o.id.clone(),
                    product: o.product.clone(),
                    quantity: o.quantity.round().max(1.0) as u32,
                    release_s: 0.0,
                    due_s: production::business_to_plant_s(due, wall, clock),
                    weight: 1.0,
                });
            }
            if orders.is_empty() {
                return Err(Error::bad(
                    "orders",
                    format!("the business data has no orders for line '{line}': give them in the request"),
                ));
            }
        }
    }
    // blocked windows: the planner's work orders on line-stopping assets, the business downtime windows, extras
    let mut blocked: Vec<Window> = Vec::new();
    let mut blocked_json = Vec::new();
    let mut not_blocking = Vec::new();
    for (i, w) in req.blocked.iter().enumerate() {
        if !(w.start_h.is_finite() && w.end_h.is_finite() && w.end_h >= w.start_h) {
            return Err(Error::bad(&format!("blocked[{i}]"), "start_h ≤ end_h, finite"));
        }
        blocked.push(Window {
            start_s: w.start_h * 3600.0,
            end_s: w.end_h * 3600.0,
        });
        blocked_json.push(json!({"source": "request", "start_s": w.start_h * 3600.0, "end_s": w.end_h * 3600.0}));
    }
    if req.use_planner.unwrap_or(true) {
        let p = state.prescribe.lock();
        let to_s = |t: i64| production::business_to_plant_s(t, wall, clock).max(0.0);
        for wo in p.work_orders() {
            use doppel_plan::workorder::WoState;
            if wo.line != line || matches!(wo.state, WoState::Done | WoState::Rejected | WoState::Cancelled) {
                continue;
            }
            let (Some(a), Some(e)) = (wo.start_ns, wo.end_ns) else { continue };
            if e <= wall {
                continue;
            }
            let ty = state.plant.asset(&wo.asset).map(|x| x.type_id.clone()).unwrap_or_default();
            let stops = p.business.class(&ty).is_none_or(|c| c.stops_line);
            let w = json!({"source": "work_order", "work_order": wo.id, "asset": wo.asset, "state": wo.state, "start_s": to_s(a), "end_s": to_s(e)});
            if stops {
                blocked.push(Window {
                    start_s: to_s(a),
                    end_s: to_s(e),
                });
                blocked_json.push(w);
            } else {
                not_blocking.push(w);
            }
        }
        for (l, spans) in p.business.windows_by_line() {
            if l != line {
                continue;
            }
            for sp in spans {
                if sp.end_ns <= wall {
                    continue;
                }
                blocked.push(Window {
                    start_s: to_s(sp.start_ns),
                    end_s: to_s(sp.end_ns),
                });
                blocked_json.push(json!({"source": "business window", "start_s": to_s(sp.start_ns), "end_s": to_s(sp.end_ns)}));
            }
        }
    }
    let setup_weight = req.setup_weight.unwrap_or(1.0);
    if !(setup_weight.is_finite() && setup_weight >= 0.0) {
        return Err(Error::bad("setup_weight", "must be ≥ 0"));
    }
    let reps = req.replications.unwrap_or(10);
    if !(1..=LIMITS.replications).contains(&reps) {
        return Err(Error::bad("replications", format!("between 1 and {}", LIMITS.replications)));
    }
    let mut problem = ScheduleProblem::from_line(&cfg, &orders, blocked, setup_weight).map_err(|e| Error::line("orders.", e))?;
    // the bottleneck's machine is set up for what the production twin last made on it
    if let Some((st, _)) = state.production.current(&line)
        && let Some(b) = cfg.design_bottleneck()
    {
        let bid = &cfg.stations[b].id;
        problem.initial_product = st
            .machines
            .iter()
            .find(|m| m.station == *bid)
            .and_then(|m| m.last_product.as_ref())
            .and_then(|p| cfg.products.iter().position(|x| x == p));
    }
    let seed = req.seed.unwrap_or(1);
    let work: f64 = problem.jobs.iter().map(|j| j.quantity as f64 * problem.unit_time_s[j.product]).sum();
    let blocked_s: f64 = problem.blocked.iter().map(|w| (w.end_s - w.start_s).max(0.0)).sum();
    let latest_due = problem.jobs.iter().map(|j| j.due_s).fold(0.0, f64::max);
    let horizon = ((work * 1.5 + blocked_s + 3600.0).max(latest_due + 3600.0)).min(LIMITS.days * 86_400.0);
    if reps as f64 * 3.0 * horizon / 86_400.0 > LIMITS.replication_days {
        return Err(Error::bad(
            "replications",
            "the orders take too long to simulate this often: fewer replications",
        ));
    }
    let cfg2 = cfg.clone();
    let (best, edd, fifo, simulated, elapsed) = blocking(move || {
        let t = std::time::Instant::now();
        let best = problem.solve();
        let edd = problem.evaluate(&problem.edd());
        let mut fifo_seq: Vec<usize> = (0..problem.jobs.len()).collect();
        fifo_seq.sort_by(|&a, &b| problem.jobs[a].release_s.total_cmp(&problem.jobs[b].release_s).then(a.cmp(&b)));
        let fifo = problem.evaluate(&fifo_seq);
        let seqs = vec![
            ("optimised".to_string(), best.sequence.clone()),
            ("edd".to_string(), edd.sequence.clone()),
            ("fifo".to_string(), fifo.sequence.clone()),
        ];
        let sim = simulate_schedules(&cfg2, &problem, &seqs, reps, horizon, seed).map_err(|e| Error::line("", e))?;
        Ok(((problem.clone(), best), edd, fifo, sim, t.elapsed().as_secs_f64()))
    })
    .await?;
    let (problem, best) = best;
    let show = |s: &doppel_line::schedule::Schedule| {
        let rows: Vec<Value> = s
            .sequence
            .iter()
            .enumerate()
            .map(|(k, &j)| {
                let job = &problem.jobs[j];
                json!({"order": job.id, "product": problem.products[job.product], "quantity": job.quantity, "start_s": s.start_s[k], "completion_s": s.completion_s[k],
                       "due_s": job.due_s, "tardiness_s": (s.completion_s[k] - job.due_s).max(0.0)})
            })
            .collect();
        let changeovers = s
            .sequence
            .windows(2)
            .filter(|w| problem.jobs[w[0]].product != problem.jobs[w[1]].product)
            .count()
            + usize::from(
                problem
                    .initial_product
                    .is_some_and(|p| s.sequence.first().is_some_and(|&j| problem.jobs[j].product != p)),
            );
        json!({"sequence": s.sequence.iter().map(|&j| problem.jobs[j].id.clone()).collect::<Vec<_>>(), "orders": rows,
               "weighted_tardiness_s": s.weighted_tardiness, "setup_s": s.setup_s, "changeovers": changeovers, "objective": s.objective,
               "late_orders": s.sequence.iter().enumerate().filter(|(k, j)| s.completion_s[*k] > problem.jobs[**j].due_s).count()})
    };
    let sims: Vec<Value> = simulated
        .iter()
        .map(|x| {
            json!({"name": x.name, "planned_objective": x.planned_objective, "weighted_tardiness_s": est(&x.weighted_tardiness_s),
                   "makespan_s": est(&x.makespan_s), "changeovers": est(&x.changeovers), "late_orders": est(&x.late_orders),
                   "makespan_h": est(&scaled(&x.makespan_s, 1.0 / 3600.0))})
        })
        .collect();
    Ok(Json(json!({
        "line": line, "orders_from": source, "business_clock": clock,
        "model": {"bottleneck": cfg.design_bottleneck().map(|i| cfg.stations[i].id.clone()), "unit_time_s": problem.products.iter().cloned().zip(problem.unit_time_s.iter().copied()).collect::<BTreeMap<_, _>>(),
                  "setup_s": problem.setup_s, "initial_product": problem.initial_product.map(|p| problem.products[p].clone()), "setup_weight": problem.setup_weight},
        "blocked": blocked_json, "not_blocking": not_blocking,
        "schedule": show(&best), "edd": show(&edd), "fifo": show(&fifo),
        "improvement_over_edd": edd.objective - best.objective,
        "simulated": sims, "replications": reps, "horizon_s": horizon, "elapsed_s": elapsed,
    })))
}

// ---------------------------------------------------------------------------------------------------------
// Energy

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnergyQuery {
    days: Option<f64>,
    seed: Option<u64>,
    price: Option<f64>,
    peak: Option<f64>,
    off_peak: Option<f64>,
    peak_start_h: Option<usize>,
    peak_end_h: Option<usize>,
}

fn default_price(state: &AppState) -> f64 {
    state.prescribe.lock().business.costs.energy_price_per_kwh
}

async fn energy(State(state): State<Arc<AppState>>, Path(line): Path<String>, Query(q): Query<EnergyQuery>) -> Res<Json<Value>> {
    let days = q.days.unwrap_or(7.0);
    if !(days.is_finite() && days > 0.0 && days <= LIMITS.days) {
        return Err(Error::bad("days", format!("must be in (0, {}]", LIMITS.days)));
    }
    let (cfg, from) = live_line(&state, &line, true)?;
    let spec = TariffSpec {
        hourly: None,
        price: Some(q.price.unwrap_or_else(|| default_price(&state))),
        peak: q.peak,
        off_peak: q.off_peak,
        peak_start_h: q.peak_start_h,
        peak_end_h: q.peak_end_h,
    };
    let tariff = spec.tariff("tariff")?;
    let seed = q.seed.unwrap_or(1);
    let (cfg2, tf) = (cfg.clone(), tariff.clone());
    let (run, rep) = blocking(move || {
        let o = SimOptions {
            bucket_s: Some(3600.0),
            ..SimOptions::new(seed, days * 86_400.0, 0.0)
        };
        let run = Simulator::new(&cfg2).and_then(|s| s.run(&o)).map_err(|e| Error::line("", e))?;
        let rep = energy_report(&cfg2, &run, &tf).map_err(|e| Error::line("", e))?;
        Ok((run, rep))
    })
    .await?;
    let power: Vec<Value> = cfg
        .stations
        .iter()
        .map(|s| json!({"station": s.id, "power": s.power, "machines": s.machines.len()}))
        .collect();
    Ok(Json(json!({
        "line": line, "days": days, "seed": seed, "from_state": from, "tariff": tariff,
        "energy_kwh": rep.energy_kwh, "cost": rep.cost, "good": rep.good, "kwh_per_good_unit": rep.kwh_per_good_unit, "cost_per_good_unit": rep.cost_per_good_unit,
        "by_station": rep.by_station.iter().map(|(s, e, c)| json!({"station": s, "kwh": e, "cost": c})).collect::<Vec<_>>(),
        "throughput_per_h": run.kpis.throughput_per_h, "power_models": power,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftSpec {
    name: String,
    /// Hour of the day the shift starts (0–24) and ends (may exceed 24 for a night shift).
    start_h: f64,
    end_h: f64,
    /// Working days a week, Monday first (default 5).
    days_per_week: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnergyRequest {
    tariff: Option<TariffSpec>,
    /// Shift patterns to compare, the first is the baseline (default: day 06–14 and night 22–06, Monday to Friday).
    shifts: Option<Vec<ShiftSpec>>,
    replications: Option<usize>,
    days: Option<f64>,
    seed: Option<u64>,
}

async fn energy_whatif(State(state): State<Arc<AppState>>, Path(line): Path<String>, b: axum::body::Bytes) -> Res<Json<Value>> {
    let req: EnergyRequest = body(&b, true)?;
    let (cfg, _) = live_line(&state, &line, false)?;
    let tariff = match &req.tariff {
        Some(t) => t.tariff("tariff")?,
        None => Tariff::flat(default_price(&state)),
    };
    let shifts = req.shifts.unwrap_or_else(|| {
        vec![
            ShiftSpec {
                name: "day 06:00–14:00".into(),
                start_h: 6.0,
                end_h: 14.0,
                days_per_week: None,
            },
            ShiftSpec {
                name: "night 22:00–06:00".into(),
                start_h: 22.0,
                end_h: 30.0,
                days_per_week: None,
            },
        ]
    });
    if shifts.len() < 2 {
        return Err(Error::bad("shifts", "at least two shift patterns to compare"));
    }
    let mut calendars = Vec::new();
    for (i, s) in shifts.iter().enumerate() {
        let d = s.days_per_week.unwrap_or(5);
        let ok = (0.0..24.0).contains(&s.start_h) && s.end_h.is_finite() && s.end_h > s.start_h && s.end_h - s.start_h <= 24.0 && (1..=7).contains(&d);
        if !ok {
            return Err(Error::bad(
                &format!("shifts[{i}]"),
                "0 ≤ start_h < 24, start_h < end_h ≤ start_h + 24, 1–7 days a week",
            ));
        }
        calendars.push(Calendar::daily(d, s.start_h, s.end_h));
    }
    let reps = req.replications.unwrap_or(10);
    let days = req.days.unwrap_or(7.0);
    check_budget(reps, shifts.len() - 1, days)?;
    let mut base = cfg.clone();
    base.calendar = Some(calendars[0].clone());
    let scenarios: Vec<Scenario> = shifts[1..]
        .iter()
        .zip(&calendars[1..])
        .map(|(s, c)| Scenario {
            name: s.name.clone(),
            changes: vec![Change::ShiftPattern { calendar: Some(c.clone()) }],
        })
        .collect();
    let mut wc = WhatIfConfig::new(reps, days * 86_400.0, 0.0, req.seed.unwrap_or(1));
    wc.tariff = Some(tariff.clone());
    let report = blocking(move || run_whatif(&base, &scenarios, &wc).map_err(|e| Error::line("", e))).await?;
    let keep = ["throughput_per_h", "good", "energy_kwh", "kwh_per_good_unit", "energy_cost_per_good_unit"];
    let (baseline, variants) = report_json(&report);
    let pick = |v: &Value| -> Value { Value::Object(keep.iter().filter_map(|k| v.get(*k).map(|x| (k.to_string(), x.clone()))).collect()) };
    let variants: Vec<Value> = variants
        .as_array()
        .map(|a| a.iter().map(|v| json!({"name": v["name"], "kpis": pick(&v["kpis"])})).collect())
        .unwrap_or_default();
    Ok(Json(json!({
        "line": line, "tariff": tariff, "replications": reps, "days": days, "confidence": 0.95,
        "note": "sim time 0 is a Monday 00:00; shifts and tariff hours refer to it",
        "shifts": shifts.iter().map(|s| json!({"name": s.name, "start_h": s.start_h, "end_h": s.end_h, "days_per_week": s.days_per_week.unwrap_or(5)})).collect::<Vec<_>>(),
        "baseline": {"name": shifts[0].name, "kpis": pick(&baseline)}, "variants": variants,
    })))
}

// ---------------------------------------------------------------------------------------------------------
// Root cause

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RootCauseQuery {
    check: Option<String>,
    /// Analyse the newest this many units with the check (default 20 000).
    last: Option<usize>,
    permutations: Option<usize>,
    seed: Option<u64>,
}

async fn root_cause(State(state): State<Arc<AppState>>, Path(line): Path<String>, Query(q): Query<RootCauseQuery>) -> Res<Json<Value>> {
    let cfg = line_config(&state, &line)?;
    let checks: Vec<String> = cfg.quality.iter().map(|c| c.name.clone()).collect();
    let check = match q.check {
        Some(c) => c,
        None => checks
            .first()
            .cloned()
            .ok_or_else(|| Error::bad("check", format!("line '{line}' has no quality checks")))?,
    };
    let Some(qc) = cfg.quality.iter().find(|c| c.name == check).cloned() else {
        return Err(Error::bad(
            "check",
            format!("line '{line}' has no quality check '{check}'; it has {}", checks.join(", ")),
        ));
    };
    let last = q.last.unwrap_or(20_000);
    if !(10..=200_000).contains(&last) {
        return Err(Error::bad("last", "between 10 and 200000 units"));
    }
    let permutations = q.permutations.unwrap_or(999);
    if !(19..=9999).contains(&permutations) {
        return Err(Error::bad("permutations", "between 19 and 9999"));
    }
    if !state.production.is_open() {
        return Err(Error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "the production twin is not running: no genealogy".into(),
        ));
    }
    let rc = RootCauseConfig {
        permutations,
        seed: q.seed.unwrap_or(1),
        ..RootCauseConfig::default()
    };
    let st = state.clone();
    let (l2, c2) = (line.clone(), check.clone());
    let (report, units) = blocking(move || {
        st.production.traces().root_cause(&l2, &cfg, &c2, last, &rc).map_err(|e| match e {
            LineError::Invalid { .. } => Error::not_found("check", format!("no units of line '{l2}' with a result of '{c2}' yet")),
            e => Error::line("", e),
        })
    })
    .await?;
    // the first candidate is named the cause only when its association is significant
    let top = report.candidates.first().filter(|c| c.significant).map(|c| c.name.clone());
    let note = if report.excursion_bins == 0 {
        Some(format!("no unit failed '{check}' among the {units} analysed: nothing to explain"))
    } else if top.is_none() {
        Some("no variable is significantly associated with the failures (Holm-adjusted p < 0.05)".to_string())
    } else {
        None
    };
    Ok(Json(json!({
        "line": line, "check": check, "spec": {"lower": qc.lower, "upper": qc.upper, "at": qc.at},
        "method": "unit by unit from genealogy: standardised mean difference of each process variable between failed and passed units, circular-shift permutation p-values, Holm correction",
        "units": units, "failed": report.excursion_bins, "top": top, "note": note,
        "candidates": report.candidates,
    })))
}

// ---------------------------------------------------------------------------------------------------------
// Production and traceability

async fn production_status(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.production.status())
}

fn visit_rows(g: &doppel_line::trace::UnitGenealogy) -> Vec<Value> {
    g.visits
        .iter()
        .map(|v| {
            json!({"station": v.station, "asset": v.asset, "start_ns": v.start_ns, "end_ns": v.end_ns, "health_index": v.health_index, "alarm": v.alarm,
                   "conditions": v.conditions.iter().map(|(k, x)| (k.clone(), json!(x))).collect::<serde_json::Map<_, _>>()})
        })
        .collect()
}

fn unit_json(line: &str, g: &doppel_line::trace::UnitGenealogy) -> Value {
    json!({"serial": g.serial, "line": line, "product": g.product, "entered_ns": g.entered_ns, "exit_ns": g.exit_ns, "scrapped": g.scrapped,
           "state": if g.exit_ns.is_none() { "in_line" } else if g.scrapped { "scrapped" } else { "finished" },
           "visits": visit_rows(g), "lots": g.lots, "quality": g.quality})
}

fn parse_serial(s: &str) -> Res<u64> {
    let t = s.trim();
    let t = t.strip_prefix("SN-").or_else(|| t.strip_prefix("sn-")).unwrap_or(t);
    t.parse::<u64>()
        .map_err(|_| Error::bad("serial", format!("'{s}' is not a serial number (digits, optionally SN-…)")))
}

fn need_open(state: &AppState) -> Res<()> {
    if state.production.is_open() {
        Ok(())
    } else {
        Err(Error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "the production twin is not running: no genealogy".into(),
        ))
    }
}

async fn trace_unit(State(state): State<Arc<AppState>>, Path(serial): Path<String>) -> Res<Json<Value>> {
    need_open(&state)?;
    let s = parse_serial(&serial)?;
    let found = state.production.traces().unit(s);
    match found {
        Some((line, g)) => Ok(Json(unit_json(&line, &g))),
        None => Err(Error::not_found("serial", format!("no unit {s} in the genealogy index"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitsQuery {
    asset: Option<String>,
    start: Option<String>,
    end: Option<String>,
    alarm: Option<String>,
    lot: Option<String>,
    serial: Option<String>,
    limit: Option<usize>,
}

fn parse_t(field: &str, v: Option<&str>, default: i64) -> Res<i64> {
    match v {
        Some(v) => time::parse_user_time(v).ok_or_else(|| Error::bad(field, format!("'{v}' is not an RFC 3339 timestamp nor epoch milliseconds"))),
        None => Ok(default),
    }
}

/// The answer to a units query, and the unit rows for the dashboard.
fn units_query(state: &AppState, q: &UnitsQuery) -> Res<Value> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=LIMITS.list).contains(&limit) {
        return Err(Error::bad("limit", format!("between 1 and {}", LIMITS.list)));
    }
    let given = [q.asset.is_some(), q.alarm.is_some(), q.lot.is_some()].iter().filter(|x| **x).count();
    if given != 1 {
        return Err(Error::bad("asset", "give exactly one of asset (with start and end), alarm or lot"));
    }
    let traces = state.production.traces();
    if let Some(a) = &q.asset {
        if state.plant.asset(a).is_none() {
            return Err(Error::not_found("asset", format!("unknown asset '{a}'")));
        }
        if !traces.is_machine(a) {
            return Err(Error::bad(
                "asset",
                format!(
                    "'{a}' is not a machine of a production station, so it processes no units; ask ?alarm={a} for units made on its line while it was in alarm"
                ),
            ));
        }
        let t0 = parse_t("start", q.start.as_deref(), i64::MIN)?;
        let t1 = parse_t("end", q.end.as_deref(), i64::MAX)?;
        if t0 >= t1 {
            return Err(Error::bad("start", "start must be before end"));
        }
        let f = traces.units_by_asset(a, t0, t1, limit);
        return Ok(
            json!({"query": {"asset": a, "start_ns": (t0 != i64::MIN).then_some(t0), "end_ns": (t1 != i64::MAX).then_some(t1)}, "total": f.total, "serials": f.serials, "truncated": f.truncated}),
        );
    }
    if let Some(a) = &q.alarm {
        if state.plant.asset(a).is_none() {
            return Err(Error::not_found("alarm", format!("unknown asset '{a}'")));
        }
        let (f, iv) = traces.units_in_alarm(a, limit);
        return Ok(
            json!({"query": {"alarm": a, "machine": traces.is_machine(a)}, "alarm_intervals": iv.iter().map(|(s, e)| json!({"start_ns": s, "end_ns": e})).collect::<Vec<_>>(),
                         "total": f.total, "serials": f.serials, "truncated": f.truncated}),
        );
    }
    let lot = q.lot.as_deref().unwrap_or_default();
    let f = traces.units_with_lot(lot, limit);
    Ok(json!({"query": {"lot": lot}, "total": f.total, "serials": f.serials, "truncated": f.truncated}))
}

async fn trace_units(State(state): State<Arc<AppState>>, Query(q): Query<UnitsQuery>) -> Res<Json<Value>> {
    need_open(&state)?;
    if q.serial.is_some() {
        return Err(Error::bad("serial", "use /api/trace/units/{serial} for one unit"));
    }
    let st = state.clone();
    Ok(Json(blocking(move || units_query(&st, &q)).await?))
}

/// `GET /api/trace`: without parameters a summary of the genealogy; `?serial=` one unit (its visits as
/// `steps`); `?asset=&start=&end=`, `?alarm=`, `?lot=` the units found, with their records as `items`.
async fn trace(State(state): State<Arc<AppState>>, Query(q): Query<UnitsQuery>) -> Res<Json<Value>> {
    need_open(&state)?;
    if let Some(s) = &q.serial {
        let s = parse_serial(s)?;
        let found = state.production.traces().unit(s);
        let Some((line, g)) = found else {
            return Err(Error::not_found("serial", format!("no unit {s} in the genealogy index")));
        };
        let mut v = unit_json(&line, &g);
        v["steps"] = json!(visit_rows(&g));
        return Ok(Json(v));
    }
    if q.asset.is_none() && q.alarm.is_none() && q.lot.is_none() {
        let t = state.production.traces();
        return Ok(Json(json!({"units_indexed": t.units(), "memory_bytes": t.memory_bytes(), "lines": t.summary(),
            "queries": ["/api/trace/units/{serial}", "/api/trace/units?asset=&start=&end=", "/api/trace/units?alarm=", "/api/trace/units?lot="]})));
    }
    let st = state.clone();
    let q2 = UnitsQuery {
        limit: Some(q.limit.unwrap_or(200).min(1000)),
        ..q
    };
    let mut v = blocking(move || units_query(&st, &q2)).await?;
    let traces = state.production.traces();
    let items: Vec<Value> = v["serials"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_u64()))
        .into_iter()
        .flatten()
        .filter_map(|s| traces.unit(s))
        .map(|(line, g)| json!({"serial": g.serial, "line": line, "product": g.product, "entered_ns": g.entered_ns, "exit_ns": g.exit_ns, "scrapped": g.scrapped, "lots": g.lots.join(", ")}))
        .collect();
    v["items"] = json!(items);
    Ok(Json(v))
}
