//! Spectral kurtosis over a tree of bands, to choose the demodulation band (a fast-kurtogram-style search).
//!
//! Candidate bands form Antoni's 1/3-binary tree up to `max_level`: level `k` splits `[0, fs/2]` into `2^k` bands
//! of width `fs/2^(k+1)`, and between levels `k` and `k+1` a level labelled `k + 0.6` (log₂3 − 1 ≈ 0.585) splits it
//! into `3·2^(k−1)` bands of width `fs/(3·2^k)`. For each band the complex envelope `c` of the frame in that band
//! (band bins of the frame's Hann-windowed FFT, one small inverse FFT at baseband, as in [`crate::envelope`]) gives
//!
//! `SK = E|c|⁴ / (E|c|²)² − 2`
//!
//! — the kurtosis of the squared envelope, normalised so stationary Gaussian noise reads 0 and a steady tone −1,
//! while repetitive impulses ringing a resonance read high. The frame's Hann taper is undone in the moments:
//! `E|c|² = Σ|c_w|² / Σw²` and `E|c|⁴ = Σ|c_w|⁴ / Σw⁴`, which is unbiased for a stationary signal and keeps the
//! frame edges from creating false impulses. The selected band is the one with the highest SK among the bands that
//! satisfy the bandwidth and frequency limits of [`KurtogramConfig`].
//!
//! Cost: each level touches every bin once, so a kurtogram costs about `2·max_level` small inverse FFTs of the
//! frame's half length. Run it every N frames in a monitor, or over a whole recording with
//! [`kurtogram_of_recording`] (moments accumulate over half-overlapping segments, so memory stays bounded).

use crate::plans::{FramePlans, small_len};
use crate::{Band, SignalError, check_sample_rate, check_samples};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Which bands the kurtogram considers and which it may choose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KurtogramConfig {
    /// Deepest integer level (bands down to `fs/2^(max_level+1)` wide). 0..=12.
    pub max_level: u32,
    /// Narrowest band that may be chosen, Hz (the envelope spectrum of a band reaches up to about its width).
    pub min_bandwidth_hz: f64,
    /// Widest band that may be chosen, Hz (`None`: no limit).
    pub max_bandwidth_hz: Option<f64>,
    /// Lowest lower edge of a band that may be chosen, Hz (keeps shaft harmonics out of the demodulation band).
    pub min_frequency_hz: f64,
}

impl Default for KurtogramConfig {
    fn default() -> Self {
        Self {
            max_level: 5,
            min_bandwidth_hz: 0.0,
            max_bandwidth_hz: None,
            min_frequency_hz: 0.0,
        }
    }
}

impl KurtogramConfig {
    /// Checks the limits.
    pub fn validate(&self) -> Result<(), SignalError> {
        if self.max_level > 12 {
            return Err(SignalError::InvalidParameter {
                name: "max_level",
                value: f64::from(self.max_level),
                reason: "must be at most 12",
            });
        }
        for (name, v) in [("min_bandwidth_hz", self.min_bandwidth_hz), ("min_frequency_hz", self.min_frequency_hz)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SignalError::InvalidParameter {
                    name,
                    value: v,
                    reason: "must be a finite number ≥ 0",
                });
            }
        }
        if let Some(v) = self.max_bandwidth_hz
            && !(v.is_finite() && v > 0.0)
        {
            return Err(SignalError::InvalidParameter {
                name: "max_bandwidth_hz",
                value: v,
                reason: "must be a finite number > 0",
            });
        }
        Ok(())
    }
}

/// One cell of the kurtogram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KurtogramCell {
    /// Level label: `k` for the binary levels, `k + 0.585` for the ternary ones.
    pub level: f64,
    /// The band.
    pub band: Band,
    /// Spectral kurtosis of the band's complex envelope (0 for Gaussian noise, −1 for a tone; 0 for a silent band).
    pub sk: f64,
    /// Whether the config allows choosing this band.
    pub eligible: bool,
}

