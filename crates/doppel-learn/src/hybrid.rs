//! Hybrid prognostics: a degradation model (a health index fitted across units, extrapolated per unit) combined
//! with the learned RUL model, and [`Prognostics`] — the one model type the twin runs.
//!
//! # The degradation model
//! * **Health index (HI).** A linear map from the normalised values of a step to a health index, fitted by least
//!   squares on the training units with target `min(1, RUL/cap)`: 1 while the unit is healthy, falling linearly
//!   to 0 at failure. This is the classic HI construction for C-MAPSS (Wang et al., "A similarity-based
//!   prognostics approach", PHM 2008), which fuses the sensors into one degradation signal.
//! * **Per-unit extrapolation.** For the unit at hand, a straight line is fitted by least squares to its HI over
//!   the last `trend_window` steps; where the slope is negative the line is extrapolated to the failure
//!   threshold (the mean HI of the training units at their last step) to give a degradation-model RUL, with
//!   its standard error from the slope's standard error. Unlike the trees, this extrapolation is not bounded by
//!   what the training data contained: a unit degrading twice as fast as any seen gets half the RUL.
//!
//! # Combination
//! The degradation model's outputs — HI level, HI slope, extrapolated RUL (capped), and the slope's t-statistic
//! (how sure the trend is) — are appended to the window features of the gradient-boosted trees, which learn
//! when to trust them. The CV+ conformal interval and the predictive distribution are then computed on this
//! hybrid model exactly as on the pure one, so the hybrid stays calibrated by the same argument. The HI map is
//! fitted once on all training units (a 1 + values parameter linear model on thousands of steps; its leakage
//! into the out-of-fold errors is negligible next to the trees'), and the trees per fold as before.

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::LearnError;
use crate::prep::rul_target;
use crate::rul::{RulConfig, RulModel, RulPrediction};
use crate::series::Trajectory;

/// Linear health index on normalised values, and the degradation-trend features built on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthIndex {
    /// Intercept, then one weight per normalised (kept) value.
    pub weights: Vec<f64>,
    /// Mean HI of the training units at their last step: the failure threshold.
    pub failure_level: f64,
    /// Steps of the per-unit trend fit.
    pub trend_window: usize,
    /// RUL cap (the extrapolated RUL is capped here, in steps).
    pub cap: f64,
}

/// Number of features [`HealthIndex::features`] appends.
pub const HI_FEATURES: usize = 4;

