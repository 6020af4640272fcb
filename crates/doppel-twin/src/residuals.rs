//! Physics residuals: measured minus what a first-principles model expects at the current operating point.
//!
//! A residual near zero says "the machine behaves like its model"; a drifting residual isolates a change the
//! raw signal hides behind load and ambient swings (a winding 8 K hotter than the thermal model at this load and
//! ambient is a cooling problem, not a busy shift). Residuals are computed for the signals a plant file
//! declares with `computed = "physics_residual"` and are stored as ordinary signals, so envelopes, alerts,
//! history and the learning models use them like any other.
//!
//! | residual signal | asset needs | model |
//! |---|---|---|
//! | `winding_temp_residual` (K) | signals `current` (A), `winding_temp` (°C); params `rated_power_kw`, `rated_current_a`, `rated_speed_rpm`, `efficiency`, `rated_temp_rise_k`, `thermal_time_constant_s`; the site's `ambient_asset` with a `temperature` signal | load from the measured current by inverting the motor model ([`doppel_physics::motor::InductionMotor::operating_point`]), then the first-order winding thermal network ([`doppel_physics::motor::MotorThermalModel`]) stepped with the measured load and ambient between samples; it starts at the first measured winding temperature |
//! | `head_residual` (m), `efficiency_residual` (%) | signals `flow` (m³/h), `head` (m), `power` (kW shaft), `speed` (rpm); params `rated_flow_m3h`, `rated_head_m`, `rated_speed_rpm`, `rated_efficiency`, `fluid_density_kg_m3` | pump curve and efficiency curve of a new pump at the measured speed and flow (affinity laws, [`doppel_physics::pump::CentrifugalPump::residuals`]); impeller wear makes both negative |

use std::collections::HashMap;

use doppel_model::{Asset, Plant};
use doppel_physics::motor::{InductionMotor, MotorThermalModel, WindingTemperatureTracker};
use doppel_physics::pump::{CentrifugalPump, PumpMeasurement};

/// Value of [`doppel_model::Signal::derived_from`] for residual signals.
pub const PHYSICS_RESIDUAL: &str = "physics_residual";

/// A residual sample to store: asset index, signal index, time, value (in the signal's unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResidualSample {
    pub asset: usize,
    pub signal: usize,
    pub ts_ns: i64,
    pub value: f64,
}

struct MotorResidual {
    model: MotorThermalModel,
    tracker: Option<WindingTemperatureTracker>,
    last_ts: i64,
    current: Option<f64>,
    temp: usize,
    current_sig: usize,
    out: usize,
    ambient: Option<(usize, usize)>,
}

struct PumpResidual {
    pump: CentrifugalPump,
    flow: usize,
    head: usize,
    power: usize,
    speed: usize,
    last: HashMap<usize, f64>,
    head_out: Option<usize>,
    eff_out: Option<usize>,
}

/// Keeps the physics models of every asset that declares residual signals and turns measured samples into
/// residual samples.
pub struct ResidualEngine {
    motors: HashMap<usize, MotorResidual>,
    pumps: HashMap<usize, PumpResidual>,
    /// Latest ambient temperature per (asset, signal) of an ambient station.
    ambient: HashMap<(usize, usize), f64>,
}

fn residual_signal(a: &Asset, name: &str) -> Option<usize> {
    a.signal_index(name).filter(|&i| a.signals[i].derived_from.as_deref() == Some(PHYSICS_RESIDUAL))
}

/// Why an asset's residual cannot be computed (shown once at start-up).
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualProblem {
    pub asset: String,
    pub signal: String,
    pub reason: String,
}

