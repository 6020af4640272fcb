//! Unsupervised multivariate anomaly detection: principal component analysis (PCA) of healthy operation with
//! Hotelling's T² and the squared prediction error (SPE, Q statistic), thresholded at a target false-alarm rate.
//! One detector per asset type, fitted on that type's healthy rows; [`OnlineAnomaly`] scores one asset's stream.
//!
//! # Method
//! 1. **Fit** on healthy rows (one row per step, e.g. vibration mm/s, bearing temperature, current, physics
//!    residuals). The rows are dealt in blocks of `b = clamp(rows / 8, 1, `[`BLOCK`]`)` consecutive rows, three
//!    blocks to fitting and one to calibration, so calibration rows are not the fitting rows' immediate neighbours
//!    (consecutive steps are correlated). Columns are standardised with the fitting rows' mean and deviation;
//!    columns constant in the fitting rows are left out (listed in [`PcaDetector::used`]). PCA keeps the fewest
//!    components that explain `explained_variance` of the variance (at least 1, at most `d − 1` so that SPE
//!    exists when `d ≥ 2`).
//! 2. **Statistics** of a standardised row `z`: scores `t = Pᵀz`, `T² = Σ tᵢ²/λᵢ` (distance inside the model
//!    plane: an unusual *level* along normal directions of variation) and `SPE = ‖z − P t‖²` (distance from the
//!    plane: a broken correlation). Each is divided by its median on the calibration rows; the larger of the two
//!    is the *index*. An exponentially weighted moving average (`ewma`, 1 = off) smooths it over consecutive
//!    steps (started at the calibration mean), and optionally an alarm needs `alarm_k` of the last `alarm_n`
//!    smoothed values above the threshold.
//! 3. **Threshold** from the target false-alarm rate α (per scored step): the calibration rows are run in order
//!    through the same smoothing and k-of-n rule as online, and the threshold is the smallest value at which at
//!    most a fraction α of them are in alarm — the smoothing is accounted for. This empirical threshold is used
//!    because the theoretical limits — the F-distribution limit for T² (`k(n²−1)/(n(n−k)) F(k, n−k)`) and the
//!    Jackson–Mudholkar limit for SPE (Box's χ² approximation when its `h₀ ≤ 0`) — assume independent Gaussian
//!    rows, which neither smoothed statistics nor real process data are (on 30 held-out healthy FEMTO bearing
//!    snapshots, 2 pass them at a 1 % target; see `ANOMALY.md`). Both are still computed at α for comparison
//!    ([`PcaDetector::t2_limit_theory`], [`PcaDetector::spe_limit_theory`]). A quantile at `1 − α` needs about
//!    `10/α` calibration rows; with fewer, the threshold is the larger of the empirical one and the index at which
//!    both statistics pass their theoretical limits at α/2 ([`ThresholdSource::Conservative`]): fewer alarms rather
//!    than a threshold set by a handful of rows.
//! 4. **Score** = smoothed index / threshold: above 1 means beyond the threshold. Per row,
//!    [`PcaDetector::score`] also gives the equivalent per-statistic limits (`score = max(T²/T²_lim, SPE/SPE_lim)`)
//!    and **contributions**: each input's share of SPE (`e_j²`) and of T² (`z_j (P Λ⁻¹ t)_j`, which sums to T²),
//!    in units of the limit, with its deviation in healthy standard deviations — so a technician sees which inputs
//!    moved and which way.
//!
//! # Why these crates
//! The eigen-decomposition is nalgebra's `SymmetricEigen` (maintained, well tested; nalgebra is already a
//! dependency of this crate, with default features off — linfa or smartcore would add an ndarray/BLAS stack or a
//! large crate for one routine). Quantiles of the F, normal and χ² distributions come from
//! statrs (default features off: it then depends only on approx and num-traits). The rest is a few lines of
//! arithmetic. Why PCA rather than an isolation forest or an autoencoder: the inputs are a handful of correlated
//! process signals per asset type, PCA's two statistics say *how* a row is unusual, it needs few healthy rows
//! (tens, not thousands), fitting is one small eigen-decomposition, and its contributions are exact.

