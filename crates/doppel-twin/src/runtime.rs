//! The twin runtime: one `AssetTwin` per asset of the plant, one `LineTwin` per line, and the [`TwinRuntime`] over them.

use std::collections::HashMap;
use std::sync::Arc;

use doppel_model::{Envelope, LineContext, Plant, Range, Signal, SignalKind, Status};

use crate::events::{Alert, Health, OperatingState, TwinEvent};
use crate::state::{AssetState, HealthCounts, Kpis, LineKpis, LineState, PERFORMANCE_CLAMP, SignalState};

/// The line mode meaning "not scheduled": a stopped asset is `idle`, not `down`.
pub const PLANNED_STOP: &str = "planned_stop";

/// Minimum stale limit: an asset is stale after `max(10 × nominal period, 30 s)` without data.
pub const MIN_STALE_NS: i64 = 30 * NANOS_PER_SEC;
/// Stale limit in nominal sample periods.
pub const STALE_PERIODS: f64 = 10.0;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Live state of one signal.
#[derive(Debug, Clone)]
struct SignalTwin {
    has_value: bool,
    value: f64,
    ts: i64,
    status: Status,
    /// Envelope used for the last sample.
    envelope: Option<Envelope>,
    /// Open alert (valid while `status != Normal`).
    alert_since: i64,
    level_since: i64,
    level_value: f64,
    level_limit: Limit,
}

impl SignalTwin {
    fn new() -> SignalTwin {
        SignalTwin {
            has_value: false,
            value: f64::NAN,
            ts: i64::MIN,
            status: Status::Normal,
            envelope: None,
            alert_since: 0,
            level_since: 0,
            level_value: f64::NAN,
            level_limit: Limit {
                bound: f64::NAN,
                high: true,
                range: Status::Normal,
            },
        }
    }
}

/// The limit crossed to reach an alert level: `range` is the range left (`Normal` for a warning,
/// `Warning` for an alarm), `high` whether above its high end.
#[derive(Debug, Clone, Copy)]
struct Limit {
    bound: f64,
    high: bool,
    range: Status,
}

impl Limit {
    fn crossed(env: &Envelope, level: Status, v: f64) -> Limit {
        let (r, range): (&Range, Status) = if level == Status::Alarm {
            (&env.warning, Status::Warning)
        } else {
            (&env.normal, Status::Normal)
        };
        // Outside: the side it left by. Inside (an eased level within the hysteresis margin): the nearer end.
        let high = if v > r.high {
            true
        } else if v < r.low {
            false
        } else {
            r.high - v <= v - r.low
        };
        Limit {
            bound: if high { r.high } else { r.low },
            high,
            range,
        }
    }

    fn describe(&self, unit: &str) -> String {
        let (op, end) = if self.high { (">", "high") } else { ("<", "low") };
        let unit = if unit == "1" { String::new() } else { format!(" {unit}") };
        format!("{op} {}{unit} ({} {end})", self.bound, self.range.as_str())
    }
}

#[derive(Debug, Clone)]
struct ProductionTwin {
    total: usize,
    scrap: Option<usize>,
    ideal_cycle_s: f64,
    produced: f64,
    scrapped: f64,
}

/// Live state of one asset plus what is precomputed from the plant for the hot path.
#[derive(Debug, Clone)]
struct AssetTwin {
    line: usize,
    /// `running_when`: (signal index, threshold).
    running: Option<(usize, f64)>,
    /// State signals with a "fault" label: (signal index, index of "fault" in `states`).
    fault_signals: Vec<(usize, i64)>,
    production: Option<ProductionTwin>,
    stale_after: i64,
    signals: Vec<SignalTwin>,
    state: OperatingState,
    since: i64,
    /// Time accounting has attributed everything before this instant.
    acct_ts: i64,
    /// Nanoseconds attributed to each operating state (indexed by `OperatingState::index`).
    time_ns: [i64; 5],
    has_data: bool,
    /// Newest sample timestamp (the runtime's start before any data).
    last_seen: i64,
    stale: bool,
    /// Mode of the line context last seen is "planned_stop".
    planned_stop: bool,
    late_samples: u64,
}

impl AssetTwin {
    /// Attributes `[acct_ts, to)` to the current state; never moves backwards.
    fn advance(&mut self, to: i64) {
        if to > self.acct_ts {
            self.time_ns[self.state.index()] += to - self.acct_ts;
            self.acct_ts = to;
        }
    }

