//! Time-domain features of a frame, computed in two vectorisable passes (mean and extremes, then central moments).
//!
//! All shape features are taken about the mean (the sensor's DC offset is removed first):
//!
//! | feature | definition | sine | Gaussian noise |
//! |---|---|---|---|
//! | `rms` | `√m₂`, `m_k = mean((x − x̄)^k)` | `A/√2` | `σ` |
//! | `peak` | `max |x − x̄|` | `A` | ≈ 4σ per 10⁴ samples |
//! | `peak_to_peak` | `max x − min x` | `2A` | |
//! | `crest_factor` | `peak / rms` | `√2` | |
//! | `kurtosis` | `m₄ / m₂²`, **not** excess kurtosis | 1.5 | 3 |
//! | `skewness` | `m₃ / m₂^1.5` | 0 | 0 |
//!
//! A constant frame (all samples equal) has `rms`, `peak`, `peak_to_peak` = 0, and its shape features
//! (`crest_factor`, `kurtosis`, `skewness`), which are undefined there, are reported as 0. Moments accumulate in
//! `f64`, so any finite `f32` input gives finite features.

use crate::SignalError;
use serde::{Deserialize, Serialize};

const LANES: usize = 8;

/// Time-domain features of one frame (see the module documentation for definitions).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TimeFeatures {
    /// Arithmetic mean (DC offset), input unit.
    pub mean: f64,
    /// RMS of the mean-removed signal (population standard deviation), input unit.
    pub rms: f64,
    /// Largest absolute deviation from the mean, input unit.
    pub peak: f64,
    /// Largest minus smallest sample, input unit.
    pub peak_to_peak: f64,
    /// `peak / rms` (0 for a constant frame).
    pub crest_factor: f64,
    /// Fourth standardised moment, non-excess: normal = 3, sine = 1.5 (0 for a constant frame).
    pub kurtosis: f64,
    /// Third standardised moment (0 for a constant frame).
    pub skewness: f64,
}

impl TimeFeatures {
    /// Features of `x`. Errors on an empty input or a non-finite sample.
    pub fn compute(x: &[f32]) -> Result<Self, SignalError> {
        let first = first_pass(x)?;
        let (m2, m3, m4) = central_moments(x, first.mean, None);
        Ok(first.finish(x.len(), m2, m3, m4))
    }

    /// Features of `x`, and `out[i] = (x[i] − mean)·window[i]` written in the same pass (the monitor's FFT input).
    /// `window` and `out` must have `x`'s length.
    pub(crate) fn compute_windowed(x: &[f32], window: &[f32], out: &mut [f32]) -> Result<Self, SignalError> {
        let first = first_pass(x)?;
        let (m2, m3, m4) = central_moments(x, first.mean, Some((window, out)));
        Ok(first.finish(x.len(), m2, m3, m4))
    }
}

struct FirstPass {
    mean: f64,
    min: f32,
    max: f32,
}

impl FirstPass {
    fn finish(&self, n: usize, s2: f64, s3: f64, s4: f64) -> TimeFeatures {
        let n = n as f64;
        let (m2, m3, m4) = (s2 / n, s3 / n, s4 / n);
        let peak_to_peak = f64::from(self.max) - f64::from(self.min);
        let peak = (f64::from(self.max) - self.mean).max(self.mean - f64::from(self.min)).max(0.0);
        if self.max == self.min || m2 <= 0.0 || !m2.is_normal() {
            return TimeFeatures {
                mean: self.mean,
                rms: 0.0,
                peak: if self.max == self.min { 0.0 } else { peak },
                peak_to_peak,
                crest_factor: 0.0,
                kurtosis: 0.0,
                skewness: 0.0,
            };
        }
        let rms = m2.sqrt();
        TimeFeatures {
            mean: self.mean,
            rms,
            peak,
            peak_to_peak,
            crest_factor: peak / rms,
            kurtosis: m4 / (m2 * m2),
            skewness: m3 / (m2 * rms),
        }
    }
}

