//! Statistics of replications: means with Student-t confidence intervals.
//!
//! For n independent replications with sample mean x̄ and sample standard deviation s, the
//! 100(1−α) % confidence interval of the mean is `x̄ ± t(1−α/2; n−1)·s/√n` (Law, *Simulation Modeling and
//! Analysis*, 5th ed., §9.4.1). Paired differences between a baseline and a variant run with common random
//! numbers use the same interval on the per-replication differences (Law §10.2, the paired-t approach),
//! which is much narrower than comparing two independent intervals when the runs are positively correlated.
//!
//! The t quantile is computed exactly by bisection on the t distribution function
//! `F(t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½)`, with the regularised incomplete beta function by its continued fraction
//! (modified Lentz; Numerical Recipes §6.4) and ln Γ by the Lanczos approximation (g = 7, 9 terms).

use serde::{Deserialize, Serialize};

fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Regularised incomplete beta function I_x(a, b).
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let bt = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        bt * beta_cf(a, b, x) / a
    } else {
        1.0 - bt * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Distribution function of Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * inc_beta(0.5 * df, 0.5, df / (df + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// Quantile of Student's t (0 < p < 1), by bisection to 1e-12.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_cdf(hi, df) < p && hi < 1e8 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// A mean with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    /// Half-width of the confidence interval (0 with fewer than two values).
    pub half_width: f64,
    pub sd: f64,
    pub n: usize,
    pub level: f64,
}

impl Estimate {
    /// Mean and `level` (e.g. 0.95) Student-t interval of `xs`.
    pub fn of(xs: &[f64], level: f64) -> Estimate {
        let n = xs.len();
        if n == 0 {
            return Estimate {
                mean: f64::NAN,
                half_width: f64::NAN,
                sd: f64::NAN,
                n,
                level,
            };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Estimate {
                mean,
                half_width: 0.0,
                sd: 0.0,
                n,
                level,
            };
        }
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let t = t_quantile(0.5 + 0.5 * level, (n - 1) as f64);
        Estimate {
            mean,
            half_width: t * sd / (n as f64).sqrt(),
            sd,
            n,
            level,
        }
    }

    pub fn lower(&self) -> f64 {
        self.mean - self.half_width
    }

    pub fn upper(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether `x` lies inside the interval.
    pub fn contains(&self, x: f64) -> bool {
        x >= self.lower() && x <= self.upper()
    }

    /// Whether the interval excludes zero (a significant difference at the interval's level).
    pub fn excludes_zero(&self) -> bool {
        self.lower() > 0.0 || self.upper() < 0.0
    }
}

/// Per-replication differences `b[i] − a[i]` as an estimate (paired t).
pub fn paired_difference(a: &[f64], b: &[f64], level: f64) -> Estimate {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    Estimate::of(&d, level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Student t table values (two-sided 95 % and 99 %)
        for (df, q95, q99) in [
            (1.0, 12.706_204_736, 63.656_741_162),
            (4.0, 2.776_445_105, 4.604_094_871),
            (19.0, 2.093_024_054, 2.860_934_606),
            (100.0, 1.983_971_519, 2.625_890_521),
        ] {
            assert!((t_quantile(0.975, df) - q95).abs() < 1e-6, "{df}: {}", t_quantile(0.975, df));
            assert!((t_quantile(0.995, df) - q99).abs() < 1e-6, "{df}: {}", t_quantile(0.995, df));
        }
        assert!((t_quantile(0.025, 19.0) + 2.093_024_054).abs() < 1e-6);
        assert!((t_cdf(0.0, 5.0) - 0.5).abs() < 1e-15);
        assert!((inc_beta(2.0, 3.0, 0.4) - 0.5248).abs() < 1e-10);
    }

    #[test]
    fn estimates_and_paired_differences() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(e.mean, 3.0);
        assert!((e.sd - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((e.half_width - 2.776_445_105 * 2.5f64.sqrt() / 5f64.sqrt()).abs() < 1e-6);
        assert!(e.contains(3.0) && !e.contains(10.0) && e.excludes_zero());
        let d = paired_difference(&[1.0, 2.0, 3.0], &[1.5, 2.4, 3.6], 0.95);
        assert!((d.mean - 0.5).abs() < 1e-12 && d.excludes_zero());
        assert_eq!(Estimate::of(&[7.0], 0.95).half_width, 0.0);
        assert!(Estimate::of(&[], 0.95).mean.is_nan());
    }
}
