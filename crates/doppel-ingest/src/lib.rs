//! # doppel-ingest
//!
//! Everything between a device and the store: the MQTT topic scheme and JSON payloads
//! ([`payload`]), the embedded broker and the MQTT client ([`mqtt`]), resolution of samples against
//! the plant model with unit conversion and quarantine ([`catalog`]), line context history
//! ([`context`]) and the pipeline that ties them together ([`pipeline`]).
//!
//! Invariant: nothing is acknowledged to a source, and nothing reaches the live twins, before it
//! is durable in the store. Bad input becomes a quarantine record (an event of kind `quarantine`)
//! and never stops the good data travelling with it.

pub mod catalog;
pub mod command;
pub mod context;
pub mod mqtt;
pub mod payload;
pub mod pipeline;
pub mod wave;
pub mod webhook;

pub use catalog::{Catalog, ResolvedSample};
pub use command::{AckStatus, Command, CommandAck, CommandAction, CommandError};
pub use context::ContextTracker;
pub use pipeline::{Committed, CommittedSample, Ingestor, Outcome, QuarantineEntry};
pub use webhook::{Webhook, WebhookError, WebhookResponse};

use serde::Deserialize;

/// Errors of the ingest layer.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("store: {0}")]
    Store(#[from] doppel_store::StoreError),
    #[error("MQTT broker: {0}")]
    Broker(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// One sample of the HTTP bulk format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkSample<'a> {
    #[serde(borrow)]
    asset: &'a str,
    #[serde(borrow)]
    signal: &'a str,
    #[serde(borrow)]
    ts: Option<payload::Ts<'a>>,
    value: Option<f64>,
    #[serde(borrow)]
    unit: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bulk<'a> {
    #[serde(borrow)]
    samples: Vec<&'a serde_json::value::RawValue>,
}

/// Parses the HTTP bulk body `{"samples": [{"asset", "signal", "ts", "value", "unit"?}, ...]}`.
/// Bad items are returned as rejections (with their index) without spoiling the rest.
pub fn parse_bulk(body: &[u8], receive_ns: i64) -> Result<(Vec<payload::RawSample>, Vec<payload::Rejected>), payload::PayloadError> {
    if body.len() > 64 * payload::MAX_PAYLOAD_BYTES {
        return Err(payload::PayloadError::TooLarge {
            size: body.len(),
            limit: 64 * payload::MAX_PAYLOAD_BYTES,
        });
    }
    let bulk: Bulk<'_> = serde_json::from_slice(body).map_err(|e| payload::PayloadError::Json {
        topic_kind: "the bulk ingest body {\"samples\": [...]}",
        message: e.to_string(),
    })?;
    let mut samples = Vec::with_capacity(bulk.samples.len());
    let mut rejected = Vec::new();
    for (i, item) in bulk.samples.iter().enumerate() {
        let parsed = serde_json::from_str::<BulkSample<'_>>(item.get()).map_err(|e| e.to_string()).and_then(|b| {
            let ts = payload::ts_to_ns(b.ts.as_ref(), "ts", receive_ns).map_err(|r| r.reason)?;
            Ok(payload::RawSample {
                asset: b.asset.to_string(),
                signal: b.signal.to_string(),
                ts_ns: ts,
                value: b.value,
                unit: b.unit.map(str::to_string),
            })
        });
        match parsed {
            Ok(s) => samples.push(s),
            Err(reason) => rejected.push(payload::Rejected {
                field: format!("samples[{i}]"),
                reason,
            }),
        }
    }
    Ok((samples, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_body() {
        let (s, r) = parse_bulk(br#"{"samples":[{"asset":"m1","signal":"current","ts":"2026-01-01T00:00:00Z","value":3.5},{"asset":"m1","signal":"x","ts":"bad","value":1},{"asset":"m1"}]}"#, 7).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].field, "samples[1]");
        assert!(parse_bulk(b"[1,2]", 0).is_err());
    }
}

#[cfg(test)]
mod fuzz_like {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bulk_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = super::parse_bulk(&body, 0);
        }

        #[test]
        fn bulk_parser_never_panics_on_json_like_text(body in "[\\[\\]{}\",:0-9a-z .eE+-]{0,300}") {
            let _ = super::parse_bulk(body.as_bytes(), 0);
            let _ = super::payload::parse_context_body(body.as_bytes(), 0);
        }
    }
}
