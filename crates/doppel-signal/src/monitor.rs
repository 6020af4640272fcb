//! [`ChannelMonitor`]: the per-channel streaming processor.
//!
//! Each call to [`ChannelMonitor::process`] takes one frame and makes, from **one** forward real FFT of the
//! Hann-windowed, mean-removed frame:
//!
//! - the time-domain features (computed in the same two passes that window the frame),
//! - the single-sided amplitude spectrum ([`ChannelMonitor::amplitude_spectrum`]),
//! - band RMS values for the configured bands,
//! - the velocity spectrum in mm/s and the velocity RMS over the ISO band (10–1000 Hz by default),
//! - the envelope spectrum of the demodulation band, and the spectral kurtosis of that band's envelope,
//! - every `every_n_frames` frames, a kurtogram that re-selects the demodulation band.
//!
//! Memory is bounded and constant: all buffers are sized in the constructor for the largest band the monitor can
//! demodulate, and steady-state processing does not allocate. FFT plans and the window live in [`FramePlans`],
//! which many monitors of the same frame length can share ([`ChannelMonitor::with_plans`]); a thread serving many
//! channels can also share one [`Scratch`] ([`ChannelMonitor::with_shared_scratch`] + [`ChannelMonitor::process_with`]),
//! leaving about 100 KB per 10 kHz channel (the last complex, amplitude, velocity and envelope spectra).
//!
//! ```
//! use doppel_signal::{Band, ChannelMonitor, MonitorConfig};
//! use doppel_signal::bench::SyntheticVibration;
//! use doppel_signal::integrate::ISO_10816_BAND;
//!
//! let fs = 10_000.0;
//! let recording = SyntheticVibration::default().generate(fs, 30_000, 1); // 3 s, in g
//! let mut monitor = ChannelMonitor::new(fs, 10_000, MonitorConfig::default()).unwrap();
//! for frame in recording.chunks_exact(10_000) {
//!     let f = monitor.process(frame).unwrap();
//!     assert!(f.velocity_rms_mm_s > 1.0 && f.time.kurtosis > 2.0);
//! }
//! // Spectra of the last frame, for diagnosis.
//! let one_x = monitor.amplitude_spectrum().amplitude_near(24.7, 0.5).unwrap(); // g
//! assert!((one_x.peak.amplitude - 0.25).abs() < 0.01);
//! let bpfo = monitor.envelope_spectrum().amplitude_near(88.4, 1.5).unwrap();
//! assert!(bpfo.prominence_db > 10.0);
//! let band = monitor.demodulation_band(); // chosen by the kurtogram
//! assert!(band.lo_hz <= 3300.0 && 3300.0 <= band.hi_hz);
//! let other = monitor.envelope_for_band(Band::new(1000.0, 2000.0)).unwrap();
//! assert_eq!(other.spectrum.df_hz, 1.0);
//! let v = doppel_signal::velocity_rms_mm_s(&monitor.amplitude_spectrum(), doppel_signal::AccelUnit::G, ISO_10816_BAND);
//! assert!((v - monitor.features().unwrap().velocity_rms_mm_s).abs() < 1e-6);
//! ```

use crate::envelope::{EnvelopeSpectrum, envelope_from_spectrum, envelope_len};
use crate::features::TimeFeatures;
use crate::integrate::{AccelUnit, ISO_10816_BAND, velocity_into};
use crate::kurtogram::{Kurtogram, KurtogramConfig, KurtogramPlan};
use crate::plans::{FramePlans, Scratch};
use crate::spectrum::{Spectrum, SpectrumView, amplitudes_into};
use crate::window::WindowKind;
use crate::{Band, MAX_ABS_SAMPLE, SignalError, check_sample_rate};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How the monitor chooses its demodulation (envelope) band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Demodulation {
    /// Always this band.
    Fixed(Band),
    /// The kurtogram's best band, re-selected on the first frame and then every `every_n_frames` frames.
    Kurtogram {
        /// Frames between two kurtograms (≥ 1).
        every_n_frames: u32,
        /// Candidate bands and the limits on the chosen one.
        config: KurtogramConfig,
    },
}