impl ResidualEngine {
    /// Sets up the models; returns the engine and the residual signals that cannot be computed, with why.
    pub fn new(plant: &Plant) -> (ResidualEngine, Vec<ResidualProblem>) {
        let mut motors = HashMap::new();
        let mut pumps = HashMap::new();
        let mut problems = Vec::new();
        for (ai, a) in plant.assets.iter().enumerate() {
            let p = |k: &str| a.param(k);
            if let Some(out) = residual_signal(a, "winding_temp_residual") {
                let built = (|| -> Result<MotorResidual, String> {
                    let need = |k: &str| p(k).ok_or_else(|| format!("parameter `{k}` is missing"));
                    let sig = |k: &str| a.signal_index(k).ok_or_else(|| format!("signal `{k}` is missing"));
                    let motor = InductionMotor::new(need("rated_power_kw")?, need("rated_current_a")?, need("rated_speed_rpm")?, need("efficiency")?)
                        .map_err(|e| e.to_string())?;
                    let model = MotorThermalModel::first_order_from_rated_rise(motor, need("rated_temp_rise_k")?, need("thermal_time_constant_s")?)
                        .map_err(|e| e.to_string())?;
                    let site = plant.sites.iter().find(|s| s.id == a.site);
                    let ambient = site
                        .and_then(|s| s.ambient_asset.as_deref())
                        .and_then(|id| plant.assets.iter().position(|x| x.id == id))
                        .and_then(|i| plant.assets[i].signal_index("temperature").map(|s| (i, s)));
                    Ok(MotorResidual {
                        model,
                        tracker: None,
                        last_ts: 0,
                        current: None,
                        temp: sig("winding_temp")?,
                        current_sig: sig("current")?,
                        out,
                        ambient,
                    })
                })();
                match built {
                    Ok(m) => {
                        motors.insert(ai, m);
                    }
                    Err(reason) => problems.push(ResidualProblem {
                        asset: a.id.clone(),
                        signal: "winding_temp_residual".into(),
                        reason,
                    }),
                }
            }
            let head_out = residual_signal(a, "head_residual");
            let eff_out = residual_signal(a, "efficiency_residual");
            if head_out.is_some() || eff_out.is_some() {
                let built = (|| -> Result<PumpResidual, String> {
                    let need = |k: &str| p(k).ok_or_else(|| format!("parameter `{k}` is missing"));
                    let sig = |k: &str| a.signal_index(k).ok_or_else(|| format!("signal `{k}` is missing"));
                    let pump = CentrifugalPump::new(
                        need("rated_flow_m3h")?,
                        need("rated_head_m")?,
                        need("rated_speed_rpm")?,
                        need("rated_efficiency")?,
                        p("fluid_density_kg_m3").unwrap_or(998.0),
                    )
                    .map_err(|e| e.to_string())?;
                    Ok(PumpResidual {
                        pump,
                        flow: sig("flow")?,
                        head: sig("head")?,
                        power: sig("power")?,
                        speed: sig("speed")?,
                        last: HashMap::new(),
                        head_out,
                        eff_out,
                    })
                })();
                match built {
                    Ok(pr) => {
                        pumps.insert(ai, pr);
                    }
                    Err(reason) => problems.push(ResidualProblem {
                        asset: a.id.clone(),
                        signal: "head_residual / efficiency_residual".into(),
                        reason,
                    }),
                }
            }
        }
        (
            ResidualEngine {
                motors,
                pumps,
                ambient: HashMap::new(),
            },
            problems,
        )
    }

    /// True if no asset has a computable residual.
    pub fn is_empty(&self) -> bool {
        self.motors.is_empty() && self.pumps.is_empty()
    }

