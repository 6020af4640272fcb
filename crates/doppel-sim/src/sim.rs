//! The plant simulator: assets, lines, sites and the step loop.

use doppel_model::units::lookup;
use doppel_model::{Asset, ContextUpdate, Dimension, LineContext, Plant, Signal, SignalKind};
use doppel_physics::bearing::BearingGeometry;
use doppel_physics::motor::InductionMotor;
use doppel_physics::pump::{CentrifugalPump, SystemCurve};
use doppel_physics::{G, ThermalNode};

use crate::degradation::{Degradation, FailureMode, Transition};
use crate::rng::{ASSET_STREAMS, LINE_STREAMS, SITE_STREAMS, Stream, WAVE_STREAMS, stable_hash};
use crate::vibration::{FrameState, Synthesiser, VibrationLevels, VibrationProfile, impact_peak_g};
use crate::{AssetReading, ComponentHealth, HealthState, SimConfig, SimError, Tick, TruthEvent, TruthKind, WaveFrame};

const NS: f64 = 1e9;
const MODES: [&str; 3] = ["normal", "high_load", "eco"];
/// Load multiplier of each mode (motors, spindles, conveyors).
const MODE_LOAD: [f64; 3] = [1.0, 1.18, 0.85];
/// Pump speed multiplier of each mode.
const MODE_SPEED: [f64; 3] = [1.0, 1.05, 0.88];
/// Production performance (share of the ideal rate) of each mode.
const MODE_PERFORMANCE: [f64; 3] = [0.9, 0.97, 0.78];
const SETUP_S: f64 = 300.0;
/// Time constant and size of the process load fluctuation.
const LOAD_TAU_S: f64 = 60.0;
const LOAD_SIGMA: f64 = 0.03;
const PUMP_SPEED_SIGMA: f64 = 0.004;
/// Capacitor stage of the power-factor correction bank behind each meter, kvar.
const PFC_STAGE_KVAR: f64 = 5.0;
/// tan φ of the correction target cos φ = 0.96.
const PFC_TARGET_TAN: f64 = 0.291_667;
/// Thermal step used for the first tick: puts every thermal node at its steady state.
const SETTLE_S: f64 = 1e9;
/// Broadband noise of an accelerometer on a stopped machine (sensor and electronics only), g RMS.
const SENSOR_NOISE_G: f64 = 0.002;
/// 1× velocity added by impeller erosion at full wear and rated speed (erosion unbalances the impeller), mm/s.
const IMPELLER_UNBALANCE_MM_S: f64 = 1.0;
/// Most samples one waveform frame may hold (a 60 s frame at 64 kHz; the synthesis buffers are f64).
const MAX_FRAME_SAMPLES: f64 = 4_194_304.0;
/// Bearing geometry used when the bearing component does not give one: a 6205 deep-groove ball bearing.
const DEFAULT_BEARING: [(&str, f64); 4] = [("n_balls", 9.0), ("ball_d_mm", 7.94), ("pitch_d_mm", 39.04), ("contact_angle_deg", 0.0)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Motor,
    Pump,
    Conveyor,
    Spindle,
    Meter,
    Ambient,
    Generic,
}

/// Model outputs, in canonical units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Speed,
    Current,
    Power,
    WindingTemp,
    BearingTemp,
    Vibration,
    Flow,
    Head,
    Pressure,
    Efficiency,
    BeltSpeed,
    State,
    Load,
    Total,
    Scrap,
    ActivePower,
    Energy,
    PowerFactor,
    Temperature,
    Humidity,
}
const N_OUT: usize = 20;

fn known_output(kind: Kind, asset: &Asset, sig: &Signal) -> Option<(Out, &'static str)> {
    let name = sig.name.as_str();
    let prod = asset.production.as_ref();
    if matches!(kind, Kind::Conveyor | Kind::Spindle) {
        if prod.is_some_and(|p| p.total == name) {
            return Some((Out::Total, "count"));
        }
        if prod.is_some_and(|p| p.scrap.as_deref() == Some(name)) {
            return Some((Out::Scrap, "count"));
        }
    }
    let o = match (kind, name) {
        (Kind::Motor | Kind::Pump, "speed") | (Kind::Spindle, "spindle_speed") => (Out::Speed, "rpm"),
        (Kind::Motor, "current") | (Kind::Conveyor, "motor_current") => (Out::Current, "A"),
        (Kind::Motor | Kind::Pump | Kind::Conveyor | Kind::Spindle, "power") => (Out::Power, "kW"),
        (Kind::Motor, "winding_temp") => (Out::WindingTemp, "degC"),
        (Kind::Motor | Kind::Pump, "bearing_temp") | (Kind::Spindle, "spindle_temp") => (Out::BearingTemp, "degC"),
        (Kind::Motor | Kind::Pump | Kind::Spindle | Kind::Conveyor, "vibration") => (Out::Vibration, "mm/s"),
        (Kind::Pump, "flow") => (Out::Flow, "m3/h"),
        (Kind::Pump, "head") => (Out::Head, "m"),
        (Kind::Pump, "discharge_pressure") => (Out::Pressure, "bar"),
        (Kind::Pump, "efficiency") => (Out::Efficiency, "%"),
        (Kind::Conveyor, "belt_speed") => (Out::BeltSpeed, "m/s"),
        (Kind::Conveyor, "state") => (Out::State, "state"),
        (Kind::Spindle, "spindle_load") => (Out::Load, "%"),
        (Kind::Conveyor, "items_total") | (Kind::Spindle, "parts_total") => (Out::Total, "count"),
        (Kind::Conveyor, "items_rejected") | (Kind::Spindle, "parts_scrap") => (Out::Scrap, "count"),
        (Kind::Meter, "active_power") => (Out::ActivePower, "kW"),
        (Kind::Meter, "energy") => (Out::Energy, "kWh"),
        (Kind::Meter, "power_factor") => (Out::PowerFactor, "1"),
        (Kind::Ambient, "temperature") => (Out::Temperature, "degC"),
        (Kind::Ambient, "humidity") => (Out::Humidity, "%"),
        _ => return None,
    };
    Some(o)
}

/// A signal the generic model drives.
#[derive(Debug, Clone)]
enum Generic {
    /// Mean-reverting walk inside `[lo, hi]`.
    Walk {
        x: f64,
        center: f64,
        sigma: f64,
        lo: f64,
        hi: f64,
    },
    Counter {
        acc: f64,
        rate: f64,
        integer: bool,
    },
    State {
        value: f64,
    },
}

#[derive(Debug, Clone)]
enum Source {
    Known { out: Out, scale: f64, offset: f64 },
    Generic(Generic),
}

#[derive(Debug, Clone)]
struct Slot {
    name: String,
    source: Source,
    lo: f64,
    hi: f64,
    counter: bool,
    integer: bool,
    last: f64,
}

#[derive(Debug, Clone)]
enum Model {
    Motor {
        m: InductionMotor,
        winding: ThermalNode,
        bearing: ThermalNode,
    },
    Pump {
        p: CentrifugalPump,
        sys: SystemCurve,
        bearing: ThermalNode,
        rated_shaft_kw: f64,
        suction_bar: f64,
    },
    Conveyor {
        rated_speed_mps: f64,
        rated_current_a: f64,
        /// Drive shaft speed while the belt runs, Hz.
        drive_hz: f64,
        states: [f64; 4],
        acc: f64,
        total: f64,
        scrap: f64,
    },
    Spindle {
        rated_speed: f64,
        rated_power_kw: f64,
        temp: ThermalNode,
        ideal_cycle_s: f64,
        pos: f64,
        total: f64,
        scrap: f64,
    },
    Meter {
        base_kw: f64,
        energy_kwh: f64,
    },
    None,
}