    fn derive_state(&self) -> OperatingState {
        if !self.has_data {
            return if self.stale { OperatingState::Stale } else { OperatingState::Unknown };
        }
        if self.stale {
            return OperatingState::Stale;
        }
        for &(sig, fault) in &self.fault_signals {
            let s = &self.signals[sig];
            if s.has_value && s.value.round() as i64 == fault {
                return OperatingState::Down;
            }
        }
        match self.running {
            None => OperatingState::Running,
            Some((sig, above)) => {
                let s = &self.signals[sig];
                if !s.has_value {
                    OperatingState::Unknown
                } else if s.value > above {
                    OperatingState::Running
                } else if self.planned_stop {
                    OperatingState::Idle
                } else {
                    OperatingState::Down
                }
            }
        }
    }

    /// Switches to `to` at `at`, emitting `StateChanged` if it differs.
    fn transition(&mut self, to: OperatingState, at: i64, id: &str, events: &mut Vec<TwinEvent>) {
        if to != self.state {
            events.push(TwinEvent::StateChanged {
                asset: id.to_string(),
                from: self.state,
                to,
                ts: at,
            });
            self.state = to;
            self.since = at;
        }
    }

    fn worst_status(&self) -> Status {
        self.signals.iter().map(|s| s.status).max().unwrap_or(Status::Normal)
    }

    fn open_alert_count(&self) -> usize {
        self.signals.iter().filter(|s| s.status != Status::Normal).count()
    }

    fn health(&self) -> Health {
        match self.state {
            OperatingState::Stale => Health::Stale,
            OperatingState::Down => Health::Down,
            _ if !self.has_data => Health::Unknown,
            _ => match self.worst_status() {
                Status::Normal => Health::Ok,
                Status::Warning => Health::Warning,
                Status::Alarm => Health::Alarm,
            },
        }
    }

    fn kpis(&self) -> Kpis {
        let secs = |s: OperatingState| self.time_ns[s.index()] as f64 / NANOS_PER_SEC as f64;
        let running_s = secs(OperatingState::Running);
        let down_s = secs(OperatingState::Down);
        let busy = running_s + down_s;
        let availability = (busy > 0.0).then(|| running_s / busy);
        let (mut performance_raw, mut quality_raw, mut produced, mut scrap) = (None, None, None, None);
        if let Some(p) = &self.production {
            produced = Some(p.produced);
            scrap = p.scrap.map(|_| p.scrapped);
            if running_s > 0.0 {
                performance_raw = Some(p.ideal_cycle_s * p.produced / running_s);
            }
            if p.produced > 0.0 {
                quality_raw = Some((p.produced - p.scrapped) / p.produced);
            }
        }
        let performance = performance_raw.map(|v: f64| v.clamp(0.0, PERFORMANCE_CLAMP));
        let quality = quality_raw.map(|v: f64| v.clamp(0.0, 1.0));
        let oee = match (availability, performance, quality) {
            (Some(a), Some(p), Some(q)) => Some(a * p * q),
            _ => None,
        };
        Kpis {
            availability,
            performance,
            performance_raw,
            quality,
            quality_raw,
            oee,
            running_s,
            down_s,
            idle_s: secs(OperatingState::Idle),
            stale_s: secs(OperatingState::Stale),
            produced,
            scrap,
        }
    }
}

#[derive(Debug, Clone)]
struct LineTwin {
    context: LineContext,
    context_since: Option<i64>,
    assets: Vec<usize>,
    output: Option<usize>,
}

/// The live twin of a plant. Pure and deterministic: time comes only from the arguments.
///
/// Assets and signals are addressed by their indexes in `plant.assets` / `asset.signals`
/// (see [`Plant::asset_position`] and [`doppel_model::Asset::signal_index`]); invalid indexes and
/// unknown lines are ignored (no events).
#[derive(Debug, Clone)]
pub struct TwinRuntime {
    plant: Arc<Plant>,
    start_ns: i64,
    assets: Vec<AssetTwin>,
    lines: Vec<LineTwin>,
    line_ids: Vec<String>,
    line_index: HashMap<String, usize>,
}

/// Stale limit of an asset: `max(10 × nominal period, 30 s)`, the nominal period being that of its
/// fastest non-waveform signal (data of an asset arrives at least that often while it publishes;
/// waveform frames have their own cadence).
fn stale_after(signals: &[Signal]) -> i64 {
    let rate = signals
        .iter()
        .filter(|s| s.kind != SignalKind::Waveform)
        .map(|s| s.rate_hz)
        .fold(0.0_f64, f64::max);
    let rate = if rate > 0.0 {
        rate
    } else {
        signals.iter().map(|s| s.rate_hz).fold(0.0_f64, f64::max)
    };
    if rate > 0.0 {
        let period_ns = STALE_PERIODS * NANOS_PER_SEC as f64 / rate;
        (period_ns.min(i64::MAX as f64 / 2.0) as i64).max(MIN_STALE_NS)
    } else {
        MIN_STALE_NS
    }
}

