//! Waveform frames of the simulator: cadence, units, determinism, agreement with the 1 Hz vibration signal,
//! bearing-fault signatures, and the fault location in the ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::f64::consts::TAU;
use std::path::Path;

use doppel_model::{Plant, SignalKind};
use doppel_physics::bearing::BearingGeometry;
use doppel_sim::{BearingFault, FailureMode, HealthState, PlantSim, SimConfig, SimError, Tick, TruthKind, WaveFrame};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml");
const G: f64 = 9.806_65;

fn example() -> Plant {
    Plant::load(Path::new(EXAMPLE)).unwrap()
}

fn plant_with(sites: &str) -> Plant {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let types = &text[..text.find("[sites.north]").unwrap()];
    Plant::parse(&format!("{types}\n{sites}"), "test.toml").unwrap()
}

/// Wear as in `doppel demo`: some bearings are already degrading at the start.
fn demo(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        wear_acceleration: 2000.0,
        initial_wear: true,
        mttr_s: Some(900.0),
        ..SimConfig::default()
    }
}

fn value(t: &Tick, asset: &str, signal: &str) -> f64 {
    let r = t.readings.iter().find(|r| r.asset == asset).unwrap();
    r.values.iter().find(|(n, _)| n == signal).unwrap().1
}

fn samples(f: &WaveFrame) -> Vec<f64> {
    f.samples.iter().map(|&v| f64::from(v)).collect()
}

/// |DFT|² of `x` at frequency `f` (one bin, by a rotating phasor).
fn power_at(x: &[f64], f: f64, fs: f64) -> f64 {
    let (sw, cw) = (TAU * f / fs).sin_cos();
    let (mut s, mut c) = (0.0f64, 1.0f64);
    let (mut re, mut im) = (0.0, 0.0);
    for &v in x {
        re += v * c;
        im -= v * s;
        (s, c) = (s * cw + c * sw, c * cw - s * sw);
    }
    re * re + im * im
}

/// ISO 10816 velocity RMS (mm/s, 10–1000 Hz) of an acceleration frame in g, by a naive DFT.
fn band_velocity_mm_s(x: &[f64], fs: f64) -> f64 {
    let n = x.len();
    let df = fs / n as f64;
    let mut sum = 0.0;
    for k in (10.0 / df).ceil() as usize..=(1000.0 / df).floor() as usize {
        let f = k as f64 * df;
        let amplitude = power_at(x, f, fs).sqrt() * 2.0 / n as f64 / (TAU * f) * G * 1000.0;
        sum += amplitude * amplitude / 2.0;
    }
    sum.sqrt()
}

fn kurtosis(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n;
    x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / n / (v * v)
}

/// Second difference: a crude high-pass that removes the shaft harmonics before the kurtosis.
fn high_pass(x: &[f64]) -> Vec<f64> {
    x.windows(3).map(|w| w[2] - 2.0 * w[1] + w[0]).collect()
}

