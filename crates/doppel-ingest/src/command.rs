//! Commands to the plant: the output side of the MQTT topic scheme (specified in `docs/mqtt.md`, "Commands").
//!
//! | topic | payload |
//! |---|---|
//! | `doppel/v1/command/{asset}` | `{"id": "c-17", "ts": T, "action": "set_load", "load": 0.8, "reason": "derate: winding hot"}`, `{"id": .., "action": "derate", "share": 0.2}` (0 restores the normal load), `{"id": .., "action": "repair", "work_order": "WO-12"}`, `{"id": .., "action": "stop"}`, `{"id": .., "action": "start"}` |
//! | `doppel/v1/command_ack/{asset}` | `{"id": "c-17", "status": "applied" \| "rejected", "detail": "...", "ts": T}` |
//!
//! `T` takes the forms of every doppel timestamp (an RFC 3339 string or integer epoch milliseconds; see
//! `payload.rs`); this module writes RFC 3339 with full precision. A command's `ts` is optional (when it was
//! issued); an acknowledgement's `ts` is required (when the executor applied or rejected it).
//!
//! The executor (a PLC gateway, or `doppel sim`) answers every command it can read with exactly one
//! acknowledgement carrying the command's `id`; a command received again with an `id` it already answered gets
//! the same acknowledgement again and is not applied twice (QoS 1 may deliver twice).
//!
//! Parsing never panics and is bounded: bodies over [`MAX_COMMAND_BYTES`] are rejected before any JSON is read,
//! and every error names the field it is about.

use doppel_model::time;
use rumqttc::{AsyncClient, QoS};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::payload::{TOPIC_PREFIX, Ts, ts_to_ns};

/// Topic prefix of commands: `doppel/v1/command/{asset}`.
pub const COMMAND_PREFIX: &str = "doppel/v1/command/";
/// Subscription filter for commands to every asset.
pub const COMMAND_FILTER: &str = "doppel/v1/command/+";
/// Topic prefix of acknowledgements: `doppel/v1/command_ack/{asset}`.
pub const COMMAND_ACK_PREFIX: &str = "doppel/v1/command_ack/";
/// Subscription filter for acknowledgements from every asset.
pub const COMMAND_ACK_FILTER: &str = "doppel/v1/command_ack/+";
/// Largest accepted command or acknowledgement body.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Longest command id, work order id or asset id, bytes.
pub const MAX_ID_BYTES: usize = 256;

/// What a command asks the asset to do.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandAction {
    /// Set the asset's load fraction (1 = rated; the derating lever). Never negative; the executor decides the
    /// upper limit (the simulator accepts up to 1.5).
    SetLoad {
        /// Load fraction.
        load: f64,
    },
    /// Repair the asset now (renew its worn components), optionally under a work order.
    Repair {
        /// The work order the repair belongs to.
        work_order: Option<String>,
    },
    /// Run the asset at `1 − share` of its normal load (the load it had before the first derate); share 0
    /// restores the normal load. The derating lever of the prescriptive planner, relative so the sender need not
    /// know each asset's operating point.
    Derate {
        /// Share of the normal load taken off, in [0, 1).
        share: f64,
    },
    /// Stop the asset (load 0), remembering its load.
    Stop,
    /// Start the asset again with the load it had before the last `stop`.
    Start,
}

impl CommandAction {
    /// The `action` name on the wire: `set_load`, `derate`, `repair`, `stop` or `start`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            CommandAction::SetLoad { .. } => "set_load",
            CommandAction::Derate { .. } => "derate",
            CommandAction::Repair { .. } => "repair",
            CommandAction::Stop => "stop",
            CommandAction::Start => "start",
        }
    }
}

/// A command to one asset. Serialises to its JSON body (the asset is in the topic, not the body); read one
/// with [`parse_command`].
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The asset it is for (from the topic).
    pub asset: String,
    /// Unique id chosen by the sender; the acknowledgement carries it.
    pub id: String,
    /// When the command was issued, ns since the Unix epoch (absent: not stated).
    pub ts_ns: Option<i64>,
    /// What to do.
    pub action: CommandAction,
    /// Why (free text, for the record).
    pub reason: Option<String>,
}

