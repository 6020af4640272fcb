//! The line model: what a user (or the plant builder, [`crate::plant`]) describes, and its validation.
//!
//! A line is a network of **stations** fed by **sources**. Each station has one or more identical
//! parallel **machines** (servers), an input **buffer** of finite or unbounded capacity, and **routes** to
//! the next stations or out of the line. Times are seconds of simulated time from 0; by convention sim
//! time 0 is a Monday 00:00 local time, which is what [`Calendar`] shifts and [`crate::energy::Tariff`]
//! hours refer to.
//!
//! Blocking is *blocking after service* (BAS, the manufacturing convention): a machine that finished a
//! unit holds it until the destination buffer has room, and is **blocked** meanwhile. A buffer of
//! capacity `c` holds `c` waiting units; a unit may also wait at an idle machine of the station, and units
//! in transport towards a station count against its buffer (the conveyor is the buffer).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::dist::Dist;

/// A production line (or, via [`crate::factory`], a whole factory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineConfig {
    pub id: String,
    /// Product names; a product's index in this list is its id in results.
    pub products: Vec<String>,
    pub stations: Vec<StationConfig>,
    pub sources: Vec<SourceConfig>,
    /// Shift pattern of the whole line; `None`: scheduled all the time.
    #[serde(default)]
    pub calendar: Option<Calendar>,
    /// Component supplies consumed by stations ([`StationConfig::consumes`]).
    #[serde(default)]
    pub components: Vec<ComponentSupply>,
    /// Quality checks (measured characteristics) made at stations.
    #[serde(default)]
    pub quality: Vec<QualityCheck>,
    /// The station whose downtime and changeovers count as line downtime in the line's OEE; default:
    /// the design bottleneck (largest ideal cycle per machine ÷ machines).
    #[serde(default)]
    pub reference_station: Option<String>,
    /// Planned run time per unit of the line (ISO 22400 PRI at line level), seconds; default: the
    /// reference station's ideal cycle ÷ its machines.
    #[serde(default)]
    pub planned_cycle_s: Option<f64>,
}

/// A station: parallel machines behind one input buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationConfig {
    pub id: String,
    /// The parallel machines (servers); at least one.
    pub machines: Vec<Machine>,
    /// Processing time of one unit on one machine at nominal speed (products without their own entry).
    pub cycle: Dist,
    /// Product-specific processing times.
    #[serde(default)]
    pub cycle_by_product: BTreeMap<String, Dist>,
    /// Ideal (planned) cycle time for OEE performance; default: the mean of `cycle`. Product-specific
    /// ideals scale with their distribution's mean by the same ratio.
    #[serde(default)]
    pub ideal_cycle_s: Option<f64>,
    /// Input buffer capacity (waiting units); `None`: unbounded.
    #[serde(default)]
    pub buffer: Option<usize>,
    /// Changeover (set-up) times between products, seconds: `setup[from][to]`, indexed like
    /// [`LineConfig::products`]. A machine changes over when it starts a unit of another product than its last.
    #[serde(default)]
    pub setup: Option<Vec<Vec<f64>>>,
    /// Where finished good units go; empty: the next station in the list, or out of the line for the last.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Probability that a processed unit is scrapped here (before quality checks' own dispositions).
    #[serde(default)]
    pub scrap_p: f64,
    /// Probability that a processed unit needs rework.
    #[serde(default)]
    pub rework_p: f64,
    /// Station that reworks units (default: this one).
    #[serde(default)]
    pub rework_to: Option<String>,
    #[serde(default)]
    pub failures: Option<FailureModel>,
    /// Planned maintenance windows (absolute sim time): the station is not available and the time is
    /// scheduled out of its planned busy time.
    #[serde(default)]
    pub maintenance: Vec<Window>,
    /// Speed relative to the design (a what-if lever): processing times are divided by it, and so is
    /// the ideal cycle.
    #[serde(default = "one")]
    pub speed_factor: f64,
    /// Process variables measured on every machine at the start of each unit (e.g. a temperature).
    #[serde(default)]
    pub process_vars: Vec<ProcessVar>,
    /// Components consumed per unit started.
    #[serde(default)]
    pub consumes: Vec<Consumption>,
    /// Electrical power by state ([`crate::energy`]); `None`: not metered.
    #[serde(default)]
    pub power: Option<crate::energy::PowerModel>,
    /// Units waiting in the buffer at time 0 (the line's current state, cloned from the live line for a
    /// what-if); they may exceed the buffer capacity and count as entered at 0 from the first source.
    #[serde(default)]
    pub initial_wip: Vec<InitialUnits>,
}

/// `count` units of `product` present at the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialUnits {
    pub product: String,
    pub count: u32,
}

fn one() -> f64 {
    1.0
}

