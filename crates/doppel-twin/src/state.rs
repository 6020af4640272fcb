//! Serializable snapshots of the twin: per asset and per line.

use doppel_model::{Envelope, LineContext, SignalKind, Status};
use serde::Serialize;

use crate::events::{Health, OperatingState};

/// Upper clamp of the reported performance, so that OEE stays a fraction as ISO 22400 defines it
/// (a raw value above 1 means the ideal cycle time is set too long, or a counter burst at start-up;
/// the raw value is kept in `performance_raw`).
pub const PERFORMANCE_CLAMP: f64 = 1.0;

/// Snapshot of one asset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetState {
    pub id: String,
    pub name: String,
    pub line: String,
    pub state: OperatingState,
    /// When the current operating state began (ns); the runtime's start for `unknown`.
    pub state_since: i64,
    pub health: Health,
    pub signals: Vec<SignalState>,
    pub kpis: Kpis,
    /// Ids of the open alerts of this asset (`"<asset>/<signal>"`).
    pub open_alerts: Vec<String>,
    /// Timestamp of the newest sample applied (ns), if any.
    pub last_seen: Option<i64>,
    /// Samples older than their signal's current value: not applied to the live state.
    pub late_samples: u64,
}

/// Live state of one signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalState {
    pub name: String,
    pub unit: String,
    pub kind: SignalKind,
    pub last_value: Option<f64>,
    pub last_ts: Option<i64>,
    /// Label of the current value for `state` signals (`states[value]`).
    pub label: Option<String>,
    pub status: Status,
    /// The envelope in force: the one used for the last sample, else the one selected by the
    /// line's current context. Infinite ends serialize as `null` in JSON (open end).
    pub envelope: Option<Envelope>,
}

/// Key performance indicators per ISO 22400-2, accumulated since the runtime started.
///
/// * `availability = running_s / (running_s + down_s)` (idle = not planned busy time, stale and
///   unknown time are excluded); `None` before any planned busy time.
/// * `performance = ideal_cycle_s × produced / running_s`, clamped to `[0, 1]`; the unclamped
///   value is `performance_raw` (a raw value > 1 means the ideal cycle time is set too long or the
///   counter counts something else). `None` without production counters or running time.
/// * `quality = (produced − scrap) / produced`, clamped to `[0, 1]` (raw in `quality_raw`); `None`
///   without production counters or before the first unit.
/// * `oee = availability × performance × quality` (with the clamped values) when all are defined.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Kpis {
    pub availability: Option<f64>,
    pub performance: Option<f64>,
    pub performance_raw: Option<f64>,
    pub quality: Option<f64>,
    pub quality_raw: Option<f64>,
    pub oee: Option<f64>,
    pub running_s: f64,
    pub down_s: f64,
    pub idle_s: f64,
    pub stale_s: f64,
    /// Units counted by the `production.total` counter (sum of increments; a decrease is a reset).
    pub produced: Option<f64>,
    /// Units counted by the `production.scrap` counter.
    pub scrap: Option<f64>,
}

/// Line KPIs: OEE terms from the line's `output` asset, downtime and alerts from all its assets.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LineKpis {
    pub availability: Option<f64>,
    pub performance: Option<f64>,
    pub performance_raw: Option<f64>,
    pub quality: Option<f64>,
    pub quality_raw: Option<f64>,
    pub oee: Option<f64>,
    pub produced: Option<f64>,
    pub scrap: Option<f64>,
    /// Sum over the line's assets of their `down` time (unplanned downtime, ISO 22400).
    pub unplanned_downtime_s: f64,
    /// Number of open alerts on the line's assets.
    pub open_alerts: usize,
}

/// How many assets of a line are in each health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct HealthCounts {
    pub ok: usize,
    pub warning: usize,
    pub alarm: usize,
    pub down: usize,
    pub stale: usize,
    pub unknown: usize,
}

impl HealthCounts {
    pub(crate) fn add(&mut self, h: Health) {
        match h {
            Health::Ok => self.ok += 1,
            Health::Warning => self.warning += 1,
            Health::Alarm => self.alarm += 1,
            Health::Down => self.down += 1,
            Health::Stale => self.stale += 1,
            Health::Unknown => self.unknown += 1,
        }
    }
}

/// Snapshot of one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineState {
    pub id: String,
    pub name: String,
    pub context: LineContext,
    /// When the context was last set (ns), if ever.
    pub context_since: Option<i64>,
    /// The asset whose counters count the line's output.
    pub output: Option<String>,
    /// Operating state of the output asset.
    pub output_state: Option<OperatingState>,
    pub kpis: LineKpis,
    pub health: HealthCounts,
    /// Worst health over the line's assets (ignoring `unknown` unless all are unknown).
    pub worst_health: Health,
}
