//! Root cause of quality excursions: rank upstream process variables by their association with the
//! periods when a quality signal left its envelope, each at its own time lag (material takes time to
//! travel from the station where the variable acts to the station where quality is measured).
//!
//! **Method.**
//! 1. Both the quality signal and every candidate variable are averaged on a common grid of `bin_s`
//!    bins. A bin is an *excursion* bin when at least `excursion_share` of its quality points lie outside
//!    `[lower, upper]` (for a per-unit dimension: that share of units out of spec; for a rate series with
//!    one point per bin: the rate out of its envelope).
//! 2. **Lag.** For each variable and each lag `L ∈ {0, bin, …, max_lag_s}`, the Pearson correlation of the
//!    quality bin means with the variable's bin means `L` earlier (the cross-correlation function). The
//!    lag with the largest |r| is the variable's lag: the transport delay at which it explains the quality
//!    signal best.
//! 3. **Association with excursions** at that lag: the standardised mean difference (Cohen's d with the
//!    pooled standard deviation) of the lagged variable between excursion and normal bins, and the
//!    equivalent point-biserial correlation `r_pb = d / √(d² + (n−2)·(1/n₁ + 1/n₀))`.
//! 4. **Significance** by a permutation test that respects autocorrelation and the lag search: the quality
//!    series (means and excursion flags together) is rotated circularly by a random offset (between 10 %
//!    and 90 % of its length), the lag is searched again and |d| recomputed; `p = (1 + #{|d*| ≥ |d|}) /
//!    (1 + permutations)`. Rotation keeps each series' own autocorrelation, which an independent shuffle of
//!    bins would destroy (and so would call slow drifts significant). Holm's step-down correction over the
//!    candidates gives the adjusted p-values.
//! 5. Candidates are ranked by |d|; each carries its evidence (lag, correlation, effect size, group means
//!    and sample counts, p-values).
//!
//! **With genealogy** ([`rank_by_genealogy`]) there is no lag to estimate: each unit's own visit to the
//! station says what the variable was when *that unit* was processed. The same statistics are computed over
//! units (failed vs passed the check) instead of time bins, the permutation rotates the pass/fail sequence
//! of the units in measurement order, and the reported lag is the units' mean time from that visit to the
//! measurement (the observed transport delay).

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::rng::Rng;
use crate::trace::{TraceIndex, UnitGenealogy};

/// A time series: (time, value) with time in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl TimeSeries {
    /// From epoch-nanosecond points (as [`crate::trace::TraceIndex::variable_series`] gives them).
    pub fn from_ns(name: &str, points: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            name: name.to_string(),
            points: points.iter().map(|&(t, v)| (t as f64 * 1e-9, v)).collect(),
        }
    }
}

/// The quality signal and its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySignal {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCauseConfig {
    pub bin_s: f64,
    pub max_lag_s: f64,
    pub excursion_share: f64,
    pub permutations: usize,
    pub seed: u64,
    pub alpha: f64,
    /// Minimum excursion and normal bins for a candidate to be tested.
    pub min_bins: usize,
}

impl Default for RootCauseConfig {
    fn default() -> RootCauseConfig {
        RootCauseConfig {
            bin_s: 600.0,
            max_lag_s: 4.0 * 3600.0,
            excursion_share: 0.2,
            permutations: 999,
            seed: 1,
            alpha: 0.05,
            min_bins: 3,
        }
    }
}

/// One candidate and its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    /// The lag at which the variable best explains the quality signal, seconds.
    pub lag_s: f64,
    /// Cross-correlation at that lag.
    pub correlation: f64,
    /// Standardised mean difference (excursion − normal) of the lagged variable.
    pub effect_size: f64,
    pub point_biserial: f64,
    pub mean_excursion: f64,
    pub mean_normal: f64,
    pub n_excursion: usize,
    pub n_normal: usize,
    pub p_value: f64,
    /// Holm-adjusted.
    pub p_adjusted: f64,
    pub significant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCauseReport {
    /// Time bins analysed ([`rank_by_genealogy`]: units).
    pub bins: usize,
    /// Bins in excursion ([`rank_by_genealogy`]: units that failed the check).
    pub excursion_bins: usize,
    /// Ranked by |effect size|, largest first.
    pub candidates: Vec<Candidate>,
}

fn bin(points: &[(f64, f64)], t0: f64, w: f64, n: usize) -> Vec<f64> {
    let mut s = vec![0.0; n];
    let mut c = vec![0u32; n];
    for &(t, v) in points {
        if !v.is_finite() {
            continue;
        }
        let b = ((t - t0) / w).floor();
        if b >= 0.0 && (b as usize) < n {
            s[b as usize] += v;
            c[b as usize] += 1;
        }
    }
    s.iter().zip(&c).map(|(s, &c)| if c > 0 { s / f64::from(c) } else { f64::NAN }).collect()
}