/// Configuration of a [`ChannelMonitor`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MonitorConfig {
    /// Unit of the acceleration samples.
    pub accel_unit: AccelUnit,
    /// Band of the velocity RMS, Hz (ISO 10816-3: 10–1000 Hz).
    pub velocity_band: Band,
    /// Bands whose RMS is reported in [`FrameFeatures::band_rms`], in this order (upper edges clamp to Nyquist).
    pub bands: Vec<Band>,
    /// How the demodulation band is chosen.
    pub demodulation: Demodulation,
}

impl Default for MonitorConfig {
    /// g input, ISO velocity band, bands 10–1000 Hz and 1 kHz–Nyquist, demodulation band by kurtogram every 10
    /// frames (levels up to 5, chosen band at least 400 Hz wide and above 500 Hz).
    fn default() -> Self {
        Self {
            accel_unit: AccelUnit::G,
            velocity_band: ISO_10816_BAND,
            bands: vec![Band::new(10.0, 1000.0), Band::new(1000.0, f64::MAX)],
            demodulation: Demodulation::Kurtogram {
                every_n_frames: 10,
                config: KurtogramConfig {
                    max_level: 5,
                    min_bandwidth_hz: 400.0,
                    max_bandwidth_hz: None,
                    min_frequency_hz: 500.0,
                },
            },
        }
    }
}

/// What one frame produced. Returned by reference from [`ChannelMonitor::process`]; clone it to keep it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameFeatures {
    /// 0 for the first frame processed.
    pub frame_index: u64,
    /// Time-domain features (input unit).
    pub time: TimeFeatures,
    /// Velocity RMS over the configured velocity band, mm/s.
    pub velocity_rms_mm_s: f64,
    /// RMS in each configured band, input unit.
    pub band_rms: Vec<f64>,
    /// The demodulation band of this frame's envelope spectrum.
    pub demodulation_band: Band,
    /// Spectral kurtosis of this frame's envelope in the demodulation band (0 = Gaussian, high = impulsive).
    pub envelope_sk: f64,
    /// Mean of the envelope (the carrier level in the band), input unit.
    pub envelope_mean: f64,
    /// True if a kurtogram ran on this frame.
    pub kurtogram_updated: bool,
}

/// Per-channel streaming processor (see the module documentation).
#[derive(Debug, Clone)]
pub struct ChannelMonitor {
    fs: f64,
    n: usize,
    df: f64,
    config: MonitorConfig,
    band_bins: Vec<Range<usize>>,
    plans: FramePlans,
    /// The monitor's own scratch (empty for monitors made with `with_shared_scratch`).
    own: Scratch,
    /// Scratch lengths this monitor needs: real, small, FFT scratch.
    needs: (usize, usize, usize),
    /// The Hann-windowed, mean-removed half spectrum of the last frame.
    spectrum: Vec<Complex32>,
    kurtogram: Option<(u32, KurtogramPlan)>,
    band: Band,
    band_range: Range<usize>,
    amplitude: Vec<f32>,
    velocity: Vec<f32>,
    envelope: Vec<f32>,
    features: FrameFeatures,
    frames: u64,
}

impl ChannelMonitor {
    /// A monitor for frames of `frame_len` samples (≥ 16) at `sample_rate_hz`, with its own plans.
    pub fn new(sample_rate_hz: f64, frame_len: usize, config: MonitorConfig) -> Result<Self, SignalError> {
        check_sample_rate(sample_rate_hz)?;
        Self::with_plans(sample_rate_hz, FramePlans::new(frame_len)?, config)
    }

