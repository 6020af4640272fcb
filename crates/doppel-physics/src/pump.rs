//! Centrifugal pump: pump curve, system curve, operating point, affinity laws, efficiency, impeller wear.
//!
//! * Pump curve at speed ratio `r = n/n_r`: `H(Q) = w_h·(H_0·r² − a·Q²)` with shut-off head
//!   `H_0 = k_0·H_r` (default `k_0 = 1.25`) and `a = (H_0 − H_r)/Q_r²`, so the curve passes through the
//!   rated point (taken as the best-efficiency point, BEP) at `r = 1`. The `r²` and the `Q` scaling make
//!   the curve obey the affinity laws: a point `(Q, H)` at `r = 1` maps to `(r·Q, r²·H)`.
//! * Efficiency: a parabola through zero flow and the BEP, `η = w_η·η_bep·x·(2 − x)` with `x = Q/(r·Q_bep)`.
//! * Shaft power `P = ρ·g·Q·H/η`. Writing `η` out, `Q` cancels: `P = ρ·g·H·r·Q_bep/(w_η·η_bep·(2 − x))`,
//!   which stays finite at zero flow (shut-off power) and scales with `r³` (affinity law).
//! * System curve `H = H_static + k·Q²`; the operating point is where the two curves meet:
//!   `Q = √((w_h·H_0·r² − H_static)/(w_h·a + k))`, or zero flow when the pump cannot overcome the static head.
//! * Impeller wear `w ∈ [0, 1]` (1 = worn out) scales head by `w_h = 1 − 0.20·w` and efficiency by
//!   `w_η = 1 − 0.25·w`: at a given flow the worn pump delivers less head and needs more power per unit of flow.
//!
//! Flows in m³/h, heads in m, powers in kW, density in kg/m³.

use crate::{G, PhysicsError, positive, within};

/// Head lost at full impeller wear (fraction of the new pump's head).
pub const WEAR_HEAD_LOSS: f64 = 0.20;
/// Efficiency lost at full impeller wear (fraction of the new pump's efficiency).
pub const WEAR_EFFICIENCY_LOSS: f64 = 0.25;
/// Largest flow ratio `x = Q/(r·Q_bep)` the efficiency parabola is evaluated at (run-out).
const MAX_FLOW_RATIO: f64 = 1.8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CentrifugalPump {
    /// Flow at the best-efficiency point at rated speed, m³/h.
    pub rated_flow_m3h: f64,
    /// Head at the best-efficiency point at rated speed, m.
    pub rated_head_m: f64,
    pub rated_speed_rpm: f64,
    /// Efficiency at the best-efficiency point (0..1).
    pub bep_efficiency: f64,
    pub density_kg_m3: f64,
    /// Shut-off head / rated head.
    pub shutoff_head_ratio: f64,
}

/// The system the pump works against: `H = static_head_m + k·Q²` (Q in m³/h).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystemCurve {
    pub static_head_m: f64,
    pub k: f64,
}

impl SystemCurve {
    /// The system curve with `static_head_m` that passes through the point (`flow_m3h`, `head_m`).
    pub fn through(static_head_m: f64, flow_m3h: f64, head_m: f64) -> SystemCurve {
        SystemCurve {
            static_head_m,
            k: ((head_m - static_head_m) / (flow_m3h * flow_m3h)).max(0.0),
        }
    }
    pub fn head_at(&self, flow_m3h: f64) -> f64 {
        self.static_head_m + self.k * flow_m3h * flow_m3h
    }
}

/// The pump's steady state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpOperatingPoint {
    pub speed_ratio: f64,
    pub flow_m3h: f64,
    pub head_m: f64,
    /// Hydraulic efficiency (0..1).
    pub efficiency: f64,
    /// ρ·g·Q·H, kW.
    pub hydraulic_kw: f64,
    pub shaft_kw: f64,
}

impl CentrifugalPump {
    /// A pump with the default shut-off head ratio (1.25).
    pub fn new(rated_flow_m3h: f64, rated_head_m: f64, rated_speed_rpm: f64, bep_efficiency: f64, density_kg_m3: f64) -> Result<CentrifugalPump, PhysicsError> {
        CentrifugalPump {
            rated_flow_m3h,
            rated_head_m,
            rated_speed_rpm,
            bep_efficiency,
            density_kg_m3,
            shutoff_head_ratio: 1.25,
        }
        .validated()
    }