#[derive(Serialize)]
struct CommandWire<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<String>,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    load: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    work_order: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl Serialize for Command {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CommandWire {
            id: &self.id,
            ts: self.ts_ns.map(time::format_rfc3339),
            action: self.action.name(),
            load: match self.action {
                CommandAction::SetLoad { load } => Some(load),
                _ => None,
            },
            share: match self.action {
                CommandAction::Derate { share } => Some(share),
                _ => None,
            },
            work_order: match &self.action {
                CommandAction::Repair { work_order } => work_order.as_deref(),
                _ => None,
            },
            reason: self.reason.as_deref(),
        }
        .serialize(s)
    }
}

impl Command {
    /// The JSON body to publish.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, an optional finite-or-not f64 (serde_json writes a non-finite f64 as null) and
        // options cannot fail to serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `doppel/v1/command/{asset}`.
    ///
    /// # Errors
    /// [`CommandError::Field`] (`asset`) when the asset id is not a valid topic segment.
    pub fn topic(&self) -> Result<String, CommandError> {
        command_topic(&self.asset)
    }
}

/// Outcome of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// The executor carried the command out.
    Applied,
    /// The executor refused it (`detail` says why); nothing changed.
    Rejected,
}

/// The executor's answer to a command. Serialises to its JSON body; read one with [`parse_command_ack`].
#[derive(Debug, Clone, PartialEq)]
pub struct CommandAck {
    /// The asset (from the topic).
    pub asset: String,
    /// The command's id.
    pub id: String,
    /// Applied or rejected.
    pub status: AckStatus,
    /// What happened, or why it was refused.
    pub detail: Option<String>,
    /// When the executor applied or rejected it, ns since the Unix epoch.
    pub ts_ns: i64,
}

#[derive(Serialize)]
struct AckWire<'a> {
    id: &'a str,
    status: AckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    ts: String,
}

impl Serialize for CommandAck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AckWire {
            id: &self.id,
            status: self.status,
            detail: self.detail.as_deref(),
            ts: time::format_rfc3339(self.ts_ns),
        }
        .serialize(s)
    }
}

impl CommandAck {
    /// The JSON body to publish.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `doppel/v1/command_ack/{asset}`.
    ///
    /// # Errors
    /// [`CommandError::Field`] (`asset`) when the asset id is not a valid topic segment.
    pub fn topic(&self) -> Result<String, CommandError> {
        command_ack_topic(&self.asset)
    }
}

/// A command or acknowledgement that cannot be read or sent.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The topic is not of the expected form.
    #[error("topic '{topic}' is not {expected}")]
    Topic {
        /// The topic (first 200 characters).
        topic: String,
        /// The expected form.
        expected: &'static str,
    },
    /// The body is larger than [`MAX_COMMAND_BYTES`].
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not a JSON object of the right shape (syntax, unknown or repeated field).
    #[error("payload is not valid JSON for {kind}: {message}")]
    Json {
        /// `a command` or `a command acknowledgement`.
        kind: &'static str,
        /// The JSON parser's message.
        message: String,
    },
    /// A field is missing or has a bad value.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The MQTT client did not take the message (its event loop is gone).
    #[error("MQTT publish failed: {0}")]
    Mqtt(String),
}

fn field(field: &'static str, reason: impl Into<String>) -> CommandError {
    CommandError::Field { field, reason: reason.into() }
}

/// Checks an id used as a topic segment or command id: 1 to [`MAX_ID_BYTES`] bytes, no `/`, `+`, `#`, NUL or
/// other control characters.
fn check_id(name: &'static str, value: &str) -> Result<(), CommandError> {
    if value.is_empty() {
        return Err(field(name, "must not be empty"));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(field(name, format!("{} bytes, more than the limit of {MAX_ID_BYTES}", value.len())));
    }
    if let Some(c) = value.chars().find(|c| matches!(c, '/' | '+' | '#') || c.is_control()) {
        return Err(field(name, format!("must not contain {c:?}")));
    }
    Ok(())
}

