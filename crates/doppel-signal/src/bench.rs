//! Benchmark: channels processed in real time per core, and the same pipeline in numpy/scipy.
//!
//! [`run`] feeds synthetic 1-second frames at 10 kHz (shaft harmonics, outer-race-like impulses ringing a
//! structural resonance, Gaussian noise; see [`SyntheticVibration`]) through many [`ChannelMonitor`]s sharing one
//! [`FramePlans`] and one [`Scratch`], round-robin over the channels as a real acquisition loop would, on one thread. It reports µs per
//! channel-frame for the pipeline the numpy script also runs (windowed FFT spectrum, band energies, velocity RMS,
//! band-pass envelope spectrum of a fixed band, all time-domain features), the same with the kurtogram re-selecting
//! the band every N frames, and the memory per channel.
//!
//! [`run_numpy`] writes the same frames to a temporary file and runs `bench/signal_numpy.py` on them with the
//! given interpreter (single-threaded BLAS/OpenMP), and parses its one-line JSON answer. [`compare`] runs both.
//! Both sides also report the features of the first frame, so the comparison shows they computed the same thing.

use crate::kurtogram::{KurtogramConfig, KurtogramPlan};
use crate::monitor::{ChannelMonitor, Demodulation, MonitorConfig};
use crate::plans::{FramePlans, Scratch};
use crate::{Band, SignalError};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Deterministic Gaussian noise (SplitMix64 + Box–Muller) with standard deviation `sigma`.
pub fn gaussian_noise(n: usize, sigma: f64, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x2545_F491_4F6C_DD1D);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u1, u2) = (next(), next());
        let r = (-2.0 * u1.ln()).sqrt() * sigma;
        out.push((r * (2.0 * PI * u2).cos()) as f32);
        out.push((r * (2.0 * PI * u2).sin()) as f32);
    }
    out.truncate(n);
    out
}

/// Adds `amplitude·sin(2πft)`.
pub fn add_tone(x: &mut [f32], sample_rate_hz: f64, frequency_hz: f64, amplitude: f64) {
    for (i, v) in x.iter_mut().enumerate() {
        *v += (amplitude * (2.0 * PI * frequency_hz * i as f64 / sample_rate_hz).sin()) as f32;
    }
}

/// Adds impulses at `rate_hz`, each ringing a resonance at `resonance_hz`:
/// `amplitude·e^(−decay·τ)·sin(2π·resonance·τ)` for `τ ≥ 0` after each impulse.
pub fn add_impulses(x: &mut [f32], sample_rate_hz: f64, rate_hz: f64, resonance_hz: f64, amplitude: f64, decay_per_s: f64) {
    if !(rate_hz > 0.0 && sample_rate_hz > 0.0 && decay_per_s > 0.0) {
        return;
    }
    let ring = ((8.0 / decay_per_s) * sample_rate_hz).ceil() as usize;
    let duration = x.len() as f64 / sample_rate_hz;
    let mut k = 0u64;
    loop {
        let t0 = k as f64 / rate_hz;
        if t0 >= duration {
            break;
        }
        let start = (t0 * sample_rate_hz).ceil() as usize;
        for (i, v) in x.iter_mut().enumerate().skip(start).take(ring) {
            let tau = i as f64 / sample_rate_hz - t0;
            *v += (amplitude * (-decay_per_s * tau).exp() * (2.0 * PI * resonance_hz * tau).sin()) as f32;
        }
        k += 1;
    }
}

/// A synthetic machine vibration in g: shaft harmonics, periodic impulses ringing a resonance, and noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticVibration {
    /// Shaft speed, Hz.
    pub shaft_hz: f64,
    /// Amplitudes of the 1×, 2×, 3×… shaft harmonics, g.
    pub harmonics_g: Vec<f64>,
    /// Impulse repetition rate, Hz (e.g. a BPFO).
    pub impulse_rate_hz: f64,
    /// Resonance excited by the impulses, Hz.
    pub resonance_hz: f64,
    /// Initial amplitude of each ring-down, g.
    pub impulse_g: f64,
    /// Ring-down decay rate, 1/s.
    pub decay_per_s: f64,
    /// Standard deviation of the Gaussian noise, g.
    pub noise_g: f64,
}

