//! The MQTT topic scheme and JSON payloads (specified in `docs/mqtt.md`).
//!
//! | topic | payload |
//! |---|---|
//! | `doppel/v1/data/{asset}` | `{"ts": T, "values": {"signal": 1.5, ...}, "units": {"signal": "degF"}}` or `{"samples": [{"signal": "s", "ts": T, "value": 1.5, "unit": "degF"}, ...]}` |
//! | `doppel/v1/data/{asset}/{signal}` | `{"ts": T, "value": 1.5, "unit": "degF"}`, `{"samples": [{"ts": T, "value": 1.5}, ...], "unit": "bar"}` or a bare number |
//! | `doppel/v1/context/{line}` | `{"ts": T, "product": "p", "batch": "b", "work_order": "w", "mode": "normal"}` (absent keeps, `null` clears) |
//!
//! `T` is an RFC 3339 string or an integer of milliseconds since the Unix epoch; when absent the
//! receive time is used. Parsing never panics: malformed input is an [`PayloadError`] naming the
//! field, and a bad sample inside a batch does not spoil the good ones (see [`Rejected`]).

use doppel_model::{ContextUpdate, time};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Prefix of every doppel topic.
pub const TOPIC_PREFIX: &str = "doppel/v1/";
/// Subscription filter covering every doppel topic.
pub const TOPIC_FILTER: &str = "doppel/v1/#";
/// Largest accepted payload.
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// One sample as received, before it is resolved against the plant model.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSample {
    pub asset: String,
    pub signal: String,
    pub ts_ns: i64,
    /// `None` when the payload carried `null`.
    pub value: Option<f64>,
    pub unit: Option<String>,
}

/// A sample (or part of a payload) that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub field: String,
    pub reason: String,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Samples {
        samples: Vec<RawSample>,
        rejected: Vec<Rejected>,
    },
    Context {
        line: String,
        ts_ns: i64,
        update: ContextUpdate,
    },
    Maintenance {
        asset: String,
        ts_ns: i64,
        record: doppel_model::MaintenanceRecord,
    },
}

/// A message that cannot be read at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayloadError {
    #[error("topic '{topic}' is not a doppel topic: expected doppel/v1/data/<asset>[/<signal>], doppel/v1/context/<line> or doppel/v1/maintenance/<asset>")]
    Topic { topic: String },
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("payload is not valid JSON for {topic_kind}: {message}")]
    Json { topic_kind: &'static str, message: String },
    #[error("field `{field}`: {reason}")]
    Field { field: String, reason: String },
}

/// A timestamp as sent: integer epoch milliseconds, an RFC 3339 string, or a float of milliseconds.
/// Deserialised with a visitor (not an untagged enum) because this is on the hot path.
#[derive(Debug)]
pub(crate) enum Ts<'a> {
    Millis(i64),
    Text(&'a str),
    Float(f64),
}

