//! Waveform frames → features, diagnosis and raw captures (condition monitoring at the ingest edge).
//!
//! Raw vibration is far too much to store continuously (12.8 kHz × 4 bytes = 4 GB per channel-day). Each frame
//! that arrives (binary DWF1 frames, see `docs/waveforms.md`) goes through a per-channel
//! [`ChannelMonitor`] (one FFT shared by the amplitude spectrum, velocity, band energies and the envelope in a
//! band chosen by spectral kurtosis) and the diagnosis rules of [`doppel_signal::diagnosis`]; what is stored is:
//!
//! * **features**, as ordinary samples of the derived signals `{w}_rms`, `{w}_peak`, `{w}_crest`,
//!   `{w}_kurtosis`, `{w}_skewness`, `{w}_velocity`, `{w}_envelope` and `{w}_fault` (see
//!   [`doppel_model::plant::WAVEFORM_FEATURES`]) — they flow through the normal pipeline, so envelopes, alerts,
//!   history and the twins treat them like any other signal;
//! * **raw captures** (the frame itself, in the store's capture area): one every
//!   [`WaveConfig::capture_every_ns`] of frame time per channel, and *around alarms* — when a feature leaves
//!   its envelope's warning range or the confirmed diagnosis changes, the frame before (kept in a two-frame
//!   ring) and the triggering frame are captured, at most once per [`WaveConfig::alarm_capture_gap_ns`];
//! * a **`diagnosis` event** whenever the confirmed fault of a channel changes, with the evidence.
//!
//! A frame's diagnosis is noisy (one second of data); the *confirmed* fault is the class found in at least
//! [`WaveConfig::confirm_count`] of the last [`WaveConfig::confirm_window`] frames (normal included), and it
//! stays until another class is confirmed. Frames taken while the shaft turns slower than
//! [`WaveConfig::min_diagnosis_rpm`] yield features but no diagnosis (a stopped machine has no defect
//! frequencies).
//!
//! Shaft speed comes from the frame header, else from the latest value of the asset's `speed` signal, else from
//! its `rated_speed_rpm` parameter. Bearing geometry comes from the waveform signal's component parameters
//! (`n_balls`, `ball_d_mm`, `pitch_d_mm`, `contact_angle_deg`). The ISO 10816-3 zone uses the asset parameters
//! `machine_group` (1 or 2; default from `rated_power_kw`, else 2) and `flexible_foundation` (0/1, default 0).

use std::collections::{BTreeMap, HashMap, VecDeque};

use doppel_model::plant::FAULT_STATES;
use doppel_model::{Asset, Plant, Signal, WaveFrame};
use doppel_physics::bearing::{BearingGeometry, Foundation, MachineGroup, iso10816_boundaries, iso10816_zone};
use doppel_signal::diagnosis::{Amplitudes, BearingFrequencies, Diagnosis, DiagnosisConfig, Fault, Hypothesis, diagnose};
use doppel_signal::{AccelUnit, Band, ChannelMonitor, Demodulation, FrameFeatures, KurtogramConfig, MonitorConfig};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::payload::RawSample;

/// Topic prefix of waveform frames: `doppel/v1/wave/{asset}/{signal}`.
pub const WAVE_TOPIC_PREFIX: &str = "doppel/v1/wave/";
/// Event kind recording a change of a channel's confirmed diagnosis.
pub const DIAGNOSIS_EVENT: &str = "diagnosis";

/// Capture and confirmation policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WaveConfig {
    /// Keep one raw frame per channel at least this often (frame time), ns. 0: no periodic captures.
    pub capture_every_ns: i64,
    /// Smallest gap between two alarm captures of a channel, ns.
    pub alarm_capture_gap_ns: i64,
    /// Frames over which a diagnosis must persist.
    pub confirm_window: usize,
    /// How many of them must agree.
    pub confirm_count: usize,
    /// Below this shaft speed no diagnosis is made, rpm.
    pub min_diagnosis_rpm: f64,
    pub rules: DiagnosisConfig,
}

impl Default for WaveConfig {
    fn default() -> Self {
        WaveConfig {
            capture_every_ns: 10 * 60 * 1_000_000_000,
            alarm_capture_gap_ns: 60 * 1_000_000_000,
            confirm_window: 5,
            confirm_count: 3,
            min_diagnosis_rpm: 60.0,
            // One-second frames are not averaged: their envelope spectra have a rougher noise floor than a
            // recording's averaged spectrum, so single lines of 10–12 dB occur on healthy bearings. Stricter
            // line thresholds (measured on the simulator's healthy bearings) keep false alarms out; real defects
            // stand 20–40 dB above the floor.
            rules: DiagnosisConfig {
                min_fundamental_db: 14.0,
                min_confirm_db: 8.0,
                ..DiagnosisConfig::default()
            },
        }
    }
}