impl Default for SyntheticVibration {
    /// A 1480 rpm motor bearing with an outer-race defect: 24.7 Hz shaft, BPFO 88.4 Hz (3.58×), a 3.3 kHz resonance.
    fn default() -> Self {
        Self {
            shaft_hz: 24.7,
            harmonics_g: vec![0.25, 0.08, 0.04],
            impulse_rate_hz: 88.4,
            resonance_hz: 3300.0,
            impulse_g: 0.5,
            decay_per_s: 800.0,
            noise_g: 0.1,
        }
    }
}

impl SyntheticVibration {
    /// `n` samples at `sample_rate_hz`.
    pub fn generate(&self, sample_rate_hz: f64, n: usize, seed: u64) -> Vec<f32> {
        let mut x = gaussian_noise(n, self.noise_g, seed);
        for (h, &a) in self.harmonics_g.iter().enumerate() {
            add_tone(&mut x, sample_rate_hz, self.shaft_hz * (h + 1) as f64, a);
        }
        add_impulses(
            &mut x,
            sample_rate_hz,
            self.impulse_rate_hz,
            self.resonance_hz,
            self.impulse_g,
            self.decay_per_s,
        );
        x
    }
}

/// What [`run`] measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalBenchConfig {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Frame length, samples (10 000 at 10 kHz = one-second frames).
    pub frame_len: usize,
    /// Monitored channels (each a [`ChannelMonitor`]).
    pub channels: usize,
    /// Frames processed per channel in the timed run.
    pub frames_per_channel: usize,
    /// Distinct synthetic frames, cycled over the channels.
    pub distinct_frames: usize,
    /// Fixed demodulation band of the comparable pipeline, Hz.
    pub band: Band,
    /// Frames between kurtograms in the adaptive run.
    pub kurtogram_every_n_frames: u32,
    /// Channel-frames the numpy script processes.
    pub numpy_frames: usize,
    /// The signal.
    pub signal: SyntheticVibration,
    /// Noise seed.
    pub seed: u64,
}

impl Default for SignalBenchConfig {
    fn default() -> Self {
        Self {
            sample_rate_hz: 10_000.0,
            frame_len: 10_000,
            channels: 64,
            frames_per_channel: 30,
            distinct_frames: 8,
            band: Band::new(2500.0, 4500.0),
            kurtogram_every_n_frames: 10,
            numpy_frames: 200,
            signal: SyntheticVibration::default(),
            seed: 1,
        }
    }
}

/// Features of the first frame, to show both implementations computed the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineCheck {
    /// RMS (mean removed), g.
    pub rms: f64,
    /// Crest factor.
    pub crest_factor: f64,
    /// Kurtosis (non-excess).
    pub kurtosis: f64,
    /// Skewness.
    pub skewness: f64,
    /// Velocity RMS 10–1000 Hz, mm/s.
    pub velocity_rms_mm_s: f64,
    /// RMS in 10–1000 Hz and 1000–5000 Hz, g.
    pub band_rms: Vec<f64>,
    /// Largest envelope-spectrum line in 5–500 Hz, Hz.
    pub envelope_peak_hz: f64,
}