/// (r, d, mean excursion, mean normal, n1, n0) at lag `l` bins, quality rotated by `rot`.
fn stats_at(q: &[f64], exc: &[f64], v: &[f64], l: usize, rot: usize) -> (f64, f64, f64, f64, usize, usize) {
    let n = q.len();
    let (mut sx, mut sy, mut sxx, mut syy, mut sxy, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut s1, mut ss1, mut n1, mut s0, mut ss0, mut n0) = (0.0, 0.0, 0usize, 0.0, 0.0, 0usize);
    for b in l..n {
        let qb = (b + rot) % n;
        let (y, e, x) = (q[qb], exc[qb], v[b - l]);
        if !(y.is_finite() && x.is_finite()) {
            continue;
        }
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
        m += 1.0;
        if e > 0.5 {
            s1 += x;
            ss1 += x * x;
            n1 += 1;
        } else {
            s0 += x;
            ss0 += x * x;
            n0 += 1;
        }
    }
    let r = if m > 2.0 {
        let cov = sxy - sx * sy / m;
        let vx = sxx - sx * sx / m;
        let vy = syy - sy * sy / m;
        if vx > 0.0 && vy > 0.0 { cov / (vx * vy).sqrt() } else { 0.0 }
    } else {
        0.0
    };
    let (m1, m0) = (if n1 > 0 { s1 / n1 as f64 } else { f64::NAN }, if n0 > 0 { s0 / n0 as f64 } else { f64::NAN });
    let d = if n1 >= 2 && n0 >= 2 {
        let v1 = (ss1 - n1 as f64 * m1 * m1) / (n1 - 1) as f64;
        let v0 = (ss0 - n0 as f64 * m0 * m0) / (n0 - 1) as f64;
        let sp = (((n1 - 1) as f64 * v1 + (n0 - 1) as f64 * v0) / (n1 + n0 - 2) as f64).max(0.0).sqrt();
        if sp > 0.0 { (m1 - m0) / sp } else { 0.0 }
    } else {
        0.0
    };
    (r, d, m1, m0, n1, n0)
}

fn best_lag(q: &[f64], exc: &[f64], v: &[f64], max_l: usize, rot: usize) -> (usize, (f64, f64, f64, f64, usize, usize)) {
    let mut best = (0, stats_at(q, exc, v, 0, rot));
    for l in 1..=max_l {
        let s = stats_at(q, exc, v, l, rot);
        if s.0.abs() > best.1.0.abs() {
            best = (l, s);
        }
    }
    best
}

/// Ranks `candidates` by their association with the excursions of `quality` (see the module docs).
pub fn rank_causes(quality: &QualitySignal, candidates: &[TimeSeries], cfg: &RootCauseConfig) -> Result<RootCauseReport, LineError> {
    if !(cfg.bin_s > 0.0 && cfg.max_lag_s >= 0.0 && cfg.excursion_share > 0.0 && cfg.excursion_share <= 1.0 && cfg.alpha > 0.0) {
        return Err(LineError::invalid("rootcause", "bin_s > 0, max_lag_s ≥ 0, 0 < excursion_share ≤ 1, alpha > 0"));
    }
    if quality.points.is_empty() || quality.lower.is_nan() || quality.upper.is_nan() || quality.lower > quality.upper {
        return Err(LineError::invalid("quality", "needs points and lower ≤ upper"));
    }
    let t0 = quality.points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let t1 = quality.points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let n = (((t1 - t0) / cfg.bin_s).floor() as usize + 1).max(1);
    if n > 10_000_000 {
        return Err(LineError::invalid("rootcause.bin_s", "too many bins"));
    }
    let q = bin(&quality.points, t0, cfg.bin_s, n);
    let out_share = bin(
        &quality
            .points
            .iter()
            .map(|&(t, v)| (t, if v < quality.lower || v > quality.upper { 1.0 } else { 0.0 }))
            .collect::<Vec<_>>(),
        t0,
        cfg.bin_s,
        n,
    );
    let exc: Vec<f64> = out_share
        .iter()
        .map(|&s| if s.is_finite() && s >= cfg.excursion_share { 1.0 } else { 0.0 })
        .collect();
    let excursion_bins = exc.iter().filter(|&&e| e > 0.5).count();
    let max_l = ((cfg.max_lag_s / cfg.bin_s).floor() as usize).min(n.saturating_sub(3));
    let mut rng = Rng::new(cfg.seed);
    let lo = (n / 10).max(1);
    let span = (n - 2 * lo).max(1);
    let rotations: Vec<usize> = (0..cfg.permutations).map(|_| lo + rng.below(span)).collect();
    let mut out = Vec::new();
    for c in candidates {
        // the variable's bins: it may start before the quality signal (lags reach back), so bin from t0
        let v = bin(&c.points, t0, cfg.bin_s, n);
        let (l, (r, d, m1, m0, n1, n0)) = best_lag(&q, &exc, &v, max_l, 0);
        let p = if n1 >= cfg.min_bins && n0 >= cfg.min_bins && d != 0.0 {
            let hits = rotations.iter().filter(|&&k| best_lag(&q, &exc, &v, max_l, k).1.1.abs() >= d.abs()).count();
            (1 + hits) as f64 / (1 + cfg.permutations) as f64
        } else {
            1.0
        };
        let nn = (n1 + n0) as f64;
        let pb = if n1 > 0 && n0 > 0 && nn > 2.0 {
            d / (d * d + (nn - 2.0) * (1.0 / n1 as f64 + 1.0 / n0 as f64)).sqrt()
        } else {
            0.0
        };
        out.push(Candidate {
            name: c.name.clone(),
            lag_s: l as f64 * cfg.bin_s,
            correlation: r,
            effect_size: d,
            point_biserial: pb,
            mean_excursion: m1,
            mean_normal: m0,
            n_excursion: n1,
            n_normal: n0,
            p_value: p,
            p_adjusted: p,
            significant: false,
        });
    }
    holm(&mut out, cfg.alpha);
    out.sort_by(|a, b| b.effect_size.abs().total_cmp(&a.effect_size.abs()));
    Ok(RootCauseReport {
        bins: n,
        excursion_bins,
        candidates: out,
    })
}