/// `doppel/v1/command/{asset}`.
///
/// # Errors
/// [`CommandError::Field`] (`asset`) when `asset` is empty, longer than [`MAX_ID_BYTES`] or contains `/`, `+`,
/// `#` or a control character.
pub fn command_topic(asset: &str) -> Result<String, CommandError> {
    check_id("asset", asset)?;
    Ok(format!("{COMMAND_PREFIX}{asset}"))
}

/// `doppel/v1/command_ack/{asset}`.
///
/// # Errors
/// As [`command_topic`].
pub fn command_ack_topic(asset: &str) -> Result<String, CommandError> {
    check_id("asset", asset)?;
    Ok(format!("{COMMAND_ACK_PREFIX}{asset}"))
}

/// The asset of a topic `{prefix}{asset}`, checked like every topic segment.
fn topic_asset<'t>(topic: &'t str, prefix: &str, expected: &'static str) -> Result<&'t str, CommandError> {
    debug_assert!(prefix.starts_with(TOPIC_PREFIX));
    let asset = topic.strip_prefix(prefix).ok_or_else(|| CommandError::Topic {
        topic: topic.chars().take(200).collect(),
        expected,
    })?;
    check_id("asset", asset).map_err(|_| CommandError::Topic {
        topic: topic.chars().take(200).collect(),
        expected,
    })?;
    Ok(asset)
}

/// Reads a command from its topic and body.
///
/// # Errors
/// [`CommandError::Topic`] unless the topic is `doppel/v1/command/{asset}` with a valid asset id; otherwise as
/// [`parse_command_body`].
pub fn parse_command(topic: &str, payload: &[u8]) -> Result<Command, CommandError> {
    let asset = topic_asset(topic, COMMAND_PREFIX, "a command topic: expected doppel/v1/command/<asset>")?;
    parse_command_body(asset, payload)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    action: Option<&'a RawValue>,
    #[serde(borrow)]
    load: Option<&'a RawValue>,
    #[serde(borrow)]
    share: Option<&'a RawValue>,
    #[serde(borrow)]
    work_order: Option<&'a RawValue>,
    #[serde(borrow)]
    reason: Option<&'a RawValue>,
}

fn string_field(name: &'static str, raw: Option<&RawValue>) -> Result<Option<String>, CommandError> {
    raw.map(|r| serde_json::from_str::<String>(r.get()).map_err(|_| field(name, format!("must be a string, not {}", excerpt(r.get())))))
        .transpose()
}

fn required_string(name: &'static str, raw: Option<&RawValue>) -> Result<String, CommandError> {
    string_field(name, raw)?.ok_or_else(|| field(name, "missing"))
}

/// The timestamp forms of `payload.rs` (RFC 3339 text without escapes, or epoch milliseconds).
fn ts_field(raw: Option<&RawValue>) -> Result<Option<i64>, CommandError> {
    let Some(r) = raw else { return Ok(None) };
    let ts: Ts<'_> = serde_json::from_str(r.get()).map_err(|e| field("ts", e.to_string()))?;
    ts_to_ns(Some(&ts), "ts", 0).map(Some).map_err(|rej| field("ts", rej.reason))
}

fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(40).collect();
    if e.len() < s.len() {
        e.push('…');
    }
    e
}

fn json_error(kind: &'static str, e: &serde_json::Error) -> CommandError {
    CommandError::Json { kind, message: e.to_string() }
}

