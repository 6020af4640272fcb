//! Preprocessing: operating-regime clustering, constant-sensor detection, per-regime normalisation, windowed
//! features and the piecewise-linear RUL target. Everything here is fitted on training units only and then
//! applied unchanged to any other unit.

use serde::{Deserialize, Serialize};

use crate::LearnError;
use crate::series::Trajectory;

/// Operating regimes: centroids in the space of the operational settings (any number of them; with none there
/// is one regime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regimes {
    /// One centroid per regime.
    pub centroids: Vec<Vec<f64>>,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl Regimes {
    /// Index of the nearest centroid.
    #[must_use]
    pub fn assign(&self, settings: &[f64]) -> usize {
        let mut best = 0;
        let mut best_d = f64::INFINITY;
        for (k, c) in self.centroids.iter().enumerate() {
            let d = dist2(c, settings);
            if d < best_d {
                best_d = d;
                best = k;
            }
        }
        best
    }

    /// Clusters the settings with k-means (farthest-point initialisation, deterministic). With `k = Some(n)` it
    /// uses `n` clusters; with `None` it picks the smallest `k` in `1..=max_k` for which every cluster's
    /// per-setting standard deviation is at most `tolerance` (settings are in their raw units; the C-MAPSS
    /// regimes are separated by far more than the setting noise, which is of order 0.005).
    ///
    /// # Errors
    /// [`LearnError::InvalidConfig`] for `k = Some(0)` or no point, [`LearnError::Mismatch`] when no `k` up to
    /// `max_k` meets the tolerance.
    pub fn fit(points: &[Vec<f64>], k: Option<usize>, max_k: usize, tolerance: f64) -> Result<Self, LearnError> {
        if points.is_empty() {
            return Err(LearnError::InvalidConfig("no training cycle to cluster into regimes".into()));
        }
        if let Some(k) = k {
            if k == 0 {
                return Err(LearnError::InvalidConfig("regime count must be at least 1".into()));
            }
            return Ok(kmeans(points, k));
        }
        for k in 1..=max_k.max(1) {
            let r = kmeans(points, k);
            if r.max_spread(points) <= tolerance {
                return Ok(r);
            }
        }
        Err(LearnError::Mismatch(format!(
            "no regime clustering with at most {max_k} clusters has per-setting spread <= {tolerance}"
        )))
    }

    fn max_spread(&self, points: &[Vec<f64>]) -> f64 {
        let k = self.centroids.len();
        let dim = points.first().map_or(0, Vec::len);
        let mut n = vec![0.0; k];
        let mut ss = vec![vec![0.0; dim]; k];
        for p in points {
            let c = self.assign(p);
            n[c] += 1.0;
            for j in 0..dim {
                let d = p[j] - self.centroids[c][j];
                ss[c][j] += d * d;
            }
        }
        let mut worst: f64 = 0.0;
        for c in 0..k {
            if n[c] > 0.0 {
                for &s in &ss[c] {
                    worst = worst.max((s / n[c]).sqrt());
                }
            }
        }
        worst
    }
}

fn kmeans(points: &[Vec<f64>], k: usize) -> Regimes {
    let dim = points[0].len();
    // Farthest-point initialisation from the first point: deterministic and good at finding well-separated regimes.
    let mut centroids = vec![points[0].clone()];
    let mut nearest: Vec<f64> = points.iter().map(|p| dist2(p, &points[0])).collect();
    while centroids.len() < k {
        let (far, &d) = nearest
            .iter()
            .enumerate()
            .fold((0, &-1.0), |acc, (i, d)| if *d > *acc.1 { (i, d) } else { acc });
        if d <= 0.0 {
            break; // fewer distinct points than k
        }
        let c = points[far].clone();
        for (p, n) in points.iter().zip(nearest.iter_mut()) {
            *n = n.min(dist2(p, &c));
        }
        centroids.push(c);
    }
    let mut r = Regimes { centroids };
    for _ in 0..50 {
        let k = r.centroids.len();
        let mut sum = vec![vec![0.0; dim]; k];
        let mut n = vec![0usize; k];
        for p in points {
            let c = r.assign(p);
            n[c] += 1;
            for j in 0..dim {
                sum[c][j] += p[j];
            }
        }
        let mut moved = false;
        for c in 0..k {
            if n[c] > 0 {
                let mut m = vec![0.0; dim];
                for j in 0..dim {
                    m[j] = sum[c][j] / n[c] as f64;
                }
                if m != r.centroids[c] {
                    moved = true;
                    r.centroids[c] = m;
                }
            }
        }
        if !moved {
            break;
        }
    }
    r
}