    /// A monitor using shared `plans` (from [`FramePlans::new`] with the frame length), with its own scratch.
    pub fn with_plans(sample_rate_hz: f64, plans: FramePlans, config: MonitorConfig) -> Result<Self, SignalError> {
        let mut m = Self::with_shared_scratch(sample_rate_hz, plans, config)?;
        let (r, s, x) = m.needs;
        m.own.ensure(r, s, x);
        Ok(m)
    }

    /// A monitor without scratch of its own, for [`Self::process_with`] with a [`Scratch`] shared by every channel
    /// a thread serves (the per-channel memory is then only the state and the last spectra). [`Self::process`] on
    /// such a monitor allocates its own scratch on first use.
    pub fn with_shared_scratch(sample_rate_hz: f64, plans: FramePlans, config: MonitorConfig) -> Result<Self, SignalError> {
        let fs = check_sample_rate(sample_rate_hz)?;
        let n = plans.frame_len();
        let df = fs / n as f64;
        let bins = plans.bins();
        let mut config = config;
        config.velocity_band = config.velocity_band.validated(fs)?;
        for b in &mut config.bands {
            *b = b.validated(fs)?;
        }
        let band_bins = config.bands.iter().map(|b| b.bin_range(df, bins)).collect();
        let (kurtogram, band, max_env_bins) = match &config.demodulation {
            Demodulation::Fixed(b) => {
                let b = b.validated(fs)?;
                let r = b.bin_range(df, bins);
                if r.is_empty() {
                    return Err(SignalError::EmptyBand {
                        lo_hz: b.lo_hz,
                        hi_hz: b.hi_hz,
                        df_hz: df,
                    });
                }
                (None, b, r.len())
            }
            Demodulation::Kurtogram { every_n_frames, config: kc } => {
                if *every_n_frames == 0 {
                    return Err(SignalError::InvalidParameter {
                        name: "every_n_frames",
                        value: 0.0,
                        reason: "must be at least 1",
                    });
                }
                let plan = KurtogramPlan::new(fs, n, kc)?;
                let band = plan.result().best.band;
                let max_bins = plan.max_eligible_bins();
                (Some((*every_n_frames, plan)), band, max_bins)
            }
        };
        let env_max = envelope_len(max_env_bins);
        let small = env_max.max(kurtogram.as_ref().map_or(0, |(_, p)| p.max_small()));
        let small = small.min(plans.max_small());
        let needs = (n.max(small), small, plans.scratch_len_upto(small));
        let band_range = band.bin_range(df, bins);
        let nb = config.bands.len();
        Ok(Self {
            fs,
            n,
            df,
            band_bins,
            plans,
            own: Scratch::new(),
            needs,
            spectrum: vec![Complex32::default(); bins],
            kurtogram,
            band,
            band_range,
            amplitude: vec![0.0; bins],
            velocity: vec![0.0; bins],
            envelope: Vec::with_capacity(env_max / 2 + 1),
            features: FrameFeatures {
                band_rms: vec![0.0; nb],
                demodulation_band: band,
                ..FrameFeatures::default()
            },
            frames: 0,
            config,
        })
    }

    /// Processes one frame (exactly `frame_len` finite samples within ±[`MAX_ABS_SAMPLE`]) with the monitor's own
    /// scratch. On error the monitor's state is unchanged (the spectra of the previous frame stay readable).
    pub fn process(&mut self, frame: &[f32]) -> Result<&FrameFeatures, SignalError> {
        let mut own = std::mem::take(&mut self.own);
        let result = self.process_inner(frame, &mut own);
        self.own = own;
        result.map(|()| &self.features)
    }

    /// Processes one frame with a borrowed [`Scratch`] (grown on first use if too small). On error the monitor's
    /// state is unchanged.
    pub fn process_with(&mut self, frame: &[f32], scratch: &mut Scratch) -> Result<&FrameFeatures, SignalError> {
        self.process_inner(frame, scratch).map(|()| &self.features)
    }

