//! # doppel-sim
//!
//! A deterministic plant simulator: give it a [`doppel_model::Plant`] and a [`SimConfig`], call
//! [`PlantSim::step`], and get one [`Tick`] of sensor readings, accelerometer waveform frames, production-context
//! changes and the ground truth of what happened (fault onsets, failures, repairs, mode changes, changeovers).
//! Pure and synchronous: no I/O, no threads, no wall clock — simulated time advances only by `step_s` per call,
//! so it runs as fast as the CPU allows. In a release build the 38-asset example plant steps about 65 000 times
//! per second without waveforms (over 2 million asset-steps per second, most of it spent allocating the
//! readings) and about 23 000 times per second with its 14 accelerometers sending one 12 800-sample frame per
//! simulated minute each: a frame costs 0.12–0.2 ms to synthesise (measured on the development machine; the
//! `a_frame_is_fast` unit test prints the figure).
//!
//! ## Models
//! Assets are simulated by the model of their type id; unknown types get a generic model, so any plant file
//! simulates.
//!
//! | type | model |
//! |---|---|
//! | `induction_motor` | [`doppel_physics::motor`]: current, power, slip speed from load; winding and bearing temperatures from first-order thermal nodes (exact exponential update) driven by the losses and the site's ambient temperature; vibration (see [Vibration](#vibration)) at the slip speed: ≈ 1 mm/s healthy, growing with bearing damage |
//! | `centrifugal_pump` | [`doppel_physics::pump`]: VFD speed → operating point on a system curve (static head 40 % of rated head, through the rated point), affinity laws, ρ·g·H discharge pressure, efficiency curve, impeller wear; bearing temperature like motors; vibration at the VFD speed, with 1× unbalance growing with impeller wear |
//! | `belt_conveyor` | belt speed, motor current (rises with drive-bearing damage), item and reject counters at the line's rate, state (stopped / running / blocked / fault); vibration of the drive (shaft at `drive_speed_rpm`, default 1450) while the belt runs |
//! | `cnc_spindle` | program speed per product, cutting load % over each part cycle, spindle temperature, vibration at the program speed, part and scrap counters (scrap share grows with bearing damage) |
//! | `energy_meter` | active power = sum of the electrical power of the line's assets + a base load (`base_load_kw`, default 4 kW), energy counter integrating it, power factor from the summed reactive power after an automatic correction bank (5 kvar stages, target cos φ 0.96) |
//! | `ambient_station` | the site's ambient temperature (daily cycle peaking mid-afternoon UTC + Ornstein–Uhlenbeck weather noise) and humidity; every thermal model of the site uses the same ambient |
//! | anything else | each process signal a noisy mean-reverting random walk bounded by its envelope's normal range (else its valid range), counters count, state signals sit at "running"; accelerometers see broadband noise only (no shaft) |
//!
//! Every reading carries Gaussian measurement noise, is finite, is clamped to the signal's `valid` range and is
//! converted to the signal's declared unit; counters never decrease. [`AssetReading::values`] holds the process,
//! counter and state signals; waveform signals come as [`WaveFrame`]s.
//!
//! ## Vibration
//! See [`vibration`] (the model and its sources: McFadden & Smith 1984; Randall & Antoni, "Rolling element
//! bearing diagnostics — A tutorial", 2011). One state per rotating asset feeds both its 1 Hz `vibration` signal
//! (ISO 10816 velocity RMS, 10–1000 Hz, mm/s) and the frames of its accelerometers, so the velocity RMS of a
//! frame agrees with the `vibration` reading of the same tick (within its 4 % measurement noise and a few per
//! cent of synthesis spread; tested). The velocity is the root-sum-square of
//!
//! * 1× **unbalance**: a static level drawn at installation (motors 0.6–1.0 mm/s, pumps 0.7–1.1, spindles
//!   0.3–0.6, others 0.5–0.9) plus, for pumps, `1.0·wear²` mm/s from impeller erosion;
//! * 2× **misalignment**: a static level drawn at installation — coupled machines (motors, pumps, conveyor
//!   drives) are mostly well aligned (0.1–0.5 mm/s) but 15 % are notably misaligned (1.0–2.0 mm/s); motorised
//!   spindles 0.05–0.2 mm/s. The level does not change with repairs (a repair renews components, not the
//!   alignment);
//! * 3×–5× harmonics at 15–30 % of the unbalance level;
//! * the **bearing defect** term `0.6·D + 7.6·D³` mm/s of the bearing damage `D`,
//!
//! all scaled by a speed factor (motors `0.5 + 0.5·n/n_r`, pumps and spindles `0.4 + 0.6·n/n_r`, conveyor drives 1).
//! [`PlantSim::vibration_profile`] gives these static levels as ground truth (which machines are misaligned). In a frame the
//! bearing defect also appears as impacts at its defect frequency (BPFO, BPFI, 2×BSF or FTF from the bearing
//! component's `n_balls`, `ball_d_mm`, `pitch_d_mm`, `contact_angle_deg`; a 6205 when absent) that ring a
//! 2.5–4.5 kHz housing resonance, with 1–2 % slip jitter and load-zone modulation; their peak grows as
//! `2·D + 8·D³` g. Early damage therefore shows in the envelope spectrum long before it moves the velocity.
//!
//! Frames: every waveform signal whose unit is an acceleration (`g`, `m/s2`, `mm/s2`) sends one frame of
//! `waveform_frame_s × rate_hz` samples every [`SimConfig::waveform_every_s`] of simulated time (default 60 s,
//! 0 = none), staggered evenly over the cadence so that the frames of different signals land in different
//! ticks, at most one frame per signal and tick (steps longer than the cadence skip frames). A frame ends at the
//! tick that carries it and uses that tick's machine state; [`WaveFrame::shaft_rpm`] is the true shaft speed.
//! Stopped and failed machines send frames too: shaft speed 0 and sensor noise only (0.002 g RMS), so a consumer
//! sees that the machine stands. A sensor whose `component` is another part of the machine than the monitored
//! bearing sees the bearing terms halved. Waveform signals of other dimensions (current, velocity) are not
//! synthesised and send no frames. Frames draw from their own random streams: switching them off or changing
//! their cadence leaves every reading unchanged.
//!
//! ## Production and context
//! Each line runs in an operating mode (`normal`, `high_load`, `eco`) that changes at exponentially
//! distributed intervals (mean [`SimConfig::mode_change_mean_s`]); modes scale loads, pump speeds and
//! production performance. Lines with `products` change over between them (mean interval
//! [`SimConfig::changeover_mean_s`]) with a new batch and work-order id and a 5-minute set-up stop. Both
//! are published as [`doppel_model::ContextUpdate`]s in [`Tick::context`] (the first tick carries every
//! line's initial context) and as [`TruthEvent`]s. A line produces at `performance(mode) / ideal_cycle_s`
//! of its output asset, scaled by the share of its spindles running (and their feed), halved for each
//! failed auxiliary motor or pump, and stopped by a failed conveyor (conveyors before it are blocked,
//! after it starved).
//!
//! ## Degradation
//! See [`degradation`]: bearing wear (motors, pumps, spindles, conveyor drives) with a random fatigue onset
//! (Miner's rule on `load³·speed`) followed by an accelerating gamma-process damage; impeller erosion
//! (pumps, rate ∝ speed³); Arrhenius insulation ageing of motor windings. At a bearing's fault onset the
//! defect's location is drawn from the asset's stream: outer race 45 %, inner race 35 %, ball 15 %, cage 5 %
//! ([`BearingFault`]); it sets the defect frequency of the impacts in the waveform frames and is named in
//! [`TruthEvent::fault`] (onset, failure, repair) and [`ComponentHealth::fault`]. Damage raises vibration
//! ([Vibration](#vibration): barely at first, sharply near the end through the `D³` terms) and bearing
//! temperature (term in `D²`), lowers pump head and efficiency, raises conveyor current and spindle scrap. At
//! damage 1 the component fails and the asset stops (speed 0, no production, conveyor state "fault") until
//! [`PlantSim::repair`] or an automatic repair after a log-normal repair time with mean [`SimConfig::mttr_s`].
//! Degradation stresses are taken from the previous step, so a failure stops the asset in the tick that reports
//! it. A repair renews every tracked component of the asset. Ground truth is available as [`TruthEvent`]s and
//! [`PlantSim::health`]. Because rates follow `load³`, [`PlantSim::set_load`] (derating) really extends life. [`SimConfig::wear_acceleration`] scales
//! degradation time only (thermal and process dynamics stay real-time).
//!
//! ## Determinism
//! All randomness comes from ChaCha8 streams derived from `(seed, asset / line / site index)`, and for
//! waveform frames from `(seed, asset index, signal index)`. The same plant, configuration and sequence of calls
//! give bit-identical ticks, frames included.
//!
//! ```
//! use doppel_sim::{PlantSim, SimConfig};
//! let plant = doppel_model::Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap();
//! let mut sim = PlantSim::new(&plant, SimConfig { seed: 42, ..SimConfig::default() }).unwrap();
//! let tick = sim.step();
//! assert_eq!(tick.readings.len(), plant.assets.len());
//! assert!(!tick.context.is_empty()); // initial context of every line
//! assert_eq!(tick.frames.len(), 1); // accelerometer frames are staggered over each minute
//! assert_eq!(tick.frames[0].samples.len(), 12_800);
//! ```