    /// Takes one committed sample; returns the residual samples it completes.
    pub fn observe(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64) -> Vec<ResidualSample> {
        let mut out = Vec::new();
        if !value.is_finite() {
            return out;
        }
        self.ambient.insert((asset, signal), value);
        if let Some(m) = self.motors.get_mut(&asset) {
            if signal == m.current_sig {
                m.current = Some(value);
            } else if signal == m.temp {
                let ambient = m.ambient.and_then(|k| self.ambient.get(&k).copied()).unwrap_or(20.0);
                let load = m.current.map(|i| load_from_current(&m.model.motor, i));
                match (&mut m.tracker, load) {
                    (None, _) => {
                        // Start where the machine is: its history before the first sample is unknown.
                        m.tracker = m.model.tracker(value, value).ok();
                        m.last_ts = ts_ns;
                    }
                    (Some(t), Some(load)) if ts_ns > m.last_ts => {
                        let dt = (ts_ns - m.last_ts) as f64 / 1e9;
                        m.last_ts = ts_ns;
                        // Long gaps (restart, outage): the model restarts from the measurement.
                        if dt > 4.0 * 3600.0 {
                            m.tracker = m.model.tracker(value, value).ok();
                        } else if let Ok(expected) = if load > 0.01 {
                            t.update(load, ambient, dt)
                        } else {
                            t.update_stopped(ambient, dt)
                        } {
                            out.push(ResidualSample {
                                asset,
                                signal: m.out,
                                ts_ns,
                                value: value - expected,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(p) = self.pumps.get_mut(&asset) {
            if [p.flow, p.head, p.power, p.speed].contains(&signal) {
                p.last.insert(signal, value);
            }
            if signal == p.head
                && let (Some(&flow), Some(&head), Some(&power), Some(&speed)) =
                    (p.last.get(&p.flow), p.last.get(&p.head), p.last.get(&p.power), p.last.get(&p.speed))
                && speed > 0.2 * p.pump.rated_speed_rpm
                && flow > 0.05 * p.pump.rated_flow_m3h
                && power > 0.0
                && let Ok(r) = p.pump.residuals(&PumpMeasurement {
                    flow_m3h: flow,
                    head_m: head,
                    shaft_kw: power,
                    speed_rpm: speed,
                })
            {
                if let Some(s) = p.head_out {
                    out.push(ResidualSample {
                        asset,
                        signal: s,
                        ts_ns,
                        value: r.head_m,
                    });
                }
                if let Some(s) = p.eff_out {
                    out.push(ResidualSample {
                        asset,
                        signal: s,
                        ts_ns,
                        value: 100.0 * r.efficiency,
                    });
                }
            }
        }
        out
    }
}

/// Load fraction whose model current equals `current_a` (the current grows monotonically with load).
fn load_from_current(motor: &InductionMotor, current_a: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 2.0);
    if current_a <= motor.operating_point(0.0).current_a {
        return 0.0;
    }
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if motor.operating_point(mid).current_a < current_a {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plant() -> Plant {
        Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap()
    }

    #[test]
    fn current_inverts_to_load() {
        let m = InductionMotor::new(11.0, 21.0, 1465.0, 0.91).unwrap();
        for load in [0.2, 0.5, 0.8, 1.0, 1.2] {
            let i = m.operating_point(load).current_a;
            assert!((load_from_current(&m, i) - load).abs() < 1e-6);
        }
    }

    #[test]
    fn a_motor_that_follows_its_model_has_a_small_residual_and_a_hot_one_a_positive_residual() {
        let plant = plant();
        let (mut eng, problems) = ResidualEngine::new(&plant);
        assert!(problems.is_empty(), "{problems:?}");
        let ai = plant.assets.iter().position(|a| a.type_id == "induction_motor").unwrap();
        let a = &plant.assets[ai];
        let (cur, temp) = (a.signal_index("current").unwrap(), a.signal_index("winding_temp").unwrap());
        let model = &eng.motors[&ai].model;
        // Simulate the same first-order network at 80 % load, 25 °C ambient (no ambient station sample: 20 °C).
        let motor = model.motor;
        let i = motor.operating_point(0.8).current_a;
        let mut truth = model.tracker(20.0, 20.0).unwrap();
        let mut last = Vec::new();
        for k in 0..3600 {
            let ts = k * 1_000_000_000;
            let t = if k == 0 { 20.0 } else { truth.update(0.8, 20.0, 1.0).unwrap() };
            eng.observe(ai, cur, ts, i);
            last = eng.observe(ai, temp, ts, t);
        }
        assert_eq!(last.len(), 1);
        assert!(last[0].value.abs() < 0.05, "residual {}", last[0].value);
        // Now the winding runs 6 K hotter than the model (e.g. a blocked fan).
        let out = eng.observe(ai, temp, 3600 * 1_000_000_000, truth.winding_c() + 6.0);
        assert!((out[0].value - 6.0).abs() < 0.2, "{out:?}");
    }

    #[test]
    fn a_worn_pump_has_negative_head_and_efficiency_residuals() {
        let plant = plant();
        let (mut eng, _) = ResidualEngine::new(&plant);
        let ai = plant.assets.iter().position(|a| a.type_id == "centrifugal_pump").unwrap();
        let a = &plant.assets[ai];
        let p = &eng.pumps[&ai].pump.clone();
        let idx = |n: &str| a.signal_index(n).unwrap();
        let speed = p.rated_speed_rpm;
        let flow = 0.9 * p.rated_flow_m3h;
        let new = p.expected_at(flow, speed).unwrap();
        for (wear_head, expect) in [(0.0, 0.0), (-4.0, -4.0)] {
            eng.observe(ai, idx("flow"), 1, flow);
            eng.observe(ai, idx("speed"), 1, speed);
            eng.observe(ai, idx("power"), 1, new.shaft_kw);
            let out = eng.observe(ai, idx("head"), 1, new.head_m + wear_head);
            let head = out.iter().find(|r| r.signal == idx("head_residual")).unwrap();
            assert!((head.value - expect).abs() < 1e-6, "{out:?}");
            let eff = out.iter().find(|r| r.signal == idx("efficiency_residual")).unwrap();
            if wear_head < 0.0 {
                assert!(eff.value < -2.0, "{out:?}");
            } else {
                assert!(eff.value.abs() < 1e-6, "{out:?}");
            }
        }
    }
}
