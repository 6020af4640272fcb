//! Health indicators of short vibration snapshots, and alarm thresholds learned from a healthy baseline.
//!
//! Run-to-failure monitoring (e.g. the FEMTO-ST PRONOSTIA bearing tests) records a short snapshot every few
//! seconds; trending a few scalar indicators per snapshot and alarming when one leaves its healthy range is the
//! classic detection stage before diagnosis and prognosis (Lei et al., "Machinery health prognostics: A systematic
//! review from data acquisition to RUL prediction", MSSP 104 (2018) 799–834).
//!
//! [`HealthIndicators::compute`] gives, for one snapshot:
//!
//! | indicator | definition |
//! |---|---|
//! | `rms`, `peak`, `kurtosis`, `crest_factor` | time-domain features of the mean-removed snapshot ([`TimeFeatures`]) |
//! | `velocity_rms_mm_s` | broadband velocity RMS 10–1000 Hz (ISO 10816-3), mm/s, from a Hann amplitude spectrum |
//! | `envelope_defect_rms` | RMS of the envelope-spectrum bins within ± [`HealthConfig::tolerance`] (at least ± 1 bin) of the first [`HealthConfig::harmonics`] harmonics of BPFO, BPFI and BSF, each bin counted once |
//! | `envelope_rms` | RMS of the envelope spectrum over [`HealthConfig::modulation_band`]: how strongly the demodulation band is modulated, whatever the frequency |
//! | `band_rms` | RMS of the acceleration in the demodulation band (the high-frequency energy that impacts excite) |
//! | `max_abs` | largest `|x|` of the raw samples (not mean-removed), for failure criteria such as "above 20 g" |
//!
//! The demodulation band defaults to the wide band of [`crate::diagnosis::diagnose_recording`]:
//! `[4 × the highest defect frequency, 0.9 × Nyquist]`.
//!
//! [`persistent_alarm`] sets an indicator's threshold from the first snapshots of a run (assumed healthy):
//! `mean + k·σ` of the baseline (σ with `n − 1`), and raises an alarm once the indicator stays above the threshold
//! for [`AlarmRule::persistence`] consecutive snapshots after the baseline. Shorter excursions are counted as false
//! alarms that persistence suppressed.

use serde::Serialize;

use crate::diagnosis::BearingFrequencies;
use crate::integrate::ISO_10816_BAND;
use crate::window::WindowKind;
use crate::{AccelUnit, Band, SignalError, TimeFeatures, amplitude_spectrum, envelope_spectrum, velocity_rms_mm_s};

/// How [`HealthIndicators::compute`] works.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HealthConfig {
    /// Demodulation band of the envelope indicators; `None`: `[4 × max(BPFO, BPFI, 2·BSF), 0.9 × Nyquist]`.
    pub envelope_band: Option<Band>,
    /// Modulation frequencies over which `envelope_rms` is taken, Hz.
    pub modulation_band: Band,
    /// Harmonics of each defect frequency in `envelope_defect_rms` (fundamental included).
    pub harmonics: u32,
    /// Relative half-width of each defect line's window (slip), e.g. 0.02 = ± 2 %; at least ± 1 bin.
    pub tolerance: f64,
    /// Unit of the samples (for the velocity).
    pub unit: AccelUnit,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            envelope_band: None,
            modulation_band: Band::new(5.0, 1000.0),
            harmonics: 3,
            tolerance: 0.02,
            unit: AccelUnit::G,
        }
    }
}

/// The indicators of one snapshot (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HealthIndicators {
    pub rms: f64,
    pub peak: f64,
    pub kurtosis: f64,
    pub crest_factor: f64,
    pub velocity_rms_mm_s: f64,
    pub envelope_defect_rms: f64,
    pub envelope_rms: f64,
    pub band_rms: f64,
    pub max_abs: f64,
}

/// The trended indicators, in table order: `(name, value)`. `max_abs` is not trended (it is the failure
/// criterion).
pub const INDICATOR_NAMES: [&str; 8] = [
    "rms",
    "peak",
    "kurtosis",
    "crest_factor",
    "velocity_rms_mm_s",
    "envelope_defect_rms",
    "envelope_rms",
    "band_rms",
];

impl HealthIndicators {
    /// The trended indicators in the order of [`INDICATOR_NAMES`].
    pub fn values(&self) -> [f64; 8] {
        [
            self.rms,
            self.peak,
            self.kurtosis,
            self.crest_factor,
            self.velocity_rms_mm_s,
            self.envelope_defect_rms,
            self.envelope_rms,
            self.band_rms,
        ]
    }

