//! Three-phase squirrel-cage induction motor: steady-state textbook model, winding temperature expectation
//! and insulation ageing.
//!
//! # Electrical model
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
//! Source: the per-unit loss segregation of IEC 60034-2-1 (constant + load-dependent losses) and the
//! linear torque–slip region of the equivalent circuit (e.g. Chapman, *Electric Machinery Fundamentals*,
//! ch. 6).
//!
//! # Winding temperature expectation
//!
//! [`MotorThermalModel`] drives a thermal network ([`WindingNetwork`]) with the losses of
//! [`InductionMotor::operating_point`]: either one first-order node heated by all losses (the model
//! `doppel-sim` simulates), or the two-node winding + frame network of [`crate::thermal`] with the copper
//! losses in the winding and the load-independent losses in the frame. It gives the steady-state winding
//! temperature at load `L` and ambient `T_a`, and [`WindingTemperatureTracker`] follows the transient over
//! a load/ambient time series (exact update per sample, inputs held over each step), so
//! `measured − expected` is a physics residual. Both give the time to a temperature limit.
//!
//! # Insulation ageing
//!
//! Insulation ageing follows the 10-kelvin rule: life halves for every 10 K above the insulation class
//! limit and doubles for every 10 K below it, `L(T) = L_ref·2^((T_class − T)/10)`. This is the Arrhenius
//! law `L ∝ exp(E_a/(k_B·T))` linearised around the class temperature (Montsinger's rule of thumb; the
//! thermal classes and their temperatures are those of IEC 60085 and IEEE Std 1, and `L_ref` = 20 000 h is
//! the endurance that defines a temperature index in IEC 60216-1). [`arrhenius_acceleration`] gives the
//! unlinearised law and [`InsulationAgeing`] accumulates consumed life over a temperature history.

use crate::thermal::{ThermalNode, TwoNodeParams, TwoNodeTemperatures, first_order_time_to_limit};
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

impl InsulationClass {
    /// Every class, coolest first.
    pub const ALL: [InsulationClass; 5] = [
        InsulationClass::A,
        InsulationClass::E,
        InsulationClass::B,
        InsulationClass::F,
        InsulationClass::H,
    ];

    /// The class letter, e.g. `"F"`.
    pub fn letter(self) -> &'static str {
        match self {
            InsulationClass::A => "A",
            InsulationClass::E => "E",
            InsulationClass::B => "B",
            InsulationClass::F => "F",
            InsulationClass::H => "H",
        }
    }

    /// The class from its letter (`"B"`, `"f"`, …) or its IEC 60085 numerical designation (`"155"`).
    pub fn parse(s: &str) -> Option<InsulationClass> {
        let s = s.trim();
        InsulationClass::ALL
            .into_iter()
            .find(|c| c.letter().eq_ignore_ascii_case(s) || s.parse::<f64>().ok() == Some(c.limit_c()))
    }
}

/// Life at `temp_c` relative to the life at the class limit: `2^((T_limit − T)/10)` = 1/ageing factor.
/// 0.5 at 10 K above the limit, 2 at 10 K below.
pub fn insulation_relative_life(temp_c: f64, class: InsulationClass) -> f64 {
    1.0 / insulation_ageing_factor(temp_c, class)
}

/// Boltzmann constant, eV/K.
pub const BOLTZMANN_EV_PER_K: f64 = 8.617_333_262e-5;

/// Arrhenius acceleration factor of a thermally activated ageing process at `temp_c` relative to
/// `reference_c` (°C), with activation energy `activation_energy_ev` (eV):
/// `AF = exp(E_a/k_B·(1/T_ref − 1/T))`, temperatures in kelvin. Life scales with `1/AF`.
pub fn arrhenius_acceleration(temp_c: f64, reference_c: f64, activation_energy_ev: f64) -> Result<f64, PhysicsError> {
    let t = within("temp_c", temp_c, -273.0, 1.0e4)? + 273.15;
    let t_ref = within("reference_c", reference_c, -273.0, 1.0e4)? + 273.15;
    let ea = positive("activation_energy_ev", activation_energy_ev)?;
    // The exponent is bounded by the temperature range; clamp so the factor stays finite.
    Ok((ea / BOLTZMANN_EV_PER_K * (1.0 / t_ref - 1.0 / t)).clamp(-700.0, 700.0).exp())
}

