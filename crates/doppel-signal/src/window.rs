//! Analysis windows with the constants needed for correct amplitude and energy scaling.
//!
//! The Hann window is the *periodic* (DFT-even) one, `w[n] = 0.5 − 0.5·cos(2πn/N)`: its DFT has exactly three
//! non-zero lines, its coherent gain is exactly 0.5 and its equivalent noise bandwidth exactly 1.5 bins. A sine
//! between two bins reads at most 1.42 dB low at the nearest bin (scalloping); [`crate::spectrum`]'s peak
//! interpolation removes that.

use crate::SignalError;
use serde::{Deserialize, Serialize};

/// The window shapes this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WindowKind {
    /// Periodic Hann: good amplitude accuracy after interpolation, low leakage (sidelobes fall 18 dB/octave).
    Hann,
    /// No window: exact for bin-centred tones and periodic signals, heavy leakage otherwise.
    Rectangular,
}

impl WindowKind {
    /// The coefficient at sample `n` of a window of length `len`.
    pub fn coefficient(self, n: usize, len: usize) -> f64 {
        match self {
            WindowKind::Hann => 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / len as f64).cos(),
            WindowKind::Rectangular => 1.0,
        }
    }

    /// Equivalent noise bandwidth in bins (exact for the periodic Hann of any length ≥ 3).
    pub fn enbw_bins(self) -> f64 {
        match self {
            WindowKind::Hann => 1.5,
            WindowKind::Rectangular => 1.0,
        }
    }

    /// Window response magnitude, relative to its peak, for a tone `delta` bins from a bin centre (|delta| ≤ 1),
    /// in the large-`N` limit. Used to undo scalloping after interpolation.
    pub(crate) fn relative_response(self, delta: f64) -> f64 {
        let d = delta.abs();
        if d < 1e-9 {
            return 1.0;
        }
        let sinc = (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d);
        match self {
            WindowKind::Hann => sinc / (1.0 - d * d).max(1e-12),
            WindowKind::Rectangular => sinc,
        }
    }

    /// Fractional bin offset (−0.5..0.5) of a tone from the magnitudes of its peak bin `b` and the larger
    /// neighbour `c`, exact for an isolated tone in the large-`N` limit.
    pub(crate) fn offset_from_ratio(self, b: f64, c: f64) -> f64 {
        if b <= 0.0 {
            return 0.0;
        }
        let d = match self {
            // |W(1−δ)|/|W(δ)| = (1+δ)/(2−δ)  ⇒  δ = (2c − b)/(b + c)
            WindowKind::Hann => (2.0 * c - b) / (b + c),
            // |W(1−δ)|/|W(δ)| = δ/(1−δ)  ⇒  δ = c/(b + c)
            WindowKind::Rectangular => c / (b + c),
        };
        d.clamp(0.0, 0.5)
    }
}

/// A window of a given length with its sums precomputed.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    kind: WindowKind,
    coefficients: Vec<f32>,
    sum: f64,
    sum_squares: f64,
}

impl Window {
    /// A window of `len` samples. Errors if `len` is 0.
    pub fn new(kind: WindowKind, len: usize) -> Result<Self, SignalError> {
        if len == 0 {
            return Err(SignalError::EmptyInput);
        }
        let coefficients: Vec<f32> = (0..len).map(|n| kind.coefficient(n, len) as f32).collect();
        let sum = (0..len).map(|n| kind.coefficient(n, len)).sum::<f64>();
        let sum_squares = (0..len).map(|n| kind.coefficient(n, len).powi(2)).sum::<f64>();
        Ok(Self {
            kind,
            coefficients,
            sum,
            sum_squares,
        })
    }

    /// The window shape.
    pub fn kind(&self) -> WindowKind {
        self.kind
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.coefficients.len()
    }

    /// Always false: a window has at least one sample.
    pub fn is_empty(&self) -> bool {
        self.coefficients.is_empty()
    }

    /// The coefficients.
    pub fn coefficients(&self) -> &[f32] {
        &self.coefficients
    }

    /// `Σ w[n]`: divide a DFT magnitude by this (and double it off DC) to read a tone's amplitude.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `Σ w[n]²`.
    pub fn sum_squares(&self) -> f64 {
        self.sum_squares
    }

    /// Coherent gain `Σw / N` (0.5 for Hann, 1 for rectangular).
    pub fn coherent_gain(&self) -> f64 {
        self.sum / self.len() as f64
    }

    /// Equivalent noise bandwidth in bins, `N·Σw² / (Σw)²` (1.5 for Hann, 1 for rectangular).
    pub fn enbw_bins(&self) -> f64 {
        self.len() as f64 * self.sum_squares / (self.sum * self.sum)
    }

    /// Writes `x[n]·w[n]` into `out`. Both must have the window's length.
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        for ((o, &v), &w) in out.iter_mut().zip(x).zip(&self.coefficients) {
            *o = v * w;
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.coefficients.capacity() * size_of::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_constants_are_exact() {
        let w = Window::new(WindowKind::Hann, 1000).unwrap();
        assert!((w.coherent_gain() - 0.5).abs() < 1e-12);
        assert!((w.enbw_bins() - 1.5).abs() < 1e-9);
        assert_eq!(w.coefficients()[0], 0.0);
        assert!((w.coefficients()[500] - 1.0).abs() < 1e-7);
        let r = Window::new(WindowKind::Rectangular, 8).unwrap();
        assert_eq!(r.coherent_gain(), 1.0);
        assert_eq!(r.enbw_bins(), 1.0);
        assert_eq!(Window::new(WindowKind::Hann, 0), Err(SignalError::EmptyInput));
    }

    #[test]
    fn hann_scalloping_is_1_42_db() {
        let loss_db = -20.0 * WindowKind::Hann.relative_response(0.5).log10();
        assert!((loss_db - 1.42).abs() < 0.01, "{loss_db}");
        assert!((WindowKind::Hann.offset_from_ratio(1.0, 0.5) - 0.0).abs() < 1e-12);
    }
}
