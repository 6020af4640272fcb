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
//!   its standard error from the slope's standard error. This extrapolation is not bounded by what the training
//!   data contained: a unit degrading twice as fast as any seen gets half the RUL.
//!
//! # Combination
//! The degradation model's outputs — HI level, HI slope, extrapolated RUL (capped), and the slope's t-statistic
//! (how sure the trend is) — are appended to the window features of the gradient-boosted trees, which learn
//! when to trust them (a stacked combination: the trees are the blender). The CV+ conformal interval and the
//! predictive distribution are then computed on this hybrid model exactly as on the pure one, so the hybrid
//! stays calibrated by the same argument. The price: the final RUL is a tree output, so it stays within the
//! range of the training targets, and an unusually fast degrader gains only as far as the trees have learnt to
//! follow the extrapolated RUL. The HI map is fitted once on all training units (a 1 + values parameter linear
//! model on thousands of steps; its leakage into the out-of-fold errors is small next to the trees'), and the
//! trees per fold as before.
//!
//! # Online use
//! [`Prognostics::predict`] needs the unit's history but reads only its last steps (cost independent of age);
//! [`OnlineUnit`] keeps those steps already normalised, so a twin pushes each new step
//! ([`Prognostics::push`]) and predicts ([`Prognostics::predict_online`]) with the same numbers;
//! [`Prognostics::predict_many`] scores a fleet with the trees walked once for all units.

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

    /// An HI level rescaled so that the failure threshold is 0 and the healthy level 1, clipped to [0, 1].
    #[must_use]
    pub fn health(&self, level: f64) -> f64 {
        let span = 1.0 - self.failure_level;
        let h = if span > 0.05 { (level - self.failure_level) / span } else { level };
        h.clamp(0.0, 1.0)
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
        self.features_of_series(&hi)
    }

    /// The degradation features after the last of `hi`, a unit's HI values of its last steps (at least one).
    #[must_use]
    pub fn features_of_series(&self, hi: &[f64]) -> [f64; HI_FEATURES] {
        let tail = &hi[hi.len().saturating_sub(self.trend_window.max(5))..];
        self.trend_at(tail, tail.len() - 1).features(self.cap)
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

/// Longest default trend window, in steps (see [`PrognosticsConfig::trend_window`]).
pub const MAX_DEFAULT_TREND: usize = 250;

/// Configuration of [`Prognostics`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrognosticsConfig {
    /// The learned RUL model (its `cap` is the RUL cap in steps).
    pub rul: RulConfig,
    /// Add the degradation model's features (the hybrid); `false` gives the pure learned model.
    pub hybrid: bool,
    /// Steps of the per-unit HI trend fit; `None` (the default) uses the cap (rounded), at most
    /// [`MAX_DEFAULT_TREND`] steps. Chosen by cross-validation on FD001 training units (test-like cuts, see the
    /// crate docs): RMSE 12.23 at 40 steps, 10.93 at 80, 10.10 at 125 = the cap, 10.11 at 200. The bound keeps
    /// the online state and the cost of a prediction from the history small when the cap is many steps long
    /// (fine steps); the trend should then span a cap's worth of time, so choose coarser steps.
    #[serde(default)]
    pub trend_window: Option<usize>,
}

impl Default for PrognosticsConfig {
    fn default() -> Self {
        PrognosticsConfig {
            rul: RulConfig::default(),
            hybrid: true,
            trend_window: None,
        }
    }
}

impl PrognosticsConfig {
    /// The per-unit trend window in steps: [`PrognosticsConfig::trend_window`], or the cap bounded to
    /// `3..=`[`MAX_DEFAULT_TREND`].
    #[must_use]
    pub fn trend_steps(&self) -> usize {
        self.trend_window
            .unwrap_or(self.rul.cap.round().clamp(3.0, MAX_DEFAULT_TREND as f64) as usize)
            .max(3)
    }

    /// The trend window when the model is hybrid, `None` for the pure model (as [`RulModel::train_with`] takes it).
    #[must_use]
    pub fn hybrid_trend(&self) -> Option<usize> {
        self.hybrid.then(|| self.trend_steps())
    }

