//! The plant overview the dashboard shows at a glance: per line its KPIs (OEE with availability, performance
//! and quality, unplanned downtime, open alerts) and energy per unit; plant totals; per asset its health,
//! operating state and latest prediction. Served at `GET /api/overview` and pushed on the live stream as
//! `overview` events every [`OVERVIEW_EVERY`] while someone listens.
//!
//! Energy per unit comes from the store (it needs history, not just the live state): the increments of the
//! line's energy counters (counter signals whose unit is an energy) over the last [`ENERGY_WINDOW_NS`] of data
//! time, divided by the increments of the line's output counter over the same span. It is recomputed at most
//! every [`ENERGY_REFRESH_NS`] of wall time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use doppel_model::units::{Dimension, lookup};
use doppel_model::{SignalKind, time};
use doppel_store::SeriesId;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{AppState, ServerError};

/// Data-time window of the energy-per-unit figure.
pub const ENERGY_WINDOW_NS: i64 = 3600 * time::NANOS_PER_SEC;
/// Energy per unit is recomputed from the store at most this often (wall time).
pub const ENERGY_REFRESH_NS: i64 = 30 * time::NANOS_PER_SEC;
/// Period of `overview` events on the live stream.
pub const OVERVIEW_EVERY: Duration = Duration::from_secs(2);

/// A line's energy per unit produced over a window of data time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyPerUnit {
    /// First and last sample of the line's energy counters in the window (ns, data time).
    pub start: i64,
    pub end: i64,
    /// Energy drawn in the window, kWh (sum over the line's energy counters).
    pub energy_kwh: f64,
    /// Units the line's output counted in the same span (`null` for a line without an output).
    pub units: Option<f64>,
    /// `energy_kwh / units`; `null` without units produced.
    pub kwh_per_unit: Option<f64>,
    /// The energy counters used, `asset/signal`.
    pub meters: Vec<String>,
}

/// Cached energy figures per line and when (wall ns) they were computed.
#[derive(Debug, Default)]
pub struct EnergyCache {
    pub computed_ns: Option<i64>,
    pub lines: HashMap<String, EnergyPerUnit>,
}

/// Sum of a counter's increments; a decrease counts as a reset (the new value is the increment), as the
/// twin's production counters do.
pub fn counter_increase(points: &[(i64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| {
            let d = w[1].1 - w[0].1;
            if d >= 0.0 { d } else { w[1].1.max(0.0) }
        })
        .sum()
}

/// Energy per unit of every line that has an energy counter, from the store. Blocking (store reads).
pub fn compute_energy(state: &AppState) -> Result<HashMap<String, EnergyPerUnit>, ServerError> {
    let plant = &state.plant;
    let kwh = lookup("kWh").map_err(|e| ServerError::Config(e.to_string()))?;
    let store = &state.store;
    let catalog = state.ingestor.catalog();
    let mut out = HashMap::new();
    for (_, _, line) in plant.lines() {
        // (series, factor to kWh, "asset/signal")
        let mut meters: Vec<(SeriesId, f64, String)> = Vec::new();
        for id in &line.assets {
            let Some(ai) = plant.asset_position(id) else { continue };
            for (si, sig) in plant.assets[ai].signals.iter().enumerate() {
                if sig.kind == SignalKind::Counter
                    && sig.unit.dimension == Dimension::Energy
                    && let Some(series) = catalog.series(ai, si)
                {
                    meters.push((series, sig.unit.scale / kwh.scale, format!("{id}/{}", sig.name)));
                }
            }
        }
        if meters.is_empty() {
            continue;
        }
        let mut newest = None;
        for (series, _, _) in &meters {
            if let Some((ts, _)) = store.latest(*series)? {
                newest = newest.max(Some(ts));
            }
        }
        let Some(end) = newest else { continue };
        let window_start = end - ENERGY_WINDOW_NS;
        let (mut energy_kwh, mut first, mut last) = (0.0, i64::MAX, i64::MIN);
        for (series, factor, _) in &meters {
            let points = store.query_raw(*series, window_start, end.saturating_add(1))?;
            if let (Some(a), Some(b)) = (points.first(), points.last()) {
                first = first.min(a.0);
                last = last.max(b.0);
            }
            energy_kwh += counter_increase(&points) * factor;
        }
        if first > last {
            continue;
        }
        let units = match line.output.as_deref().and_then(|o| plant.asset_position(o)) {
            Some(oi) => {
                let asset = &plant.assets[oi];
                let total = asset.production.as_ref().and_then(|p| asset.signal_index(&p.total));
                match total.and_then(|si| catalog.series(oi, si)) {
                    Some(series) => Some(counter_increase(&store.query_raw(series, first, last.saturating_add(1))?)),
                    None => None,
                }
            }
            None => None,
        };
        let kwh_per_unit = units.filter(|u| *u > 0.0).map(|u| energy_kwh / u);
        out.insert(
            line.id.clone(),
            EnergyPerUnit {
                start: first,
                end: last,
                energy_kwh,
                units,
                kwh_per_unit,
                meters: meters.into_iter().map(|m| m.2).collect(),
            },
        );
    }
    Ok(out)
}

/// The energy figures, recomputed off the async runtime when older than [`ENERGY_REFRESH_NS`].
pub async fn energy(state: &Arc<AppState>) -> HashMap<String, EnergyPerUnit> {
    let now = time::now();
    {
        let cache = state.energy.lock();
        if cache.computed_ns.is_some_and(|t| now - t < ENERGY_REFRESH_NS) {
            return cache.lines.clone();
        }
    }
    let s = state.clone();
    match tokio::task::spawn_blocking(move || compute_energy(&s)).await {
        Ok(Ok(lines)) => {
            let mut cache = state.energy.lock();
            cache.computed_ns = Some(now);
            cache.lines = lines.clone();
            lines
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "energy per unit not computed");
            state.energy.lock().lines.clone()
        }
        Err(e) => {
            tracing::error!(error = %e, "energy per unit task failed");
            state.energy.lock().lines.clone()
        }
    }
}