impl StationConfig {
    /// A station with `servers` healthy machines named `{id}-m{k}`, an unbounded buffer and no losses.
    pub fn new(id: &str, cycle: Dist, servers: usize) -> StationConfig {
        StationConfig {
            id: id.to_string(),
            machines: (0..servers).map(|k| Machine::new(&format!("{id}-m{}", k + 1))).collect(),
            cycle,
            cycle_by_product: BTreeMap::new(),
            ideal_cycle_s: None,
            buffer: None,
            setup: None,
            routes: Vec::new(),
            scrap_p: 0.0,
            rework_p: 0.0,
            rework_to: None,
            failures: None,
            maintenance: Vec::new(),
            speed_factor: 1.0,
            process_vars: Vec::new(),
            consumes: Vec::new(),
            power: None,
            initial_wip: Vec::new(),
        }
    }

    /// Builder: input buffer capacity.
    pub fn with_buffer(mut self, capacity: Option<usize>) -> StationConfig {
        self.buffer = capacity;
        self
    }

    /// Builder: failures.
    pub fn with_failures(mut self, f: FailureModel) -> StationConfig {
        self.failures = Some(f);
        self
    }
}

/// One machine (server) of a station, with the health its asset twin reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The plant asset id (traceability records it).
    pub asset: String,
    #[serde(default)]
    pub health: Health,
    /// The machine is down at time 0 and repaired after this many seconds (its current state).
    #[serde(default)]
    pub down_for_s: Option<f64>,
    /// The product the machine is set up for at time 0 (no changeover for it first).
    #[serde(default)]
    pub set_up_for: Option<String>,
}

impl Machine {
    pub fn new(asset: &str) -> Machine {
        Machine {
            asset: asset.to_string(),
            health: Health::default(),
            down_for_s: None,
            set_up_for: None,
        }
    }
}

/// A machine's condition as the simulator uses it: how much more often it fails and how much slower it
/// runs than designed. [`Health::from_twin`] derives it from an asset twin's prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Multiplies the station's base failure rate (1 = as designed).
    pub hazard_factor: f64,
    /// Failure rate added to the base rate, per second of operating time (from a predicted failure
    /// probability; see [`Health::from_twin`]).
    pub extra_hazard_per_s: f64,
    /// Processing speed relative to nominal (0.8: every cycle takes 1/0.8 = 1.25 times as long).
    pub speed_factor: f64,
    /// Multiplies the station's scrap probability.
    pub scrap_factor: f64,
    /// The twin's health index in [0, 1] (1 = new), recorded in genealogy.
    pub index: f64,
    /// The asset is in alarm (recorded in genealogy; units made meanwhile are "made while in alarm").
    pub alarm: bool,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            hazard_factor: 1.0,
            extra_hazard_per_s: 0.0,
            speed_factor: 1.0,
            scrap_factor: 1.0,
            index: 1.0,
            alarm: false,
        }
    }
}

/// A fully degraded machine (health index 0) runs this much slower than a new one (feed override).
pub const DEGRADED_SPEED_LOSS: f64 = 0.3;
/// A fully degraded machine scraps this many times more often than a new one, plus one.
pub const DEGRADED_EXTRA_SCRAP: f64 = 2.0;
/// Health index below which an asset counts as in alarm.
pub const ALARM_HEALTH_INDEX: f64 = 0.3;

impl Health {
    /// From an asset twin's prognosis (`doppel_twin::predict::AssetPrognosis`): the health index
    /// `h ∈ [0, 1]` and the probability `p ∈ [0, 1]` of failure within `horizon_s` (the twin reports it in
    /// percent, `failure_probability_pct`, over `horizon_h` hours: pass `pct / 100` and `horizon_h · 3600`).
    ///
    /// * Speed `1 − DEGRADED_SPEED_LOSS·(1 − h)` and scrap factor `1 + DEGRADED_EXTRA_SCRAP·(1 − h)`: a worn
    ///   spindle cuts slower and makes more scrap, as in doppel-sim.
    /// * The predicted probability becomes the constant hazard with the same probability over the
    ///   horizon: `λ = −ln(1 − p) / horizon` (p capped at 0.999), added to the station's base rate.
    /// * Alarm when `h < ALARM_HEALTH_INDEX`.
    ///
    /// Missing values leave the corresponding effect neutral.
    pub fn from_twin(health_index: Option<f64>, failure_probability: Option<f64>, horizon_s: f64) -> Health {
        let h = health_index.map(|h| h.clamp(0.0, 1.0)).unwrap_or(1.0);
        let extra = match failure_probability {
            Some(p) if horizon_s > 0.0 && p > 0.0 => -(1.0 - p.min(0.999)).ln() / horizon_s,
            _ => 0.0,
        };
        Health {
            hazard_factor: 1.0,
            extra_hazard_per_s: extra,
            speed_factor: 1.0 - DEGRADED_SPEED_LOSS * (1.0 - h),
            scrap_factor: 1.0 + DEGRADED_EXTRA_SCRAP * (1.0 - h),
            index: h,
            alarm: health_index.is_some_and(|x| x < ALARM_HEALTH_INDEX),
        }
    }
}