/// Per-regime value statistics, the values kept as informative, and the per-unit baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    /// Operating regimes.
    pub regimes: Regimes,
    /// Number of values per step the normaliser was fitted on.
    pub n_values: usize,
    /// Indices (0-based, into the values) of the values kept.
    pub kept: Vec<usize>,
    /// Mean of each kept value, per regime (`mean[regime][k]`).
    pub mean: Vec<Vec<f64>>,
    /// Standard deviation of each kept value, per regime.
    pub std: Vec<Vec<f64>>,
    /// `1 / std`, for normalising with multiplications (empty in models saved before it existed: then `std`
    /// divides).
    #[serde(default)]
    pub inv_std: Vec<Vec<f64>>,
    /// Per-unit normalisation: when non-zero, the mean of a unit's first `baseline` regime-normalised steps
    /// (its own healthy baseline, observable at prediction time) is subtracted from all its steps.
    pub baseline: usize,
}

/// A value is constant when its standard deviation within every regime is at most this fraction of its mean
/// magnitude (or, for a zero mean, this absolute amount).
const CONSTANT_REL_STD: f64 = 1e-6;

impl Normaliser {
    /// Fits the normaliser on training trajectories: regimes, constant values (constant within every regime),
    /// and the per-regime mean and standard deviation of every other value.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] for no step, inconsistent widths or non-finite numbers, or when every value is
    /// constant; those of [`Regimes::fit`].
    pub fn fit(units: &[Trajectory], regime_k: Option<usize>, max_k: usize, tolerance: f64, baseline: usize) -> Result<Self, LearnError> {
        let first = units
            .iter()
            .find(|u| !u.is_empty())
            .ok_or_else(|| LearnError::Mismatch("no training step".into()))?;
        let (n_settings, n_values) = (first.settings[0].len(), first.values[0].len());
        for u in units {
            u.validate(n_settings, n_values)?;
        }
        let regimes = if n_settings == 0 {
            Regimes { centroids: vec![Vec::new()] }
        } else {
            let points: Vec<Vec<f64>> = units.iter().flat_map(|u| u.settings.iter().cloned()).collect();
            Regimes::fit(&points, regime_k, max_k, tolerance)?
        };
        let k = regimes.centroids.len();
        let mut n = vec![0.0; k];
        let mut sum = vec![vec![0.0; n_values]; k];
        let mut sum2 = vec![vec![0.0; n_values]; k];
        for u in units {
            for (s, v) in u.settings.iter().zip(&u.values) {
                let r = regimes.assign(s);
                n[r] += 1.0;
                for j in 0..n_values {
                    sum[r][j] += v[j];
                    sum2[r][j] += v[j] * v[j];
                }
            }
        }
        let mut mean_all = vec![vec![0.0; n_values]; k];
        let mut std_all = vec![vec![0.0; n_values]; k];
        for r in 0..k {
            if n[r] > 0.0 {
                for j in 0..n_values {
                    let m = sum[r][j] / n[r];
                    mean_all[r][j] = m;
                    std_all[r][j] = (sum2[r][j] / n[r] - m * m).max(0.0).sqrt();
                }
            }
        }
        let kept: Vec<usize> = (0..n_values)
            .filter(|&j| (0..k).any(|r| n[r] > 1.0 && std_all[r][j] > CONSTANT_REL_STD * mean_all[r][j].abs().max(1.0)))
            .collect();
        if kept.is_empty() {
            return Err(LearnError::Mismatch("every value is constant in the training data".into()));
        }
        let mean = (0..k).map(|r| kept.iter().map(|&j| mean_all[r][j]).collect()).collect();
        // A value constant within one regime but not another gets unit scale there (it then carries no signal).
        let std: Vec<Vec<f64>> = (0..k)
            .map(|r| kept.iter().map(|&j| if std_all[r][j] > 0.0 { std_all[r][j] } else { 1.0 }).collect())
            .collect();
        let inv_std = std.iter().map(|r| r.iter().map(|s| 1.0 / s).collect()).collect();
        Ok(Normaliser {
            regimes,
            n_values,
            kept,
            mean,
            std,
            inv_std,
            baseline,
        })
    }

