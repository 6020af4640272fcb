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
//! * From measurements (flow, head, shaft power): [`pump_efficiency`] `η = ρ·g·Q·H / P_shaft`, and
//!   [`CentrifugalPump::residuals`] gives measured − expected head, power and efficiency at the measured
//!   speed and flow ([`CentrifugalPump::expected_at`]), the physics residuals of a pump.
//!
//! Flows in m³/h, heads in m, powers in kW, density in kg/m³.
//!
//! Sources: hydraulic power and pump efficiency as defined in ISO 9906:2012 (§3: pump power input `P`,
//! pump power output `P_h = ρ·g·Q·H`, `η = P_h/P`); the affinity laws as in Europump & Hydraulic Institute,
//! *Variable Speed Pumping — A Guide to Successful Applications* (2004) and Karassik et al., *Pump Handbook*;
//! the parabolic pump and efficiency curves are the usual textbook approximations around the BEP.

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

    /// Hydraulic power ρ·g·Q·H, kW, with this pump's density.
    pub fn hydraulic_power_kw(&self, flow_m3h: f64, head_m: f64) -> f64 {
        hydraulic_power_kw(flow_m3h, head_m, self.density_kg_m3)
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

/// Affinity laws between two speeds of one impeller: `(Q·r, H·r², P·r³)` with `r = to_rpm/from_rpm`.
/// Validates the speeds (finite, `from_rpm` > 0, `to_rpm` ≥ 0).
pub fn affinity_at_speed(flow: f64, head: f64, power: f64, from_rpm: f64, to_rpm: f64) -> Result<(f64, f64, f64), PhysicsError> {
    let from = positive("from_rpm", from_rpm)?;
    let to = within("to_rpm", to_rpm, 0.0, f64::MAX)?;
    Ok(affinity_scale(flow, head, power, to / from))
}

/// Hydraulic power `ρ·g·Q·H`, kW, of `flow_m3h` m³/h against `head_m` m with density `density_kg_m3`.
pub fn hydraulic_power_kw(flow_m3h: f64, head_m: f64, density_kg_m3: f64) -> f64 {
    density_kg_m3 * G * (flow_m3h / 3600.0) * head_m / 1000.0
}

/// Pump efficiency from measurements: `η = ρ·g·Q·H / P_shaft` with `Q` in m³/h (divided by 3600),
/// `H` in m, `P_shaft` in kW (× 1000) and `ρ` in kg/m³. The result is not clamped: a value above 1 means
/// the measurements are inconsistent. An error when flow or head is negative or not finite, or shaft power
/// or density is not finite and > 0.
pub fn pump_efficiency(flow_m3h: f64, head_m: f64, shaft_kw: f64, density_kg_m3: f64) -> Result<f64, PhysicsError> {
    within("flow_m3h", flow_m3h, 0.0, f64::MAX)?;
    within("head_m", head_m, 0.0, f64::MAX)?;
    positive("shaft_kw", shaft_kw)?;
    positive("density_kg_m3", density_kg_m3)?;
    Ok(hydraulic_power_kw(flow_m3h, head_m, density_kg_m3) / shaft_kw)
}

/// Pump head, m, from the pressure rise across the pump `delta_p_bar` (bar) and density `density_kg_m3`:
/// `H = Δp/(ρ·g)` (velocity and elevation heads neglected).
pub fn head_from_pressure_rise_m(delta_p_bar: f64, density_kg_m3: f64) -> Result<f64, PhysicsError> {
    within("delta_p_bar", delta_p_bar, -f64::MAX, f64::MAX)?;
    positive("density_kg_m3", density_kg_m3)?;
    Ok(delta_p_bar * 1.0e5 / (density_kg_m3 * G))
}

/// Measured pump state, for residuals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpMeasurement {
    pub flow_m3h: f64,
    pub head_m: f64,
    pub shaft_kw: f64,
    pub speed_rpm: f64,
}

/// Measured minus expected, at the measured speed and flow (new impeller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpResiduals {
    /// Head residual, m (negative: the pump delivers less head than a new one, e.g. impeller wear).
    pub head_m: f64,
    /// Shaft power residual, kW.
    pub shaft_kw: f64,
    /// Efficiency residual (fraction; measured `ρ·g·Q·H/P` minus the model's efficiency).
    pub efficiency: f64,
}

impl CentrifugalPump {
    /// Speed ratio `n/n_rated` for a speed in r/min.
    pub fn speed_ratio(&self, speed_rpm: f64) -> f64 {
        speed_rpm / self.rated_speed_rpm
    }

    /// What a new pump does at `flow_m3h` and `speed_rpm` (the measured values): head from the pump curve
    /// (clamped at 0 past run-out), efficiency, hydraulic and shaft power. An error when the flow is
    /// negative or the speed not > 0 (or either is not finite).
    pub fn expected_at(&self, flow_m3h: f64, speed_rpm: f64) -> Result<PumpOperatingPoint, PhysicsError> {
        within("flow_m3h", flow_m3h, 0.0, f64::MAX)?;
        let r = self.speed_ratio(positive("speed_rpm", speed_rpm)?);
        let head = self.head_at(flow_m3h, r, 0.0).max(0.0);
        Ok(PumpOperatingPoint {
            speed_ratio: r,
            flow_m3h,
            head_m: head,
            efficiency: self.efficiency_at(flow_m3h, r, 0.0),
            hydraulic_kw: self.hydraulic_power_kw(flow_m3h, head),
            shaft_kw: self.shaft_power_kw(flow_m3h, r, 0.0),
        })
    }

