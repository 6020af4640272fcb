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

use crate::catalog::{Catalog, ResolvedSample};
use crate::context::{CONTEXT_EVENT, ContextRecord, ContextTracker};
use crate::payload::{Parsed, PayloadError, RawSample, Rejected};
use crate::IngestError;

/// Event kind of quarantine records.
pub const QUARANTINE_EVENT: &str = "quarantine";
/// At most this many bytes of a bad payload are kept in its quarantine record.
const EXCERPT_BYTES: usize = 512;

/// Durable data handed to the live runtime.
#[derive(Debug, Clone)]
pub enum Committed {
    Samples(Vec<CommittedSample>),
    Context { line: String, ts_ns: i64, context_id: u32, context: LineContext },
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

/// Callback run once a message is durable (or failed).
pub type Done = Box<dyn FnOnce(Result<Outcome, IngestError>) + Send + 'static>;

/// The ingest pipeline.
pub struct Ingestor {
    store: Arc<Store>,
    catalog: Catalog,
    contexts: Mutex<ContextTracker>,
    committed: UnboundedSender<Committed>,
}

impl Ingestor {
    /// Registers the plant's series, rebuilds context history from stored events.
    pub fn new(plant: Arc<Plant>, store: Arc<Store>, committed: UnboundedSender<Committed>) -> Result<Ingestor, IngestError> {
        let catalog = Catalog::new(plant, &store)?;
        let mut tracker = ContextTracker::new();
        let events = store.query_events(&EventFilter { kinds: Some(vec![CONTEXT_EVENT.to_string()]), ..Default::default() })?;
        for e in events {
            match serde_json::from_str::<ContextRecord>(&e.payload) {
                Ok(rec) => tracker.apply(e.ts, &rec),
                Err(err) => tracing::warn!(seq = e.seq, error = %err, "skipping unreadable stored context event"),
            }
        }
        Ok(Ingestor { store, catalog, contexts: Mutex::new(tracker), committed })
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

    /// Context of `line` in force at `ts`: id and context.
    pub fn context_at(&self, line: &str, ts: i64) -> (u32, LineContext) {
        let c = self.contexts.lock();
        let (id, ctx) = c.at(line, ts);
        (id, ctx.cloned().unwrap_or_default())
    }

    pub fn context_by_id(&self, id: u32) -> Option<(String, LineContext)> {
        self.contexts.lock().by_id(id).cloned()
    }

    /// Handles one parsed message from `source` (an MQTT topic, "http"). May block briefly: quarantine
    /// records and context changes are written synchronously, and the store applies backpressure.
    /// `done` runs after the message's data is durable.
    pub fn handle(&self, source: &str, parsed: Result<Parsed, PayloadError>, raw: &[u8], done: Done) {
        match parsed {
            Err(e) => {
                let entry = QuarantineEntry {
                    source: source.to_string(),
                    asset: None,
                    signal: None,
                    field: match &e {
                        PayloadError::Field { field, .. } => field.clone(),
                        PayloadError::Topic { .. } => "topic".into(),
                        _ => "payload".into(),
                    },
                    reason: e.to_string(),
                    excerpt: Some(excerpt(raw)),
                };
                let res = self.quarantine(vec![entry.clone()]).map(|_| Outcome { quarantined: vec![entry], ..Default::default() });
                done(res);
            }
            Ok(Parsed::Context { line, ts_ns, update }) => done(self.set_context(source, &line, ts_ns, update)),
            Ok(Parsed::Samples { samples, rejected }) => self.submit_samples(source, &samples, rejected, done),
        }
    }

    /// Stores a context change of a line durably, then applies it.
    pub fn set_context(&self, source: &str, line: &str, ts_ns: i64, update: doppel_model::ContextUpdate) -> Result<Outcome, IngestError> {
        if self.plant().line(line).is_none() {
            let entry = QuarantineEntry {
                source: source.to_string(),
                asset: None,
                signal: None,
                field: "line".into(),
                reason: format!("unknown line '{line}': it is not in the plant file"),
                excerpt: None,
            };
            self.quarantine(vec![entry.clone()])?;
            return Ok(Outcome { quarantined: vec![entry], ..Default::default() });
        }
        // Hold the tracker lock across the write so context ids are assigned and stored in order.
        let mut tracker = self.contexts.lock();
        let rec = tracker.prepare(line, ts_ns, update);
        let payload = serde_json::to_string(&rec).map_err(|e| IngestError::Internal(e.to_string()))?;
        self.store.append_events(vec![NewEvent { ts: ts_ns, kind: CONTEXT_EVENT.into(), subject: line.to_string(), payload }])?;
        tracker.apply(ts_ns, &rec);
        drop(tracker);
        let _ = self.committed.send(Committed::Context { line: line.to_string(), ts_ns, context_id: rec.context_id, context: rec.context });
        Ok(Outcome { context_changed: true, ..Default::default() })
    }

    /// Resolves samples, quarantines the bad ones, and submits the good ones to the store.
    pub fn submit_samples(&self, source: &str, samples: &[RawSample], rejected: Vec<Rejected>, done: Done) {
        let now = time::now();
        let mut quarantined: Vec<QuarantineEntry> = rejected
            .into_iter()
            .map(|r| QuarantineEntry { source: source.to_string(), asset: None, signal: None, field: r.field, reason: r.reason, excerpt: None })
            .collect();
        let mut good = Vec::with_capacity(samples.len());
        let mut store_batch = Vec::with_capacity(samples.len());
        {
            let contexts = self.contexts.lock();
            let plant = self.plant();
            for raw in samples {
                match self.catalog.resolve(raw, now) {
                    Ok(s) => {
                        let line = &plant.assets[s.asset as usize].line;
                        let (context_id, _) = contexts.at(line, s.ts_ns);
                        store_batch.push(Sample { series: s.series, ts: s.ts_ns, value: s.value, context: context_id });
                        good.push(CommittedSample { sample: s, context_id });
                    }
                    Err(r) => quarantined.push(QuarantineEntry {
                        source: source.to_string(),
                        asset: Some(raw.asset.clone()),
                        signal: Some(raw.signal.clone()),
                        field: r.field,
                        reason: r.reason,
                        excerpt: None,
                    }),
                }
            }
        }
        if !quarantined.is_empty()
            && let Err(e) = self.quarantine(quarantined.clone())
        {
            done(Err(e));
            return;
        }
        let outcome = Outcome { accepted: good.len(), quarantined, context_changed: false };
        if good.is_empty() {
            done(Ok(outcome));
            return;
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

    /// Blocking variant of [`Ingestor::submit_samples`] (for HTTP handlers on a blocking thread).
    pub fn ingest_blocking(&self, source: &str, samples: &[RawSample], rejected: Vec<Rejected>) -> Result<Outcome, IngestError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit_samples(source, samples, rejected, Box::new(move |r| {
            let _ = tx.send(r);
        }));
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