/// A waveform (accelerometer) signal: its synthesiser and frame schedule.
#[derive(Debug, Clone)]
struct WaveSlot {
    name: String,
    synth: Synthesiser,
    rate_hz: f64,
    n_samples: usize,
    /// g → the signal's unit.
    factor: f64,
    lo: f64,
    hi: f64,
    /// Share of the bearing terms seen by this sensor: 1 on the monitored bearing (or when the signal names no
    /// component), 0.5 elsewhere on the machine (longer transmission path).
    bearing_gain: f64,
    next_ns: i64,
    /// Seeds of the frames (its own stream, so frames never disturb the asset's readings).
    rng: Stream,
}

impl WaveSlot {
    fn frame(&mut self, asset: &str, state: &FrameState, t0_ns: i64) -> WaveFrame {
        let mut st = *state;
        st.levels.bearing *= self.bearing_gain;
        st.impact_g *= self.bearing_gain;
        let seed = self.rng.next_u64();
        let samples = self
            .synth
            .frame(&st, self.n_samples, seed)
            .into_iter()
            .map(|g| (g * self.factor).max(self.lo).min(self.hi) as f32)
            .collect();
        WaveFrame {
            asset: asset.to_string(),
            signal: self.name.clone(),
            t0_ns,
            sample_rate_hz: self.rate_hz,
            shaft_rpm: st.shaft_hz * 60.0,
            samples,
        }
    }
}

#[derive(Debug, Clone)]
struct Failed {
    repair_at_ns: Option<i64>,
}

#[derive(Debug, Clone)]
struct AssetSim {
    id: String,
    line: usize,
    site: usize,
    kind: Kind,
    rng: Stream,
    slots: Vec<Slot>,
    out: [f64; N_OUT],
    model: Model,
    base_load: f64,
    nominal_load: f64,
    load_dev: f64,
    components: Vec<Degradation>,
    bearing: Option<usize>,
    impeller: Option<usize>,
    winding: Option<usize>,
    failed: Option<Failed>,
    /// Electrical input (kW) and reactive power (kvar) of the last step, for the line's meter.
    elec_kw: f64,
    reactive_kvar: f64,
    /// Degradation stress of the last step (1 = rated): bearings load³·speed ratio, impeller speed ratio³.
    bearing_stress: f64,
    impeller_stress: f64,
    /// Position among the line's conveyors (conveyors only).
    conveyor_pos: usize,
    /// Static vibration properties (rotating machines, and any asset with an accelerometer).
    vib: Option<VibrationProfile>,
    /// Vibration of the last step: the source of both the `vibration` signal and the waveform frames.
    vib_state: FrameState,
    waves: Vec<WaveSlot>,
}

#[derive(Debug, Clone)]
struct LineSim {
    id: String,
    products: Vec<String>,
    rng: Stream,
    mode: usize,
    product: usize,
    batch_no: u32,
    wo_no: u32,
    next_mode_ns: i64,
    next_changeover_ns: i64,
    setup_until_ns: i64,
    assets: Vec<usize>,
    conveyors: Vec<usize>,
    spindles: Vec<usize>,
    has_production: bool,
    ideal_cycle_s: f64,
    // per step
    rate: f64,
    failed_conveyor: Option<usize>,
    feed_sum: f64,
}

#[derive(Debug, Clone)]
struct SiteSim {
    rng: Stream,
    mean_c: f64,
    weather: f64,
    humidity_dev: f64,
    ambient_c: f64,
    humidity: f64,
}

/// The plant simulator. See the crate documentation for the models.
#[derive(Debug, Clone)]
pub struct PlantSim {
    config: SimConfig,
    step_ns: i64,
    now_ns: i64,
    first: bool,
    assets: Vec<AssetSim>,
    lines: Vec<LineSim>,
    sites: Vec<SiteSim>,
    pending: Vec<TruthEvent>,
    /// Waveform cadence and frame length, ns (cadence 0: no frames).
    wave_every_ns: i64,
    wave_frame_ns: i64,
}

fn param(a: &Asset, name: &str, default: f64) -> f64 {
    a.param(name).filter(|v| v.is_finite()).unwrap_or(default)
}

fn kind_of(type_id: &str) -> Kind {
    match type_id {
        "induction_motor" => Kind::Motor,
        "centrifugal_pump" => Kind::Pump,
        "belt_conveyor" => Kind::Conveyor,
        "cnc_spindle" => Kind::Spindle,
        "energy_meter" => Kind::Meter,
        "ambient_station" => Kind::Ambient,
        _ => Kind::Generic,
    }
}

/// Ornstein–Uhlenbeck step (exact): mean 0, stationary standard deviation `sigma`, time constant `tau`.
fn ou(x: f64, sigma: f64, tau: f64, dt: f64, rng: &mut Stream) -> f64 {
    let a = (-dt / tau).exp();
    x * a + sigma * (1.0 - a * a).max(0.0).sqrt() * rng.normal()
}

fn daily_cycle(ts_ns: i64) -> f64 {
    // Peak at 15:00 UTC, trough at 03:00.
    let day_s = (ts_ns.rem_euclid(86_400 * 1_000_000_000)) as f64 / NS;
    (std::f64::consts::TAU * (day_s / 86_400.0 - 0.375)).sin()
}

fn state_index(sig: &Signal, label: &str, fallback: usize) -> f64 {
    let i = sig
        .states
        .iter()
        .position(|s| s == label)
        .unwrap_or(fallback.min(sig.states.len().saturating_sub(1)));
    i as f64
}

fn make_slot(kind: Kind, asset: &Asset, sig: &Signal, rng: &mut Stream) -> Slot {
    let (lo, hi) = (sig.valid.low, sig.valid.high);
    let counter = sig.kind == SignalKind::Counter;
    let integer = counter && sig.unit.dimension == Dimension::Count;
    let known = known_output(kind, asset, sig).and_then(|(out, unit)| {
        let src = lookup(unit).ok()?;
        (src.dimension == sig.unit.dimension).then(|| {
            let scale = src.scale / sig.unit.scale;
            let offset = (src.offset - sig.unit.offset) / sig.unit.scale;
            Source::Known { out, scale, offset }
        })
    });
    let source = known.unwrap_or_else(|| Source::Generic(generic_for(asset, sig, rng)));
    Slot {
        name: sig.name.clone(),
        source,
        lo,
        hi,
        counter,
        integer,
        last: 0.0,
    }
}

fn generic_for(asset: &Asset, sig: &Signal, rng: &mut Stream) -> Generic {
    match sig.kind {
        SignalKind::Counter => {
            let prod = asset.production.as_ref();
            let rate = match prod {
                Some(p) if p.total == sig.name => 0.9 / p.ideal_cycle_s,
                Some(p) if p.scrap.as_deref() == Some(sig.name.as_str()) => 0.02 / p.ideal_cycle_s,
                _ => 0.1,
            };
            Generic::Counter {
                acc: 0.0,
                rate,
                integer: sig.unit.dimension == Dimension::Count,
            }
        }
        SignalKind::State => Generic::State {
            value: state_index(sig, "running", 1),
        },
        SignalKind::Process | SignalKind::Waveform => {
            let valid = sig.valid;
            let normal = sig
                .envelopes
                .default
                .map(|e| e.normal)
                .or_else(|| sig.envelopes.conditional.first().map(|(_, e)| e.normal));
            let pick = |a: f64, b: f64| if a.is_finite() { a } else { b };
            let (mut lo, mut hi) = match normal {
                Some(n) => (pick(n.low.max(valid.low), valid.low), pick(n.high.min(valid.high), valid.high)),
                None => (valid.low, valid.high),
            };
            // Open ends: build a band from the finite side, else a 0..100 default.
            match (lo.is_finite(), hi.is_finite()) {
                (true, true) => {}
                (true, false) => hi = lo + lo.abs().max(10.0),
                (false, true) => {
                    lo = if hi > 0.0 {
                        0.0f64.max(valid.low).min(hi * 0.5)
                    } else {
                        hi - hi.abs().max(10.0)
                    }
                }
                (false, false) => (lo, hi) = (0.0, 100.0),
            }
            if lo >= hi {
                hi = lo + 1.0;
            }
            // Stay off the edges of the normal band.
            let (lo, hi) = (lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo));
            let center = 0.5 * (lo + hi);
            let x = rng.range(lo, hi);
            Generic::Walk {
                x,
                center,
                sigma: 0.2 * (hi - lo),
                lo,
                hi,
            }
        }
    }
}