/// A route out of a station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Destination station; `None`: out of the line (finished).
    pub to: Option<String>,
    /// Share of units taking this route; the shares of a station are normalised to sum to 1.
    #[serde(default = "one")]
    pub p: f64,
    /// Transport time to the destination, seconds (units in transport count against its buffer).
    #[serde(default)]
    pub transport_s: f64,
}

/// When time-based failures happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClock {
    /// Failures in scheduled calendar time, whatever the machine does (idle machines fail too); the
    /// interrupted unit resumes after the repair (pre-empt–resume).
    Calendar,
    /// Failures after a number of operations: `mean_between` is the mean number of units between failures.
    Operations,
}

/// Failures and repairs of every machine of a station.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FailureModel {
    pub clock: FailureClock,
    /// Mean operating time between failures (s) for `calendar`, mean number of operations for `operations`,
    /// of a healthy machine. Times to failure are exponential (constant hazard) scaled by the machine's
    /// [`Health`].
    pub mean_between: f64,
    pub repair: Dist,
}

/// A time interval `[start_s, end_s)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start_s: f64,
    pub end_s: f64,
}

/// A repeating shift pattern: the line is scheduled when `t mod period_s` falls in one of the shifts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    pub period_s: f64,
    pub shifts: Vec<Window>,
}

pub const HOUR: f64 = 3600.0;
pub const DAY: f64 = 86_400.0;
pub const WEEK: f64 = 7.0 * DAY;

impl Calendar {
    /// The same daily shift `[start_h, end_h)` (hours of the day; `end_h` may exceed 24 for a night shift) on
    /// the first `days` days of each week (Monday first).
    pub fn daily(days: usize, start_h: f64, end_h: f64) -> Calendar {
        Calendar::daily_shifts(days, &[(start_h, end_h)])
    }

    /// Several daily shifts on the first `days` days of each week.
    pub fn daily_shifts(days: usize, shifts: &[(f64, f64)]) -> Calendar {
        let mut out = Vec::new();
        for d in 0..days {
            for &(a, b) in shifts {
                out.push(Window {
                    start_s: d as f64 * DAY + a * HOUR,
                    end_s: d as f64 * DAY + b * HOUR,
                });
            }
        }
        Calendar { period_s: WEEK, shifts: out }
    }

    /// The scheduled intervals within `[0, horizon]`, sorted and merged.
    pub fn intervals(&self, horizon: f64) -> Vec<Window> {
        let mut out: Vec<Window> = Vec::new();
        if self.period_s <= 0.0 {
            return out;
        }
        // k = −1: shifts of the previous period that run past its end (a Sunday night shift)
        let mut k = -1.0;
        while k * self.period_s < horizon {
            for w in &self.shifts {
                let a = (k * self.period_s + w.start_s).max(0.0);
                let b = (k * self.period_s + w.end_s).min(horizon);
                if b > a {
                    out.push(Window { start_s: a, end_s: b });
                }
            }
            k += 1.0;
        }
        merge_windows(out)
    }

    /// Scheduled seconds in `[0, horizon]`.
    pub fn scheduled_s(&self, horizon: f64) -> f64 {
        self.intervals(horizon).iter().map(|w| w.end_s - w.start_s).sum()
    }
}

/// Sorts and merges overlapping or touching windows.
pub fn merge_windows(mut w: Vec<Window>) -> Vec<Window> {
    w.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let mut out: Vec<Window> = Vec::with_capacity(w.len());
    for x in w {
        match out.last_mut() {
            Some(l) if x.start_s <= l.end_s => l.end_s = l.end_s.max(x.end_s),
            _ => out.push(x),
        }
    }
    out
}

/// Where units come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    pub id: String,
    /// The station the units enter.
    pub to: String,
    pub arrivals: Arrivals,
    /// Product mix (weights, normalised); empty: the first product only. Ignored for orders.
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    /// Consecutive units of one product (campaign size) drawn from the mix; default 1.
    #[serde(default = "one_u32")]
    pub batch_size: u32,
}

fn one_u32() -> u32 {
    1
}

/// An arrival process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrivals {
    /// Unlimited raw material: the target station's machines never starve for want of a unit (the
    /// usual set-up for capacity studies). A unit enters the line when a machine starts it.
    Saturated,
    /// A renewal process (Poisson for exponential inter-arrival times). An arrival that finds the target
    /// buffer full is lost (counted; the M/M/1/K convention).
    Renewal {
        interarrival: Dist,
        /// Stop after this many arrivals.
        #[serde(default)]
        limit: Option<u64>,
    },
    /// Released orders: each order's units join a release queue at its release time and enter the target
    /// station in order as its buffer has room.
    Orders { orders: Vec<Order> },
}

/// A production order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub product: String,
    pub quantity: u32,
    #[serde(default)]
    pub release_s: f64,
    pub due_s: f64,
    #[serde(default = "one")]
    pub weight: f64,
}

/// A component and its lots: lots arrive at their times and are consumed first in, first out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSupply {
    pub component: String,
    pub lots: Vec<Lot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    pub id: String,
    pub quantity: u64,
    #[serde(default)]
    pub arrival_s: f64,
}

