//! Three-phase squirrel-cage induction motor, steady-state textbook model.
//!
//! From the nameplate (rated output `P_r`, current `I_r`, speed `n_r`, efficiency `η_r`, line voltage `U`
//! and supply frequency `f`):
//!
//! * synchronous speed `n_s = 60·f/p` with `p = floor(60·f/n_r)` pole pairs; rated slip `s_r = (n_s − n_r)/n_s`;
//! * rated losses `P_loss,r = P_r/η_r − P_r`, split into a load-independent part (iron + friction + windage,
//!   a share `k_c` of the rated losses, default 30 %) and copper losses `P_cu = P_cu,r·(I/I_r)²`;
//! * current: magnetising (no-load) current `I_0 = k_0·I_r` (default 35 %) in quadrature with an active part
//!   proportional to load, `I(L) = √(I_0² + (L·√(I_r² − I_0²))²)`;
//! * slip proportional to load in the linear region, `n = n_s·(1 − s_r·L)`;
//! * input power `P_in = L·P_r + P_c + P_cu`, efficiency `L·P_r/P_in`, power factor `P_in/(√3·U·I)`.
//!
//! Insulation ageing follows the 10-kelvin rule (Montsinger / Arrhenius approximation): life halves for every
//! 10 K above the insulation class limit and doubles for every 10 K below it.

use crate::{PhysicsError, positive, within};

/// Nameplate-derived induction motor model. Powers in kW, current in A, speed in rpm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InductionMotor {
    pub rated_power_kw: f64,
    pub rated_current_a: f64,
    pub rated_speed_rpm: f64,
    pub rated_efficiency: f64,
    /// Line-to-line supply voltage, V.
    pub voltage_v: f64,
    /// Supply frequency, Hz.
    pub supply_hz: f64,
    /// No-load (magnetising) current as a fraction of rated current.
    pub no_load_current_fraction: f64,
    /// Share of the rated losses that does not depend on load (iron, friction, windage).
    pub constant_loss_share: f64,
}

/// The motor's steady state at one load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotorOperatingPoint {
    /// Load fraction (shaft output / rated output).
    pub load: f64,
    pub output_kw: f64,
    pub input_kw: f64,
    pub current_a: f64,
    pub losses_kw: f64,
    pub copper_loss_kw: f64,
    pub constant_loss_kw: f64,
    pub efficiency: f64,
    pub power_factor: f64,
    pub slip: f64,
    pub speed_rpm: f64,
    pub torque_nm: f64,
}

impl InductionMotor {
    /// A 400 V / 50 Hz motor from its nameplate, with the default loss split and magnetising current.
    pub fn new(rated_power_kw: f64, rated_current_a: f64, rated_speed_rpm: f64, rated_efficiency: f64) -> Result<InductionMotor, PhysicsError> {
        InductionMotor {
            rated_power_kw,
            rated_current_a,
            rated_speed_rpm,
            rated_efficiency,
            voltage_v: 400.0,
            supply_hz: 50.0,
            no_load_current_fraction: 0.35,
            constant_loss_share: 0.3,
        }
        .validated()
    }

    /// Checks every field; returns the motor unchanged when it is physically consistent.
    pub fn validated(self) -> Result<InductionMotor, PhysicsError> {
        positive("rated_power_kw", self.rated_power_kw)?;
        positive("rated_current_a", self.rated_current_a)?;
        positive("rated_speed_rpm", self.rated_speed_rpm)?;
        within("rated_efficiency", self.rated_efficiency, 0.05, 0.999)?;
        positive("voltage_v", self.voltage_v)?;
        positive("supply_hz", self.supply_hz)?;
        within("no_load_current_fraction", self.no_load_current_fraction, 0.0, 0.9)?;
        within("constant_loss_share", self.constant_loss_share, 0.0, 1.0)?;
        if self.pole_pairs() == 0 {
            return Err(PhysicsError::InvalidParameter {
                name: "rated_speed_rpm",
                value: self.rated_speed_rpm,
                reason: "must be below the 2-pole synchronous speed 60·f",
            });
        }
        Ok(self)
    }