    /// The kept values of every step of `unit`, z-scored with the statistics of the step's regime, minus the
    /// unit's own baseline when [`Normaliser::baseline`] is set.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] when the trajectory's width differs from the training data's.
    pub fn normalise(&self, unit: &Trajectory) -> Result<Vec<Vec<f64>>, LearnError> {
        self.normalise_tail(unit, usize::MAX)
    }

    /// Appends the z-scored kept values of one step to `out`.
    pub(crate) fn step_into(&self, settings: &[f64], values: &[f64], out: &mut Vec<f64>) {
        let r = self.regimes.assign(settings);
        let mean = &self.mean[r];
        match self.inv_std.get(r) {
            Some(inv) => out.extend(self.kept.iter().zip(mean.iter().zip(inv)).map(|(&j, (m, i))| (values[j] - m) * i)),
            None => out.extend(self.kept.iter().zip(mean.iter().zip(&self.std[r])).map(|(&j, (m, s))| (values[j] - m) / s)),
        }
    }

    /// [`Normaliser::normalise`] of only the last `tail` steps (the baseline still comes from the unit's first
    /// steps): what online prediction needs, at a cost independent of the unit's age.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] when the trajectory's width differs from the training data's.
    pub fn normalise_tail(&self, unit: &Trajectory, tail: usize) -> Result<Vec<Vec<f64>>, LearnError> {
        let flat = self.normalise_tail_flat(unit, tail)?;
        Ok(flat.chunks_exact(self.kept.len()).map(<[f64]>::to_vec).collect())
    }

    /// [`Normaliser::normalise_tail`] as one row-major buffer (rows of [`Normaliser::kept`]`.len()` values).
    ///
    /// # Errors
    /// As [`Normaliser::normalise_tail`].
    pub fn normalise_tail_flat(&self, unit: &Trajectory, tail: usize) -> Result<Vec<f64>, LearnError> {
        let n_settings = self.regimes.centroids.first().map_or(0, Vec::len);
        let from = unit.len().saturating_sub(tail);
        if unit.settings.len() != unit.values.len() {
            return unit.validate(n_settings, self.n_values).map(|_| Vec::new());
        }
        let head = self.baseline.min(unit.len());
        for t in (0..head).chain(from.max(head)..unit.len()) {
            let (s, v) = (&unit.settings[t], &unit.values[t]);
            if s.len() != n_settings || v.len() != self.n_values || s.iter().chain(v).any(|x| !x.is_finite()) {
                return Err(LearnError::Mismatch(format!(
                    "trajectory {} step {t}: expected {n_settings} finite settings and {} finite values",
                    unit.id, self.n_values
                )));
            }
        }
        let w = self.kept.len();
        let mut out = Vec::with_capacity((unit.len() - from) * w);
        for t in from..unit.len() {
            self.step_into(&unit.settings[t], &unit.values[t], &mut out);
        }
        if self.baseline > 0 && head > 0 {
            let mut rows = Vec::with_capacity(head * w);
            for t in 0..head {
                self.step_into(&unit.settings[t], &unit.values[t], &mut rows);
            }
            self.subtract_baseline(&rows, &mut out);
        }
        Ok(out)
    }

