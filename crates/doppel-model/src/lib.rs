//! # doppel-model
//!
//! The plant model every other crate speaks: an ISA-95 hierarchy (enterprise / site / area / line /
//! asset / component) read from a TOML plant file, reusable asset types with their signals,
//! a strict unit table, operating envelopes that may depend on mode or product, and the production
//! context of a line.
//!
//! Pure: no I/O except [`Plant::load`] reading the plant file, no async.
//!
//! ```
//! let plant = doppel_model::Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap();
//! assert!(plant.assets.len() >= 30);
//! ```

pub mod context;
pub mod envelope;
pub mod maintenance;
pub mod plant;
pub mod time;
pub mod units;
pub mod wave;

pub use context::{ContextUpdate, LineContext};
pub use maintenance::{MaintenanceKind, MaintenanceRecord};
pub use envelope::{Envelope, EnvelopeSet, Range, Selector, Status};
pub use plant::{Area, Asset, AssetType, Component, Diagnostic, Line, Plant, PlantError, PredictSpec, Production, RunningRule, Signal, SignalKind, Site};
pub use units::{Dimension, Unit, UnitError};
pub use wave::{Encoding, FrameError, WaveFrame};