/// Reads a command body for `asset` (the HTTP form of a command can use this directly).
///
/// # Errors
/// [`CommandError::TooLarge`] over [`MAX_COMMAND_BYTES`]; [`CommandError::Json`] when the body is not a JSON
/// object or has an unknown or repeated field; [`CommandError::Field`] naming the field when `id` is missing or
/// not a valid id, `ts` is not a timestamp, `action` is missing or unknown, `load` is missing (for `set_load`),
/// negative or not a number, `work_order` is not a valid id, or `load` / `work_order` come with an action that
/// does not take them. `asset` is checked too (field `asset`).
pub fn parse_command_body(asset: &str, payload: &[u8]) -> Result<Command, CommandError> {
    check_id("asset", asset)?;
    if payload.len() > MAX_COMMAND_BYTES {
        return Err(CommandError::TooLarge {
            size: payload.len(),
            limit: MAX_COMMAND_BYTES,
        });
    }
    let raw: RawCommand<'_> = serde_json::from_slice(payload).map_err(|e| json_error("a command", &e))?;
    let id = required_string("id", raw.id)?;
    check_id("id", &id)?;
    let ts_ns = ts_field(raw.ts)?;
    let action = required_string("action", raw.action)?;
    let load = raw
        .load
        .map(|r| serde_json::from_str::<f64>(r.get()).map_err(|_| field("load", format!("must be a number, not {}", excerpt(r.get())))))
        .transpose()?;
    let share = raw
        .share
        .map(|r| serde_json::from_str::<f64>(r.get()).map_err(|_| field("share", format!("must be a number, not {}", excerpt(r.get())))))
        .transpose()?;
    let work_order = string_field("work_order", raw.work_order)?;
    if let Some(w) = &work_order {
        check_id("work_order", w)?;
    }
    let reason = string_field("reason", raw.reason)?;
    let action = match action.as_str() {
        "set_load" => {
            let load = load.ok_or_else(|| field("load", "missing (set_load needs a load fraction, e.g. 0.8)"))?;
            if !load.is_finite() || load < 0.0 {
                return Err(field("load", format!("{load} is not a load fraction (a number >= 0)")));
            }
            CommandAction::SetLoad { load }
        }
        "derate" => {
            let share = share.ok_or_else(|| field("share", "missing (derate needs the share of normal load to take off, e.g. 0.2; 0 restores it)"))?;
            if !(share.is_finite() && (0.0..1.0).contains(&share)) {
                return Err(field("share", format!("{share} is not a derate share (a number in [0, 1))")));
            }
            CommandAction::Derate { share }
        }
        "repair" => CommandAction::Repair {
            work_order: work_order.clone(),
        },
        "stop" => CommandAction::Stop,
        "start" => CommandAction::Start,
        other => {
            return Err(field(
                "action",
                format!("unknown action '{}': expected set_load, derate, repair, stop or start", excerpt(other)),
            ));
        }
    };
    if load.is_some() && !matches!(action, CommandAction::SetLoad { .. }) {
        return Err(field("load", format!("only set_load takes a load, not {}", action.name())));
    }
    if share.is_some() && !matches!(action, CommandAction::Derate { .. }) {
        return Err(field("share", format!("only derate takes a share, not {}", action.name())));
    }
    if work_order.is_some() && !matches!(action, CommandAction::Repair { .. }) {
        return Err(field("work_order", format!("only repair takes a work order, not {}", action.name())));
    }
    Ok(Command {
        asset: asset.to_string(),
        id,
        ts_ns,
        action,
        reason,
    })
}

/// The `id` of a command body that may be otherwise unreadable, so that an executor can still reject it by id.
/// `None` when the body is too large, not a JSON object, or has no valid string `id`.
#[must_use]
pub fn command_id_of(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    if payload.len() > MAX_COMMAND_BYTES {
        return None;
    }
    let id = serde_json::from_slice::<IdOnly>(payload).ok()?.id;
    check_id("id", &id).ok().map(|()| id)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAck<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
}

