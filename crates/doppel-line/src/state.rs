//! The state of a line between two runs, so that production can be simulated in consecutive chunks (a
//! live production twin: each chunk with the machines' health at that moment) as if it were one run.
//!
//! A run with [`crate::des::SimOptions::end_state`] reports, at its horizon, every unit in the line (where it
//! is, what is happening to it and for how much longer), every machine (down and for how long, the product
//! it is set up for, the stochastic part of its process variables, an open alarm), every source (the
//! campaign under way, the next arrival) and the component lots on hand. [`crate::des::Simulator::run_from`]
//! continues from such a state: the next run's time 0 is the previous run's horizon.
//!
//! * Units keep their serial numbers and their entry time (negative: before the run); a unit that was being
//!   processed keeps its remaining processing time, the time it started (its genealogy visit starts before
//!   the run) and the process conditions measured then; units in transport arrive after their remaining
//!   transport time; a blocked machine still holds its unit. Values that downstream quality checks read from
//!   a unit (its process conditions) travel with it.
//! * Machines stay down for their remaining repair time, stay set up for their product, continue their
//!   process variables' Ornstein–Uhlenbeck paths and their open alarm.
//! * Time to the next failure is drawn afresh: failure times are exponential (constant hazard), so a fresh
//!   draw has the same distribution as the rest of the old one, and the machine's health may have changed.
//! * Component lots are part of the configuration: build the next run's supplies from [`LineState::lots`]
//!   (on hand at 0) plus what arrives later.
//! * Not carried: units of released orders still waiting to enter (each run releases its own orders), and
//!   statistics (each run reports its own period).

use serde::{Deserialize, Serialize};

/// Units, machines, sources and lots of a line at one instant.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LineState {
    /// Units in the line: by station in line order, at each station the units on its machines first, then
    /// those waiting (in queue order), then those travelling to it (soonest first).
    pub units: Vec<UnitState>,
    pub machines: Vec<MachineState>,
    pub sources: Vec<SourceState>,
    /// Lots on hand with their remaining quantity, in consumption order (first in, first out).
    pub lots: Vec<LotState>,
}

/// One unit in the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitState {
    pub serial: u64,
    pub product: String,
    /// The source it came from.
    pub source: String,
    /// Seconds since it entered the line.
    pub age_s: f64,
    /// The station it is at (waiting, on a machine) or travelling to.
    pub station: String,
    pub place: Place,
    /// Process conditions recorded on the unit that quality checks further down read.
    #[serde(default)]
    pub carried: Vec<Carried>,
}

/// A process variable's value when the unit was processed at `station`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Carried {
    pub station: String,
    pub var: String,
    pub value: f64,
}

/// Where a unit is and what happens to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Place {
    /// In the station's buffer.
    Waiting,
    /// On its way to the station, arriving in `remaining_s`.
    InTransit { remaining_s: f64 },
    /// Machine `machine` (index in the station) is being set up for it; `remaining_s` of the changeover left.
    Setup { machine: usize, remaining_s: f64 },
    /// Being processed on machine `machine`: started `elapsed_s` ago with the station's process variables at
    /// `conditions` (in the station's order) and `alarm`; `remaining_s` of processing left (at the machine's
    /// speed when it started).
    Busy {
        machine: usize,
        remaining_s: f64,
        elapsed_s: f64,
        #[serde(default)]
        conditions: Vec<f64>,
        #[serde(default)]
        alarm: bool,
    },
    /// Finished on machine `machine`, which holds it until station `to` has room (`transport_s` then).
    Blocked { machine: usize, to: String, transport_s: f64 },
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineState {
    pub station: String,
    /// Index in the station.
    pub machine: usize,
    pub asset: String,
    /// Down (unplanned) and repaired after this many seconds.
    #[serde(default)]
    pub down_remaining_s: Option<f64>,
    /// The product it is set up for.
    #[serde(default)]
    pub last_product: Option<String>,
    /// Per process variable of the station (its order): the stochastic part's value and how many seconds ago
    /// it was sampled; `None`: not sampled yet.
    #[serde(default)]
    pub process: Vec<Option<(f64, f64)>>,
    /// In alarm (from its health or a process variable) for this many seconds.
    #[serde(default)]
    pub alarm_for_s: Option<f64>,
}

/// One source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    pub source: String,
    /// The campaign under way: its product and the units still to draw from it.
    #[serde(default)]
    pub campaign: Option<(String, u32)>,
    /// Renewal sources: the next arrival comes in this many seconds.
    #[serde(default)]
    pub next_arrival_s: Option<f64>,
    /// Arrivals so far (against the source's `limit`).
    #[serde(default)]
    pub arrivals: u64,
}

/// A lot on hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LotState {
    pub component: String,
    pub lot: String,
    pub remaining: u64,
}

impl LineState {
    /// The lots of `component` on hand, as the next run's supply at time 0 (same ids, remaining quantities).
    pub fn lots_on_hand(&self, component: &str) -> Vec<crate::config::Lot> {
        self.lots
            .iter()
            .filter(|l| l.component == component && l.remaining > 0)
            .map(|l| crate::config::Lot {
                id: l.lot.clone(),
                quantity: l.remaining,
                arrival_s: 0.0,
            })
            .collect()
    }

    /// Units in the line at `station`, by product name.
    pub fn units_at(&self, station: &str) -> std::collections::BTreeMap<String, u32> {
        let mut m = std::collections::BTreeMap::new();
        for u in self.units.iter().filter(|u| u.station == station) {
            *m.entry(u.product.clone()).or_insert(0) += 1;
        }
        m
    }

    /// The largest serial number in the line.
    pub fn max_serial(&self) -> Option<u64> {
        self.units.iter().map(|u| u.serial).max()
    }
}