    fn process_inner(&mut self, frame: &[f32], ws: &mut Scratch) -> Result<(), SignalError> {
        if frame.len() != self.n {
            return Err(SignalError::FrameLength {
                expected: self.n,
                got: frame.len(),
            });
        }
        let (r, s, x) = self.needs;
        ws.ensure(r, s, x);
        let time = TimeFeatures::compute_windowed(frame, self.plans.window().coefficients(), &mut ws.real[..self.n])?;
        if time.mean.abs() + time.peak > f64::from(MAX_ABS_SAMPLE) {
            let index = frame.iter().position(|v| v.abs() > MAX_ABS_SAMPLE).unwrap_or(0);
            return Err(SignalError::SampleOutOfRange { index, value: frame[index] });
        }
        self.plans.forward(&mut ws.real[..self.n], &mut self.spectrum, &mut ws.scratch)?;

        amplitudes_into(&self.spectrum, self.n, self.plans.window().sum(), &mut self.amplitude);
        self.amplitude[0] = time.mean.abs() as f32;
        let enbw2 = 2.0 * WindowKind::Hann.enbw_bins();
        for (out, r) in self.features.band_rms.iter_mut().zip(&self.band_bins) {
            *out = (sum_squares(&self.amplitude[r.clone()]) / enbw2).sqrt();
        }
        velocity_into(&self.amplitude, self.df, self.config.accel_unit, &mut self.velocity);
        let vr = self.config.velocity_band.bin_range(self.df, self.velocity.len());
        let velocity_rms = (sum_squares(&self.velocity[vr]) / enbw2).sqrt();

        let mut kurtogram_updated = false;
        if let Some((every, plan)) = &mut self.kurtogram
            && self.frames.is_multiple_of(u64::from(*every))
        {
            plan.reset();
            plan.accumulate(&self.spectrum, &self.plans, &mut ws.small, &mut ws.scratch)?;
            let best = plan.finish().best.band;
            self.band = best;
            self.band_range = best.bin_range(self.df, self.amplitude.len());
            kurtogram_updated = true;
        }

        let (_, envelope_sk) = envelope_from_spectrum(&self.spectrum, self.n, self.band_range.clone(), &self.plans, ws, &mut self.envelope)?;

        let f = &mut self.features;
        f.frame_index = self.frames;
        f.time = time;
        f.velocity_rms_mm_s = velocity_rms;
        f.demodulation_band = self.band;
        f.envelope_sk = envelope_sk;
        f.envelope_mean = f64::from(self.envelope[0]);
        f.kurtogram_updated = kurtogram_updated;
        self.frames += 1;
        Ok(())
    }

    /// Features of the last frame (`None` before the first).
    pub fn features(&self) -> Option<&FrameFeatures> {
        (self.frames > 0).then_some(&self.features)
    }