/// ISO 10816-3 rating of a channel's velocity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsoRating {
    pub zone: &'static str,
    pub meaning: &'static str,
    pub machine_group: u8,
    pub foundation: &'static str,
    /// Zone boundaries A/B, B/C, C/D, mm/s.
    pub boundaries_mm_s: [f64; 3],
}

/// The live condition of one waveform channel (what the API shows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStatus {
    pub asset: String,
    pub signal: String,
    /// Time of the last frame's first sample, ns.
    pub ts_ns: i64,
    pub sample_rate_hz: f64,
    pub frame_samples: usize,
    pub frames: u64,
    pub shaft_rpm: Option<f64>,
    /// Where the shaft speed came from: "frame", "speed signal", "rated speed".
    pub speed_source: Option<&'static str>,
    pub features: FrameFeatures,
    pub iso10816: IsoRating,
    /// Bearing component the accelerometer sits on, and its defect frequencies at the frame's speed.
    pub bearing: Option<String>,
    pub defect_frequencies: Option<BearingFrequencies>,
    /// The diagnosis of the last frame alone.
    pub frame_fault: Option<Fault>,
    /// The confirmed diagnosis.
    pub fault: Fault,
    pub fault_since_ns: Option<i64>,
    /// Evidence of the confirmed fault from the last frame that showed it.
    pub evidence: Option<Hypothesis>,
    pub explanation: String,
    /// Every hypothesis of the last diagnosed frame.
    pub hypotheses: Vec<Hypothesis>,
    pub last_capture_ns: Option<i64>,
}

/// What one frame produced.
#[derive(Debug, Default)]
pub struct FrameOutput {
    /// Feature samples (derived signals of the waveform).
    pub samples: Vec<RawSample>,
    /// Frames to keep raw, with the reason.
    pub captures: Vec<(WaveFrame, String)>,
    /// (ts, subject, payload) of `diagnosis` events.
    pub events: Vec<(i64, String, String)>,
}

struct Channel {
    monitor: ChannelMonitor,
    geometry: Option<(String, BearingGeometry)>,
    previous: Option<WaveFrame>,
    last_periodic_ns: Option<i64>,
    last_alarm_capture_ns: Option<i64>,
    recent: VecDeque<Fault>,
    confirmed: Fault,
    evidence: Option<Hypothesis>,
    since: Option<i64>,
    frames: u64,
    last_capture_ns: Option<i64>,
}

/// Per-channel monitors and the live condition of every waveform channel.
pub struct WaveProcessor {
    config: WaveConfig,
    channels: Mutex<HashMap<(usize, usize), Channel>>,
    status: RwLock<BTreeMap<(String, String), ChannelStatus>>,
    /// Confirmed diagnoses from before a restart, applied when the channel's first frame arrives.
    restored: Mutex<HashMap<(String, String), (Fault, i64)>>,
}

fn geometry_of(asset: &Asset, signal: &Signal) -> Option<(String, BearingGeometry)> {
    let c = asset
        .components
        .iter()
        .find(|c| Some(&c.id) == signal.component.as_ref() && c.kind == "bearing")?;
    let p = |k: &str| c.params.get(k).copied();
    let g = BearingGeometry::new(p("n_balls")?, p("ball_d_mm")?, p("pitch_d_mm")?, p("contact_angle_deg").unwrap_or(0.0)).ok()?;
    Some((c.id.clone(), g))
}

/// The diagnosis' view of a bearing's kinematic frequencies at `rpm` (shaft, BPFO, BPFI, BSF, FTF in Hz).
pub fn frequencies(g: &BearingGeometry, rpm: f64) -> BearingFrequencies {
    let d = g.defect_frequencies(rpm / 60.0);
    BearingFrequencies {
        shaft_hz: rpm / 60.0,
        bpfo_hz: d.bpfo,
        bpfi_hz: d.bpfi,
        bsf_hz: d.bsf,
        ftf_hz: d.ftf,
    }
}

/// Lowest demodulation frequency and narrowest band for a bearing at `rpm` (as in `diagnose_recording`).
fn demodulation_limits(f: &BearingFrequencies) -> (f64, f64) {
    let top = f.bpfo_hz.max(f.bpfi_hz).max(2.0 * f.bsf_hz);
    (4.0 * top, 2.2 * (f.bpfi_hz.max(2.0 * f.bsf_hz) + 2.0 * f.shaft_hz))
}

