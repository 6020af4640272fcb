//! What the twin reports: operating states, health, alerts and the events emitted on changes.

use doppel_model::Status;
use serde::Serialize;

/// Operating state of an asset (ISO 22400 time model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatingState {
    /// No data received yet since the runtime started (not counted in time accounting).
    Unknown,
    /// Producing: the `running_when` signal is above its threshold (or, without a running rule,
    /// data is flowing). Counts as actual production time.
    Running,
    /// Not running while the line is scheduled, or a state signal reads "fault": unplanned
    /// downtime. Counts against availability.
    Down,
    /// Not running while the line's mode is "planned_stop": not planned busy time.
    Idle,
    /// No data for longer than the asset's stale limit (counted separately, not in availability).
    Stale,
}

impl OperatingState {
    pub const ALL: [OperatingState; 5] = [
        OperatingState::Unknown,
        OperatingState::Running,
        OperatingState::Down,
        OperatingState::Idle,
        OperatingState::Stale,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OperatingState::Unknown => "unknown",
            OperatingState::Running => "running",
            OperatingState::Down => "down",
            OperatingState::Idle => "idle",
            OperatingState::Stale => "stale",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Health of an asset for colouring: the worst of its envelope statuses and its operating state.
///
/// Order (worst last): `ok < warning < alarm < down < stale`; `unknown` means no data yet.
/// `down` outranks `alarm` because the process values of a stopped machine (no flow, no head) are
/// consequences of the stop; `stale` outranks everything because the values are not current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Warning,
    Alarm,
    Down,
    Stale,
    Unknown,
}

impl Health {
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Warning => "warning",
            Health::Alarm => "alarm",
            Health::Down => "down",
            Health::Stale => "stale",
            Health::Unknown => "unknown",
        }
    }
}

/// An open envelope alert. One per signal at most; its id is `"<asset>/<signal>"`, stable across
/// escalation and de-escalation until it clears.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: String,
    pub asset: String,
    pub signal: String,
    /// `warning` or `alarm`.
    pub level: Status,
    /// When the alert was first raised (ns).
    pub since: i64,
    /// When the current level was reached (ns).
    pub level_since: i64,
    /// The value that raised the current level.
    pub value: f64,
    /// The limit that was crossed, e.g. `"> 80 degC (normal high)"`.
    pub limit: String,
    /// The latest value of the signal.
    pub last_value: f64,
}

/// A change observed by the twin. Serialized with a `type` tag equal to [`TwinEvent::kind`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TwinEvent {
    /// A signal left its normal range, or escalated warning → alarm (same `alert_id`).
    AlertRaised {
        alert_id: String,
        asset: String,
        signal: String,
        /// `warning` or `alarm`.
        level: Status,
        /// Status before: `normal` for a new alert, `warning` for an escalation.
        previous: Status,
        value: f64,
        /// The limit that was crossed, e.g. `"> 95 degC (warning high)"`.
        limit: String,
        /// When the alert was first raised (equals `ts` for a new alert).
        since: i64,
        ts: i64,
    },
    /// An alarm eased back to warning (past the hysteresis margin); the alert stays open.
    AlertDowngraded {
        alert_id: String,
        asset: String,
        signal: String,
        level: Status,
        previous: Status,
        value: f64,
        since: i64,
        ts: i64,
    },
    /// The signal returned to normal (past the hysteresis margin); the alert is closed.
    AlertCleared {
        alert_id: String,
        asset: String,
        signal: String,
        previous: Status,
        value: f64,
        since: i64,
        ts: i64,
    },
    /// The operating state of an asset changed.
    StateChanged {
        asset: String,
        from: OperatingState,
        to: OperatingState,
        ts: i64,
    },
}

impl TwinEvent {
    /// The event kind as stored and streamed: `alert_raised`, `alert_downgraded`, `alert_cleared`, `state_changed`.
    pub fn kind(&self) -> &'static str {
        match self {
            TwinEvent::AlertRaised { .. } => "alert_raised",
            TwinEvent::AlertDowngraded { .. } => "alert_downgraded",
            TwinEvent::AlertCleared { .. } => "alert_cleared",
            TwinEvent::StateChanged { .. } => "state_changed",
        }
    }

    /// The asset id the event is about.
    pub fn subject(&self) -> &str {
        match self {
            TwinEvent::AlertRaised { asset, .. }
            | TwinEvent::AlertDowngraded { asset, .. }
            | TwinEvent::AlertCleared { asset, .. }
            | TwinEvent::StateChanged { asset, .. } => asset,
        }
    }

    /// When the change happened (ns since the epoch, from the data, not the wall clock).
    pub fn ts(&self) -> i64 {
        match self {
            TwinEvent::AlertRaised { ts, .. }
            | TwinEvent::AlertDowngraded { ts, .. }
            | TwinEvent::AlertCleared { ts, .. }
            | TwinEvent::StateChanged { ts, .. } => *ts,
        }
    }
}