/// The activation energy, eV, for which the Arrhenius law halves life exactly between `reference_c` and
/// `reference_c + 10` °C: `E_a = k_B·ln 2/(1/T_ref − 1/(T_ref + 10 K))`. About 1.12 eV at 155 °C.
pub fn ten_kelvin_rule_activation_energy_ev(reference_c: f64) -> Result<f64, PhysicsError> {
    let t_ref = within("reference_c", reference_c, -263.0, 1.0e4)? + 273.15;
    Ok(BOLTZMANN_EV_PER_K * std::f64::consts::LN_2 / (1.0 / t_ref - 1.0 / (t_ref + 10.0)))
}

/// Consumed insulation life over a temperature history (Miner's rule with the 10-kelvin rule):
/// `D = Σ Δtᵢ / L(Tᵢ)`, `L(T) = L_ref·2^((T_class − T)/10)`. End of thermal life is expected at `D = 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InsulationAgeing {
    pub class: InsulationClass,
    /// Life at the class limit, hours (default [`INSULATION_LIFE_AT_LIMIT_H`]).
    pub life_at_limit_h: f64,
    consumed: f64,
    hours: f64,
}

impl InsulationAgeing {
    /// New insulation of `class` with the default reference life of 20 000 h at the class limit.
    pub fn new(class: InsulationClass) -> InsulationAgeing {
        InsulationAgeing {
            class,
            life_at_limit_h: INSULATION_LIFE_AT_LIMIT_H,
            consumed: 0.0,
            hours: 0.0,
        }
    }

    /// New insulation with another reference life at the class limit, hours.
    pub fn with_reference_life(class: InsulationClass, life_at_limit_h: f64) -> Result<InsulationAgeing, PhysicsError> {
        Ok(InsulationAgeing {
            life_at_limit_h: positive("life_at_limit_h", life_at_limit_h)?,
            ..InsulationAgeing::new(class)
        })
    }

    /// Adds `dt_s` seconds at hot-spot temperature `temp_c` °C; returns the consumed life fraction.
    /// A non-finite temperature or a negative or non-finite `dt_s` is an error and changes nothing.
    pub fn add(&mut self, temp_c: f64, dt_s: f64) -> Result<f64, PhysicsError> {
        within("temp_c", temp_c, -273.15, 1.0e4)?;
        let dt_h = within("dt_s", dt_s, 0.0, f64::MAX)? / 3600.0;
        self.consumed += dt_h * insulation_ageing_factor(temp_c, self.class) / self.life_at_limit_h;
        self.hours += dt_h;
        Ok(self.consumed)
    }

    /// Consumed life fraction (0 = new, 1 = end of thermal life).
    pub fn consumed(&self) -> f64 {
        self.consumed
    }

    /// Hours accumulated so far.
    pub fn hours(&self) -> f64 {
        self.hours
    }

    /// Remaining life, hours, if the insulation stays at `temp_c` °C from now on (0 once consumed).
    pub fn remaining_hours_at(&self, temp_c: f64) -> f64 {
        (1.0 - self.consumed).max(0.0) * self.life_at_limit_h / insulation_ageing_factor(temp_c, self.class)
    }
}

/// The thermal network behind a motor's winding temperature. Resistances in K/kW, capacities in kJ/K.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindingNetwork {
    /// One node heated by all the motor's losses: `R_th` K/kW to ambient, time constant `τ` s.
    /// This is the model `doppel-sim` simulates (with `R_th = rated rise / rated losses`).
    FirstOrder { r_th_k_per_kw: f64, tau_s: f64 },
    /// Winding + frame ([`crate::thermal`]): copper losses heat the winding, the load-independent losses
    /// (iron, friction, windage) heat the frame.
    TwoNode(TwoNodeParams),
}

/// Expected winding temperature of an induction motor from its load and ambient temperature.
///
/// Losses come from [`InductionMotor::operating_point`]; the network turns them into temperatures.
/// The steady-state expectation is [`MotorThermalModel::steady_winding_temp_c`]; a
/// [`WindingTemperatureTracker`] follows the transient over a load/ambient series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotorThermalModel {
    pub motor: InductionMotor,
    pub network: WindingNetwork,
}