/// The overview: lines with KPIs, health and energy per unit; plant totals; assets with health, state and the
/// latest prediction.
pub fn overview(state: &AppState, energy: &HashMap<String, EnergyPerUnit>) -> Value {
    let plant = &state.plant;
    // Same lock order as `live::run_twins`: twins, then predictions.
    let twins = state.twins.lock();
    let predict = state.predict.lock();
    let mut open_alerts = 0;
    let mut downtime_s = 0.0;
    let lines: Vec<Value> = plant
        .lines()
        .filter_map(|(site, area, line)| {
            let ls = twins.line_state(&line.id)?;
            open_alerts += ls.kpis.open_alerts;
            downtime_s += ls.kpis.unplanned_downtime_s;
            Some(json!({
                "id": line.id, "name": line.name, "site": site.id, "area": area.id,
                "worst_health": ls.worst_health, "health": ls.health, "kpis": ls.kpis,
                "output": ls.output, "output_state": ls.output_state, "context": ls.context,
                "energy": energy.get(&line.id),
            }))
        })
        .collect();
    let mut by_health: HashMap<String, usize> = HashMap::new();
    let assets: Vec<Value> = plant
        .assets
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let health = twins.health(i);
            if let Some(h) = health
                && let Ok(Value::String(k)) = serde_json::to_value(h)
            {
                *by_health.entry(k).or_default() += 1;
            }
            let p = predict.latest(i);
            json!({
                "id": a.id, "line": a.line, "health": health, "state": twins.operating_state(i),
                "prediction": p.map(|p| json!({
                    "ts_ns": p.ts_ns, "health_index": p.health_index, "anomaly_score": p.anomaly_score,
                    "anomaly_alarm": p.anomaly_alarm, "rul_h": p.rul_h, "rul_lower_h": p.rul_lower_h,
                    "rul_upper_h": p.rul_upper_h, "failure_probability_pct": p.failure_probability_pct,
                    "horizon_h": p.horizon_h,
                })),
            })
        })
        .collect();
    json!({
        "ts": time::now(),
        "energy_window_s": ENERGY_WINDOW_NS / time::NANOS_PER_SEC,
        "plant": {"open_alerts": open_alerts, "unplanned_downtime_s": downtime_s, "assets_by_health": by_health},
        "lines": lines,
        "assets": assets,
    })
}

/// Pushes an `overview` event on the live stream every [`OVERVIEW_EVERY`] while someone listens.
pub async fn run(state: Arc<AppState>) {
    let mut every = tokio::time::interval(OVERVIEW_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if state.live.receiver_count() == 0 {
            continue;
        }
        let energy = energy(&state).await;
        let mut v = overview(&state, &energy);
        v["type"] = json!("overview");
        let _ = state.live.send(Arc::from(v.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::counter_increase;

    #[test]
    fn counter_increase_sums_increments_and_counts_a_decrease_as_a_reset() {
        assert_eq!(counter_increase(&[]), 0.0);
        assert_eq!(counter_increase(&[(0, 5.0)]), 0.0);
        assert_eq!(counter_increase(&[(0, 5.0), (1, 7.5), (2, 7.5), (3, 10.0)]), 5.0);
        // 10 → 2 is a reset: the counter restarted from 0 and counted 2.
        assert_eq!(counter_increase(&[(0, 8.0), (1, 10.0), (2, 2.0), (3, 3.0)]), 5.0);
    }
}
