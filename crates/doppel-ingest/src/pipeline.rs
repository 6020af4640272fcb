//! The ingest pipeline shared by every source (MQTT, HTTP): parse → resolve → tag with context →
//! durable store write → acknowledge → hand to the live twins.
//!
//! Invariant: a source is told "done" only after everything the message carried (samples, context
//! change, quarantine records) is durable in the store; and committed data reaches the twins only
//! after it is durable, so the live state never shows what a crash could lose.

use std::sync::Arc;

use doppel_model::{LineContext, Plant, time};
use doppel_store::{EventFilter, NewEvent, Sample, Store};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::IngestError;
use crate::catalog::{Catalog, ResolvedSample};
use crate::context::{CONTEXT_EVENT, ContextRecord, ContextTracker};
use crate::payload::{Parsed, PayloadError, RawSample, Rejected};
use crate::wave::{DIAGNOSIS_EVENT, WAVE_TOPIC_PREFIX, WaveConfig, WaveProcessor};

/// Event kind of completed maintenance (subject: the asset id; payload: the [`doppel_model::MaintenanceRecord`]).
pub const MAINTENANCE_EVENT: &str = "maintenance";
/// Event kind of quarantine records.
pub const QUARANTINE_EVENT: &str = "quarantine";
/// At most this many bytes of a bad payload are kept in its quarantine record.
const EXCERPT_BYTES: usize = 512;

/// Durable data handed to the live runtime.
#[derive(Debug, Clone)]
pub enum Committed {
    Samples(Vec<CommittedSample>),
    Context {
        line: String,
        ts_ns: i64,
        context_id: u32,
        context: LineContext,
    },
    /// Completed maintenance on an asset (durable as a [`MAINTENANCE_EVENT`] event).
    Maintenance {
        asset: usize,
        ts_ns: i64,
        record: doppel_model::MaintenanceRecord,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommittedSample {
    pub sample: ResolvedSample,
    pub context_id: u32,
}

/// What happened to one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    pub accepted: usize,
    pub quarantined: Vec<QuarantineEntry>,
    pub context_changed: bool,
}

/// Why a sample or message went to quarantine (also the stored record's payload).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineEntry {
    pub source: String,
    pub asset: Option<String>,
    pub signal: Option<String>,
    pub field: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

impl QuarantineEntry {
    /// A record of `source` (topic or "http") about `field`, not tied to an asset.
    pub fn new(source: &str, field: impl Into<String>, reason: impl Into<String>) -> QuarantineEntry {
        QuarantineEntry {
            source: source.to_string(),
            asset: None,
            signal: None,
            field: field.into(),
            reason: reason.into(),
            excerpt: None,
        }
    }
}

/// Callback run once a message is durable (or failed).
pub type Done = Box<dyn FnOnce(Result<Outcome, IngestError>) + Send + 'static>;

/// What a batch gathers before it is committed.
#[derive(Default)]
struct Accumulator {
    good: Vec<CommittedSample>,
    store_batch: Vec<Sample>,
    quarantined: Vec<QuarantineEntry>,
    context_changed: bool,
}

/// The ingest pipeline.
pub struct Ingestor {
    store: Arc<Store>,
    catalog: Catalog,
    contexts: Mutex<ContextTracker>,
    committed: UnboundedSender<Committed>,
    waves: WaveProcessor,
}

impl Ingestor {
    /// Registers the plant's series, rebuilds context history from stored events.
    /// `max_future_ns`: how far ahead of the server clock a sample timestamp may be
    /// ([`crate::catalog::MAX_FUTURE_NS`] by default; `i64::MAX` for none).
    pub fn new(plant: Arc<Plant>, store: Arc<Store>, committed: UnboundedSender<Committed>, max_future_ns: i64) -> Result<Ingestor, IngestError> {
        Ingestor::with_wave_config(plant, store, committed, max_future_ns, WaveConfig::default())
    }

    /// [`Ingestor::new`] with a waveform capture/confirmation policy. Confirmed diagnoses are restored from the
    /// stored `diagnosis` events.
    pub fn with_wave_config(
        plant: Arc<Plant>,
        store: Arc<Store>,
        committed: UnboundedSender<Committed>,
        max_future_ns: i64,
        wave: WaveConfig,
    ) -> Result<Ingestor, IngestError> {
        let waves = WaveProcessor::new(wave);
        for e in store.query_events(&EventFilter {
            kinds: Some(vec![DIAGNOSIS_EVENT.to_string()]),
            ..Default::default()
        })? {
            let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
            if let (Some(signal), Some(fault)) = (v["signal"].as_str(), v["fault"].as_str().and_then(doppel_signal::diagnosis::Fault::parse)) {
                waves.restore(&e.subject, signal, fault, e.ts);
            }
        }
        let mut catalog = Catalog::new(plant, &store)?;
        catalog.set_max_future_ns(max_future_ns);
        let mut tracker = ContextTracker::new();
        let events = store.query_events(&EventFilter {
            kinds: Some(vec![CONTEXT_EVENT.to_string()]),
            ..Default::default()
        })?;
        for e in events {
            match serde_json::from_str::<ContextRecord>(&e.payload) {
                Ok(rec) => tracker.apply(e.ts, &rec),
                Err(err) => tracing::warn!(seq = e.seq, error = %err, "skipping unreadable stored context event"),
            }
        }
        Ok(Ingestor {
            store,
            catalog,
            contexts: Mutex::new(tracker),
            committed,
            waves,
        })
    }

