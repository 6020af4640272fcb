//! # doppel-twin
//!
//! The live twin runtime: one twin per asset of a [`doppel_model::Plant`], holding its current
//! state, plus line aggregates. The server feeds it samples once they are durable and broadcasts
//! (and stores) the [`TwinEvent`]s it returns.
//!
//! ## Design
//!
//! * **Pure, synchronous, deterministic.** No I/O, no clock: every instant comes from an argument
//!   (sample timestamps, context change times, the `now` of [`TwinRuntime::tick`]). Replaying the
//!   same calls gives the same states and events.
//! * **Hot path.** [`TwinRuntime::apply`] addresses assets and signals by index, uses data
//!   precomputed from the plant (running rule, fault labels, production counters, stale limit) and
//!   is O(1) per sample; it allocates only when it returns events.
//! * **Last value.** Only a sample at or after the signal's last timestamp updates the live state
//!   (equal timestamps: the later call wins); older samples are counted as late and ignored.
//! * **Envelopes and alerts.** Each sample is classified with
//!   [`doppel_model::Envelope::classify_with_hysteresis`] using the envelope selected for the line
//!   context's mode and product at that sample. A status change raises, escalates, downgrades or
//!   clears the signal's alert, whose id `"<asset>/<signal>"` is stable while it is open.
//! * **Operating state** ([`OperatingState`]): `running` when the `running_when` signal is above
//!   its threshold (assets without a rule: while data flows); when not running, `idle` if the line
//!   mode is `"planned_stop"`, else `down` (unplanned downtime, ISO 22400); a state signal reading
//!   `"fault"` forces `down`; `stale` after `max(10 × nominal period, 30 s)` without data;
//!   `unknown` before the first data.
//! * **Time accounting** is driven by data time: each interval between consecutive observations
//!   (samples, context changes, ticks) is attributed to the state in force during it. KPIs
//!   ([`Kpis`]) follow ISO 22400-2: availability = running / (running + down), performance =
//!   ideal cycle × produced / running (clamped to `[0, 1]`, raw kept), quality = good / produced,
//!   OEE = A × P × Q. Counters accumulate increments; a decrease is a reset.
//! * **Health** ([`Health`]) is the worst of the envelope statuses and the operating state, for
//!   colouring.
//!
//! ```
//! use std::sync::Arc;
//! use doppel_model::{LineContext, Plant};
//! use doppel_twin::{OperatingState, TwinRuntime};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml");
//! let plant = Arc::new(Plant::load(std::path::Path::new(path)).unwrap());
//! let motor = plant.asset_position("l1-chip-motor").unwrap();
//! let speed = plant.assets[motor].signal_index("speed").unwrap();
//! let mut twin = TwinRuntime::new(plant, 0);
//! let events = twin.apply(motor, speed, 1_000_000_000, 1460.0, &LineContext::default());
//! assert_eq!(events[0].kind(), "state_changed");
//! assert_eq!(twin.operating_state(motor), Some(OperatingState::Running));
//! ```

pub mod events;
pub mod predict;
pub mod residuals;
pub mod runtime;
pub mod state;

pub use events::{Alert, Health, OperatingState, TwinEvent};
pub use runtime::{MIN_STALE_NS, PLANNED_STOP, STALE_PERIODS, TwinRuntime};
pub use state::{AssetState, HealthCounts, Kpis, LineKpis, LineState, PERFORMANCE_CLAMP, SignalState};