/// One unit's evidence for [`rank_units`]: when quality check was measured on it, whether it failed, and per
/// candidate the variable's value on the unit's visit to the candidate's station with the time from that visit's
/// start to the measurement (seconds); `None` where the unit has no such visit or value.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitEvidence {
    pub at_ns: i64,
    pub failed: bool,
    pub values: Vec<Option<(f64, f64)>>,
}

/// The evidence of one unit's genealogy for check `check` and candidates `(station, variable)`; `None` when the
/// unit has no result of the check.
pub fn evidence(unit: &UnitGenealogy, check: &str, candidates: &[(String, String)]) -> Option<UnitEvidence> {
    let r = unit.quality.iter().find(|r| r.check == check)?;
    let values = candidates
        .iter()
        .map(|(station, var)| {
            let v = unit.visits.iter().find(|v| v.station == *station)?;
            let c = v.conditions.iter().find(|c| c.0 == *var)?;
            Some((c.1, (r.at_ns - v.start_ns) as f64 * 1e-9))
        })
        .collect();
    Some(UnitEvidence {
        at_ns: r.at_ns,
        failed: !r.pass,
        values,
    })
}

/// Ranks process variables `(station, variable)` by their association with failing quality check
/// `check`, unit by unit, from genealogy (see the module docs). Units without the check or without a visit
/// carrying the variable are left out of that candidate.
pub fn rank_by_genealogy(index: &TraceIndex, check: &str, candidates: &[(String, String)], cfg: &RootCauseConfig) -> Result<RootCauseReport, LineError> {
    let units: Vec<UnitEvidence> = index
        .serials()
        .iter()
        .filter_map(|&s| index.unit(s))
        .filter_map(|u| evidence(&u, check, candidates))
        .collect();
    if units.is_empty() {
        return Err(LineError::invalid("check", &format!("no results of quality check '{check}'")));
    }
    let names: Vec<String> = candidates.iter().map(|(s, v)| format!("{s}.{v}")).collect();
    rank_units(units, &names, cfg)
}