fn iso_rating(asset: &Asset, velocity: f64) -> IsoRating {
    let group = match asset.param("machine_group") {
        Some(1.0) => MachineGroup::Group1,
        Some(_) => MachineGroup::Group2,
        None => asset
            .param("rated_power_kw")
            .and_then(|kw| MachineGroup::for_rated_power_kw(kw).ok())
            .unwrap_or(MachineGroup::Group2),
    };
    let foundation = if asset.param("flexible_foundation").unwrap_or(0.0) > 0.0 {
        Foundation::Flexible
    } else {
        Foundation::Rigid
    };
    let zone = iso10816_zone(velocity, group, foundation);
    IsoRating {
        zone: zone.label(),
        meaning: zone.meaning(),
        machine_group: if group == MachineGroup::Group1 { 1 } else { 2 },
        foundation: if foundation == Foundation::Rigid { "rigid" } else { "flexible" },
        boundaries_mm_s: iso10816_boundaries(group, foundation),
    }
}

impl WaveProcessor {
    pub fn new(config: WaveConfig) -> WaveProcessor {
        WaveProcessor {
            config,
            channels: Mutex::new(HashMap::new()),
            status: RwLock::new(BTreeMap::new()),
            restored: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &WaveConfig {
        &self.config
    }

    /// Live condition of every waveform channel of `asset` (all assets when `None`).
    pub fn status(&self, asset: Option<&str>) -> Vec<ChannelStatus> {
        self.status.read().values().filter(|s| asset.is_none_or(|a| s.asset == a)).cloned().collect()
    }

    /// Number of channels with a monitor and their total steady-state memory, bytes.
    pub fn memory(&self) -> (usize, usize) {
        let c = self.channels.lock();
        (c.len(), c.values().map(|ch| ch.monitor.memory_bytes()).sum())
    }

    /// Processes one frame of waveform signal `si` of asset `ai`. `speed_rpm`: the latest value of the asset's
    /// speed signal, if any. Errors are reasons for quarantine (naming the field).
    pub fn process(&self, plant: &Plant, ai: usize, si: usize, frame: &WaveFrame, speed_rpm: Option<f64>) -> Result<FrameOutput, (String, String)> {
        let asset = &plant.assets[ai];
        let signal = &asset.signals[si];
        let bad = |field: &str, reason: String| (field.to_string(), reason);
        if frame.samples.len() < 256 {
            return Err(bad(
                "n_samples",
                format!("a frame needs at least 256 samples for spectra, got {}", frame.samples.len()),
            ));
        }
        let fs = frame.sample_rate_hz;
        if fs < 2000.0 {
            return Err(bad("sample_rate_hz", format!("{fs} Hz is too slow for vibration analysis (at least 2000 Hz)")));
        }
        if let Some(i) = frame.samples.iter().position(|v| !signal.valid.contains(f64::from(*v))) {
            return Err(bad(
                "samples",
                format!(
                    "sample {i} = {} is outside the valid range [{}, {}] of {}",
                    frame.samples[i], signal.valid.low, signal.valid.high, signal.name
                ),
            ));
        }
        let (rpm, speed_source) = match (frame.shaft_rpm, speed_rpm, asset.param("rated_speed_rpm")) {
            (Some(r), _, _) => (Some(r), Some("frame")),
            (None, Some(r), _) => (Some(r), Some("speed signal")),
            (None, None, Some(r)) => (Some(r), Some("rated speed")),
            _ => (None, None),
        };
        let unit = if signal.unit.symbol == "g" {
            AccelUnit::G
        } else {
            AccelUnit::MetrePerSecondSquared
        };
        // Samples in another acceleration unit (mm/s², …) are scaled to m/s² first.
        let scale = if signal.unit.symbol == "g" { 1.0 } else { signal.unit.scale as f32 };
        let samples: Vec<f32> = if scale == 1.0 {
            frame.samples.clone()
        } else {
            frame.samples.iter().map(|v| v * scale).collect()
        };
        let mut channels = self.channels.lock();
        let key = (ai, si);
        let rebuild = channels
            .get(&key)
            .is_none_or(|c| c.monitor.sample_rate_hz() != fs || c.monitor.frame_len() != samples.len());
        if rebuild {
            let geometry = geometry_of(asset, signal);
            let nominal = asset.param("rated_speed_rpm").or(rpm).unwrap_or(1500.0);
            let mut config = MonitorConfig {
                accel_unit: unit,
                ..MonitorConfig::default()
            };
            if let Some((_, g)) = &geometry {
                let (lo, bw) = demodulation_limits(&frequencies(g, nominal));
                config.demodulation = Demodulation::Kurtogram {
                    every_n_frames: 10,
                    config: KurtogramConfig {
                        max_level: 5,
                        min_bandwidth_hz: bw.max(400.0),
                        max_bandwidth_hz: None,
                        min_frequency_hz: lo.max(500.0),
                    },
                };
            }
            let monitor = ChannelMonitor::new(fs, samples.len(), config).map_err(|e| bad("samples", e.to_string()))?;
            let old = channels.remove(&key);
            let restored = if old.is_none() {
                self.restored.lock().remove(&(asset.id.clone(), signal.name.clone()))
            } else {
                None
            };
            channels.insert(
                key,
                Channel {
                    monitor,
                    geometry,
                    previous: None,
                    last_periodic_ns: old.as_ref().and_then(|o| o.last_periodic_ns),
                    last_alarm_capture_ns: old.as_ref().and_then(|o| o.last_alarm_capture_ns),
                    recent: VecDeque::new(),
                    confirmed: old.as_ref().map_or(restored.map_or(Fault::Normal, |r| r.0), |o| o.confirmed),
                    evidence: old.as_ref().and_then(|o| o.evidence.clone()),
                    since: old.as_ref().map_or(restored.map(|r| r.1), |o| o.since),
                    frames: old.as_ref().map_or(0, |o| o.frames),
                    last_capture_ns: old.as_ref().and_then(|o| o.last_capture_ns),
                },
            );
        }
        let Some(ch) = channels.get_mut(&key) else {
            return Err(bad("samples", "channel state lost".into()));
        };
        let features = ch.monitor.process(&samples).map_err(|e| bad("samples", e.to_string()))?.clone();
        ch.frames += 1;
        let ts = frame.t0_ns + frame.duration_ns();
        let mut out = FrameOutput::default();

        // Diagnosis of this frame.
        let mut frame_diag: Option<Diagnosis> = None;
        let mut freqs = None;
        if let (Some(rpm), Some((_, g))) = (rpm, &ch.geometry)
            && rpm >= self.config.min_diagnosis_rpm
        {
            let f = frequencies(g, rpm);
            freqs = Some(f);
            let (lo, bw) = demodulation_limits(&f);
            let hi = 0.9 * fs / 2.0;
            let env = ch.monitor.envelope_spectrum();
            let env_amps = env.amplitudes_f64();
            let current = ch.monitor.demodulation_band();
            let mut spectra = vec![(env_amps, env.df_hz, current)];
            if hi - lo >= bw
                && let Ok(wide) = ch.monitor.envelope_for_band(Band::new(lo, hi))
            {
                spectra.push((wide.spectrum.view().amplitudes_f64(), wide.spectrum.df_hz, wide.band));
            }
            let views: Vec<(Amplitudes<'_>, Option<(f64, f64)>)> = spectra
                .iter()
                .map(|(a, df, b)| (Amplitudes { df: *df, amplitudes: a }, Some((b.lo_hz, b.hi_hz))))
                .collect();
            let v = ch.monitor.velocity_spectrum();
            let vamps = v.amplitudes_f64();
            let vview = Amplitudes {
                df: v.df_hz,
                amplitudes: &vamps,
            };
            frame_diag = Some(diagnose(&views, Some((&vview, features.velocity_rms_mm_s)), &f, &self.config.rules));
        }
        let mut changed = false;
        if let Some(d) = &frame_diag {
            ch.recent.push_back(d.fault);
            while ch.recent.len() > self.config.confirm_window.max(1) {
                ch.recent.pop_front();
            }
            let count = ch.recent.iter().filter(|f| **f == d.fault).count();
            if d.fault == ch.confirmed {
                if let Some(e) = d.evidence() {
                    ch.evidence = Some(e.clone());
                }
            } else if count >= self.config.confirm_count.max(1) {
                tracing::info!(asset = %asset.id, signal = %signal.name, from = %ch.confirmed, to = %d.fault, "diagnosis changed");
                ch.confirmed = d.fault;
                ch.since = Some(ts);
                ch.evidence = d.evidence().cloned();
                changed = true;
            }
        }

        // Feature samples.
        let values: [(&str, f64); 8] = [
            ("rms", features.time.rms),
            ("peak", features.time.peak),
            ("crest", features.time.crest_factor),
            ("kurtosis", features.time.kurtosis),
            ("skewness", features.time.skewness),
            ("velocity", features.velocity_rms_mm_s),
            ("envelope", features.envelope_mean),
            ("fault", ch.confirmed.index() as f64),
        ];
        let mut alarm: Option<String> = None;
        for (suffix, v) in values {
            let name = format!("{}_{suffix}", signal.name);
            let Some(sig) = asset.signal(&name) else { continue };
            if suffix == "fault" && frame_diag.is_none() && ch.frames > 1 && !changed {
                // Nothing new to say about the fault while the shaft stands still.
                continue;
            }
            let v = if suffix == "rms" || suffix == "peak" || suffix == "envelope" {
                v / f64::from(scale)
            } else {
                v
            };
            if !v.is_finite() {
                continue;
            }
            if let Some(env) = &sig.envelopes.default
                && !env.warning.contains(v)
                && alarm.is_none()
            {
                alarm = Some(format!("alarm:{name}={v:.3}"));
            }
            out.samples.push(RawSample {
                asset: asset.id.clone(),
                signal: name,
                ts_ns: ts,
                value: Some(v),
                unit: None,
            });
        }
        if changed {
            let payload = serde_json::json!({
                "signal": signal.name,
                "fault": ch.confirmed,
                "evidence": ch.evidence,
                "explanation": frame_diag.as_ref().map(|d| d.explanation.clone()),
                "defect_frequencies": freqs,
                "shaft_rpm": rpm,
            });
            out.events.push((ts, asset.id.clone(), payload.to_string()));
            if alarm.is_none() && ch.confirmed != Fault::Normal {
                alarm = Some(format!("alarm:diagnosis={}", ch.confirmed));
            }
        }

        // Captures: around alarms (previous + this frame), periodic otherwise.
        let mut captured = false;
        if let Some(reason) = alarm
            && ch.last_alarm_capture_ns.is_none_or(|t| ts - t >= self.config.alarm_capture_gap_ns)
        {
            if let Some(prev) = ch.previous.take() {
                out.captures.push((prev, format!("before {reason}")));
            }
            out.captures.push((frame.clone(), reason));
            ch.last_alarm_capture_ns = Some(ts);
            captured = true;
        }
        if !captured && self.config.capture_every_ns > 0 && ch.last_periodic_ns.is_none_or(|t| frame.t0_ns - t >= self.config.capture_every_ns) {
            out.captures.push((frame.clone(), "periodic".into()));
            ch.last_periodic_ns = Some(frame.t0_ns);
            captured = true;
        }
        if captured {
            ch.last_capture_ns = Some(frame.t0_ns);
        }
        ch.previous = Some(frame.clone());

        let status = ChannelStatus {
            asset: asset.id.clone(),
            signal: signal.name.clone(),
            ts_ns: frame.t0_ns,
            sample_rate_hz: fs,
            frame_samples: samples.len(),
            frames: ch.frames,
            shaft_rpm: rpm,
            speed_source,
            iso10816: iso_rating(asset, features.velocity_rms_mm_s),
            features,
            bearing: ch.geometry.as_ref().map(|(id, _)| id.clone()),
            defect_frequencies: freqs,
            frame_fault: frame_diag.as_ref().map(|d| d.fault),
            fault: ch.confirmed,
            fault_since_ns: ch.since,
            evidence: ch.evidence.clone(),
            explanation: match (&frame_diag, ch.confirmed) {
                (_, Fault::Normal) => frame_diag
                    .as_ref()
                    .map_or_else(|| "no diagnosis: shaft speed unknown or below the minimum".into(), |d| d.explanation.clone()),
                _ => ch.evidence.as_ref().map_or_else(String::new, |e| e.explanation.clone()),
            },
            hypotheses: frame_diag.map(|d| d.hypotheses).unwrap_or_default(),
            last_capture_ns: ch.last_capture_ns,
        };
        drop(channels);
        self.status.write().insert((asset.id.clone(), signal.name.clone()), status);
        Ok(out)
    }

    /// Restores a channel's confirmed diagnosis (from the last stored `diagnosis` event after a restart); it
    /// takes effect when the channel's first frame arrives.
    pub fn restore(&self, asset: &str, signal: &str, fault: Fault, since_ns: i64) {
        self.restored.lock().insert((asset.to_string(), signal.to_string()), (fault, since_ns));
    }
}

/// Label of a fault state value (the `{w}_fault` signal).
pub fn fault_label(value: f64) -> &'static str {
    FAULT_STATES.get(value as usize).copied().unwrap_or("normal")
}

/// The bearing a waveform signal sits on (its component id) and its defect frequencies at `rpm`, when the plant
/// file gives the geometry.
pub fn bearing_frequencies(asset: &Asset, signal: &Signal, rpm: f64) -> Option<(String, BearingFrequencies)> {
    let (id, g) = geometry_of(asset, signal)?;
    Some((id, frequencies(&g, rpm)))
}