/// A kurtogram: every cell, and the eligible cell with the highest SK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kurtogram {
    /// All cells, level by level, low to high frequency within a level.
    pub cells: Vec<KurtogramCell>,
    /// The chosen demodulation band.
    pub best: KurtogramCell,
}

/// Per-band sums for the spectral kurtosis.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Moments {
    s2: f64,
    s4: f64,
    w2: f64,
    w4: f64,
}

impl Moments {
    fn sk(&self) -> f64 {
        if !(self.s2 > 0.0 && self.s2.is_normal() && self.w2 > 0.0 && self.w4 > 0.0) {
            return 0.0;
        }
        let e2 = self.s2 / self.w2;
        let e4 = self.s4 / self.w4;
        let sk = e4 / (e2 * e2) - 2.0;
        if sk.is_finite() { sk } else { 0.0 }
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    bins: Range<usize>,
    m: usize,
}

/// The candidate bands for one sample rate and frame length, with the per-band buffers sized once.
#[derive(Debug, Clone)]
pub(crate) struct KurtogramPlan {
    candidates: Vec<Candidate>,
    moments: Vec<Moments>,
    result: Kurtogram,
}

impl KurtogramPlan {
    /// Candidates for frames of `n` samples at `fs`.
    pub fn new(fs: f64, n: usize, config: &KurtogramConfig) -> Result<Self, SignalError> {
        check_sample_rate(fs)?;
        config.validate()?;
        let nyquist = 0.5 * fs;
        let df = fs / n as f64;
        let nbins = n / 2 + 1;
        let mut cells = Vec::new();
        let mut candidates = Vec::new();
        let mut push = |level: f64, count: usize, width: f64| {
            for i in 0..count {
                let band = Band::new(i as f64 * width, ((i + 1) as f64 * width).min(nyquist));
                let bins = band.bin_range(df, nbins);
                if bins.is_empty() {
                    continue;
                }
                let eligible = band.width_hz() >= config.min_bandwidth_hz - 1e-9
                    && config.max_bandwidth_hz.is_none_or(|m| band.width_hz() <= m + 1e-9)
                    && band.lo_hz >= config.min_frequency_hz - 1e-9;
                let m = small_len(bins.len());
                candidates.push(Candidate { bins, m });
                cells.push(KurtogramCell {
                    level,
                    band,
                    sk: 0.0,
                    eligible,
                });
            }
        };
        for k in 0..=config.max_level {
            push(f64::from(k), 1 << k, nyquist / f64::from(1u32 << k));
            if k < config.max_level && k >= 1 {
                push(f64::from(k) + 3f64.log2() - 1.0, 3 << (k - 1), nyquist / (3.0 * f64::from(1u32 << (k - 1))));
            }
        }
        let best = cells.iter().find(|c| c.eligible).copied().ok_or(SignalError::InvalidParameter {
            name: "min_bandwidth_hz",
            value: config.min_bandwidth_hz,
            reason: "no kurtogram band satisfies the bandwidth and frequency limits",
        })?;
        Ok(Self {
            moments: vec![Moments::default(); candidates.len()],
            candidates,
            result: Kurtogram { cells, best },
        })
    }

    /// The largest small FFT the kurtogram itself needs.
    pub fn max_small(&self) -> usize {
        self.candidates.iter().map(|c| c.m).max().unwrap_or(0)
    }

    /// The widest eligible band, in bins.
    pub fn max_eligible_bins(&self) -> usize {
        self.candidates
            .iter()
            .zip(&self.result.cells)
            .filter(|(_, c)| c.eligible)
            .map(|(c, _)| c.bins.len())
            .max()
            .unwrap_or(0)
    }