/// Reads an acknowledgement from its topic and body.
///
/// # Errors
/// [`CommandError::Topic`] unless the topic is `doppel/v1/command_ack/{asset}`; [`CommandError::TooLarge`],
/// [`CommandError::Json`] as for commands; [`CommandError::Field`] when `id` is missing or invalid, `status` is
/// not `applied` or `rejected`, `detail` is not a string or `ts` is missing or not a timestamp.
pub fn parse_command_ack(topic: &str, payload: &[u8]) -> Result<CommandAck, CommandError> {
    let asset = topic_asset(
        topic,
        COMMAND_ACK_PREFIX,
        "a command acknowledgement topic: expected doppel/v1/command_ack/<asset>",
    )?;
    if payload.len() > MAX_COMMAND_BYTES {
        return Err(CommandError::TooLarge {
            size: payload.len(),
            limit: MAX_COMMAND_BYTES,
        });
    }
    let raw: RawAck<'_> = serde_json::from_slice(payload).map_err(|e| json_error("a command acknowledgement", &e))?;
    let id = required_string("id", raw.id)?;
    check_id("id", &id)?;
    let status = match required_string("status", raw.status)?.as_str() {
        "applied" => AckStatus::Applied,
        "rejected" => AckStatus::Rejected,
        other => return Err(field("status", format!("'{}' is neither applied nor rejected", excerpt(other)))),
    };
    let detail = string_field("detail", raw.detail)?;
    let ts_ns = ts_field(raw.ts)?.ok_or_else(|| field("ts", "missing (when the command was applied or rejected)"))?;
    Ok(CommandAck {
        asset: asset.to_string(),
        id,
        status,
        detail,
        ts_ns,
    })
}

/// Publishes a command on `doppel/v1/command/{asset}` (QoS 1, not retained: a command must not be replayed to
/// an executor that connects later).
///
/// # Errors
/// [`CommandError::Field`] for an invalid asset or id, [`CommandError::Mqtt`] when the client's event loop is gone.
pub async fn publish_command(client: &AsyncClient, command: &Command) -> Result<(), CommandError> {
    check_id("id", &command.id)?;
    let topic = command.topic()?;
    client
        .publish(topic, QoS::AtLeastOnce, false, command.to_json())
        .await
        .map_err(|e| CommandError::Mqtt(e.to_string()))
}