    /// Amplitude spectrum of the last frame (input unit, Hann; bin 0 holds |mean|).
    pub fn amplitude_spectrum(&self) -> SpectrumView<'_> {
        SpectrumView::new(self.df, &self.amplitude, WindowKind::Hann)
    }

    /// Velocity spectrum of the last frame, mm/s peak per bin.
    pub fn velocity_spectrum(&self) -> SpectrumView<'_> {
        SpectrumView::new(self.df, &self.velocity, WindowKind::Hann)
    }

    /// Envelope spectrum of the last frame in [`Self::demodulation_band`] (bin 0 holds the envelope's mean).
    pub fn envelope_spectrum(&self) -> SpectrumView<'_> {
        SpectrumView::new(self.df, &self.envelope, WindowKind::Hann)
    }

    /// The current demodulation band.
    pub fn demodulation_band(&self) -> Band {
        self.band
    }

    /// The last kurtogram (`None` with a fixed band).
    pub fn kurtogram(&self) -> Option<&Kurtogram> {
        self.kurtogram.as_ref().map(|(_, p)| p.result())
    }

    /// Envelope spectrum of the last frame demodulated in any `band` (allocates; for diagnosis, not per frame).
    pub fn envelope_for_band(&self, band: Band) -> Result<EnvelopeSpectrum, SignalError> {
        let band = band.validated(self.fs)?;
        let bins = band.bin_range(self.df, self.amplitude.len());
        if bins.is_empty() {
            return Err(SignalError::EmptyBand {
                lo_hz: band.lo_hz,
                hi_hz: band.hi_hz,
                df_hz: self.df,
            });
        }
        let m = envelope_len(bins.len());
        let mut buffers = Scratch::new();
        buffers.ensure(m, m, self.plans.scratch_len_upto(m));
        let mut amplitude = Vec::with_capacity(m / 2 + 1);
        let (_, sk) = envelope_from_spectrum(&self.spectrum, self.n, bins, &self.plans, &mut buffers, &mut amplitude)?;
        Ok(EnvelopeSpectrum {
            spectrum: Spectrum {
                df_hz: self.df,
                amplitude,
                window: WindowKind::Hann,
            },
            band,
            envelope_rate_hz: m as f64 * self.df,
            sk,
        })
    }

    /// Sample rate, Hz.
    pub fn sample_rate_hz(&self) -> f64 {
        self.fs
    }

    /// Frame length, samples.
    pub fn frame_len(&self) -> usize {
        self.n
    }

    /// Frames processed so far.
    pub fn frames_processed(&self) -> u64 {
        self.frames
    }

    /// The validated configuration (band edges clamped to Nyquist).
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// The last frame's Hann-windowed, mean-removed half spectrum (complex DFT values, `frame_len/2 + 1` bins):
    /// divide by `Σw/2` (`frame_len/4` for Hann) for amplitude and phase.
    pub fn complex_spectrum(&self) -> &[Complex32] {
        &self.spectrum
    }

    /// Heap bytes this monitor owns: state, the last spectra, kurtogram tables and its own scratch (none for a
    /// monitor made with [`Self::with_shared_scratch`]). Constant from construction on. The shared [`FramePlans`]
    /// (FFT twiddles and the window) and a shared [`Scratch`] are not included: they exist once per frame length
    /// and once per thread.
    pub fn memory_bytes(&self) -> usize {
        self.own.heap_bytes()
            + self.spectrum.capacity() * size_of::<Complex32>()
            + (self.amplitude.capacity() + self.velocity.capacity() + self.envelope.capacity()) * size_of::<f32>()
            + self.features.band_rms.capacity() * size_of::<f64>()
            + self.band_bins.capacity() * size_of::<Range<usize>>()
            + self.config.bands.capacity() * size_of::<Band>()
            + self.kurtogram.as_ref().map_or(0, |(_, p)| p.heap_bytes())
    }
}