    /// Sets the RUL cap (steps).
    pub fn set_cap(&mut self, cap: f64) {
        self.rul.cap = cap;
    }
}

/// What the twin shows for one unit after its last step (times in steps, like the training data).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prognosis {
    /// Predicted RUL, in `[0, cap]` (the model learns the RUL capped at `cap`).
    pub rul: f64,
    /// Lower end of the conformal interval at the configured level (90 % by default), ≥ 0.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// Health index: 1 = as new, 0 = at the failure threshold (the training units' mean HI at failure),
    /// clipped to [0, 1]. The pure model (no HI) reports `rul / cap` instead.
    pub health_index: f64,
    /// P(RUL ≤ horizon) from the conformal predictive distribution ([`RulModel::failure_probability`]). For a
    /// horizon at or beyond the cap it is P(RUL < cap), a lower bound: a capped model cannot tell 130 steps
    /// from 300.
    pub failure_probability: f64,
}

/// The twin's RUL model: the conformal gradient-boosted trees, hybrid with the degradation model by default.
/// The RUL distribution of one unit as a planner reads it (steps, like the training data).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulOutlook {
    /// Quantiles of the conformal predictive distribution (values at the cap are censored).
    pub quantiles: Vec<f64>,
    /// Point prediction.
    pub point: f64,
    /// The point prediction is below [`RulModel::flag_level`]: the model sees the failure coming.
    pub flagged: bool,
}

/// Deserialising checks the model's consistency ([`RulModel::check`]), so a damaged file is an error, not a
/// panic at prediction time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PrognosticsData")]
pub struct Prognostics {
    pub config: PrognosticsConfig,
    pub model: RulModel,
}

/// [`Prognostics`] as read, before its check.
#[derive(Deserialize)]
struct PrognosticsData {
    config: PrognosticsConfig,
    model: RulModel,
}

impl TryFrom<PrognosticsData> for Prognostics {
    type Error = LearnError;

    fn try_from(d: PrognosticsData) -> Result<Self, LearnError> {
        d.model.check()?;
        Ok(Prognostics {
            config: d.config,
            model: d.model,
        })
    }
}

impl Prognostics {
    /// Trains on run-to-failure trajectories.
    ///
    /// # Errors
    /// Those of [`RulModel::train`] and [`HealthIndex::fit`].
    pub fn train(units: &[Trajectory], cfg: &PrognosticsConfig) -> Result<Self, LearnError> {
        let model = RulModel::train_with(units, &cfg.rul, cfg.hybrid_trend())?;
        Ok(Prognostics { config: cfg.clone(), model })
    }

