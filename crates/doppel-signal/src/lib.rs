//! # doppel-signal
//!
//! Vibration signal processing for condition monitoring. Pure and synchronous: samples in, spectra and
//! features out; no threads, no clock and no I/O (except [`bench`](mod@bench), which times the pipeline and runs
//! the numpy reference script).
//!
//! | module | what |
//! |---|---|
//! | [`window`] | Hann and rectangular windows with coherent gain and equivalent noise bandwidth (ENBW) |
//! | [`spectrum`] | single-sided amplitude spectra (a sine of amplitude `A` reads `A`), Welch averaging, interpolated peak search, amplitude near a target frequency with a median background |
//! | [`features`] | time-domain features in one pass: mean, RMS, peak, peak-to-peak, crest factor, kurtosis, skewness |
//! | [`health`] | health indicators per snapshot of a run-to-failure recording and alarm thresholds learned from its healthy start |
//! | [`diagnosis`] | the analyst's rules: bearing defect, unbalance and misalignment from envelope and velocity spectra, with evidence |
//! | [`integrate`] | acceleration → velocity in the frequency domain (divide by `j·2πf`), velocity spectra and band RMS in mm/s (ISO 10816 style) |
//! | [`envelope`] | band-pass by FFT-bin selection, analytic signal by a small inverse FFT at baseband, envelope spectrum |
//! | [`kurtogram`] | spectral kurtosis of the complex envelope over a 1/3-binary tree of bands (fast-kurtogram style) to choose the demodulation band |
//! | [`monitor`] | [`ChannelMonitor`]: per-channel streaming processor, one forward FFT per frame shared by everything above, no allocation in steady state; [`FramePlans`] and [`Scratch`] shared between channels |
//! | [`bench`](mod@bench) | channels-per-core benchmark on synthetic 10 kHz frames and the comparison with `bench/signal_numpy.py` |
//!
//! ## Conventions
//!
//! - Samples are `f32`; sample rates are `f64` in Hz; frequencies are Hz.
//! - Spectra are single-sided **peak amplitude** spectra in the unit of the input: a sine `A·sin(2πft)` reads `A` at
//!   its bin (after the window's coherent gain is divided out). Bin `k` is at `k·df` Hz, `df = fs / n`.
//! - The energy (mean square) in a band is `Σ A_k² / (2·ENBW)`, which is exact for noise and for tones (Parseval).
//! - Kurtosis is the plain (non-excess) fourth standardised moment: a normal distribution reads 3, a sine 1.5.
//! - Accelerations are in g unless an [`AccelUnit`] says otherwise; velocities are in mm/s.
//!
//! ```
//! use doppel_signal::spectrum::amplitude_spectrum;
//! use doppel_signal::window::WindowKind;
//! let fs = 1000.0;
//! let x: Vec<f32> = (0..1000).map(|i| (2.0 * std::f64::consts::PI * 123.4 * i as f64 / fs).sin() as f32 * 2.0).collect();
//! let s = amplitude_spectrum(&x, fs, WindowKind::Hann).unwrap();
//! let p = s.view().peak_in(100.0, 150.0).unwrap();
//! assert!((p.frequency_hz - 123.4).abs() < 0.01 && (p.amplitude - 2.0).abs() < 0.01);
//! ```

pub mod bench;
pub mod diagnosis;
pub mod envelope;
pub mod features;
pub mod health;
pub mod integrate;
pub mod kurtogram;
pub mod monitor;
pub mod spectrum;
pub mod window;

mod plans;

pub use envelope::{EnvelopeSpectrum, envelope_spectrum};
pub use features::TimeFeatures;
pub use integrate::{AccelUnit, velocity_rms_mm_s, velocity_spectrum};
pub use kurtogram::{Kurtogram, KurtogramCell, KurtogramConfig, kurtogram_of_recording};
pub use monitor::{ChannelMonitor, Demodulation, FrameFeatures, MonitorConfig};
pub use plans::{FramePlans, Scratch};
pub use rustfft::num_complex::Complex32;
pub use spectrum::{Peak, PeakNear, Spectrum, SpectrumView, amplitude_spectrum, welch};
pub use window::{Window, WindowKind};

/// A frequency band `[lo_hz, hi_hz)`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Band {
    /// Lower edge, Hz (inclusive).
    pub lo_hz: f64,
    /// Upper edge, Hz (exclusive; clamped to the Nyquist frequency where a band is used).
    pub hi_hz: f64,
}

impl Band {
    /// A band `[lo_hz, hi_hz)`.
    pub const fn new(lo_hz: f64, hi_hz: f64) -> Self {
        Self { lo_hz, hi_hz }
    }