    pub fn plant(&self) -> &Arc<Plant> {
        self.catalog.plant()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Per-channel condition monitoring of waveform signals.
    pub fn waves(&self) -> &WaveProcessor {
        &self.waves
    }

    /// Context of `line` in force at `ts`: id and context.
    pub fn context_at(&self, line: &str, ts: i64) -> (u32, LineContext) {
        let c = self.contexts.lock();
        let (id, ctx) = c.at(line, ts);
        (id, ctx.cloned().unwrap_or_default())
    }

    /// The latest context of `line` and when it took effect.
    pub fn current_context(&self, line: &str) -> Option<(i64, LineContext)> {
        self.contexts.lock().current(line).map(|(ts, c)| (ts, c.clone()))
    }

    pub fn context_by_id(&self, id: u32) -> Option<(String, LineContext)> {
        self.contexts.lock().by_id(id).cloned()
    }

    /// Handles a batch of received messages `(source, payload)` (MQTT topics). Messages are applied
    /// in order: a context change is durable and in force before the samples after it are tagged.
    /// All good samples of the batch go to the store as one write; quarantine records are durable
    /// before that. `done` runs once everything in the batch is durable (or failed). May block
    /// briefly (context and quarantine writes, store backpressure): call it off the async runtime.
    pub fn handle_batch<'a>(&self, messages: impl IntoIterator<Item = (&'a str, &'a [u8])>, receive_ns: i64, done: Done) {
        let mut acc = Accumulator::default();
        for (source, payload) in messages {
            if let Some(rest) = source.strip_prefix(WAVE_TOPIC_PREFIX) {
                let mut parts = rest.split('/');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(asset), Some(signal), None) if !asset.is_empty() && !signal.is_empty() => {
                        if let Err(e) = self.frames_into(source, asset, signal, payload, receive_ns, &mut acc) {
                            return done(Err(e));
                        }
                    }
                    _ => acc.quarantined.push(QuarantineEntry::new(
                        source,
                        "topic",
                        format!("waveform topics are {WAVE_TOPIC_PREFIX}{{asset}}/{{signal}}"),
                    )),
                }
                continue;
            }
            if source.starts_with(crate::command::COMMAND_PREFIX) || source.starts_with(crate::command::COMMAND_ACK_PREFIX) {
                // The output side (commands to the plant and their acknowledgements), not data: acknowledged with
                // the batch, stored nowhere here (the planner's audit log records them).
                continue;
            }
            match crate::payload::parse_message(source, payload, receive_ns) {
                Err(e) => {
                    let field = match &e {
                        PayloadError::Field { field, .. } => field.clone(),
                        PayloadError::Topic { .. } => "topic".into(),
                        _ => "payload".into(),
                    };
                    let mut entry = QuarantineEntry::new(source, field, e.to_string());
                    entry.excerpt = Some(excerpt(payload));
                    acc.quarantined.push(entry);
                }
                Ok(Parsed::Context { line, ts_ns, update }) => match self.set_context(source, &line, ts_ns, update) {
                    Ok(o) => {
                        acc.quarantined.extend(o.quarantined);
                        acc.context_changed |= o.context_changed;
                    }
                    Err(e) => return done(Err(e)),
                },
                Ok(Parsed::Samples { samples, rejected }) => self.resolve_into(source, &samples, rejected, receive_ns, &mut acc),
                Ok(Parsed::Maintenance { asset, ts_ns, record }) => match self.record_maintenance(source, &asset, ts_ns, record) {
                    Ok(o) => acc.quarantined.extend(o.quarantined),
                    Err(e) => return done(Err(e)),
                },
            }
        }
        self.commit(acc, done);
    }

    /// Stores completed maintenance of an asset durably, then hands it to the live runtime (which starts a new
    /// life for the asset's predictive models when the maintenance renews it).
    pub fn record_maintenance(&self, source: &str, asset: &str, ts_ns: i64, record: doppel_model::MaintenanceRecord) -> Result<Outcome, IngestError> {
        let Some(index) = self.plant().assets.iter().position(|a| a.id == asset) else {
            let entry = QuarantineEntry::new(source, "asset", format!("unknown asset '{asset}': it is not in the plant file"));
            self.quarantine(vec![entry.clone()])?;
            return Ok(Outcome {
                quarantined: vec![entry],
                ..Default::default()
            });
        };
        let payload = serde_json::to_string(&record).map_err(|e| IngestError::Internal(e.to_string()))?;
        self.store.append_events(vec![NewEvent {
            ts: ts_ns,
            kind: MAINTENANCE_EVENT.into(),
            subject: asset.to_string(),
            payload,
        }])?;
        let _ = self.committed.send(Committed::Maintenance { asset: index, ts_ns, record });
        Ok(Outcome::default())
    }

    /// Stores a context change of a line durably, then applies it.
    pub fn set_context(&self, source: &str, line: &str, ts_ns: i64, update: doppel_model::ContextUpdate) -> Result<Outcome, IngestError> {
        if self.plant().line(line).is_none() {
            let entry = QuarantineEntry::new(source, "line", format!("unknown line '{line}': it is not in the plant file"));
            self.quarantine(vec![entry.clone()])?;
            return Ok(Outcome {
                quarantined: vec![entry],
                ..Default::default()
            });
        }
        // Hold the tracker lock across the write so context ids are assigned and stored in order.
        let mut tracker = self.contexts.lock();
        let rec = tracker.prepare(line, ts_ns, update);
        let payload = serde_json::to_string(&rec).map_err(|e| IngestError::Internal(e.to_string()))?;
        self.store.append_events(vec![NewEvent {
            ts: ts_ns,
            kind: CONTEXT_EVENT.into(),
            subject: line.to_string(),
            payload,
        }])?;
        tracker.apply(ts_ns, &rec);
        drop(tracker);
        let _ = self.committed.send(Committed::Context {
            line: line.to_string(),
            ts_ns,
            context_id: rec.context_id,
            context: rec.context,
        });
        Ok(Outcome {
            context_changed: true,
            ..Default::default()
        })
    }

    /// Resolves samples, quarantines the bad ones, and submits the good ones to the store.
    pub fn submit_samples(&self, source: &str, samples: &[RawSample], rejected: Vec<Rejected>, done: Done) {
        let mut acc = Accumulator::default();
        self.resolve_into(source, samples, rejected, time::now(), &mut acc);
        self.commit(acc, done);
    }

    fn resolve_into(&self, source: &str, samples: &[RawSample], rejected: Vec<Rejected>, receive_ns: i64, acc: &mut Accumulator) {
        acc.quarantined
            .extend(rejected.into_iter().map(|r| QuarantineEntry::new(source, r.field, r.reason)));
        acc.good.reserve(samples.len());
        acc.store_batch.reserve(samples.len());
        let contexts = self.contexts.lock();
        let plant = self.plant();
        for raw in samples {
            match self.catalog.resolve(raw, receive_ns) {
                Ok(s) => {
                    let line = &plant.assets[s.asset as usize].line;
                    let (context_id, _) = contexts.at(line, s.ts_ns);
                    acc.store_batch.push(Sample {
                        series: s.series,
                        ts: s.ts_ns,
                        value: s.value,
                        context: context_id,
                    });
                    acc.good.push(CommittedSample { sample: s, context_id });
                }
                Err(r) => acc.quarantined.push(QuarantineEntry {
                    asset: Some(raw.asset.clone()),
                    signal: Some(raw.signal.clone()),
                    ..QuarantineEntry::new(source, r.field, r.reason)
                }),
            }
        }
    }

    /// Makes the quarantine records durable, then the samples; `done` after both.
    fn commit(&self, acc: Accumulator, done: Done) {
        let Accumulator {
            good,
            store_batch,
            quarantined,
            context_changed,
        } = acc;
        if !quarantined.is_empty()
            && let Err(e) = self.quarantine(quarantined.clone())
        {
            return done(Err(e));
        }
        let outcome = Outcome {
            accepted: good.len(),
            quarantined,
            context_changed,
        };
        if good.is_empty() {
            return done(Ok(outcome));
        }
        let committed = self.committed.clone();
        self.store.submit(
            store_batch,
            Box::new(move |res| match res {
                Ok(()) => {
                    let _ = committed.send(Committed::Samples(good));
                    done(Ok(outcome));
                }
                Err(e) => done(Err(IngestError::Store(e))),
            }),
        );
    }

    /// Handles a payload of binary waveform frames (DWF1, one or more concatenated) of `asset`/`signal`:
    /// features become samples of the derived signals, captures and diagnosis events are made durable here.
    /// Errors only when the store fails (then nothing may be acknowledged).
    fn frames_into(&self, source: &str, asset: &str, signal: &str, payload: &[u8], receive_ns: i64, acc: &mut Accumulator) -> Result<(), IngestError> {
        let q = |field: &str, reason: String| QuarantineEntry {
            asset: Some(asset.to_string()),
            signal: Some(signal.to_string()),
            ..QuarantineEntry::new(source, field, reason)
        };
        let plant = self.plant().clone();
        let Some((ai, si, _)) = self.catalog.lookup(asset, signal) else {
            let reason = if plant.asset(asset).is_none() {
                format!("unknown asset '{asset}': it is not in the plant file")
            } else {
                format!("asset '{asset}' has no signal '{signal}'")
            };
            acc.quarantined.push(q("topic", reason));
            return Ok(());
        };
        let (ai, si) = (ai as usize, si as usize);
        let sig = &plant.assets[ai].signals[si];
        if sig.kind != doppel_model::SignalKind::Waveform || sig.unit.dimension != doppel_model::Dimension::Acceleration {
            acc.quarantined.push(q(
                "topic",
                format!("signal '{signal}' of '{asset}' is not an acceleration waveform signal; frames are only accepted for those"),
            ));
            return Ok(());
        }
        let frames = match doppel_model::wave::decode_all(payload) {
            Ok(f) => f,
            Err(e) => {
                acc.quarantined.push(q(e.field(), e.to_string()));
                return Ok(());
            }
        };
        let speed = self.speed_rpm(asset);
        for frame in frames {
            match self.waves.process(&plant, ai, si, &frame, speed) {
                Ok(out) => {
                    for (f, reason) in &out.captures {
                        let cf = doppel_store::capture::CaptureFrame {
                            t0_ns: f.t0_ns,
                            sample_rate_hz: f.sample_rate_hz,
                            shaft_rpm: f.shaft_rpm,
                            samples: f.samples.clone(),
                        };
                        self.store.captures().write(asset, signal, &cf, reason)?;
                    }
                    if !out.events.is_empty() {
                        self.store.append_events(
                            out.events
                                .into_iter()
                                .map(|(ts, subject, payload)| NewEvent {
                                    ts,
                                    kind: DIAGNOSIS_EVENT.into(),
                                    subject,
                                    payload,
                                })
                                .collect(),
                        )?;
                    }
                    self.resolve_into(source, &out.samples, Vec::new(), receive_ns, acc);
                }
                Err((field, reason)) => acc.quarantined.push(q(&field, reason)),
            }
        }
        Ok(())
    }

    /// Latest value of the asset's `speed` signal in rpm, if it has one and it was measured.
    fn speed_rpm(&self, asset: &str) -> Option<f64> {
        let (ai, si, series) = self.catalog.lookup(asset, "speed")?;
        let unit = self.plant().assets[ai as usize].signals[si as usize].unit;
        let (_, v) = self.store.latest(series).ok()??;
        let rpm = doppel_model::units::lookup("rpm").ok()?;
        unit.convert(v, &rpm).ok()
    }

    /// Blocking ingest of a payload of waveform frames (HTTP): answers once features, captures and events are
    /// durable.
    pub fn ingest_frames_blocking(&self, source: &str, asset: &str, signal: &str, payload: &[u8]) -> Result<Outcome, IngestError> {
        let mut acc = Accumulator::default();
        self.frames_into(source, asset, signal, payload, time::now(), &mut acc)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.commit(
            acc,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().map_err(|_| IngestError::Internal("store writer stopped".into()))?
    }

    /// Blocking variant of [`Ingestor::submit_samples`] (for HTTP handlers on a blocking thread).
    pub fn ingest_blocking(&self, source: &str, samples: &[RawSample], rejected: Vec<Rejected>) -> Result<Outcome, IngestError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit_samples(
            source,
            samples,
            rejected,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().map_err(|_| IngestError::Internal("store writer stopped".into()))?
    }

    fn quarantine(&self, entries: Vec<QuarantineEntry>) -> Result<(), IngestError> {
        let now = time::now();
        let events = entries
            .iter()
            .map(|q| NewEvent {
                ts: now,
                kind: QUARANTINE_EVENT.into(),
                subject: q.asset.clone().unwrap_or_else(|| q.source.clone()),
                payload: serde_json::to_string(q).unwrap_or_default(),
            })
            .collect();
        for q in &entries {
            tracing::debug!(source = %q.source, field = %q.field, reason = %q.reason, "quarantined");
        }
        self.store.append_events(events)?;
        Ok(())
    }
}

fn excerpt(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(EXCERPT_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}
