//! Envelope analysis: band-pass, analytic signal, envelope, envelope spectrum — all from one FFT of the frame.
//!
//! The band-pass is a selection of the bins of the Hann-windowed frame spectrum that fall in the band. Those `B`
//! bins, shifted to baseband and zero-padded to a power of two `M ≥ 2B`, go through one small inverse complex
//! FFT: the result is the analytic signal of the band, decimated to `M` samples per frame (the shift changes only
//! its phase). Its magnitude is the envelope, already carrying the Hann taper of the frame, so its real FFT is a
//! Hann-windowed envelope spectrum with the same resolution as the frame spectrum (`df = fs / n`). The envelope's
//! mean leaks only into bin 1 with a Hann taper; that leakage is removed exactly, and bin 0 reports the mean.
//! `M ≥ 2B` keeps the envelope's own spectrum (which reaches up to the bandwidth) from aliasing.
//!
//! Scaling: an amplitude-modulated carrier `C·(1 + m·cos 2πf_m t)·cos 2πf_c t` inside the band gives an envelope
//! spectrum with `C` at DC and `C·m` at `f_m`.

use crate::plans::{FramePlans, Scratch, small_len};
use crate::spectrum::{Spectrum, SpectrumView};
use crate::window::WindowKind;
use crate::{Band, SignalError, check_sample_rate, check_samples, magnitude};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// An envelope spectrum and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSpectrum {
    /// The envelope's amplitude spectrum (input unit; bin 0 holds the envelope's mean). `df_hz` is its resolution;
    /// it reaches up to half the envelope sample rate.
    pub spectrum: Spectrum,
    /// The demodulation band actually used (clamped to Nyquist).
    pub band: Band,
    /// Sample rate of the decimated envelope, Hz.
    pub envelope_rate_hz: f64,
    /// Spectral kurtosis of the band's envelope (0 = Gaussian, −1 = steady tone, high = impulsive).
    pub sk: f64,
}

impl EnvelopeSpectrum {
    /// A borrowed view for peak search.
    pub fn view(&self) -> SpectrumView<'_> {
        self.spectrum.view()
    }
}

/// Length of the small FFTs used for an envelope of a band of `bins` bins.
pub(crate) fn envelope_len(bins: usize) -> usize {
    small_len(2 * bins)
}

/// Envelope spectrum of the band `bins` of `spectrum` (the Hann-windowed, mean-removed half spectrum of a frame
/// of `n` samples) into `out` (cleared first). Returns the envelope length `M` and the spectral kurtosis of the
/// envelope (see [`crate::kurtogram`]; the Hann taper is undone in the moments).
pub(crate) fn envelope_from_spectrum(
    spectrum: &[Complex32],
    n: usize,
    bins: Range<usize>,
    plans: &FramePlans,
    buffers: &mut Scratch,
    out: &mut Vec<f32>,
) -> Result<(usize, f64), SignalError> {
    let Scratch { real, small, scratch } = buffers;
    let b = bins.len();
    let m = envelope_len(b);
    if b == 0 || m > small.len() || m > real.len() {
        return Err(SignalError::Fft(format!("envelope of {b} bins does not fit the workspace")));
    }
    let small = &mut small[..m];
    small[..b].copy_from_slice(&spectrum[bins]);
    small[b..].fill(Complex32::default());
    plans.inverse_small(small, scratch)?;
    let real = &mut real[..m];
    let scale = 2.0 / n as f32;
    let (mut s2, mut s4) = (0.0f64, 0.0f64);
    for (r, c) in real.iter_mut().zip(small.iter()) {
        let e = magnitude(*c) * scale;
        *r = e;
        let p = f64::from(e) * f64::from(e);
        s2 += p;
        s4 += p * p;
    }
    let sk = taper_corrected_sk(s2, s4, m);
    let bins_out = m / 2 + 1;
    let spec = &mut small[..bins_out];
    plans.forward_small(real, spec, scratch)?;
    // The taper at the M envelope samples is the periodic Hann of length M: Σw = M/2, and its DFT is M/2 at DC,
    // −M/4 at bin ±1.
    let m_f = m as f32;
    let mean = spec[0].re / (0.5 * m_f);
    spec[1].re += mean * 0.25 * m_f;
    let k = 2.0 / (0.5 * m_f);
    out.clear();
    out.extend(spec.iter().map(|&c| magnitude(c) * k));
    out[0] = mean;
    if let Some(last) = out.last_mut() {
        *last *= 0.5;
    }
    Ok((m, sk))
}

/// `(Σ|c|⁴/Σw⁴) / (Σ|c|²/Σw²)² − 2` for `m` samples carrying a periodic Hann taper (`Σw² = 3m/8`,
/// `Σw⁴ = 35m/128`); 0 when the band is silent.
pub(crate) fn taper_corrected_sk(s2: f64, s4: f64, m: usize) -> f64 {
    let m = m as f64;
    if !(s2 > 0.0 && s2.is_normal()) {
        return 0.0;
    }
    let sk = (s4 / (35.0 * m / 128.0)) / (s2 / (3.0 * m / 8.0)).powi(2) - 2.0;
    if sk.is_finite() { sk } else { 0.0 }
}

