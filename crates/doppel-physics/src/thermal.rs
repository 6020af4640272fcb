//! Lumped-parameter thermal networks: a first-order node and a two-node (winding + frame) network.
//!
//! Units throughout: temperatures in °C, thermal resistances in **K/kW**, heat flows (losses) in **kW**,
//! heat capacities in **kJ/K**, times in **s** (K/kW · kJ/K = s).
//!
//! # First-order node
//!
//! `C_th·dT/dt = P_loss − (T − T_amb)/R_th`, time constant `τ = R_th·C_th`, steady state
//! `T_ss = T_amb + P_loss·R_th`. For a step in which `P_loss` and `T_amb` are constant the exact solution is
//! `T(t) = T_ss + (T(0) − T_ss)·exp(−t/τ)`, so [`ThermalNode::step`] is stable and exact for any `dt`
//! (no Euler error). Solving that for `T(t) = T_lim` gives the time to a temperature limit
//! `t = −τ·ln((T_ss − T_lim)/(T_ss − T(0)))`, which exists only when `T_ss > T_lim`
//! ([`first_order_time_to_limit`]).
//!
//! Source: the lumped-capacitance method, Incropera, DeWitt, Bergman & Lavine, *Fundamentals of Heat and
//! Mass Transfer*, 6th ed., §5.1–5.3 (eq. 5.6 is the exponential response); for motors, the thermal
//! equivalent time constant of IEC 60034-1.
//!
//! # Two-node network
//!
//! A winding node (`C_w`) coupled through `R_wf` to a frame node (`C_f`), which loses heat to ambient
//! through `R_fa`. Copper losses `P_w` enter the winding, the other losses `P_f` (iron, friction, windage)
//! enter the frame:
//!
//! ```text
//! C_w·dT_w/dt = P_w − (T_w − T_f)/R_wf
//! C_f·dT_f/dt = P_f + (T_w − T_f)/R_wf − (T_f − T_amb)/R_fa
//! ```
//!
//! Steady state: `T_f = T_amb + (P_w + P_f)·R_fa`, `T_w = T_f + P_w·R_wf`. With `x = T − T_ss` the
//! deviation obeys `dx/dt = A·x`; `A` has two distinct real negative eigenvalues `λ₁ > λ₂` (it is similar
//! to a symmetric negative-definite matrix, and its discriminant `(a₁₁ − a₂₂)² + 4·a₁₂·a₂₁` is > 0), so the
//! step uses the exact matrix exponential (Sylvester's formula for 2×2 matrices):
//! `e^{At} = f₀(t)·I + f₁(t)·A`, `f₁ = (e^{λ₁t} − e^{λ₂t})/(λ₁ − λ₂)`, `f₀ = e^{λ₁t} − λ₁·f₁`.
//! The two time constants are `−1/λ₁` (slow, the frame) and `−1/λ₂` (fast, the winding over the frame).
//!
//! Source: the standard lumped-parameter thermal network of electrical machines, e.g. Boglietti, Cavagnino,
//! Staton, Shanel, Mueller & Mejuto, "Evolution and modern approaches for thermal analysis of electrical
//! machines", IEEE Trans. Industrial Electronics 56(3), 2009, reduced to two nodes.

use crate::{PhysicsError, positive, within};

/// A lumped thermal mass. Temperatures in °C, thermal resistance in **K/kW**, losses in **kW**.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalNode {
    /// Current temperature, °C.
    pub temp: f64,
    /// Ambient temperature used in the last step, °C.
    pub ambient: f64,
    /// Thermal resistance to ambient, K/kW.
    pub r_th: f64,
    /// Time constant τ = R_th·C_th, s.
    pub tau_s: f64,
}