impl AssetSim {
    fn visible(&self, c: Option<usize>) -> f64 {
        c.map(|i| self.components[i].visible()).unwrap_or(0.0)
    }

    fn set(&mut self, o: Out, v: f64) {
        self.out[o as usize] = v;
    }

    fn noisy(&mut self, v: f64, rel: f64, abs: f64) -> f64 {
        v * (1.0 + rel * self.rng.normal()) + abs * self.rng.normal()
    }

    /// Effective load fraction this step: base × mode × slow process fluctuation. Pumps get their speed
    /// from a VFD, which holds it much tighter than a process holds a motor's load.
    fn load(&mut self, mode: usize, dt: f64, pump: bool) -> f64 {
        let sigma = if pump { PUMP_SPEED_SIGMA } else { LOAD_SIGMA };
        self.load_dev = ou(self.load_dev, sigma, LOAD_TAU_S, dt, &mut self.rng);
        let m = if pump { MODE_SPEED[mode] } else { MODE_LOAD[mode] };
        (self.base_load * m * (1.0 + self.load_dev)).clamp(0.0, 1.4)
    }
}

impl PlantSim {
    /// Builds the simulator for `plant`. Fails on an invalid config or physically impossible parameters.
    pub fn new(plant: &Plant, config: SimConfig) -> Result<PlantSim, SimError> {
        if !(config.step_s > 0.0 && config.step_s <= 3600.0) {
            return Err(SimError::InvalidConfig(format!("step_s = {} must be in (0, 3600]", config.step_s)));
        }
        if !(config.wear_acceleration >= 0.0 && config.wear_acceleration.is_finite()) {
            return Err(SimError::InvalidConfig(format!(
                "wear_acceleration = {} must be finite and >= 0",
                config.wear_acceleration
            )));
        }
        if let Some(m) = config.mttr_s
            && !(m > 0.0 && m.is_finite())
        {
            return Err(SimError::InvalidConfig(format!("mttr_s = {m} must be > 0")));
        }
        for (name, v) in [
            ("mode_change_mean_s", config.mode_change_mean_s),
            ("changeover_mean_s", config.changeover_mean_s),
        ] {
            if v.is_nan() || v <= 0.0 {
                return Err(SimError::InvalidConfig(format!(
                    "{name} = {v} must be > 0 (use a large value to make changes rare)"
                )));
            }
        }
        if !(config.waveform_every_s >= 0.0 && config.waveform_every_s.is_finite()) {
            return Err(SimError::InvalidConfig(format!(
                "waveform_every_s = {} must be finite and >= 0 (0: no waveform frames)",
                config.waveform_every_s
            )));
        }
        if !(config.waveform_frame_s > 0.0 && config.waveform_frame_s <= 60.0) {
            return Err(SimError::InvalidConfig(format!(
                "waveform_frame_s = {} must be in (0, 60]",
                config.waveform_frame_s
            )));
        }
        if config.waveform_every_s > 0.0 && config.waveform_every_s < config.waveform_frame_s {
            return Err(SimError::InvalidConfig(format!(
                "waveform_every_s = {} must be at least waveform_frame_s = {} (frames do not overlap)",
                config.waveform_every_s, config.waveform_frame_s
            )));
        }
        let step_ns = (config.step_s * NS).round() as i64;
        let wave_every_ns = (config.waveform_every_s * NS).round() as i64;
        let wave_frame_ns = (config.waveform_frame_s * NS).round() as i64;
        let start = config.start_ns;
        let seed = config.seed;

        let sites: Vec<SiteSim> = plant
            .sites
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let mut rng = Stream::new(seed, SITE_STREAMS + i as u64);
                let mean_c = rng.range(19.0, 23.0);
                let weather = rng.normal();
                SiteSim {
                    rng,
                    mean_c,
                    weather,
                    humidity_dev: 0.0,
                    ambient_c: mean_c,
                    humidity: 45.0,
                }
            })
            .collect();

        let mut line_ids: Vec<(usize, &doppel_model::Line)> = Vec::new();
        for (si, s) in plant.sites.iter().enumerate() {
            for a in &s.areas {
                for l in &a.lines {
                    line_ids.push((si, l));
                }
            }
        }
        let mut pending = Vec::new();
        let mut assets = Vec::with_capacity(plant.assets.len());
        let g_unit = lookup("g").map_err(|e| SimError::InvalidConfig(e.to_string()))?;
        for (idx, a) in plant.assets.iter().enumerate() {
            let line = line_ids.iter().position(|(_, l)| l.id == a.line).unwrap_or(0);
            let site = plant.sites.iter().position(|s| s.id == a.site).unwrap_or(0);
            let mut rng = Stream::new(seed, ASSET_STREAMS + idx as u64);
            let kind = kind_of(&a.type_id);
            let err = |source| SimError::InvalidParameter { asset: a.id.clone(), source };
            let comp_of = |kind: &str| a.components.iter().find(|c| c.kind == kind).map(|c| c.id.clone());
            let bearing_id = a
                .signal("vibration")
                .and_then(|s| s.component.clone())
                .filter(|c| a.components.iter().any(|k| k.id == *c && k.kind == "bearing"))
                .or_else(|| comp_of("bearing"));
            let mut components = Vec::new();
            let mut bearing = None;
            let mut impeller = None;
            let mut winding = None;
            let (model, base_load, nominal_load) = match kind {
                Kind::Motor => {
                    let rated_kw = param(a, "rated_power_kw", 11.0);
                    let m = InductionMotor {
                        rated_power_kw: rated_kw,
                        rated_current_a: param(a, "rated_current_a", rated_kw * 1.9),
                        rated_speed_rpm: param(a, "rated_speed_rpm", 1465.0),
                        rated_efficiency: param(a, "efficiency", 0.91),
                        voltage_v: param(a, "voltage_v", 400.0),
                        supply_hz: param(a, "supply_hz", 50.0),
                        no_load_current_fraction: 0.35,
                        constant_loss_share: 0.3,
                    }
                    .validated()
                    .map_err(err)?;
                    let r_w = param(a, "rated_temp_rise_k", 80.0) / m.rated_losses_kw();
                    let winding_node = ThermalNode::new(20.0, 20.0, r_w, param(a, "thermal_time_constant_s", 1800.0)).map_err(err)?;
                    let bearing_node = ThermalNode::new(20.0, 20.0, 30.0, param(a, "bearing_time_constant_s", 900.0)).map_err(err)?;
                    if let Some(w) = comp_of("stator_winding") {
                        winding = Some(components.len());
                        components.push(Degradation::new(&w, FailureMode::InsulationAgeing, &mut rng));
                    }
                    (
                        Model::Motor {
                            m,
                            winding: winding_node,
                            bearing: bearing_node,
                        },
                        rng.range(0.62, 0.85),
                        0.75,
                    )
                }
                Kind::Pump => {
                    let p = CentrifugalPump::new(
                        param(a, "rated_flow_m3h", 60.0),
                        param(a, "rated_head_m", 40.0),
                        param(a, "rated_speed_rpm", 2900.0),
                        param(a, "rated_efficiency", 0.72),
                        param(a, "fluid_density_kg_m3", 998.0),
                    )
                    .map_err(err)?;
                    let sys = SystemCurve::through(param(a, "static_head_m", 0.4 * p.rated_head_m), p.rated_flow_m3h, p.rated_head_m);
                    let rated_shaft_kw = p.shaft_power_kw(p.rated_flow_m3h, 1.0, 0.0);
                    let bearing_node = ThermalNode::new(20.0, 20.0, 30.0, param(a, "bearing_time_constant_s", 900.0)).map_err(err)?;
                    if let Some(i) = comp_of("impeller") {
                        impeller = Some(components.len());
                        components.push(Degradation::new(&i, FailureMode::ImpellerWear, &mut rng));
                    }
                    let suction_bar = param(a, "suction_pressure_bar", 0.3);
                    (
                        Model::Pump {
                            p,
                            sys,
                            bearing: bearing_node,
                            rated_shaft_kw,
                            suction_bar,
                        },
                        rng.range(0.95, 0.99),
                        0.97,
                    )
                }
                Kind::Conveyor => {
                    let sig = a.signal("state");
                    let states = match sig {
                        Some(s) => [
                            state_index(s, "stopped", 0),
                            state_index(s, "running", 1),
                            state_index(s, "blocked", 2),
                            state_index(s, "fault", 3),
                        ],
                        None => [0.0, 1.0, 2.0, 3.0],
                    };
                    let model = Model::Conveyor {
                        rated_speed_mps: param(a, "rated_speed_mps", 0.5),
                        rated_current_a: param(a, "rated_current_a", 6.0),
                        drive_hz: param(a, "drive_speed_rpm", 1450.0).max(0.0) / 60.0,
                        states,
                        acc: rng.uniform(),
                        total: 0.0,
                        scrap: 0.0,
                    };
                    (model, 0.8, 0.8)
                }
                Kind::Spindle => {
                    let rise = param(a, "rated_temp_rise_k", 25.0);
                    let temp = ThermalNode::new(20.0, 20.0, rise.max(1.0), param(a, "thermal_time_constant_s", 600.0)).map_err(err)?;
                    let model = Model::Spindle {
                        rated_speed: param(a, "rated_speed_rpm", 12_000.0).max(1.0),
                        rated_power_kw: param(a, "rated_power_kw", 15.0).max(0.1),
                        temp,
                        ideal_cycle_s: a.production.as_ref().map(|p| p.ideal_cycle_s).unwrap_or(150.0),
                        pos: rng.uniform(),
                        total: 0.0,
                        scrap: 0.0,
                    };
                    (model, 0.7, 0.7)
                }
                Kind::Meter => (
                    Model::Meter {
                        base_kw: param(a, "base_load_kw", 4.0),
                        energy_kwh: 0.0,
                    },
                    0.0,
                    1.0,
                ),
                Kind::Ambient | Kind::Generic => (Model::None, 0.0, 1.0),
            };
            let accels: Vec<(usize, &Signal, f64)> = a
                .signals
                .iter()
                .enumerate()
                .filter(|(_, s)| s.kind == SignalKind::Waveform)
                .filter_map(|(i, s)| g_unit.convert(1.0, &s.unit).ok().map(|f| (i, s, f)))
                .collect();
            let rotating = matches!(kind, Kind::Motor | Kind::Pump | Kind::Conveyor | Kind::Spindle);
            let vib = if rotating || !accels.is_empty() {
                let comp = bearing_id.as_ref().and_then(|b| a.components.iter().find(|c| c.id == *b));
                let geo = |i: usize| {
                    let (name, default) = DEFAULT_BEARING[i];
                    comp.and_then(|c| c.params.get(name).copied()).filter(|v| v.is_finite()).unwrap_or(default)
                };
                let geometry = BearingGeometry::new(geo(0), geo(1), geo(2), geo(3)).map_err(err)?;
                let (unbalance, coupled) = match kind {
                    Kind::Motor => ((0.6, 1.0), true),
                    Kind::Pump => ((0.7, 1.1), true),
                    Kind::Spindle => ((0.3, 0.6), false),
                    _ => ((0.5, 0.9), true),
                };
                Some(VibrationProfile::draw(&mut rng, geometry, unbalance, coupled))
            } else {
                None
            };
            let mut waves = Vec::new();
            if let Some(p) = &vib {
                for (si, sig, factor) in accels {
                    let n = (config.waveform_frame_s * sig.rate_hz).round().max(1.0);
                    if n > MAX_FRAME_SAMPLES {
                        return Err(SimError::InvalidConfig(format!(
                            "waveform_frame_s = {} gives {n} samples per frame of {}/{} at {} Hz (at most {MAX_FRAME_SAMPLES})",
                            config.waveform_frame_s, a.id, sig.name, sig.rate_hz
                        )));
                    }
                    let on_bearing = sig.component.is_none() || sig.component == bearing_id;
                    waves.push(WaveSlot {
                        name: sig.name.clone(),
                        synth: Synthesiser::new(p, sig.rate_hz),
                        rate_hz: sig.rate_hz,
                        n_samples: n as usize,
                        factor,
                        lo: sig.valid.low,
                        hi: sig.valid.high,
                        bearing_gain: if on_bearing { 1.0 } else { 0.5 },
                        next_ns: i64::MAX,
                        rng: Stream::new(seed, WAVE_STREAMS + ((idx as u64) << 8) + (si as u64 & 0xff)),
                    });
                }
            }
            let vib_state = FrameState {
                noise_g: if rotating { SENSOR_NOISE_G } else { vib.as_ref().map_or(0.0, |p| p.noise_g) },
                ..FrameState::default()
            };
            if rotating && let Some(b) = &bearing_id {
                bearing = Some(components.len());
                components.push(Degradation::new(b, FailureMode::BearingWear, &mut rng));
            }
            if config.initial_wear {
                for c in &mut components {
                    if c.randomise_age(&mut rng, start) {
                        pending.push(TruthEvent {
                            ts_ns: start,
                            asset: a.id.clone(),
                            line: a.line.clone(),
                            component: Some(c.component.clone()),
                            kind: TruthKind::FaultOnset,
                            mode: Some(c.mode.as_str().to_string()),
                            fault: c.fault,
                            detail: format!("{} already degrading at start{} (damage {:.2})", c.component, fault_text(c.fault), c.damage),
                        });
                    }
                }
            }
            let slots = a
                .signals
                .iter()
                .filter(|s| s.kind != SignalKind::Waveform && s.derived_from.is_none())
                .map(|s| make_slot(kind, a, s, &mut rng))
                .collect();
            assets.push(AssetSim {
                id: a.id.clone(),
                line,
                site,
                kind,
                rng,
                slots,
                out: [0.0; N_OUT],
                model,
                base_load,
                nominal_load,
                load_dev: 0.0,
                components,
                bearing,
                impeller,
                winding,
                failed: None,
                elec_kw: 0.0,
                reactive_kvar: 0.0,
                bearing_stress: 0.0,
                impeller_stress: 0.0,
                conveyor_pos: 0,
                vib,
                vib_state,
                waves,
            });
        }

        let lines = line_ids
            .iter()
            .enumerate()
            .map(|(li, (_, l))| {
                let mut rng = Stream::new(seed, LINE_STREAMS + li as u64);
                let members: Vec<usize> = (0..assets.len()).filter(|&i| assets[i].line == li).collect();
                let of_kind = |k: Kind| members.iter().copied().filter(|&i| assets[i].kind == k).collect::<Vec<_>>();
                let conveyors = of_kind(Kind::Conveyor);
                let spindles = of_kind(Kind::Spindle);
                let ideal_cycle_s = l
                    .output
                    .as_deref()
                    .and_then(|o| plant.asset(o))
                    .or_else(|| members.iter().map(|&i| &plant.assets[i]).find(|a| a.production.is_some()))
                    .and_then(|a| a.production.as_ref())
                    .map(|p| p.ideal_cycle_s)
                    .unwrap_or(60.0);
                let product = if l.products.is_empty() {
                    0
                } else {
                    (rng.uniform() * l.products.len() as f64) as usize % l.products.len()
                };
                let next_mode_ns = start.saturating_add((rng.exponential(config.mode_change_mean_s) * NS) as i64);
                let next_changeover_ns = start.saturating_add((rng.exponential(config.changeover_mean_s) * NS) as i64);
                LineSim {
                    id: l.id.clone(),
                    products: l.products.clone(),
                    rng,
                    mode: 0,
                    product,
                    batch_no: 1,
                    wo_no: 1,
                    next_mode_ns,
                    next_changeover_ns,
                    setup_until_ns: i64::MIN,
                    has_production: members.iter().any(|&i| plant.assets[i].production.is_some()),
                    assets: members,
                    conveyors,
                    spindles,
                    ideal_cycle_s,
                    rate: 0.0,
                    failed_conveyor: None,
                    feed_sum: 0.0,
                }
            })
            .collect();

        let mut assets = assets;
        // Stagger the frames evenly over one cadence, so that they do not all land in the same tick; the first
        // frame of each signal starts no earlier than the start of the simulation.
        let n_waves = assets.iter().map(|a| a.waves.len()).sum::<usize>().max(1);
        for (k, w) in assets.iter_mut().flat_map(|a| a.waves.iter_mut()).enumerate() {
            let offset = (wave_every_ns as f64 * k as f64 / n_waves as f64).round() as i64;
            w.next_ns = start.saturating_add(wave_frame_ns).saturating_add(offset);
        }
        for l in &lines {
            let l: &LineSim = l;
            for (k, &i) in l.conveyors.iter().enumerate() {
                assets[i].conveyor_pos = k;
            }
        }
        Ok(PlantSim {
            config,
            step_ns,
            now_ns: start,
            first: true,
            assets,
            lines,
            sites,
            pending,
            wave_every_ns,
            wave_frame_ns,
        })
    }

    /// Simulated time of the last tick (the start time before the first step), ns.
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Ground truth health of every degrading component, in plant order.
    pub fn health(&self) -> Vec<ComponentHealth> {
        self.assets
            .iter()
            .flat_map(|a| {
                a.components.iter().map(move |c| ComponentHealth {
                    asset: a.id.clone(),
                    component: c.component.clone(),
                    mode: c.mode,
                    damage: c.visible(),
                    state: if c.failed {
                        HealthState::Failed
                    } else if c.onset {
                        HealthState::Degrading
                    } else {
                        HealthState::Healthy
                    },
                    onset_ns: c.onset_ns,
                    fault: c.fault,
                    stress: c.stress,
                })
            })
            .collect()
    }

    fn index(&self, asset: &str) -> Result<usize, SimError> {
        self.assets
            .iter()
            .position(|a| a.id == asset)
            .ok_or_else(|| SimError::UnknownAsset(asset.to_string()))
    }

    /// The production context now in force on a line.
    pub fn line_context(&self, line: &str) -> Option<LineContext> {
        let l = self.lines.iter().find(|l| l.id == line)?;
        let product = l.products.get(l.product).cloned();
        Some(LineContext {
            batch: product.as_ref().map(|_| l.batch_id()),
            work_order: product.as_ref().map(|_| l.work_order_id()),
            product,
            mode: Some(MODES[l.mode].to_string()),
        })
    }

    /// Static vibration properties of an asset (unbalance, misalignment, bearing geometry, resonance): ground
    /// truth, like [`PlantSim::health`]. `None` for assets without a shaft or accelerometer.
    pub fn vibration_profile(&self, asset: &str) -> Result<Option<&VibrationProfile>, SimError> {
        Ok(self.assets[self.index(asset)?].vib.as_ref())
    }

    /// Whether the asset is stopped by a failure.
    pub fn is_failed(&self, asset: &str) -> Result<bool, SimError> {
        Ok(self.assets[self.index(asset)?].failed.is_some())
    }

    /// Current base load fraction of an asset (before the mode factor).
    pub fn load(&self, asset: &str) -> Result<f64, SimError> {
        Ok(self.assets[self.index(asset)?].base_load)
    }

    /// Sets the base load fraction of an asset — the derating lever. Motors: shaft load / rated; pumps: VFD
    /// speed / rated speed; spindles: cutting load (feed override; production slows proportionally below
    /// the default 0.7); conveyors: belt loading. The line's operating mode still scales it.
    pub fn set_load(&mut self, asset: &str, load_fraction: f64) -> Result<(), SimError> {
        let i = self.index(asset)?;
        if !(0.0..=1.5).contains(&load_fraction) {
            return Err(SimError::InvalidLoad {
                asset: asset.to_string(),
                value: load_fraction,
            });
        }
        let a = &mut self.assets[i];
        if !matches!(a.kind, Kind::Motor | Kind::Pump | Kind::Spindle | Kind::Conveyor) {
            return Err(SimError::NotControllable(asset.to_string()));
        }
        a.base_load = load_fraction;
        Ok(())
    }

    /// Repairs an asset now: every degrading component is renewed and a failed asset restarts. Works on
    /// healthy assets too (preventive maintenance). The `Repaired` events appear in the next tick.
    pub fn repair(&mut self, asset: &str) -> Result<(), SimError> {
        let i = self.index(asset)?;
        let line = self.lines[self.assets[i].line].id.clone();
        let now = self.now_ns;
        repair_asset(&mut self.assets[i], &line, now, "maintenance", &mut self.pending);
        Ok(())
    }

    /// Advances the simulation by `step_s` and returns the readings at the new time.
    pub fn step(&mut self) -> Tick {
        let dt = self.config.step_s;
        self.now_ns = self.now_ns.saturating_add(self.step_ns);
        let now = self.now_ns;
        let first = std::mem::replace(&mut self.first, false);
        let thermal_dt = if first { SETTLE_S } else { dt };
        let mut truth = std::mem::take(&mut self.pending);
        let mut context = Vec::new();

        for s in &mut self.sites {
            s.weather = ou(s.weather, 1.0, 3.0 * 3600.0, dt, &mut s.rng);
            s.humidity_dev = ou(s.humidity_dev, 4.0, 2.0 * 3600.0, dt, &mut s.rng);
            s.ambient_c = s.mean_c + 3.5 * daily_cycle(now) + s.weather;
            s.humidity = (50.0 - 1.2 * (s.ambient_c - 20.0) + s.humidity_dev).clamp(5.0, 95.0);
        }

        for l in &mut self.lines {
            l.step_context(now, first, &self.config, &mut context, &mut truth);
        }

        for a in &mut self.assets {
            if a.failed.as_ref().is_some_and(|f| f.repair_at_ns.is_some_and(|t| now >= t)) {
                let line = self.lines[a.line].id.clone();
                repair_asset(a, &line, now, "automatic repair", &mut truth);
            }
        }

        for l in &mut self.lines {
            l.flow(now, &self.assets);
        }

        let accel = self.config.wear_acceleration;
        let mttr = self.config.mttr_s;
        for i in 0..self.assets.len() {
            let a = &mut self.assets[i];
            if a.kind == Kind::Meter {
                continue;
            }
            let line = &self.lines[a.line];
            let ambient = self.sites[a.site].ambient_c;
            let humidity = self.sites[a.site].humidity;
            // Degradation first (driven by the stresses of the previous step), so that a failure stops
            // the asset in the very tick that reports it.
            for c in 0..a.components.len() {
                let stress = if a.failed.is_some() {
                    0.0
                } else if Some(c) == a.winding {
                    a.out[Out::WindingTemp as usize]
                } else if Some(c) == a.impeller {
                    a.impeller_stress
                } else {
                    a.bearing_stress
                };
                let (comp, rng) = (&mut a.components[c], &mut a.rng);
                let Some(transition) = comp.step(dt, stress, accel, rng, now) else {
                    continue;
                };
                let mode = comp.mode.as_str().to_string();
                let component = comp.component.clone();
                let damage = comp.damage;
                let fault = comp.fault;
                match transition {
                    Transition::Onset => truth.push(TruthEvent {
                        ts_ns: now,
                        asset: a.id.clone(),
                        line: line.id.clone(),
                        component: Some(component),
                        kind: TruthKind::FaultOnset,
                        mode: Some(mode),
                        fault,
                        detail: format!("fault onset{} (damage {damage:.2})", fault_text(fault)),
                    }),
                    Transition::Failure => {
                        if a.failed.is_none() {
                            let repair_at_ns = mttr.map(|m| now.saturating_add((a.rng.lognormal_mean(m, 0.5) * NS) as i64));
                            a.failed = Some(Failed { repair_at_ns });
                        }
                        truth.push(TruthEvent {
                            ts_ns: now,
                            asset: a.id.clone(),
                            line: line.id.clone(),
                            component: Some(component.clone()),
                            kind: TruthKind::Failure,
                            mode: Some(mode.clone()),
                            fault,
                            detail: format!("{component} failed ({mode}{}); asset stopped", fault_text(fault)),
                        });
                    }
                }
            }
            step_asset(a, line, ambient, humidity, dt, thermal_dt);
        }

        // Meters sum their line.
        for i in 0..self.assets.len() {
            if self.assets[i].kind != Kind::Meter {
                continue;
            }
            let li = self.assets[i].line;
            let (mut p, mut q) = (0.0, 0.0);
            for &j in &self.lines[li].assets {
                if self.assets[j].kind != Kind::Meter {
                    p += self.assets[j].elec_kw;
                    q += self.assets[j].reactive_kvar;
                }
            }
            let a = &mut self.assets[i];
            if let Model::Meter { base_kw, energy_kwh } = &mut a.model {
                p += *base_kw;
                q += *base_kw * 0.484; // base load at cos φ 0.9
                // Automatic power-factor correction bank: switches 5 kvar capacitor stages towards cos φ 0.96.
                let q_target = p * PFC_TARGET_TAN;
                q -= PFC_STAGE_KVAR * ((q - q_target).max(0.0) / PFC_STAGE_KVAR).floor();
                *energy_kwh += p * dt / 3600.0;
                let energy = *energy_kwh;
                let pf = if p > 0.0 { p / (p * p + q * q).sqrt() } else { 0.0 };
                let p_meas = a.noisy(p, 0.005, 0.02);
                let pf_meas = a.noisy(pf, 0.0, 0.002).clamp(0.0, 1.0);
                a.set(Out::ActivePower, p_meas);
                a.set(Out::Energy, energy);
                a.set(Out::PowerFactor, pf_meas);
            }
        }

        let readings = self.assets.iter_mut().map(|a| a.reading(dt)).collect();
        let mut frames = Vec::new();
        if self.wave_every_ns > 0 {
            for a in &mut self.assets {
                for w in &mut a.waves {
                    if now < w.next_ns {
                        continue;
                    }
                    // At most one frame per signal and tick: with steps longer than the cadence, frames are skipped.
                    while w.next_ns <= now {
                        w.next_ns = w.next_ns.saturating_add(self.wave_every_ns);
                    }
                    frames.push(w.frame(&a.id, &a.vib_state, now - self.wave_frame_ns));
                }
            }
        }
        Tick {
            ts_ns: now,
            readings,
            context,
            truth,
            frames,
        }
    }
}