/// Envelope spectrum of the whole of `x` demodulated in `band` (one Hann window over all samples, so the resolution
/// is `fs / len`).
pub fn envelope_spectrum(x: &[f32], sample_rate_hz: f64, band: Band) -> Result<EnvelopeSpectrum, SignalError> {
    check_sample_rate(sample_rate_hz)?;
    check_samples(x)?;
    let band = band.validated(sample_rate_hz)?;
    let n = x.len();
    let df = sample_rate_hz / n as f64;
    let bins = band.bin_range(df, n / 2 + 1);
    if bins.is_empty() {
        return Err(SignalError::EmptyBand {
            lo_hz: band.lo_hz,
            hi_hz: band.hi_hz,
            df_hz: df,
        });
    }
    let m = envelope_len(bins.len());
    let plans = FramePlans::with_small_sizes(n, &[m], &[m])?;
    let mut buffers = Scratch::new();
    buffers.ensure(n.max(m), m, plans.scratch_len());
    let mut spectrum = vec![Complex32::default(); n / 2 + 1];
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    for ((r, &v), &w) in buffers.real.iter_mut().zip(x).zip(plans.window().coefficients()) {
        *r = (f64::from(v) - mean) as f32 * w;
    }
    plans.forward(&mut buffers.real[..n], &mut spectrum, &mut buffers.scratch)?;
    let mut amplitude = Vec::with_capacity(m / 2 + 1);
    let (_, sk) = envelope_from_spectrum(&spectrum, n, bins, &plans, &mut buffers, &mut amplitude)?;
    Ok(EnvelopeSpectrum {
        spectrum: Spectrum {
            df_hz: df,
            amplitude,
            window: WindowKind::Hann,
        },
        band,
        envelope_rate_hz: m as f64 * df,
        sk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn am_carrier_shows_its_modulation() {
        let fs = 10_000.0;
        let (fc, fm, depth) = (2500.0, 37.3, 0.4);
        let x: Vec<f32> = (0..10_000)
            .map(|i| {
                let t = i as f64 / fs;
                (1.5 * (1.0 + depth * (2.0 * PI * fm * t).cos()) * (2.0 * PI * fc * t).cos()) as f32
            })
            .collect();
        let e = envelope_spectrum(&x, fs, Band::new(2000.0, 3000.0)).unwrap();
        assert_eq!(e.spectrum.df_hz, 1.0);
        assert_eq!(e.envelope_rate_hz, 2048.0);
        let v = e.view();
        assert!((f64::from(v.amplitude[0]) - 1.5).abs() < 0.01, "mean {}", v.amplitude[0]);
        let p = v.peak_in(5.0, 500.0).unwrap();
        assert!((p.frequency_hz - fm).abs() < 0.05, "{p:?}");
        assert!((p.amplitude - 1.5 * depth).abs() < 0.01, "{p:?}");
        // Nothing else: bin 1 is clean after the mean-leakage correction, and no second line.
        assert!(v.amplitude[1] < 0.01);
        let second = v.find_peaks(5.0, 500.0, 2);
        assert!(second.len() < 2 || second[1].amplitude < 0.01, "{second:?}");
    }

    #[test]
    fn impulses_exciting_a_resonance_show_the_repetition_frequency() {
        let fs = 10_000.0;
        let n = 10_000;
        let rep = 87.5; // like a BPFO
        let mut x = crate::bench::gaussian_noise(n, 0.2, 1);
        crate::bench::add_impulses(&mut x, fs, rep, 3200.0, 1.0, 600.0);
        let e = envelope_spectrum(&x, fs, Band::new(2500.0, 4000.0)).unwrap();
        let v = e.view();
        let near = v.amplitude_near(rep, 2.0).unwrap();
        assert!((near.peak.frequency_hz - rep).abs() < 0.3, "{near:?}");
        assert!(near.prominence_db > 15.0, "{near:?}");
        let h2 = v.amplitude_near(2.0 * rep, 2.0).unwrap();
        assert!(h2.prominence_db > 10.0, "{h2:?}");
        // The raw spectrum has no line at the repetition frequency itself.
        let raw = crate::spectrum::amplitude_spectrum(&x, fs, WindowKind::Hann).unwrap();
        assert!(raw.view().amplitude_near(rep, 2.0).unwrap().prominence_db < 10.0);
    }

    #[test]
    fn bad_bands_are_errors() {
        let x = vec![0.5f32; 1000];
        assert!(matches!(
            envelope_spectrum(&x, 1000.0, Band::new(600.0, 700.0)),
            Err(SignalError::InvalidBand { .. })
        ));
        assert!(matches!(
            envelope_spectrum(&x, 1000.0, Band::new(100.2, 100.8)),
            Err(SignalError::EmptyBand { .. })
        ));
        assert!(matches!(
            envelope_spectrum(&x, -1.0, Band::new(1.0, 2.0)),
            Err(SignalError::InvalidSampleRate { .. })
        ));
        // A constant input has a zero envelope, not NaN.
        let e = envelope_spectrum(&x, 1000.0, Band::new(100.0, 200.0)).unwrap();
        assert!(e.spectrum.amplitude.iter().all(|a| *a == 0.0));
    }
}