impl ThermalNode {
    /// A node at `temp` °C in `ambient` °C with `r_th` K/kW and time constant `tau_s` s.
    pub fn new(temp: f64, ambient: f64, r_th: f64, tau_s: f64) -> Result<ThermalNode, PhysicsError> {
        Ok(ThermalNode {
            temp: crate::within("temp", temp, -273.15, 1.0e4)?,
            ambient,
            r_th: positive("r_th", r_th)?,
            tau_s: positive("tau_s", tau_s)?,
        })
    }

    /// Steady-state temperature for constant losses `p_loss` kW in `ambient` °C: `T_amb + P·R_th`.
    pub fn steady_state(&self, p_loss: f64, ambient: f64) -> f64 {
        ambient + p_loss * self.r_th
    }

    /// Advances the node by `dt_s` seconds with losses `p_loss` kW and ambient `ambient` °C held
    /// constant over the step (exact exponential update). Returns the new temperature.
    pub fn step(&mut self, p_loss: f64, ambient: f64, dt_s: f64) -> f64 {
        self.temp = self.temperature_after(p_loss, ambient, dt_s);
        self.ambient = ambient;
        self.temp
    }

    /// Temperature, °C, after `t_s` seconds at constant losses `p_loss` kW and ambient `ambient` °C,
    /// without changing the node: `T_ss + (T − T_ss)·exp(−t/τ)`. Negative or NaN `t_s` count as 0.
    pub fn temperature_after(&self, p_loss: f64, ambient: f64, t_s: f64) -> f64 {
        let t_ss = self.steady_state(p_loss, ambient);
        let decay = (-t_s.max(0.0) / self.tau_s).exp();
        t_ss + (self.temp - t_ss) * decay
    }

    /// Time, s, until the node reaches `limit_c` °C under constant losses `p_loss` kW and ambient
    /// `ambient` °C, from its current temperature: `t = −τ·ln((T_ss − T_lim)/(T_ss − T))`.
    ///
    /// `Some(0.0)` when the node is already at or above the limit; `None` when it never gets there
    /// (`T_ss ≤ T_lim`: the exponential only approaches `T_ss`) or an argument is not finite.
    pub fn time_to_limit(&self, p_loss: f64, ambient: f64, limit_c: f64) -> Option<f64> {
        first_order_time_to_limit(self.temp, self.steady_state(p_loss, ambient), limit_c, self.tau_s)
            .ok()
            .flatten()
    }

    /// Heat capacity C_th = τ / R_th, kJ/K.
    pub fn heat_capacity_kj_per_k(&self) -> f64 {
        self.tau_s / self.r_th
    }
}

/// Time, s, for a first-order response starting at `t0_c` °C and heading for `t_ss_c` °C with time
/// constant `tau_s` s to reach the limit `limit_c` °C from below:
///
/// `t = −τ·ln((T_ss − T_lim)/(T_ss − T₀))`.
///
/// Returns `Ok(Some(0.0))` when `T₀ ≥ T_lim` (already there), `Ok(None)` when the limit is never reached
/// (`T_ss ≤ T_lim`), and an error when an argument is not finite or `τ ≤ 0`.
pub fn first_order_time_to_limit(t0_c: f64, t_ss_c: f64, limit_c: f64, tau_s: f64) -> Result<Option<f64>, PhysicsError> {
    within("t0_c", t0_c, -273.15, f64::MAX)?;
    within("t_ss_c", t_ss_c, -f64::MAX, f64::MAX)?;
    within("limit_c", limit_c, -f64::MAX, f64::MAX)?;
    positive("tau_s", tau_s)?;
    if t0_c >= limit_c {
        return Ok(Some(0.0));
    }
    if t_ss_c <= limit_c {
        return Ok(None);
    }
    // T₀ < T_lim < T_ss, so the ratio is in (0, 1) and the logarithm is negative.
    Ok(Some(-tau_s * ((t_ss_c - limit_c) / (t_ss_c - t0_c)).ln()))
}

/// Temperatures of a two-node network, °C.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoNodeTemperatures {
    /// Winding temperature, °C.
    pub winding: f64,
    /// Frame (stator core + housing) temperature, °C.
    pub frame: f64,
}