/// The Rust side's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalBenchReport {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Frame length, samples.
    pub frame_len: usize,
    /// Channels monitored at once.
    pub channels: usize,
    /// Channel-frames timed per run.
    pub channel_frames: usize,
    /// µs per channel-frame, fixed demodulation band (the pipeline the numpy script runs).
    pub us_per_channel_frame: f64,
    /// Channels one core keeps up with in real time, fixed band: frame duration / time per frame.
    pub channels_per_core: f64,
    /// µs per channel-frame with the kurtogram re-selecting the band every `kurtogram_every_n_frames` frames.
    pub us_per_channel_frame_with_kurtogram: f64,
    /// Channels per core with the kurtogram.
    pub channels_per_core_with_kurtogram: f64,
    /// Frames between kurtograms in that run.
    pub kurtogram_every_n_frames: u32,
    /// µs for one kurtogram of one frame (the default tree, levels 0–5, 108 bands).
    pub us_per_kurtogram: f64,
    /// Heap bytes per channel in steady state ([`ChannelMonitor::memory_bytes`] of a kurtogram monitor using the
    /// thread's shared scratch): state, the last amplitude, velocity, envelope and complex spectra, kurtogram table.
    pub memory_per_channel_bytes: usize,
    /// Heap bytes per channel for a monitor that owns its scratch ([`ChannelMonitor::new`]).
    pub memory_per_channel_own_scratch_bytes: usize,
    /// Heap bytes of the scratch shared by all channels of the thread (once per core).
    pub shared_scratch_bytes: usize,
    /// The first frame's features (fixed band).
    pub check: PipelineCheck,
}

/// The numpy/scipy side's numbers (parsed from the script's JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumpyBenchReport {
    /// µs per channel-frame.
    pub us_per_channel_frame: f64,
    /// Channel-frames timed.
    pub frames: usize,
    /// numpy version.
    pub numpy: String,
    /// scipy version.
    pub scipy: String,
    /// The first frame's features.
    pub check: PipelineCheck,
}

/// Both sides and the ratio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalComparison {
    /// Rust.
    pub rust: SignalBenchReport,
    /// numpy/scipy.
    pub numpy: NumpyBenchReport,
    /// numpy µs per channel-frame / Rust µs per channel-frame (fixed band on both sides).
    pub speedup: f64,
}

/// `bench/signal_numpy.py` of this source tree.
pub fn default_script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/signal_numpy.py")
}

fn check_config(c: &SignalBenchConfig) -> Result<(), SignalError> {
    for (name, v) in [
        ("channels", c.channels),
        ("frames_per_channel", c.frames_per_channel),
        ("distinct_frames", c.distinct_frames),
    ] {
        if v == 0 {
            return Err(SignalError::InvalidParameter {
                name,
                value: 0.0,
                reason: "must be at least 1",
            });
        }
    }
    Ok(())
}

/// The synthetic frames of a configuration (one continuous recording cut into frames).
pub fn frames(config: &SignalBenchConfig) -> Vec<Vec<f32>> {
    let n = config.frame_len;
    let all = config.signal.generate(config.sample_rate_hz, n * config.distinct_frames, config.seed);
    all.chunks_exact(n.max(1)).map(<[f32]>::to_vec).collect()
}

fn fixed_config(config: &SignalBenchConfig) -> MonitorConfig {
    MonitorConfig {
        bands: vec![Band::new(10.0, 1000.0), Band::new(1000.0, 5000.0)],
        demodulation: Demodulation::Fixed(config.band),
        ..MonitorConfig::default()
    }
}

fn time_run(monitors: &mut [ChannelMonitor], scratch: &mut Scratch, frames: &[Vec<f32>], frames_per_channel: usize) -> Result<f64, SignalError> {
    // One untimed round so buffers are touched and the CPU is warm.
    for (c, m) in monitors.iter_mut().enumerate() {
        m.process_with(&frames[c % frames.len()], scratch)?;
    }
    let start = Instant::now();
    for f in 0..frames_per_channel {
        for (c, m) in monitors.iter_mut().enumerate() {
            m.process_with(&frames[(f + c) % frames.len()], scratch)?;
        }
    }
    let total = (frames_per_channel * monitors.len()) as f64;
    Ok(start.elapsed().as_secs_f64() * 1e6 / total)
}

fn time_kurtogram(fs: f64, plans: &FramePlans, spectrum: &[crate::Complex32]) -> Result<f64, SignalError> {
    let mut plan = KurtogramPlan::new(fs, plans.frame_len(), &KurtogramConfig::default())?;
    let mut scratch = Scratch::new();
    scratch.ensure(0, plan.max_small(), plans.scratch_len_upto(plan.max_small()));
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        plan.reset();
        plan.accumulate(spectrum, plans, &mut scratch.small, &mut scratch.scratch)?;
        plan.finish();
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(runs))
}