    /// Indicators of the snapshot `x` sampled at `fs` Hz, for a bearing with defect frequencies `f`.
    pub fn compute(x: &[f32], fs: f64, f: &BearingFrequencies, cfg: &HealthConfig) -> Result<HealthIndicators, SignalError> {
        let band = demodulation_band(fs, f, cfg)?;
        let time = TimeFeatures::compute(x)?;
        let spectrum = amplitude_spectrum(x, fs, WindowKind::Hann)?;
        let velocity = velocity_rms_mm_s(&spectrum.view(), cfg.unit, ISO_10816_BAND);
        let band_rms = spectrum.view().band_rms(band);
        let env = envelope_spectrum(x, fs, band)?;
        let view = env.view();
        let envelope_rms = view.band_rms(cfg.modulation_band);
        let mut selected = vec![false; view.len()];
        for base in [f.bpfo_hz, f.bpfi_hz, f.bsf_hz] {
            for k in 1..=cfg.harmonics.max(1) {
                let hz = base * f64::from(k);
                if hz >= view.max_frequency_hz() {
                    continue;
                }
                let half = (cfg.tolerance * hz).max(view.df_hz);
                let lo = ((hz - half) / view.df_hz).ceil().max(1.0) as usize;
                let hi = (((hz + half) / view.df_hz).floor() as usize).min(view.len() - 1);
                for s in selected.iter_mut().take(hi + 1).skip(lo) {
                    *s = true;
                }
            }
        }
        let sum: f64 = view
            .amplitude
            .iter()
            .zip(&selected)
            .filter(|(_, s)| **s)
            .map(|(&a, _)| f64::from(a) * f64::from(a))
            .sum();
        let envelope_defect_rms = (sum / (2.0 * view.enbw_bins())).sqrt();
        let max_abs = x.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
        Ok(HealthIndicators {
            rms: time.rms,
            peak: time.peak,
            kurtosis: time.kurtosis,
            crest_factor: time.crest_factor,
            velocity_rms_mm_s: velocity,
            envelope_defect_rms,
            envelope_rms,
            band_rms,
            max_abs,
        })
    }
}

/// The demodulation band [`HealthIndicators::compute`] uses.
pub fn demodulation_band(fs: f64, f: &BearingFrequencies, cfg: &HealthConfig) -> Result<Band, SignalError> {
    crate::check_sample_rate(fs)?;
    let band = match cfg.envelope_band {
        Some(b) => b,
        None => {
            let top = f.bpfo_hz.max(f.bpfi_hz).max(2.0 * f.bsf_hz);
            Band::new(4.0 * top, 0.45 * fs)
        }
    };
    band.validated(fs)
}

/// How [`persistent_alarm`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlarmRule {
    /// Snapshots at the start of the series that form the healthy baseline.
    pub baseline: usize,
    /// Threshold = baseline mean + `k` × baseline standard deviation.
    pub k: f64,
    /// Consecutive snapshots above the threshold that raise the alarm.
    pub persistence: usize,
}

/// What [`persistent_alarm`] found in one indicator's series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlarmOutcome {
    pub baseline_mean: f64,
    pub baseline_std: f64,
    pub threshold: f64,
    /// First snapshot of the first persistent run above the threshold (after the baseline).
    pub run_start: Option<usize>,
    /// The snapshot at which the alarm is raised: `run_start + persistence − 1`.
    pub alarm: Option<usize>,
    /// Runs above the threshold after the baseline, shorter than the persistence, that ended before the alarm.
    pub false_alarms: usize,
    /// First snapshot of the run above the threshold that lasts to the end of the series (after the baseline), if
    /// the series ends above it: from when the indicator stays above without interruption.
    pub final_run_start: Option<usize>,
}