    /// Subtracts from every row of `rows` the mean of the rows of `head` (both row-major, regime-normalised):
    /// the per-unit baseline.
    pub(crate) fn subtract_baseline(&self, head: &[f64], rows: &mut [f64]) {
        let w = self.kept.len();
        let n = (head.len() / w.max(1)) as f64;
        let mut base = vec![0.0; w];
        for row in head.chunks_exact(w) {
            for (b, x) in base.iter_mut().zip(row) {
                *b += x / n;
            }
        }
        for row in rows.chunks_exact_mut(w) {
            for (x, b) in row.iter_mut().zip(&base) {
                *x -= b;
            }
        }
    }

    /// Checks the invariants normalisation relies on (for a model read from a file).
    ///
    /// # Errors
    /// What is wrong, as text.
    pub fn check(&self) -> Result<(), String> {
        let k = self.regimes.centroids.len();
        let dim = self.regimes.centroids.first().map_or(0, Vec::len);
        let w = self.kept.len();
        let ok = k > 0
            && self.regimes.centroids.iter().all(|c| c.len() == dim)
            && self.mean.len() == k
            && self.std.len() == k
            && (self.inv_std.is_empty() || self.inv_std.len() == k)
            && self.mean.iter().chain(&self.std).chain(&self.inv_std).all(|r| r.len() == w)
            && self.kept.iter().all(|&j| j < self.n_values);
        if ok { Ok(()) } else { Err("normaliser: inconsistent sizes".into()) }
    }

    /// Checks one step's widths against the training data's and that its numbers are finite.
    pub(crate) fn check_step(&self, settings: &[f64], values: &[f64]) -> Result<(), String> {
        let n_settings = self.regimes.centroids.first().map_or(0, Vec::len);
        if settings.len() != n_settings || values.len() != self.n_values || settings.iter().chain(values).any(|x| !x.is_finite()) {
            return Err(format!("expected {n_settings} finite settings and {} finite values", self.n_values));
        }
        Ok(())
    }
}

/// Windowed features of every cycle of a normalised unit. For each kept sensor: the mean over the last `window`
/// cycles (fewer at the start of a unit), the least-squares slope over the same cycles (0 with one cycle) and the
/// last value; then the cycle number (the unit's age, observable at prediction time).
#[must_use]
pub fn window_features(normalised: &[Vec<f64>], window: usize) -> Vec<Vec<f64>> {
    (0..normalised.len()).map(|t| window_features_at(normalised, window, t)).collect()
}

/// The window features of step `t` alone (see [`window_features`]).
#[must_use]
pub fn window_features_at<R: AsRef<[f64]>>(normalised: &[R], window: usize, t: usize) -> Vec<f64> {
    let window = window.max(1);
    let n_sensors = normalised.first().map_or(0, |r| r.as_ref().len());
    let start = (t + 1).saturating_sub(window);
    let rows = &normalised[start..=t];
    let m = rows.len() as f64;
    let x_mean = (m - 1.0) / 2.0;
    // Σ (i − x̄)² over i = 0..m−1, in closed form.
    let sxx = m * (m * m - 1.0) / 12.0;
    // One pass over the rows: Σ y and Σ i·y per sensor; slope = (Σ i·y − x̄ Σ y) / sxx.
    let mut sum = vec![0.0; n_sensors];
    let mut isum = vec![0.0; n_sensors];
    for (i, r) in rows.iter().enumerate() {
        let x = i as f64;
        for ((s, is), &y) in sum.iter_mut().zip(isum.iter_mut()).zip(r.as_ref()) {
            *s += y;
            *is += x * y;
        }
    }
    let last = rows[rows.len() - 1].as_ref();
    let mut f = Vec::with_capacity(3 * n_sensors + 1);
    for s in 0..n_sensors {
        f.push(sum[s] / m);
        f.push(if sxx > 0.0 { (isum[s] - x_mean * sum[s]) / sxx } else { 0.0 });
        f.push(last[s]);
    }
    f.push((t + 1) as f64);
    f
}