    /// Every small FFT length the plan uses.
    pub fn small_sizes(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.candidates.iter().map(|c| c.m).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Forgets accumulated moments.
    pub fn reset(&mut self) {
        self.moments.fill(Moments::default());
    }

    /// Adds one frame (its Hann-windowed, mean-removed half spectrum) to the moments of every band.
    pub fn accumulate(&mut self, spectrum: &[Complex32], plans: &FramePlans, small: &mut [Complex32], scratch: &mut [Complex32]) -> Result<(), SignalError> {
        for (cand, mom) in self.candidates.iter().zip(self.moments.iter_mut()) {
            let b = cand.bins.len();
            let buf = &mut small[..cand.m];
            buf[..b].copy_from_slice(&spectrum[cand.bins.clone()]);
            buf[b..].fill(Complex32::default());
            plans.inverse_small(buf, scratch)?;
            let (mut s2, mut s4) = (0.0f64, 0.0f64);
            for c in buf.iter() {
                let p = f64::from(c.re).powi(2) + f64::from(c.im).powi(2);
                s2 += p;
                s4 += p * p;
            }
            let m = cand.m as f64;
            mom.s2 += s2;
            mom.s4 += s4;
            // The taper at the M samples is the periodic Hann of length M: Σw² = 3M/8, Σw⁴ = 35M/128.
            mom.w2 += 3.0 * m / 8.0;
            mom.w4 += 35.0 * m / 128.0;
        }
        Ok(())
    }

    /// Computes SK from the accumulated moments and returns the kurtogram.
    pub fn finish(&mut self) -> &Kurtogram {
        let mut best: Option<KurtogramCell> = None;
        for (cell, mom) in self.result.cells.iter_mut().zip(&self.moments) {
            cell.sk = mom.sk();
            if cell.eligible && best.is_none_or(|b| cell.sk > b.sk) {
                best = Some(*cell);
            }
        }
        if let Some(b) = best {
            self.result.best = b;
        }
        &self.result
    }

    /// The last result.
    pub fn result(&self) -> &Kurtogram {
        &self.result
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.candidates.capacity() * size_of::<Candidate>()
            + self.moments.capacity() * size_of::<Moments>()
            + self.result.cells.capacity() * size_of::<KurtogramCell>()
    }
}

/// Kurtogram of a whole recording: half-overlapping Hann segments of `segment_len` samples (the whole record if it
/// is shorter), moments accumulated per band over all segments. The resolution of the tree's narrowest bands is
/// `fs / segment_len`, so choose `segment_len` ≥ a few times `2^(max_level+1)`.
pub fn kurtogram_of_recording(x: &[f32], sample_rate_hz: f64, segment_len: usize, config: &KurtogramConfig) -> Result<Kurtogram, SignalError> {
    check_sample_rate(sample_rate_hz)?;
    check_samples(x)?;
    config.validate()?;
    let seg = segment_len.min(x.len());
    let needed = 1usize << (config.max_level.min(12) + 2);
    if seg < needed.max(16) {
        return Err(SignalError::TooShort {
            needed: needed.max(16),
            got: seg,
        });
    }
    let mut plan = KurtogramPlan::new(sample_rate_hz, seg, config)?;
    let sizes = plan.small_sizes();
    let plans = FramePlans::with_small_sizes(seg, &sizes, &[])?;
    let mut real = vec![0.0f32; seg];
    let mut spectrum = vec![Complex32::default(); seg / 2 + 1];
    let mut small = vec![Complex32::default(); plan.max_small()];
    let mut scratch = vec![Complex32::default(); plans.scratch_len()];
    let step = (seg / 2).max(1);
    let mut start = 0;
    while start + seg <= x.len() {
        let frame = &x[start..start + seg];
        let mean = frame.iter().map(|&v| f64::from(v)).sum::<f64>() / seg as f64;
        for ((r, &v), &w) in real.iter_mut().zip(frame).zip(plans.window().coefficients()) {
            *r = (f64::from(v) - mean) as f32 * w;
        }
        plans.forward(&mut real, &mut spectrum, &mut scratch)?;
        plan.accumulate(&spectrum, &plans, &mut small, &mut scratch)?;
        start += step;
    }
    Ok(plan.finish().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_has_the_fast_kurtogram_layout() {
        let plan = KurtogramPlan::new(10_000.0, 10_000, &KurtogramConfig::default()).unwrap();
        let cells = &plan.result().cells;
        // Levels 0..=5: 1+2+4+8+16+32 = 63 binary cells; 1.6..4.6: 3+6+12+24 = 45 ternary cells.
        assert_eq!(cells.len(), 108);
        assert_eq!(cells[0].band, Band::new(0.0, 5000.0));
        let l16: Vec<_> = cells.iter().filter(|c| (c.level - 1.585).abs() < 0.01).collect();
        assert_eq!(l16.len(), 3);
        assert!((l16[1].band.lo_hz - 5000.0 / 3.0).abs() < 1e-9);
        let limited = KurtogramPlan::new(
            10_000.0,
            10_000,
            &KurtogramConfig {
                min_bandwidth_hz: 400.0,
                max_bandwidth_hz: Some(2500.0),
                min_frequency_hz: 1000.0,
                ..KurtogramConfig::default()
            },
        )
        .unwrap();
        assert!(
            limited
                .result()
                .cells
                .iter()
                .filter(|c| c.eligible)
                .all(|c| c.band.width_hz() >= 400.0 && c.band.width_hz() <= 2500.0 && c.band.lo_hz >= 1000.0)
        );
        let none = KurtogramConfig {
            min_bandwidth_hz: 6000.0,
            ..KurtogramConfig::default()
        };
        assert!(matches!(KurtogramPlan::new(10_000.0, 10_000, &none), Err(SignalError::InvalidParameter { .. })));
    }

    #[test]
    fn picks_the_resonance_band_of_impulses_buried_in_noise() {
        let fs = 20_000.0;
        let n = 40_000;
        let mut x = crate::bench::gaussian_noise(n, 1.0, 21);
        // Shaft harmonics (strong, low) and impulses at 93 Hz ringing a 6.2 kHz resonance, below the noise RMS.
        crate::bench::add_tone(&mut x, fs, 29.0, 3.0);
        crate::bench::add_tone(&mut x, fs, 58.0, 1.0);
        crate::bench::add_impulses(&mut x, fs, 93.0, 6200.0, 2.0, 900.0);
        let rms = crate::features::TimeFeatures::compute(&x).unwrap();
        assert!(rms.kurtosis < 3.5, "the raw signal must not look impulsive: {}", rms.kurtosis);
        let k = kurtogram_of_recording(&x, fs, 8192, &KurtogramConfig::default()).unwrap();
        let best = k.best;
        assert!(best.band.lo_hz <= 6200.0 && best.band.hi_hz >= 6200.0, "{best:?}");
        assert!(best.sk > 0.5, "{best:?}");
        // A band away from the resonance is Gaussian-like.
        let far = k.cells.iter().find(|c| c.level == 3.0 && c.band.lo_hz == 1250.0).unwrap();
        assert!(far.sk.abs() < 0.5, "{far:?}");
        // Pure noise: nothing stands out.
        let noise = crate::bench::gaussian_noise(n, 1.0, 22);
        let kn = kurtogram_of_recording(&noise, fs, 8192, &KurtogramConfig::default()).unwrap();
        assert!(kn.cells.iter().filter(|c| c.level <= 4.0).all(|c| c.sk.abs() < 0.6), "{:?}", kn.best);
    }

    #[test]
    fn bad_inputs() {
        let cfg = KurtogramConfig::default();
        assert!(matches!(
            kurtogram_of_recording(&[0.0; 50], 1000.0, 50, &cfg),
            Err(SignalError::TooShort { .. })
        ));
        assert!(matches!(kurtogram_of_recording(&[], 1000.0, 50, &cfg), Err(SignalError::EmptyInput)));
        assert!(matches!(
            kurtogram_of_recording(&[0.0; 500], 0.0, 500, &cfg),
            Err(SignalError::InvalidSampleRate { .. })
        ));
        let big = KurtogramConfig { max_level: 13, ..cfg };
        assert!(matches!(
            kurtogram_of_recording(&[0.0; 500], 1000.0, 500, &big),
            Err(SignalError::InvalidParameter { .. })
        ));
        // Silence: defined (all 0), no NaN.
        let k = kurtogram_of_recording(&[0.0; 4096], 1000.0, 1024, &cfg).unwrap();
        assert!(k.cells.iter().all(|c| c.sk == 0.0));
    }
}
