//! What one simulation run reports. All shares are of the analysed period (after the warm-up); all times
//! are seconds.

use serde::{Deserialize, Serialize};

use crate::bottleneck::Bottleneck;
use crate::trace::TraceLog;

/// Server-seconds (or shares) per machine state. The states are exclusive; at any time a machine is in
/// exactly one, decided in this order: not scheduled (`off`), planned `maintenance`, unplanned `down`, then
/// what it does: `setup` (changeover), `busy` (processing), `blocked` (holding a finished unit, no room
/// downstream), `starved` (no unit to work on), `no_material` (a unit but no component to build it with).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StateTimes {
    pub off: f64,
    pub maintenance: f64,
    pub down: f64,
    pub setup: f64,
    pub busy: f64,
    pub blocked: f64,
    pub starved: f64,
    pub no_material: f64,
}

impl StateTimes {
    pub fn total(&self) -> f64 {
        self.off + self.maintenance + self.down + self.setup + self.busy + self.blocked + self.starved + self.no_material
    }

    pub(crate) fn add(&mut self, state: u8, dt: f64) {
        match state {
            0 => self.off += dt,
            1 => self.maintenance += dt,
            2 => self.down += dt,
            3 => self.setup += dt,
            4 => self.busy += dt,
            5 => self.blocked += dt,
            6 => self.starved += dt,
            _ => self.no_material += dt,
        }
    }

    /// Every field divided by `d`.
    pub fn share_of(&self, d: f64) -> StateTimes {
        let f = if d > 0.0 { 1.0 / d } else { 0.0 };
        StateTimes {
            off: self.off * f,
            maintenance: self.maintenance * f,
            down: self.down * f,
            setup: self.setup * f,
            busy: self.busy * f,
            blocked: self.blocked * f,
            starved: self.starved * f,
            no_material: self.no_material * f,
        }
    }
}

/// OEE per ISO 22400-2 for one work unit (a station, or the line).
///
/// * planned busy time PBT = scheduled time − planned maintenance;
/// * actual production time APT = time spent processing units;
/// * availability = APT / PBT (unplanned downtime, changeovers and the waiting of a station that is
///   starved or blocked are all losses against it; the state shares say which);
/// * performance (effectiveness) = Σ planned run time per unit × produced units / APT;
/// * quality = good quantity / produced quantity;
/// * OEE = availability × performance × quality.
///
/// For a station with several machines every time is summed over its machines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Oee {
    pub planned_busy_s: f64,
    pub actual_production_s: f64,
    /// Σ of the planned run time of the produced units.
    pub planned_run_s: f64,
    pub produced: u64,
    pub good: u64,
    pub availability: f64,
    pub performance: f64,
    pub quality: f64,
    pub oee: f64,
}