    /// RUL with interval, health index and P(failure within `horizon` steps) after the last step of `unit`
    /// (a horizon beyond the cap: see [`Prognosis::failure_probability`]; a negative one gives P(RUL ≤ 0)).
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a unit without steps, of the wrong width or with non-finite numbers in the
    /// steps the features read.
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
        self.score(prepared, horizon)
    }

    /// An empty online state for one unit: feed it with [`Prognostics::push`], predict with
    /// [`Prognostics::predict_online`].
    #[must_use]
    pub fn online_unit(&self, id: &str) -> OnlineUnit {
        let w = self.model.normaliser.kept.len();
        let keep = self.model.tail_steps();
        OnlineUnit {
            id: id.to_string(),
            steps: 0,
            width: w,
            head: Vec::with_capacity(self.model.normaliser.baseline * w),
            ring: vec![0.0; keep * w],
            hi: vec![0.0; keep],
            keep,
        }
    }

    /// Adds one step (settings and values, in the training data's layout) to a unit's online state: O(values).
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a step of the wrong width, non-finite numbers, or a state made by another
    /// model; the state is then unchanged.
    pub fn push(&self, unit: &mut OnlineUnit, settings: &[f64], values: &[f64]) -> Result<(), LearnError> {
        let n = &self.model.normaliser;
        if !self.fits(unit) {
            return Err(LearnError::Mismatch(format!("online state of unit {} belongs to another model", unit.id)));
        }
        n.check_step(settings, values)
            .map_err(|m| LearnError::Mismatch(format!("unit {} step {}: {m}", unit.id, unit.steps)))?;
        let mut row = Vec::with_capacity(unit.width);
        n.step_into(settings, values, &mut row);
        if unit.head.len() < n.baseline * unit.width {
            unit.head.extend_from_slice(&row);
        }
        let slot = unit.steps % unit.keep;
        unit.ring[slot * unit.width..(slot + 1) * unit.width].copy_from_slice(&row);
        if let Some(h) = &self.model.hi {
            // The step's HI, reused by every prediction while the step is in the window (exact when there is
            // no per-unit baseline, which shifts every row when it is still being formed).
            unit.hi[slot] = h.value(&row);
        }
        unit.steps += 1;
        Ok(())
    }

    /// [`Prognostics::predict`] from a unit's online state; the same numbers as from its whole history, at a cost
    /// independent of its age and without re-normalising its last steps.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a state without steps or made by another model.
    pub fn predict_online(&self, unit: &OnlineUnit, horizon: f64) -> Result<Prognosis, LearnError> {
        self.score(vec![self.online_features(unit)], horizon)
            .pop()
            .unwrap_or_else(|| Err(LearnError::Mismatch("no prediction".into())))
    }

    /// [`Prognostics::predict_online`] for many units at once (see [`Prognostics::predict_many`]).
    #[must_use]
    pub fn predict_many_online(&self, units: &[&OnlineUnit], horizon: f64) -> Vec<Result<Prognosis, LearnError>> {
        self.score(units.iter().map(|u| self.online_features(u)).collect(), horizon)
    }

    /// Quantiles of the RUL distribution after the last step of `unit` at the probabilities `probs` (see
    /// [`RulModel::quantiles_features`]; values at the cap are censored).
    ///
    /// # Errors
    /// As [`Prognostics::predict`].
    pub fn rul_quantiles(&self, unit: &Trajectory, probs: &[f64]) -> Result<Vec<f64>, LearnError> {
        let (features, _) = self.model.last_features_and_hi(unit)?;
        self.model.quantiles_features(&features, probs)
    }

    /// Quantiles of the RUL distribution of a unit's online state at the probabilities `probs` (see
    /// [`RulModel::quantiles_features`]; values at the cap are censored).
    ///
    /// # Errors
    /// As [`Prognostics::predict_online`].
    pub fn rul_quantiles_online(&self, unit: &OnlineUnit, probs: &[f64]) -> Result<Vec<f64>, LearnError> {
        let (features, _) = self.online_features(unit)?;
        self.model.quantiles_features(&features, probs)
    }

    /// [`Prognostics::rul_quantiles`] with the point prediction and whether the model flags the unit (its point
    /// prediction below [`RulModel::flag_level`]): what a planner needs to weigh acting now against waiting for
    /// the prediction to sharpen ([`RulModel::warning_leads`]).
    ///
    /// # Errors
    /// As [`Prognostics::predict`].
    pub fn rul_outlook(&self, unit: &Trajectory, probs: &[f64]) -> Result<RulOutlook, LearnError> {
        let (features, _) = self.model.last_features_and_hi(unit)?;
        self.outlook(&features, probs)
    }

    /// [`Prognostics::rul_outlook`] from a unit's online state.
    ///
    /// # Errors
    /// As [`Prognostics::predict_online`].
    pub fn rul_outlook_online(&self, unit: &OnlineUnit, probs: &[f64]) -> Result<RulOutlook, LearnError> {
        let (features, _) = self.online_features(unit)?;
        self.outlook(&features, probs)
    }

    fn outlook(&self, features: &[f64], probs: &[f64]) -> Result<RulOutlook, LearnError> {
        let (quantiles, point) = self.model.quantiles_and_point_features(features, probs)?;
        Ok(RulOutlook {
            quantiles,
            point,
            flagged: point < self.model.flag_level(),
        })
    }

    fn online_features(&self, unit: &OnlineUnit) -> Result<Prepared, LearnError> {
        if unit.steps == 0 {
            return Err(LearnError::Mismatch(format!("unit {} has no step", unit.id)));
        }
        if !self.fits(unit) {
            return Err(LearnError::Mismatch(format!("online state of unit {} belongs to another model", unit.id)));
        }
        let w = unit.width;
        let n = unit.steps.min(unit.keep);
        // Oldest first: the ring's slots from the one after the newest, wrapping.
        let slots = (unit.steps - n..unit.steps).map(|k| k % unit.keep);
        if self.model.normaliser.baseline == 0 {
            // The window features read the last `window` rows; the trend reads the cached HI of all kept steps.
            let rows = n.min(self.model.config.window);
            let norm: Vec<&[f64]> = slots.clone().skip(n - rows).map(|s| &unit.ring[s * w..(s + 1) * w]).collect();
            let hi: Option<Vec<f64>> = self.model.hi.as_ref().map(|_| slots.map(|s| unit.hi[s]).collect());
            return Ok(self.model.features_of_tail(&norm, unit.steps, hi.as_deref()));
        }
        let mut rows = Vec::with_capacity(n * w);
        for s in slots {
            rows.extend_from_slice(&unit.ring[s * w..(s + 1) * w]);
        }
        self.model.normaliser.subtract_baseline(&unit.head, &mut rows);
        let norm: Vec<&[f64]> = rows.chunks_exact(w).collect();
        Ok(self.model.features_of_tail(&norm, unit.steps, None))
    }

    /// Whether an online state has the shape this model's states have.
    fn fits(&self, unit: &OnlineUnit) -> bool {
        unit.width == self.model.normaliser.kept.len()
            && unit.keep == self.model.tail_steps()
            && unit.ring.len() == unit.keep * unit.width
            && unit.hi.len() == unit.keep
    }

    /// Trees, interval, failure probability and health index for prepared feature rows.
    fn score(&self, prepared: Vec<Result<Prepared, LearnError>>, horizon: f64) -> Vec<Result<Prognosis, LearnError>> {
        let rows: Vec<&[f64]> = prepared.iter().filter_map(|p| p.as_ref().ok()).map(|(f, _)| f.as_slice()).collect();
        let cap = self.model.config.cap;
        let h = horizon.clamp(0.0, cap * (1.0 - 1e-9));
        let mut scored = match self.model.predict_many_features(&rows, Some(h)) {
            Ok(v) => v.into_iter(),
            Err(e) => {
                let m = e.to_string();
                return prepared.iter().map(|_| Err(LearnError::Mismatch(m.clone()))).collect();
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
                    health_index: match (hi, &self.model.hi) {
                        (Some(level), Some(h)) => h.health(level),
                        _ => (rul / cap).clamp(0.0, 1.0),
                    },
                    failure_probability: q.unwrap_or(0.0),
                })
            })
            .collect()
    }
}