/// Components a station consumes per unit started; a machine without them waits (state `no_material`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consumption {
    pub component: String,
    #[serde(default = "one_u32")]
    pub per_unit: u32,
}

/// A process variable: `mean + drift(t) + x(t)` where `x` is an Ornstein–Uhlenbeck process with stationary
/// standard deviation `sd` and time constant `tau_s` (exact update `x' = x·e^(−Δ/τ) + sd·√(1−e^(−2Δ/τ))·Z`,
/// per machine), sampled when a unit starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessVar {
    pub name: String,
    pub mean: f64,
    pub sd: f64,
    /// Correlation time, seconds (0: independent draws).
    #[serde(default)]
    pub tau_s: f64,
    #[serde(default)]
    pub drifts: Vec<Drift>,
    /// The machine is in alarm while the variable is above this.
    #[serde(default)]
    pub alarm_above: Option<f64>,
    #[serde(default)]
    pub alarm_below: Option<f64>,
}

/// A disturbance: the variable's offset ramps linearly from 0 at `start_s` to `delta` at `start_s + ramp_s`,
/// holds, and is gone from `end_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub start_s: f64,
    pub end_s: f64,
    #[serde(default)]
    pub ramp_s: f64,
    pub delta: f64,
    /// Only on this machine (index in the station); `None`: every machine.
    #[serde(default)]
    pub machine: Option<usize>,
}

impl ProcessVar {
    /// The drift offset at `t` on machine `m`.
    pub fn offset(&self, t: f64, m: usize) -> f64 {
        self.drifts
            .iter()
            .filter(|d| t >= d.start_s && t < d.end_s && d.machine.is_none_or(|x| x == m))
            .map(|d| {
                if d.ramp_s > 0.0 {
                    d.delta * ((t - d.start_s) / d.ramp_s).min(1.0)
                } else {
                    d.delta
                }
            })
            .sum()
    }
}

/// A measured quality characteristic: `nominal + Σ coef·(v − mean_v) + noise`, where `v` is the value of an
/// upstream process variable when *this unit* was processed there. Outside `[lower, upper]` the unit is
/// scrapped or reworked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityCheck {
    pub name: String,
    /// The station that measures it, at the end of processing.
    pub at: String,
    pub nominal: f64,
    pub noise_sd: f64,
    pub lower: f64,
    pub upper: f64,
    #[serde(default)]
    pub effects: Vec<Effect>,
    #[serde(default)]
    pub on_fail: Disposition,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub station: String,
    pub var: String,
    pub coef: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    #[default]
    Scrap,
    Rework,
}

// ---------------------------------------------------------------------------------------------------------
// Compiled form

/// Route target in compiled form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Target {
    Station(usize),
    Out,
}

#[derive(Debug, Clone)]
pub(crate) struct CStation {
    pub id: String,
    pub machines: Vec<Machine>,
    /// Global asset index of each machine.
    pub asset_idx: Vec<usize>,
    pub cycle: Vec<Dist>,
    pub ideal: Vec<f64>,
    pub buffer: usize,
    pub setup: Option<Vec<Vec<f64>>>,
    /// (target, cumulative probability, transport seconds)
    pub routes: Vec<(Target, f64, f64)>,
    pub scrap_p: f64,
    pub rework_p: f64,
    pub rework_to: usize,
    pub failures: Option<FailureModel>,
    pub maintenance: Vec<Window>,
    pub speed: f64,
    pub vars: Vec<ProcessVar>,
    /// Condition slot of each variable (if a quality effect reads it).
    pub var_slot: Vec<Option<usize>>,
    pub consumes: Vec<(usize, u32)>,
    pub checks: Vec<usize>,
    /// Fed by this saturated source.
    pub saturated: Option<usize>,
    pub power: Option<crate::energy::PowerModel>,
    /// (product, count) at time 0
    pub initial: Vec<(usize, u32)>,
    /// product each machine is set up for at time 0
    pub set_up_for: Vec<Option<usize>>,
}

#[derive(Debug, Clone)]
pub(crate) enum CArrivals {
    Saturated,
    Renewal(Dist, Option<u64>),
    Orders(Vec<(String, usize, u32, f64, f64, f64)>),
}

#[derive(Debug, Clone)]
pub(crate) struct CSource {
    pub id: String,
    pub to: usize,
    pub arrivals: CArrivals,
    /// cumulative mix weights over products
    pub mix: Vec<f64>,
    pub batch: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct CCheck {
    pub name: String,
    pub nominal: f64,
    pub noise_sd: f64,
    pub lower: f64,
    pub upper: f64,
    /// (slot, coef, var mean)
    pub effects: Vec<(usize, f64, f64)>,
    pub on_fail: Disposition,
}

/// A lot in compiled form: (id, quantity, arrival).
pub(crate) type CLot = (String, u64, f64);

/// A validated line, ready to simulate many times.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub id: String,
    pub products: Vec<String>,
    pub stations: Vec<CStation>,
    pub sources: Vec<CSource>,
    pub calendar: Option<Calendar>,
    /// component name, lots
    pub components: Vec<(String, Vec<CLot>)>,
    /// stations consuming each component
    pub consumers: Vec<Vec<usize>>,
    pub checks: Vec<CCheck>,
    pub n_slots: usize,
    pub assets: Vec<String>,
    pub reference: usize,
    pub planned_cycle_s: f64,
}

