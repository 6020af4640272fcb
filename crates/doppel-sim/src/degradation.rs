//! Hidden degradation states of components and how they grow.
//!
//! * **Bearing wear** — two phases. Before onset the bearing consumes fatigue life by Miner's rule at a rate
//!   `stress/T_onset` with `stress = (load)³·(speed ratio)` (the ISO 281 exponent for ball bearings); onset
//!   happens when the consumed life passes a Weibull-distributed threshold (shape 2, mean 1). After onset a
//!   damage `D ∈ [0, 1]` grows as a gamma process (independent, non-negative increments) whose mean rate
//!   accelerates with damage, `E[dD] = m·(1 + 3·D)·stress·severity·dt`, with `m` chosen so that the mean
//!   time from onset to `D = 1` at rated stress is `T_prop`, and a per-bearing log-normal `severity`.
//!   `D = 1` is failure. At onset the defect's location is drawn ([`BearingFault::from_uniform`]: outer race
//!   45 %, inner race 35 %, ball 15 %, cage 5 %); it decides the defect frequency of the vibration impacts.
//! * **Impeller wear** (pumps) — erosion from installation on: a gamma process with mean rate
//!   `stress/T_impeller`, `stress = (speed ratio)³`; the fault counts as started at 30 % wear (performance
//!   loss detectable), failure at 100 %.
//! * **Insulation ageing** (motor windings) — deterministic Arrhenius ageing: consumed life grows at
//!   `2^((T − 155 °C)/10)/20 000 h`; onset at 80 % consumed, failure at 100 %.
//!
//! Bearing stress per asset type (1 = rated): motors `load³·n/n_r`; pumps `(H/H_r)³·n/n_r` (radial
//! hydraulic force grows with head); spindles `load³·n/n_r` while cutting, `0.1³·n/n_r` between cuts;
//! conveyor drives `0.5·(0.3 + 0.7·belt load)³` (lightly loaded bearings). Mean times at rated stress:
//! onset [`BEARING_ONSET_MEAN_S`] (180 days), onset to failure [`BEARING_PROPAGATION_MEAN_S`] (30 days),
//! impeller wear-out [`IMPELLER_LIFE_MEAN_S`] (365 days).
//!
//! All rates are multiplied by `SimConfig::wear_acceleration`; at 2000 the rated-stress times become
//! 130 min to onset, 22 min from onset to failure and 4.4 h to impeller wear-out.

use doppel_physics::motor::{INSULATION_LIFE_AT_LIMIT_H, InsulationClass, insulation_ageing_factor};
use serde::Serialize;

use crate::rng::Stream;
use crate::vibration::BearingFault;

const DAY_S: f64 = 86_400.0;
/// Mean operating time to bearing fault onset at rated stress.
pub const BEARING_ONSET_MEAN_S: f64 = 180.0 * DAY_S;
/// Mean time from fault onset to bearing failure at rated stress.
pub const BEARING_PROPAGATION_MEAN_S: f64 = 30.0 * DAY_S;
/// Mean time for an impeller to wear out at rated speed.
pub const IMPELLER_LIFE_MEAN_S: f64 = 365.0 * DAY_S;
/// Scale of gamma-process increments (damage units); smaller = smoother paths.
const GAMMA_SCALE: f64 = 0.004;
const ACCEL: f64 = 3.0;
const IMPELLER_ONSET: f64 = 0.3;
const INSULATION_ONSET: f64 = 0.8;

/// What wears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    BearingWear,
    ImpellerWear,
    InsulationAgeing,
}

impl FailureMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::BearingWear => "bearing_wear",
            FailureMode::ImpellerWear => "impeller_wear",
            FailureMode::InsulationAgeing => "insulation_ageing",
        }
    }
}

/// A change of health in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Onset,
    Failure,
}

#[derive(Debug, Clone)]
pub(crate) struct Degradation {
    pub(crate) component: String,
    pub(crate) mode: FailureMode,
    /// Fatigue life consumed towards onset (bearings only).
    life: f64,
    onset_at: f64,
    severity: f64,
    /// Damage in [0, 1]; 1 = failed. For impellers the wear, for windings the consumed life.
    pub(crate) damage: f64,
    pub(crate) onset: bool,
    pub(crate) onset_ns: Option<i64>,
    pub(crate) failed: bool,
    /// Where a bearing defect sits, chosen at onset (bearings only).
    pub(crate) fault: Option<BearingFault>,
    /// Stress multiplier of the last step (1 = rated conditions).
    pub(crate) stress: f64,
}

impl Degradation {
    pub(crate) fn new(component: &str, mode: FailureMode, rng: &mut Stream) -> Degradation {
        let mut d = Degradation {
            component: component.to_string(),
            mode,
            life: 0.0,
            onset_at: 1.0,
            severity: 1.0,
            damage: 0.0,
            onset: false,
            onset_ns: None,
            failed: false,
            fault: None,
            stress: 0.0,
        };
        d.renew(rng);
        d
    }

    /// A new component: zero damage, fresh random properties.
    pub(crate) fn renew(&mut self, rng: &mut Stream) {
        self.life = 0.0;
        self.damage = 0.0;
        self.onset = false;
        self.onset_ns = None;
        self.failed = false;
        self.fault = None;
        // Weibull shape 2 with scale 1/Γ(1.5) = 2/√π has mean 1.
        self.onset_at = rng.weibull(2.0, std::f64::consts::FRAC_2_SQRT_PI).max(0.02);
        self.severity = rng.lognormal_mean(1.0, 0.35);
    }