fn repair_asset(a: &mut AssetSim, line: &str, now: i64, how: &str, truth: &mut Vec<TruthEvent>) {
    let mut any = false;
    for c in &mut a.components {
        if c.onset || c.failed {
            any = true;
            truth.push(TruthEvent {
                ts_ns: now,
                asset: a.id.clone(),
                line: line.to_string(),
                component: Some(c.component.clone()),
                kind: TruthKind::Repaired,
                mode: Some(c.mode.as_str().to_string()),
                fault: c.fault,
                detail: format!("{how}: {} renewed (damage was {:.2}{})", c.component, c.damage, fault_text(c.fault)),
            });
        }
        c.renew(&mut a.rng);
    }
    if !any {
        truth.push(TruthEvent {
            ts_ns: now,
            asset: a.id.clone(),
            line: line.to_string(),
            component: None,
            kind: TruthKind::Repaired,
            mode: None,
            fault: None,
            detail: format!("{how}: no degradation found"),
        });
    }
    a.failed = None;
}

/// ": outer race defect" etc. for truth details; empty when there is no bearing defect.
fn fault_text(fault: Option<crate::BearingFault>) -> String {
    fault.map(|f| format!(": {} defect", f.as_str().replace('_', " "))).unwrap_or_default()
}

fn nz(rng: &mut Stream, v: f64, rel: f64, abs: f64) -> f64 {
    v * (1.0 + rel * rng.normal()) + abs * rng.normal()
}