impl<'de: 'a, 'a> Deserialize<'de> for Ts<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Ts<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 timestamp string or integer epoch milliseconds")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Ts<'a>, E> {
                Ok(Ts::Millis(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Ts<'a>, E> {
                i64::try_from(v).map(Ts::Millis).map_err(|_| E::custom(format!("{v} ms is out of range")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Ts<'a>, E> {
                Ok(Ts::Float(v))
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Ts<'a>, E> {
                Ok(Ts::Text(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ts<'a>, E> {
                Err(E::custom(format!("timestamp '{v}' must not contain escape sequences")))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The `ts` field of a message (receive time when absent), as a message-level error when it is bad.
fn message_ts(ts: Option<&Ts<'_>>, receive_ns: i64) -> Result<i64, PayloadError> {
    ts_to_ns(ts, "ts", receive_ns).map_err(|r| PayloadError::Field {
        field: r.field,
        reason: r.reason,
    })
}

pub(crate) fn ts_to_ns(ts: Option<&Ts<'_>>, field: &str, receive_ns: i64) -> Result<i64, Rejected> {
    match ts {
        None => Ok(receive_ns),
        Some(Ts::Millis(ms)) => ms.checked_mul(time::NANOS_PER_MILLI).ok_or_else(|| Rejected {
            field: field.into(),
            reason: format!("{ms} ms is out of range"),
        }),
        Some(Ts::Float(ms)) if ms.is_finite() && ms.abs() < 9.2e12 => Ok((ms * time::NANOS_PER_MILLI as f64) as i64),
        Some(Ts::Float(ms)) => Err(Rejected {
            field: field.into(),
            reason: format!("{ms} is not a timestamp"),
        }),
        Some(Ts::Text(s)) => time::parse_rfc3339(s).ok_or_else(|| Rejected {
            field: field.into(),
            reason: format!("'{s}' is not an RFC 3339 timestamp (e.g. 2026-11-25T10:00:00Z) nor epoch milliseconds"),
        }),
    }
}

#[derive(Deserialize)]
struct AssetPayload<'a> {
    #[serde(borrow)]
    ts: Option<Ts<'a>>,
    #[serde(borrow)]
    values: Option<std::collections::BTreeMap<&'a str, Option<f64>>>,
    #[serde(borrow)]
    units: Option<std::collections::BTreeMap<&'a str, &'a str>>,
    #[serde(borrow)]
    samples: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleItem<'a> {
    #[serde(borrow)]
    signal: Option<&'a str>,
    #[serde(borrow)]
    ts: Option<Ts<'a>>,
    value: Option<f64>,
    #[serde(borrow)]
    unit: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalObject<'a> {
    #[serde(borrow)]
    ts: Option<Ts<'a>>,
    #[serde(default, deserialize_with = "nullable")]
    value: Option<Option<f64>>,
    #[serde(borrow)]
    unit: Option<&'a str>,
    #[serde(borrow)]
    samples: Option<Vec<&'a RawValue>>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextPayload<'a> {
    #[serde(borrow)]
    ts: Option<Ts<'a>>,
    #[serde(default, deserialize_with = "present_string")]
    product: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_string")]
    batch: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_string")]
    work_order: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_string")]
    mode: Option<Option<String>>,
}

fn present_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Parses a context body `{"ts"?, "product"?, "batch"?, "work_order"?, "mode"?}` (MQTT and HTTP):
/// an absent field keeps its value, `null` clears it; unknown fields are an error.
pub fn parse_context_body(payload: &[u8], receive_ns: i64) -> Result<(i64, ContextUpdate), PayloadError> {
    let p: ContextPayload<'_> = serde_json::from_slice(payload).map_err(|e| PayloadError::Json {
        topic_kind: "a context message",
        message: e.to_string(),
    })?;
    let ts_ns = message_ts(p.ts.as_ref(), receive_ns)?;
    let update = ContextUpdate {
        product: p.product,
        batch: p.batch,
        work_order: p.work_order,
        mode: p.mode,
    };
    if update.is_empty() {
        return Err(PayloadError::Field {
            field: "product|batch|work_order|mode".into(),
            reason: "a context message must set at least one of these".into(),
        });
    }
    Ok((ts_ns, update))
}

/// Where a topic points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    Asset { asset: &'a str },
    Signal { asset: &'a str, signal: &'a str },
    Context { line: &'a str },
    Maintenance { asset: &'a str },
}

/// Splits a topic into its parts.
pub fn parse_topic(topic: &str) -> Result<Topic<'_>, PayloadError> {
    let err = || PayloadError::Topic {
        topic: topic.chars().take(200).collect(),
    };
    let rest = topic.strip_prefix(TOPIC_PREFIX).ok_or_else(err)?;
    let mut parts = rest.split('/');
    let (kind, a, b, extra) = (parts.next(), parts.next(), parts.next(), parts.next());
    match (kind, a.filter(|x| !x.is_empty()), b, extra) {
        (Some("data"), Some(asset), None, None) => Ok(Topic::Asset { asset }),
        (Some("data"), Some(asset), Some(signal), None) if !signal.is_empty() => Ok(Topic::Signal { asset, signal }),
        (Some("context"), Some(line), None, None) => Ok(Topic::Context { line }),
        (Some("maintenance"), Some(asset), None, None) => Ok(Topic::Maintenance { asset }),
        _ => Err(err()),
    }
}

/// Parses one MQTT message. `receive_ns` is used for samples without a timestamp.
pub fn parse_message(topic: &str, payload: &[u8], receive_ns: i64) -> Result<Parsed, PayloadError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge {
            size: payload.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    match parse_topic(topic)? {
        Topic::Asset { asset } => parse_asset_payload(asset, payload, receive_ns),
        Topic::Signal { asset, signal } => parse_signal_payload(asset, signal, payload, receive_ns),
        Topic::Context { line } => {
            let (ts_ns, update) = parse_context_body(payload, receive_ns)?;
            Ok(Parsed::Context {
                line: line.to_string(),
                ts_ns,
                update,
            })
        }
        Topic::Maintenance { asset } => {
            let (ts_ns, record) = parse_maintenance_body(payload, receive_ns)?;
            Ok(Parsed::Maintenance {
                asset: asset.to_string(),
                ts_ns,
                record,
            })
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenancePayload<'a> {
    #[serde(borrow)]
    ts: Option<Ts<'a>>,
    kind: doppel_model::MaintenanceKind,
    component: Option<String>,
    work_order: Option<String>,
    note: Option<String>,
}

/// Parses the JSON body of a maintenance message: `{"ts": ..., "kind": "repair" | "replace" | "service",
/// "component": ..., "work_order": ..., "note": ...}`; `ts` defaults to the receive time.
pub fn parse_maintenance_body(payload: &[u8], receive_ns: i64) -> Result<(i64, doppel_model::MaintenanceRecord), PayloadError> {
    let p: MaintenancePayload<'_> = serde_json::from_slice(payload).map_err(|e| PayloadError::Json {
        topic_kind: "a maintenance message",
        message: e.to_string(),
    })?;
    let ts_ns = message_ts(p.ts.as_ref(), receive_ns)?;
    let record = doppel_model::MaintenanceRecord {
        kind: p.kind,
        component: p.component,
        work_order: p.work_order,
        note: p.note,
    };
    Ok((ts_ns, record))
}

/// Parses the JSON body of an asset message (also the HTTP bulk format's per-asset part).
pub fn parse_asset_payload(asset: &str, payload: &[u8], receive_ns: i64) -> Result<Parsed, PayloadError> {
    let p: AssetPayload<'_> = serde_json::from_slice(payload).map_err(|e| PayloadError::Json {
        topic_kind: "an asset message",
        message: e.to_string(),
    })?;
    let mut samples = Vec::new();
    let mut rejected = Vec::new();
    match (&p.values, &p.samples) {
        (Some(values), None) => {
            let ts = message_ts(p.ts.as_ref(), receive_ns)?;
            for (signal, value) in values {
                let unit = p.units.as_ref().and_then(|u| u.get(signal)).map(|u| u.to_string());
                samples.push(RawSample {
                    asset: asset.to_string(),
                    signal: signal.to_string(),
                    ts_ns: ts,
                    value: *value,
                    unit,
                });
            }
        }
        (None, Some(items)) => {
            for (i, item) in items.iter().enumerate() {
                match serde_json::from_str::<SampleItem<'_>>(item.get()) {
                    Ok(it) => {
                        let Some(signal) = it.signal else {
                            rejected.push(Rejected {
                                field: format!("samples[{i}].signal"),
                                reason: "missing".into(),
                            });
                            continue;
                        };
                        match ts_to_ns(it.ts.as_ref().or(p.ts.as_ref()), &format!("samples[{i}].ts"), receive_ns) {
                            Ok(ts) => samples.push(RawSample {
                                asset: asset.to_string(),
                                signal: signal.to_string(),
                                ts_ns: ts,
                                value: it.value,
                                unit: it.unit.map(str::to_string),
                            }),
                            Err(r) => rejected.push(r),
                        }
                    }
                    Err(e) => rejected.push(Rejected {
                        field: format!("samples[{i}]"),
                        reason: e.to_string(),
                    }),
                }
            }
        }
        _ => {
            return Err(PayloadError::Field {
                field: "values|samples".into(),
                reason: "an asset message needs exactly one of `values` (object of signal: number) or `samples` (array)".into(),
            });
        }
    }
    Ok(Parsed::Samples { samples, rejected })
}

fn parse_signal_payload(asset: &str, signal: &str, payload: &[u8], receive_ns: i64) -> Result<Parsed, PayloadError> {
    let json_err = |e: serde_json::Error| PayloadError::Json {
        topic_kind: "a signal message (a number or an object)",
        message: e.to_string(),
    };
    let mk = |ts_ns, value, unit: Option<&str>| RawSample {
        asset: asset.to_string(),
        signal: signal.to_string(),
        ts_ns,
        value,
        unit: unit.map(str::to_string),
    };
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        let v: f64 = serde_json::from_slice(payload).map_err(json_err)?;
        return Ok(Parsed::Samples {
            samples: vec![mk(receive_ns, Some(v), None)],
            rejected: vec![],
        });
    }
    let o: SignalObject<'_> = serde_json::from_slice(payload).map_err(json_err)?;
    {
        match (o.value, o.samples) {
            (Some(value), None) => {
                let ts = ts_to_ns(o.ts.as_ref(), "ts", receive_ns).map_err(|r| PayloadError::Field {
                    field: r.field,
                    reason: r.reason,
                })?;
                Ok(Parsed::Samples {
                    samples: vec![mk(ts, value, o.unit)],
                    rejected: vec![],
                })
            }
            (None, Some(items)) => {
                let mut samples = Vec::with_capacity(items.len());
                let mut rejected = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match serde_json::from_str::<SampleItem<'_>>(item.get()) {
                        Ok(it) if it.signal.is_some_and(|s| s != signal) => rejected.push(Rejected {
                            field: format!("samples[{i}].signal"),
                            reason: format!("the topic names signal '{signal}'"),
                        }),
                        Ok(it) => match ts_to_ns(it.ts.as_ref().or(o.ts.as_ref()), &format!("samples[{i}].ts"), receive_ns) {
                            Ok(ts) => samples.push(mk(ts, it.value, it.unit.or(o.unit))),
                            Err(r) => rejected.push(r),
                        },
                        Err(e) => rejected.push(Rejected {
                            field: format!("samples[{i}]"),
                            reason: e.to_string(),
                        }),
                    }
                }
                Ok(Parsed::Samples { samples, rejected })
            }
            _ => Err(PayloadError::Field {
                field: "value|samples".into(),
                reason: "a signal message needs exactly one of `value` or `samples`".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn samples(p: Parsed) -> (Vec<RawSample>, Vec<Rejected>) {
        match p {
            Parsed::Samples { samples, rejected } => (samples, rejected),
            other => panic!("expected samples, got {other:?}"),
        }
    }

    #[test]
    fn asset_message_with_values() {
        let (s, r) = samples(
            parse_message(
                "doppel/v1/data/m1",
                br#"{"ts":"2026-11-25T10:00:00Z","values":{"current":12.5,"winding_temp":170.6},"units":{"winding_temp":"degF"}}"#,
                NOW,
            )
            .unwrap(),
        );
        assert!(r.is_empty());
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].unit.as_deref(), Some("degF"));
        assert_eq!(s[0].ts_ns, time::parse_rfc3339("2026-11-25T10:00:00Z").unwrap());
    }

    #[test]
    fn batched_samples_keep_good_ones() {
        let (s, r) = samples(
            parse_message(
                "doppel/v1/data/m1",
                br#"{"samples":[{"signal":"a","ts":1000,"value":1},{"signal":"b","ts":"never","value":2},{"ts":5,"value":3},{"signal":"c","value":"x"}]}"#,
                NOW,
            )
            .unwrap(),
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].ts_ns, 1_000_000_000);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].field, "samples[1].ts");
        assert_eq!(r[1].field, "samples[2].signal");
    }

    #[test]
    fn signal_topic_forms() {
        let (s, _) = samples(parse_message("doppel/v1/data/m1/current", b"12.5", NOW).unwrap());
        assert_eq!((s[0].ts_ns, s[0].value), (NOW, Some(12.5)));
        let (s, _) = samples(parse_message("doppel/v1/data/m1/current", br#"{"value":null,"ts":7}"#, NOW).unwrap());
        assert_eq!(s[0].value, None);
        let (s, _) = samples(
            parse_message(
                "doppel/v1/data/m1/p",
                br#"{"unit":"psi","samples":[{"ts":1,"value":14.5},{"ts":2,"value":15}]}"#,
                NOW,
            )
            .unwrap(),
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].unit.as_deref(), Some("psi"));
    }

    #[test]
    fn maintenance_message() {
        let body = br#"{"ts": 1700000000000, "kind": "repair", "component": "de_bearing", "work_order": "WO-7"}"#;
        match parse_message("doppel/v1/maintenance/m1", body, NOW).unwrap() {
            Parsed::Maintenance { asset, ts_ns, record } => {
                assert_eq!((asset.as_str(), ts_ns), ("m1", 1_700_000_000_000_000_000));
                assert_eq!(record.kind, doppel_model::MaintenanceKind::Repair);
                assert_eq!((record.component.as_deref(), record.work_order.as_deref()), (Some("de_bearing"), Some("WO-7")));
            }
            other => panic!("{other:?}"),
        }
        match parse_message("doppel/v1/maintenance/m1", br#"{"kind": "service"}"#, NOW).unwrap() {
            Parsed::Maintenance { ts_ns, .. } => assert_eq!(ts_ns, NOW),
            other => panic!("{other:?}"),
        }
        let e = parse_message("doppel/v1/maintenance/m1", br#"{"kind": "fix"}"#, NOW).unwrap_err().to_string();
        assert!(e.contains("maintenance message") && e.contains("fix"), "{e}");
        assert!(parse_message("doppel/v1/maintenance/m1/x", br#"{"kind": "repair"}"#, NOW).is_err());
    }

    #[test]
    fn context_message() {
        match parse_message("doppel/v1/context/l1", br#"{"ts":1,"product":"shaft-a","batch":null}"#, NOW).unwrap() {
            Parsed::Context { line, ts_ns, update } => {
                assert_eq!((line.as_str(), ts_ns), ("l1", 1_000_000));
                assert_eq!(update.product, Some(Some("shaft-a".into())));
                assert_eq!(update.batch, Some(None));
                assert_eq!(update.mode, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_message("doppel/v1/context/l1", br#"{"ts":1}"#, NOW),
            Err(PayloadError::Field { .. })
        ));
        assert!(matches!(
            parse_message("doppel/v1/context/l1", br#"{"colour":"red"}"#, NOW),
            Err(PayloadError::Json { .. })
        ));
    }

    #[test]
    fn bad_topics_and_json_are_errors() {
        for t in [
            "other/topic",
            "doppel/v1/data/",
            "doppel/v1/data/a/b/c",
            "doppel/v1/context/",
            "doppel/v2/data/a",
        ] {
            assert!(matches!(parse_message(t, b"1", NOW), Err(PayloadError::Topic { .. })), "{t}");
        }
        let e = parse_message("doppel/v1/data/m1", b"{\"values\":", NOW).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = parse_message("doppel/v1/data/m1", br#"{"ts":1}"#, NOW).unwrap_err();
        assert!(e.to_string().contains("values|samples"), "{e}");
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(topic in "doppel/v1/(data|context)/[a-z0-9/]{0,12}", payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_message(&topic, &payload, NOW);
        }

        #[test]
        fn values_round_trip(vals in proptest::collection::btree_map("[a-z]{1,8}", -1e12f64..1e12, 1..20), ms in 0i64..4_000_000_000_000) {
            let body = serde_json::json!({"ts": ms, "values": vals});
            let (s, r) = samples(parse_message("doppel/v1/data/x", body.to_string().as_bytes(), NOW).unwrap());
            prop_assert!(r.is_empty());
            prop_assert_eq!(s.len(), vals.len());
            for (sample, (k, v)) in s.iter().zip(vals.iter()) {
                prop_assert_eq!(&sample.signal, k);
                prop_assert_eq!(sample.value, Some(*v));
                prop_assert_eq!(sample.ts_ns, ms * 1_000_000);
            }
        }
    }
}