/// Parameters of the two-node winding + frame network (see the module doc for the equations).
/// Construct with [`TwoNodeParams::new`] or [`TwoNodeParams::from_rated_rises`], which validate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoNodeParams {
    /// Thermal resistance winding → frame, K/kW.
    pub r_winding_frame: f64,
    /// Thermal resistance frame → ambient, K/kW.
    pub r_frame_ambient: f64,
    /// Heat capacity of the winding, kJ/K.
    pub c_winding: f64,
    /// Heat capacity of the frame, kJ/K.
    pub c_frame: f64,
}

impl TwoNodeParams {
    /// Network with resistances in K/kW and heat capacities in kJ/K (all finite and > 0).
    pub fn new(r_winding_frame: f64, r_frame_ambient: f64, c_winding: f64, c_frame: f64) -> Result<TwoNodeParams, PhysicsError> {
        Ok(TwoNodeParams {
            r_winding_frame: positive("r_winding_frame", r_winding_frame)?,
            r_frame_ambient: positive("r_frame_ambient", r_frame_ambient)?,
            c_winding: positive("c_winding", c_winding)?,
            c_frame: positive("c_frame", c_frame)?,
        })
    }

    /// Calibrates the network from a rated point: with winding losses `p_winding_kw` and frame losses
    /// `p_frame_kw` the winding rises `winding_rise_k` and the frame `frame_rise_k` above ambient
    /// (`0 < frame_rise < winding_rise`). `tau_winding_s = C_w·R_wf` is the winding's own time constant
    /// against a frame held fixed, `tau_frame_s = C_f·R_fa` the frame's against ambient.
    ///
    /// `R_fa = ΔT_f/(P_w + P_f)`, `R_wf = (ΔT_w − ΔT_f)/P_w`, `C_w = τ_w/R_wf`, `C_f = τ_f/R_fa`.
    pub fn from_rated_rises(
        p_winding_kw: f64,
        p_frame_kw: f64,
        winding_rise_k: f64,
        frame_rise_k: f64,
        tau_winding_s: f64,
        tau_frame_s: f64,
    ) -> Result<TwoNodeParams, PhysicsError> {
        positive("p_winding_kw", p_winding_kw)?;
        within("p_frame_kw", p_frame_kw, 0.0, f64::MAX)?;
        positive("frame_rise_k", frame_rise_k)?;
        positive("winding_rise_k", winding_rise_k)?;
        if winding_rise_k <= frame_rise_k {
            return Err(PhysicsError::InvalidParameter {
                name: "winding_rise_k",
                value: winding_rise_k,
                reason: "must be larger than the frame rise",
            });
        }
        positive("tau_winding_s", tau_winding_s)?;
        positive("tau_frame_s", tau_frame_s)?;
        let r_fa = frame_rise_k / (p_winding_kw + p_frame_kw);
        let r_wf = (winding_rise_k - frame_rise_k) / p_winding_kw;
        TwoNodeParams::new(r_wf, r_fa, tau_winding_s / r_wf, tau_frame_s / r_fa)
    }

    /// Steady state for constant winding losses `p_winding_kw`, frame losses `p_frame_kw` (kW) and
    /// ambient `ambient_c` °C: `T_f = T_amb + (P_w + P_f)·R_fa`, `T_w = T_f + P_w·R_wf`.
    pub fn steady_state(&self, p_winding_kw: f64, p_frame_kw: f64, ambient_c: f64) -> TwoNodeTemperatures {
        let frame = ambient_c + (p_winding_kw + p_frame_kw) * self.r_frame_ambient;
        TwoNodeTemperatures {
            winding: frame + p_winding_kw * self.r_winding_frame,
            frame,
        }
    }

    /// The system matrix `A` (1/s) of `dx/dt = A·x`, row-major `[[a11, a12], [a21, a22]]`.
    fn matrix(&self) -> [[f64; 2]; 2] {
        let gw = 1.0 / (self.c_winding * self.r_winding_frame);
        let gf = 1.0 / (self.c_frame * self.r_winding_frame);
        let ga = 1.0 / (self.c_frame * self.r_frame_ambient);
        [[-gw, gw], [gf, -gf - ga]]
    }