impl MotorThermalModel {
    /// Validates the motor and the network parameters.
    pub fn new(motor: InductionMotor, network: WindingNetwork) -> Result<MotorThermalModel, PhysicsError> {
        let motor = motor.validated()?;
        let network = match network {
            WindingNetwork::FirstOrder { r_th_k_per_kw, tau_s } => WindingNetwork::FirstOrder {
                r_th_k_per_kw: positive("r_th_k_per_kw", r_th_k_per_kw)?,
                tau_s: positive("tau_s", tau_s)?,
            },
            WindingNetwork::TwoNode(p) => WindingNetwork::TwoNode(TwoNodeParams::new(p.r_winding_frame, p.r_frame_ambient, p.c_winding, p.c_frame)?),
        };
        Ok(MotorThermalModel { motor, network })
    }

    /// First-order model whose winding rises `rated_rise_k` K above ambient at rated load, with time
    /// constant `tau_s` s: `R_th = ΔT_r / P_loss,r`.
    pub fn first_order_from_rated_rise(motor: InductionMotor, rated_rise_k: f64, tau_s: f64) -> Result<MotorThermalModel, PhysicsError> {
        let motor = motor.validated()?;
        let r_th_k_per_kw = positive("rated_rise_k", rated_rise_k)? / motor.rated_losses_kw();
        MotorThermalModel::new(motor, WindingNetwork::FirstOrder { r_th_k_per_kw, tau_s })
    }

    /// Two-node model calibrated at rated load: the winding rises `winding_rise_k` and the frame
    /// `frame_rise_k` above ambient; `tau_winding_s` and `tau_frame_s` as in
    /// [`TwoNodeParams::from_rated_rises`].
    pub fn two_node_from_rated_rises(
        motor: InductionMotor,
        winding_rise_k: f64,
        frame_rise_k: f64,
        tau_winding_s: f64,
        tau_frame_s: f64,
    ) -> Result<MotorThermalModel, PhysicsError> {
        let motor = motor.validated()?;
        let rated = motor.operating_point(1.0);
        let params = TwoNodeParams::from_rated_rises(
            rated.copper_loss_kw,
            rated.constant_loss_kw,
            winding_rise_k,
            frame_rise_k,
            tau_winding_s,
            tau_frame_s,
        )?;
        MotorThermalModel::new(motor, WindingNetwork::TwoNode(params))
    }

    /// Losses, kW, heating (winding node, frame node) at load fraction `load` while running.
    /// For the first-order network all losses heat the single node (frame share 0).
    pub fn node_losses_kw(&self, load: f64) -> (f64, f64) {
        let op = self.motor.operating_point(load);
        match self.network {
            WindingNetwork::FirstOrder { .. } => (op.losses_kw, 0.0),
            WindingNetwork::TwoNode(_) => (op.copper_loss_kw, op.constant_loss_kw),
        }
    }

    /// Expected steady-state winding temperature, °C, running at load fraction `load` in `ambient_c` °C.
    pub fn steady_winding_temp_c(&self, load: f64, ambient_c: f64) -> f64 {
        let (pw, pf) = self.node_losses_kw(load);
        match self.network {
            WindingNetwork::FirstOrder { r_th_k_per_kw, .. } => ambient_c + pw * r_th_k_per_kw,
            WindingNetwork::TwoNode(p) => p.steady_state(pw, pf, ambient_c).winding,
        }
    }

    /// A tracker with the winding at `winding_c` and the frame at `frame_c` °C (`frame_c` is ignored by
    /// the first-order network).
    pub fn tracker(&self, winding_c: f64, frame_c: f64) -> Result<WindingTemperatureTracker, PhysicsError> {
        let winding = within("winding_c", winding_c, -273.15, 1.0e4)?;
        let state = match self.network {
            WindingNetwork::FirstOrder { r_th_k_per_kw, tau_s } => TrackerState::One(ThermalNode::new(winding, winding, r_th_k_per_kw, tau_s)?),
            WindingNetwork::TwoNode(p) => TrackerState::Two(
                p,
                TwoNodeTemperatures {
                    winding,
                    frame: within("frame_c", frame_c, -273.15, 1.0e4)?,
                },
            ),
        };
        Ok(WindingTemperatureTracker { model: *self, state })
    }

