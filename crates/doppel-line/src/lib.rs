//! # doppel-line
//!
//! Discrete-event simulation of production lines, and the analyses built on it: what-if scenarios with
//! confidence intervals, production scheduling, energy under time-of-use tariffs, root cause of quality
//! excursions, genealogy of every produced unit, and factory-level scenarios. Pure and synchronous: no
//! I/O, no clock, no async; the only threads are the scoped workers that run replications in parallel
//! ([`whatif`], [`factory`], [`schedule::simulate_schedules`]).
//!
//! ## Design
//!
//! ```text
//!  plant file ──plant::line_from_plant──▶ LineConfig ◀── whatif::apply(Change…) ◀── twins' Health::from_twin
//!                                           │ validate / compile
//!                                           ▼
//!                                  des::Simulator::run(SimOptions) ──▶ RunResult
//!      (event heap, per-element xoshiro streams,        stations: state times, OEE, WIP, throughput
//!       blocking after service, pre-empt–resume)        line: throughput, WIP, lead time mean/p95, OEE
//!                                           │           bottleneck (active-period method), energy,
//!                                           │           state-time buckets, orders, TraceLog
//!          ┌──────────────┬─────────────────┼───────────────┬──────────────────┐
//!          ▼              ▼                 ▼               ▼                  ▼
//!    whatif (N reps,  schedule (ATCS +   energy (power   trace (TraceIndex:   rootcause (lags,
//!    CRN, paired t)   local search,      by state, TOU   serial ↔ asset,      effect sizes,
//!    factory          simulated)         tariff)         alarm, lot)          permutation p)
//! ```
//!
//! * [`config`]: the line model — stations with parallel [`config::Machine`]s (each with the
//!   [`config::Health`] its asset twin reports), cycle-time [`Dist`]ributions per product, set-up matrices,
//!   finite buffers, routes with split probabilities and transport times, scrap and rework, failures (calendar
//!   or operation based), planned maintenance windows, a shift [`config::Calendar`], sources (saturated,
//!   renewal arrivals, released orders with product mix and campaigns), component lots, process variables
//!   and quality checks. Serde types: the API can take them as JSON.
//! * [`des`]: the simulator (see its docs for the event and statistics rules). Validated against queueing
//!   theory in `tests/queueing.rs` (M/M/1, M/D/1, M/G/1, M/M/3, Little's law, tandem lines, blocking).
//! * [`results`]: what a run reports; OEE per ISO 22400-2 ([`results::Oee`]).
//! * [`bottleneck`]: the active-period method (Roser, Nakano & Tanaka 2001, 2002), sole and shifting shares.
//! * [`stats`]: Student-t intervals and paired differences for replications.
//! * [`whatif`]: typed changes, parallel replications with common random numbers, KPI table.
//! * [`schedule`]: sequencing orders (ATCS + local search, brute force for tests), evaluated by simulation.
//! * [`energy`]: power by state and load, energy per good unit, cost under a time-of-use tariff.
//! * [`rootcause`]: lagged association of upstream variables with quality excursions.
//! * [`trace`]: genealogy records and an index answering "everything about serial S" and "every unit made
//!   by asset A in a window / while A was in alarm / with lot L" without scanning.
//! * [`factory`]: several lines with shared component supplies; capacity, demand and supply scenarios.
//! * [`plant`]: lines of a `doppel_model::Plant` as simulation models, with documented defaults for what the
//!   plant file does not say.
//! * [`state`]: a line's state at the end of a run (units where they are, machines down or set up, sources'
//!   campaigns, lots on hand), from which the next run continues: production simulated chunk by chunk, as the
//!   live production twin does, with serial numbers and genealogy continuing across chunks.
//!
//! ## Determinism
//!
//! Every random decision draws from its own stream keyed by `(seed, element id, purpose, machine)`
//! ([`rng`]): the same configuration and options give bit-identical results, runs do not depend on the
//! thread count, and a change to one station leaves the random numbers of every other element unchanged
//! (common random numbers between a baseline and its variants).
//!
//! ## Time
//!
//! Simulated time is seconds from 0; by convention sim time 0 is a Monday 00:00 local time (shift calendars
//! and tariff hours refer to it). Genealogy converts to i64 nanoseconds since the Unix epoch with
//! [`des::SimOptions::start_ns`], as everywhere in doppel.
//!
//! ## Speed (release build, the 2-core development machine)
//!
//! One simulated week of the 10-station [`whatif::reference_line`] (≈ 4 600 units, ≈ 49 000 events), 20
//! replications: 0.24 s on 2 threads, 83 replications per second. Genealogy of 10 million units (40 million
//! visits) through [`trace::reference_line`]: simulated at 0.8 million units per second, indexed in 8.5 s into
//! 2.3 GB; "everything about serial S" 6.5 µs, "units of asset A in a 1-hour window" 19 µs, "units with lot L"
//! 6.8 µs, "units made while A was in alarm" 14 ms for 29 000 units. Both are measured by `doppel bench whatif`
//! and `doppel bench trace` (the `doppel` binary; BENCHMARKS.md has the current figures).
//!
//! ```
//! use doppel_line::config::{LineConfig, StationConfig};
//! use doppel_line::{Dist, SimOptions, simulate};
//! // three stations in series; the middle one (12 s) is the bottleneck
//! let line = LineConfig::serial("demo", vec![
//!     StationConfig::new("cut", Dist::LogNormal { mean: 8.0, cv: 0.2 }, 1),
//!     StationConfig::new("mill", Dist::LogNormal { mean: 12.0, cv: 0.2 }, 1).with_buffer(Some(5)),
//!     StationConfig::new("pack", Dist::Exponential { mean: 6.0 }, 1).with_buffer(Some(5)),
//! ]);
//! let run = simulate(&line, &SimOptions::new(1, 8.0 * 3600.0, 3600.0)).unwrap();
//! assert_eq!(run.bottleneck.id.as_deref(), Some("mill"));
//! // about the mill's rate of 300 per hour, less what its starved and blocked moments cost
//! assert!(run.kpis.throughput_per_h > 250.0 && run.kpis.throughput_per_h < 310.0);
//! ```

pub mod bottleneck;
pub mod config;
pub mod des;
pub mod dist;
pub mod energy;
pub mod factory;
pub mod plant;
pub mod results;
pub mod rng;
pub mod rootcause;
pub mod schedule;
pub mod state;
pub mod stats;
pub mod trace;
pub mod whatif;

pub use config::LineConfig;
pub use des::{SimOptions, Simulator, simulate};
pub use dist::Dist;

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("unknown station '{0}'")]
    UnknownStation(String),
    #[error("unknown product '{0}'")]
    UnknownProduct(String),
    #[error("unknown component '{0}'")]
    UnknownComponent(String),
    #[error("unknown line '{0}'")]
    UnknownLine(String),
    #[error("line '{0}' has no production stations")]
    NoStations(String),
}

impl LineError {
    pub(crate) fn invalid(field: &str, message: &str) -> LineError {
        LineError::Invalid {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}