impl HealthIndex {
    /// Fits the HI map by least squares on normalised run-to-failure units (`normalised[u][t]` = kept values).
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] when there are fewer steps than parameters or the system is singular.
    pub fn fit(normalised: &[Vec<Vec<f64>>], cap: f64, trend_window: usize) -> Result<Self, LearnError> {
        let d = normalised.iter().flat_map(|u| u.first()).map(Vec::len).next().unwrap_or(0);
        let rows: usize = normalised.iter().map(Vec::len).sum();
        if rows <= d + 1 {
            return Err(LearnError::Mismatch(format!("{rows} steps are too few to fit a health index on {d} values")));
        }
        let mut x = DMatrix::zeros(rows, d + 1);
        let mut y = DVector::zeros(rows);
        let mut r = 0;
        for u in normalised {
            let target = rul_target(u.len(), cap);
            for (row, t) in u.iter().zip(target) {
                x[(r, 0)] = 1.0;
                for (j, v) in row.iter().enumerate() {
                    x[(r, j + 1)] = *v;
                }
                y[r] = t / cap;
                r += 1;
            }
        }
        // Normal equations with a tiny ridge for the rare collinear inputs.
        let mut xtx = x.transpose() * &x;
        for j in 1..=d {
            xtx[(j, j)] += 1e-6 * rows as f64;
        }
        let xty = x.transpose() * y;
        let w = xtx
            .cholesky()
            .ok_or_else(|| LearnError::Mismatch("the health-index regression is singular".into()))?
            .solve(&xty);
        let weights: Vec<f64> = w.iter().copied().collect();
        let mut hi = HealthIndex {
            weights,
            failure_level: 0.0,
            trend_window: trend_window.max(3),
            cap,
        };
        let ends: Vec<f64> = normalised.iter().filter_map(|u| u.last()).map(|row| hi.value(row)).collect();
        hi.failure_level = ends.iter().sum::<f64>() / ends.len().max(1) as f64;
        Ok(hi)
    }

    /// HI of one normalised step.
    #[must_use]
    pub fn value(&self, row: &[f64]) -> f64 {
        self.weights[0] + row.iter().zip(&self.weights[1..]).map(|(v, w)| v * w).sum::<f64>()
    }

    /// Degradation features at every step of a normalised unit: HI level (mean of the last 5 steps), HI slope per
    /// step over the trend window, the extrapolated RUL (capped; the cap when the trend is not falling) and the
    /// slope's t-statistic.
    #[must_use]
    pub fn features(&self, normalised: &[Vec<f64>]) -> Vec<[f64; HI_FEATURES]> {
        let hi: Vec<f64> = normalised.iter().map(|r| self.value(r)).collect();
        (0..hi.len()).map(|t| self.trend_at(&hi, t).features(self.cap)).collect()
    }

    /// [`HealthIndex::features`] of step `t` alone.
    #[must_use]
    pub fn features_at<R: AsRef<[f64]>>(&self, normalised: &[R], t: usize) -> [f64; HI_FEATURES] {
        let start = (t + 1).saturating_sub(self.trend_window.max(5));
        let hi: Vec<f64> = normalised[start..=t].iter().map(|r| self.value(r.as_ref())).collect();
        self.trend_at(&hi, hi.len() - 1).features(self.cap)
    }

    /// The trend fit at step `t` of an HI series.
    fn trend_at(&self, hi: &[f64], t: usize) -> Trend {
        let start = (t + 1).saturating_sub(self.trend_window);
        let ys = &hi[start..=t];
        let level_from = (t + 1).saturating_sub(5);
        let level = hi[level_from..=t].iter().sum::<f64>() / (t + 1 - level_from) as f64;
        let n = ys.len() as f64;
        if ys.len() < 3 {
            return Trend {
                level,
                slope: 0.0,
                slope_se: f64::INFINITY,
                failure_level: self.failure_level,
            };
        }
        let xm = (n - 1.0) / 2.0;
        let ym = ys.iter().sum::<f64>() / n;
        let sxx: f64 = (0..ys.len()).map(|i| (i as f64 - xm).powi(2)).sum();
        let slope = ys.iter().enumerate().map(|(i, y)| (i as f64 - xm) * (y - ym)).sum::<f64>() / sxx;
        let sse: f64 = ys.iter().enumerate().map(|(i, y)| (y - ym - slope * (i as f64 - xm)).powi(2)).sum();
        let slope_se = (sse / (n - 2.0) / sxx).sqrt();
        Trend {
            level,
            slope,
            slope_se,
            failure_level: self.failure_level,
        }
    }
}

struct Trend {
    level: f64,
    slope: f64,
    slope_se: f64,
    failure_level: f64,
}

impl Trend {
    fn rul(&self, cap: f64) -> f64 {
        if self.slope < 0.0 {
            ((self.level - self.failure_level) / -self.slope).clamp(0.0, cap)
        } else {
            cap
        }
    }

    fn features(&self, cap: f64) -> [f64; HI_FEATURES] {
        let t = if self.slope_se.is_finite() && self.slope_se > 0.0 {
            (self.slope / self.slope_se).clamp(-1e3, 1e3)
        } else {
            0.0
        };
        [self.level, self.slope, self.rul(cap), t]
    }
}

/// A unit's feature row and health index, ready for the trees.
type Prepared = (Vec<f64>, Option<f64>);