impl LineConfig {
    /// Station index by id.
    pub fn station_index(&self, id: &str) -> Option<usize> {
        self.stations.iter().position(|s| s.id == id)
    }

    /// The station with the largest ideal cycle per unit of capacity (ideal cycle ÷ machines ÷ speed):
    /// the bottleneck a person reads off the configuration, ignoring variability, failures and set-ups.
    pub fn design_bottleneck(&self) -> Option<usize> {
        (0..self.stations.len()).max_by(|&a, &b| self.capacity_cycle(a).total_cmp(&self.capacity_cycle(b)))
    }

    /// Ideal seconds per unit of station `i` as a whole (mix-weighted over the first source's mix).
    pub fn capacity_cycle(&self, i: usize) -> f64 {
        let s = &self.stations[i];
        let ratio = s.ideal_cycle_s.map(|x| x / s.cycle.mean()).unwrap_or(1.0);
        let mix: Vec<(String, f64)> = match self.sources.first() {
            Some(src) if !src.mix.is_empty() => src.mix.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            _ => self.products.first().map(|p| vec![(p.clone(), 1.0)]).unwrap_or_default(),
        };
        let total: f64 = mix.iter().map(|x| x.1).sum();
        let mean = if total > 0.0 {
            mix.iter().map(|(p, w)| w * s.cycle_by_product.get(p).unwrap_or(&s.cycle).mean()).sum::<f64>() / total
        } else {
            s.cycle.mean()
        };
        mean * ratio / s.machines.len().max(1) as f64 / s.speed_factor
    }

