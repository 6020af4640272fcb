//! # doppel-physics
//!
//! Small, first-principles models of the machines in a plant. Pure and synchronous: plain numbers in,
//! plain numbers out, no I/O, no randomness, no clock. The simulator (`doppel-sim`) drives these models
//! with loads, noise and degradation; analytics can use them as reference behaviour.
//!
//! | module | model |
//! |---|---|
//! | [`thermal`] | first-order thermal node `C·dT/dt = P − (T − T_amb)/R`, stepped with the exact exponential solution |
//! | [`motor`] | three-phase induction motor: current, losses, efficiency, slip speed and power factor vs load; insulation ageing |
//! | [`pump`] | centrifugal pump: quadratic pump curve, system curve, operating point, affinity laws, efficiency curve, impeller wear |
//! | [`bearing`] | rolling-element bearing defect frequencies, ISO 281 L10 life, Miner's rule, ISO 10816-3 zones |
//!
//! Units are stated on every field and argument (SI unless the field name says otherwise: `_kw`, `_rpm`, `_m3h`).
//!
//! ```
//! use doppel_physics::thermal::ThermalNode;
//! // 2 kW of losses through 40 K/kW: steady state 20 + 80 = 100 °C.
//! let node = ThermalNode::new(20.0, 20.0, 40.0, 1800.0).unwrap();
//! assert_eq!(node.steady_state(2.0, 20.0), 100.0);
//! ```

pub mod bearing;
pub mod motor;
pub mod pump;
pub mod thermal;

pub use bearing::{BearingGeometry, DefectFrequencies, Foundation, MachineGroup, RollingElement, Zone};
pub use motor::{InductionMotor, InsulationClass, MotorOperatingPoint};
pub use pump::{CentrifugalPump, PumpOperatingPoint, SystemCurve};
pub use thermal::ThermalNode;

/// Standard gravity, m/s².
pub const G: f64 = 9.80665;

/// An invalid model parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhysicsError {
    #[error("parameter `{name}` = {value} is invalid: {reason}")]
    InvalidParameter { name: &'static str, value: f64, reason: &'static str },
}

/// Checks that a parameter is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, PhysicsError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PhysicsError::InvalidParameter {
            name,
            value,
            reason: "must be a finite number > 0",
        })
    }
}

/// Checks that a parameter is finite and in `[lo, hi]`.
pub(crate) fn within(name: &'static str, value: f64, lo: f64, hi: f64) -> Result<f64, PhysicsError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(PhysicsError::InvalidParameter {
            name,
            value,
            reason: "out of its physical range",
        })
    }
}