/// Piecewise-linear RUL target of a run-to-failure unit with `n_cycles` cycles: `min(cap, n_cycles - cycle)` for
/// cycles `1..=n_cycles` (0 at the last cycle).
#[must_use]
pub fn rul_target(n_cycles: usize, cap: f64) -> Vec<f64> {
    (1..=n_cycles).map(|c| ((n_cycles - c) as f64).min(cap)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmapss::{Cycle, N_SENSORS, Unit};

    #[test]
    fn kmeans_finds_separated_regimes() {
        let centres = [[0.0, 0.0, 100.0], [10.0, 0.25, 100.0], [25.0, 0.62, 60.0], [42.0, 0.84, 100.0]];
        let mut pts = Vec::new();
        for i in 0..200 {
            let c = centres[i % 4];
            let e = ((i * 7919) % 13) as f64 * 0.001 - 0.006;
            pts.push(vec![c[0] + e, c[1] - e, c[2]]);
        }
        let r = Regimes::fit(&pts, None, 10, 0.5).unwrap();
        assert_eq!(r.centroids.len(), 4);
        for c in centres {
            let k = r.assign(&c);
            assert!(dist2(&r.centroids[k], &c) < 1e-3);
        }
        assert!(Regimes::fit(&pts, Some(0), 10, 0.5).is_err());
        assert!(Regimes::fit(&[], None, 10, 0.5).is_err());
    }

    #[test]
    fn features_handle_short_units_and_slopes() {
        let norm: Vec<Vec<f64>> = (0..5).map(|t| vec![2.0 * t as f64]).collect();
        let f = window_features(&norm, 3);
        assert_eq!(f[0], vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(f[1], vec![1.0, 2.0, 2.0, 2.0]);
        assert_eq!(f[4], vec![6.0, 2.0, 8.0, 5.0]);
    }

    #[test]
    fn target_is_capped() {
        assert_eq!(rul_target(4, 2.0), vec![2.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn constant_sensors_are_dropped() {
        let cycles = (1..=10)
            .map(|c| {
                let mut sensors = [5.0; N_SENSORS];
                sensors[3] = c as f64;
                Cycle {
                    cycle: c,
                    settings: [0.0, 0.0, 100.0],
                    sensors,
                }
            })
            .collect();
        let n = Normaliser::fit(&[Unit { id: 1, cycles }.to_trajectory(true)], None, 6, 0.5, 0).unwrap();
        assert_eq!(n.kept, vec![3]);
    }

    #[test]
    fn baseline_removes_each_units_own_offset() {
        let unit = |offset: f64| Trajectory {
            id: "u".into(),
            settings: vec![Vec::new(); 6],
            values: (0..6).map(|t| vec![offset + if t < 3 { 0.0 } else { 1.0 }]).collect(),
            failed: true,
        };
        let n = Normaliser::fit(&[unit(0.0), unit(10.0)], None, 4, 0.5, 3).unwrap();
        assert_eq!(n.regimes.centroids.len(), 1);
        let a = n.normalise(&unit(0.0)).unwrap();
        let b = n.normalise(&unit(10.0)).unwrap();
        assert!(a.iter().zip(&b).all(|(x, y)| (x[0] - y[0]).abs() < 1e-12), "{a:?} {b:?}");
        // The tail alone equals the end of the whole.
        assert_eq!(n.normalise_tail(&unit(10.0), 2).unwrap(), b[4..].to_vec());
        assert!(a[0][0].abs() < 1e-12 && a[5][0] > 0.0);
        assert!(
            n.normalise(&Trajectory {
                id: "w".into(),
                settings: vec![vec![1.0]],
                values: vec![vec![1.0]],
                failed: false
            })
            .is_err()
        );
    }
}