    /// Pole pairs: the largest `p` whose synchronous speed `60·f/p` is above the rated speed.
    pub fn pole_pairs(&self) -> u32 {
        let p = (60.0 * self.supply_hz / self.rated_speed_rpm).floor();
        // rated speed exactly synchronous would mean zero slip; take one pole pair more then.
        let p = if (60.0 * self.supply_hz / p - self.rated_speed_rpm).abs() < 1e-9 {
            p + 1.0
        } else {
            p
        };
        if p.is_finite() && p >= 1.0 { p as u32 } else { 0 }
    }

    /// Synchronous speed, rpm.
    pub fn sync_speed_rpm(&self) -> f64 {
        60.0 * self.supply_hz / f64::from(self.pole_pairs().max(1))
    }

    /// Slip at rated load.
    pub fn rated_slip(&self) -> f64 {
        let ns = self.sync_speed_rpm();
        (ns - self.rated_speed_rpm) / ns
    }

    /// Total losses at rated load, kW.
    pub fn rated_losses_kw(&self) -> f64 {
        self.rated_power_kw / self.rated_efficiency - self.rated_power_kw
    }

    /// Steady state at load fraction `load` (clamped to ≥ 0).
    pub fn operating_point(&self, load: f64) -> MotorOperatingPoint {
        let load = if load.is_finite() { load.max(0.0) } else { 0.0 };
        let ir = self.rated_current_a;
        let i0 = self.no_load_current_fraction * ir;
        let i_active_rated = (ir * ir - i0 * i0).max(0.0).sqrt();
        let current = (i0 * i0 + (load * i_active_rated).powi(2)).sqrt();
        let p_loss_r = self.rated_losses_kw();
        let constant = self.constant_loss_share * p_loss_r;
        let copper = (1.0 - self.constant_loss_share) * p_loss_r * (current / ir).powi(2);
        let output = load * self.rated_power_kw;
        let input = output + constant + copper;
        let slip = self.rated_slip() * load;
        let speed = self.sync_speed_rpm() * (1.0 - slip);
        let apparent_kva = 3f64.sqrt() * self.voltage_v * current / 1000.0;
        let power_factor = if apparent_kva > 0.0 { (input / apparent_kva).clamp(0.0, 1.0) } else { 0.0 };
        let omega = speed * std::f64::consts::TAU / 60.0;
        MotorOperatingPoint {
            load,
            output_kw: output,
            input_kw: input,
            current_a: current,
            losses_kw: constant + copper,
            copper_loss_kw: copper,
            constant_loss_kw: constant,
            efficiency: if input > 0.0 { output / input } else { 0.0 },
            power_factor,
            slip,
            speed_rpm: speed,
            torque_nm: if omega > 0.0 { output * 1000.0 / omega } else { 0.0 },
        }
    }
}

/// Insulation thermal class (IEC 60085) with its temperature limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsulationClass {
    A,
    E,
    B,
    F,
    H,
}

impl InsulationClass {
    /// Maximum hot-spot temperature of the class, °C.
    pub fn limit_c(self) -> f64 {
        match self {
            InsulationClass::A => 105.0,
            InsulationClass::E => 120.0,
            InsulationClass::B => 130.0,
            InsulationClass::F => 155.0,
            InsulationClass::H => 180.0,
        }
    }
}

/// Thermal life of insulation at its class limit, hours (the IEC 60216 reference endurance).
pub const INSULATION_LIFE_AT_LIMIT_H: f64 = 20_000.0;

/// Ageing rate relative to running at the class limit: `2^((T − T_limit)/10)`.
/// 1 at the limit, 2 at 10 K above, 0.5 at 10 K below.
pub fn insulation_ageing_factor(temp_c: f64, class: InsulationClass) -> f64 {
    // Bounded exponent: beyond ±300 K the factor is meaningless and must stay finite.
    2f64.powf(((temp_c - class.limit_c()) / 10.0).clamp(-30.0, 30.0))
}

