//! The remaining-useful-life distribution the planner works with: equally weighted scenarios (hours of life left
//! at rated load, from now), e.g. quantiles of the conformal predictive distribution of the RUL model.
//!
//! A model trained on a capped RUL cannot see beyond its cap: scenarios at or above `cap_h` are *censored* —
//! the asset survives at least that long. They never fail inside the cap; beyond it the planner treats them as
//! surviving the horizon, which the rolling re-planning revisits as the predictions move below the cap.
//!
//! ## Waiting is worth something: the warning lead
//! A plan is re-optimised as predictions change. For an asset the model does not flag yet (nothing visible), a
//! scenario that fails at `t` will usually *become visible* before it happens: the model flags failures some lead
//! `L` ahead (its [`RulDist::warning_leads_h`], measured on the training lives' out-of-fold predictions). If the
//! flag comes at a later decision with enough time left to repair, that scenario ends in a planned repair, not a
//! failure — so running on now is cheaper than the bare failure probability says, and replacing a healthy-looking
//! component "in case" is not worth it. [`RulDist::caught_later`] is that probability, per scenario.

use serde::{Deserialize, Serialize};

/// RUL scenarios, hours at rated load from now, sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulDist {
    samples: Vec<f64>,
    /// The model's cap: scenarios at or above it are censored (alive beyond it, time unknown).
    cap_h: Option<f64>,
    /// For an asset the model does not flag yet: how long before failure the model flags failures (hours, sorted,
    /// one per training life). Empty: no such knowledge, or the asset is flagged already (see the module docs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warning_h: Vec<f64>,
}

/// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
#[must_use]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

impl RulDist {
    /// From scenarios (hours; negative values are clamped to 0, non-finite ones dropped).
    #[must_use]
    pub fn from_samples(samples: impl IntoIterator<Item = f64>, cap_h: Option<f64>) -> RulDist {
        let mut s: Vec<f64> = samples.into_iter().filter(|v| v.is_finite()).map(|v| v.max(0.0)).collect();
        s.sort_by(f64::total_cmp);
        RulDist {
            samples: s,
            cap_h: cap_h.filter(|c| c.is_finite() && *c > 0.0),
            warning_h: Vec::new(),
        }
    }

    /// An asset with no sign of a coming failure: no scenario fails within any horizon.
    #[must_use]
    pub fn healthy() -> RulDist {
        RulDist {
            samples: Vec::new(),
            cap_h: None,
            warning_h: Vec::new(),
        }
    }

    /// From a point prediction and a central interval of the given coverage, as `n` quantiles of the
    /// log-normal whose median is `rul_h` and whose quantiles at `(1 ± coverage)/2` match the interval's
    /// widest side (conservative when the interval is skewed). For sources that only give an interval.
    #[must_use]
    pub fn from_interval(rul_h: f64, lower_h: f64, upper_h: f64, coverage: f64, cap_h: Option<f64>, n: usize) -> RulDist {
        let median = rul_h.max(0.05);
        let z = normal_quantile(0.5 + coverage.clamp(0.05, 0.999) / 2.0);
        let lo = (median / lower_h.max(0.01)).ln().abs();
        let hi = (upper_h.max(0.01) / median).ln().abs();
        let sigma = (lo.max(hi) / z).max(1e-3);
        let n = n.max(1);
        let samples = (0..n).map(|i| {
            let p = (i as f64 + 0.5) / n as f64;
            median * (sigma * normal_quantile(p)).exp()
        });
        let d = RulDist::from_samples(samples, cap_h);
        match cap_h {
            Some(c) => RulDist::from_samples(d.samples.into_iter().map(|v| v.min(c)), cap_h),
            None => d,
        }
    }

    /// The same distribution for an asset the model does not flag yet, whose failures the model flags
    /// `leads_h` hours ahead (one lead per training life; non-finite and negative values dropped).
    #[must_use]
    pub fn with_warning(mut self, leads_h: impl IntoIterator<Item = f64>) -> RulDist {
        let mut w: Vec<f64> = leads_h.into_iter().filter(|v| v.is_finite() && *v >= 0.0).collect();
        w.sort_by(f64::total_cmp);
        self.warning_h = w;
        self
    }

    /// Warning leads, hours, sorted (empty: the asset is flagged, or the source gives none).
    #[must_use]
    pub fn warning_leads_h(&self) -> &[f64] {
        &self.warning_h
    }

    /// Probability that a failure `t_h` hours from now, of an asset not flagged now, is flagged at a later decision
    /// (decisions every `slot_h` hours, the next one `slot_h` from now) with at least `react_h` hours left to
    /// repair it: over the leads `L < t_h` (the asset is not flagged now, so its lead is shorter than the time
    /// left), the share whose flag at `t_h − L`, seen at the next decision, leaves `react_h`. Zero without warning
    /// leads, or when no training life was flagged that late (nothing suggests waiting would reveal it).
    #[must_use]
    pub fn caught_later(&self, t_h: f64, slot_h: f64, react_h: f64) -> f64 {
        let below = self.warning_h.partition_point(|&l| l < t_h);
        if below == 0 || slot_h.is_nan() || slot_h <= 0.0 {
            return 0.0;
        }
        let caught = self.warning_h[..below]
            .iter()
            .filter(|&&l| {
                let decision = slot_h * ((t_h - l) / slot_h).ceil().max(1.0);
                t_h - decision >= react_h
            })
            .count();
        caught as f64 / below as f64
    }

