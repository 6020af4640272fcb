//! Remaining-useful-life model with CV+ conformal prediction intervals, its evaluation on a C-MAPSS test split,
//! and K-fold cross-validation on training units for choosing a configuration.

use serde::{Deserialize, Serialize};

use crate::LearnError;
use crate::cmapss::Subset;
use crate::gbt::{Gbt, GbtConfig};
use crate::hybrid::HealthIndex;
use crate::prep::{Normaliser, rul_target, window_features, window_features_at};
use crate::series::Trajectory;

/// Everything that shapes training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulConfig {
    /// Cap of the piecewise-linear RUL target, in cycles (125 by convention).
    pub cap: f64,
    /// Feature window, in cycles.
    pub window: usize,
    /// Number of operating regimes; `None` picks it from the settings (see [`crate::prep::Regimes::fit`]).
    pub regimes: Option<usize>,
    /// Largest regime count tried when `regimes` is `None`.
    pub max_regimes: usize,
    /// Largest per-setting standard deviation allowed within one regime when the count is picked automatically.
    pub regime_tolerance: f64,
    /// Miscoverage of the prediction interval: 0.1 gives a 90 % interval.
    pub alpha: f64,
    /// Cross-validation folds for CV+: units are dealt round-robin (unit *i* goes to fold `i % folds`), one
    /// ensemble is fitted per fold on the other folds, and its errors on its own fold calibrate the interval.
    pub folds: usize,
    /// Number of groups, by predicted RUL, that get their own conformal quantile (Mondrian conformal prediction).
    pub conformal_groups: usize,
    /// Per-unit normalisation: subtract the mean of each unit's first `baseline` steps (0 = off); see
    /// [`Normaliser::baseline`].
    #[serde(default)]
    pub baseline: usize,
    /// Keep only every `thin_capped`-th training step whose target is at the cap (1 = all). Long healthy lives
    /// (thousands of steps at the cap) otherwise dominate the training rows and the training time. The conformal
    /// calibration always uses every step (its groups are cut at quantiles of the training rows' predictions).
    #[serde(default = "one")]
    pub thin_capped: usize,
    /// Calibrate the interval for units in their degrading phase (true RUL below the cap), where the errors are
    /// larger than in the healthy phase and where predictions matter: the working miscoverage is the largest
    /// `a ≤ alpha` for which the out-of-fold errors of the degrading training steps fall inside the group's
    /// conformal radius at level `a` for at least `1 − alpha` of them. Healthy units then get slightly
    /// conservative intervals. `false` uses `alpha` as is (the plain CV+ marginal guarantee).
    #[serde(default)]
    pub calibrate_degrading: bool,
    /// The tree ensemble.
    pub gbt: GbtConfig,
}

impl Default for RulConfig {
    fn default() -> Self {
        RulConfig {
            cap: 125.0,
            window: 60,
            regimes: None,
            max_regimes: 10,
            regime_tolerance: 0.5,
            alpha: 0.1,
            folds: 5,
            conformal_groups: 3,
            baseline: 0,
            thin_capped: 1,
            calibrate_degrading: true,
            gbt: GbtConfig {
                n_trees: 100,
                learning_rate: 0.1,
                ..GbtConfig::default()
            },
        }
    }
}

/// A point prediction with its interval, in cycles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RulPrediction {
    /// Predicted RUL, clipped to `[0, cap]`.
    pub rul: f64,
    /// Lower bound of the interval (never below 0).
    pub lower: f64,
    /// Upper bound of the interval.
    pub upper: f64,
}

/// A trained RUL model: preprocessing, one tree ensemble per cross-validation fold, and the out-of-fold absolute
/// errors that CV+ turns into intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulModel {
    /// The configuration it was trained with.
    pub config: RulConfig,
    /// Fitted preprocessing.
    pub normaliser: Normaliser,
    /// `fold_models[k]` was fitted on every training unit outside fold `k`.
    fold_models: Vec<Gbt>,
    /// Upper edges (on the point prediction) of the conformal groups but the last.
    group_edges: Vec<f64>,
    /// `residuals[group][fold]`: sorted out-of-fold absolute errors of the calibration cycles in that group.
    residuals: Vec<Vec<Vec<f64>>>,
    /// `signed[group][fold]`: sorted out-of-fold signed errors (truth − prediction) of the calibration steps whose
    /// truth is below the cap, for the predictive distribution behind [`RulModel::failure_probability`] and
    /// [`RulModel::quantiles_features`].
    signed: Vec<Vec<Vec<f64>>>,
    /// `censored[group][fold]`: calibration steps whose truth is at the cap (the unit lived at least that long).
    /// In the predictive distribution they stay censored whatever the prediction they are paired with: a healthy
    /// step predicted at the cap says "survives the cap", not "fails a few steps below the point prediction".
    /// Empty in models saved before it was kept: their `signed` holds every calibration step.
    #[serde(default)]
    censored: Vec<Vec<usize>>,
    /// Training units.
    pub training_units: usize,
    /// The degradation model whose features extend the window features (the hybrid), if any.
    #[serde(default)]
    pub hi: Option<HealthIndex>,
    /// Miscoverage the interval is computed at (see [`RulConfig::calibrate_degrading`]).
    pub alpha_used: f64,
    /// Per group, the pooled residuals at the interval's ranks (see [`group_brackets`]); recomputed per
    /// prediction when absent (models saved before they were stored).
    #[serde(default)]
    brackets: Vec<[f64; 2]>,
    /// Sorted warning leads of the training units, in steps (see [`RulModel::warning_leads`]); empty in models
    /// saved before they were measured.
    #[serde(default)]
    warning_leads: Vec<f64>,
}

/// (fold, out-of-fold prediction, signed error truth − prediction) of one training step.
type OutOfFold = (usize, f64, f64);

/// One fold's ensemble and what its held-out units tell about it.
struct FoldOut {
    model: Gbt,
    /// Every held-out step.
    oof: Vec<OutOfFold>,
    /// Out-of-fold predictions of the held-out training rows (the thinned steps): the conformal groups' edges are
    /// their quantiles.
    training_rows: Vec<f64>,
    /// Warning lead of each held-out unit.
    leads: Vec<f64>,
}

type FoldFit = Result<FoldOut, LearnError>;

/// A unit is *flagged* while its point prediction is below this share of the cap: the model sees its failure
/// coming. [`RulModel::warning_leads`] measures, on out-of-fold predictions, how long before failure that happens.
pub const WARNING_FLAG_SHARE: f64 = 0.9;

/// Warning lead of one unit from its out-of-fold predictions in step order (`true_rul[i]` uncapped steps left at
/// step `i`): the steps left when the final run of predictions below `flag` began (0 when the last prediction is
/// not below it: the failure came without warning).
fn warning_lead(predictions: &[f64], true_rul: &[f64], flag: f64) -> f64 {
    let mut start = None;
    for (i, &p) in predictions.iter().enumerate() {
        if p < flag {
            start.get_or_insert(i);
        } else {
            start = None;
        }
    }
    start.map_or(0.0, |i| true_rul[i])
}

fn one() -> usize {
    1
}