    pub fn validated(self) -> Result<CentrifugalPump, PhysicsError> {
        positive("rated_flow_m3h", self.rated_flow_m3h)?;
        positive("rated_head_m", self.rated_head_m)?;
        positive("rated_speed_rpm", self.rated_speed_rpm)?;
        within("bep_efficiency", self.bep_efficiency, 0.05, 0.95)?;
        positive("density_kg_m3", self.density_kg_m3)?;
        within("shutoff_head_ratio", self.shutoff_head_ratio, 1.01, 3.0)?;
        Ok(self)
    }

    /// Shut-off head at rated speed, new impeller, m.
    pub fn shutoff_head_m(&self) -> f64 {
        self.shutoff_head_ratio * self.rated_head_m
    }

    /// Curvature `a` of the pump curve, m per (m³/h)².
    pub fn curve_coefficient(&self) -> f64 {
        (self.shutoff_head_m() - self.rated_head_m) / (self.rated_flow_m3h * self.rated_flow_m3h)
    }

    fn wear_factors(wear: f64) -> (f64, f64) {
        let w = if wear.is_finite() { wear.clamp(0.0, 1.0) } else { 0.0 };
        (1.0 - WEAR_HEAD_LOSS * w, 1.0 - WEAR_EFFICIENCY_LOSS * w)
    }

    /// Head at `flow_m3h` and speed ratio `r` with impeller wear `wear` (m; may be negative past run-out).
    pub fn head_at(&self, flow_m3h: f64, speed_ratio: f64, wear: f64) -> f64 {
        let (wh, _) = Self::wear_factors(wear);
        wh * (self.shutoff_head_m() * speed_ratio * speed_ratio - self.curve_coefficient() * flow_m3h * flow_m3h)
    }

    /// Hydraulic efficiency at `flow_m3h` and speed ratio `r` with impeller wear (0..1).
    pub fn efficiency_at(&self, flow_m3h: f64, speed_ratio: f64, wear: f64) -> f64 {
        if speed_ratio <= 0.0 {
            return 0.0;
        }
        let (_, we) = Self::wear_factors(wear);
        let x = (flow_m3h / (speed_ratio * self.rated_flow_m3h)).clamp(0.0, 2.0);
        (we * self.bep_efficiency * x * (2.0 - x)).max(0.0)
    }

    /// Shaft power at `flow_m3h` and speed ratio `r` with impeller wear, kW (finite at zero flow).
    pub fn shaft_power_kw(&self, flow_m3h: f64, speed_ratio: f64, wear: f64) -> f64 {
        if speed_ratio <= 0.0 {
            return 0.0;
        }
        let (_, we) = Self::wear_factors(wear);
        let x = (flow_m3h / (speed_ratio * self.rated_flow_m3h)).clamp(0.0, MAX_FLOW_RATIO);
        let head = self.head_at(flow_m3h, speed_ratio, wear).max(0.0);
        self.density_kg_m3 * G * head * speed_ratio * self.rated_flow_m3h / 3600.0 / (we * self.bep_efficiency * (2.0 - x)) / 1000.0
    }

    /// Hydraulic power ρ·g·Q·H, kW.
    pub fn hydraulic_power_kw(&self, flow_m3h: f64, head_m: f64) -> f64 {
        self.density_kg_m3 * G * (flow_m3h / 3600.0) * head_m / 1000.0
    }

    /// Operating point against `system` at speed ratio `r = n/n_rated` with impeller wear `wear`.
    pub fn operating_point(&self, speed_ratio: f64, wear: f64, system: &SystemCurve) -> PumpOperatingPoint {
        let r = if speed_ratio.is_finite() { speed_ratio.max(0.0) } else { 0.0 };
        let (wh, _) = Self::wear_factors(wear);
        let driving = wh * self.shutoff_head_m() * r * r - system.static_head_m;
        let flow = if driving > 0.0 {
            (driving / (wh * self.curve_coefficient() + system.k)).sqrt()
        } else {
            0.0
        };
        let head = if r > 0.0 { self.head_at(flow, r, wear).max(0.0) } else { 0.0 };
        let efficiency = self.efficiency_at(flow, r, wear);
        let shaft = self.shaft_power_kw(flow, r, wear);
        PumpOperatingPoint {
            speed_ratio: r,
            flow_m3h: flow,
            head_m: head,
            efficiency,
            hydraulic_kw: self.hydraulic_power_kw(flow, head),
            shaft_kw: shaft,
        }
    }
}