/// Unit fraction in [0, 1) from a name: a stable per-product property.
fn name_fraction(s: &str) -> f64 {
    (stable_hash(s) >> 11) as f64 / (1u64 << 53) as f64
}

impl LineSim {
    fn batch_id(&self) -> String {
        format!("{}-B{:05}", self.id, self.batch_no)
    }

    fn work_order_id(&self) -> String {
        format!("WO-{}-{:05}", self.id, self.wo_no)
    }

    fn step_context(&mut self, now: i64, first: bool, cfg: &SimConfig, context: &mut Vec<(String, ContextUpdate)>, truth: &mut Vec<TruthEvent>) {
        if first {
            let mut u = ContextUpdate {
                mode: Some(Some(MODES[self.mode].to_string())),
                ..ContextUpdate::default()
            };
            if let Some(p) = self.products.get(self.product) {
                u.product = Some(Some(p.clone()));
                u.batch = Some(Some(self.batch_id()));
                u.work_order = Some(Some(self.work_order_id()));
            }
            context.push((self.id.clone(), u));
            return;
        }
        if now >= self.next_mode_ns {
            let old = self.mode;
            let weights = [0.5, 0.25, 0.25];
            let total: f64 = weights.iter().enumerate().filter(|(i, _)| *i != old).map(|(_, w)| w).sum();
            let mut u = self.rng.uniform() * total;
            let mut new = old;
            for (i, w) in weights.iter().enumerate() {
                if i == old {
                    continue;
                }
                new = i;
                if u < *w {
                    break;
                }
                u -= w;
            }
            self.mode = new;
            self.next_mode_ns = now.saturating_add((self.rng.exponential(cfg.mode_change_mean_s) * NS) as i64);
            context.push((
                self.id.clone(),
                ContextUpdate {
                    mode: Some(Some(MODES[new].to_string())),
                    ..ContextUpdate::default()
                },
            ));
            truth.push(TruthEvent {
                ts_ns: now,
                asset: self.id.clone(),
                line: self.id.clone(),
                component: None,
                kind: TruthKind::ModeChange,
                mode: None,
                fault: None,
                detail: format!("mode {} -> {}", MODES[old], MODES[new]),
            });
        }
        if !self.products.is_empty() && now >= self.next_changeover_ns {
            let n = self.products.len();
            let old = self.product;
            if n > 1 {
                let k = 1 + ((self.rng.uniform() * (n - 1) as f64) as usize).min(n - 2);
                self.product = (old + k) % n;
            }
            self.batch_no += 1;
            self.wo_no += 1;
            self.setup_until_ns = now.saturating_add((SETUP_S * NS) as i64);
            self.next_changeover_ns = now.saturating_add((self.rng.exponential(cfg.changeover_mean_s) * NS) as i64);
            let product = self.products[self.product].clone();
            context.push((
                self.id.clone(),
                ContextUpdate {
                    product: Some(Some(product.clone())),
                    batch: Some(Some(self.batch_id())),
                    work_order: Some(Some(self.work_order_id())),
                    mode: None,
                },
            ));
            truth.push(TruthEvent {
                ts_ns: now,
                asset: self.id.clone(),
                line: self.id.clone(),
                component: None,
                kind: TruthKind::Changeover,
                mode: None,
                fault: None,
                detail: format!(
                    "product {} -> {product}, batch {}, work order {}, set-up {SETUP_S} s",
                    self.products[old],
                    self.batch_id(),
                    self.work_order_id()
                ),
            });
        }
    }