/// Window features of every step, extended with the degradation model's features when there is one.
/// Each step's features are those a prediction after that step computes: with a per-unit baseline, a step
/// before the baseline is complete sees the baseline of the steps so far, not of steps still to come.
fn features_of(normaliser: &Normaliser, hi: Option<&HealthIndex>, unit: &Trajectory, window: usize) -> Result<Vec<Vec<f64>>, LearnError> {
    let norm = normaliser.normalise(unit)?;
    let mut f = window_features(&norm, window);
    if let Some(hi) = hi {
        for (row, extra) in f.iter_mut().zip(hi.features(&norm)) {
            row.extend_from_slice(&extra);
        }
    }
    let forming = normaliser.baseline.min(unit.len()).saturating_sub(1);
    for (t, row) in f.iter_mut().enumerate().take(forming) {
        let early = Trajectory {
            id: unit.id.clone(),
            settings: unit.settings[..=t].to_vec(),
            values: unit.values[..=t].to_vec(),
            failed: false,
        };
        let norm = normaliser.normalise(&early)?;
        *row = window_features_at(&norm, window, t);
        if let Some(hi) = hi {
            row.extend_from_slice(&hi.features_at(&norm, t));
        }
    }
    Ok(f)
}

fn check_config(cfg: &RulConfig) -> Result<(), LearnError> {
    let bad = |m: &str| Err(LearnError::InvalidConfig(m.to_string()));
    if !(cfg.cap > 0.0 && cfg.cap.is_finite()) {
        return bad("cap must be positive");
    }
    if cfg.window == 0 {
        return bad("window must be at least 1 cycle");
    }
    if !(cfg.alpha > 0.0 && cfg.alpha < 1.0) {
        return bad("alpha must lie in (0, 1)");
    }
    if cfg.folds < 2 {
        return bad("folds must be at least 2");
    }
    if cfg.conformal_groups == 0 {
        return bad("conformal_groups must be at least 1");
    }
    Ok(())
}

/// Ranks of the CV+ interval ends among `n` scores: the `floor(alpha (n + 1))`-th smallest of the lower candidates
/// and the `ceil((1 - alpha)(n + 1))`-th smallest of the upper candidates. `None` when `n` is too small for a
/// finite upper end.
fn cv_plus_ranks(n: usize, alpha: f64) -> Option<(usize, usize)> {
    let hi = ((n as f64 + 1.0) * (1.0 - alpha)).ceil() as usize;
    let lo = ((n as f64 + 1.0) * alpha).floor() as usize;
    (hi >= 1 && hi <= n).then_some((lo, hi))
}

/// The `rank`-th smallest (1-based) of the union over folds of `{shift[k] + r : r in residuals[k]}` (each list
/// sorted), given `q`, the `rank`-th smallest of the pooled residuals. The answer lies in
/// `[min shift + q, max shift + q]` (at least `rank` candidates are at most `max shift + q`, fewer than `rank`
/// are below `min shift + q`), so two binary searches per fold and a selection among the few candidates inside
/// that bracket find it exactly; the bracket is as wide as the folds' predictions disagree.
fn kth_smallest_shifted(shift: &[f64], residuals: &[Vec<f64>], rank: usize, q: f64) -> f64 {
    let mut lo = shift.iter().fold(f64::INFINITY, |a, &b| a.min(b)) + q;
    let mut hi = shift.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) + q;
    // Per fold, the index range of its candidates in [lo, hi]; `below` counts those under lo.
    let mut range: Vec<(usize, usize)> = shift
        .iter()
        .zip(residuals)
        .map(|(s, r)| {
            let a = r.partition_point(|&x| s + x < lo);
            (a, r.partition_point(|&x| s + x <= hi).max(a))
        })
        .collect();
    let mut below: usize = range.iter().map(|r| r.0).sum();
    // Halve the bracket while it holds many candidates (each halving: one binary search per fold).
    let mut at = vec![0; shift.len()];
    for _ in 0..64 {
        if range.iter().map(|(a, b)| b - a).sum::<usize>() <= 32 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        for (((s, r), &(a, b)), i) in shift.iter().zip(residuals).zip(&range).zip(at.iter_mut()) {
            *i = a + r[a..b].partition_point(|&x| s + x <= mid);
        }
        if at.iter().sum::<usize>() >= rank {
            hi = mid;
            range.iter_mut().zip(&at).for_each(|(r, &i)| r.1 = i);
        } else {
            lo = mid;
            below = at.iter().sum();
            range.iter_mut().zip(&at).for_each(|(r, &i)| r.0 = i);
        }
    }
    let mut inside: Vec<f64> = shift
        .iter()
        .zip(residuals)
        .zip(&range)
        .flat_map(|((s, r), &(a, b))| r[a..b].iter().map(move |x| s + x))
        .collect();
    if inside.is_empty() {
        return hi;
    }
    let k = rank.saturating_sub(below).clamp(1, inside.len()) - 1;
    *inside.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The pooled residuals of a conformal group at the ranks of its CV+ interval at miscoverage `alpha`:
/// `[upper, lower]` where `upper` is the `hi`-th smallest and `lower` the `(n − lo + 1)`-th smallest (the rank
/// the lower end has among the mirrored candidates), see [`kth_smallest_shifted`].
fn group_brackets(group: &[Vec<f64>], alpha: f64) -> Option<[f64; 2]> {
    let mut pooled: Vec<f64> = group.iter().flatten().copied().collect();
    pooled.sort_by(f64::total_cmp);
    let n = pooled.len();
    let (lo, hi) = cv_plus_ranks(n, alpha)?;
    Some([pooled[hi - 1], pooled[n - lo.max(1)]])
}