/// Expected insulation life at a constant hot-spot temperature, hours.
pub fn insulation_life_hours(temp_c: f64, class: InsulationClass) -> f64 {
    INSULATION_LIFE_AT_LIMIT_H / insulation_ageing_factor(temp_c, class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> InductionMotor {
        // The example plant's 11 kW 4-pole motor.
        InductionMotor::new(11.0, 21.0, 1465.0, 0.91).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn nameplate_values_at_rated_load() {
        let m = example();
        assert_eq!(m.pole_pairs(), 2);
        assert_eq!(m.sync_speed_rpm(), 1500.0);
        close(m.rated_slip(), 35.0 / 1500.0, 1e-12);
        let op = m.operating_point(1.0);
        close(op.current_a, 21.0, 1e-9);
        close(op.speed_rpm, 1465.0, 1e-9);
        close(op.efficiency, 0.91, 1e-9);
        close(op.input_kw, 11.0 / 0.91, 1e-9); // 12.0879 kW
        // pf = 12.0879 / (√3 · 0.4 kV · 21 A = 14.549 kVA) = 0.8308
        close(op.power_factor, 0.8308, 1e-4);
        // torque = 11000 W / (1465 · 2π/60 rad/s) = 71.70 N·m
        close(op.torque_nm, 71.70, 0.01);
    }

    #[test]
    fn half_load_by_hand() {
        // I0 = 7.35 A, active rated = √(441 − 54.0225) = 19.6718 A, half: 9.8359 A
        // I = √(54.0225 + 96.745) = 12.2787 A
        // losses: rated 1.08791 kW, constant 0.326374, copper 0.761539 · (12.2787/21)² = 0.260354
        // input 5.5 + 0.326374 + 0.260354 = 6.086728 kW, η = 0.903604; speed 1500·(1 − 0.0116667) = 1482.5
        let op = example().operating_point(0.5);
        close(op.current_a, 12.2787, 1e-3);
        close(op.constant_loss_kw, 0.326374, 1e-5);
        close(op.copper_loss_kw, 0.260354, 1e-5);
        close(op.input_kw, 6.086728, 1e-5);
        close(op.efficiency, 0.903604, 1e-5);
        close(op.speed_rpm, 1482.5, 1e-9);
    }

    #[test]
    fn no_load_draws_magnetising_current_at_low_power_factor() {
        let op = example().operating_point(0.0);
        close(op.current_a, 7.35, 1e-9);
        close(op.speed_rpm, 1500.0, 1e-9);
        assert_eq!(op.efficiency, 0.0);
        assert!(op.power_factor < 0.15, "{}", op.power_factor);
        // power factor rises with load
        let m = example();
        assert!(m.operating_point(0.25).power_factor < m.operating_point(0.75).power_factor);
    }

    #[test]
    fn two_pole_motor() {
        let m = InductionMotor::new(11.0, 20.0, 2900.0, 0.9).unwrap();
        assert_eq!(m.sync_speed_rpm(), 3000.0);
        assert!(InductionMotor::new(11.0, 20.0, 12_000.0, 0.9).is_err(), "faster than 2-pole synchronous");
        assert!(InductionMotor::new(11.0, 20.0, 1465.0, 1.2).is_err());
    }

    #[test]
    fn insulation_life_halves_per_10_kelvin() {
        assert_eq!(insulation_ageing_factor(155.0, InsulationClass::F), 1.0);
        assert_eq!(insulation_ageing_factor(165.0, InsulationClass::F), 2.0);
        assert_eq!(insulation_ageing_factor(135.0, InsulationClass::F), 0.25);
        close(insulation_life_hours(175.0, InsulationClass::F), 5_000.0, 1e-9);
        close(insulation_life_hours(120.0, InsulationClass::B), 40_000.0, 1e-9);
        assert!(insulation_ageing_factor(f64::MAX, InsulationClass::F).is_finite());
    }
}
