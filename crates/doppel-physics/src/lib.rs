//! # doppel-physics
//!
//! Small, first-principles models of the machines in a plant. Pure and synchronous: plain numbers in,
//! plain numbers out, no I/O, no randomness, no clock. The simulator (`doppel-sim`) drives these models
//! with loads, noise and degradation; analytics use them as reference behaviour (expected values for
//! residuals, defect frequencies, severity zones, remaining life).
//!
//! | module | model | sources (details in each module) |
//! |---|---|---|
//! | [`thermal`] | first-order node `C·dT/dt = P − (T − T_amb)/R` (exact exponential step, time to a limit); two-node winding + frame network (steady state, exact matrix-exponential step, time to a limit) | Incropera et al. §5 (lumped capacitance); Boglietti et al. 2009 |
//! | [`motor`] | three-phase induction motor: current, losses, efficiency, slip speed and power factor vs load; expected winding temperature (steady state and a tracker over a load/ambient series); insulation life (10-kelvin rule, Arrhenius, life consumed over a temperature history) | IEC 60034-1/-2-1, IEC 60085, IEC 60216-1, IEEE Std 1 |
//! | [`pump`] | centrifugal pump: pump curve, system curve, operating point, affinity laws, efficiency curve, impeller wear; efficiency from measured flow/head/power, expected head and power at a measured speed and flow, residuals | ISO 9906; Europump & HI, *Variable Speed Pumping* |
//! | [`bearing`] | rolling-element bearing defect frequencies (CWRU and PRONOSTIA geometries); ISO 281 L10 life, duty-cycle equivalent load, Miner's rule and a damage accumulator; ISO 10816-3 / ISO 20816-3 severity zones | Randall & Antoni 2011; ISO 281; SKF catalogue; ISO 10816-3 |
//!
//! Units are stated on every field and argument (SI unless the field name says otherwise: `_kw`, `_rpm`,
//! `_m3h`, `_kn`, `_mm`, `_h`). Invalid parameters give [`PhysicsError`]; nothing panics on bad input.
//!
//! ```
//! use doppel_physics::thermal::ThermalNode;
//! // 2 kW of losses through 40 K/kW: steady state 20 + 80 = 100 °C.
//! let node = ThermalNode::new(20.0, 20.0, 40.0, 1800.0).unwrap();
//! assert_eq!(node.steady_state(2.0, 20.0), 100.0);
//! ```
//!
//! ```
//! use doppel_physics::bearing::{BearingGeometry, BearingRating, RollingElement, iso10816_zone};
//! use doppel_physics::{Foundation, MachineGroup, Zone};
//! // Defect frequencies of the CWRU drive-end 6205 at 1797 r/min: BPFI ≈ 162.2 Hz.
//! let f = BearingGeometry::CWRU_DRIVE_END_6205.defect_frequencies_at_rpm(1797.0);
//! assert!((f.bpfi - 162.19).abs() < 0.01);
//! // SKF calculation example: 6309 (C = 55.3 kN), 10 kN at 3000 r/min → 940 h.
//! let life = BearingRating::new(55.3, RollingElement::Ball).unwrap().l10_hours(10.0, 3000.0).unwrap();
//! assert_eq!(life.round(), 940.0);
//! assert_eq!(iso10816_zone(3.0, MachineGroup::Group2, Foundation::Rigid), Zone::C);
//! ```

pub mod bearing;
pub mod motor;
pub mod pump;
pub mod thermal;

pub use bearing::{
    BearingDefect, BearingGeometry, BearingRating, DefectFrequencies, Foundation, LoadBlock, MachineGroup, MinerAccumulator, RollingElement, Zone,
};
pub use motor::{InductionMotor, InsulationAgeing, InsulationClass, MotorOperatingPoint, MotorThermalModel, WindingNetwork, WindingTemperatureTracker};
pub use pump::{CentrifugalPump, PumpMeasurement, PumpOperatingPoint, PumpResiduals, SystemCurve};
pub use thermal::{ThermalNode, TwoNodeParams, TwoNodeTemperatures, TwoNodeThermal};

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