/// Mean, minimum and maximum; checks for emptiness and non-finite samples.
fn first_pass(x: &[f32]) -> Result<FirstPass, SignalError> {
    if x.is_empty() {
        return Err(SignalError::EmptyInput);
    }
    let mut sum = [0.0f64; LANES];
    let mut lo = [f32::INFINITY; LANES];
    let mut hi = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            sum[j] += f64::from(c[j]);
            lo[j] = lo[j].min(c[j]);
            hi[j] = hi[j].max(c[j]);
        }
    }
    for (j, &v) in rest.iter().enumerate() {
        sum[j] += f64::from(v);
        lo[j] = lo[j].min(v);
        hi[j] = hi[j].max(v);
    }
    let total: f64 = sum.iter().sum();
    // A NaN or ±∞ sample makes the f64 sum non-finite (finite f32 samples cannot overflow an f64 sum).
    if !total.is_finite() {
        let index = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(SignalError::NonFiniteSample { index });
    }
    Ok(FirstPass {
        mean: total / x.len() as f64,
        min: lo.iter().copied().fold(f32::INFINITY, f32::min),
        max: hi.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    })
}

/// Sums of the 2nd, 3rd and 4th powers of `x − mean`; optionally writes the windowed, mean-removed signal.
fn central_moments(x: &[f32], mean: f64, windowed: Option<(&[f32], &mut [f32])>) -> (f64, f64, f64) {
    let mut s2 = [0.0f64; LANES];
    let mut s3 = [0.0f64; LANES];
    let mut s4 = [0.0f64; LANES];
    let mut step = |j: usize, v: f32| -> f64 {
        let d = f64::from(v) - mean;
        let d2 = d * d;
        s2[j] += d2;
        s3[j] += d2 * d;
        s4[j] += d2 * d2;
        d
    };
    match windowed {
        None => {
            let chunks = x.chunks_exact(LANES);
            let rest = chunks.remainder();
            for c in chunks {
                for (j, &v) in c.iter().enumerate() {
                    step(j, v);
                }
            }
            for (j, &v) in rest.iter().enumerate() {
                step(j, v);
            }
        }
        Some((w, out)) => {
            let mut xc = x.chunks_exact(LANES);
            let mut wc = w.chunks_exact(LANES);
            let mut oc = out.chunks_exact_mut(LANES);
            for ((c, wv), o) in (&mut xc).zip(&mut wc).zip(&mut oc) {
                for j in 0..LANES {
                    o[j] = step(j, c[j]) as f32 * wv[j];
                }
            }
            for (j, ((&v, &wv), o)) in xc.remainder().iter().zip(wc.remainder()).zip(oc.into_remainder()).enumerate() {
                *o = step(j, v) as f32 * wv;
            }
        }
    }
    (s2.iter().sum(), s3.iter().sum(), s4.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::f64::consts::PI;

    fn sine(n: usize, cycles: f64, amp: f64, offset: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (offset + amp * (2.0 * PI * cycles * i as f64 / n as f64).sin()) as f32)
            .collect()
    }

    #[test]
    fn sine_has_crest_sqrt2_and_kurtosis_1_5() {
        let f = TimeFeatures::compute(&sine(10_000, 37.0, 2.0, 5.0)).unwrap();
        assert!((f.mean - 5.0).abs() < 1e-6);
        assert!((f.rms - 2.0 / 2f64.sqrt()).abs() < 1e-5);
        assert!((f.peak - 2.0).abs() < 1e-3);
        assert!((f.peak_to_peak - 4.0).abs() < 1e-3);
        assert!((f.crest_factor - 2f64.sqrt()).abs() < 1e-3);
        assert!((f.kurtosis - 1.5).abs() < 1e-4);
        assert!(f.skewness.abs() < 1e-4);
    }

    #[test]
    fn gaussian_noise_has_kurtosis_3() {
        let x = crate::bench::gaussian_noise(200_000, 1.5, 7);
        let f = TimeFeatures::compute(&x).unwrap();
        assert!((f.kurtosis - 3.0).abs() < 0.05, "{}", f.kurtosis);
        assert!(f.skewness.abs() < 0.03);
        assert!((f.rms - 1.5).abs() < 0.01);
    }

    #[test]
    fn skewness_sign_and_windowed_output() {
        // Rare large positive excursions: positive skewness.
        let x: Vec<f32> = (0..1000).map(|i| if i % 50 == 0 { 10.0 } else { 0.0 }).collect();
        assert!(TimeFeatures::compute(&x).unwrap().skewness > 1.0);
        let w = vec![0.5f32; 1003];
        let y: Vec<f32> = (0..1003).map(|i| i as f32).collect();
        let mut out = vec![0.0f32; 1003];
        let f = TimeFeatures::compute_windowed(&y, &w, &mut out).unwrap();
        assert_eq!(f, TimeFeatures::compute(&y).unwrap());
        assert!((out[0] - (0.0 - 501.0) * 0.5).abs() < 1e-3 && (out[1002] - (1002.0 - 501.0) * 0.5).abs() < 1e-3);
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(TimeFeatures::compute(&[]), Err(SignalError::EmptyInput));
        assert_eq!(TimeFeatures::compute(&[1.0, f32::NAN, 2.0]), Err(SignalError::NonFiniteSample { index: 1 }));
        assert_eq!(
            TimeFeatures::compute(&[1.0, 2.0, f32::NEG_INFINITY]),
            Err(SignalError::NonFiniteSample { index: 2 })
        );
        let c = TimeFeatures::compute(&[0.1; 33]).unwrap();
        assert_eq!(
            (c.rms, c.peak, c.peak_to_peak, c.crest_factor, c.kurtosis, c.skewness),
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        );
        assert!((c.mean - 0.1).abs() < 1e-7);
        let one = TimeFeatures::compute(&[3.0]).unwrap();
        assert_eq!(one.rms, 0.0);
        let extreme = TimeFeatures::compute(&[f32::MAX, -f32::MAX, f32::MAX, 0.0]).unwrap();
        assert!(extreme.kurtosis.is_finite() && extreme.crest_factor.is_finite() && extreme.rms.is_finite());
    }

    proptest! {
        #[test]
        fn finite_input_gives_finite_features(x in prop::collection::vec(any::<f32>().prop_filter("finite", |v| v.is_finite()), 1..300)) {
            let f = TimeFeatures::compute(&x).unwrap();
            for v in [f.mean, f.rms, f.peak, f.peak_to_peak, f.crest_factor, f.kurtosis, f.skewness] {
                prop_assert!(v.is_finite());
            }
            prop_assert!(f.rms >= 0.0 && f.peak >= 0.0 && f.peak_to_peak >= 0.0);
            // Bounds that hold for any sample: crest ≤ √n, 1 ≤ kurtosis ≤ n (when defined).
            if f.rms > 0.0 && f.rms.is_normal() {
                let n = x.len() as f64;
                prop_assert!(f.crest_factor <= n.sqrt() * (1.0 + 1e-6));
                prop_assert!(f.kurtosis <= n * (1.0 + 1e-6) && f.kurtosis >= 1.0 - 1e-6);
            }
        }

        #[test]
        fn shape_features_are_scale_and_offset_invariant(
            x in prop::collection::vec(-1000.0f32..1000.0, 8..200),
            scale in 0.001f32..1000.0,
            offset in -100.0f32..100.0,
        ) {
            let a = TimeFeatures::compute(&x).unwrap();
            prop_assume!(a.rms * f64::from(scale) > 1e-2 * (1.0 + f64::from(offset.abs())));
            let y: Vec<f32> = x.iter().map(|v| v * scale + offset).collect();
            let b = TimeFeatures::compute(&y).unwrap();
            let close = |p: f64, q: f64| (p - q).abs() <= 1e-3 * (1.0 + p.abs());
            prop_assert!(close(a.crest_factor, b.crest_factor), "crest {} vs {}", a.crest_factor, b.crest_factor);
            prop_assert!(close(a.kurtosis, b.kurtosis), "kurtosis {} vs {}", a.kurtosis, b.kurtosis);
            prop_assert!((a.skewness - b.skewness).abs() <= 1e-3 * (1.0 + a.skewness.abs()));
            prop_assert!(close(a.rms * f64::from(scale), b.rms));
        }

        #[test]
        fn constant_input_is_defined(v in any::<f32>().prop_filter("finite", |v| v.is_finite()), n in 1usize..100) {
            let f = TimeFeatures::compute(&vec![v; n]).unwrap();
            prop_assert_eq!((f.rms, f.peak, f.peak_to_peak, f.crest_factor, f.kurtosis), (0.0, 0.0, 0.0, 0.0, 0.0));
        }
    }
}