/// [`rank_by_genealogy`] on evidence gathered elsewhere (e.g. from several indexes): `names[i]` names the
/// candidate of `values[i]`.
pub fn rank_units(mut units: Vec<UnitEvidence>, names: &[String], cfg: &RootCauseConfig) -> Result<RootCauseReport, LineError> {
    if units.is_empty() {
        return Err(LineError::invalid("check", "no units with a result of the check"));
    }
    if units.iter().any(|u| u.values.len() != names.len()) {
        return Err(LineError::invalid("candidates", "one value per candidate and unit"));
    }
    // units in measurement order with their pass/fail
    units.sort_by_key(|u| u.at_ns);
    let n = units.len();
    let fails = units.iter().filter(|u| u.failed).count();
    let mut rng = Rng::new(cfg.seed);
    let lo = (n / 10).max(1);
    let span = n.saturating_sub(2 * lo).max(1);
    let rotations: Vec<usize> = (0..cfg.permutations).map(|_| lo + rng.below(span)).collect();
    let exc: Vec<f64> = units.iter().map(|u| if u.failed { 1.0 } else { 0.0 }).collect();
    let mut out = Vec::new();
    for (ci, name) in names.iter().enumerate() {
        let mut x = vec![f64::NAN; n];
        let mut delay = (0.0, 0usize);
        for (k, u) in units.iter().enumerate() {
            if let Some((v, dt)) = u.values[ci] {
                x[k] = v;
                delay.0 += dt;
                delay.1 += 1;
            }
        }
        let (r, d, m1, m0, n1, n0) = stats_at(&exc, &exc, &x, 0, 0);
        let p = if n1 >= cfg.min_bins && n0 >= cfg.min_bins && d != 0.0 {
            let hits = rotations.iter().filter(|&&k| stats_at(&exc, &exc, &x, 0, k).1.abs() >= d.abs()).count();
            (1 + hits) as f64 / (1 + cfg.permutations) as f64
        } else {
            1.0
        };
        let nn = (n1 + n0) as f64;
        let pb = if n1 > 0 && n0 > 0 && nn > 2.0 {
            d / (d * d + (nn - 2.0) * (1.0 / n1 as f64 + 1.0 / n0 as f64)).sqrt()
        } else {
            0.0
        };
        out.push(Candidate {
            name: name.clone(),
            lag_s: if delay.1 > 0 { delay.0 / delay.1 as f64 } else { 0.0 },
            correlation: r,
            effect_size: d,
            point_biserial: pb,
            mean_excursion: m1,
            mean_normal: m0,
            n_excursion: n1,
            n_normal: n0,
            p_value: p,
            p_adjusted: p,
            significant: false,
        });
    }
    holm(&mut out, cfg.alpha);
    out.sort_by(|a, b| b.effect_size.abs().total_cmp(&a.effect_size.abs()));
    Ok(RootCauseReport {
        bins: n,
        excursion_bins: fails,
        candidates: out,
    })
}

/// Holm's step-down adjustment of the candidates' p-values, and their significance at `alpha`.
fn holm(out: &mut [Candidate], alpha: f64) {
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[a].p_value.total_cmp(&out[b].p_value));
    let m = out.len();
    let mut running = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * out[i].p_value).min(1.0));
        out[i].p_adjusted = running;
        out[i].significant = running < alpha;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagged_cause_is_found_with_its_lag_on_synthetic_series() {
        let mut rng = Rng::new(3);
        let n = 3000;
        // cause: slow random walk with bumps; quality follows it 12 bins later
        let mut x = 0.0f64;
        let cause: Vec<f64> = (0..n)
            .map(|i| {
                x = 0.95 * x + 0.3 * rng.normal();
                x + if (i / 300) % 3 == 1 { 3.0 } else { 0.0 }
            })
            .collect();
        let noise: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let qv: Vec<(f64, f64)> = (12..n).map(|i| (i as f64 * 60.0 + 30.0, 0.8 * cause[i - 12] + 0.5 * rng.normal())).collect();
        let q = QualitySignal {
            name: "dim".into(),
            points: qv,
            lower: -10.0,
            upper: 1.5,
        };
        let vars = vec![
            TimeSeries {
                name: "noise".into(),
                points: noise.iter().enumerate().map(|(i, &v)| (i as f64 * 60.0, v)).collect(),
            },
            TimeSeries {
                name: "cause".into(),
                points: cause.iter().enumerate().map(|(i, &v)| (i as f64 * 60.0, v)).collect(),
            },
        ];
        let cfg = RootCauseConfig {
            bin_s: 60.0,
            max_lag_s: 30.0 * 60.0,
            permutations: 199,
            ..RootCauseConfig::default()
        };
        let r = rank_causes(&q, &vars, &cfg).unwrap();
        assert_eq!(r.candidates[0].name, "cause");
        assert!((r.candidates[0].lag_s - 12.0 * 60.0).abs() <= 60.0, "{:?}", r.candidates[0]);
        assert!(r.candidates[0].significant && r.candidates[0].p_value <= 0.01);
        assert!(r.candidates[0].point_biserial > 0.3 && r.candidates[0].point_biserial < 1.0);
        assert!(!r.candidates[1].significant, "{:?}", r.candidates[1]);
        assert!(rank_causes(&QualitySignal { points: vec![], ..q.clone() }, &vars, &cfg).is_err());
        assert!(rank_causes(&q, &vars, &RootCauseConfig { bin_s: 0.0, ..cfg }).is_err());
    }
}