/// The working miscoverage of [`RulConfig::calibrate_degrading`]: the largest `a` in `[alpha / 10, alpha]` for
/// which at least `1 − alpha` of the degrading training steps' out-of-fold errors lie within their group's
/// conformal radius at level `a` (found by bisection; coverage only grows as `a` shrinks).
fn degrading_alpha(oof: &[(usize, f64, f64)], edges: &[f64], residuals: &[Vec<Vec<f64>>], cfg: &RulConfig) -> f64 {
    let pooled: Vec<Vec<f64>> = residuals
        .iter()
        .map(|g| {
            let mut all: Vec<f64> = g.iter().flatten().copied().collect();
            all.sort_by(f64::total_cmp);
            all
        })
        .collect();
    let degrading: Vec<(usize, f64)> = oof
        .iter()
        .filter(|(_, p, e)| p + e < cfg.cap - 1e-9)
        .map(|&(_, p, e)| (edges.partition_point(|&x| x < p), e.abs()))
        .collect();
    if degrading.is_empty() {
        return cfg.alpha;
    }
    let coverage = |a: f64| -> Option<f64> {
        let radius: Vec<f64> = pooled
            .iter()
            .map(|g| cv_plus_ranks(g.len(), a).map(|(_, hi)| g[hi - 1]))
            .collect::<Option<_>>()?;
        Some(degrading.iter().filter(|(g, r)| *r <= radius[*g]).count() as f64 / degrading.len() as f64)
    };
    let target = 1.0 - cfg.alpha;
    if coverage(cfg.alpha).is_some_and(|c| c >= target) {
        return cfg.alpha;
    }
    let (mut lo, mut hi) = (cfg.alpha / 10.0, cfg.alpha);
    if !coverage(lo).is_some_and(|c| c >= target) {
        return lo;
    }
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if coverage(mid).is_some_and(|c| c >= target) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

impl RulModel {
    /// Trains on run-to-failure units: fits the preprocessing on all of them, deals the units round-robin into
    /// `folds` folds, fits one ensemble per fold on the other folds' units, and keeps every cycle's out-of-fold
    /// absolute error (against its capped target) for the CV+ interval.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for a bad configuration, [`LearnError::Mismatch`] when there are too few
    /// units or calibration points, and the errors of preprocessing and of [`Gbt::fit`].
    pub fn train(units: &[Trajectory], cfg: &RulConfig) -> Result<Self, LearnError> {
        Self::train_with(units, cfg, None)
    }

    /// [`RulModel::train`], hybrid with a degradation model ([`HealthIndex`], per-unit trend over
    /// `trend_window` steps) when `trend_window` is given.
    ///
    /// # Errors
    /// As [`RulModel::train`], and those of [`HealthIndex::fit`].
    pub fn train_with(units: &[Trajectory], cfg: &RulConfig, trend_window: Option<usize>) -> Result<Self, LearnError> {
        check_config(cfg)?;
        if cfg.thin_capped == 0 {
            return Err(LearnError::InvalidConfig("thin_capped must be at least 1".into()));
        }
        if let Some(u) = units.iter().find(|u| !u.failed) {
            return Err(LearnError::Mismatch(format!(
                "unit {} did not run to failure: RUL training needs run-to-failure trajectories",
                u.id
            )));
        }
        if units.len() < cfg.folds {
            return Err(LearnError::Mismatch(format!(
                "{} training units are too few for {} folds",
                units.len(),
                cfg.folds
            )));
        }
        let normaliser = Normaliser::fit(units, cfg.regimes, cfg.max_regimes, cfg.regime_tolerance, cfg.baseline)?;
        let hi = match trend_window {
            Some(w) => {
                let norm: Vec<Vec<Vec<f64>>> = units.iter().map(|u| normaliser.normalise(u)).collect::<Result<_, _>>()?;
                Some(HealthIndex::fit(&norm, cfg.cap, w)?)
            }
            None => None,
        };
        // Per unit: features and capped targets of every step, their uncapped steps left, and whether the step is
        // a training row. Steps at the cap are thinned for training (keep the last of each run of `thin_capped`),
        // never for calibration: the conformal distribution of a prediction at the cap must weigh healthy steps as
        // often as they occur, or it overstates the chance that a healthy-looking unit fails within the cap.
        struct UnitRows {
            features: Vec<Vec<f64>>,
            targets: Vec<f64>,
            left: Vec<f64>,
            train: Vec<bool>,
        }
        let per_unit: Vec<UnitRows> = units
            .iter()
            .map(|u| {
                let features = features_of(&normaliser, hi.as_ref(), u, cfg.window)?;
                let targets = rul_target(u.len(), cfg.cap);
                let n = targets.len();
                Ok(UnitRows {
                    train: (0..n).map(|i| targets[i] < cfg.cap || (n - i).is_multiple_of(cfg.thin_capped)).collect(),
                    left: (0..n).map(|i| (n - 1 - i) as f64).collect(),
                    features,
                    targets,
                })
            })
            .collect::<Result<_, LearnError>>()?;
        // One ensemble per fold, fitted on the other folds' units; the folds are fitted in parallel (deterministic:
        // each fold's result does not depend on the thread that computes it).
        let fit_fold = |k: usize| -> FoldFit {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for (_, u) in per_unit.iter().enumerate().filter(|(i, _)| i % cfg.folds != k) {
                for ((row, target), _) in u.features.iter().zip(&u.targets).zip(&u.train).filter(|(_, t)| **t) {
                    x.push(row.clone());
                    y.push(*target);
                }
            }
            let model = Gbt::fit(&x, &y, &cfg.gbt)?;
            // (fold, out-of-fold prediction, signed error truth − prediction) of every held-out step, and each
            // held-out unit's warning lead.
            let mut oof = Vec::new();
            let mut training_rows = Vec::new();
            let mut leads = Vec::new();
            for (_, u) in per_unit.iter().enumerate().filter(|(i, _)| i % cfg.folds == k) {
                let mut predictions = Vec::with_capacity(u.features.len());
                for ((row, target), train) in u.features.iter().zip(&u.targets).zip(&u.train) {
                    let p = model.predict(row)?.clamp(0.0, cfg.cap);
                    oof.push((k, p, target - p));
                    predictions.push(p);
                    if *train {
                        training_rows.push(p);
                    }
                }
                leads.push(warning_lead(&predictions, &u.left, WARNING_FLAG_SHARE * cfg.cap));
            }
            Ok(FoldOut {
                model,
                oof,
                training_rows,
                leads,
            })
        };
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(cfg.folds);
        let mut fitted: Vec<(usize, FoldFit)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let fit_fold = &fit_fold;
                    s.spawn(move || (t..cfg.folds).step_by(threads).map(|k| (k, fit_fold(k))).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        fitted.sort_by_key(|(k, _)| *k);
        let mut fold_models = Vec::with_capacity(cfg.folds);
        let mut oof: Vec<(usize, f64, f64)> = Vec::new();
        let mut warning_leads = Vec::with_capacity(units.len());
        let mut sorted: Vec<f64> = Vec::new();
        for (_, r) in fitted {
            let out = r?;
            fold_models.push(out.model);
            oof.extend(out.oof);
            warning_leads.extend(out.leads);
            sorted.extend(out.training_rows);
        }
        warning_leads.sort_by(f64::total_cmp);
        sorted.sort_by(f64::total_cmp);
        let g = cfg.conformal_groups;
        let mut group_edges: Vec<f64> = (1..g).map(|q| sorted[q * sorted.len() / g]).collect();
        group_edges.dedup();
        // Merge groups too small for a finite interval (ties at the cap can leave a group empty) into a neighbour.
        let count_in = |edges: &[f64]| {
            let mut n = vec![0usize; edges.len() + 1];
            for o in &oof {
                n[edges.partition_point(|&e| e < o.1)] += 1;
            }
            n
        };
        while let Some(small) = count_in(&group_edges).iter().position(|&n| cv_plus_ranks(n, cfg.alpha).is_none()) {
            if group_edges.is_empty() {
                return Err(LearnError::Mismatch(format!(
                    "{} calibration points are too few for alpha = {}",
                    oof.len(),
                    cfg.alpha
                )));
            }
            group_edges.remove(small.min(group_edges.len() - 1));
        }
        let mut residuals = vec![vec![Vec::new(); cfg.folds]; group_edges.len() + 1];
        let mut signed = residuals.clone();
        let mut censored = vec![vec![0usize; cfg.folds]; group_edges.len() + 1];
        for &(k, p, e) in &oof {
            let g = group_edges.partition_point(|&x| x < p);
            residuals[g][k].push(e.abs());
            if p + e >= cfg.cap - 1e-9 {
                censored[g][k] += 1;
            } else {
                signed[g][k].push(e);
            }
        }
        for group in residuals.iter_mut().chain(signed.iter_mut()) {
            for r in group.iter_mut() {
                r.sort_by(f64::total_cmp);
            }
        }
        let alpha_used = if cfg.calibrate_degrading {
            degrading_alpha(&oof, &group_edges, &residuals, cfg)
        } else {
            cfg.alpha
        };
        let brackets = residuals
            .iter()
            .map(|g| group_brackets(g, alpha_used))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        Ok(RulModel {
            config: cfg.clone(),
            normaliser,
            fold_models,
            group_edges,
            residuals,
            signed,
            censored,
            training_units: units.len(),
            hi,
            alpha_used,
            brackets,
            warning_leads,
        })
    }

    /// How long before failure the model sees it coming: for every training unit, the steps it still had when its
    /// out-of-fold point prediction fell below [`WARNING_FLAG_SHARE`] of the cap for good (0 when it never did),
    /// sorted. A planner uses it as the value of waiting: a failure that is not yet visible will, with this
    /// probability, become visible early enough to be planned (`doppel-plan`'s `Warning`). Empty for models saved
    /// before it was measured.
    #[must_use]
    pub fn warning_leads(&self) -> &[f64] {
        &self.warning_leads
    }

    /// The point prediction below which a unit counts as flagged (see [`WARNING_FLAG_SHARE`]).
    #[must_use]
    pub fn flag_level(&self) -> f64 {
        WARNING_FLAG_SHARE * self.config.cap
    }

    /// Checks the invariants prediction relies on — what a model read from a file must satisfy (deserialising a
    /// [`crate::hybrid::Prognostics`] calls this).
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] saying what is inconsistent.
    pub fn check(&self) -> Result<(), LearnError> {
        let bad = |m: String| Err(LearnError::Mismatch(format!("RUL model: {m}")));
        check_config(&self.config)?;
        if let Err(m) = self.normaliser.check() {
            return bad(m);
        }
        let folds = self.fold_models.len();
        let groups = self.group_edges.len() + 1;
        let n_features = 3 * self.normaliser.kept.len() + 1 + self.hi.as_ref().map_or(0, |_| crate::hybrid::HI_FEATURES);
        if folds == 0 || self.residuals.len() != groups || self.signed.len() != groups {
            return bad("conformal groups and fold models do not match".into());
        }
        if !(self.censored.is_empty() || (self.censored.len() == groups && self.censored.iter().all(|g| g.len() == folds))) {
            return bad("censored calibration counts do not match the conformal groups".into());
        }
        if self.residuals.iter().chain(&self.signed).any(|g| g.len() != folds) || !(self.brackets.is_empty() || self.brackets.len() == groups) {
            return bad("conformal groups and fold models do not match".into());
        }
        for m in &self.fold_models {
            if let Err(e) = m.check() {
                return bad(e);
            }
            if m.n_features() != n_features {
                return bad(format!(
                    "a fold ensemble expects {} features, the preprocessing makes {n_features}",
                    m.n_features()
                ));
            }
        }
        if let Some(h) = &self.hi
            && h.weights.len() != self.normaliser.kept.len() + 1
        {
            return bad("health index weights do not match the values".into());
        }
        if self.warning_leads.iter().any(|l| !(l.is_finite() && *l >= 0.0)) || !self.warning_leads.is_sorted() {
            return bad("warning leads must be sorted, finite and non-negative".into());
        }
        Ok(())
    }

    /// Predicts from one feature row (as built by [`crate::prep::window_features`] on normalised sensors): the
    /// point prediction is the mean of the fold ensembles, clipped to `[0, cap]`; the interval is CV+ within the
    /// point prediction's group.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a row of the wrong length.
    pub fn predict_features(&self, features: &[f64]) -> Result<RulPrediction, LearnError> {
        self.interval_from(&self.fold_predictions(features)?)
    }

    /// Point prediction and CV+ interval from the fold ensembles' predictions `mu`.
    fn interval_from(&self, mu: &[f64]) -> Result<RulPrediction, LearnError> {
        let rul = mu.iter().sum::<f64>() / mu.len() as f64;
        let group = &self.residuals[self.group_edges.partition_point(|&e| e < rul)];
        let n: usize = group.iter().map(Vec::len).sum();
        let (lo_rank, hi_rank) = cv_plus_ranks(n, self.alpha_used).ok_or_else(|| LearnError::Mismatch("empty conformal group".into()))?;
        let g = self.group_edges.partition_point(|&e| e < rul);
        let [q_hi, q_lo] = match self.brackets.get(g) {
            Some(b) => *b,
            None => group_brackets(group, self.alpha_used).ok_or_else(|| LearnError::Mismatch("empty conformal group".into()))?,
        };
        let upper = kth_smallest_shifted(mu, group, hi_rank, q_hi);
        let lower = if lo_rank == 0 {
            0.0
        } else {
            let neg: Vec<f64> = mu.iter().map(|m| -m).collect();
            (-kth_smallest_shifted(&neg, group, n - lo_rank + 1, q_lo)).max(0.0)
        };
        Ok(RulPrediction { rul, lower, upper })
    }

    /// Predictions, intervals and (with a horizon) failure probabilities for many feature rows at once: the
    /// trees are evaluated tree by tree over all rows, which is what makes scoring a fleet fast.
    ///
    /// # Errors
    /// As [`RulModel::predict_features`] and [`RulModel::failure_probability_features`].
    pub fn predict_many_features(&self, rows: &[&[f64]], horizon: Option<f64>) -> Result<Vec<(RulPrediction, Option<f64>)>, LearnError> {
        let cap = self.config.cap;
        let per_fold: Vec<Vec<f64>> = self.fold_models.iter().map(|m| m.predict_many(rows)).collect::<Result<_, _>>()?;
        (0..rows.len())
            .map(|i| {
                let mu: Vec<f64> = per_fold.iter().map(|f| f[i].clamp(0.0, cap)).collect();
                let p = self.interval_from(&mu)?;
                let q = match horizon {
                    Some(h) => Some(self.probability_from(&mu, h)?),
                    None => None,
                };
                Ok((p, q))
            })
            .collect()
    }

    /// Quantiles of the conformal predictive distribution of the (capped) RUL for one feature row, at each
    /// probability of `probs`: the smallest `h` with `P(RUL ≤ h) ≥ p` under [`RulModel::failure_probability`]'s
    /// distribution. A quantile the model cannot place below the cap is returned as the cap (censored: the unit
    /// lives at least that long). Used by planners that need the whole distribution, not a point.
    ///
    /// # Errors
    /// As [`RulModel::predict_features`].
    pub fn quantiles_features(&self, features: &[f64], probs: &[f64]) -> Result<Vec<f64>, LearnError> {
        Ok(self.quantiles_and_point_features(features, probs)?.0)
    }

    /// [`RulModel::quantiles_features`] and the point prediction (the mean of the fold ensembles, as in
    /// [`RulModel::predict_features`]).
    ///
    /// # Errors
    /// As [`RulModel::predict_features`].
    pub fn quantiles_and_point_features(&self, features: &[f64], probs: &[f64]) -> Result<(Vec<f64>, f64), LearnError> {
        let mu = self.fold_predictions(features)?;
        let cap = self.config.cap;
        let rul = mu.iter().sum::<f64>() / mu.len() as f64;
        let g = self.group_edges.partition_point(|&e| e < rul);
        let group = &self.signed[g];
        let n = self.calibration_count(g);
        let count = |h: f64| -> usize { mu.iter().zip(group).map(|(m, e)| e.partition_point(|&x| m + x <= h)).sum() };
        let quantiles: Vec<f64> = probs
            .iter()
            .map(|&p| {
                let need = p * (n as f64 + 2.0) - 1.0;
                if (count(cap) as f64) < need {
                    return cap;
                }
                if (count(0.0) as f64) >= need {
                    return 0.0;
                }
                let (mut lo, mut hi) = (0.0, cap);
                for _ in 0..40 {
                    let mid = 0.5 * (lo + hi);
                    if (count(mid) as f64) >= need {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                hi
            })
            .collect();
        Ok((quantiles, rul))
    }

    /// The fold ensembles' predictions (each clipped to `[0, cap]`) for one feature row.
    fn fold_predictions(&self, features: &[f64]) -> Result<Vec<f64>, LearnError> {
        let cap = self.config.cap;
        self.fold_models.iter().map(|m| m.predict(features).map(|p| p.clamp(0.0, cap))).collect()
    }

    /// Feature row of the last step of `unit`.
    fn last_features(&self, unit: &Trajectory) -> Result<Vec<f64>, LearnError> {
        Ok(self.last_features_and_hi(unit)?.0)
    }

    /// Feature row of the last step of `unit`, and its health index when the model is hybrid.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a unit without steps or of the wrong width.
    pub fn last_features_and_hi(&self, unit: &Trajectory) -> Result<(Vec<f64>, Option<f64>), LearnError> {
        if unit.is_empty() {
            return Err(LearnError::Mismatch(format!("unit {} has no step", unit.id)));
        }
        let flat = self.normaliser.normalise_tail_flat(unit, self.tail_steps())?;
        let norm: Vec<&[f64]> = flat.chunks_exact(self.normaliser.kept.len()).collect();
        if norm.is_empty() {
            return Err(LearnError::Mismatch(format!("unit {} has no step", unit.id)));
        }
        Ok(self.features_of_tail(&norm, unit.len(), None))
    }

    /// How many of a unit's last steps the features of its last step depend on: the window, the trend fit and
    /// the HI level (5 steps).
    #[must_use]
    pub fn tail_steps(&self) -> usize {
        self.config.window.max(self.hi.as_ref().map_or(0, |h| h.trend_window)).max(5)
    }

    /// Feature row (and health index when hybrid) of the last of `norm`, the normalised last steps (at least
    /// one) of a unit that is `age` steps old; `hi`, when given, holds the HI of each of those steps.
    pub(crate) fn features_of_tail(&self, norm: &[&[f64]], age: usize, hi_series: Option<&[f64]>) -> (Vec<f64>, Option<f64>) {
        let mut last = window_features_at(norm, self.config.window, norm.len() - 1);
        // The age feature counts the unit's steps, not the tail's.
        if let Some(a) = last.last_mut() {
            *a = age as f64;
        }
        if let Some(hi) = &self.hi {
            last.extend_from_slice(&match hi_series {
                Some(series) => hi.features_of_series(series),
                None => hi.features_at(norm, norm.len() - 1),
            });
        }
        // The HI level is the first appended feature.
        let hi = self.hi.as_ref().map(|_| last[last.len() - crate::hybrid::HI_FEATURES]);
        (last, hi)
    }

    /// Predicts the RUL of `unit` after its last step.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for a unit without steps or of the wrong width.
    pub fn predict(&self, unit: &Trajectory) -> Result<RulPrediction, LearnError> {
        self.predict_features(&self.last_features(unit)?)
    }

    /// Probability that the (capped) RUL after the last step of `unit` is at most `horizon` steps, from the
    /// conformal predictive distribution: the point predictions of the fold ensembles plus the signed
    /// out-of-fold errors of the prediction's Mondrian group, `(#{μ₋ₖ₍ᵢ₎ + eᵢ ≤ h} + 1) / (n + 2)` — never exactly 0
    /// or 1 with finite calibration data, and non-decreasing in `horizon`.
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for a horizon that is negative or not below the cap (the model is trained on
    /// the RUL capped at `cap`, so it cannot tell whether a failure comes within a horizon that long), and the
    /// errors of [`RulModel::predict`].
    pub fn failure_probability(&self, unit: &Trajectory, horizon: f64) -> Result<f64, LearnError> {
        self.failure_probability_features(&self.last_features(unit)?, horizon)
    }

    /// [`RulModel::failure_probability`] from a feature row.
    ///
    /// # Errors
    /// As [`RulModel::failure_probability`].
    pub fn failure_probability_features(&self, features: &[f64], horizon: f64) -> Result<f64, LearnError> {
        self.probability_from(&self.fold_predictions(features)?, horizon)
    }

    /// Calibration steps of conformal group `g`, censored ones included.
    fn calibration_count(&self, g: usize) -> usize {
        let uncensored: usize = self.signed[g].iter().map(Vec::len).sum();
        uncensored + self.censored.get(g).map_or(0, |c| c.iter().sum())
    }

    /// P(RUL ≤ horizon) from the fold ensembles' predictions `mu`.
    fn probability_from(&self, mu: &[f64], horizon: f64) -> Result<f64, LearnError> {
        if !(horizon >= 0.0 && horizon < self.config.cap) {
            return Err(LearnError::InvalidConfig(format!(
                "failure horizon {horizon} steps must lie in [0, cap = {})",
                self.config.cap
            )));
        }
        let rul = mu.iter().sum::<f64>() / mu.len() as f64;
        let g = self.group_edges.partition_point(|&e| e < rul);
        let group = &self.signed[g];
        let n = self.calibration_count(g);
        // As in CV+, each calibration point is paired with the ensemble that did not see it (its fold's).
        let count: usize = mu.iter().zip(group).map(|(m, e)| e.partition_point(|&x| m + x <= horizon)).sum();
        Ok((count as f64 + 1.0) / (n as f64 + 2.0))
    }
}

/// Root-mean-square error of `predicted` against `truth`.
#[must_use]
pub fn rmse(predicted: &[f64], truth: &[f64]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    (predicted.iter().zip(truth).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / n as f64).sqrt()
}

/// PHM08 score: with `d = predicted - truth`, the sum of `exp(-d/13) - 1` for early (`d < 0`) and
/// `exp(d/10) - 1` for late (`d >= 0`) predictions. Lower is better.
#[must_use]
pub fn phm08_score(predicted: &[f64], truth: &[f64]) -> f64 {
    predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| p - t)
        .map(|d| if d < 0.0 { (-d / 13.0).exp() - 1.0 } else { (d / 10.0).exp() - 1.0 })
        .sum()
}

/// One test unit's prediction against its truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// Unit id.
    pub unit: String,
    /// Cycles (steps) observed.
    pub cycles: usize,
    /// True RUL from the RUL file (uncapped).
    pub true_rul: f64,
    /// The prediction and its interval.
    pub prediction: RulPrediction,
}

/// Metrics of a model on a test split: one prediction per unit, at its last observed cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulReport {
    /// RUL cap used for the training target and for the capped metrics.
    pub cap: f64,
    /// Nominal coverage of the interval (`1 - alpha`).
    pub nominal_coverage: f64,
    /// Miscoverage the interval was computed at (see [`RulConfig::calibrate_degrading`]).
    pub alpha_used: f64,
    /// Training units (every one is used for fitting by some folds and for calibration by one).
    pub training_units: usize,
    /// Cross-validation folds (ensembles averaged for the point prediction).
    pub folds: usize,
    /// Test units evaluated.
    pub test_units: usize,
    /// Operating regimes found in the training settings.
    pub regimes: usize,
    /// Sensors kept (1-based numbers, as in `sensor_N`).
    pub kept_sensors: Vec<usize>,
    /// RMSE against the true RUL from the RUL file, uncapped (the usual C-MAPSS convention).
    pub rmse: f64,
    /// RMSE against the true RUL capped at `cap`.
    pub rmse_capped: f64,
    /// PHM08 score against the uncapped true RUL.
    pub phm08_score: f64,
    /// PHM08 score against the true RUL capped at `cap`.
    pub phm08_score_capped: f64,
    /// Share of test units whose true RUL, capped at `cap`, lies inside the interval. The model is trained to
    /// predict the capped RUL, so this is the coverage it is calibrated for.
    pub coverage_capped: f64,
    /// Share of test units whose uncapped true RUL lies inside the interval.
    pub coverage_uncapped: f64,
    /// Mean width (`upper - lower`) of the intervals, in cycles.
    pub mean_interval_width: f64,
    /// Per-unit detail.
    pub units: Vec<UnitResult>,
}

/// Evaluates `model` on test units and their true RUL (one value per unit, in order).
///
/// # Errors
/// [`LearnError::Mismatch`] when the counts differ or there is no test unit, and the errors of
/// [`RulModel::predict`].
pub fn evaluate(model: &RulModel, test: &[Trajectory], true_rul: &[f64]) -> Result<RulReport, LearnError> {
    if test.is_empty() || test.len() != true_rul.len() {
        return Err(LearnError::Mismatch(format!(
            "{} test units but {} true RUL values",
            test.len(),
            true_rul.len()
        )));
    }
    let cap = model.config.cap;
    let mut units = Vec::with_capacity(test.len());
    for (unit, &t) in test.iter().zip(true_rul) {
        units.push(UnitResult {
            unit: unit.id.clone(),
            cycles: unit.len(),
            true_rul: t,
            prediction: model.predict(unit)?,
        });
    }
    let pred: Vec<f64> = units.iter().map(|u| u.prediction.rul).collect();
    let capped: Vec<f64> = true_rul.iter().map(|t| t.min(cap)).collect();
    let n = units.len() as f64;
    let inside = |truth: &[f64]| {
        units
            .iter()
            .zip(truth)
            .filter(|(u, t)| u.prediction.lower <= **t && **t <= u.prediction.upper)
            .count() as f64
            / n
    };
    Ok(RulReport {
        cap,
        nominal_coverage: 1.0 - model.config.alpha,
        alpha_used: model.alpha_used,
        training_units: model.training_units,
        folds: model.config.folds,
        test_units: units.len(),
        regimes: model.normaliser.regimes.centroids.len(),
        kept_sensors: model.normaliser.kept.iter().map(|s| s + 1).collect(),
        rmse: rmse(&pred, true_rul),
        rmse_capped: rmse(&pred, &capped),
        phm08_score: phm08_score(&pred, true_rul),
        phm08_score_capped: phm08_score(&pred, &capped),
        coverage_capped: inside(&capped),
        coverage_uncapped: inside(true_rul),
        mean_interval_width: units.iter().map(|u| u.prediction.upper - u.prediction.lower).sum::<f64>() / n,
        units,
    })
}

/// Trains on a subset's training units and evaluates on its official test split.
///
/// # Errors
/// Those of [`RulModel::train`] and [`evaluate`].
pub fn run_subset(subset: &Subset, cfg: &RulConfig) -> Result<(RulModel, RulReport), LearnError> {
    let train: Vec<Trajectory> = subset.train.iter().map(|u| u.to_trajectory(true)).collect();
    let test: Vec<Trajectory> = subset.test.iter().map(|u| u.to_trajectory(false)).collect();
    let model = RulModel::train(&train, cfg)?;
    let report = evaluate(&model, &test, &subset.test_rul)?;
    Ok((model, report))
}

/// Metrics of K-fold cross-validation over training units (see [`cross_validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Number of folds.
    pub folds: usize,
    /// Truncated trajectories evaluated (units × truncations per unit).
    pub cases: usize,
    /// RMSE against the true RUL (uncapped, as the C-MAPSS test score).
    pub rmse: f64,
    /// RMSE against the true RUL capped at the model's cap.
    pub rmse_capped: f64,
    /// RMSE over the cases whose true RUL is at most the cap (the degrading phase, where most test units are).
    pub rmse_below_cap: f64,
    /// PHM08 score against the capped true RUL, divided by the number of cases and multiplied by 100 (so it
    /// compares in scale with the score of a 100-unit test split). Uncapped truths are not used here: uniform
    /// cuts leave many cases far above the cap, where any capped model is early by construction.
    pub phm08_score_capped_per_100: f64,
    /// Share of cases whose capped true RUL lies inside the interval.
    pub coverage_capped: f64,
    /// Share of the cases with true RUL at most the cap whose true RUL lies inside the interval.
    pub coverage_below_cap: f64,
    /// Mean interval width.
    pub mean_interval_width: f64,
}