use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, Normal};

use crate::LearnError;

/// Largest number of consecutive rows per block when dealing healthy rows to fitting (3 blocks) and calibration
/// (1 block).
pub const BLOCK: usize = 50;

/// Fewest healthy rows [`PcaDetector::fit`] accepts.
pub const MIN_ROWS: usize = 40;

/// How a detector is fitted and how it alarms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnomalyConfig {
    /// Share of the standardised variance the retained components must explain, in (0, 1].
    pub explained_variance: f64,
    /// Target false-alarm rate per scored step on healthy data, in (0, 0.5).
    pub false_alarm_rate: f64,
    /// Weight of the newest step in the moving average of the index, in (0, 1] (1 = no smoothing).
    pub ewma: f64,
    /// An alarm needs `alarm_k` of the last `alarm_n` smoothed values above the threshold (1 of 1 = every step).
    pub alarm_k: usize,
    /// Window of the k-of-n rule, 1..=64.
    pub alarm_n: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            explained_variance: 0.9,
            false_alarm_rate: 0.001,
            ewma: 0.2,
            alarm_k: 1,
            alarm_n: 1,
        }
    }
}

impl AnomalyConfig {
    /// Checks every value's range.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] naming the value.
    pub fn validate(&self) -> Result<(), LearnError> {
        let bad = |m: &str| Err(LearnError::InvalidConfig(m.into()));
        if !(self.explained_variance > 0.0 && self.explained_variance <= 1.0) {
            return bad("explained_variance must lie in (0, 1]");
        }
        if !(self.false_alarm_rate > 0.0 && self.false_alarm_rate < 0.5) {
            return bad("false_alarm_rate must lie in (0, 0.5)");
        }
        if !(self.ewma > 0.0 && self.ewma <= 1.0) {
            return bad("ewma must lie in (0, 1]");
        }
        if !(1..=64).contains(&self.alarm_n) || !(1..=self.alarm_n).contains(&self.alarm_k) {
            return bad("alarm_k of alarm_n needs 1 <= alarm_k <= alarm_n <= 64");
        }
        Ok(())
    }
}

/// Where the threshold came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSource {
    /// The empirical quantile on at least `10/α` calibration rows.
    #[default]
    Empirical,
    /// Fewer calibration rows: the larger of the empirical threshold and the theoretical one (α/2 per statistic).
    Conservative,
}

/// A fitted detector (saved as JSON in the model registry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaDetector {
    /// Names of the input columns, in order.
    pub names: Vec<String>,
    /// Input columns used (the others were constant in the healthy data and are ignored).
    pub used: Vec<usize>,
    mean: Vec<f64>,
    std: Vec<f64>,
    /// Loadings, `used.len() × k`, column-major.
    loadings: Vec<f64>,
    /// Eigenvalues of the retained components.
    eigenvalues: Vec<f64>,
    /// Eigenvalues of the discarded components (the residual space).
    #[serde(default)]
    residual_eigenvalues: Vec<f64>,
    t2_scale: f64,
    spe_scale: f64,
    /// Threshold on the smoothed index.
    pub threshold: f64,
    /// How the threshold was set.
    #[serde(default)]
    pub threshold_source: ThresholdSource,
    /// Theoretical T² limit at the target rate (F distribution; independent Gaussian rows, no smoothing).
    #[serde(default)]
    pub t2_limit_theory: f64,
    /// Theoretical SPE limit at the target rate (Jackson–Mudholkar; 0 when there is no residual space).
    #[serde(default)]
    pub spe_limit_theory: f64,
    /// Starting value of the moving average (the calibration rows' mean index).
    #[serde(default)]
    ewma_start: Option<f64>,
    /// The configuration it was fitted with.
    pub config: AnomalyConfig,
    /// Rows used for fitting.
    pub fit_rows: usize,
    /// Rows used for calibration.
    pub calibration_rows: usize,
}

/// One input's part in a row's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Input name.
    pub name: String,
    /// Input column.
    pub column: usize,
    /// `(value − healthy mean) / healthy standard deviation`: how far and which way the input moved.
    pub deviation: f64,
    /// Its share of T² / T²-limit (negative shares counted as 0).
    pub t2: f64,
    /// Its share of SPE / SPE-limit.
    pub spe: f64,
}