    /// The line's production rate this step (units/s through its conveyors).
    fn flow(&mut self, now: i64, assets: &[AssetSim]) {
        self.failed_conveyor = self.conveyors.iter().position(|&i| assets[i].failed.is_some());
        self.feed_sum = self.spindles.iter().filter(|&&i| assets[i].failed.is_none()).map(|&i| feed(&assets[i])).sum();
        if !self.has_production || now < self.setup_until_ns || self.failed_conveyor.is_some() {
            self.rate = 0.0;
            return;
        }
        let spindle_factor = if self.spindles.is_empty() {
            1.0
        } else {
            self.feed_sum / self.spindles.len() as f64
        };
        let failed_aux = self
            .assets
            .iter()
            .filter(|&&i| matches!(assets[i].kind, Kind::Motor | Kind::Pump) && assets[i].failed.is_some())
            .count();
        self.rate = MODE_PERFORMANCE[self.mode] / self.ideal_cycle_s * spindle_factor * 0.5f64.powi(failed_aux.min(30) as i32);
    }
}

/// Feed override of a spindle: production slows below its nominal load.
fn feed(a: &AssetSim) -> f64 {
    (a.base_load / a.nominal_load).min(1.0)
}

fn step_asset(a: &mut AssetSim, line: &LineSim, ambient: f64, humidity: f64, dt: f64, tdt: f64) {
    let mode = line.mode;
    let db = a.visible(a.bearing);
    let wear = a.visible(a.impeller);
    let running = a.failed.is_none();
    let base_load = a.base_load;
    let feed_a = feed(a);
    a.elec_kw = 0.0;
    a.reactive_kvar = 0.0;
    a.bearing_stress = 0.0;
    a.impeller_stress = 0.0;
    let load = match a.kind {
        Kind::Motor | Kind::Spindle | Kind::Conveyor => a.load(mode, dt, false),
        Kind::Pump => a.load(mode, dt, true),
        _ => 0.0,
    };
    let fault = a.bearing.and_then(|i| a.components[i].fault);
    let rng = &mut a.rng;
    let out = &mut a.out;
    let set = |out: &mut [f64; N_OUT], o: Out, v: f64| out[o as usize] = v;
    let vib_floor = |rng: &mut Stream| 0.02 + 0.01 * rng.normal().abs();
    let profile = a.vib.as_ref();
    // Vibration of a running machine at shaft speed `shaft_hz` and speed factor `f`; the 1 Hz `vibration`
    // signal is its overall velocity with 4 % measurement noise.
    let spin = |rng: &mut Stream, shaft_hz: f64, f: f64, extra_unbalance: f64| {
        let levels = profile.map_or_else(VibrationLevels::default, |p| p.levels(f, db, extra_unbalance));
        let state = FrameState {
            shaft_hz,
            levels,
            fault: fault.filter(|_| db > 0.0),
            impact_g: impact_peak_g(db) * f,
            noise_g: profile.map_or(0.0, |p| p.noise_g),
        };
        (state, levels.overall() * (1.0 + 0.04 * rng.normal()) + 0.02 * rng.normal().abs())
    };
    let stopped = FrameState {
        noise_g: SENSOR_NOISE_G,
        ..FrameState::default()
    };
    let mut vib_state = stopped;
    match &mut a.model {
        Model::Motor { m, winding, bearing } => {
            if running {
                let op = m.operating_point(load + 0.06 * db * db);
                let sr = op.speed_rpm / m.rated_speed_rpm;
                let tw = winding.step(op.losses_kw, ambient, tdt);
                let tb = bearing.step((0.3 + 0.7 * load) * sr + 2.0 * db * db, ambient, tdt);
                let vib;
                (vib_state, vib) = spin(rng, op.speed_rpm / 60.0, 0.5 + 0.5 * sr, 0.0);
                set(out, Out::Speed, op.speed_rpm + 0.5 * rng.normal());
                set(out, Out::Current, nz(rng, op.current_a, 0.005, 0.05));
                set(out, Out::Power, nz(rng, op.input_kw, 0.005, 0.01));
                set(out, Out::WindingTemp, tw + 0.2 * rng.normal());
                set(out, Out::BearingTemp, tb + 0.15 * rng.normal());
                set(out, Out::Vibration, vib);
                a.elec_kw = op.input_kw;
                let pf = op.power_factor.max(0.05);
                a.reactive_kvar = op.input_kw * (1.0 - pf * pf).sqrt() / pf;
                a.bearing_stress = load.powi(3) * sr;
            } else {
                let tw = winding.step(0.0, ambient, tdt);
                let tb = bearing.step(0.0, ambient, tdt);
                set(out, Out::Speed, 0.0);
                set(out, Out::Current, 0.0);
                set(out, Out::Power, 0.0);
                set(out, Out::WindingTemp, tw + 0.2 * rng.normal());
                set(out, Out::BearingTemp, tb + 0.15 * rng.normal());
                set(out, Out::Vibration, vib_floor(rng));
            }
        }
        Model::Pump {
            p,
            sys,
            bearing,
            rated_shaft_kw,
            suction_bar,
        } => {
            if running {
                let r = load;
                let op = p.operating_point(r, wear, sys);
                let shaft = op.shaft_kw * (1.0 + 0.04 * db * db);
                let tb = bearing.step((0.3 + 0.7 * shaft / *rated_shaft_kw) * r + 2.0 * db * db, ambient, tdt);
                let vib;
                (vib_state, vib) = spin(rng, r * p.rated_speed_rpm / 60.0, 0.4 + 0.6 * r, IMPELLER_UNBALANCE_MM_S * wear * wear);
                set(out, Out::Speed, r * p.rated_speed_rpm + 0.5 * rng.normal());
                set(out, Out::Flow, nz(rng, op.flow_m3h, 0.01, 0.05));
                set(out, Out::Head, nz(rng, op.head_m, 0.005, 0.05));
                set(out, Out::Pressure, nz(rng, *suction_bar + p.density_kg_m3 * G * op.head_m / 1e5, 0.003, 0.005));
                set(out, Out::Power, nz(rng, shaft, 0.008, 0.01));
                let eff = if shaft > 0.0 { op.hydraulic_kw / shaft } else { 0.0 };
                set(out, Out::Efficiency, 100.0 * eff + 0.3 * rng.normal());
                set(out, Out::BearingTemp, tb + 0.15 * rng.normal());
                set(out, Out::Vibration, vib);
                a.elec_kw = shaft / 0.92;
                a.reactive_kvar = a.elec_kw * 0.329;
                a.bearing_stress = (op.head_m / p.rated_head_m).powi(3) * r;
                a.impeller_stress = r.powi(3);
            } else {
                let tb = bearing.step(0.0, ambient, tdt);
                set(out, Out::Speed, 0.0);
                set(out, Out::Flow, 0.05 * rng.normal());
                set(out, Out::Head, 0.0);
                set(out, Out::Pressure, nz(rng, *suction_bar, 0.0, 0.005));
                set(out, Out::Power, 0.0);
                set(out, Out::Efficiency, 0.0);
                set(out, Out::BearingTemp, tb + 0.15 * rng.normal());
                set(out, Out::Vibration, vib_floor(rng));
            }
        }
        Model::Conveyor {
            rated_speed_mps,
            rated_current_a,
            drive_hz,
            states,
            acc,
            total,
            scrap,
        } => {
            let k = a.conveyor_pos;
            let state = if !running {
                3
            } else if line.failed_conveyor.is_some_and(|f| k < f) {
                2
            } else if line.rate <= 0.0 {
                0
            } else {
                1
            };
            if state == 1 {
                let flow_frac = (line.rate * line.ideal_cycle_s).min(1.2);
                let belt_load = base_load * flow_frac;
                let current = *rated_current_a * (0.42 + 0.4 * belt_load + 0.55 * db * db);
                set(out, Out::BeltSpeed, nz(rng, *rated_speed_mps, 0.003, 0.002));
                set(out, Out::Current, nz(rng, current, 0.01, 0.02));
                *acc += (line.rate * dt * (1.0 + 0.1 * rng.normal())).max(0.0);
                while *acc >= 1.0 {
                    *acc -= 1.0;
                    *total += 1.0;
                    if rng.uniform() < 0.012 {
                        *scrap += 1.0;
                    }
                }
                a.elec_kw = 3f64.sqrt() * 0.4 * current * 0.78;
                a.reactive_kvar = a.elec_kw * 0.802;
                // Conveyor drive bearings run lightly loaded compared with their rating.
                a.bearing_stress = 0.5 * (0.3 + 0.7 * belt_load).powi(3);
                let vib;
                (vib_state, vib) = spin(rng, *drive_hz, 1.0, 0.0);
                set(out, Out::Vibration, vib);
            } else {
                set(out, Out::BeltSpeed, 0.0);
                set(out, Out::Current, 0.0);
                set(out, Out::Vibration, vib_floor(rng));
            }
            set(out, Out::Power, a.elec_kw);
            set(out, Out::State, states[state]);
            set(out, Out::Total, *total);
            set(out, Out::Scrap, *scrap);
        }
        Model::Spindle {
            rated_speed,
            rated_power_kw,
            temp,
            ideal_cycle_s,
            pos,
            total,
            scrap,
        } => {
            let producing = running && line.rate > 0.0;
            if producing {
                let product = line.products.get(line.product).map(String::as_str).unwrap_or(line.id.as_str());
                let program = *rated_speed * (0.55 + 0.25 * name_fraction(product));
                let speed = program * (1.0 + 0.001 * rng.normal());
                let sr = program / *rated_speed;
                let own = MODE_PERFORMANCE[mode] * feed_a / *ideal_cycle_s;
                let share = if line.feed_sum > 0.0 { line.rate * feed_a / line.feed_sum } else { 0.0 };
                *pos += own.min(share) * dt;
                while *pos >= 1.0 {
                    *pos -= 1.0;
                    *total += 1.0;
                    if rng.uniform() < 0.01 + 0.3 * db * db {
                        *scrap += 1.0;
                    }
                }
                let cutting = *pos < 0.85;
                let load_pct = if cutting {
                    100.0 * load * (1.0 + 0.04 * rng.normal()) + 12.0 * db * db
                } else {
                    6.0 + 0.5 * rng.normal()
                };
                let power = *rated_power_kw * load_pct / 100.0 / 0.88 + 0.4 * sr;
                let t = temp.step(0.35 * sr + 0.65 * (load_pct / 100.0).powi(2) + 1.4 * db * db, ambient, tdt);
                let vib;
                (vib_state, vib) = spin(rng, program / 60.0, 0.4 + 0.6 * sr, 0.0);
                set(out, Out::Speed, speed);
                set(out, Out::Load, load_pct);
                set(out, Out::Power, power);
                set(out, Out::BearingTemp, t + 0.1 * rng.normal());
                set(out, Out::Vibration, vib);
                a.elec_kw = power;
                a.reactive_kvar = power * 0.329;
                a.bearing_stress = (if cutting { load } else { 0.1 }).powi(3) * sr;
            } else {
                let t = temp.step(0.0, ambient, tdt);
                let idle = if running { 0.2 } else { 0.0 };
                set(out, Out::Speed, 0.0);
                set(out, Out::Load, 0.0);
                set(out, Out::Power, idle);
                set(out, Out::BearingTemp, t + 0.1 * rng.normal());
                set(out, Out::Vibration, vib_floor(rng));
                a.elec_kw = idle;
                a.reactive_kvar = idle * 0.5;
            }
            set(out, Out::Total, *total);
            set(out, Out::Scrap, *scrap);
        }
        Model::Meter { .. } => {}
        Model::None => {
            // No shaft: an accelerometer sees broadband noise only.
            vib_state.noise_g = profile.map_or(0.0, |p| p.noise_g);
            if a.kind == Kind::Ambient {
                set(out, Out::Temperature, ambient + 0.1 * rng.normal());
                set(out, Out::Humidity, humidity + 0.5 * rng.normal());
            }
        }
    }
    a.vib_state = vib_state;
}