pub mod degradation;
mod rng;
mod sim;
pub mod vibration;

use serde::Serialize;

pub use degradation::FailureMode;
pub use sim::PlantSim;
pub use vibration::{BearingFault, VibrationLevels, VibrationProfile};

/// 2026-01-01T00:00:00Z.
pub const DEFAULT_START_NS: i64 = 1_767_225_600_000_000_000;

/// Simulation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    /// Simulated time of the start, ns since the Unix epoch.
    pub start_ns: i64,
    /// Simulated seconds per [`PlantSim::step`] (0 < step_s ≤ 3600).
    pub step_s: f64,
    /// Degradation time scale: 1 = realistic (months to bearing failure); e.g. 2000 makes failures happen
    /// within an hour of simulated time.
    pub wear_acceleration: f64,
    /// Start components at random ages so that some assets are already degrading at t0.
    pub initial_wear: bool,
    /// Mean time to the automatic repair of a failed asset, simulated seconds; `None`: failed assets wait
    /// for [`PlantSim::repair`].
    pub mttr_s: Option<f64>,
    /// Mean time between operating-mode changes of a line, seconds.
    pub mode_change_mean_s: f64,
    /// Mean time between product changeovers of a line, seconds.
    pub changeover_mean_s: f64,
    /// Simulated seconds between two frames of each waveform signal (0: no frames). Must be at least
    /// `waveform_frame_s`.
    pub waveform_every_s: f64,
    /// Length of one waveform frame, seconds (0 < s ≤ 60); a frame holds `waveform_frame_s × rate_hz` samples.
    pub waveform_frame_s: f64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            seed: 0,
            start_ns: DEFAULT_START_NS,
            step_s: 1.0,
            wear_acceleration: 1.0,
            initial_wear: false,
            mttr_s: Some(3600.0),
            mode_change_mean_s: 2.0 * 3600.0,
            changeover_mean_s: 4.0 * 3600.0,
            waveform_every_s: 60.0,
            waveform_frame_s: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation config: {0}")]
    InvalidConfig(String),
    #[error("asset '{asset}': {source}")]
    InvalidParameter { asset: String, source: doppel_physics::PhysicsError },
    #[error("unknown asset '{0}'")]
    UnknownAsset(String),
    #[error("asset '{asset}': load fraction {value} is outside [0, 1.5]")]
    InvalidLoad { asset: String, value: f64 },
    #[error("asset '{0}' has no load to set (meters, ambient stations and generic assets are not driven)")]
    NotControllable(String),
}