    pub(crate) fn compile(&self) -> Result<Model, LineError> {
        let inv = LineError::invalid;
        if self.products.is_empty() {
            return Err(inv("products", "at least one product"));
        }
        if self.stations.is_empty() {
            return Err(inv("stations", "at least one station"));
        }
        let np = self.products.len();
        if np > u16::MAX as usize || self.stations.len() > u16::MAX as usize {
            return Err(inv("stations", "too many products or stations"));
        }
        let product = |p: &str| {
            self.products
                .iter()
                .position(|x| x == p)
                .ok_or_else(|| LineError::UnknownProduct(p.to_string()))
        };
        let station = |s: &str| self.station_index(s).ok_or_else(|| LineError::UnknownStation(s.to_string()));
        for (i, s) in self.stations.iter().enumerate() {
            if self.stations[..i].iter().any(|o| o.id == s.id) {
                return Err(inv(&format!("stations.{}", s.id), "duplicate station id"));
            }
        }
        let comp_index = |c: &str| {
            self.components
                .iter()
                .position(|x| x.component == c)
                .ok_or_else(|| LineError::UnknownComponent(c.to_string()))
        };
        let mut assets: Vec<String> = Vec::new();
        let mut stations = Vec::with_capacity(self.stations.len());
        for (i, s) in self.stations.iter().enumerate() {
            let f = |x: &str| format!("stations.{}.{x}", s.id);
            if s.machines.is_empty() {
                return Err(inv(&f("machines"), "at least one machine"));
            }
            s.cycle.validate(&f("cycle"))?;
            if s.cycle.mean() <= 0.0 {
                return Err(inv(&f("cycle"), "mean must be > 0"));
            }
            if !(s.speed_factor.is_finite() && s.speed_factor > 0.0) {
                return Err(inv(&f("speed_factor"), "must be > 0"));
            }
            let ratio = match s.ideal_cycle_s {
                Some(x) if x.is_finite() && x > 0.0 => x / s.cycle.mean(),
                Some(_) => return Err(inv(&f("ideal_cycle_s"), "must be > 0")),
                None => 1.0,
            };
            let mut cycle = vec![s.cycle; np];
            for (p, d) in &s.cycle_by_product {
                d.validate(&f(&format!("cycle_by_product.{p}")))?;
                if d.mean() <= 0.0 {
                    return Err(inv(&f(&format!("cycle_by_product.{p}")), "mean must be > 0"));
                }
                cycle[product(p)?] = *d;
            }
            let ideal = cycle.iter().map(|d| d.mean() * ratio / s.speed_factor).collect();
            if let Some(m) = &s.setup
                && (m.len() != np || m.iter().any(|r| r.len() != np || r.iter().any(|x| !(x.is_finite() && *x >= 0.0))))
            {
                return Err(inv(&f("setup"), "must be a products × products matrix of times ≥ 0"));
            }
            let mut routes = Vec::new();
            if s.routes.is_empty() {
                let t = if i + 1 < self.stations.len() { Target::Station(i + 1) } else { Target::Out };
                routes.push((t, 1.0, 0.0));
            } else {
                let total: f64 = s.routes.iter().map(|r| r.p).sum();
                if !(total > 0.0 && total.is_finite()) || s.routes.iter().any(|r| r.p < 0.0 || !(r.transport_s >= 0.0 && r.transport_s.is_finite())) {
                    return Err(inv(&f("routes"), "shares must be ≥ 0 with a positive sum; transport ≥ 0"));
                }
                let mut cum = 0.0;
                for r in &s.routes {
                    cum += r.p / total;
                    let t = match &r.to {
                        Some(to) => Target::Station(station(to)?),
                        None => Target::Out,
                    };
                    routes.push((t, cum, r.transport_s));
                }
                if let Some(l) = routes.last_mut() {
                    l.1 = 1.0;
                }
            }
            if !(0.0..=1.0).contains(&s.scrap_p) || !(0.0..=1.0).contains(&s.rework_p) || s.scrap_p + s.rework_p > 1.0 {
                return Err(inv(&f("scrap_p"), "scrap_p, rework_p ≥ 0 with a sum ≤ 1"));
            }
            let rework_to = match &s.rework_to {
                Some(r) => station(r)?,
                None => i,
            };
            if let Some(fm) = &s.failures {
                fm.repair.validate(&f("failures.repair"))?;
                if !(fm.mean_between.is_finite() && fm.mean_between > 0.0) {
                    return Err(inv(&f("failures.mean_between"), "must be > 0"));
                }
            }
            for m in &s.machines {
                let h = &m.health;
                if !(h.speed_factor > 0.0 && h.hazard_factor >= 0.0 && h.extra_hazard_per_s >= 0.0 && h.scrap_factor >= 0.0)
                    || !(h.speed_factor.is_finite() && h.hazard_factor.is_finite() && h.extra_hazard_per_s.is_finite())
                {
                    return Err(inv(&f(&format!("machines.{}.health", m.asset)), "speed > 0, factors ≥ 0, finite"));
                }
            }
            for w in &s.maintenance {
                if !(w.end_s >= w.start_s && w.start_s.is_finite() && w.end_s.is_finite()) {
                    return Err(inv(&f("maintenance"), "windows need start ≤ end"));
                }
            }
            for v in &s.process_vars {
                if !(v.sd >= 0.0 && v.tau_s >= 0.0 && v.mean.is_finite()) {
                    return Err(inv(&f(&format!("process_vars.{}", v.name)), "sd ≥ 0, tau ≥ 0"));
                }
            }
            if let Some(pm) = &s.power {
                pm.validate(&f("power"))?;
            }
            for m in &s.machines {
                if m.down_for_s.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
                    return Err(inv(&f(&format!("machines.{}.down_for_s", m.asset)), "must be finite and ≥ 0"));
                }
            }
            let set_up_for = s
                .machines
                .iter()
                .map(|m| m.set_up_for.as_deref().map(product).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            let initial = s
                .initial_wip
                .iter()
                .map(|w| Ok((product(&w.product)?, w.count)))
                .collect::<Result<Vec<_>, LineError>>()?;
            let consumes = s
                .consumes
                .iter()
                .map(|c| Ok((comp_index(&c.component)?, c.per_unit)))
                .collect::<Result<Vec<_>, LineError>>()?;
            let asset_idx = s
                .machines
                .iter()
                .map(|m| match assets.iter().position(|a| *a == m.asset) {
                    Some(k) => k,
                    None => {
                        assets.push(m.asset.clone());
                        assets.len() - 1
                    }
                })
                .collect();
            stations.push(CStation {
                id: s.id.clone(),
                machines: s.machines.clone(),
                asset_idx,
                cycle,
                ideal,
                buffer: s.buffer.unwrap_or(usize::MAX),
                setup: s.setup.clone(),
                routes,
                scrap_p: s.scrap_p,
                rework_p: s.rework_p,
                rework_to,
                failures: s.failures,
                maintenance: merge_windows(s.maintenance.clone()),
                speed: s.speed_factor,
                vars: s.process_vars.clone(),
                var_slot: vec![None; s.process_vars.len()],
                consumes,
                checks: Vec::new(),
                saturated: None,
                power: s.power,
                initial,
                set_up_for,
            });
        }
        if self.sources.is_empty() {
            return Err(inv("sources", "at least one source"));
        }
        let mut sources = Vec::new();
        for (k, src) in self.sources.iter().enumerate() {
            let f = |x: &str| format!("sources.{}.{x}", src.id);
            let to = station(&src.to)?;
            let mut mix = vec![0.0; np];
            if src.mix.is_empty() {
                mix[0] = 1.0;
            } else {
                for (p, w) in &src.mix {
                    if !(w.is_finite() && *w >= 0.0) {
                        return Err(inv(&f("mix"), "weights must be ≥ 0"));
                    }
                    mix[product(p)?] += w;
                }
            }
            let total: f64 = mix.iter().sum();
            if total <= 0.0 {
                return Err(inv(&f("mix"), "weights must have a positive sum"));
            }
            let mut cum = 0.0;
            for m in &mut mix {
                cum += *m / total;
                *m = cum;
            }
            let arrivals = match &src.arrivals {
                Arrivals::Saturated => {
                    if stations[to].saturated.is_some() {
                        return Err(inv(&f("to"), "a station can be fed by one saturated source only"));
                    }
                    stations[to].saturated = Some(k);
                    CArrivals::Saturated
                }
                Arrivals::Renewal { interarrival, limit } => {
                    interarrival.validate(&f("interarrival"))?;
                    if interarrival.mean() <= 0.0 {
                        return Err(inv(&f("interarrival"), "mean must be > 0"));
                    }
                    CArrivals::Renewal(*interarrival, *limit)
                }
                Arrivals::Orders { orders } => {
                    let mut out = Vec::new();
                    for o in orders {
                        if !(o.release_s.is_finite() && o.release_s >= 0.0 && o.due_s.is_finite() && o.weight >= 0.0) {
                            return Err(inv(&f(&format!("orders.{}", o.id)), "release ≥ 0, finite due date, weight ≥ 0"));
                        }
                        out.push((o.id.clone(), product(&o.product)?, o.quantity, o.release_s, o.due_s, o.weight));
                    }
                    CArrivals::Orders(out)
                }
            };
            sources.push(CSource {
                id: src.id.clone(),
                to,
                arrivals,
                mix,
                batch: src.batch_size.max(1),
            });
        }
        let mut components = Vec::new();
        for c in &self.components {
            for l in &c.lots {
                if !(l.arrival_s.is_finite() && l.arrival_s >= 0.0) {
                    return Err(inv(&format!("components.{}.lots.{}", c.component, l.id), "arrival ≥ 0"));
                }
            }
            components.push((c.component.clone(), c.lots.iter().map(|l| (l.id.clone(), l.quantity, l.arrival_s)).collect()));
        }
        let mut consumers = vec![Vec::new(); components.len()];
        for (i, s) in stations.iter().enumerate() {
            for &(c, _) in &s.consumes {
                consumers[c].push(i);
            }
        }
        let mut checks = Vec::new();
        let mut n_slots = 0;
        for (k, q) in self.quality.iter().enumerate() {
            let at = station(&q.at)?;
            if !(q.noise_sd >= 0.0 && q.lower <= q.upper) {
                return Err(inv(&format!("quality.{}", q.name), "noise ≥ 0 and lower ≤ upper"));
            }
            let mut effects = Vec::new();
            for e in &q.effects {
                let si = station(&e.station)?;
                let vi = stations[si].vars.iter().position(|v| v.name == e.var).ok_or_else(|| {
                    inv(
                        &format!("quality.{}.effects", q.name),
                        &format!("station '{}' has no variable '{}'", e.station, e.var),
                    )
                })?;
                let slot = match stations[si].var_slot[vi] {
                    Some(x) => x,
                    None => {
                        stations[si].var_slot[vi] = Some(n_slots);
                        n_slots += 1;
                        n_slots - 1
                    }
                };
                effects.push((slot, e.coef, stations[si].vars[vi].mean));
            }
            stations[at].checks.push(k);
            checks.push(CCheck {
                name: q.name.clone(),
                nominal: q.nominal,
                noise_sd: q.noise_sd,
                lower: q.lower,
                upper: q.upper,
                effects,
                on_fail: q.on_fail,
            });
        }
        if let Some(c) = &self.calendar
            && !(c.period_s > 0.0 && c.shifts.iter().all(|w| w.end_s >= w.start_s))
        {
            return Err(inv("calendar", "period > 0 and shifts with start ≤ end"));
        }
        let reference = match &self.reference_station {
            Some(r) => station(r)?,
            None => self.design_bottleneck().unwrap_or(0),
        };
        let planned_cycle_s = match self.planned_cycle_s {
            Some(x) if x.is_finite() && x > 0.0 => x,
            Some(_) => return Err(inv("planned_cycle_s", "must be > 0")),
            None => self.capacity_cycle(reference),
        };
        Ok(Model {
            id: self.id.clone(),
            products: self.products.clone(),
            stations,
            sources,
            calendar: self.calendar.clone(),
            components,
            consumers,
            checks,
            n_slots,
            assets,
            reference,
            planned_cycle_s,
        })
    }