    /// A tracker for a motor that has been standing still at `ambient_c` °C.
    pub fn tracker_at_ambient(&self, ambient_c: f64) -> Result<WindingTemperatureTracker, PhysicsError> {
        self.tracker(ambient_c, ambient_c)
    }

    /// A tracker for a motor that has run long at load `load` in `ambient_c` °C (steady state).
    pub fn tracker_at_steady_state(&self, load: f64, ambient_c: f64) -> Result<WindingTemperatureTracker, PhysicsError> {
        within("ambient_c", ambient_c, -273.15, 1.0e4)?;
        let (pw, pf) = self.node_losses_kw(load);
        match self.network {
            WindingNetwork::FirstOrder { r_th_k_per_kw, .. } => {
                let w = ambient_c + pw * r_th_k_per_kw;
                self.tracker(w, w)
            }
            WindingNetwork::TwoNode(p) => {
                let ss = p.steady_state(pw, pf, ambient_c);
                self.tracker(ss.winding, ss.frame)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TrackerState {
    One(ThermalNode),
    Two(TwoNodeParams, TwoNodeTemperatures),
}

/// Follows the expected winding temperature over a load/ambient time series (a physics expectation for
/// residuals: measured − [`WindingTemperatureTracker::winding_c`]). Each update holds the load and the
/// ambient constant over its step and uses the exact solution of the network, so any step size is stable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindingTemperatureTracker {
    model: MotorThermalModel,
    state: TrackerState,
}

impl WindingTemperatureTracker {
    /// The model this tracker follows.
    pub fn model(&self) -> &MotorThermalModel {
        &self.model
    }

    /// Expected winding temperature now, °C.
    pub fn winding_c(&self) -> f64 {
        match self.state {
            TrackerState::One(n) => n.temp,
            TrackerState::Two(_, t) => t.winding,
        }
    }

    /// Expected frame temperature now, °C (two-node network only).
    pub fn frame_c(&self) -> Option<f64> {
        match self.state {
            TrackerState::One(_) => None,
            TrackerState::Two(_, t) => Some(t.frame),
        }
    }

    fn check(load: f64, ambient_c: f64, dt_s: f64) -> Result<(), PhysicsError> {
        within("load", load, 0.0, 100.0)?;
        within("ambient_c", ambient_c, -273.15, 1.0e4)?;
        within("dt_s", dt_s, 0.0, f64::MAX)?;
        Ok(())
    }

    fn advance(&mut self, pw: f64, pf: f64, ambient_c: f64, dt_s: f64) -> f64 {
        match &mut self.state {
            TrackerState::One(n) => n.step(pw + pf, ambient_c, dt_s),
            TrackerState::Two(p, t) => {
                *t = p.propagate(*t, pw, pf, ambient_c, dt_s);
                t.winding
            }
        }
    }

    /// Advances `dt_s` seconds running at load fraction `load` in `ambient_c` °C; returns the expected
    /// winding temperature at the end of the step. Invalid input (load outside 0..100, non-finite values,
    /// negative `dt_s`) is an error and leaves the state unchanged.
    pub fn update(&mut self, load: f64, ambient_c: f64, dt_s: f64) -> Result<f64, PhysicsError> {
        Self::check(load, ambient_c, dt_s)?;
        let (pw, pf) = self.model.node_losses_kw(load);
        Ok(self.advance(pw, pf, ambient_c, dt_s))
    }

    /// Advances `dt_s` seconds with the motor stopped (no losses) in `ambient_c` °C.
    /// The cooling uses the same network (a stopped self-ventilated motor cools more slowly in reality).
    pub fn update_stopped(&mut self, ambient_c: f64, dt_s: f64) -> Result<f64, PhysicsError> {
        Self::check(0.0, ambient_c, dt_s)?;
        Ok(self.advance(0.0, 0.0, ambient_c, dt_s))
    }

    /// Time, s, until the winding reaches `limit_c` °C if the motor runs on at load `load` in
    /// `ambient_c` °C. `Some(0.0)` when already there, `None` when never (or on invalid input).
    pub fn time_to_limit_s(&self, load: f64, ambient_c: f64, limit_c: f64) -> Option<f64> {
        Self::check(load, ambient_c, 0.0).ok()?;
        let (pw, pf) = self.model.node_losses_kw(load);
        match self.state {
            TrackerState::One(n) => first_order_time_to_limit(n.temp, n.steady_state(pw + pf, ambient_c), limit_c, n.tau_s)
                .ok()
                .flatten(),
            TrackerState::Two(p, t) => p.time_to_winding_limit(t, pw, pf, ambient_c, limit_c),
        }
    }
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
        // Hand computation from the module doc's equations for the example plant's nameplate
        // (11 kW, 21 A, 1465 r/min, η 0.91, 400 V 50 Hz): the model must reproduce its own nameplate.
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
        // Hand computation from the module doc's equations (IEC 60034-2-1 loss split, 30 % constant).
        // I0 = 7.35 A, active rated = √(441 − 54.0225) = 19.6718 A, half: 9.8359 A
        // I = √(54.0225 + 96.745) = 12.2787 A
        // losses: rated 1.08791 kW, constant 0.326374, copper 0.761539 · (12.2787/21)² = 0.260351
        // input 5.5 + 0.326374 + 0.260351 = 6.086725 kW, η = 0.903606; speed 1500·(1 − 0.0116667) = 1482.5
        let op = example().operating_point(0.5);
        close(op.current_a, 12.2787, 1e-3);
        close(op.constant_loss_kw, 0.326374, 1e-5);
        close(op.copper_loss_kw, 0.260351, 1e-5);
        close(op.input_kw, 6.086725, 1e-5);
        close(op.efficiency, 0.903606, 1e-5);
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

    #[test]
    fn insulation_life_ten_kelvin_rule_per_class() {
        // IEEE Std 1 / IEC 60085 thermal classes (B 130 °C, F 155 °C, H 180 °C) with the 10-kelvin
        // (Montsinger) rule: class F at 165 °C lasts half the life at 155 °C, and so on per class.
        for class in [InsulationClass::B, InsulationClass::F, InsulationClass::H] {
            let at_limit = insulation_life_hours(class.limit_c(), class);
            close(at_limit, INSULATION_LIFE_AT_LIMIT_H, 1e-9);
            close(insulation_life_hours(class.limit_c() + 10.0, class), at_limit / 2.0, 1e-9);
            close(insulation_life_hours(class.limit_c() - 10.0, class), at_limit * 2.0, 1e-9);
            close(insulation_relative_life(class.limit_c() + 20.0, class), 0.25, 1e-12);
        }
        close(
            insulation_life_hours(165.0, InsulationClass::F) / insulation_life_hours(155.0, InsulationClass::F),
            0.5,
            1e-12,
        );
        // A class F motor run at class B temperature (130 °C) lives 2^2.5 ≈ 5.66 times longer.
        close(insulation_relative_life(130.0, InsulationClass::F), 2f64.powf(2.5), 1e-12);
        assert_eq!(InsulationClass::parse("f"), Some(InsulationClass::F));
        assert_eq!(InsulationClass::parse("180"), Some(InsulationClass::H));
        assert_eq!(InsulationClass::parse("C"), None);
        assert_eq!(InsulationClass::B.letter(), "B");
    }

    #[test]
    fn ten_kelvin_rule_is_arrhenius_linearised() {
        // Arrhenius law (IEC 60216-1 endurance model): halving per 10 K at 155 °C needs
        // E_a = k_B·ln 2/(1/428.15 K − 1/438.15 K) = 1.1205 eV.
        let ea = ten_kelvin_rule_activation_energy_ev(155.0).unwrap();
        close(ea, 1.1205, 1e-4);
        close(arrhenius_acceleration(165.0, 155.0, ea).unwrap(), 2.0, 1e-12);
        close(arrhenius_acceleration(155.0, 155.0, ea).unwrap(), 1.0, 1e-15);
        // Within ±20 K the rule and the law agree to a few percent (3.88 vs 4 at +20 K, 0.484 vs 0.5 at −10 K).
        close(arrhenius_acceleration(175.0, 155.0, ea).unwrap(), 3.8782, 1e-4);
        for dt in [-10.0, 5.0, 20.0] {
            let law = arrhenius_acceleration(155.0 + dt, 155.0, ea).unwrap();
            let rule = insulation_ageing_factor(155.0 + dt, InsulationClass::F);
            assert!((law / rule - 1.0).abs() < 0.04, "{dt}: {law} vs {rule}");
        }
        assert!(arrhenius_acceleration(f64::NAN, 155.0, ea).is_err());
        assert!(arrhenius_acceleration(165.0, 155.0, 0.0).is_err());
        assert!(arrhenius_acceleration(1.0e4, -273.0, 50.0).unwrap().is_finite());
    }

    #[test]
    fn insulation_ageing_accumulates_like_miner() {
        // Class F, 20 000 h at 155 °C (IEC 60216 reference endurance): 5 000 h at 155 °C uses 1/4, and
        // 2 500 h at 165 °C (twice the rate) another 1/4.
        let mut ins = InsulationAgeing::new(InsulationClass::F);
        ins.add(155.0, 5000.0 * 3600.0).unwrap();
        close(ins.consumed(), 0.25, 1e-12);
        ins.add(165.0, 2500.0 * 3600.0).unwrap();
        close(ins.consumed(), 0.5, 1e-12);
        close(ins.hours(), 7500.0, 1e-9);
        // Half the life left; at 145 °C the full life would be 40 000 h, so 20 000 h remain.
        close(ins.remaining_hours_at(145.0), 20_000.0, 1e-6);
        assert!(ins.add(f64::NAN, 1.0).is_err());
        assert!(ins.add(155.0, -1.0).is_err());
        close(ins.consumed(), 0.5, 1e-12);
        assert!(InsulationAgeing::with_reference_life(InsulationClass::H, 0.0).is_err());
    }

    #[test]
    fn first_order_winding_expectation_by_hand() {
        // Example motor, class B rise 80 K at rated load: R_th = 80 K / 1.087912 kW = 73.5354 K/kW.
        let model = MotorThermalModel::first_order_from_rated_rise(example(), 80.0, 1800.0).unwrap();
        let WindingNetwork::FirstOrder { r_th_k_per_kw, .. } = model.network else {
            panic!("first order")
        };
        close(r_th_k_per_kw, 73.5354, 1e-4);
        close(model.steady_winding_temp_c(1.0, 40.0), 120.0, 1e-9);
        // Half load: losses 0.586728 kW (see `half_load_by_hand`) → 40 + 43.1453 = 83.1453 °C.
        close(model.steady_winding_temp_c(0.5, 40.0), 83.1453, 1e-3);
        // From cold (20 °C) at rated load in 20 °C: after τ, 20 + 80·(1 − e⁻¹) = 70.5696 °C.
        let mut tr = model.tracker_at_ambient(20.0).unwrap();
        close(tr.update(1.0, 20.0, 1800.0).unwrap(), 70.5696, 1e-4);
        assert_eq!(tr.frame_c(), None);
    }

    #[test]
    fn tracker_follows_the_simulators_winding_node() {
        // doppel-sim heats a ThermalNode with `operating_point(load).losses_kw` while running and 0 while
        // stopped; the tracker must give the same temperatures sample by sample.
        let m = example();
        let model = MotorThermalModel::first_order_from_rated_rise(m, 80.0, 1800.0).unwrap();
        let mut node = ThermalNode::new(20.0, 20.0, 80.0 / m.rated_losses_kw(), 1800.0).unwrap();
        let mut tr = model.tracker_at_ambient(20.0).unwrap();
        for i in 0..2000 {
            let ambient = 20.0 + 5.0 * (i as f64 / 300.0).sin();
            let running = i % 700 < 550;
            let load = 0.6 + 0.3 * (i as f64 / 97.0).cos();
            let (expected, reference) = if running {
                (
                    tr.update(load, ambient, 10.0).unwrap(),
                    node.step(m.operating_point(load).losses_kw, ambient, 10.0),
                )
            } else {
                (tr.update_stopped(ambient, 10.0).unwrap(), node.step(0.0, ambient, 10.0))
            };
            close(expected, reference, 1e-9);
        }
        // Bad samples are rejected and change nothing.
        let before = tr.winding_c();
        assert!(tr.update(0.5, f64::NAN, 10.0).is_err());
        assert!(tr.update(-0.1, 20.0, 10.0).is_err());
        assert!(tr.update(0.5, 20.0, -1.0).is_err());
        assert_eq!(tr.winding_c(), before);
    }

    #[test]
    fn time_to_class_limit_under_overload() {
        // First-order: at steady state for rated load in 40 °C (120 °C), an overload to 1.4 raises T_ss;
        // the closed form t = τ·ln((T_ss − T₀)/(T_ss − 155)) must land exactly on the class F limit.
        let model = MotorThermalModel::first_order_from_rated_rise(example(), 80.0, 1800.0).unwrap();
        let tr = model.tracker_at_steady_state(1.0, 40.0).unwrap();
        close(tr.winding_c(), 120.0, 1e-9);
        let t_ss = model.steady_winding_temp_c(1.4, 40.0);
        assert!(t_ss > 155.0, "{t_ss}");
        let t = tr.time_to_limit_s(1.4, 40.0, InsulationClass::F.limit_c()).unwrap();
        close(t, 1800.0 * ((t_ss - 120.0) / (t_ss - 155.0)).ln(), 1e-9);
        let mut run = tr;
        close(run.update(1.4, 40.0, t).unwrap(), 155.0, 1e-9);
        // At rated load the class F limit is never reached; at the limit already: zero.
        assert_eq!(tr.time_to_limit_s(1.0, 40.0, 155.0), None);
        assert_eq!(tr.time_to_limit_s(1.4, 40.0, 100.0), Some(0.0));
    }

    #[test]
    fn two_node_winding_expectation() {
        // Calibrated at rated load: winding 80 K and frame 50 K above ambient.
        let m = example();
        let model = MotorThermalModel::two_node_from_rated_rises(m, 80.0, 50.0, 300.0, 2400.0).unwrap();
        close(model.steady_winding_temp_c(1.0, 40.0), 120.0, 1e-9);
        let (pw, pf) = model.node_losses_kw(1.0);
        close(pw, 0.761539, 1e-6); // copper: 70 % of 1.087912 kW
        close(pf, 0.326374, 1e-6); // iron + friction + windage
        // Half load by hand: P_w = 0.260351, P_f = 0.326374 kW; R_fa = 50/1.087912, R_wf = 30/0.761539.
        let (hw, hf) = model.node_losses_kw(0.5);
        close(hw, 0.260351, 1e-6);
        close(hf, 0.326374, 1e-6);
        let r_fa = 50.0 / m.rated_losses_kw();
        let r_wf = 30.0 / pw;
        // 40 + 0.586725·45.9596 + 0.260351·39.3939 = 77.2219 °C
        close(model.steady_winding_temp_c(0.5, 40.0), 40.0 + (hw + hf) * r_fa + hw * r_wf, 1e-9);
        close(model.steady_winding_temp_c(0.5, 40.0), 77.2219, 1e-4);
        // The tracker settles on the steady state and reports both nodes.
        let mut tr = model.tracker_at_ambient(40.0).unwrap();
        for _ in 0..200 {
            tr.update(1.0, 40.0, 600.0).unwrap();
        }
        close(tr.winding_c(), 120.0, 1e-9);
        close(tr.frame_c().unwrap(), 90.0, 1e-9);
        // Time to a limit under overload agrees with propagating the tracker.
        let t = tr.time_to_limit_s(1.4, 40.0, 155.0).unwrap();
        let mut run = tr;
        close(run.update(1.4, 40.0, t).unwrap(), 155.0, 1e-6);
        assert!(MotorThermalModel::two_node_from_rated_rises(m, 50.0, 80.0, 300.0, 2400.0).is_err());
        assert!(
            MotorThermalModel::new(
                m,
                WindingNetwork::FirstOrder {
                    r_th_k_per_kw: -1.0,
                    tau_s: 10.0
                }
            )
            .is_err()
        );
    }
}