    /// Eigenvalues `(λ₁, λ₂)`, 1/s, with `0 > λ₁ > λ₂`.
    fn eigenvalues(&self) -> (f64, f64) {
        let [[a11, a12], [a21, a22]] = self.matrix();
        let trace = a11 + a22;
        let det = a11 * a22 - a12 * a21;
        let disc = ((a11 - a22) * (a11 - a22) + 4.0 * a12 * a21).sqrt();
        // λ₂ = (tr − √disc)/2 has no cancellation; λ₁ = det/λ₂ avoids it for the small root.
        let l2 = 0.5 * (trace - disc);
        (det / l2, l2)
    }

    /// The two time constants `(slow, fast)`, s: `−1/λ₁` and `−1/λ₂`.
    pub fn time_constants_s(&self) -> (f64, f64) {
        let (l1, l2) = self.eigenvalues();
        (-1.0 / l1, -1.0 / l2)
    }

    /// Heat stored above ambient, kJ: `C_w·(T_w − T_amb) + C_f·(T_f − T_amb)`.
    pub fn stored_energy_kj(&self, temps: TwoNodeTemperatures, ambient_c: f64) -> f64 {
        self.c_winding * (temps.winding - ambient_c) + self.c_frame * (temps.frame - ambient_c)
    }

    /// Temperatures after `t_s` seconds from `temps` with constant losses and ambient (exact
    /// matrix-exponential solution). Negative or NaN `t_s` count as 0.
    pub fn propagate(&self, temps: TwoNodeTemperatures, p_winding_kw: f64, p_frame_kw: f64, ambient_c: f64, t_s: f64) -> TwoNodeTemperatures {
        let t = t_s.max(0.0);
        let ss = self.steady_state(p_winding_kw, p_frame_kw, ambient_c);
        let x = [temps.winding - ss.winding, temps.frame - ss.frame];
        let a = self.matrix();
        let ax = [a[0][0] * x[0] + a[0][1] * x[1], a[1][0] * x[0] + a[1][1] * x[1]];
        let (l1, l2) = self.eigenvalues();
        let gap = l1 - l2;
        let e1 = (l1 * t).exp();
        // f₁ = (e^{λ₁t} − e^{λ₂t})/(λ₁ − λ₂) written as e^{λ₁t}·(1 − e^{−(λ₁−λ₂)t})/(λ₁ − λ₂): no overflow.
        let f1 = e1 * -(-gap * t).exp_m1() / gap;
        let f0 = e1 - l1 * f1;
        TwoNodeTemperatures {
            winding: ss.winding + f0 * x[0] + f1 * ax[0],
            frame: ss.frame + f0 * x[1] + f1 * ax[1],
        }
    }