/// Envelope: band-pass (RBJ biquad, Q = 2) around `f0`, squared, mean removed, block-averaged by 8.
fn envelope(x: &[f64], f0: f64, fs: f64) -> (Vec<f64>, f64) {
    let w = TAU * f0 / fs;
    let alpha = w.sin() / 4.0;
    let a0 = 1.0 + alpha;
    let (b0, b2, a1, a2) = (alpha / a0, -alpha / a0, -2.0 * w.cos() / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    let sq: Vec<f64> = x
        .iter()
        .map(|&x0| {
            let y0 = b0 * x0 + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            y0 * y0
        })
        .collect();
    let dec: Vec<f64> = sq.chunks(8).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
    let m = dec.iter().sum::<f64>() / dec.len() as f64;
    (dec.iter().map(|v| v - m).collect(), fs / 8.0)
}

fn geometry(plant: &Plant, asset: &str, component: &str) -> BearingGeometry {
    let c = plant.asset(asset).unwrap().components.iter().find(|c| c.id == component).unwrap();
    BearingGeometry::new(
        c.params["n_balls"],
        c.params["ball_d_mm"],
        c.params["pitch_d_mm"],
        c.params["contact_angle_deg"],
    )
    .unwrap()
}

fn bearing_damage(sim: &PlantSim, asset: &str) -> (f64, Option<BearingFault>) {
    let h = sim
        .health()
        .into_iter()
        .find(|h| h.asset == asset && h.mode == FailureMode::BearingWear)
        .unwrap();
    (h.damage, h.fault)
}

#[test]
fn waveform_signals_arrive_as_frames_at_the_configured_cadence() {
    let plant = example();
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            seed: 1,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let waveforms: BTreeSet<(String, String)> = plant
        .assets
        .iter()
        .flat_map(|a| {
            a.signals
                .iter()
                .filter(|s| s.kind == SignalKind::Waveform)
                .map(|s| (a.id.clone(), s.name.clone()))
        })
        .collect();
    assert_eq!(waveforms.len(), 14);
    let mut seen: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    let mut per_tick = 0;
    for _ in 0..600 {
        let t = sim.step();
        per_tick = per_tick.max(t.frames.len());
        for r in &t.readings {
            assert!(
                r.values.iter().all(|(n, _)| !waveforms.contains(&(r.asset.clone(), n.clone()))),
                "waveform in values"
            );
        }
        for f in &t.frames {
            assert_eq!(f.samples.len(), 12_800);
            assert_eq!(f.sample_rate_hz, 12_800.0);
            assert_eq!(f.t0_ns, t.ts_ns - 1_000_000_000, "a frame ends at its tick");
            assert!(f.shaft_rpm > 1000.0, "{} runs at {} rpm", f.asset, f.shaft_rpm);
            assert!(f.samples.iter().all(|v| v.is_finite() && v.abs() <= 500.0));
            seen.entry((f.asset.clone(), f.signal.clone())).or_default().push(f.t0_ns);
        }
    }
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), waveforms);
    for (k, t0s) in &seen {
        assert_eq!(t0s.len(), 10, "{k:?}: {t0s:?}");
        assert!(t0s.windows(2).all(|w| w[1] - w[0] == 60_000_000_000), "{k:?}: {t0s:?}");
    }
    // staggered: 14 signals over 60 s never share a tick
    assert_eq!(per_tick, 1);

    // cadence 10 s, frames of 0.5 s
    let cfg = SimConfig {
        seed: 1,
        waveform_every_s: 10.0,
        waveform_frame_s: 0.5,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    let frames: Vec<WaveFrame> = (0..100).flat_map(|_| sim.step().frames).collect();
    assert_eq!(frames.len(), 14 * 10);
    assert!(frames.iter().all(|f| f.samples.len() == 6400));
    // steps longer than the cadence: one frame per signal and tick
    let cfg = SimConfig {
        seed: 1,
        step_s: 300.0,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    for _ in 0..3 {
        assert_eq!(sim.step().frames.len(), 14);
    }
}

#[test]
fn frames_are_deterministic_and_do_not_disturb_the_readings() {
    let plant = example();
    let run = |cfg: SimConfig| {
        let mut sim = PlantSim::new(&plant, cfg).unwrap();
        (0..120).map(|_| sim.step()).collect::<Vec<Tick>>()
    };
    let a = run(demo(4));
    let b = run(demo(4));
    let off = run(SimConfig {
        waveform_every_s: 0.0,
        ..demo(4)
    });
    let c = run(demo(5));
    let frames = |t: &[Tick]| t.iter().flat_map(|t| t.frames.clone()).collect::<Vec<_>>();
    let (fa, fb, fc) = (frames(&a), frames(&b), frames(&c));
    assert_eq!(fa.len(), 28);
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(
            (&x.asset, &x.signal, x.t0_ns, x.shaft_rpm.to_bits()),
            (&y.asset, &y.signal, y.t0_ns, y.shaft_rpm.to_bits())
        );
        assert!(x.samples.iter().zip(&y.samples).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
    assert!(fa.iter().zip(&fc).any(|(x, y)| x.samples != y.samples));
    assert!(frames(&off).is_empty());
    // frames draw from their own streams: the readings are the same with or without them
    for (x, y) in a.iter().zip(&off) {
        assert_eq!(x.readings, y.readings);
        assert_eq!(x.truth, y.truth);
    }
}

#[test]
fn frame_velocity_agrees_with_the_vibration_signal() {
    // Seed 5 starts with l3-press-motor-2 (outer race) and l1-coolant-pump (outer race) degrading.
    let plant = example();
    let mut sim = PlantSim::new(&plant, demo(5)).unwrap();
    let mut checked = BTreeSet::new();
    let mut degraded = 0;
    for _ in 0..60 {
        let t = sim.step();
        for f in &t.frames {
            let x = samples(f);
            let v = band_velocity_mm_s(&x, f.sample_rate_hz);
            let signal = value(&t, &f.asset, "vibration");
            let (damage, _) = bearing_damage(&sim, &f.asset);
            assert!(
                (v / signal - 1.0).abs() < 0.15,
                "{}: frame {v:.3} mm/s, signal {signal:.3} mm/s (damage {damage:.2})",
                f.asset
            );
            degraded += usize::from(damage > 0.2);
            checked.insert(f.asset.clone());
        }
    }
    assert_eq!(checked.len(), 14);
    assert!(degraded >= 2, "{degraded}");
}

#[test]
fn an_outer_race_fault_shows_at_bpfo_and_late_damage_is_impulsive() {
    let plant = example();
    let asset = "l3-press-motor-2";
    let cfg = SimConfig {
        waveform_frame_s: 4.0, // 0.25 Hz resolution
        ..demo(5)
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    let resonance = sim.vibration_profile(asset).unwrap().unwrap().resonance_hz;
    let geo = geometry(&plant, asset, "de_bearing");
    let mut first = true;
    let mut late = None;
    for _ in 0..3000 {
        let t = sim.step();
        let Some(f) = t.frames.iter().find(|f| f.asset == asset) else { continue };
        let (damage, fault) = bearing_damage(&sim, asset);
        assert_eq!(fault, Some(BearingFault::OuterRace));
        let x = samples(f);
        if first {
            first = false;
            assert!((0.2..0.4).contains(&damage), "{damage}");
            let bpfo = geo.defect_frequencies(f.shaft_rpm / 60.0).bpfo;
            let (env, efs) = envelope(&x, resonance, f.sample_rate_hz);
            let mut best = (0.0, 0.0);
            let mut hz = 5.0;
            while hz < 400.0 {
                let p = power_at(&env, hz, efs);
                if p > best.0 {
                    best = (p, hz);
                }
                hz += 0.1;
            }
            assert!((best.1 / bpfo - 1.0).abs() < 0.02, "envelope peak {} Hz, BPFO {bpfo} Hz", best.1);
        }
        if damage > 0.6 && f.shaft_rpm > 0.0 {
            late = Some(kurtosis(&high_pass(&x)));
            break;
        }
    }
    let k = late.expect("damage never passed 0.6");
    assert!(k > 5.0, "kurtosis at damage > 0.6: {k}");
    // healthy machines: Gaussian once the shaft harmonics are filtered out
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            seed: 5,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let healthy: Vec<f64> = (0..60).flat_map(|_| sim.step().frames).map(|f| kurtosis(&high_pass(&samples(&f)))).collect();
    assert_eq!(healthy.len(), 14);
    assert!(healthy.iter().all(|k| (2.7..3.3).contains(k)), "{healthy:?}");
}

#[test]
fn the_fault_location_is_in_the_truth_and_the_health() {
    let plant = example();
    let mut sim = PlantSim::new(&plant, demo(3)).unwrap();
    let mut located = BTreeMap::new();
    let mut kinds = BTreeSet::new();
    for _ in 0..3000 {
        let t = sim.step();
        for e in &t.truth {
            let bearing = e.mode.as_deref() == Some("bearing_wear");
            assert_eq!(e.fault.is_some(), bearing, "{e:?}");
            let json = serde_json::to_string(e).unwrap();
            assert_eq!(json.contains("\"fault\":"), bearing, "{json}");
            if let Some(f) = e.fault {
                assert!(json.contains(&format!("\"fault\":\"{}\"", f.as_str())), "{json}");
                assert!(e.detail.contains(&f.as_str().replace('_', " ")), "{}", e.detail);
                kinds.insert(f.as_str());
                if e.kind == TruthKind::FaultOnset {
                    located.insert((e.asset.clone(), e.component.clone().unwrap()), f);
                } else {
                    assert_eq!(located.get(&(e.asset.clone(), e.component.clone().unwrap())), Some(&f), "{e:?}");
                }
            }
        }
        for h in sim.health() {
            match (h.mode, h.state) {
                (FailureMode::BearingWear, HealthState::Degrading | HealthState::Failed) => {
                    assert_eq!(Some(&h.fault.unwrap()), located.get(&(h.asset.clone(), h.component.clone())))
                }
                _ => assert_eq!(h.fault, None, "{h:?}"),
            }
        }
    }
    assert!(kinds.len() >= 3, "{kinds:?}");
}

#[test]
fn a_stopped_asset_sends_noise_only_frames() {
    let plant = plant_with(
        r#"
[sites.s]
name = "S"
[sites.s.areas.a]
name = "A"
[sites.s.areas.a.lines.l]
name = "L"
assets = [{ id = "motor", type = "induction_motor" }]
"#,
    );
    let cfg = SimConfig {
        seed: 2,
        step_s: 10.0,
        wear_acceleration: 20_000.0,
        mttr_s: None,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    let mut n = 0;
    for _ in 0..100_000 {
        let t = sim.step();
        if !sim.is_failed("motor").unwrap() {
            continue;
        }
        for f in &t.frames {
            assert_eq!(f.shaft_rpm, 0.0);
            let x = samples(f);
            let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
            assert!((rms / 0.002 - 1.0).abs() < 0.1, "{rms} g");
            n += 1;
        }
        if n >= 3 {
            return;
        }
    }
    panic!("the motor never failed");
}

#[test]
fn frames_are_in_the_declared_unit_and_only_accelerations_are_synthesised() {
    let plant = plant_with(
        r#"
[asset_types.probe]
params = {}
[asset_types.probe.signals.accel]
unit = "m/s2"
kind = "waveform"
rate_hz = 2048
valid = [-1000, 1000]
[asset_types.probe.signals.current_wave]
unit = "A"
kind = "waveform"
rate_hz = 5000
[asset_types.probe.signals.temp]
unit = "degC"
kind = "process"
rate_hz = 1

[sites.s]
name = "S"
[sites.s.areas.a]
name = "A"
[sites.s.areas.a.lines.l]
name = "L"
assets = [{ id = "p", type = "probe" }]
"#,
    );
    let mut sim = PlantSim::new(&plant, SimConfig::default()).unwrap();
    let frames: Vec<WaveFrame> = (0..120).flat_map(|_| sim.step().frames).collect();
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|f| f.signal == "accel" && f.samples.len() == 2048 && f.shaft_rpm == 0.0));
    // no shaft: broadband noise of the profile (0.05–0.09 g), here in m/s²
    let noise_g = sim.vibration_profile("p").unwrap().unwrap().noise_g;
    let x = samples(&frames[0]);
    let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    assert!((rms / (noise_g * G) - 1.0).abs() < 0.1, "{rms} m/s² for {noise_g} g");
    assert_eq!(sim.step().readings[0].values.len(), 1);
}

#[test]
fn invalid_waveform_settings_are_rejected() {
    let plant = example();
    for (every, frame) in [
        (-1.0, 1.0),
        (f64::NAN, 1.0),
        (f64::INFINITY, 1.0),
        (60.0, 0.0),
        (60.0, 61.0),
        (0.5, 1.0),
        (60.0, f64::NAN),
    ] {
        let cfg = SimConfig {
            waveform_every_s: every,
            waveform_frame_s: frame,
            ..SimConfig::default()
        };
        assert!(matches!(PlantSim::new(&plant, cfg), Err(SimError::InvalidConfig(_))), "{every} {frame}");
    }
    assert!(
        PlantSim::new(
            &plant,
            SimConfig {
                waveform_every_s: 0.0,
                waveform_frame_s: 60.0,
                ..SimConfig::default()
            }
        )
        .is_ok()
    );
}