/// Publishes an acknowledgement on `doppel/v1/command_ack/{asset}` (QoS 1, not retained).
///
/// # Errors
/// As [`publish_command`].
pub async fn publish_command_ack(client: &AsyncClient, ack: &CommandAck) -> Result<(), CommandError> {
    check_id("id", &ack.id)?;
    let topic = ack.topic()?;
    client
        .publish(topic, QoS::AtLeastOnce, false, ack.to_json())
        .await
        .map_err(|e| CommandError::Mqtt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn field_of(r: Result<Command, CommandError>) -> &'static str {
        match r {
            Err(CommandError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn the_four_actions_parse() {
        let c = parse_command(
            "doppel/v1/command/l1-hyd-motor",
            br#"{"id":"c-1","ts":"2026-11-25T10:00:00Z","action":"set_load","load":0.8,"reason":"derate"}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            Command {
                asset: "l1-hyd-motor".into(),
                id: "c-1".into(),
                ts_ns: time::parse_rfc3339("2026-11-25T10:00:00Z"),
                action: CommandAction::SetLoad { load: 0.8 },
                reason: Some("derate".into()),
            }
        );
        let c = parse_command(
            "doppel/v1/command/p1",
            br#"{"id":"c-2","ts":1795600800000,"action":"repair","work_order":"WO-12"}"#,
        )
        .unwrap();
        assert_eq!(c.ts_ns, Some(1_795_600_800_000_000_000));
        assert_eq!(
            c.action,
            CommandAction::Repair {
                work_order: Some("WO-12".into())
            }
        );
        let c = parse_command("doppel/v1/command/p1", br#"{"id":"c-3","action":"stop"}"#).unwrap();
        assert_eq!((c.action, c.ts_ns, c.reason), (CommandAction::Stop, None, None));
        let c = parse_command("doppel/v1/command/p1", br#"{"id":"c-4","action":"start","reason":null}"#).unwrap();
        assert_eq!(c.action, CommandAction::Start);
        let c = parse_command("doppel/v1/command/p1", br#"{"id":"c-5","action":"repair"}"#).unwrap();
        assert_eq!(c.action, CommandAction::Repair { work_order: None });
    }

    #[test]
    fn errors_name_the_field() {
        let t = "doppel/v1/command/m1";
        assert_eq!(field_of(parse_command(t, br#"{"action":"stop"}"#)), "id");
        assert_eq!(field_of(parse_command(t, br#"{"id":"","action":"stop"}"#)), "id");
        assert_eq!(field_of(parse_command(t, br#"{"id":7,"action":"stop"}"#)), "id");
        assert_eq!(field_of(parse_command(t, br#"{"id":"a/b","action":"stop"}"#)), "id");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c"}"#)), "action");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"explode"}"#)), "action");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"set_load"}"#)), "load");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"set_load","load":"high"}"#)), "load");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"set_load","load":-0.1}"#)), "load");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"stop","load":0.5}"#)), "load");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"start","work_order":"W"}"#)), "work_order");
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"stop","ts":"yesterday"}"#)), "ts");
        assert_eq!(
            field_of(parse_command(t, br#"{"id":"c","action":"stop","ts":"2026-11-25T10:00:00\u005A"}"#)),
            "ts"
        );
        assert_eq!(field_of(parse_command(t, br#"{"id":"c","action":"stop","reason":{}}"#)), "reason");
        let e = parse_command(t, br#"{"id":"c","action":"stop","colour":"red"}"#).unwrap_err();
        assert!(matches!(e, CommandError::Json { .. }) && e.to_string().contains("colour"), "{e}");
        let e = parse_command(t, br#"{"id":"c","id":"d","action":"stop"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate field `id`"), "{e}");
        let e = parse_command(t, b"[1]").unwrap_err();
        assert!(matches!(e, CommandError::Json { .. }), "{e}");
        let msg = parse_command(t, br#"{"id":"c","action":"set_load","load":-1}"#).unwrap_err().to_string();
        assert!(msg.starts_with("field `load`:"), "{msg}");
    }

    #[test]
    fn topics_and_sizes_are_checked() {
        for bad in [
            "doppel/v1/command/",
            "doppel/v1/command/a/b",
            "doppel/v1/command/+",
            "doppel/v1/data/m1",
            "doppel/v1/command_ack/m1",
            "other/command/m1",
        ] {
            assert!(
                matches!(parse_command(bad, br#"{"id":"c","action":"stop"}"#), Err(CommandError::Topic { .. })),
                "{bad}"
            );
        }
        assert!(matches!(parse_command_ack("doppel/v1/command/m1", b"{}"), Err(CommandError::Topic { .. })));
        let big = format!(r#"{{"id":"c","action":"stop","reason":"{}"}}"#, "x".repeat(MAX_COMMAND_BYTES));
        assert!(matches!(
            parse_command("doppel/v1/command/m1", big.as_bytes()),
            Err(CommandError::TooLarge { .. })
        ));
        assert!(command_id_of(big.as_bytes()).is_none());
        assert_eq!(command_topic("m1").unwrap(), "doppel/v1/command/m1");
        assert_eq!(command_ack_topic("m1").unwrap(), "doppel/v1/command_ack/m1");
        assert!(command_topic("").is_err() && command_topic("a#").is_err() && command_topic(&"a".repeat(MAX_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn the_id_of_an_unreadable_command_can_still_be_found() {
        assert_eq!(command_id_of(br#"{"id":"c-9","action":"fly","load":"x"}"#).as_deref(), Some("c-9"));
        assert_eq!(command_id_of(br#"{"action":"fly"}"#), None);
        assert_eq!(command_id_of(br#"{"id":""}"#), None);
        assert_eq!(command_id_of(b"not json"), None);
    }

    #[test]
    fn acks_round_trip_and_errors_name_the_field() {
        let ack = CommandAck {
            asset: "m1".into(),
            id: "c-1".into(),
            status: AckStatus::Rejected,
            detail: Some("unknown asset 'm1'".into()),
            ts_ns: 1_795_600_800_123_456_789,
        };
        let body = ack.to_json();
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            r#"{"id":"c-1","status":"rejected","detail":"unknown asset 'm1'","ts":"2026-11-25T10:00:00.123456789Z"}"#
        );
        assert_eq!(parse_command_ack(&ack.topic().unwrap(), &body).unwrap(), ack);
        let t = "doppel/v1/command_ack/m1";
        let ok = parse_command_ack(t, br#"{"id":"c","status":"applied","ts":1000}"#).unwrap();
        assert_eq!((ok.status, ok.detail, ok.ts_ns), (AckStatus::Applied, None, 1_000_000_000));
        for (body, name) in [
            (&br#"{"status":"applied","ts":1}"#[..], "id"),
            (br#"{"id":"c","status":"done","ts":1}"#, "status"),
            (br#"{"id":"c","ts":1}"#, "status"),
            (br#"{"id":"c","status":"applied"}"#, "ts"),
            (br#"{"id":"c","status":"applied","ts":true}"#, "ts"),
            (br#"{"id":"c","status":"applied","ts":1,"detail":5}"#, "detail"),
        ] {
            match parse_command_ack(t, body) {
                Err(CommandError::Field { field, .. }) => assert_eq!(field, name, "{}", String::from_utf8_lossy(body)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn commands_serialise_to_the_documented_body() {
        let c = Command {
            asset: "p1".into(),
            id: "c-2".into(),
            ts_ns: Some(1_795_600_800_000_000_000),
            action: CommandAction::Repair {
                work_order: Some("WO-12".into()),
            },
            reason: Some("bearing noise".into()),
        };
        assert_eq!(
            String::from_utf8(c.to_json()).unwrap(),
            r#"{"id":"c-2","ts":"2026-11-25T10:00:00Z","action":"repair","work_order":"WO-12","reason":"bearing noise"}"#
        );
        assert_eq!(c.topic().unwrap(), "doppel/v1/command/p1");
    }

    fn arb_command() -> impl Strategy<Value = Command> {
        let action = prop_oneof![
            (0.0f64..10.0).prop_map(|load| CommandAction::SetLoad { load }),
            proptest::option::of("[A-Z]{2}-[0-9]{1,5}").prop_map(|work_order| CommandAction::Repair { work_order }),
            Just(CommandAction::Stop),
            Just(CommandAction::Start),
        ];
        (
            "[a-z0-9-]{1,20}",
            "[a-zA-Z0-9._:-]{1,40}",
            proptest::option::of(0i64..4_000_000_000_000_000_000),
            action,
            proptest::option::of("\\PC{0,30}"),
        )
            .prop_map(|(asset, id, ts_ns, action, reason)| Command {
                asset,
                id,
                ts_ns,
                action,
                reason,
            })
    }

    proptest! {
        #[test]
        fn commands_round_trip(c in arb_command()) {
            let back = parse_command(&c.topic().unwrap(), &c.to_json()).unwrap();
            prop_assert_eq!(back, c);
        }

        #[test]
        fn parsers_never_panic(asset in "[a-z0-9/+#]{0,8}", payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_command(&format!("{COMMAND_PREFIX}{asset}"), &payload);
            let _ = parse_command_ack(&format!("{COMMAND_ACK_PREFIX}{asset}"), &payload);
            let _ = command_id_of(&payload);
        }

        #[test]
        fn parsers_never_panic_on_json_like_text(body in "[\\[\\]{}\",:0-9a-z_ .eE+-]{0,200}") {
            let _ = parse_command("doppel/v1/command/m1", body.as_bytes());
            let _ = parse_command_ack("doppel/v1/command_ack/m1", body.as_bytes());
        }
    }
}