impl Oee {
    pub fn new(planned_busy_s: f64, actual_production_s: f64, planned_run_s: f64, produced: u64, good: u64) -> Oee {
        let div = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let availability = div(actual_production_s, planned_busy_s);
        let performance = div(planned_run_s, actual_production_s);
        let quality = div(good as f64, produced as f64);
        Oee {
            planned_busy_s,
            actual_production_s,
            planned_run_s,
            produced,
            good,
            availability,
            performance,
            quality,
            oee: availability * performance * quality,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationResult {
    pub id: String,
    pub servers: usize,
    /// Units processed here in the period.
    pub produced: u64,
    /// Processed and passed on (not scrapped, not sent to rework).
    pub good: u64,
    pub scrap: u64,
    pub rework: u64,
    pub failures: u64,
    pub changeovers: u64,
    pub throughput_per_h: f64,
    /// Server-seconds per state.
    pub time: StateTimes,
    /// Shares of server-time per state.
    pub shares: StateTimes,
    /// busy ÷ (machines × planned busy time).
    pub utilisation: f64,
    /// Time-average number of units waiting in the buffer (and at idle machines).
    pub mean_queue: f64,
    /// Time-average number of units at the station (waiting, in process, blocked).
    pub mean_wip: f64,
    /// Σ busy seconds × machine load (speed factor): the load-weighted busy time of the energy model.
    pub busy_load_s: f64,
    /// Electrical energy, kWh, if the station has a power model.
    pub energy_kwh: f64,
    pub oee: Oee,
}

/// Units leaving the line, by where they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceResult {
    pub id: String,
    pub entered: u64,
    /// Arrivals lost because the first buffer was full.
    pub lost: u64,
    pub good: u64,
    pub scrap: u64,
    pub throughput_per_h: f64,
    pub lead_time_mean_s: f64,
    pub lead_time_p95_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductResult {
    pub product: String,
    pub good: u64,
    pub scrap: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderResult {
    pub id: String,
    pub product: String,
    pub quantity: u32,
    pub good: u32,
    pub scrap: u32,
    pub release_s: f64,
    pub due_s: f64,
    pub weight: f64,
    /// When its last unit left the line; `None`: not finished within the horizon.
    pub completion_s: Option<f64>,
}

impl OrderResult {
    /// max(0, completion − due); unfinished orders count as finished at `horizon`.
    pub fn tardiness(&self, horizon: f64) -> f64 {
        (self.completion_s.unwrap_or(horizon) - self.due_s).max(0.0)
    }
}

/// Line KPIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineKpis {
    /// Good units out of the line per hour of the period.
    pub throughput_per_h: f64,
    pub good: u64,
    pub scrap: u64,
    pub lost: u64,
    pub reworks: u64,
    /// Time-average number of units in the line (entered, not yet left).
    pub wip_mean: f64,
    /// Lead time (entry to exit) of good units.
    pub lead_time_mean_s: f64,
    pub lead_time_p95_s: f64,
    /// Mean time in the line of every unit that left (good or scrap): the W of Little's law L = λW.
    pub sojourn_mean_s: f64,
    /// Units leaving (good or scrap) per second: the λ of Little's law.
    pub departure_rate_per_s: f64,
    /// Line OEE: PBT = scheduled time; APT = PBT − the reference station's downtime and changeovers
    /// (mean over its machines); performance = planned cycle × produced / APT; quality = good / produced
    /// (produced = good + scrapped anywhere). So OEE = planned cycle × good / PBT.
    pub oee: Oee,
    /// Electrical energy of the stations with a power model, kWh (see [`crate::energy`]).
    pub energy_kwh: f64,
}

/// State times per station per time bucket (for energy and tariffs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    pub width_s: f64,
    /// `time[station][bucket]`, bucket `b` covering `[b·width, (b+1)·width)` of sim time.
    pub time: Vec<Vec<StateTimes>>,
    /// `busy_load[station][bucket]`: Σ busy seconds × machine load (speed factor).
    pub busy_load: Vec<Vec<f64>>,
    /// Good units out of the line per bucket.
    pub good: Vec<u64>,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub line: String,
    pub seed: u64,
    pub warmup_s: f64,
    pub horizon_s: f64,
    /// horizon − warm-up.
    pub period_s: f64,
    /// Scheduled (shift) time within the period.
    pub scheduled_s: f64,
    pub stations: Vec<StationResult>,
    pub kpis: LineKpis,
    pub sources: Vec<SourceResult>,
    pub products: Vec<ProductResult>,
    pub orders: Vec<OrderResult>,
    pub bottleneck: Bottleneck,
    pub buckets: Option<Buckets>,
    #[serde(skip)]
    pub trace: Option<TraceLog>,
    /// Active periods of each station (input of [`crate::bottleneck::active_period_method`]).
    #[serde(skip)]
    pub active_periods: Vec<Vec<(f64, f64)>>,
    /// Events processed.
    pub events: u64,
    /// The line at the horizon, when [`crate::des::SimOptions::end_state`] asked for it ([`crate::state`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_state: Option<crate::state::LineState>,
}

impl RunResult {
    pub fn station(&self, id: &str) -> Option<&StationResult> {
        self.stations.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oee_is_the_product_of_its_factors() {
        let o = Oee::new(1000.0, 800.0, 720.0, 90, 81);
        assert!((o.availability - 0.8).abs() < 1e-12);
        assert!((o.performance - 0.9).abs() < 1e-12);
        assert!((o.quality - 0.9).abs() < 1e-12);
        assert!((o.oee - 0.648).abs() < 1e-12);
        assert_eq!(Oee::new(0.0, 0.0, 0.0, 0, 0).oee, 0.0);
    }

    #[test]
    fn state_times_add_and_share() {
        let mut s = StateTimes::default();
        for k in 0..8u8 {
            s.add(k, f64::from(k) + 1.0);
        }
        assert_eq!(s.total(), 36.0);
        assert_eq!(s.busy, 5.0);
        assert!((s.share_of(36.0).total() - 1.0).abs() < 1e-12);
        let o = OrderResult {
            id: "o".into(),
            product: "p".into(),
            quantity: 1,
            good: 1,
            scrap: 0,
            release_s: 0.0,
            due_s: 10.0,
            weight: 1.0,
            completion_s: Some(15.0),
        };
        assert_eq!(o.tardiness(100.0), 5.0);
        assert_eq!(OrderResult { completion_s: None, ..o }.tardiness(100.0), 90.0);
    }
}
