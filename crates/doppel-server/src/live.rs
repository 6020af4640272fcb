//! The live side: committed data → twins → twin events (stored durably and broadcast).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use doppel_ingest::{Committed, Ingestor};
use doppel_model::{LineContext, time};
use doppel_store::NewEvent;
use doppel_twin::{TwinEvent, TwinRuntime};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::{AppState, ServerError};

/// Most sample values carried by one live `values` event.
const MAX_VALUES_PER_EVENT: usize = 2000;

/// Seeds the twins with the latest stored value of every signal, so a restart does not start blank.
pub fn restore_twins(twins: &mut TwinRuntime, ingestor: &Ingestor) -> Result<(), ServerError> {
    let plant = ingestor.plant().clone();
    for (ai, asset) in plant.assets.iter().enumerate() {
        for si in 0..asset.signals.len() {
            let Some(series) = ingestor.catalog().series(ai, si) else { continue };
            if let Some((ts, value)) = ingestor.store().latest(series)? {
                let (_, ctx) = ingestor.context_at(&asset.line, ts);
                let _ = twins.apply(ai, si, ts, value, &ctx);
            }
        }
    }
    for (_, _, line) in plant.lines() {
        if let Some((ts, ctx)) = ingestor.current_context(&line.id) {
            let _ = twins.set_line_context(&line.id, ts, ctx);
        }
    }
    Ok(())
}

/// Steps of stored history replayed per predicted asset at start (since its last renewal, at most this many).
pub const RESTORE_STEPS: f64 = 720.0;

/// Rebuilds each predicted asset's current life from the store after a restart: the last `RESTORE_STEPS`
/// steps of its inputs, settings and running signal (residuals as stored), cut at its last renewing
/// maintenance. Lives longer than that restart with a shorter memory (their age is underestimated).
pub fn restore_predictions(engine: &mut doppel_twin::predict::PredictionEngine, ingestor: &Ingestor) -> Result<(), ServerError> {
    let plant = ingestor.plant().clone();
    let store = ingestor.store();
    for (ai, a) in plant.assets.iter().enumerate() {
        let Some(spec) = &a.predict else { continue };
        let columns: Vec<usize> = spec
            .inputs
            .iter()
            .chain(&spec.settings)
            .chain(a.running.as_ref().map(|r| &r.signal))
            .filter_map(|n| a.signal_index(n))
            .collect();
        let Some(end) = columns
            .iter()
            .filter_map(|&si| ingestor.catalog().series(ai, si))
            .filter_map(|id| store.latest(id).ok().flatten())
            .map(|(ts, _)| ts)
            .max()
        else {
            continue;
        };
        let start = end - (RESTORE_STEPS * spec.step_s * 1e9) as i64;
        let renewals = store.query_events(&doppel_store::EventFilter {
            start,
            end: end.saturating_add(1),
            kinds: Some(vec![doppel_ingest::pipeline::MAINTENANCE_EVENT.to_string()]),
            subject: Some(a.id.clone()),
            limit: 0,
            latest_first: true,
        })?;
        let start = renewals
            .iter()
            .find(|e| serde_json::from_str::<doppel_model::MaintenanceRecord>(&e.payload).is_ok_and(|r| r.kind.renews()))
            .map_or(start, |e| e.ts);
        let mut rows: Vec<(i64, usize, f64)> = Vec::new();
        for &si in &columns {
            if let Some(id) = ingestor.catalog().series(ai, si) {
                rows.extend(store.query_raw(id, start, end.saturating_add(1))?.into_iter().map(|(ts, v)| (ts, si, v)));
            }
        }
        rows.sort_by_key(|r| r.0);
        for (ts, si, v) in rows {
            let _ = engine.observe(ai, si, ts, v);
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct LiveValue<'a> {
    asset: &'a str,
    signal: &'a str,
    ts: i64,
    value: f64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "values")]
struct LiveValues<'a> {
    /// Wall-clock time the values became durable and were applied (ns).
    committed: i64,
    values: Vec<LiveValue<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "context")]
struct LiveContext<'a> {
    line: &'a str,
    ts: i64,
    context_id: u32,
    context: &'a LineContext,
}