    /// Measured minus expected head, shaft power and efficiency at the measured speed and flow.
    pub fn residuals(&self, measured: &PumpMeasurement) -> Result<PumpResiduals, PhysicsError> {
        let expected = self.expected_at(measured.flow_m3h, measured.speed_rpm)?;
        let eta = pump_efficiency(measured.flow_m3h, measured.head_m, measured.shaft_kw, self.density_kg_m3)?;
        Ok(PumpResiduals {
            head_m: measured.head_m - expected.head_m,
            shaft_kw: measured.shaft_kw - expected.shaft_kw,
            efficiency: eta - expected.efficiency,
        })
    }
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
        // Hand computation from the module doc's curves; P_h = ρ·g·Q·H as defined in ISO 9906.
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

    #[test]
    fn efficiency_from_measured_flow_head_and_power() {
        // ISO 9906:2012 definitions, η = P_h/P with P_h = ρ·g·Q·H: water at 998 kg/m³, 100 m³/h against
        // 50 m with 20 kW at the shaft: P_h = 998·9.80665·(100/3600)·50 = 13 593.11 W, η = 0.679655.
        close(hydraulic_power_kw(100.0, 50.0, 998.0), 13.593107, 1e-6);
        let eta = pump_efficiency(100.0, 50.0, 20.0, 998.0).unwrap();
        close(eta, 998.0 * 9.80665 * (100.0 / 3600.0) * 50.0 / 20_000.0, 1e-15);
        close(eta, 0.679655, 1e-6);
        assert_eq!(pump_efficiency(0.0, 50.0, 20.0, 998.0).unwrap(), 0.0);
        assert!(pump_efficiency(100.0, 50.0, 0.0, 998.0).is_err());
        assert!(pump_efficiency(-1.0, 50.0, 20.0, 998.0).is_err());
        assert!(pump_efficiency(100.0, f64::NAN, 20.0, 998.0).is_err());
        // Head from the pressure rise: 2 bar of water = 2·10⁵/(998·9.80665) = 20.435 m.
        close(head_from_pressure_rise_m(2.0, 998.0).unwrap(), 20.435195, 1e-6);
        assert!(head_from_pressure_rise_m(2.0, 0.0).is_err());
    }

    #[test]
    fn affinity_laws_worked_example() {
        // Affinity laws (Europump & Hydraulic Institute, Variable Speed Pumping, 2004): a pump giving
        // 100 m³/h at 30 m and taking 11 kW at 1450 r/min gives, at 1160 r/min (r = 0.8),
        // 80 m³/h, 30·0.64 = 19.2 m and 11·0.512 = 5.632 kW.
        let (q, h, p) = affinity_at_speed(100.0, 30.0, 11.0, 1450.0, 1160.0).unwrap();
        close(q, 80.0, 1e-12);
        close(h, 19.2, 1e-12);
        close(p, 5.632, 1e-12);
        assert!(affinity_at_speed(100.0, 30.0, 11.0, 0.0, 1160.0).is_err());
        assert!(affinity_at_speed(100.0, 30.0, 11.0, 1450.0, f64::NAN).is_err());
    }

    #[test]
    fn expected_head_and_power_at_measured_speed_and_flow() {
        // Example pump (BEP 60 m³/h, 40 m at 2900 r/min, η 0.72, shut-off 50 m) at 2610 r/min (r = 0.9)
        // and a measured 50 m³/h, by hand from the curves in the module doc:
        // H = 50·0.81 − (10/3600)·50² = 33.5556 m; x = 50/(0.9·60) = 0.925926, η = 0.72·x·(2 − x) = 0.716049;
        // P_h = 998·9.80665·(50/3600)·33.5556 = 4.561242 kW; P = P_h/η = 6.370011 kW.
        let p = example();
        let e = p.expected_at(50.0, 2610.0).unwrap();
        close(e.speed_ratio, 0.9, 1e-15);
        close(e.head_m, 33.555556, 1e-6);
        close(e.efficiency, 0.716049, 1e-6);
        close(e.hydraulic_kw, 4.561242, 1e-6);
        close(e.shaft_kw, 6.370011, 1e-6);
        // Residuals of a worn pump measured at 32 m and 7.0 kW: head −1.5556 m, power +0.6300 kW,
        // efficiency 998·g·(50/3600)·32/7000 − 0.716049 = −0.094650.
        let r = p
            .residuals(&PumpMeasurement {
                flow_m3h: 50.0,
                head_m: 32.0,
                shaft_kw: 7.0,
                speed_rpm: 2610.0,
            })
            .unwrap();
        close(r.head_m, -1.555556, 1e-6);
        close(r.shaft_kw, 0.629989, 1e-6);
        close(r.efficiency, -0.094650, 1e-6);
        // A new pump measured exactly on its curves has zero residuals.
        let r = p
            .residuals(&PumpMeasurement {
                flow_m3h: e.flow_m3h,
                head_m: e.head_m,
                shaft_kw: e.shaft_kw,
                speed_rpm: 2610.0,
            })
            .unwrap();
        close(r.head_m, 0.0, 1e-12);
        close(r.shaft_kw, 0.0, 1e-12);
        close(r.efficiency, 0.0, 1e-12);
        assert!(p.expected_at(50.0, 0.0).is_err());
        assert!(p.expected_at(-5.0, 2900.0).is_err());
    }
}