/// Configuration of [`Prognostics`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrognosticsConfig {
    /// The learned RUL model (its `cap` is the RUL cap in steps).
    pub rul: RulConfig,
    /// Add the degradation model's features (the hybrid); `false` gives the pure learned model.
    pub hybrid: bool,
    /// Steps of the per-unit HI trend fit.
    pub trend_window: usize,
}

impl Default for PrognosticsConfig {
    fn default() -> Self {
        PrognosticsConfig {
            rul: RulConfig::default(),
            hybrid: true,
            trend_window: 40,
        }
    }
}

impl PrognosticsConfig {
    /// Sets the RUL cap (steps).
    pub fn set_cap(&mut self, cap: f64) {
        self.rul.cap = cap;
    }
}

/// What the twin shows for one unit after its last step (in steps, like the training data).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prognosis {
    /// Predicted RUL (capped model).
    pub rul: f64,
    /// 90 % (1 − alpha) interval.
    pub lower: f64,
    pub upper: f64,
    /// Health index: 1 = as new, 0 = failed (clipped to [0, 1]).
    pub health_index: f64,
    /// P(RUL ≤ horizon).
    pub failure_probability: f64,
}

/// The twin's RUL model: the conformal gradient-boosted trees, hybrid with the degradation model by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prognostics {
    pub config: PrognosticsConfig,
    pub model: RulModel,
}

impl Prognostics {
    /// Trains on run-to-failure trajectories.
    ///
    /// # Errors
    /// Those of [`RulModel::train`] and [`HealthIndex::fit`].
    pub fn train(units: &[Trajectory], cfg: &PrognosticsConfig) -> Result<Self, LearnError> {
        let model = RulModel::train_with(units, &cfg.rul, cfg.hybrid.then_some(cfg.trend_window))?;
        Ok(Prognostics { config: cfg.clone(), model })
    }

    /// RUL with interval, health index and P(failure within `horizon` steps) after the last step of `unit`.
    ///
    /// # Errors
    /// Those of [`RulModel::predict`] and [`RulModel::failure_probability`].
    pub fn predict(&self, unit: &Trajectory, horizon: f64) -> Result<Prognosis, LearnError> {
        self.predict_many(&[unit], horizon)
            .pop()
            .unwrap_or_else(|| Err(LearnError::Mismatch("no prediction".into())))
    }

    /// [`Prognostics::predict`] for many units at once (one result each, in order): the trees are evaluated
    /// tree by tree over all units, the fast path for scoring a fleet every step. A horizon at or beyond the cap
    /// gives P(RUL < cap), a lower bound of the probability asked for (a capped model cannot say more).
    #[must_use]
    pub fn predict_many(&self, units: &[&Trajectory], horizon: f64) -> Vec<Result<Prognosis, LearnError>> {
        let prepared: Vec<Result<Prepared, LearnError>> = units.iter().map(|u| self.model.last_features_and_hi(u)).collect();
        let rows: Vec<&[f64]> = prepared.iter().filter_map(|p| p.as_ref().ok()).map(|(f, _)| f.as_slice()).collect();
        let cap = self.model.config.cap;
        let h = horizon.clamp(0.0, cap * (1.0 - 1e-9));
        let mut scored = match self.model.predict_many_features(&rows, Some(h)) {
            Ok(v) => v.into_iter(),
            Err(e) => {
                let m = e.to_string();
                return units.iter().map(|_| Err(LearnError::Mismatch(m.clone()))).collect();
            }
        };
        prepared
            .into_iter()
            .map(|p| {
                let (_, hi) = p?;
                let (RulPrediction { rul, lower, upper }, q) = scored.next().ok_or_else(|| LearnError::Mismatch("no prediction".into()))?;
                Ok(Prognosis {
                    rul,
                    lower,
                    upper,
                    health_index: hi.unwrap_or(rul / cap).clamp(0.0, 1.0),
                    failure_probability: q.unwrap_or(0.0),
                })
            })
            .collect()
    }
}