/// Runs the Rust benchmark (single thread).
pub fn run(config: &SignalBenchConfig) -> Result<SignalBenchReport, SignalError> {
    check_config(config)?;
    let frames = frames(config);
    let plans = FramePlans::new(config.frame_len)?;
    let fs = config.sample_rate_hz;
    let fixed = fixed_config(config);
    let mut check_monitor = ChannelMonitor::with_plans(fs, plans.clone(), fixed.clone())?;
    let f0 = check_monitor.process(&frames[0])?.clone();
    let envelope_peak_hz = check_monitor.envelope_spectrum().peak_in(5.0, 500.0).map_or(0.0, |p| p.frequency_hz);
    let check = PipelineCheck {
        rms: f0.time.rms,
        crest_factor: f0.time.crest_factor,
        kurtosis: f0.time.kurtosis,
        skewness: f0.time.skewness,
        velocity_rms_mm_s: f0.velocity_rms_mm_s,
        band_rms: f0.band_rms.clone(),
        envelope_peak_hz,
    };

    let mut scratch = Scratch::new();
    let mut monitors = (0..config.channels)
        .map(|_| ChannelMonitor::with_shared_scratch(fs, plans.clone(), fixed.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let us = time_run(&mut monitors, &mut scratch, &frames, config.frames_per_channel)?;
    drop(monitors);

    let adaptive = MonitorConfig {
        demodulation: Demodulation::Kurtogram {
            every_n_frames: config.kurtogram_every_n_frames.max(1),
            config: match MonitorConfig::default().demodulation {
                Demodulation::Kurtogram { config, .. } => config,
                Demodulation::Fixed(_) => KurtogramConfig::default(),
            },
        },
        ..fixed.clone()
    };
    let mut monitors = (0..config.channels)
        .map(|_| ChannelMonitor::with_shared_scratch(fs, plans.clone(), adaptive.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let us_k = time_run(&mut monitors, &mut scratch, &frames, config.frames_per_channel)?;
    let memory = monitors[0].memory_bytes();
    let memory_own = ChannelMonitor::with_plans(fs, plans.clone(), adaptive)?.memory_bytes();

    let us_per_kurtogram = time_kurtogram(fs, &plans, check_monitor.complex_spectrum())?;
    let frame_us = config.frame_len as f64 / fs * 1e6;
    Ok(SignalBenchReport {
        sample_rate_hz: fs,
        frame_len: config.frame_len,
        channels: config.channels,
        channel_frames: config.channels * config.frames_per_channel,
        us_per_channel_frame: us,
        channels_per_core: frame_us / us,
        us_per_channel_frame_with_kurtogram: us_k,
        channels_per_core_with_kurtogram: frame_us / us_k,
        kurtogram_every_n_frames: config.kurtogram_every_n_frames.max(1),
        us_per_kurtogram,
        memory_per_channel_bytes: memory,
        memory_per_channel_own_scratch_bytes: memory_own,
        shared_scratch_bytes: scratch.heap_bytes(),
        check,
    })
}

/// Runs `script` (normally [`default_script_path`]) with the interpreter `python` (which needs numpy and scipy) on
/// the configuration's frames, single-threaded, and parses its JSON line.
pub fn run_numpy(python: &Path, script: &Path, config: &SignalBenchConfig) -> Result<NumpyBenchReport, SignalError> {
    check_config(config)?;
    let frames = frames(config);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let path = std::env::temp_dir().join(format!("doppel-signal-bench-{}-{nanos}.f32", std::process::id()));
    let bytes: Vec<u8> = frames.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, bytes).map_err(|e| SignalError::Bench(format!("writing {}: {e}", path.display())))?;
    let output = std::process::Command::new(python)
        .arg(script)
        .args(["--input", &path.to_string_lossy()])
        .args(["--fs", &config.sample_rate_hz.to_string()])
        .args(["--frame-len", &config.frame_len.to_string()])
        .args(["--frames", &config.numpy_frames.max(1).to_string()])
        .args(["--band", &config.band.lo_hz.to_string(), &config.band.hi_hz.to_string()])
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .output();
    // Best effort: the file is in the temp directory either way.
    let _ = std::fs::remove_file(&path);
    let output = output.map_err(|e| SignalError::Bench(format!("running {} {}: {e}", python.display(), script.display())))?;
    if !output.status.success() {
        return Err(SignalError::Bench(format!(
            "{} exited with {}: {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| SignalError::Bench(format!("no JSON line in the script's output: {stdout}")))?;
    serde_json::from_str(line).map_err(|e| SignalError::Bench(format!("parsing the script's JSON ({e}): {line}")))
}

/// Runs both sides on the same frames.
pub fn compare(python: &Path, script: &Path, config: &SignalBenchConfig) -> Result<SignalComparison, SignalError> {
    let rust = run(config)?;
    let numpy = run_numpy(python, script, config)?;
    let speedup = numpy.us_per_channel_frame / rust.us_per_channel_frame;
    Ok(SignalComparison { rust, numpy, speedup })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_reports_consistent_numbers() {
        let config = SignalBenchConfig {
            channels: 3,
            frames_per_channel: 2,
            distinct_frames: 2,
            ..SignalBenchConfig::default()
        };
        let r = run(&config).unwrap();
        assert_eq!(r.channel_frames, 6);
        assert!(r.us_per_channel_frame > 0.0 && r.channels_per_core > 0.0);
        assert!(r.memory_per_channel_bytes > 0);
        // The synthetic bearing shows its BPFO in the envelope and a sensible velocity.
        eprintln!("{:?}", r.check);
        assert!((r.check.envelope_peak_hz - 88.4).abs() < 0.5, "{:?}", r.check);
        assert!(r.check.velocity_rms_mm_s > 5.0 && r.check.velocity_rms_mm_s < 30.0, "{:?}", r.check);
        assert!(r.check.kurtosis > 2.0, "{:?}", r.check);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("channels_per_core"));
        assert!(run(&SignalBenchConfig { channels: 0, ..config }).is_err());
    }

    #[test]
    fn missing_interpreter_is_an_error() {
        let config = SignalBenchConfig {
            numpy_frames: 1,
            distinct_frames: 1,
            ..SignalBenchConfig::default()
        };
        let e = run_numpy(Path::new("/nonexistent/python"), &default_script_path(), &config).unwrap_err();
        assert!(matches!(e, SignalError::Bench(_)));
    }

    /// Needs python3 with numpy and scipy: `DOPPEL_BENCH_PYTHON=/path/to/python cargo test -p doppel-signal -- --ignored`.
    #[test]
    #[ignore = "needs python3 with numpy and scipy"]
    fn numpy_script_computes_the_same_features() {
        let python = std::env::var("DOPPEL_BENCH_PYTHON").unwrap_or_else(|_| "/work/venv-bench/bin/python".to_string());
        let config = SignalBenchConfig {
            channels: 2,
            frames_per_channel: 2,
            distinct_frames: 2,
            numpy_frames: 4,
            ..SignalBenchConfig::default()
        };
        let c = compare(Path::new(&python), &default_script_path(), &config).unwrap();
        let (r, p) = (&c.rust.check, &c.numpy.check);
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * a.abs().max(b.abs());
        assert!(
            close(r.rms, p.rms, 1e-4) && close(r.kurtosis, p.kurtosis, 1e-3) && close(r.crest_factor, p.crest_factor, 1e-3),
            "{c:?}"
        );
        assert!(close(r.velocity_rms_mm_s, p.velocity_rms_mm_s, 1e-3), "{c:?}");
        assert!(r.band_rms.iter().zip(&p.band_rms).all(|(a, b)| close(*a, *b, 1e-3)), "{c:?}");
        assert!((r.envelope_peak_hz - p.envelope_peak_hz).abs() < 0.5, "{c:?}");
        assert!(c.speedup > 0.0);
    }
}