impl AssetSim {
    fn reading(&mut self, dt: f64) -> AssetReading {
        let mut values = Vec::with_capacity(self.slots.len());
        for s in &mut self.slots {
            let raw = match &mut s.source {
                Source::Known { out, scale, offset } => self.out[*out as usize] * *scale + *offset,
                Source::Generic(Generic::Walk { x, center, sigma, lo, hi }) => {
                    let mut v = *center + ou(*x - *center, *sigma, 300.0, dt, &mut self.rng);
                    // reflect into the band
                    if v < *lo {
                        v = 2.0 * *lo - v;
                    }
                    if v > *hi {
                        v = 2.0 * *hi - v;
                    }
                    *x = v.clamp(*lo, *hi);
                    *x
                }
                Source::Generic(Generic::Counter { acc, rate, integer }) => {
                    *acc += *rate * dt * (0.5 + self.rng.uniform());
                    if *integer { acc.floor() } else { *acc }
                }
                Source::Generic(Generic::State { value }) => *value,
            };
            let mut v = if raw.is_finite() { raw } else { s.last };
            v = v.max(s.lo).min(s.hi);
            if s.counter {
                if s.integer {
                    v = v.floor();
                }
                v = v.max(s.last);
            }
            s.last = v;
            values.push((s.name.clone(), v));
        }
        AssetReading {
            asset: self.id.clone(),
            values,
        }
    }
}
