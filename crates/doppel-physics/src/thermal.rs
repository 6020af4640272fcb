//! First-order thermal node.
//!
//! `C_th·dT/dt = P_loss − (T − T_amb)/R_th` with time constant `τ = R_th·C_th`.
//! For a step in which `P_loss` and `T_amb` are constant, the exact solution is
//! `T(t+dt) = T_ss + (T(t) − T_ss)·exp(−dt/τ)` with `T_ss = T_amb + P_loss·R_th`,
//! so the update is stable and exact for any `dt` (no Euler error).

use crate::{PhysicsError, positive};

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
        let t_ss = self.steady_state(p_loss, ambient);
        let decay = (-dt_s.max(0.0) / self.tau_s).exp();
        self.temp = t_ss + (self.temp - t_ss) * decay;
        self.ambient = ambient;
        self.temp
    }

    /// Heat capacity C_th = τ / R_th, kJ/K.
    pub fn heat_capacity_kj_per_k(&self) -> f64 {
        self.tau_s / self.r_th
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