    /// Time, s, until the winding reaches `limit_c` °C from `temps` under constant losses and ambient.
    ///
    /// The winding temperature is `T_w,ss + α·e^{λ₁t} + β·e^{λ₂t}`, which has at most one turning point;
    /// the first crossing is bracketed on the monotone pieces and found by bisection (to floating-point
    /// precision). `Some(0.0)` when the winding is already at or above the limit; `None` when it never
    /// reaches it or an argument is not finite.
    pub fn time_to_winding_limit(&self, temps: TwoNodeTemperatures, p_winding_kw: f64, p_frame_kw: f64, ambient_c: f64, limit_c: f64) -> Option<f64> {
        let finite = [temps.winding, temps.frame, p_winding_kw, p_frame_kw, ambient_c, limit_c]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return None;
        }
        let ss = self.steady_state(p_winding_kw, p_frame_kw, ambient_c);
        if temps.winding >= limit_c {
            return Some(0.0);
        }
        let x = [temps.winding - ss.winding, temps.frame - ss.frame];
        let a = self.matrix();
        let ax0 = a[0][0] * x[0] + a[0][1] * x[1];
        let (l1, l2) = self.eigenvalues();
        let gap = l1 - l2;
        // x_w(t) = α·e^{λ₁t} + β·e^{λ₂t} (from e^{At} = f₀·I + f₁·A).
        let beta = -(ax0 - l1 * x[0]) / gap;
        let alpha = x[0] - beta;
        let g = |t: f64| ss.winding + alpha * (l1 * t).exp() + beta * (l2 * t).exp() - limit_c;
        // Turning point: α·λ₁·e^{λ₁t} + β·λ₂·e^{λ₂t} = 0 ⇒ e^{(λ₁−λ₂)t} = −β·λ₂/(α·λ₁).
        let ratio = -beta * l2 / (alpha * l1);
        let t_turn = if ratio.is_finite() && ratio > 1.0 { ratio.ln() / gap } else { 0.0 };
        let (lo, hi) = if t_turn > 0.0 && g(t_turn) >= 0.0 {
            (0.0, t_turn)
        } else if ss.winding > limit_c {
            // Monotone rise towards T_ss > limit after the turning point: double until past the limit.
            let mut hi = t_turn.max(-1.0 / l1);
            let mut steps = 0;
            while g(hi) < 0.0 {
                hi *= 2.0;
                steps += 1;
                if steps > 1100 || !hi.is_finite() {
                    return None;
                }
            }
            (t_turn, hi)
        } else {
            return None;
        };
        Some(bisect(g, lo, hi))
    }
}

/// Smallest `t` in `[lo, hi]` with `g(t) ≥ 0`, to floating-point precision, for `g` increasing on the
/// interval with `g(lo) < 0 ≤ g(hi)`.
fn bisect(g: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid) >= 0.0 { hi = mid } else { lo = mid }
    }
    hi
}

/// A stateful two-node winding + frame network (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoNodeThermal {
    pub params: TwoNodeParams,
    /// Current temperatures, °C.
    pub temps: TwoNodeTemperatures,
}

impl TwoNodeThermal {
    /// The network `params` with both nodes at `initial_c` °C.
    pub fn new(params: TwoNodeParams, initial_c: f64) -> Result<TwoNodeThermal, PhysicsError> {
        let t = within("initial_c", initial_c, -273.15, 1.0e4)?;
        Ok(TwoNodeThermal {
            params,
            temps: TwoNodeTemperatures { winding: t, frame: t },
        })
    }

    /// Advances by `dt_s` seconds with winding losses `p_winding_kw`, frame losses `p_frame_kw` (kW) and
    /// ambient `ambient_c` °C held constant over the step (exact). Returns the new temperatures.
    pub fn step(&mut self, p_winding_kw: f64, p_frame_kw: f64, ambient_c: f64, dt_s: f64) -> TwoNodeTemperatures {
        self.temps = self.params.propagate(self.temps, p_winding_kw, p_frame_kw, ambient_c, dt_s);
        self.temps
    }

    /// Steady state for these losses and ambient; see [`TwoNodeParams::steady_state`].
    pub fn steady_state(&self, p_winding_kw: f64, p_frame_kw: f64, ambient_c: f64) -> TwoNodeTemperatures {
        self.params.steady_state(p_winding_kw, p_frame_kw, ambient_c)
    }