    /// Puts the component at a random age, as in a plant that has been running for a while.
    /// Returns true when it is already past fault onset.
    pub(crate) fn randomise_age(&mut self, rng: &mut Stream, now_ns: i64) -> bool {
        match self.mode {
            FailureMode::BearingWear => {
                if rng.uniform() < 0.2 {
                    self.life = self.onset_at;
                    self.damage = rng.range(0.02, 0.55);
                } else {
                    self.life = rng.range(0.0, 0.9) * self.onset_at;
                }
            }
            FailureMode::ImpellerWear => self.damage = rng.range(0.0, 0.5),
            FailureMode::InsulationAgeing => self.damage = rng.range(0.0, 0.3),
        }
        let started = match self.mode {
            FailureMode::BearingWear => self.life >= self.onset_at,
            FailureMode::ImpellerWear => self.damage >= IMPELLER_ONSET,
            FailureMode::InsulationAgeing => self.damage >= INSULATION_ONSET,
        };
        if started {
            self.start(rng);
            self.onset_ns = Some(now_ns);
        }
        started
    }

    /// Advances by `dt_s` under `stress` (1 = rated; for insulation: the winding temperature in °C).
    pub(crate) fn step(&mut self, dt_s: f64, stress: f64, acceleration: f64, rng: &mut Stream, now_ns: i64) -> Option<Transition> {
        if self.failed {
            self.stress = 0.0;
            return None;
        }
        let dt = dt_s * acceleration;
        let mut transition = None;
        match self.mode {
            FailureMode::BearingWear => {
                let stress = stress.max(0.0);
                self.stress = stress;
                if !self.onset {
                    self.life += dt * stress / BEARING_ONSET_MEAN_S;
                    if self.life >= self.onset_at {
                        self.start(rng);
                        self.damage = 0.01;
                        transition = Some(Transition::Onset);
                    }
                } else {
                    let m = (1.0 + ACCEL).ln() / (ACCEL * BEARING_PROPAGATION_MEAN_S);
                    let mean = m * (1.0 + ACCEL * self.damage) * stress * self.severity * dt;
                    self.damage += rng.gamma(mean / GAMMA_SCALE, GAMMA_SCALE);
                }
            }
            FailureMode::ImpellerWear => {
                let stress = stress.max(0.0);
                self.stress = stress;
                let mean = stress * self.severity * dt / IMPELLER_LIFE_MEAN_S;
                self.damage += rng.gamma(mean / GAMMA_SCALE, GAMMA_SCALE);
                if !self.onset && self.damage >= IMPELLER_ONSET {
                    self.onset = true;
                    transition = Some(Transition::Onset);
                }
            }
            FailureMode::InsulationAgeing => {
                let factor = insulation_ageing_factor(stress, InsulationClass::F);
                self.stress = factor;
                self.damage += dt * factor / (INSULATION_LIFE_AT_LIMIT_H * 3600.0);
                if !self.onset && self.damage >= INSULATION_ONSET {
                    self.onset = true;
                    transition = Some(Transition::Onset);
                }
            }
        }
        if transition == Some(Transition::Onset) {
            self.onset_ns = Some(now_ns);
        }
        if self.damage >= 1.0 {
            self.damage = 1.0;
            self.failed = true;
            // An onset in the same step is superseded by the failure; report onset first if it was missed.
            return Some(Transition::Failure);
        }
        self.damage = self.damage.clamp(0.0, 1.0);
        transition
    }

    /// Marks the fault as started; a bearing defect gets its location ([`BearingFault::from_uniform`]).
    fn start(&mut self, rng: &mut Stream) {
        self.onset = true;
        if self.mode == FailureMode::BearingWear {
            self.fault = Some(BearingFault::from_uniform(rng.uniform()));
        }
    }

    /// Damage as seen by the physics (0 before onset for bearings).
    pub(crate) fn visible(&self) -> f64 {
        if self.onset || self.mode != FailureMode::BearingWear {
            self.damage
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time_to_failure(stress: f64, seed: u64) -> f64 {
        let mut rng = Stream::new(seed, 9);
        let mut d = Degradation::new("b", FailureMode::BearingWear, &mut rng);
        let mut t = 0.0;
        let dt = 3600.0;
        while t < 1e10 {
            t += dt;
            if d.step(dt, stress, 1.0, &mut rng, 0) == Some(Transition::Failure) {
                return t;
            }
        }
        t
    }

    #[test]
    fn bearing_life_matches_the_design_means_and_scales_with_load_cubed() {
        let n = 200;
        let rated: f64 = (0..n).map(|s| time_to_failure(1.0, s)).sum::<f64>() / f64::from(n as u32);
        let expected = BEARING_ONSET_MEAN_S + BEARING_PROPAGATION_MEAN_S;
        assert!(
            (rated / expected - 1.0).abs() < 0.15,
            "mean life {} days vs {} days",
            rated / DAY_S,
            expected / DAY_S
        );
        // half the load: 8 times the life
        let half: f64 = (0..n).map(|s| time_to_failure(0.125, s)).sum::<f64>() / f64::from(n as u32);
        assert!((half / rated - 8.0).abs() < 1.0, "ratio {}", half / rated);
    }

    #[test]
    fn insulation_ages_twice_as_fast_10_kelvin_hotter() {
        let mut rng = Stream::new(1, 1);
        let mut a = Degradation::new("w", FailureMode::InsulationAgeing, &mut rng);
        let mut b = a.clone();
        a.step(3600.0, 155.0, 1.0, &mut rng, 0);
        b.step(3600.0, 165.0, 1.0, &mut rng, 0);
        assert!((a.damage - 1.0 / 20_000.0).abs() < 1e-12);
        assert!((b.damage / a.damage - 2.0).abs() < 1e-9);
    }
}