impl TwinRuntime {
    /// A twin of every asset of `plant`, all `unknown` at `start_ns`, every line with an empty context.
    pub fn new(plant: Arc<Plant>, start_ns: i64) -> TwinRuntime {
        let mut line_ids = Vec::new();
        let mut line_index = HashMap::new();
        let mut lines = Vec::new();
        for (_, _, line) in plant.lines() {
            line_index.insert(line.id.clone(), lines.len());
            line_ids.push(line.id.clone());
            lines.push(LineTwin {
                context: LineContext::default(),
                context_since: None,
                assets: line.assets.iter().filter_map(|a| plant.asset_position(a)).collect(),
                output: line.output.as_deref().and_then(|o| plant.asset_position(o)),
            });
        }
        let assets = plant
            .assets
            .iter()
            .map(|a| AssetTwin {
                line: line_index.get(&a.line).copied().unwrap_or(usize::MAX),
                running: a.running.as_ref().and_then(|r| a.signal_index(&r.signal).map(|i| (i, r.above))),
                fault_signals: a
                    .signals
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.kind == SignalKind::State)
                    .filter_map(|(i, s)| s.states.iter().position(|l| l == "fault").map(|f| (i, f as i64)))
                    .collect(),
                production: a.production.as_ref().and_then(|p| {
                    Some(ProductionTwin {
                        total: a.signal_index(&p.total)?,
                        scrap: p.scrap.as_deref().and_then(|s| a.signal_index(s)),
                        ideal_cycle_s: p.ideal_cycle_s,
                        produced: 0.0,
                        scrapped: 0.0,
                    })
                }),
                stale_after: stale_after(&a.signals),
                signals: vec![SignalTwin::new(); a.signals.len()],
                state: OperatingState::Unknown,
                since: start_ns,
                acct_ts: start_ns,
                time_ns: [0; 5],
                has_data: false,
                last_seen: start_ns,
                stale: false,
                planned_stop: false,
                late_samples: 0,
            })
            .collect();
        TwinRuntime {
            plant,
            start_ns,
            assets,
            lines,
            line_ids,
            line_index,
        }
    }

    pub fn plant(&self) -> &Arc<Plant> {
        &self.plant
    }

    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }

    /// Applies one committed sample (value in the signal's unit) with the line context in force at
    /// `ts_ns`. O(1) in the plant size; allocates only when it returns events.
    ///
    /// * A sample older than the signal's last one is counted as late and otherwise ignored (the
    ///   store keeps it; the live state does not roll back). Equal timestamps: the later call wins.
    /// * `ctx` selects the envelope and decides `idle` vs `down` for this sample; the line context
    ///   reported by [`TwinRuntime::line_state`] is the one set by [`TwinRuntime::set_line_context`].
    /// * Non-finite values are ignored (the ingest path quarantines them before this point).
    pub fn apply(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64, ctx: &LineContext) -> Vec<TwinEvent> {
        let mut events = Vec::new();
        let (Some(meta), Some(a)) = (self.plant.assets.get(asset), self.assets.get_mut(asset)) else {
            return events;
        };
        let (Some(sig_meta), Some(s)) = (meta.signals.get(signal), a.signals.get(signal)) else {
            return events;
        };
        if !value.is_finite() {
            return events;
        }
        if s.has_value && ts_ns < s.ts {
            a.late_samples += 1;
            return events;
        }
        // Time accounting: the interval up to this observation belongs to the state in force.
        a.advance(ts_ns);
        let at = ts_ns.max(a.acct_ts);

        // Production counters: increments, a decrease is a reset (the new value is the increment).
        if let Some(p) = &mut a.production
            && (signal == p.total || Some(signal) == p.scrap)
        {
            let s = &a.signals[signal];
            let delta = if !s.has_value {
                0.0
            } else if value >= s.value {
                value - s.value
            } else {
                value
            };
            if signal == p.total {
                p.produced += delta;
            } else {
                p.scrapped += delta;
            }
        }

        let s = &mut a.signals[signal];
        s.has_value = true;
        s.value = value;
        s.ts = ts_ns;

        // Envelope status with hysteresis, using the envelope selected for this sample's context.
        let previous = s.status;
        let status = match sig_meta.envelopes.select(ctx.mode.as_deref(), ctx.product.as_deref()) {
            Some(env) => {
                s.envelope = Some(*env);
                env.classify_with_hysteresis(value, previous)
            }
            None => {
                s.envelope = None;
                Status::Normal
            }
        };
        if status != previous {
            s.status = status;
            let alert_id = || Plant::series_key(&meta.id, &sig_meta.name);
            if status == Status::Normal {
                events.push(TwinEvent::AlertCleared {
                    alert_id: alert_id(),
                    asset: meta.id.clone(),
                    signal: sig_meta.name.clone(),
                    previous,
                    value,
                    since: s.alert_since,
                    ts: ts_ns,
                });
            } else {
                if previous == Status::Normal {
                    s.alert_since = ts_ns;
                }
                s.level_since = ts_ns;
                s.level_value = value;
                if status > previous {
                    // `status` was raised, so the value is really outside the lower range.
                    s.level_limit = s.envelope.map(|e| Limit::crossed(&e, status, value)).unwrap_or(s.level_limit);
                    events.push(TwinEvent::AlertRaised {
                        alert_id: alert_id(),
                        asset: meta.id.clone(),
                        signal: sig_meta.name.clone(),
                        level: status,
                        previous,
                        value,
                        limit: s.level_limit.describe(sig_meta.unit.symbol),
                        since: s.alert_since,
                        ts: ts_ns,
                    });
                } else {
                    // Alarm eased to warning: the limit of the warning level is the normal range.
                    s.level_limit = s.envelope.map(|e| Limit::crossed(&e, status, value)).unwrap_or(s.level_limit);
                    events.push(TwinEvent::AlertDowngraded {
                        alert_id: alert_id(),
                        asset: meta.id.clone(),
                        signal: sig_meta.name.clone(),
                        level: status,
                        previous,
                        value,
                        since: s.alert_since,
                        ts: ts_ns,
                    });
                }
            }
        }

        // Operating state.
        a.has_data = true;
        a.stale = false;
        a.last_seen = a.last_seen.max(ts_ns);
        a.planned_stop = ctx.mode.as_deref() == Some(PLANNED_STOP);
        let to = a.derive_state();
        a.transition(to, at, &meta.id, &mut events);
        events
    }

    /// The context of `line` changed at `ts_ns` (mode "planned_stop" = not scheduled): stopped
    /// assets of the line switch between `down` and `idle`. Envelope statuses follow at each
    /// signal's next sample. Unknown lines are ignored.
    pub fn set_line_context(&mut self, line: &str, ts_ns: i64, ctx: LineContext) -> Vec<TwinEvent> {
        let mut events = Vec::new();
        let Some(&li) = self.line_index.get(line) else {
            return events;
        };
        let planned_stop = ctx.mode.as_deref() == Some(PLANNED_STOP);
        let l = &mut self.lines[li];
        l.context = ctx;
        l.context_since = Some(ts_ns);
        for &ai in &l.assets {
            let a = &mut self.assets[ai];
            a.advance(ts_ns);
            a.planned_stop = planned_stop;
            let to = a.derive_state();
            let at = ts_ns.max(a.acct_ts);
            a.transition(to, at, &self.plant.assets[ai].id, &mut events);
        }
        events
    }

    /// Housekeeping at `now_ns` (wall or simulated time): an asset without data for longer than
    /// its stale limit becomes `stale` (at the instant the limit ran out, which makes the result
    /// independent of the tick cadence), and time accounting advances to `now_ns` (the current
    /// state is extrapolated up to the stale limit, no further).
    pub fn tick(&mut self, now_ns: i64) -> Vec<TwinEvent> {
        let mut events = Vec::new();
        for (a, meta) in self.assets.iter_mut().zip(&self.plant.assets) {
            if !a.stale {
                let horizon = a.last_seen.saturating_add(a.stale_after);
                if now_ns > horizon {
                    a.advance(horizon);
                    a.stale = true;
                    let at = horizon.max(a.acct_ts);
                    a.transition(OperatingState::Stale, at, &meta.id, &mut events);
                }
            }
            a.advance(now_ns);
        }
        events
    }

    /// Index of an asset by id.
    pub fn asset_index(&self, id: &str) -> Option<usize> {
        self.plant.asset_position(id)
    }

    /// Operating state of an asset (cheap; no snapshot).
    pub fn operating_state(&self, asset: usize) -> Option<OperatingState> {
        self.assets.get(asset).map(|a| a.state)
    }

    /// Health of an asset (cheap; no snapshot).
    pub fn health(&self, asset: usize) -> Option<Health> {
        self.assets.get(asset).map(AssetTwin::health)
    }

    /// KPIs of an asset.
    pub fn kpis(&self, asset: usize) -> Option<Kpis> {
        self.assets.get(asset).map(AssetTwin::kpis)
    }

    /// Snapshot of an asset; `None` for an invalid index.
    pub fn asset_state(&self, asset: usize) -> Option<AssetState> {
        let a = self.assets.get(asset)?;
        let meta = &self.plant.assets[asset];
        let line_ctx = self.lines.get(a.line).map(|l| &l.context);
        let signals = meta
            .signals
            .iter()
            .zip(&a.signals)
            .map(|(m, s)| SignalState {
                name: m.name.clone(),
                unit: m.unit.symbol.to_string(),
                kind: m.kind,
                last_value: s.has_value.then_some(s.value),
                last_ts: s.has_value.then_some(s.ts),
                label: (m.kind == SignalKind::State && s.has_value)
                    .then(|| usize::try_from(s.value.round() as i64).ok().and_then(|i| m.states.get(i)).cloned())
                    .flatten(),
                status: s.status,
                envelope: if s.has_value {
                    s.envelope
                } else {
                    m.envelopes
                        .select(line_ctx.and_then(|c| c.mode.as_deref()), line_ctx.and_then(|c| c.product.as_deref()))
                        .copied()
                },
            })
            .collect();
        Some(AssetState {
            id: meta.id.clone(),
            name: meta.name.clone(),
            line: meta.line.clone(),
            state: a.state,
            state_since: a.since,
            health: a.health(),
            signals,
            kpis: a.kpis(),
            open_alerts: meta
                .signals
                .iter()
                .zip(&a.signals)
                .filter(|(_, s)| s.status != Status::Normal)
                .map(|(m, _)| Plant::series_key(&meta.id, &m.name))
                .collect(),
            last_seen: a.has_data.then_some(a.last_seen),
            late_samples: a.late_samples,
        })
    }

    /// Snapshot of an asset by id.
    pub fn asset_state_by_id(&self, id: &str) -> Option<AssetState> {
        self.asset_state(self.asset_index(id)?)
    }

    /// Snapshot of a line; `None` for an unknown line.
    pub fn line_state(&self, line: &str) -> Option<LineState> {
        let &li = self.line_index.get(line)?;
        let l = &self.lines[li];
        let meta = self.plant.line(line)?;
        let mut health = HealthCounts::default();
        let mut worst: Option<Health> = None;
        let mut unplanned_down_ns: i64 = 0;
        let mut open_alerts = 0;
        for &ai in &l.assets {
            let a = &self.assets[ai];
            let h = a.health();
            health.add(h);
            if h != Health::Unknown {
                worst = worst.max(Some(h));
            }
            unplanned_down_ns += a.time_ns[OperatingState::Down.index()];
            open_alerts += a.open_alert_count();
        }
        let mut kpis = LineKpis {
            unplanned_downtime_s: unplanned_down_ns as f64 / NANOS_PER_SEC as f64,
            open_alerts,
            ..LineKpis::default()
        };
        if let Some(o) = l.output {
            let k = self.assets[o].kpis();
            kpis.availability = k.availability;
            kpis.performance = k.performance;
            kpis.performance_raw = k.performance_raw;
            kpis.quality = k.quality;
            kpis.quality_raw = k.quality_raw;
            kpis.oee = k.oee;
            kpis.produced = k.produced;
            kpis.scrap = k.scrap;
        }
        Some(LineState {
            id: self.line_ids[li].clone(),
            name: meta.name.clone(),
            context: l.context.clone(),
            context_since: l.context_since,
            output: l.output.map(|o| self.plant.assets[o].id.clone()),
            output_state: l.output.map(|o| self.assets[o].state),
            kpis,
            health,
            worst_health: worst.unwrap_or(Health::Unknown),
        })
    }

    /// The context currently set on a line.
    pub fn line_context(&self, line: &str) -> Option<&LineContext> {
        self.line_index.get(line).map(|&li| &self.lines[li].context)
    }

    /// All open alerts, in plant order (asset, then signal).
    pub fn open_alerts(&self) -> Vec<Alert> {
        let mut out = Vec::new();
        for (meta, a) in self.plant.assets.iter().zip(&self.assets) {
            for (m, s) in meta.signals.iter().zip(&a.signals) {
                if s.status != Status::Normal {
                    out.push(Alert {
                        id: Plant::series_key(&meta.id, &m.name),
                        asset: meta.id.clone(),
                        signal: m.name.clone(),
                        level: s.status,
                        since: s.alert_since,
                        level_since: s.level_since,
                        value: s.level_value,
                        limit: s.level_limit.describe(m.unit.symbol),
                        last_value: s.value,
                    });
                }
            }
        }
        out
    }
}