/// One simulated instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub ts_ns: i64,
    /// One reading per asset, in plant order.
    pub readings: Vec<AssetReading>,
    /// Context changes that took effect at this tick, by line id.
    pub context: Vec<(String, doppel_model::ContextUpdate)>,
    /// Ground truth of what happened in this step.
    pub truth: Vec<TruthEvent>,
    /// Waveform frames completed at this tick (see [`SimConfig::waveform_every_s`]), in plant order.
    pub frames: Vec<WaveFrame>,
}

/// All values of one asset's process, counter and state signals, in the asset's signal order. Waveform
/// signals are not here: they arrive as [`WaveFrame`]s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetReading {
    pub asset: String,
    /// (signal name, value in the signal's declared unit).
    pub values: Vec<(String, f64)>,
}

/// One frame of a waveform signal: `samples.len()` equally spaced samples from `t0_ns` on. The frame ends at
/// the tick that carries it (`t0_ns = tick.ts_ns − waveform_frame_s`), as a data-acquisition unit publishes a
/// frame once it is complete; the machine state of that tick holds over the whole frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveFrame {
    pub asset: String,
    pub signal: String,
    /// Time of the first sample, ns since the Unix epoch.
    pub t0_ns: i64,
    /// The signal's declared `rate_hz`.
    pub sample_rate_hz: f64,
    /// True shaft speed during the frame (a once-per-revolution tachometer reference), rpm; 0 when stopped.
    pub shaft_rpm: f64,
    /// Samples in the signal's declared unit, clamped to its valid range.
    pub samples: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthKind {
    FaultOnset,
    Failure,
    Repaired,
    ModeChange,
    Changeover,
}

/// Ground truth, for evaluation (never visible to the analytics under test).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthEvent {
    pub ts_ns: i64,
    /// The asset; for line events (mode change, changeover) the line id.
    pub asset: String,
    pub line: String,
    pub component: Option<String>,
    pub kind: TruthKind,
    /// Failure mode for fault onsets, failures and repairs (`bearing_wear`, `impeller_wear`, `insulation_ageing`).
    pub mode: Option<String>,
    /// For bearing fault onsets, failures and repairs: where the defect sits (`outer_race`, `inner_race`, `ball`,
    /// `cage`). Left out of the JSON when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<BearingFault>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    Degrading,
    Failed,
}

/// True health of one degrading component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentHealth {
    pub asset: String,
    pub component: String,
    pub mode: FailureMode,
    /// Hidden damage in [0, 1]; 1 = failed (0 before onset for bearings).
    pub damage: f64,
    pub state: HealthState,
    pub onset_ns: Option<i64>,
    /// Bearings past onset: where the defect sits.
    pub fault: Option<BearingFault>,
    /// Degradation stress of the last step relative to rated conditions (bearings: load³·speed ratio;
    /// impellers: speed ratio³; insulation: ageing factor vs the class limit).
    pub stress: f64,
}
