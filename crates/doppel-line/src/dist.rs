//! Random durations: processing, repair, arrival and set-up times.
//!
//! Each distribution is given by its mean (seconds) and, where it has one, its coefficient of variation
//! `cv = σ/mean`, the two numbers a line engineer usually knows:
//!
//! | kind | parameters | sampling |
//! |---|---|---|
//! | `deterministic` | `value` | the value |
//! | `exponential` | `mean` | `−mean·ln U` (cv = 1) |
//! | `lognormal` | `mean`, `cv` | `exp(μ + σZ)` with `σ² = ln(1+cv²)`, `μ = ln mean − σ²/2` |
//! | `gamma` | `mean`, `cv` | Gamma(k = 1/cv², θ = mean·cv²), Marsaglia–Tsang |
//! | `erlang` | `mean`, `k` | sum of `k` exponentials of mean `mean/k` (cv = 1/√k) |
//! | `uniform` | `min`, `max` | `min + (max−min)·U` |

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::rng::Rng;

/// A non-negative random duration (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Dist {
    Deterministic {
        value: f64,
    },
    Exponential {
        mean: f64,
    },
    #[serde(rename = "lognormal")]
    LogNormal {
        mean: f64,
        cv: f64,
    },
    Gamma {
        mean: f64,
        cv: f64,
    },
    Erlang {
        mean: f64,
        k: u32,
    },
    Uniform {
        min: f64,
        max: f64,
    },
}

impl Dist {
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Deterministic { value } => value,
            Dist::Exponential { mean } | Dist::LogNormal { mean, .. } | Dist::Gamma { mean, .. } | Dist::Erlang { mean, .. } => mean,
            Dist::Uniform { min, max } => 0.5 * (min + max),
        }
    }

    /// Coefficient of variation σ/mean (0 for a zero mean).
    pub fn cv(&self) -> f64 {
        match *self {
            Dist::Deterministic { .. } => 0.0,
            Dist::Exponential { .. } => 1.0,
            Dist::LogNormal { cv, .. } | Dist::Gamma { cv, .. } => cv,
            Dist::Erlang { k, .. } => 1.0 / f64::from(k.max(1)).sqrt(),
            Dist::Uniform { min, max } => {
                let m = 0.5 * (min + max);
                if m > 0.0 { (max - min) / (12f64.sqrt() * m) } else { 0.0 }
            }
        }
    }

    /// The same shape with every duration multiplied by `factor` (> 0).
    pub fn scaled(&self, factor: f64) -> Dist {
        match *self {
            Dist::Deterministic { value } => Dist::Deterministic { value: value * factor },
            Dist::Exponential { mean } => Dist::Exponential { mean: mean * factor },
            Dist::LogNormal { mean, cv } => Dist::LogNormal { mean: mean * factor, cv },
            Dist::Gamma { mean, cv } => Dist::Gamma { mean: mean * factor, cv },
            Dist::Erlang { mean, k } => Dist::Erlang { mean: mean * factor, k },
            Dist::Uniform { min, max } => Dist::Uniform {
                min: min * factor,
                max: max * factor,
            },
        }
    }

    /// Checks the parameters; `field` names the distribution in the error.
    pub fn validate(&self, field: &str) -> Result<(), LineError> {
        let bad = |message: &str| Err(LineError::invalid(field, message));
        let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
        match *self {
            Dist::Deterministic { value } if !finite_nonneg(value) => bad("value must be finite and ≥ 0"),
            Dist::Exponential { mean } if !(mean.is_finite() && mean > 0.0) => bad("mean must be finite and > 0"),
            Dist::LogNormal { mean, cv } | Dist::Gamma { mean, cv } if !(mean.is_finite() && mean > 0.0 && finite_nonneg(cv)) => {
                bad("mean must be > 0 and cv ≥ 0")
            }
            Dist::Erlang { mean, k } if !(mean.is_finite() && mean > 0.0 && k >= 1) => bad("mean must be > 0 and k ≥ 1"),
            Dist::Uniform { min, max } if !(finite_nonneg(min) && max.is_finite() && max >= min) => bad("need 0 ≤ min ≤ max"),
            _ => Ok(()),
        }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match *self {
            Dist::Deterministic { value } => value,
            Dist::Exponential { mean } => rng.exponential(mean),
            Dist::LogNormal { mean, cv } => {
                if cv == 0.0 {
                    return mean;
                }
                let s2 = (1.0 + cv * cv).ln();
                (mean.ln() - 0.5 * s2 + s2.sqrt() * rng.normal()).exp()
            }
            Dist::Gamma { mean, cv } => {
                if cv == 0.0 {
                    return mean;
                }
                rng.gamma(1.0 / (cv * cv), mean * cv * cv)
            }
            Dist::Erlang { mean, k } => {
                let mut p = 1.0;
                for _ in 0..k {
                    p *= rng.open01();
                }
                -(mean / f64::from(k)) * p.ln()
            }
            Dist::Uniform { min, max } => min + (max - min) * rng.uniform(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_moments_match_mean_and_cv() {
        let dists = [
            Dist::Deterministic { value: 3.0 },
            Dist::Exponential { mean: 2.0 },
            Dist::LogNormal { mean: 5.0, cv: 0.3 },
            Dist::Gamma { mean: 4.0, cv: 0.5 },
            Dist::Erlang { mean: 6.0, k: 3 },
            Dist::Uniform { min: 1.0, max: 3.0 },
        ];
        let mut rng = Rng::new(5);
        for d in dists {
            d.validate("d").unwrap();
            let n = 100_000;
            let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
            assert!(xs.iter().all(|&x| x >= 0.0));
            let m = xs.iter().sum::<f64>() / n as f64;
            let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
            assert!((m - d.mean()).abs() < 0.015 * d.mean(), "{d:?} mean {m}");
            assert!((sd / m - d.cv()).abs() < 0.02, "{d:?} cv {}", sd / m);
            let s = d.scaled(2.0);
            assert!((s.mean() - 2.0 * d.mean()).abs() < 1e-12 && (s.cv() - d.cv()).abs() < 1e-12);
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        for d in [
            Dist::Exponential { mean: 0.0 },
            Dist::LogNormal { mean: 1.0, cv: -1.0 },
            Dist::Deterministic { value: f64::NAN },
            Dist::Erlang { mean: 1.0, k: 0 },
            Dist::Uniform { min: 2.0, max: 1.0 },
        ] {
            assert!(d.validate("x").is_err(), "{d:?}");
        }
    }

    #[test]
    fn serde_form_is_tagged() {
        let d: Dist = serde_json::from_str(r#"{"kind":"lognormal","mean":40,"cv":0.1}"#).unwrap();
        assert_eq!(d, Dist::LogNormal { mean: 40.0, cv: 0.1 });
        assert_eq!(
            serde_json::to_string(&Dist::Exponential { mean: 1.0 }).unwrap(),
            r#"{"kind":"exponential","mean":1.0}"#
        );
    }
}