impl Contribution {
    /// `t2 + spe`: the order of [`AnomalyScore::contributions`].
    #[must_use]
    pub fn total(&self) -> f64 {
        self.t2 + self.spe
    }
}

/// The statistics of one row, unsmoothed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyScore {
    pub t2: f64,
    pub spe: f64,
    /// The T² limit for one unsmoothed row implied by the threshold (`threshold × median calibration T²`).
    pub t2_limit: f64,
    /// The SPE limit likewise (infinite, `null` in JSON, when there is no residual space).
    pub spe_limit: f64,
    /// `max(t2 / t2_limit, spe / spe_limit)`: above 1 is beyond the threshold.
    pub score: f64,
    /// Every used input, largest contribution first.
    pub contributions: Vec<Contribution>,
}

fn check_row(row: &[f64], width: usize) -> Result<(), LearnError> {
    if row.len() != width {
        return Err(LearnError::Mismatch(format!(
            "anomaly input has {} values, the detector expects {width}",
            row.len()
        )));
    }
    if let Some(i) = row.iter().position(|x| !x.is_finite()) {
        return Err(LearnError::Mismatch(format!("anomaly input column {i} is not a finite number")));
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// F-distribution limit of T² for a new observation, `k` components fitted on `n` rows.
fn t2_theory(k: usize, n: usize, alpha: f64) -> f64 {
    let (k, n) = (k as f64, n as f64);
    match FisherSnedecor::new(k, n - k) {
        Ok(f) => k * (n * n - 1.0) / (n * (n - k)) * f.inverse_cdf(1.0 - alpha),
        Err(_) => f64::INFINITY,
    }
}

/// Jackson–Mudholkar limit of SPE from the residual eigenvalues (Box's `g χ²_h` when `h₀` is not positive).
fn spe_theory(residual: &[f64], alpha: f64) -> f64 {
    let theta = |p: i32| residual.iter().map(|l| l.powi(p)).sum::<f64>();
    let (t1, t2, t3) = (theta(1), theta(2), theta(3));
    if t1 <= 0.0 || t2 <= 0.0 {
        return 0.0;
    }
    let h0 = 1.0 - 2.0 * t1 * t3 / (3.0 * t2 * t2);
    if h0 > 1e-3 {
        let c = Normal::standard().inverse_cdf(1.0 - alpha);
        let base = c * (2.0 * t2 * h0 * h0).sqrt() / t1 + 1.0 + t2 * h0 * (h0 - 1.0) / (t1 * t1);
        if base > 0.0 {
            return t1 * base.powf(1.0 / h0);
        }
    }
    match ChiSquared::new(t1 * t1 / t2) {
        Ok(c) => t2 / t1 * c.inverse_cdf(1.0 - alpha),
        Err(_) => f64::INFINITY,
    }
}

/// Number of steps in alarm when the smoothed series `s` is run through the k-of-n rule at threshold `h`.
fn alarms_at(s: &[f64], h: f64, k: usize, n: usize) -> usize {
    let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut recent = 0u64;
    let mut count = 0;
    for &x in s {
        recent = ((recent << 1) | u64::from(x > h)) & mask;
        if recent.count_ones() as usize >= k {
            count += 1;
        }
    }
    count
}

/// The smallest threshold among the values of `s` at which at most a fraction `alpha` of the steps are in alarm.
fn calibrate(s: &[f64], alpha: f64, k: usize, n: usize) -> f64 {
    let mut cand = s.to_vec();
    cand.sort_by(f64::total_cmp);
    cand.dedup();
    let allowed = (alpha * s.len() as f64).floor() as usize;
    // Alarms fall as the threshold rises; at the largest value there are none.
    let (mut lo, mut hi) = (0, cand.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if alarms_at(s, cand[mid], k, n) <= allowed {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    cand[lo]
}

impl PcaDetector {
    /// Fits on healthy rows (each with `names.len()` values, in the order of `names`).
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for a configuration out of range; [`LearnError::Mismatch`] for rows of the
    /// wrong width or with non-finite values, fewer than [`MIN_ROWS`] rows or too few for the number of inputs,
    /// or every column constant.
    pub fn fit(healthy: &[Vec<f64>], names: &[String], cfg: &AnomalyConfig) -> Result<Self, LearnError> {
        cfg.validate()?;
        let width = names.len();
        for r in healthy {
            check_row(r, width)?;
        }
        if healthy.len() < MIN_ROWS {
            return Err(LearnError::Mismatch(format!(
                "{} healthy rows are too few: at least {MIN_ROWS} are needed",
                healthy.len()
            )));
        }
        let block = (healthy.len() / 8).clamp(1, BLOCK);
        let is_calibration = |i: usize| (i / block) % 4 == 3;
        let fit: Vec<&Vec<f64>> = healthy.iter().enumerate().filter(|(i, _)| !is_calibration(*i)).map(|(_, r)| r).collect();
        let n = fit.len() as f64;
        let mean_all: Vec<f64> = (0..width).map(|j| fit.iter().map(|r| r[j]).sum::<f64>() / n).collect();
        let std_all: Vec<f64> = (0..width)
            .map(|j| (fit.iter().map(|r| (r[j] - mean_all[j]).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
            .collect();
        let used: Vec<usize> = (0..width).filter(|&j| std_all[j] > 1e-9 * mean_all[j].abs().max(1.0)).collect();
        if used.is_empty() {
            return Err(LearnError::Mismatch("every anomaly input is constant in the healthy data".into()));
        }
        let d = used.len();
        if fit.len() < d + 2 {
            return Err(LearnError::Mismatch(format!(
                "{} fitting rows are too few for {d} varying inputs (at least {} healthy rows are needed)",
                fit.len(),
                (d + 2) * 4 / 3 + 1
            )));
        }
        let mean: Vec<f64> = used.iter().map(|&j| mean_all[j]).collect();
        let std: Vec<f64> = used.iter().map(|&j| std_all[j]).collect();
        let z = DMatrix::from_fn(fit.len(), d, |i, k| (fit[i][used[k]] - mean[k]) / std[k]);
        let cov = (z.transpose() * &z) / (n - 1.0);
        let eig = SymmetricEigen::new(cov);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum::<f64>().max(f64::MIN_POSITIVE);
        let max_k = if d >= 2 { d - 1 } else { 1 };
        let mut k = 0;
        let mut explained = 0.0;
        while k < max_k && explained < cfg.explained_variance * total {
            explained += eig.eigenvalues[order[k]].max(0.0);
            k += 1;
        }
        let k = k.max(1);
        let floor = 1e-9 * total;
        let eigenvalues: Vec<f64> = order[..k].iter().map(|&c| eig.eigenvalues[c].max(floor)).collect();
        let residual_eigenvalues: Vec<f64> = order[k..].iter().map(|&c| eig.eigenvalues[c].max(0.0)).collect();
        let mut loadings = Vec::with_capacity(d * k);
        for &c in &order[..k] {
            loadings.extend(eig.eigenvectors.column(c).iter().copied());
        }
        let alpha = cfg.false_alarm_rate;
        let mut det = PcaDetector {
            names: names.to_vec(),
            used,
            mean,
            std,
            loadings,
            eigenvalues,
            // Kept finite so that the detector stays valid JSON.
            t2_limit_theory: t2_theory(k, fit.len(), alpha).min(f64::MAX),
            spe_limit_theory: spe_theory(&residual_eigenvalues, alpha).min(f64::MAX),
            residual_eigenvalues,
            t2_scale: 1.0,
            spe_scale: 1.0,
            threshold: 1.0,
            threshold_source: ThresholdSource::Empirical,
            ewma_start: None,
            config: cfg.clone(),
            fit_rows: fit.len(),
            calibration_rows: 0,
        };
        // Calibration rows, in order: scale each statistic by its median, smooth as online, then the threshold.
        let raw: Vec<(f64, f64)> = healthy
            .iter()
            .enumerate()
            .filter(|(i, _)| is_calibration(*i))
            .map(|(_, r)| det.statistics(r))
            .collect();
        det.t2_scale = median(raw.iter().map(|s| s.0).collect()).max(1e-12);
        det.spe_scale = if d >= 2 { median(raw.iter().map(|s| s.1).collect()).max(1e-12) } else { 1.0 };
        let index: Vec<f64> = raw.iter().map(|&(t2, spe)| det.index_of(t2, spe)).collect();
        let start = index.iter().sum::<f64>() / index.len() as f64;
        det.ewma_start = Some(start);
        let mut state = start;
        let smoothed: Vec<f64> = index
            .iter()
            .map(|&x| {
                state = cfg.ewma * x + (1.0 - cfg.ewma) * state;
                state
            })
            .collect();
        det.threshold = calibrate(&smoothed, alpha, cfg.alarm_k, cfg.alarm_n).max(1e-12);
        det.calibration_rows = raw.len();
        if (raw.len() as f64) < 10.0 / alpha {
            let t2_half = t2_theory(k, fit.len(), alpha / 2.0) / det.t2_scale;
            let spe_half = if d >= 2 {
                spe_theory(&det.residual_eigenvalues, alpha / 2.0) / det.spe_scale
            } else {
                0.0
            };
            let theory = t2_half.max(spe_half);
            if theory.is_finite() && theory > det.threshold {
                det.threshold = theory;
            }
            det.threshold_source = ThresholdSource::Conservative;
        }
        Ok(det)
    }

    /// Number of retained principal components.
    #[must_use]
    pub fn components(&self) -> usize {
        self.eigenvalues.len()
    }

    fn standardise(&self, row: &[f64]) -> Vec<f64> {
        self.used.iter().enumerate().map(|(k, &j)| (row[j] - self.mean[k]) / self.std[k]).collect()
    }

    /// Scores `t` and the residual of a standardised row.
    fn project(&self, z: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (d, k) = (z.len(), self.components());
        let t: Vec<f64> = (0..k).map(|c| (0..d).map(|i| self.loadings[c * d + i] * z[i]).sum()).collect();
        let e: Vec<f64> = (0..d).map(|i| z[i] - (0..k).map(|c| self.loadings[c * d + i] * t[c]).sum::<f64>()).collect();
        (t, e)
    }

    fn statistics(&self, row: &[f64]) -> (f64, f64) {
        let z = self.standardise(row);
        let (t, e) = self.project(&z);
        let t2 = t.iter().zip(&self.eigenvalues).map(|(x, l)| x * x / l).sum();
        let spe = if z.len() >= 2 { e.iter().map(|x| x * x).sum() } else { 0.0 };
        (t2, spe)
    }

    fn index_of(&self, t2: f64, spe: f64) -> f64 {
        (t2 / self.t2_scale).max(spe / self.spe_scale)
    }

    /// T², SPE, their limits, the normalised score and the per-input contributions of one row (unsmoothed).
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a row of the wrong width or with a non-finite value.
    pub fn score(&self, row: &[f64]) -> Result<AnomalyScore, LearnError> {
        check_row(row, self.names.len())?;
        let z = self.standardise(row);
        let (t, e) = self.project(&z);
        let (d, k) = (z.len(), self.components());
        let t2: f64 = t.iter().zip(&self.eigenvalues).map(|(x, l)| x * x / l).sum();
        let has_spe = d >= 2;
        let spe: f64 = if has_spe { e.iter().map(|x| x * x).sum() } else { 0.0 };
        let t2_limit = self.threshold * self.t2_scale;
        let spe_limit = if has_spe { self.threshold * self.spe_scale } else { f64::INFINITY };
        // T² = Σ_j z_j (P Λ⁻¹ t)_j exactly; SPE = Σ_j e_j².
        let mut contributions: Vec<Contribution> = self
            .used
            .iter()
            .enumerate()
            .map(|(i, &j)| {
                let w: f64 = (0..k).map(|c| self.loadings[c * d + i] * t[c] / self.eigenvalues[c]).sum();
                Contribution {
                    name: self.names[j].clone(),
                    column: j,
                    deviation: z[i],
                    t2: (z[i] * w / t2_limit).max(0.0),
                    spe: if has_spe { e[i] * e[i] / spe_limit } else { 0.0 },
                }
            })
            .collect();
        contributions.sort_by(|a, b| b.total().total_cmp(&a.total()));
        Ok(AnomalyScore {
            t2,
            spe,
            t2_limit,
            spe_limit,
            score: self.index_of(t2, spe) / self.threshold,
            contributions,
        })
    }
}

/// What the online detector says about the newest row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyState {
    /// Smoothed index divided by the threshold: above 1 means beyond the threshold.
    pub score: f64,
    /// The alarm rule (`alarm_k` of the last `alarm_n` steps beyond the threshold) holds.
    pub alarm: bool,
    /// This row's statistics, limits, unsmoothed score and contributions (largest first).
    pub row: AnomalyScore,
}

impl AnomalyState {
    /// The names of the `n` inputs that contribute most to this row, largest first.
    #[must_use]
    pub fn top(&self, n: usize) -> Vec<&str> {
        self.row.contributions.iter().take(n).map(|c| c.name.as_str()).collect()
    }
}

/// One asset's detector with its smoothing state.
#[derive(Debug, Clone)]
pub struct OnlineAnomaly {
    detector: PcaDetector,
    state: Option<f64>,
    recent: u64,
}

impl OnlineAnomaly {
    #[must_use]
    pub fn new(detector: PcaDetector) -> Self {
        OnlineAnomaly {
            detector,
            state: None,
            recent: 0,
        }
    }

    /// The detector.
    #[must_use]
    pub fn detector(&self) -> &PcaDetector {
        &self.detector
    }

    /// Forgets the smoothing state (a new life of the asset, or a gap in the data).
    pub fn reset(&mut self) {
        self.state = None;
        self.recent = 0;
    }

    /// Scores the next row.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a row of the wrong width or with a non-finite value (the state is unchanged).
    pub fn push(&mut self, row: &[f64]) -> Result<AnomalyState, LearnError> {
        let det = &self.detector;
        let s = det.score(row)?;
        let index = s.score * det.threshold;
        let a = det.config.ewma;
        let prev = self.state.or(det.ewma_start).unwrap_or(index);
        let smoothed = a * index + (1.0 - a) * prev;
        self.state = Some(smoothed);
        let n = det.config.alarm_n.clamp(1, 64);
        let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        self.recent = ((self.recent << 1) | u64::from(smoothed > det.threshold)) & mask;
        Ok(AnomalyState {
            score: smoothed / det.threshold,
            alarm: self.recent.count_ones() as usize >= det.config.alarm_k.max(1),
            row: s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic normal variates (Box–Muller over a xorshift stream).
    struct Gauss(u64);
    impl Gauss {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn next(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// Three correlated signals driven by one latent load, plus an independent one.
    fn healthy(n: usize, g: &mut Gauss) -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| {
                let load = g.next();
                vec![
                    50.0 + 10.0 * load + 0.5 * g.next(),
                    20.0 + 4.0 * load + 0.3 * g.next(),
                    1.0 + 0.2 * load + 0.02 * g.next(),
                    5.0 + g.next(),
                ]
            })
            .collect()
    }

    fn names() -> Vec<String> {
        ["current", "temp", "vibration", "pressure"].iter().map(|s| s.to_string()).collect()
    }

    fn alarm_rate(det: &PcaDetector, rows: &[Vec<f64>]) -> f64 {
        let mut online = OnlineAnomaly::new(det.clone());
        rows.iter().filter(|r| online.push(r).unwrap().alarm).count() as f64 / rows.len() as f64
    }

    #[test]
    fn false_alarm_rate_on_fresh_healthy_data_is_near_the_target() {
        let mut g = Gauss(0x9E37_79B9_7F4A_7C15);
        let train = healthy(20_000, &mut g);
        let fresh = healthy(40_000, &mut g);
        for (ewma, k, n) in [(0.2, 1, 1), (1.0, 1, 1), (1.0, 3, 5), (0.3, 2, 3)] {
            let cfg = AnomalyConfig {
                false_alarm_rate: 0.01,
                ewma,
                alarm_k: k,
                alarm_n: n,
                ..AnomalyConfig::default()
            };
            let det = PcaDetector::fit(&train, &names(), &cfg).unwrap();
            assert_eq!((det.used.len(), det.components()), (4, 2));
            assert_eq!(det.threshold_source, ThresholdSource::Empirical);
            let rate = alarm_rate(&det, &fresh);
            println!("target 0.01, ewma {ewma}, {k} of {n}: false-alarm rate {rate:.4} on 40,000 fresh rows");
            assert!((0.005..=0.02).contains(&rate), "ewma {ewma}, {k} of {n}: false-alarm rate {rate}");
        }
    }

    #[test]
    fn theoretical_limits_hold_on_independent_gaussian_rows() {
        let mut g = Gauss(11);
        let cfg = AnomalyConfig {
            false_alarm_rate: 0.01,
            ewma: 1.0,
            ..AnomalyConfig::default()
        };
        let det = PcaDetector::fit(&healthy(20_000, &mut g), &names(), &cfg).unwrap();
        let fresh = healthy(40_000, &mut g);
        let scores: Vec<AnomalyScore> = fresh.iter().map(|r| det.score(r).unwrap()).collect();
        let t2 = scores.iter().filter(|s| s.t2 > det.t2_limit_theory).count() as f64 / fresh.len() as f64;
        let spe = scores.iter().filter(|s| s.spe > det.spe_limit_theory).count() as f64 / fresh.len() as f64;
        println!("target 0.01: T² above the F limit {t2:.4}, SPE above the Jackson–Mudholkar limit {spe:.4}");
        assert!((0.007..=0.014).contains(&t2), "T² above the F limit: {t2}");
        assert!((0.007..=0.014).contains(&spe), "SPE above the Jackson–Mudholkar limit: {spe}");
        // The per-row score is max(T²/T²_lim, SPE/SPE_lim).
        let s = &scores[0];
        assert!((s.score - (s.t2 / s.t2_limit).max(s.spe / s.spe_limit)).abs() < 1e-12);
    }

    #[test]
    fn broken_correlation_is_detected_and_attributed() {
        let mut g = Gauss(42);
        let det = PcaDetector::fit(&healthy(8_000, &mut g), &names(), &AnomalyConfig::default()).unwrap();
        let mut online = OnlineAnomaly::new(det);
        // Vibration 3 standard deviations high while load, current and temperature are normal: each value alone
        // is within its healthy range, only the combination is wrong (SPE).
        let mut last = None;
        for _ in 0..20 {
            last = Some(online.push(&[50.0, 20.0, 1.6, 5.0]).unwrap());
        }
        let s = last.unwrap();
        assert!(s.alarm, "{s:?}");
        assert!(s.row.spe > s.row.spe_limit && s.row.t2 < s.row.t2_limit, "{s:?}");
        assert_eq!(s.top(1), ["vibration"], "{s:?}");
        assert!(s.row.contributions[0].spe > 0.5 * s.row.score, "{s:?}");
        online.reset();
        assert!(!online.push(&[50.0, 20.0, 1.0, 5.0]).unwrap().alarm);
    }

    #[test]
    fn mean_shift_is_detected_and_attributed() {
        let mut g = Gauss(5);
        let det = PcaDetector::fit(&healthy(8_000, &mut g), &names(), &AnomalyConfig::default()).unwrap();
        let mut online = OnlineAnomaly::new(det);
        let fresh = healthy(400, &mut g);
        let mut first = None;
        for (i, r) in fresh.iter().enumerate() {
            let mut r = r.clone();
            if i >= 200 {
                r[3] += 4.0; // pressure 4 σ up from step 200 on
            }
            let s = online.push(&r).unwrap();
            assert!(i >= 200 || !s.alarm, "alarm at {i} before the shift: {s:?}");
            if s.alarm && first.is_none() {
                first = Some(i);
                assert_eq!(s.top(1), ["pressure"], "{s:?}");
                assert!(s.row.contributions[0].deviation > 2.0, "{s:?}");
            }
        }
        let delay = first.expect("the shift is detected") - 200;
        println!("4 σ mean shift detected after {delay} steps");
        assert!(delay <= 10, "detected {delay} steps after the shift");
    }

    #[test]
    fn serde_round_trip_scores_the_same() {
        let mut g = Gauss(9);
        let det = PcaDetector::fit(&healthy(2_000, &mut g), &names(), &AnomalyConfig::default()).unwrap();
        let back: PcaDetector = serde_json::from_str(&serde_json::to_string(&det).unwrap()).unwrap();
        let (mut a, mut b) = (OnlineAnomaly::new(det), OnlineAnomaly::new(back));
        for r in healthy(300, &mut g) {
            let (x, y) = (a.push(&r).unwrap(), b.push(&r).unwrap());
            // JSON keeps 17 significant digits: the last bit may differ.
            assert!((x.score - y.score).abs() <= 1e-12 * x.score.abs().max(1.0), "{x:?} {y:?}");
            assert_eq!(x.alarm, y.alarm);
        }
        let cfg: AnomalyConfig = serde_json::from_str(r#"{"false_alarm_rate": 0.01}"#).unwrap();
        assert_eq!(cfg.alarm_n, 1);
    }

    #[test]
    fn few_calibration_rows_fall_back_to_the_conservative_threshold() {
        let mut g = Gauss(3);
        let cfg = AnomalyConfig {
            false_alarm_rate: 0.001,
            ..AnomalyConfig::default()
        };
        let det = PcaDetector::fit(&healthy(400, &mut g), &names(), &cfg).unwrap();
        assert_eq!(det.threshold_source, ThresholdSource::Conservative);
        assert_eq!(det.calibration_rows, 100);
        let rate = alarm_rate(&det, &healthy(20_000, &mut g));
        println!("target 0.001, 100 calibration rows (conservative): false-alarm rate {rate:.4}");
        assert!(rate <= 0.003, "false-alarm rate {rate} with 100 calibration rows for a target of 0.001");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut g = Gauss(7);
        let rows = healthy(1_000, &mut g);
        assert!(PcaDetector::fit(&rows[..30], &names(), &AnomalyConfig::default()).is_err());
        assert!(PcaDetector::fit(&rows, &names()[..3], &AnomalyConfig::default()).is_err());
        for bad in [
            AnomalyConfig {
                false_alarm_rate: 0.0,
                ..AnomalyConfig::default()
            },
            AnomalyConfig {
                alarm_k: 3,
                alarm_n: 2,
                ..AnomalyConfig::default()
            },
            AnomalyConfig {
                ewma: f64::NAN,
                ..AnomalyConfig::default()
            },
        ] {
            assert!(matches!(PcaDetector::fit(&rows, &names(), &bad), Err(LearnError::InvalidConfig(_))));
        }
        let mut nan = rows.clone();
        nan[5][1] = f64::NAN;
        assert!(matches!(
            PcaDetector::fit(&nan, &names(), &AnomalyConfig::default()),
            Err(LearnError::Mismatch(_))
        ));
        let det = PcaDetector::fit(&rows, &names(), &AnomalyConfig::default()).unwrap();
        let mut online = OnlineAnomaly::new(det);
        assert!(matches!(online.push(&[1.0, 2.0]), Err(LearnError::Mismatch(_))));
        assert!(online.push(&[1.0, f64::NAN, 1.0, 1.0]).is_err());
        assert!(online.push(&[1.0, f64::INFINITY, 1.0, 1.0]).is_err());
        // A constant column is left out, and a single used column still works (T² only).
        let one: Vec<Vec<f64>> = rows.iter().map(|r| vec![r[0], 3.0]).collect();
        let det = PcaDetector::fit(&one, &names()[..2], &AnomalyConfig::default()).unwrap();
        assert_eq!(det.used, vec![0]);
        let s = det.score(&[200.0, 3.0]).unwrap();
        assert!(s.score > 10.0 && s.spe == 0.0 && s.contributions.len() == 1, "{s:?}");
        // Every column constant.
        let flat = vec![vec![1.0, 2.0]; 100];
        assert!(PcaDetector::fit(&flat, &names()[..2], &AnomalyConfig::default()).is_err());
    }
}