fn sum_squares(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            acc[j] += f64::from(c[j]) * f64::from(c[j]);
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|&a| f64::from(a) * f64::from(a)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::SyntheticVibration;
    use crate::integrate::velocity_rms_mm_s;
    use crate::spectrum::amplitude_spectrum;
    use proptest::prelude::*;

    const FS: f64 = 10_000.0;
    const N: usize = 10_000;

    fn recording(seconds: usize) -> Vec<f32> {
        SyntheticVibration::default().generate(FS, N * seconds, 5)
    }

    #[test]
    fn monitor_matches_the_offline_functions() {
        let x = recording(1);
        let mut m = ChannelMonitor::new(
            FS,
            N,
            MonitorConfig {
                demodulation: Demodulation::Fixed(Band::new(2500.0, 4500.0)),
                ..MonitorConfig::default()
            },
        )
        .unwrap();
        assert!(m.features().is_none());
        let f = m.process(&x).unwrap().clone();
        assert_eq!(f.frame_index, 0);
        assert_eq!(f.time, TimeFeatures::compute(&x).unwrap());
        let offline = amplitude_spectrum(&x, FS, WindowKind::Hann).unwrap();
        let online = m.amplitude_spectrum();
        assert_eq!(online.len(), offline.amplitude.len());
        for (a, b) in online.amplitude.iter().zip(&offline.amplitude) {
            assert!((a - b).abs() <= 1e-5 + 1e-4 * b.abs(), "{a} vs {b}");
        }
        let v_offline = velocity_rms_mm_s(&offline.view(), AccelUnit::G, ISO_10816_BAND);
        assert!((f.velocity_rms_mm_s - v_offline).abs() < 1e-3 * v_offline);
        assert_eq!(f.band_rms.len(), 2);
        let total = (f.band_rms[0].powi(2) + f.band_rms[1].powi(2)).sqrt();
        assert!((total - f.time.rms).abs() < 0.01 * f.time.rms, "{total} vs {}", f.time.rms);
        // 1× shaft line reads its amplitude; the velocity spectrum holds it in mm/s.
        let p = online.amplitude_near(24.7, 1.0).unwrap();
        assert!((p.peak.amplitude - 0.25).abs() < 0.01, "{p:?}");
        let vp = m.velocity_spectrum().amplitude_near(24.7, 1.0).unwrap();
        assert!((vp.peak.amplitude - 0.25 * 9806.65 / (2.0 * std::f64::consts::PI * 24.7)).abs() < 0.5, "{vp:?}");
        // The envelope spectrum shows the impulse rate, same as the offline envelope of the same band.
        let env = m.envelope_spectrum();
        let e = env.amplitude_near(88.4, 1.0).unwrap();
        assert!((e.peak.frequency_hz - 88.4).abs() < 0.3 && e.prominence_db > 15.0, "{e:?}");
        let off = crate::envelope::envelope_spectrum(&x, FS, Band::new(2500.0, 4500.0)).unwrap();
        assert_eq!(off.spectrum.amplitude.len(), env.len());
        for (a, b) in env.amplitude.iter().zip(&off.spectrum.amplitude) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        assert!((f.envelope_sk - off.sk).abs() < 1e-3 && f.envelope_sk > 1.0, "{} {}", f.envelope_sk, off.sk);
        let other = m.envelope_for_band(Band::new(500.0, 1000.0)).unwrap();
        assert!(other.sk < f.envelope_sk);
        assert!(m.kurtogram().is_none());
    }

    #[test]
    fn kurtogram_selects_the_resonance_and_memory_stays_constant() {
        let x = recording(6);
        let mut m = ChannelMonitor::new(
            FS,
            N,
            MonitorConfig {
                demodulation: Demodulation::Kurtogram {
                    every_n_frames: 2,
                    config: KurtogramConfig {
                        min_bandwidth_hz: 400.0,
                        min_frequency_hz: 500.0,
                        ..KurtogramConfig::default()
                    },
                },
                ..MonitorConfig::default()
            },
        )
        .unwrap();
        let before = m.memory_bytes();
        let caps = |m: &ChannelMonitor| {
            (
                m.envelope.capacity(),
                m.own.small.capacity(),
                m.own.real.capacity(),
                m.features.band_rms.capacity(),
            )
        };
        let caps_before = caps(&m);
        for round in 0..5 {
            for (i, frame) in x.chunks_exact(N).enumerate() {
                let f = m.process(frame).unwrap();
                assert_eq!(f.kurtogram_updated, (round * 6 + i) % 2 == 0);
                let band = f.demodulation_band;
                assert!(band.lo_hz <= 3300.0 && band.hi_hz >= 3300.0, "frame {i}: {band:?}");
                assert!(band.width_hz() >= 400.0);
                let e = m.envelope_spectrum().amplitude_near(88.4, 1.0).unwrap();
                assert!(e.prominence_db > 10.0, "{e:?}");
            }
        }
        assert_eq!(m.frames_processed(), 30);
        assert_eq!(m.memory_bytes(), before);
        assert_eq!(caps(&m), caps_before);
        let k = m.kurtogram().unwrap();
        assert!(k.best.sk > 1.0 && k.cells.len() > 50);
        assert!(before < 400_000, "{before}");
    }

    #[test]
    fn bad_input_is_a_typed_error_and_leaves_state_alone() {
        assert!(matches!(
            ChannelMonitor::new(0.0, N, MonitorConfig::default()),
            Err(SignalError::InvalidSampleRate { .. })
        ));
        assert!(matches!(
            ChannelMonitor::new(-5.0, N, MonitorConfig::default()),
            Err(SignalError::InvalidSampleRate { .. })
        ));
        assert!(matches!(
            ChannelMonitor::new(FS, 0, MonitorConfig::default()),
            Err(SignalError::TooShort { .. })
        ));
        let fixed = |b| MonitorConfig {
            demodulation: Demodulation::Fixed(b),
            ..MonitorConfig::default()
        };
        assert!(matches!(
            ChannelMonitor::new(FS, N, fixed(Band::new(6000.0, 7000.0))),
            Err(SignalError::InvalidBand { .. })
        ));
        assert!(matches!(
            ChannelMonitor::new(FS, 100, fixed(Band::new(1010.0, 1050.0))),
            Err(SignalError::EmptyBand { .. })
        ));
        let never = MonitorConfig {
            demodulation: Demodulation::Kurtogram {
                every_n_frames: 0,
                config: KurtogramConfig::default(),
            },
            ..MonitorConfig::default()
        };
        assert!(matches!(ChannelMonitor::new(FS, N, never), Err(SignalError::InvalidParameter { .. })));
        let bad_band = MonitorConfig {
            bands: vec![Band::new(100.0, 50.0)],
            ..MonitorConfig::default()
        };
        assert!(matches!(ChannelMonitor::new(FS, N, bad_band), Err(SignalError::InvalidBand { .. })));

        let mut m = ChannelMonitor::new(FS, N, MonitorConfig::default()).unwrap();
        assert_eq!(m.process(&[]), Err(SignalError::FrameLength { expected: N, got: 0 }));
        assert!(matches!(m.process(&[0.0; 10]), Err(SignalError::FrameLength { .. })));
        let mut x = recording(1);
        m.process(&x).unwrap();
        let spectrum_before = m.amplitude_spectrum().amplitude.to_vec();
        x[1234] = f32::NAN;
        assert_eq!(m.process(&x), Err(SignalError::NonFiniteSample { index: 1234 }));
        x[1234] = f32::INFINITY;
        assert_eq!(m.process(&x), Err(SignalError::NonFiniteSample { index: 1234 }));
        assert_eq!(m.frames_processed(), 1);
        assert_eq!(m.amplitude_spectrum().amplitude, &spectrum_before[..]);
        // A dead (constant) sensor is processed, not an error.
        let f = m.process(&vec![0.3; N]).unwrap();
        assert_eq!((f.time.rms, f.velocity_rms_mm_s, f.envelope_sk), (0.0, 0.0, 0.0));
        assert!(f.band_rms.iter().all(|&b| b == 0.0));
    }

    #[test]
    fn shared_plans_give_identical_results() {
        let plans = FramePlans::new(N).unwrap();
        let x = recording(1);
        let mut a = ChannelMonitor::with_plans(FS, plans.clone(), MonitorConfig::default()).unwrap();
        let mut b = ChannelMonitor::new(FS, N, MonitorConfig::default()).unwrap();
        assert_eq!(a.process(&x).unwrap(), b.process(&x).unwrap());
        assert_eq!(a.envelope_spectrum().amplitude, b.envelope_spectrum().amplitude);
        let serialized = serde_json::to_string(a.features().unwrap()).unwrap();
        assert!(serialized.contains("velocity_rms_mm_s"));
        let cfg: MonitorConfig = serde_json::from_str(&serde_json::to_string(&MonitorConfig::default()).unwrap()).unwrap();
        assert_eq!(cfg, MonitorConfig::default());
    }

    #[test]
    fn a_shared_scratch_serves_many_channels_identically() {
        let plans = FramePlans::new(N).unwrap();
        let x = recording(3);
        let configs = [
            MonitorConfig::default(),
            MonitorConfig {
                demodulation: Demodulation::Fixed(Band::new(100.0, 4900.0)),
                ..MonitorConfig::default()
            },
        ];
        let mut scratch = Scratch::new();
        for config in configs {
            let mut own = ChannelMonitor::with_plans(FS, plans.clone(), config.clone()).unwrap();
            let mut shared = ChannelMonitor::with_shared_scratch(FS, plans.clone(), config).unwrap();
            assert!(shared.memory_bytes() < own.memory_bytes());
            for frame in x.chunks_exact(N) {
                let a = own.process(frame).unwrap().clone();
                let b = shared.process_with(frame, &mut scratch).unwrap();
                assert_eq!(&a, b);
                assert_eq!(own.envelope_spectrum().amplitude, shared.envelope_spectrum().amplitude);
            }
        }
        // The scratch grew to the widest band's needs once and stays there.
        let size = scratch.heap_bytes();
        let mut m = ChannelMonitor::with_shared_scratch(FS, plans, MonitorConfig::default()).unwrap();
        let before = m.memory_bytes();
        for frame in x.chunks_exact(N) {
            m.process_with(frame, &mut scratch).unwrap();
        }
        assert_eq!(scratch.heap_bytes(), size);
        assert_eq!(m.memory_bytes(), before);
        assert!(before < 120_000, "{before}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_frame_gives_a_result_or_a_typed_error(
            x in prop::collection::vec(prop_oneof![any::<f32>(), -1e15f32..1e15, -10.0f32..10.0], 0..300),
            fs in prop_oneof![Just(1000.0), Just(-1.0), Just(0.0), Just(f64::NAN), 1.0f64..1e6],
        ) {
            match ChannelMonitor::new(fs, 256, MonitorConfig::default()) {
                Ok(mut m) => {
                    let r = m.process(&x).cloned();
                    if x.len() != 256 {
                        let ok = matches!(r, Err(SignalError::FrameLength { .. }));
                        prop_assert!(ok, "{:?}", r);
                    } else if x.iter().any(|v| !v.is_finite()) {
                        let ok = matches!(r, Err(SignalError::NonFiniteSample { .. }));
                        prop_assert!(ok, "{:?}", r);
                    } else if x.iter().any(|v| v.abs() > MAX_ABS_SAMPLE) {
                        let ok = matches!(r, Err(SignalError::SampleOutOfRange { .. }));
                        prop_assert!(ok, "{:?}", r);
                    } else {
                        let f = r.unwrap();
                        let t = f.time;
                        for v in [t.rms, t.kurtosis, t.crest_factor, t.skewness, f.velocity_rms_mm_s, f.envelope_sk, f.envelope_mean] {
                            prop_assert!(v.is_finite(), "{:?}", f);
                        }
                        prop_assert!(f.band_rms.iter().all(|b| b.is_finite()));
                        for s in [m.amplitude_spectrum(), m.velocity_spectrum(), m.envelope_spectrum()] {
                            prop_assert!(s.amplitude.iter().all(|a| a.is_finite()));
                        }
                    }
                }
                Err(e) => {
                    let ok = matches!(e, SignalError::InvalidSampleRate { .. } | SignalError::InvalidBand { .. } | SignalError::InvalidParameter { .. } | SignalError::EmptyBand { .. });
                    prop_assert!(ok, "{:?}", e);
                }
            }
        }
    }
}