    /// Validates the configuration (everything [`crate::des::Simulator::new`] checks).
    pub fn validate(&self) -> Result<(), LineError> {
        self.compile().map(|_| ())
    }

    /// A serial line: a saturated source, then `stations` in order (each to the next, the last out).
    pub fn serial(id: &str, stations: Vec<StationConfig>) -> LineConfig {
        let first = stations.first().map(|s| s.id.clone()).unwrap_or_default();
        LineConfig {
            id: id.to_string(),
            products: vec!["p".to_string()],
            stations,
            sources: vec![SourceConfig {
                id: "in".to_string(),
                to: first,
                arrivals: Arrivals::Saturated,
                mix: BTreeMap::new(),
                batch_size: 1,
            }],
            calendar: None,
            components: Vec::new(),
            quality: Vec::new(),
            reference_station: None,
            planned_cycle_s: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> LineConfig {
        LineConfig::serial(
            "l",
            vec![
                StationConfig::new("a", Dist::Deterministic { value: 10.0 }, 1),
                StationConfig::new("b", Dist::Exponential { mean: 30.0 }, 2).with_buffer(Some(5)),
                StationConfig::new("c", Dist::LogNormal { mean: 12.0, cv: 0.2 }, 1),
            ],
        )
    }

    #[test]
    fn compiles_and_names_the_design_bottleneck() {
        let l = line();
        l.validate().unwrap();
        assert_eq!(l.design_bottleneck(), Some(1));
        assert!((l.capacity_cycle(1) - 15.0).abs() < 1e-12);
        let m = l.compile().unwrap();
        assert_eq!(m.reference, 1);
        assert!((m.planned_cycle_s - 15.0).abs() < 1e-12);
        assert_eq!(m.stations[0].routes, vec![(Target::Station(1), 1.0, 0.0)]);
        assert_eq!(m.stations[2].routes, vec![(Target::Out, 1.0, 0.0)]);
        assert_eq!(m.assets.len(), 4);
        assert_eq!(m.stations[0].saturated, Some(0));
    }

    #[test]
    fn invalid_configs_are_rejected_with_the_field() {
        let mut l = line();
        l.stations[1].scrap_p = 0.8;
        l.stations[1].rework_p = 0.5;
        assert!(matches!(l.validate(), Err(LineError::Invalid { field, .. }) if field == "stations.b.scrap_p"));
        let mut l = line();
        l.stations[0].routes = vec![Route {
            to: Some("zz".into()),
            p: 1.0,
            transport_s: 0.0,
        }];
        assert_eq!(l.validate(), Err(LineError::UnknownStation("zz".into())));
        let mut l = line();
        l.stations[2].setup = Some(vec![vec![0.0, 1.0]]);
        assert!(l.validate().is_err());
        let mut l = line();
        l.stations.push(l.stations[0].clone());
        assert!(l.validate().is_err());
        let mut l = line();
        l.sources[0].mix.insert("nope".into(), 1.0);
        assert_eq!(l.validate(), Err(LineError::UnknownProduct("nope".into())));
    }

    #[test]
    fn calendar_intervals_and_windows() {
        let c = Calendar::daily(5, 6.0, 14.0);
        let iv = c.intervals(WEEK);
        assert_eq!(iv.len(), 5);
        assert!((c.scheduled_s(WEEK) - 40.0 * HOUR).abs() < 1e-9);
        let night = Calendar::daily(5, 22.0, 30.0);
        assert!((night.scheduled_s(2.0 * WEEK) - 80.0 * HOUR).abs() < 1e-9);
        // a Sunday night shift wraps into Monday morning of the next week
        let sunday = Calendar::daily_shifts(7, &[(22.0, 30.0)]);
        assert!((sunday.scheduled_s(WEEK) - 7.0 * 8.0 * HOUR).abs() < 1e-9);
        assert_eq!(
            sunday.intervals(WEEK)[0],
            Window {
                start_s: 0.0,
                end_s: 6.0 * HOUR
            }
        );
        let m = merge_windows(vec![
            Window { start_s: 5.0, end_s: 7.0 },
            Window { start_s: 0.0, end_s: 5.0 },
            Window { start_s: 9.0, end_s: 10.0 },
        ]);
        assert_eq!(m, vec![Window { start_s: 0.0, end_s: 7.0 }, Window { start_s: 9.0, end_s: 10.0 }]);
    }

    #[test]
    fn health_from_twin_maps_probability_to_hazard() {
        let h = Health::from_twin(Some(0.5), Some(0.5), 3600.0);
        assert!((h.extra_hazard_per_s - 2f64.ln() / 3600.0).abs() < 1e-15);
        assert!((h.speed_factor - (1.0 - 0.5 * DEGRADED_SPEED_LOSS)).abs() < 1e-12);
        assert!(!h.alarm);
        assert!(Health::from_twin(Some(0.1), None, 1.0).alarm);
        assert_eq!(Health::from_twin(None, None, 1.0), Health::default());
        let v = ProcessVar {
            name: "t".into(),
            mean: 0.0,
            sd: 0.0,
            tau_s: 0.0,
            drifts: vec![Drift {
                start_s: 10.0,
                end_s: 30.0,
                ramp_s: 10.0,
                delta: 4.0,
                machine: None,
            }],
            alarm_above: None,
            alarm_below: None,
        };
        assert_eq!(v.offset(5.0, 0), 0.0);
        assert!((v.offset(15.0, 0) - 2.0).abs() < 1e-12);
        assert_eq!(v.offset(25.0, 1), 4.0);
        assert_eq!(v.offset(30.0, 0), 0.0);
    }

    #[test]
    fn line_config_round_trips_through_json() {
        let l = line();
        let j = serde_json::to_string(&l).unwrap();
        let back: LineConfig = serde_json::from_str(&j).unwrap();
        assert_eq!(back, l);
    }
}