    /// Time, s, until the winding reaches `limit_c` °C from the current state; see
    /// [`TwoNodeParams::time_to_winding_limit`].
    pub fn time_to_winding_limit(&self, p_winding_kw: f64, p_frame_kw: f64, ambient_c: f64, limit_c: f64) -> Option<f64> {
        self.params.time_to_winding_limit(self.temps, p_winding_kw, p_frame_kw, ambient_c, limit_c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn steady_state_is_ambient_plus_loss_times_resistance() {
        let n = ThermalNode::new(20.0, 20.0, 40.0, 1800.0).unwrap();
        assert_eq!(n.steady_state(2.0, 25.0), 105.0);
        assert_eq!(n.heat_capacity_kj_per_k(), 45.0);
    }

    #[test]
    fn one_time_constant_reaches_63_percent() {
        // From 20 °C towards 100 °C: after τ, 20 + 80·(1 − e⁻¹) = 70.5696 °C.
        let mut n = ThermalNode::new(20.0, 20.0, 40.0, 1800.0).unwrap();
        let t = n.step(2.0, 20.0, 1800.0);
        assert!((t - (20.0 + 80.0 * (1.0 - (-1.0f64).exp()))).abs() < 1e-9, "{t}");
        assert!((t - 70.5696).abs() < 1e-3);
    }

    #[test]
    fn many_small_steps_equal_one_big_step() {
        let mut a = ThermalNode::new(30.0, 20.0, 10.0, 600.0).unwrap();
        let mut b = a;
        for _ in 0..600 {
            a.step(3.0, 20.0, 1.0);
        }
        b.step(3.0, 20.0, 600.0);
        assert!((a.temp - b.temp).abs() < 1e-9);
        // and it converges to the steady state
        for _ in 0..100 {
            a.step(3.0, 20.0, 600.0);
        }
        assert!((a.temp - 50.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(ThermalNode::new(20.0, 20.0, 0.0, 10.0).is_err());
        assert!(ThermalNode::new(20.0, 20.0, 1.0, f64::NAN).is_err());
        assert!(first_order_time_to_limit(20.0, 100.0, 80.0, 0.0).is_err());
        assert!(first_order_time_to_limit(f64::NAN, 100.0, 80.0, 10.0).is_err());
        assert!(TwoNodeParams::new(1.0, 1.0, 0.0, 1.0).is_err());
        assert!(
            TwoNodeParams::from_rated_rises(1.0, 0.5, 40.0, 50.0, 100.0, 1000.0).is_err(),
            "winding rise below frame rise"
        );
        assert!(TwoNodeThermal::new(TwoNodeParams::new(1.0, 1.0, 1.0, 1.0).unwrap(), f64::INFINITY).is_err());
    }

    #[test]
    fn time_to_limit_incropera_example_5_1() {
        // Incropera et al., Fundamentals of Heat and Mass Transfer, 6th ed., Example 5.1: a thermocouple
        // junction with τ = 1 s, initially 25 °C, put into a 200 °C gas stream, reaches 199 °C (within 1 °C
        // of the gas) after t = τ·ln((25 − 200)/(199 − 200)) = ln 175 = 5.16 s ("5.2 s" in the book).
        // No internal losses: the steady state is the gas temperature.
        let junction = ThermalNode::new(25.0, 200.0, 1.0, 1.0).unwrap();
        let t = junction.time_to_limit(0.0, 200.0, 199.0).unwrap();
        close(t, 175f64.ln(), 1e-12);
        close(t, 5.1648, 1e-4);
        close(junction.temperature_after(0.0, 200.0, t), 199.0, 1e-9);
    }

    #[test]
    fn time_to_limit_of_a_motor_winding() {
        // Hand example (first-order response, IEC 60034-1 thermal time constant): a class F winding
        // (limit 155 °C) at 60 °C, τ = 1800 s, R_th = 50 K/kW, 2.4 kW of losses in 40 °C ambient:
        // T_ss = 40 + 2.4·50 = 160 °C; t = −1800·ln((160 − 155)/(160 − 60)) = 1800·ln 20 = 5392.3 s.
        let w = ThermalNode::new(60.0, 40.0, 50.0, 1800.0).unwrap();
        let t = w.time_to_limit(2.4, 40.0, 155.0).unwrap();
        close(t, 1800.0 * 20f64.ln(), 1e-9);
        close(t, 5392.3, 0.1);
        close(w.temperature_after(2.4, 40.0, t), 155.0, 1e-9);
        // T_ss below (or at) the limit: never reached.
        assert_eq!(w.time_to_limit(2.0, 40.0, 155.0), None); // T_ss = 140 °C
        assert_eq!(w.time_to_limit(2.3, 40.0, 155.0), None); // T_ss = 155 °C, only approached
        // Already above: zero.
        assert_eq!(w.time_to_limit(2.4, 40.0, 50.0), Some(0.0));
        assert_eq!(first_order_time_to_limit(20.0, 100.0, 80.0, 10.0).unwrap(), Some(10.0 * 4f64.ln()));
    }

    /// The worked two-node example: R_wf = 20 K/kW, R_fa = 30 K/kW, C_w = 15 kJ/K, C_f = 60 kJ/K.
    fn example_params() -> TwoNodeParams {
        TwoNodeParams::new(20.0, 30.0, 15.0, 60.0).unwrap()
    }

    #[test]
    fn two_node_steady_state_and_time_constants_by_hand() {
        // Hand solution of the network in the module doc (circuit analysis):
        // P_w = 1 kW, P_f = 0.5 kW, T_amb = 40 °C: T_f = 40 + 1.5·30 = 85 °C, T_w = 85 + 1·20 = 105 °C.
        let p = example_params();
        let ss = p.steady_state(1.0, 0.5, 40.0);
        close(ss.frame, 85.0, 1e-12);
        close(ss.winding, 105.0, 1e-12);
        // A = [[−1/300, 1/300], [1/1200, −1/720]] s⁻¹: trace −17/3600, det 1/540000,
        // λ = (−17 ± √193)/7200, so τ = 7200/(17 ∓ √193) = 2316.933 s and 233.067 s.
        let (slow, fast) = p.time_constants_s();
        close(slow, 7200.0 / (17.0 - 193f64.sqrt()), 1e-9);
        close(fast, 7200.0 / (17.0 + 193f64.sqrt()), 1e-9);
        close(slow, 2316.933, 1e-3);
        close(fast, 233.067, 1e-3);
        // Exact propagation for a long time ends at the steady state.
        let cold = TwoNodeTemperatures { winding: 40.0, frame: 40.0 };
        let late = p.propagate(cold, 1.0, 0.5, 40.0, 100.0 * slow);
        close(late.winding, 105.0, 1e-9);
        close(late.frame, 85.0, 1e-9);
        // Calibration from rated rises reproduces the same network.
        let q = TwoNodeParams::from_rated_rises(1.0, 0.5, 65.0, 45.0, 300.0, 1800.0).unwrap();
        close(q.r_winding_frame, 20.0, 1e-12);
        close(q.r_frame_ambient, 30.0, 1e-12);
        close(q.c_winding, 15.0, 1e-12);
        close(q.c_frame, 60.0, 1e-12);
    }

    #[test]
    fn two_node_exact_step_matches_a_fine_runge_kutta_integration() {
        // Independent check of the matrix exponential: classical RK4 on the ODEs with 0.5 s steps.
        let p = example_params();
        let (pw, pf, ta) = (1.0, 0.5, 40.0);
        let deriv = |w: f64, f: f64| {
            let q_wf = (w - f) / p.r_winding_frame;
            ((pw - q_wf) / p.c_winding, (pf + q_wf - (f - ta) / p.r_frame_ambient) / p.c_frame)
        };
        let (mut w, mut f) = (120.0, 30.0); // a hot winding on a cold frame: winding first falls, then rises
        let h = 0.5;
        for _ in 0..(3000.0 / h) as usize {
            let (k1w, k1f) = deriv(w, f);
            let (k2w, k2f) = deriv(w + 0.5 * h * k1w, f + 0.5 * h * k1f);
            let (k3w, k3f) = deriv(w + 0.5 * h * k2w, f + 0.5 * h * k2f);
            let (k4w, k4f) = deriv(w + h * k3w, f + h * k3f);
            w += h / 6.0 * (k1w + 2.0 * k2w + 2.0 * k3w + k4w);
            f += h / 6.0 * (k1f + 2.0 * k2f + 2.0 * k3f + k4f);
        }
        let exact = p.propagate(TwoNodeTemperatures { winding: 120.0, frame: 30.0 }, pw, pf, ta, 3000.0);
        close(exact.winding, w, 1e-8);
        close(exact.frame, f, 1e-8);
        // One big step equals many small steps.
        let mut net = TwoNodeThermal::new(p, 40.0).unwrap();
        let mut big = net;
        for _ in 0..300 {
            net.step(pw, pf, ta, 10.0);
        }
        big.step(pw, pf, ta, 3000.0);
        close(net.temps.winding, big.temps.winding, 1e-9);
        close(net.temps.frame, big.temps.frame, 1e-9);
    }

    #[test]
    fn two_node_energy_balance() {
        // First law over a heating transient: energy in = Δ(stored heat) + heat to ambient, with
        // heat to ambient = ∫(T_f − T_amb)/R_fa dt (Simpson's rule on the exact solution).
        let p = example_params();
        let (pw, pf, ta) = (1.0, 0.5, 40.0);
        let start = TwoNodeTemperatures { winding: 40.0, frame: 40.0 };
        let horizon = 4000.0;
        let n = 4000;
        let h = horizon / n as f64;
        let loss = |t: f64| (p.propagate(start, pw, pf, ta, t).frame - ta) / p.r_frame_ambient;
        let mut integral = loss(0.0) + loss(horizon);
        for i in 1..n {
            integral += if i % 2 == 1 { 4.0 } else { 2.0 } * loss(i as f64 * h);
        }
        integral *= h / 3.0;
        let end = p.propagate(start, pw, pf, ta, horizon);
        let stored = p.stored_energy_kj(end, ta) - p.stored_energy_kj(start, ta);
        let energy_in = (pw + pf) * horizon; // kW·s = kJ
        close(energy_in, stored + integral, 1e-6 * energy_in);
    }

    #[test]
    fn two_node_time_to_winding_limit() {
        let p = example_params();
        // Heating from cold: the crossing time puts the winding exactly on the limit.
        let cold = TwoNodeTemperatures { winding: 40.0, frame: 40.0 };
        let t = p.time_to_winding_limit(cold, 1.0, 0.5, 40.0, 100.0).unwrap();
        close(p.propagate(cold, 1.0, 0.5, 40.0, t).winding, 100.0, 1e-6);
        assert!(p.propagate(cold, 1.0, 0.5, 40.0, 0.99 * t).winding < 100.0);
        // Steady state (105 °C) below the limit: never.
        assert_eq!(p.time_to_winding_limit(cold, 1.0, 0.5, 40.0, 110.0), None);
        // Already there.
        assert_eq!(
            p.time_to_winding_limit(TwoNodeTemperatures { winding: 120.0, frame: 80.0 }, 1.0, 0.5, 40.0, 110.0),
            Some(0.0)
        );
        // Overshoot: a cool winding on a very hot frame (say, after an overload) is pushed up by the frame
        // (fast time constant) well past 110 °C before both settle to 105 °C. The limit 110 °C is above
        // the steady state, so the crossing exists only because of the transient.
        let hot_frame = TwoNodeTemperatures { winding: 60.0, frame: 150.0 };
        let t = p.time_to_winding_limit(hot_frame, 1.0, 0.5, 40.0, 110.0).unwrap();
        close(p.propagate(hot_frame, 1.0, 0.5, 40.0, t).winding, 110.0, 1e-6);
        // The first crossing, not a later one: the winding is below the limit everywhere before it.
        for k in 0..100 {
            let s = t * k as f64 / 100.0;
            assert!(p.propagate(hot_frame, 1.0, 0.5, 40.0, s).winding < 110.0 + 1e-9);
        }
        assert_eq!(p.time_to_winding_limit(hot_frame, 1.0, 0.5, 40.0, f64::NAN), None);
    }
}
