//! Rolling-element bearings: kinematic defect frequencies, ISO 281 basic rating life, Miner's rule,
//! and ISO 10816-3 vibration severity zones.
//!
//! Defect frequencies for shaft frequency `f_r`, `n` rolling elements of diameter `d` on pitch diameter `D`
//! with contact angle `φ` (stationary outer ring):
//! `FTF = f_r/2·(1 − d/D·cos φ)`, `BPFO = n·FTF`, `BPFI = n·f_r/2·(1 + d/D·cos φ)`,
//! `BSF = D·f_r/(2d)·(1 − (d/D·cos φ)²)`.

use crate::{PhysicsError, positive, within};

/// Bearing geometry. Diameters in mm, contact angle in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BearingGeometry {
    pub n_elements: f64,
    pub element_d_mm: f64,
    pub pitch_d_mm: f64,
    pub contact_angle_deg: f64,
}

/// Kinematic defect frequencies, Hz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefectFrequencies {
    /// Fundamental train (cage) frequency.
    pub ftf: f64,
    /// Ball pass frequency, outer race.
    pub bpfo: f64,
    /// Ball pass frequency, inner race.
    pub bpfi: f64,
    /// Ball (rolling element) spin frequency.
    pub bsf: f64,
}

impl BearingGeometry {
    pub fn new(n_elements: f64, element_d_mm: f64, pitch_d_mm: f64, contact_angle_deg: f64) -> Result<BearingGeometry, PhysicsError> {
        within("n_elements", n_elements, 3.0, 200.0)?;
        positive("element_d_mm", element_d_mm)?;
        positive("pitch_d_mm", pitch_d_mm)?;
        within("contact_angle_deg", contact_angle_deg, 0.0, 60.0)?;
        if element_d_mm >= pitch_d_mm {
            return Err(PhysicsError::InvalidParameter {
                name: "element_d_mm",
                value: element_d_mm,
                reason: "must be smaller than the pitch diameter",
            });
        }
        Ok(BearingGeometry {
            n_elements,
            element_d_mm,
            pitch_d_mm,
            contact_angle_deg,
        })
    }

    /// Defect frequencies at shaft frequency `shaft_hz`.
    pub fn defect_frequencies(&self, shaft_hz: f64) -> DefectFrequencies {
        let ratio = self.element_d_mm / self.pitch_d_mm * self.contact_angle_deg.to_radians().cos();
        let ftf = shaft_hz / 2.0 * (1.0 - ratio);
        DefectFrequencies {
            ftf,
            bpfo: self.n_elements * ftf,
            bpfi: self.n_elements * shaft_hz / 2.0 * (1.0 + ratio),
            bsf: self.pitch_d_mm * shaft_hz / (2.0 * self.element_d_mm) * (1.0 - ratio * ratio),
        }
    }
}

/// Rolling element type, which sets the ISO 281 life exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollingElement {
    /// Ball bearings: exponent 3.
    Ball,
    /// Roller bearings: exponent 10/3.
    Roller,
}

impl RollingElement {
    pub fn life_exponent(self) -> f64 {
        match self {
            RollingElement::Ball => 3.0,
            RollingElement::Roller => 10.0 / 3.0,
        }
    }
}

/// ISO 281 basic rating life `L10 = (C/P)^p`, millions of revolutions. `C` and `P` in the same unit (kN).
pub fn l10_million_revs(dynamic_capacity: f64, equivalent_load: f64, element: RollingElement) -> f64 {
    if equivalent_load <= 0.0 {
        return f64::INFINITY;
    }
    (dynamic_capacity / equivalent_load).powf(element.life_exponent())
}

/// ISO 281 basic rating life in operating hours at `speed_rpm`: `L10h = 10⁶/(60·n)·L10`.
pub fn l10_hours(dynamic_capacity: f64, equivalent_load: f64, speed_rpm: f64, element: RollingElement) -> f64 {
    if speed_rpm <= 0.0 {
        return f64::INFINITY;
    }
    1.0e6 / (60.0 * speed_rpm) * l10_million_revs(dynamic_capacity, equivalent_load, element)
}

/// Palmgren–Miner cumulative damage `D = Σ tᵢ/Lᵢ` over (time, life) pairs in the same unit;
/// failure is expected at `D = 1`.
pub fn miner_damage(blocks: &[(f64, f64)]) -> f64 {
    blocks.iter().map(|&(t, life)| if life > 0.0 { t / life } else { f64::INFINITY }).sum()
}

/// ISO 10816-3 machine group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineGroup {
    /// Large machines, 300 kW – 50 MW.
    Group1,
    /// Medium machines, 15 kW – 300 kW (the standard's limits are also used for smaller machines here).
    Group2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foundation {
    Rigid,
    Flexible,
}