/// The affinity laws for one impeller: scales (flow, head, power) from speed ratio 1 to `speed_ratio`:
/// `Q·r`, `H·r²`, `P·r³`.
pub fn affinity_scale(flow: f64, head: f64, power: f64, speed_ratio: f64) -> (f64, f64, f64) {
    (flow * speed_ratio, head * speed_ratio.powi(2), power * speed_ratio.powi(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> CentrifugalPump {
        CentrifugalPump::new(60.0, 40.0, 2900.0, 0.72, 998.0).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn rated_point_by_hand() {
        let p = example();
        assert_eq!(p.shutoff_head_m(), 50.0);
        close(p.curve_coefficient(), 10.0 / 3600.0, 1e-15);
        close(p.head_at(60.0, 1.0, 0.0), 40.0, 1e-12);
        close(p.efficiency_at(60.0, 1.0, 0.0), 0.72, 1e-12);
        // ρgQH = 998 · 9.80665 · (60/3600) · 40 = 6524.69 W; / 0.72 = 9.0621 kW
        close(p.hydraulic_power_kw(60.0, 40.0), 6.52469, 1e-5);
        close(p.shaft_power_kw(60.0, 1.0, 0.0), 9.06207, 1e-5);
    }

    #[test]
    fn operating_point_meets_system_curve() {
        let p = example();
        let sys = SystemCurve::through(16.0, 60.0, 40.0);
        let op = p.operating_point(1.0, 0.0, &sys);
        close(op.flow_m3h, 60.0, 1e-9);
        close(op.head_m, 40.0, 1e-9);
        // at 85 % speed: Q = √((50·0.7225 − 16)/((10 + 24)/3600)) = √(20.125·105.882) = 46.1615 m³/h
        let op = p.operating_point(0.85, 0.0, &sys);
        close(op.flow_m3h, 46.1615, 1e-3);
        close(op.head_m, sys.head_at(op.flow_m3h), 1e-9);
        close(op.efficiency * op.shaft_kw, op.hydraulic_kw, 1e-9);
        // too slow to lift the static head: no flow, dead-headed at shut-off head
        let op = p.operating_point(0.5, 0.0, &sys);
        assert_eq!(op.flow_m3h, 0.0);
        close(op.head_m, 12.5, 1e-12);
        assert!(op.shaft_kw > 0.0 && op.shaft_kw.is_finite());
    }

    #[test]
    fn affinity_laws_hold_on_a_friction_only_system() {
        let p = example();
        let sys = SystemCurve::through(0.0, 60.0, 40.0);
        let full = p.operating_point(1.0, 0.0, &sys);
        for r in [0.5, 0.8, 1.1] {
            let op = p.operating_point(r, 0.0, &sys);
            let (q, h, pw) = affinity_scale(full.flow_m3h, full.head_m, full.shaft_kw, r);
            close(op.flow_m3h, q, 1e-9);
            close(op.head_m, h, 1e-9);
            close(op.shaft_kw, pw, 1e-9);
            close(op.efficiency, full.efficiency, 1e-12);
        }
    }

    #[test]
    fn worn_impeller_gives_less_head_and_efficiency_and_more_power_per_flow() {
        let p = example();
        let sys = SystemCurve::through(16.0, 60.0, 40.0);
        let new = p.operating_point(1.0, 0.0, &sys);
        let worn = p.operating_point(1.0, 1.0, &sys);
        close(p.head_at(60.0, 1.0, 1.0), 32.0, 1e-12);
        close(p.efficiency_at(60.0, 1.0, 1.0), 0.54, 1e-12);
        assert!(worn.head_m < new.head_m && worn.flow_m3h < new.flow_m3h);
        assert!(worn.efficiency < new.efficiency);
        assert!(worn.shaft_kw / worn.flow_m3h > new.shaft_kw / new.flow_m3h);
    }
}