/// Learns the threshold from `series[..rule.baseline]` and looks for the first persistent crossing after it.
/// Non-finite values count as "not above".
pub fn persistent_alarm(series: &[f64], rule: &AlarmRule) -> Result<AlarmOutcome, SignalError> {
    if rule.baseline < 2 || rule.baseline > series.len() {
        return Err(SignalError::InvalidParameter {
            name: "baseline",
            value: rule.baseline as f64,
            reason: "needs at least 2 snapshots and no more than the series holds",
        });
    }
    if rule.persistence == 0 {
        return Err(SignalError::InvalidParameter {
            name: "persistence",
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    if !(rule.k.is_finite() && rule.k >= 0.0) {
        return Err(SignalError::InvalidParameter {
            name: "k",
            value: rule.k,
            reason: "must be finite and ≥ 0",
        });
    }
    let base: Vec<f64> = series[..rule.baseline].iter().copied().filter(|v| v.is_finite()).collect();
    if base.len() < 2 {
        return Err(SignalError::InvalidParameter {
            name: "baseline",
            value: base.len() as f64,
            reason: "fewer than 2 finite values in the baseline",
        });
    }
    let n = base.len() as f64;
    let mean = base.iter().sum::<f64>() / n;
    let std = (base.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let threshold = mean + rule.k * std;
    let mut out = AlarmOutcome {
        baseline_mean: mean,
        baseline_std: std,
        threshold,
        run_start: None,
        alarm: None,
        false_alarms: 0,
        final_run_start: None,
    };
    let above = |v: f64| v.is_finite() && v > threshold;
    let tail = series[rule.baseline..].iter().rev().take_while(|v| above(**v)).count();
    if tail > 0 {
        out.final_run_start = Some(series.len() - tail);
    }
    let mut run = 0usize;
    for (i, &v) in series.iter().enumerate().skip(rule.baseline) {
        if above(v) {
            run += 1;
            if run == rule.persistence {
                out.run_start = Some(i + 1 - run);
                out.alarm = Some(i);
                return Ok(out);
            }
        } else {
            if run > 0 {
                out.false_alarms += 1;
            }
            run = 0;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{add_impulses, add_tone, gaussian_noise};

    fn pronostia() -> BearingFrequencies {
        // 13 × 3.5 mm on 25.6 mm at 1500 rpm.
        let fr = 25.0;
        let r = 3.5 / 25.6;
        let ftf = fr / 2.0 * (1.0 - r);
        BearingFrequencies {
            shaft_hz: fr,
            bpfo_hz: 13.0 * ftf,
            bpfi_hz: 13.0 * fr / 2.0 * (1.0 + r),
            bsf_hz: 25.6 * fr / (2.0 * 3.5) * (1.0 - r * r),
            ftf_hz: ftf,
        }
    }

    #[test]
    fn impacts_at_a_defect_frequency_raise_the_envelope_and_shape_indicators() {
        let fs = 25_600.0;
        let f = pronostia();
        let cfg = HealthConfig::default();
        let mut healthy = gaussian_noise(2560, 0.3, 3);
        add_tone(&mut healthy, fs, f.shaft_hz, 0.2);
        let mut faulty = healthy.clone();
        add_impulses(&mut faulty, fs, f.bpfo_hz, 5000.0, 3.0, 1500.0);
        let h = HealthIndicators::compute(&healthy, fs, &f, &cfg).unwrap();
        let d = HealthIndicators::compute(&faulty, fs, &f, &cfg).unwrap();
        assert!((2.5..3.5).contains(&h.kurtosis), "{h:?}");
        assert!(d.kurtosis > h.kurtosis + 1.0, "{h:?} {d:?}");
        assert!(d.envelope_defect_rms > 3.0 * h.envelope_defect_rms, "{h:?} {d:?}");
        assert!(d.envelope_rms > 2.0 * h.envelope_rms, "{h:?} {d:?}");
        assert!(d.band_rms > h.band_rms && d.rms > h.rms);
        assert!(d.max_abs >= d.peak * 0.9 && h.velocity_rms_mm_s > 0.0);
        assert_eq!(h.values().len(), INDICATOR_NAMES.len());
        let band = demodulation_band(fs, &f, &cfg).unwrap();
        assert!((band.lo_hz - 4.0 * f.bpfi_hz).abs() < 1e-9 && (band.hi_hz - 11_520.0).abs() < 1e-9);
    }

    #[test]
    fn alarm_needs_persistence_and_counts_short_excursions() {
        // Baseline: a deterministic ripple around 1.0 (σ ≈ 0.07).
        let mut s: Vec<f64> = (0..50).map(|i| 1.0 + 0.1 * (i as f64 * 1.3).sin()).collect();
        s.extend([1.0, 5.0, 1.0, 5.0, 5.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0]);
        let rule = AlarmRule {
            baseline: 50,
            k: 3.0,
            persistence: 3,
        };
        let a = persistent_alarm(&s, &rule).unwrap();
        assert!((a.baseline_mean - 1.0).abs() < 0.05 && a.threshold < 1.5, "{a:?}");
        assert_eq!(a.false_alarms, 2, "{a:?}");
        assert_eq!(a.run_start, Some(57));
        assert_eq!(a.alarm, Some(59));
        assert_eq!(a.final_run_start, Some(57));
        let none = persistent_alarm(&s[..58], &rule).unwrap();
        assert_eq!((none.alarm, none.false_alarms, none.final_run_start), (None, 2, Some(57)));
        assert_eq!(persistent_alarm(&s[..57], &rule).unwrap().final_run_start, None);
        // A non-finite value breaks a run.
        let mut t = s[..50].to_vec();
        t.extend([5.0, f64::NAN, 5.0, 5.0, 5.0]);
        let a = persistent_alarm(&t, &rule).unwrap();
        assert_eq!((a.alarm, a.false_alarms), (Some(54), 1));
    }

    #[test]
    fn bad_rules_are_errors() {
        let s = vec![1.0; 10];
        for rule in [
            AlarmRule {
                baseline: 1,
                k: 3.0,
                persistence: 3,
            },
            AlarmRule {
                baseline: 11,
                k: 3.0,
                persistence: 3,
            },
            AlarmRule {
                baseline: 5,
                k: 3.0,
                persistence: 0,
            },
            AlarmRule {
                baseline: 5,
                k: f64::NAN,
                persistence: 1,
            },
        ] {
            assert!(persistent_alarm(&s, &rule).is_err(), "{rule:?}");
        }
        // A constant baseline: σ = 0, so any rise alarms.
        let mut s = vec![1.0; 10];
        s.push(1.1);
        let a = persistent_alarm(
            &s,
            &AlarmRule {
                baseline: 10,
                k: 3.0,
                persistence: 1,
            },
        )
        .unwrap();
        assert_eq!(a.alarm, Some(10));
    }
}