/// ISO 10816-3 evaluation zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Zone {
    /// Newly commissioned machines.
    A,
    /// Unrestricted long-term operation.
    B,
    /// Restricted operation; plan maintenance.
    C,
    /// Vibration severe enough to cause damage.
    D,
}

/// Zone boundaries A/B, B/C, C/D in mm/s RMS (10–1000 Hz).
pub fn iso10816_boundaries(group: MachineGroup, foundation: Foundation) -> [f64; 3] {
    match (group, foundation) {
        (MachineGroup::Group1, Foundation::Rigid) => [2.3, 4.5, 7.1],
        (MachineGroup::Group1, Foundation::Flexible) => [3.5, 7.1, 11.0],
        (MachineGroup::Group2, Foundation::Rigid) => [1.4, 2.8, 4.5],
        (MachineGroup::Group2, Foundation::Flexible) => [2.3, 4.5, 7.1],
    }
}

/// Zone of a broadband velocity RMS (mm/s). A value on a boundary belongs to the better zone.
pub fn iso10816_zone(velocity_rms_mm_s: f64, group: MachineGroup, foundation: Foundation) -> Zone {
    let [ab, bc, cd] = iso10816_boundaries(group, foundation);
    let v = velocity_rms_mm_s;
    if v <= ab {
        Zone::A
    } else if v <= bc {
        Zone::B
    } else if v <= cd {
        Zone::C
    } else {
        // NaN lands here too: an unknown severity is treated as the worst.
        Zone::D
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn deep_groove_6309_frequencies_by_hand() {
        // 6309: 8 balls, d = 17.46 mm, D = 72.5 mm, φ = 0; d/D = 0.240828.
        let g = BearingGeometry::new(8.0, 17.46, 72.5, 0.0).unwrap();
        let f = g.defect_frequencies(1.0);
        close(f.ftf, 0.379586, 1e-6); // ½·(1 − 0.240828)
        close(f.bpfo, 3.036690, 1e-6); // 4·0.759172
        close(f.bpfi, 4.963310, 1e-6); // 4·1.240828
        close(f.bsf, 1.955760, 1e-6); // 2.076174·(1 − 0.057998)
        // BPFO + BPFI = n·f_r for any geometry; frequencies scale with shaft speed.
        let f2 = g.defect_frequencies(24.4167);
        close(f2.bpfo + f2.bpfi, 8.0 * 24.4167, 1e-9);
        close(f2.bpfo, 24.4167 * f.bpfo, 1e-9);
    }

    #[test]
    fn contact_angle_reduces_the_effective_ratio() {
        let g = BearingGeometry::new(18.0, 9.5, 85.0, 15.0).unwrap();
        let r = 9.5 / 85.0 * 15f64.to_radians().cos(); // 0.107956
        let f = g.defect_frequencies(200.0);
        close(f.bpfi, 9.0 * 200.0 * (1.0 + r), 1e-9);
        assert!(BearingGeometry::new(8.0, 80.0, 72.5, 0.0).is_err());
    }

    #[test]
    fn l10_life_by_hand() {
        // C/P = 10 → 1000 Mrev (ball); at 1465 rpm: 10⁶/(60·1465)·1000 = 11 376.6 h
        close(l10_million_revs(52.7, 5.27, RollingElement::Ball), 1000.0, 1e-9);
        close(l10_hours(52.7, 5.27, 1465.0, RollingElement::Ball), 11_376.6, 0.1);
        close(l10_million_revs(20.0, 10.0, RollingElement::Roller), 2f64.powf(10.0 / 3.0), 1e-12);
        // doubling the load cuts ball bearing life by 8
        close(
            l10_million_revs(50.0, 5.0, RollingElement::Ball) / l10_million_revs(50.0, 10.0, RollingElement::Ball),
            8.0,
            1e-9,
        );
        close(miner_damage(&[(1000.0, 4000.0), (500.0, 1000.0)]), 0.75, 1e-12);
    }

    #[test]
    fn iso10816_zones() {
        use Foundation::*;
        use MachineGroup::*;
        assert_eq!(iso10816_zone(1.0, Group2, Rigid), Zone::A);
        assert_eq!(iso10816_zone(2.8, Group2, Rigid), Zone::B);
        assert_eq!(iso10816_zone(3.0, Group2, Rigid), Zone::C);
        assert_eq!(iso10816_zone(4.6, Group2, Rigid), Zone::D);
        assert_eq!(iso10816_zone(4.6, Group2, Flexible), Zone::C);
        assert_eq!(iso10816_zone(10.0, Group1, Flexible), Zone::C);
        assert_eq!(iso10816_zone(f64::NAN, Group1, Rigid), Zone::D);
    }
}