/// Applies committed data to the twins, stores the resulting twin events and broadcasts everything.
pub async fn run_twins(state: Arc<AppState>, mut rx: UnboundedReceiver<Committed>) {
    let mut contexts: HashMap<u32, LineContext> = HashMap::new();
    let (mut residuals, problems) = doppel_twin::residuals::ResidualEngine::new(&state.plant);
    for p in problems {
        tracing::warn!(asset = %p.asset, signal = %p.signal, reason = %p.reason, "physics residual cannot be computed");
    }
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut derived: Vec<doppel_ingest::payload::RawSample> = Vec::new();
        let mut predicted: Vec<doppel_ingest::payload::RawSample> = Vec::new();
        let mut maintained: Vec<(String, Option<String>, bool, i64)> = Vec::new();
        let mut events: Vec<TwinEvent> = Vec::new();
        let mut live: Vec<String> = Vec::new();
        {
            let plant = state.plant.clone();
            // Live values are only worth serialising when someone listens.
            let listening = state.live.receiver_count() > 0;
            let mut twins = state.twins.lock();
            let mut predict = state.predict.lock();
            let mut values = Vec::new();
            for c in batch.drain(..) {
                match c {
                    Committed::Samples(samples) => {
                        state.applied_samples.fetch_add(samples.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        for cs in samples {
                            let s = cs.sample;
                            let ctx = contexts
                                .entry(cs.context_id)
                                .or_insert_with(|| state.ingestor.context_by_id(cs.context_id).map(|(_, c)| c).unwrap_or_default());
                            events.extend(twins.apply(s.asset as usize, s.signal as usize, s.ts_ns, s.value, ctx));
                            if !predict.is_empty() {
                                let (out, problem) = predict.observe(s.asset as usize, s.signal as usize, s.ts_ns, s.value);
                                if let Some(p) = problem {
                                    tracing::warn!(asset = %p.asset, reason = %p.reason, "prediction failed");
                                }
                                predicted.extend(out.into_iter().map(|r| raw_sample(&plant, r)));
                            }
                            if !residuals.is_empty() {
                                let out = residuals.observe(s.asset as usize, s.signal as usize, s.ts_ns, s.value);
                                derived.extend(out.into_iter().map(|r| raw_sample(&plant, r)));
                            }
                            if listening && values.len() < MAX_VALUES_PER_EVENT {
                                values.push((s.asset, s.signal, s.ts_ns, s.value));
                            }
                        }
                    }
                    Committed::Context {
                        line,
                        ts_ns,
                        context_id,
                        context,
                    } => {
                        events.extend(twins.set_line_context(&line, ts_ns, context.clone()));
                        if let Ok(j) = serde_json::to_string(&LiveContext {
                            line: &line,
                            ts: ts_ns,
                            context_id,
                            context: &context,
                        }) {
                            live.push(j);
                        }
                        contexts.insert(context_id, context);
                    }
                    Committed::Maintenance { asset, ts_ns, record } => {
                        if record.kind.renews() {
                            predict.renew(asset);
                        }
                        maintained.push((plant.assets[asset].id.clone(), record.work_order.clone(), record.kind.renews(), ts_ns));
                        if let Ok(j) = serde_json::to_string(&LiveMaintenance {
                            asset: &plant.assets[asset].id,
                            ts: ts_ns,
                            record: &record,
                        }) {
                            live.push(j);
                        }
                    }
                }
            }
            drop(twins);
            drop(predict);
            if !maintained.is_empty() {
                let mut p = state.prescribe.lock();
                for (asset, wo, renews, ts) in maintained.drain(..) {
                    p.on_maintenance(&asset, wo.as_deref(), renews, ts);
                }
            }
            if !predicted.is_empty() {
                // Predictions are stored like any signal (durable, then back here as committed samples).
                submit_derived(&state, "prediction", predicted);
            }
            if !derived.is_empty() {
                // Residuals go through the normal pipeline (durable, then back here as committed samples).
                submit_derived(&state, "physics", derived);
            }
            if !values.is_empty() {
                let msg = LiveValues {
                    committed: time::now(),
                    values: values
                        .iter()
                        .map(|&(a, s, ts, value)| {
                            let asset = &plant.assets[a as usize];
                            LiveValue {
                                asset: &asset.id,
                                signal: &asset.signals[s as usize].name,
                                ts,
                                value,
                            }
                        })
                        .collect(),
                };
                if let Ok(j) = serde_json::to_string(&msg) {
                    live.push(j);
                }
            }
        }
        publish_events(&state, events, live).await;
    }
}

/// A computed sample (residual, prediction) addressed by asset and signal id, as the ingest path takes it.
fn raw_sample(plant: &doppel_model::Plant, r: doppel_twin::residuals::ResidualSample) -> doppel_ingest::payload::RawSample {
    let a = &plant.assets[r.asset];
    doppel_ingest::payload::RawSample {
        asset: a.id.clone(),
        signal: a.signals[r.signal].name.clone(),
        ts_ns: r.ts_ns,
        value: Some(r.value),
        unit: None,
    }
}

/// Stores computed samples (residuals, predictions) through the normal ingest path, off the async runtime.
fn submit_derived(state: &Arc<AppState>, source: &'static str, samples: Vec<doppel_ingest::payload::RawSample>) {
    let ing = state.ingestor.clone();
    tokio::task::spawn_blocking(move || {
        ing.submit_samples(
            source,
            &samples,
            Vec::new(),
            Box::new(move |r| {
                if let Err(e) = r {
                    tracing::warn!(error = %e, source, "computed samples not stored");
                }
            }),
        )
    });
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "maintenance")]
struct LiveMaintenance<'a> {
    asset: &'a str,
    ts: i64,
    record: &'a doppel_model::MaintenanceRecord,
}

/// Periodic housekeeping: staleness and time accounting.
pub async fn run_ticks(state: Arc<AppState>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let events = state.twins.lock().tick(time::now());
        publish_events(&state, events, Vec::new()).await;
    }
}

async fn publish_events(state: &Arc<AppState>, events: Vec<TwinEvent>, mut live: Vec<String>) {
    if !events.is_empty() {
        let mut stored = Vec::with_capacity(events.len());
        for e in &events {
            if let Ok(j) = serde_json::to_string(e) {
                stored.push(NewEvent {
                    ts: e.ts(),
                    kind: e.kind().to_string(),
                    subject: e.subject().to_string(),
                    payload: j.clone(),
                });
                live.push(j);
            }
        }
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.append_events(stored)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not store twin events"),
            Err(e) => tracing::error!(error = %e, "event writer panicked"),
        }
    }
    for j in live {
        // No receivers is fine; slow receivers lag (they are told) and never slow ingestion.
        let _ = state.live.send(Arc::from(j));
    }
}