/// The online state of one unit for [`Prognostics::predict_online`]: its step count, the regime-normalised
/// values of its first steps (the per-unit baseline, when the model uses one) and of its last steps (as many as
/// the features look back). Serializable, so a twin can persist it with the unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineUnit {
    /// Name of the unit (for error messages).
    pub id: String,
    /// Steps pushed since the unit was new.
    pub steps: usize,
    width: usize,
    head: Vec<f64>,
    ring: Vec<f64>,
    /// HI of each step in `ring` (hybrid models).
    hi: Vec<f64>,
    keep: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt::GbtConfig;

    /// Motor-like units without settings: value 0 (vibration) grows as failure nears, value 1 is noise, value 2
    /// is an offset particular to each unit (what the per-unit baseline removes).
    fn units(n: usize) -> Vec<Trajectory> {
        (0..n)
            .map(|u| {
                let len = 50 + 9 * u;
                let values = (0..len)
                    .map(|t| {
                        let left = (len - 1 - t) as f64;
                        let wobble = ((t * 37 + u * 11) % 7) as f64;
                        vec![2.0 + 3.0 * (-left / 12.0).exp() + 0.05 * wobble, wobble, u as f64]
                    })
                    .collect();
                Trajectory {
                    id: format!("m{u}"),
                    settings: vec![Vec::new(); len],
                    values,
                    failed: true,
                }
            })
            .collect()
    }

    fn config(baseline: usize) -> PrognosticsConfig {
        PrognosticsConfig {
            rul: RulConfig {
                cap: 30.0,
                window: 10,
                baseline,
                gbt: GbtConfig {
                    n_trees: 30,
                    learning_rate: 0.2,
                    min_leaf: 5,
                    ..GbtConfig::default()
                },
                ..RulConfig::default()
            },
            hybrid: true,
            trend_window: Some(8),
        }
    }

    #[test]
    fn online_state_gives_the_same_prognosis_as_the_history() {
        let train = units(12);
        for baseline in [0, 5] {
            let model = Prognostics::train(&train, &config(baseline)).unwrap();
            let unit = &train[3];
            let mut state = model.online_unit(&unit.id);
            assert!(model.predict_online(&state, 5.0).is_err());
            for t in 0..unit.len() {
                model.push(&mut state, &unit.settings[t], &unit.values[t]).unwrap();
                let mut history = unit.clone();
                history.settings.truncate(t + 1);
                history.values.truncate(t + 1);
                assert_eq!(model.predict_online(&state, 5.0).unwrap(), model.predict(&history, 5.0).unwrap(), "step {t}");
            }
            assert!(model.push(&mut state, &[], &[1.0]).is_err());
            assert!(model.push(&mut state, &[], &[1.0, f64::NAN, 0.0]).is_err());
            assert_eq!(state.steps, unit.len());
        }
    }

    #[test]
    fn health_falls_towards_failure_and_the_model_round_trips_through_json() {
        let train = units(12);
        let model = Prognostics::train(&train, &config(0)).unwrap();
        let hi = model.model.hi.as_ref().unwrap();
        // The training units' HI at failure is the threshold, well below the healthy level of 1.
        assert!(hi.failure_level < 0.3, "{}", hi.failure_level);
        let unit = &train[5];
        let at = |steps: usize| {
            let mut h = unit.clone();
            h.settings.truncate(steps);
            h.values.truncate(steps);
            model.predict(&h, 10.0).unwrap()
        };
        let (early, late) = (at(20), at(unit.len()));
        assert!(early.health_index > 0.8 && late.health_index < 0.3, "{early:?} {late:?}");
        assert!(early.failure_probability < 0.2 && late.failure_probability > 0.8, "{early:?} {late:?}");
        assert!(late.lower <= late.rul && late.rul <= late.upper && late.rul < 8.0, "{late:?}");
        // A horizon beyond the cap is answered with P(RUL < cap), not an error.
        assert!(model.predict(unit, 1e9).unwrap().failure_probability >= late.failure_probability);
        let json = serde_json::to_string(&model).unwrap();
        let back: Prognostics = serde_json::from_str(&json).unwrap();
        assert_eq!(back.predict(unit, 10.0).unwrap(), late);
        // A damaged file is an error when read, not a panic when used.
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["model"]["fold_models"][0]["roots"][0] = serde_json::json!(1_000_000);
        let e = serde_json::from_value::<Prognostics>(v).unwrap_err().to_string();
        assert!(e.contains("root"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["model"]["normaliser"]["kept"][0] = serde_json::json!(7);
        assert!(serde_json::from_value::<Prognostics>(v).is_err());
        // The pure model has no health index of its own: 1 − RUL/cap stands in.
        let pure = Prognostics::train(&train, &PrognosticsConfig { hybrid: false, ..config(0) }).unwrap();
        let p = pure.predict(unit, 10.0).unwrap();
        assert!((p.health_index - p.rul / 30.0).abs() < 1e-12);
    }
}
