//! Acceleration → velocity by integration in the frequency domain: `V(f) = A(f) / (j·2πf)`.
//!
//! Velocity severity in the ISO 10816-3 / 20816-3 sense is the broadband RMS of velocity over 10–1000 Hz in mm/s,
//! computed here by Parseval from the amplitude spectrum of the acceleration:
//! `v_rms² = Σ_{10 ≤ f_k ≤ 1000} (A_k·s / 2πf_k)² / (2·ENBW)`, with `s` converting the acceleration unit to mm/s².

use crate::spectrum::{Spectrum, SpectrumView};
use crate::{Band, SignalError, check_sample_rate, check_samples};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Standard gravity, m/s².
pub const STANDARD_GRAVITY: f64 = 9.80665;

/// The ISO 10816-3 velocity band, 10–1000 Hz.
pub const ISO_10816_BAND: Band = Band::new(10.0, 1000.0);

/// The unit of acceleration samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AccelUnit {
    /// Standard gravity, 1 g = 9.80665 m/s².
    #[default]
    G,
    /// m/s².
    MetrePerSecondSquared,
}

impl AccelUnit {
    /// Factor from this unit to mm/s².
    pub fn to_mm_per_s2(self) -> f64 {
        match self {
            AccelUnit::G => STANDARD_GRAVITY * 1000.0,
            AccelUnit::MetrePerSecondSquared => 1000.0,
        }
    }
}

/// Velocity amplitude spectrum in mm/s (peak) from an acceleration amplitude spectrum. Bin 0 is 0.
pub fn velocity_spectrum(accel: &SpectrumView<'_>, unit: AccelUnit) -> Spectrum {
    let mut amplitude = vec![0.0f32; accel.len()];
    velocity_into(accel.amplitude, accel.df_hz, unit, &mut amplitude);
    Spectrum {
        df_hz: accel.df_hz,
        amplitude,
        window: accel.window,
    }
}

/// `out[k] = accel[k]·s / (2π·k·df)` (0 at DC).
pub(crate) fn velocity_into(accel: &[f32], df_hz: f64, unit: AccelUnit, out: &mut [f32]) {
    let c = (unit.to_mm_per_s2() / (2.0 * PI * df_hz)) as f32;
    for (k, (o, &a)) in out.iter_mut().zip(accel).enumerate().skip(1) {
        *o = a * c / k as f32;
    }
    if let Some(o) = out.first_mut() {
        *o = 0.0;
    }
}

/// Velocity RMS in `band` (mm/s) from an acceleration amplitude spectrum, by Parseval. Use [`ISO_10816_BAND`] for
/// the ISO severity figure.
pub fn velocity_rms_mm_s(accel: &SpectrumView<'_>, unit: AccelUnit, band: Band) -> f64 {
    let r = band.bin_range(accel.df_hz, accel.len());
    let c = unit.to_mm_per_s2() / (2.0 * PI * accel.df_hz);
    let sum: f64 = r.map(|k| (f64::from(accel.amplitude[k]) * c / k as f64).powi(2)).sum();
    (sum / (2.0 * accel.enbw_bins())).sqrt()
}

/// Velocity waveform (mm/s) of an acceleration record, band-limited to `band`: the whole record is transformed
/// (no window, so it is treated as periodic; mean removed), every bin in the band is divided by `j·2πf`, the rest is
/// zeroed, and the result transformed back.
pub fn velocity_waveform(accel: &[f32], sample_rate_hz: f64, unit: AccelUnit, band: Band) -> Result<Vec<f32>, SignalError> {
    check_sample_rate(sample_rate_hz)?;
    check_samples(accel)?;
    let band = band.validated(sample_rate_hz)?;
    let n = accel.len();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut buf = accel.to_vec();
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut buf, &mut spec)?;
    let df = sample_rate_hz / n as f64;
    let r = band.bin_range(df, spec.len());
    let scale = unit.to_mm_per_s2() / n as f64;
    for (k, c) in spec.iter_mut().enumerate() {
        *c = if r.contains(&k) {
            // X / (j·ω) = −j·X / ω
            let w = 2.0 * PI * k as f64 * df;
            Complex32::new(c.im, -c.re) * (scale / w) as f32
        } else {
            Complex32::default()
        };
    }
    // A bin at Nyquist must be real for the inverse real FFT.
    if n.is_multiple_of(2)
        && let Some(last) = spec.last_mut()
    {
        last.im = 0.0;
    }
    inv.process(&mut spec, &mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrum::amplitude_spectrum;
    use crate::window::WindowKind;

    #[test]
    fn velocity_of_a_sine_is_a_over_2_pi_f() {
        let fs = 10_000.0;
        for (f, a_g) in [(49.3, 0.5), (120.0, 1.0), (800.7, 2.0)] {
            let x: Vec<f32> = (0..10_000).map(|i| (a_g * (2.0 * PI * f * i as f64 / fs).sin()) as f32).collect();
            let s = amplitude_spectrum(&x, fs, WindowKind::Hann).unwrap();
            let v_peak = a_g * STANDARD_GRAVITY * 1000.0 / (2.0 * PI * f);
            let rms = velocity_rms_mm_s(&s.view(), AccelUnit::G, ISO_10816_BAND);
            assert!(
                (rms - v_peak / 2f64.sqrt()).abs() / v_peak < 2e-3,
                "f {f}: rms {rms} vs {}",
                v_peak / 2f64.sqrt()
            );
            let vs = velocity_spectrum(&s.view(), AccelUnit::G);
            let p = vs.view().peak_in(f - 5.0, f + 5.0).unwrap();
            assert!((p.amplitude - v_peak).abs() / v_peak < 3e-3, "f {f}: {} vs {v_peak}", p.amplitude);
        }
        // Out of band: a 5 Hz sine contributes (almost) nothing to the 10–1000 Hz figure.
        let x: Vec<f32> = (0..10_000).map(|i| (2.0 * PI * 5.0 * i as f64 / fs).sin() as f32).collect();
        let s = amplitude_spectrum(&x, fs, WindowKind::Hann).unwrap();
        assert!(velocity_rms_mm_s(&s.view(), AccelUnit::G, ISO_10816_BAND) < 1.0);
        let si = amplitude_spectrum(&x, fs, WindowKind::Hann).unwrap();
        assert!(velocity_rms_mm_s(&si.view(), AccelUnit::MetrePerSecondSquared, Band::new(1.0, 10.0)) > 20.0);
    }

    #[test]
    fn velocity_waveform_integrates() {
        let fs = 5000.0;
        let f = 50.0;
        let x: Vec<f32> = (0..5000).map(|i| (2.0 * (2.0 * PI * f * i as f64 / fs).sin()) as f32).collect();
        let v = velocity_waveform(&x, fs, AccelUnit::MetrePerSecondSquared, ISO_10816_BAND).unwrap();
        // ∫ 2 sin(ωt) dt = −(2/ω) cos(ωt), in mm/s.
        let amp = 2000.0 / (2.0 * PI * f);
        for (i, &vi) in v.iter().enumerate().step_by(97) {
            let expected = -amp * (2.0 * PI * f * i as f64 / fs).cos();
            assert!((f64::from(vi) - expected).abs() < 1e-3 * amp, "{i}: {vi} vs {expected}");
        }
        assert!(velocity_waveform(&x, fs, AccelUnit::G, Band::new(3000.0, 4000.0)).is_err());
        assert!(velocity_waveform(&[], fs, AccelUnit::G, ISO_10816_BAND).is_err());
    }
}