    #[must_use]
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    #[must_use]
    pub fn cap_h(&self) -> Option<f64> {
        self.cap_h
    }

    /// Whether scenario value `s` is censored (at or above the model's cap).
    #[must_use]
    pub fn is_censored(&self, s: f64) -> bool {
        self.censored(s)
    }

    fn censored(&self, s: f64) -> bool {
        self.cap_h.is_some_and(|c| s >= c * (1.0 - 1e-9))
    }

    /// P(failure within `t_h` hours) when life is consumed at `rate` × the rated rate (1 = rated, derated
    /// assets below 1).
    #[must_use]
    pub fn prob_before(&self, t_h: f64, rate: f64) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let limit = t_h * rate;
        let n = self.samples.partition_point(|&s| s < limit && !self.censored(s));
        n as f64 / self.samples.len() as f64
    }

    /// Per scenario: `Some(failure time in hours)` at consumption `rate` when it fails before `t_h`, else `None`.
    pub fn failures_before(&self, t_h: f64, rate: f64) -> impl Iterator<Item = Option<f64>> + '_ {
        let rate = rate.max(1e-9);
        self.samples.iter().map(move |&s| {
            let t = s / rate;
            (t < t_h && !self.censored(s)).then_some(t)
        })
    }

    /// Number of scenarios.
    #[must_use]
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Median RUL in hours at rated load (`None` without scenarios).
    #[must_use]
    pub fn median(&self) -> Option<f64> {
        (!self.samples.is_empty()).then(|| self.samples[self.samples.len() / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_follow_the_scenarios_and_derating_stretches_them() {
        let d = RulDist::from_samples([10.0, 20.0, 30.0, 40.0], None);
        assert_eq!(d.prob_before(25.0, 1.0), 0.5);
        // at half the consumption rate, the 10 h scenario fails at 20 h
        assert_eq!(d.prob_before(25.0, 0.5), 0.25);
        assert_eq!(RulDist::healthy().prob_before(1e9, 1.0), 0.0);
    }

    #[test]
    fn waiting_catches_failures_the_model_flags_early_enough() {
        let d = RulDist::from_samples([50.0, 100.0], None);
        assert_eq!(d.caught_later(100.0, 8.0, 10.0), 0.0, "no warning leads: no value in waiting");
        let d = d.with_warning([f64::NAN, 0.0, 20.0, 40.0, 60.0, 200.0]);
        assert_eq!(d.warning_leads_h(), [0.0, 20.0, 40.0, 60.0, 200.0]);
        // Failure in 100 h: leads 0, 20, 40, 60 are possible (200 would have flagged it already). Lead 0 is never
        // caught; lead 20 flags at 80 h, seen at the decision at 80 h, 20 h left >= 10: caught; 40 and 60 too.
        assert_eq!(d.caught_later(100.0, 8.0, 10.0), 0.75);
        // With 30 h needed to repair, only the leads of 40 (flag 60 h, seen at 64 h, 36 h left) and 60 are caught.
        assert_eq!(d.caught_later(100.0, 8.0, 30.0), 0.5);
        // A failure within the next slot cannot be caught by a later decision.
        assert_eq!(d.caught_later(5.0, 8.0, 1.0), 0.0);
        // No lead shorter than the time left: the model would have flagged it already — do not count on waiting.
        let early = RulDist::from_samples([50.0], None).with_warning([300.0, 400.0]);
        assert_eq!(early.caught_later(50.0, 8.0, 10.0), 0.0);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<RulDist>(&json).unwrap(), d);
        assert!(!serde_json::to_string(&RulDist::healthy()).unwrap().contains("warning"));
    }

    #[test]
    fn censored_scenarios_never_fail() {
        let d = RulDist::from_samples([10.0, 125.0, 125.0, 125.0], Some(125.0));
        assert_eq!(d.prob_before(1000.0, 1.0), 0.25);
        assert_eq!(d.failures_before(1000.0, 1.0).flatten().count(), 1);
    }

    #[test]
    fn an_interval_gives_a_lognormal_with_that_coverage() {
        let d = RulDist::from_interval(100.0, 50.0, 200.0, 0.9, None, 1000);
        let p_lo = d.prob_before(50.0, 1.0);
        let p_hi = d.prob_before(200.0, 1.0);
        assert!((p_lo - 0.05).abs() < 0.01, "{p_lo}");
        assert!((p_hi - 0.95).abs() < 0.01, "{p_hi}");
        assert!((d.median().unwrap() - 100.0).abs() < 1.0);
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-5);
    }
}