/// K-fold cross-validation over run-to-failure units, for choosing a configuration without the test split.
/// Units are dealt to folds round-robin; each held-out unit is cut at `truncations` cycles drawn uniformly
/// (fixed seed) from `1..len`, imitating a test trajectory that stops before failure, and the model trained on
/// the other folds predicts the RUL after the cut.
///
/// # Errors
/// [`LearnError::InvalidConfig`] for fewer than 2 folds or no truncation, and the errors of [`RulModel::train`].
pub fn cross_validate(units: &[Trajectory], cfg: &RulConfig, folds: usize, truncations: usize, seed: u64) -> Result<ValidationReport, LearnError> {
    cross_validate_with(units, cfg, None, folds, truncations, seed, None)
}

/// [`cross_validate`] of the hybrid model when `trend_window` is given (see [`RulModel::train_with`]), and with
/// the cuts placed so that the true RUL after them is uniform in `rul_range` (clipped to what the unit's length
/// allows) instead of uniform over the unit's life — e.g. `(7, 145)` imitates the C-MAPSS FD001 test split,
/// whose true RULs span about that range.
///
/// # Errors
/// As [`cross_validate`].
pub fn cross_validate_with(
    units: &[Trajectory],
    cfg: &RulConfig,
    trend_window: Option<usize>,
    folds: usize,
    truncations: usize,
    seed: u64,
    rul_range: Option<(f64, f64)>,
) -> Result<ValidationReport, LearnError> {
    if folds < 2 || truncations == 0 {
        return Err(LearnError::InvalidConfig("cross-validation needs at least 2 folds and 1 truncation".into()));
    }
    let mut rng = crate::gbt::XorShift::new(seed);
    let (mut pred, mut truth, mut inside, mut width) = (Vec::new(), Vec::new(), 0usize, 0.0);
    let (mut below, mut inside_below) = (0usize, 0usize);
    for fold in 0..folds {
        let train: Vec<Trajectory> = units.iter().enumerate().filter(|(i, _)| i % folds != fold).map(|(_, u)| u.clone()).collect();
        let model = RulModel::train_with(&train, cfg, trend_window)?;
        for unit in units.iter().enumerate().filter(|(i, _)| i % folds == fold).map(|(_, u)| u) {
            let len = unit.len();
            if len < 2 {
                continue;
            }
            for _ in 0..truncations {
                let cut = match rul_range {
                    None => 1 + ((rng.next_f64() * (len - 1) as f64) as usize).min(len - 2),
                    Some((lo, hi)) => {
                        // True RUL t = len − cut, an integer in [lo, hi] ∩ [1, len − 1].
                        let t_max = (hi.floor().max(1.0) as usize).min(len - 1);
                        let t_min = (lo.ceil().max(1.0) as usize).min(t_max);
                        len - (t_min + ((rng.next_f64() * (t_max - t_min + 1) as f64) as usize).min(t_max - t_min))
                    }
                };
                let view = Trajectory {
                    id: unit.id.clone(),
                    settings: unit.settings[..cut].to_vec(),
                    values: unit.values[..cut].to_vec(),
                    failed: false,
                };
                let p = model.predict(&view)?;
                let t = (len - cut) as f64;
                let covered = p.lower <= t.min(cfg.cap) && t.min(cfg.cap) <= p.upper;
                inside += usize::from(covered);
                if t <= cfg.cap {
                    below += 1;
                    inside_below += usize::from(covered);
                }
                width += p.upper - p.lower;
                pred.push(p.rul);
                truth.push(t);
            }
        }
    }
    let n = pred.len().max(1) as f64;
    let capped: Vec<f64> = truth.iter().map(|t| t.min(cfg.cap)).collect();
    Ok(ValidationReport {
        folds,
        cases: pred.len(),
        rmse: rmse(&pred, &truth),
        rmse_capped: rmse(&pred, &capped),
        rmse_below_cap: {
            let (p, t): (Vec<f64>, Vec<f64>) = pred.iter().zip(&truth).filter(|(_, t)| **t <= cfg.cap).map(|(p, t)| (*p, *t)).unzip();
            rmse(&p, &t)
        },
        phm08_score_capped_per_100: phm08_score(&pred, &capped) / n * 100.0,
        coverage_capped: inside as f64 / n,
        coverage_below_cap: inside_below as f64 / below.max(1) as f64,
        mean_interval_width: width / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: the `rank`-th smallest of `{mu[k] + sign * r}` by sorting every candidate.
    fn kth_of_shifted(mu: &[f64], residuals: &[Vec<f64>], sign: f64, rank: usize) -> f64 {
        let mut all: Vec<f64> = mu.iter().zip(residuals).flat_map(|(m, r)| r.iter().map(move |x| m + sign * x)).collect();
        all.sort_by(f64::total_cmp);
        all[rank - 1]
    }

    #[test]
    fn metrics() {
        assert!((rmse(&[1.0, 3.0], &[1.0, 1.0]) - 2f64.sqrt()).abs() < 1e-12);
        let s = phm08_score(&[0.0, 10.0], &[13.0, 0.0]);
        assert!((s - 2.0 * (std::f64::consts::E - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn cv_plus_quantiles() {
        assert_eq!(cv_plus_ranks(19, 0.1), Some((2, 18)));
        assert_eq!(cv_plus_ranks(2, 0.1), None);
        // Two folds whose models predict 10 and 20, residuals 1..=9 each: the upper candidates are 11..=19 and
        // 21..=29, the lower ones 1..=9 and 11..=19.
        let r: Vec<Vec<f64>> = vec![(1..=9).map(f64::from).collect(), (1..=9).map(f64::from).collect()];
        assert!((kth_of_shifted(&[10.0, 20.0], &r, 1.0, 17) - 28.0).abs() < 1e-6);
        assert!((kth_of_shifted(&[10.0, 20.0], &r, -1.0, 1) - 1.0).abs() < 1e-6);
        assert!((kth_of_shifted(&[10.0, 20.0], &r, -1.0, 10) - 11.0).abs() < 1e-6);
        let [q_hi, q_lo] = group_brackets(&r, 0.1).unwrap();
        assert_eq!(kth_smallest_shifted(&[10.0, 20.0], &r, 17, q_hi), 28.0);
        // Lower ends: the k-th smallest of {mu - r} is minus the (n - k + 1)-th smallest of {r - mu}.
        let lower = |k: usize, q: f64| -kth_smallest_shifted(&[-10.0, -20.0], &r, 18 - k + 1, q);
        assert_eq!(lower(1, q_lo), 1.0);
        assert_eq!(lower(10, 9.0), 11.0);
    }

    #[test]
    fn bracketed_selection_equals_bisection() {
        let mut rng = crate::gbt::XorShift::new(3);
        for case in 0..200 {
            let folds = 1 + case % 5;
            let residuals: Vec<Vec<f64>> = (0..folds)
                .map(|_| {
                    let mut r: Vec<f64> = (0..1 + (rng.next_f64() * 60.0) as usize).map(|_| (rng.next_f64() * 30.0).floor()).collect();
                    r.sort_by(f64::total_cmp);
                    r
                })
                .collect();
            let mu: Vec<f64> = (0..folds).map(|_| 50.0 + 10.0 * rng.next_f64()).collect();
            let n: usize = residuals.iter().map(Vec::len).sum();
            let Some((lo, hi)) = cv_plus_ranks(n, 0.1) else { continue };
            let [q_hi, q_lo] = group_brackets(&residuals, 0.1).unwrap();
            let upper = kth_smallest_shifted(&mu, &residuals, hi, q_hi);
            assert_eq!(upper, kth_of_shifted(&mu, &residuals, 1.0, hi), "case {case}");
            if lo > 0 {
                let neg: Vec<f64> = mu.iter().map(|m| -m).collect();
                let lower = -kth_smallest_shifted(&neg, &residuals, n - lo + 1, q_lo);
                assert_eq!(lower, kth_of_shifted(&mu, &residuals, -1.0, lo), "case {case}");
            }
        }
    }
}

#[cfg(test)]
mod synthetic {
    use super::*;
    use crate::cmapss::{Cycle, N_SENSORS, Unit};

    /// Units whose sensor 2 drifts up as failure nears (with a deterministic wobble); the others are constant.
    fn units(n: usize) -> Vec<Trajectory> {
        (0..n)
            .map(|u| {
                let len = 60 + 7 * u;
                let cycles = (1..=len)
                    .map(|c| {
                        let mut sensors = [1.0; N_SENSORS];
                        let left = (len - c) as f64;
                        sensors[1] = 100.0 + 20.0 * (-left / 15.0).exp() + 0.3 * ((c * 37 + u * 11) % 7) as f64;
                        Cycle {
                            cycle: c as u32,
                            settings: [0.0, 0.0, 100.0],
                            sensors,
                        }
                    })
                    .collect();
                Unit { id: u as u32 + 1, cycles }.to_trajectory(true)
            })
            .collect()
    }

    fn small() -> RulConfig {
        RulConfig {
            cap: 30.0,
            window: 10,
            gbt: GbtConfig {
                n_trees: 40,
                learning_rate: 0.2,
                min_leaf: 5,
                ..GbtConfig::default()
            },
            ..RulConfig::default()
        }
    }

    #[test]
    fn warning_leads_measure_how_early_the_model_flags_a_failure() {
        // The last run below the flag counts; a unit flagged only at times, or never, has no warning.
        let left = [5.0, 4.0, 3.0, 2.0, 1.0, 0.0];
        assert_eq!(warning_lead(&[30.0, 20.0, 30.0, 20.0, 10.0, 1.0], &left, 27.0), 2.0);
        assert_eq!(warning_lead(&[20.0, 20.0, 20.0, 20.0, 10.0, 1.0], &left, 27.0), 5.0);
        assert_eq!(warning_lead(&[20.0, 20.0, 20.0, 20.0, 10.0, 28.0], &left, 27.0), 0.0);
        // The drift is visible for the last ≈ 35 steps and the cap is 30: every unit is flagged, about as early as
        // the cap allows, and the leads are kept sorted with the model.
        let model = RulModel::train(&units(12), &small()).unwrap();
        let leads = model.warning_leads();
        assert_eq!(leads.len(), 12);
        assert!(leads.is_sorted());
        let median = leads[6];
        assert!((15.0..=45.0).contains(&median), "{leads:?}");
        assert!(leads[0] > 0.0, "{leads:?}");
        assert_eq!(model.flag_level(), 27.0);
        let json = serde_json::to_string(&model).unwrap();
        let back: RulModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back.warning_leads(), leads);
    }

    #[test]
    fn healthy_calibration_steps_stay_censored_in_the_predictive_distribution() {
        // Early in life every unit is far beyond the cap (30 steps): its calibration steps are censored. Paired
        // with a point prediction a little below the cap they must not turn into failures just below it.
        let u = units(12);
        let model = RulModel::train(&u, &small()).unwrap();
        let probs: Vec<f64> = (0..100).map(|k| (k as f64 + 0.5) / 100.0).collect();
        for unit in &u {
            let mut early = unit.clone();
            early.values.truncate(15);
            early.settings.truncate(15);
            let (f, _) = model.last_features_and_hi(&early).unwrap();
            let (q, point) = model.quantiles_and_point_features(&f, &probs).unwrap();
            let below = q.iter().filter(|&&x| x < model.config.cap).count();
            assert!(below <= 5, "unit {}: point {point}, {below} of 100 quantiles below the cap: {q:?}", unit.id);
            assert!(model.failure_probability_features(&f, model.config.cap - 1.0).unwrap() <= 0.06);
        }
    }

    #[test]
    fn prediction_features_equal_the_training_features() {
        let u = units(12);
        for baseline in [0, 4] {
            let cfg = RulConfig { baseline, ..small() };
            let model = RulModel::train_with(&u, &cfg, Some(15)).unwrap();
            let unit = &u[7];
            let all = features_of(&model.normaliser, model.hi.as_ref(), unit, cfg.window).unwrap();
            for t in [0, 3, 14, 40, unit.len() - 1] {
                let mut cut = unit.clone();
                cut.values.truncate(t + 1);
                cut.settings.truncate(t + 1);
                assert_eq!(model.last_features_and_hi(&cut).unwrap().0, all[t], "baseline {baseline}, step {t}");
            }
        }
    }

    #[test]
    fn trains_predicts_and_cross_validates() {
        let u = units(12);
        let model = RulModel::train(&u, &small()).unwrap();
        assert_eq!(model.normaliser.kept, vec![1]);
        let mut cut = u[0].clone();
        cut.values.truncate(cut.len() - 3);
        cut.settings.truncate(cut.values.len());
        let p = model.predict(&cut).unwrap();
        assert!(p.lower <= p.rul && p.rul <= p.upper && p.rul < 15.0, "{p:?}");
        // The failure probability grows with the horizon, is high near the end and low early in life.
        let near: Vec<f64> = [0.0, 2.0, 5.0, 10.0, 29.0]
            .iter()
            .map(|&h| model.failure_probability(&cut, h).unwrap())
            .collect();
        assert!(near.windows(2).all(|w| w[0] <= w[1]), "{near:?}");
        assert!(near[3] > 0.5, "{near:?}");
        let mut early = u[0].clone();
        early.values.truncate(12);
        early.settings.truncate(12);
        assert!(model.failure_probability(&early, 5.0).unwrap() < 0.2);
        assert!(model.failure_probability(&cut, 30.0).is_err());
        // Quantiles invert the failure probability: P(RUL <= q(p)) >= p, and just below q(p) it is < p.
        let (f, _) = model.last_features_and_hi(&cut).unwrap();
        let probs = [0.05, 0.25, 0.5, 0.75, 0.95];
        let q = model.quantiles_features(&f, &probs).unwrap();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
        for (&p, &x) in probs.iter().zip(&q) {
            if x > 1e-6 && x < model.config.cap {
                assert!(model.failure_probability_features(&f, x + 1e-9).unwrap() >= p - 1e-9, "p {p} q {x}");
                assert!(model.failure_probability_features(&f, x - 1e-3).unwrap() < p, "p {p} q {x}");
            }
        }
        assert!(model.predict_features(&[1.0]).is_err());
        let empty = Trajectory {
            id: "e".into(),
            settings: Vec::new(),
            values: Vec::new(),
            failed: false,
        };
        assert!(model.predict(&empty).is_err());
        let mut censored = u.clone();
        censored[0].failed = false;
        assert!(RulModel::train(&censored, &small()).is_err());
        let v = cross_validate(&u, &small(), 3, 2, 1).unwrap();
        assert_eq!(v.cases, 24);
        assert!(v.rmse_capped.is_finite() && (0.0..=1.0).contains(&v.coverage_capped));
        assert!(cross_validate(&u, &small(), 1, 2, 1).is_err());
        assert!(RulModel::train(&u[..3], &small()).is_err());
        assert!(RulModel::train(&u, &RulConfig { alpha: 0.0, ..small() }).is_err());
        let report = evaluate(&model, &u[..2], &[0.0, 0.0]).unwrap();
        assert_eq!(report.test_units, 2);
        assert!(evaluate(&model, &u[..2], &[0.0]).is_err());
    }
}