    /// Width, Hz.
    pub fn width_hz(&self) -> f64 {
        self.hi_hz - self.lo_hz
    }

    /// Centre, Hz.
    pub fn centre_hz(&self) -> f64 {
        0.5 * (self.lo_hz + self.hi_hz)
    }

    /// Checks the band against a sample rate and returns it with `hi_hz` clamped to the Nyquist frequency.
    pub fn validated(self, sample_rate_hz: f64) -> Result<Band, SignalError> {
        let nyquist = 0.5 * sample_rate_hz;
        if !(self.lo_hz.is_finite() && self.hi_hz.is_finite() && self.lo_hz >= 0.0 && self.hi_hz > self.lo_hz && self.lo_hz < nyquist) {
            return Err(SignalError::InvalidBand {
                lo_hz: self.lo_hz,
                hi_hz: self.hi_hz,
                nyquist_hz: nyquist,
            });
        }
        Ok(Band::new(self.lo_hz, self.hi_hz.min(nyquist)))
    }

    /// The FFT bins `k` with `lo_hz ≤ k·df < hi_hz`, restricted to `1..bins` (the DC bin is never part of a band).
    pub(crate) fn bin_range(&self, df_hz: f64, bins: usize) -> std::ops::Range<usize> {
        let lo = ((self.lo_hz / df_hz).ceil().max(1.0) as usize).min(bins);
        let hi = ((self.hi_hz / df_hz).ceil().max(0.0) as usize).min(bins).max(lo);
        lo..hi
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignalError {
    #[error("the input holds no samples")]
    EmptyInput,
    #[error("sample {index} is not a finite number")]
    NonFiniteSample { index: usize },
    #[error("sample {index} = {value} is beyond ±{MAX_ABS_SAMPLE:e}, where the f32 FFTs could overflow")]
    SampleOutOfRange { index: usize, value: f32 },
    #[error("sample rate {value} Hz is invalid: must be a finite number > 0")]
    InvalidSampleRate { value: f64 },
    #[error("parameter `{name}` = {value} is invalid: {reason}")]
    InvalidParameter { name: &'static str, value: f64, reason: &'static str },
    #[error("frame has {got} samples, the monitor expects {expected}")]
    FrameLength { expected: usize, got: usize },
    #[error("input has {got} samples, at least {needed} are needed")]
    TooShort { needed: usize, got: usize },
    #[error("band [{lo_hz}, {hi_hz}) Hz is invalid: need 0 ≤ lo < hi, finite, and lo below the Nyquist frequency {nyquist_hz} Hz")]
    InvalidBand { lo_hz: f64, hi_hz: f64, nyquist_hz: f64 },
    #[error("band [{lo_hz}, {hi_hz}) Hz holds no FFT bin at a resolution of {df_hz} Hz")]
    EmptyBand { lo_hz: f64, hi_hz: f64, df_hz: f64 },
    #[error("FFT failed: {0}")]
    Fft(String),
    #[error("benchmark failed: {0}")]
    Bench(String),
}

/// Largest sample magnitude the spectral functions accept (far beyond any physical sensor reading; keeps every
/// intermediate of the `f32` FFTs finite). Time-domain features alone ([`TimeFeatures::compute`]) accept any
/// finite value.
pub const MAX_ABS_SAMPLE: f32 = 1e15;

/// `|c|`, computed in `f64` so no intermediate overflows (and faster than `hypot`).
#[inline]
pub(crate) fn magnitude(c: Complex32) -> f32 {
    (f64::from(c.re) * f64::from(c.re) + f64::from(c.im) * f64::from(c.im)).sqrt() as f32
}

/// Checks that a sample rate is finite and > 0.
pub(crate) fn check_sample_rate(fs: f64) -> Result<f64, SignalError> {
    if fs.is_finite() && fs > 0.0 {
        Ok(fs)
    } else {
        Err(SignalError::InvalidSampleRate { value: fs })
    }
}

/// Checks that a signal is non-empty and every sample is finite.
pub(crate) fn check_samples(x: &[f32]) -> Result<(), SignalError> {
    if x.is_empty() {
        return Err(SignalError::EmptyInput);
    }
    match x.iter().position(|v| !v.is_finite() || v.abs() > MAX_ABS_SAMPLE) {
        Some(index) if x[index].is_finite() => Err(SignalError::SampleOutOfRange { index, value: x[index] }),
        Some(index) => Err(SignalError::NonFiniteSample { index }),
        None => Ok(()),
    }
}

impl From<realfft::FftError> for SignalError {
    fn from(e: realfft::FftError) -> Self {
        SignalError::Fft(e.to_string())
    }
}
