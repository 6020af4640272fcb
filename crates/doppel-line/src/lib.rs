//! # doppel-line
//!
//! Discrete-event simulation of production lines, and what is built on it.
//!
//! Placeholder header; see the README of this crate.

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
        LineError::Invalid { field: field.to_string(), message: message.to_string() }
    }
}
