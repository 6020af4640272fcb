//! Behaviour of the plant simulator on the example plant and on small plants built from its asset types.

use std::collections::HashMap;
use std::path::Path;

use doppel_model::{LineContext, Plant, SignalKind};
use doppel_sim::{HealthState, PlantSim, SimConfig, SimError, Tick, TruthKind};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml");

fn example() -> Plant {
    Plant::load(Path::new(EXAMPLE)).unwrap()
}

/// The example's asset types with a custom site section.
fn plant_with(sites: &str) -> Plant {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let types = &text[..text.find("[sites.north]").unwrap()];
    Plant::parse(&format!("{types}\n{sites}"), "test.toml").unwrap()
}

/// One line with one asset of each kind, plus a generic "mixer" of an unknown type.
fn small_plant() -> Plant {
    plant_with(
        r#"
[asset_types.mixer]
params = {}
[asset_types.mixer.signals.torque]
unit = "N.m"
kind = "process"
rate_hz = 1
valid = [0, 1000]
envelope = { normal = [40.0, 60.0], warning = [30.0, 70.0] }
[asset_types.mixer.signals.batches]
unit = "count"
kind = "counter"
rate_hz = 1
[asset_types.mixer.signals.phase]
unit = "state"
kind = "state"
rate_hz = 1
states = ["idle", "running"]
[asset_types.mixer.signals.jacket_temp]
unit = "degC"
kind = "process"
rate_hz = 1

[sites.s]
name = "S"
ambient_asset = "amb"
[sites.s.areas.a]
name = "A"
[sites.s.areas.a.lines.l]
name = "L"
products = ["p1", "p2"]
output = "conv"
assets = [
  { id = "motor", type = "induction_motor" },
  { id = "pump", type = "centrifugal_pump", params = { static_head_m = 0.0 } },
  { id = "conv", type = "belt_conveyor" },
  { id = "cnc", type = "cnc_spindle" },
  { id = "meter", type = "energy_meter" },
  { id = "amb", type = "ambient_station" },
  { id = "mix", type = "mixer" },
]
"#,
    )
}

fn value(t: &Tick, asset: &str, signal: &str) -> f64 {
    let r = t.readings.iter().find(|r| r.asset == asset).unwrap();
    r.values.iter().find(|(n, _)| n == signal).unwrap().1
}

fn run(plant: &Plant, config: SimConfig, steps: usize) -> Vec<Tick> {
    let mut sim = PlantSim::new(plant, config).unwrap();
    (0..steps).map(|_| sim.step()).collect()
}

fn demo(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        wear_acceleration: 2000.0,
        initial_wear: true,
        mttr_s: Some(900.0),
        ..SimConfig::default()
    }
}

#[test]
fn same_seed_gives_byte_identical_ticks_and_another_seed_does_not() {
    let plant = example();
    let a = run(&plant, demo(7), 3000);
    let b = run(&plant, demo(7), 3000);
    let c = run(&plant, demo(8), 3000);
    let json = |ticks: &[Tick]| ticks.iter().map(|t| serde_json::to_string(t).unwrap()).collect::<Vec<_>>().join("\n");
    assert_eq!(json(&a), json(&b));
    for (x, y) in a.iter().zip(&b) {
        for (rx, ry) in x.readings.iter().zip(&y.readings) {
            for ((_, vx), (_, vy)) in rx.values.iter().zip(&ry.values) {
                assert_eq!(vx.to_bits(), vy.to_bits());
            }
        }
    }
    assert_ne!(json(&a), json(&c));
}

#[test]
fn an_asset_stream_does_not_depend_on_the_other_assets() {
    // The motor of the small plant sees the same numbers whether or not the plant has other assets:
    // compare against the same asset placed alone, at the same index.
    let small = small_plant();
    let alone = plant_with(
        r#"
[sites.s]
name = "S"
[sites.s.areas.a]
name = "A"
[sites.s.areas.a.lines.l]
name = "L"
products = ["p1", "p2"]
assets = [{ id = "motor", type = "induction_motor" }]
"#,
    );
    let cfg = SimConfig {
        seed: 3,
        mode_change_mean_s: 1e12,
        changeover_mean_s: 1e12,
        ..SimConfig::default()
    };
    let a = run(&small, cfg.clone(), 50);
    let b = run(&alone, cfg, 50);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(value(x, "motor", "current").to_bits(), value(y, "motor", "current").to_bits());
    }
}

/// Runs `steps` ticks and checks every reading; returns the last counter values and the failure count.
fn check_readings(plant: &Plant, sim: &mut PlantSim, steps: usize) -> (HashMap<(String, String), f64>, usize) {
    let mut last: HashMap<(String, String), f64> = HashMap::new();
    let mut failures = 0;
    for _ in 0..steps {
        let t = sim.step();
        failures += t.truth.iter().filter(|e| e.kind == TruthKind::Failure).count();
        assert_eq!(t.readings.len(), plant.assets.len());
        for r in &t.readings {
            let asset = plant.asset(&r.asset).unwrap();
            // waveform signals arrive as frames, not as values; features and residuals are computed by doppel
            assert_eq!(
                r.values.len(),
                asset.signals.iter().filter(|s| s.kind != SignalKind::Waveform && s.derived_from.is_none()).count()
            );
            for (name, v) in &r.values {
                let sig = asset.signal(name).unwrap();
                assert!(v.is_finite(), "{}/{name} = {v}", r.asset);
                assert!(sig.valid.contains(*v), "{}/{name} = {v} outside {:?}", r.asset, sig.valid);
                if sig.kind == SignalKind::Counter {
                    let prev = last.insert((r.asset.clone(), name.clone()), *v).unwrap_or(0.0);
                    assert!(*v >= prev, "{}/{name} decreased {prev} -> {v}", r.asset);
                }
                if sig.kind == SignalKind::State {
                    assert!(*v >= 0.0 && (*v as usize) < sig.states.len() && v.fract() == 0.0);
                }
            }
        }
        for f in &t.frames {
            let sig = plant.asset(&f.asset).unwrap().signal(&f.signal).unwrap();
            assert_eq!(sig.kind, SignalKind::Waveform);
            assert_eq!(f.samples.len(), (sig.rate_hz * sim.config().waveform_frame_s).round() as usize);
            assert!(f.shaft_rpm >= 0.0 && f.shaft_rpm.is_finite());
            for v in &f.samples {
                assert!(v.is_finite() && sig.valid.contains(f64::from(*v)), "{}/{} sample {v}", f.asset, f.signal);
            }
        }
    }
    (last, failures)
}

#[test]
fn every_reading_is_finite_valid_and_counters_never_decrease() {
    let plant = example();
    // frames every 10 simulated minutes (instead of every minute) keep this unoptimised test quick
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            step_s: 5.0,
            waveform_every_s: 600.0,
            ..demo(11)
        },
    )
    .unwrap();
    // extreme but allowed loads stay physical too
    sim.set_load("u1-cw-pump-2", 0.0).unwrap();
    sim.set_load("l1-chip-motor", 1.5).unwrap();
    sim.set_load("l2-cnc-1", 0.0).unwrap();
    sim.set_load("l3-conv-2", 1.5).unwrap();
    let (last, failures) = check_readings(&plant, &mut sim, 8000);
    assert!(failures > 0, "11 simulated hours at 2000x wear should see failures");
    // production happened
    assert!(last[&("l1-conv-3".to_string(), "items_total".to_string())] > 100.0);
    assert!(last[&("l1-meter".to_string(), "energy".to_string())] > 100.0);
    // long steps (10 min) and the small plant with a generic asset behave too
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            step_s: 600.0,
            waveform_every_s: 6000.0,
            ..demo(12)
        },
    )
    .unwrap();
    check_readings(&plant, &mut sim, 500);
    let small = small_plant();
    let mut sim = PlantSim::new(&small, demo(13)).unwrap();
    check_readings(&small, &mut sim, 3000);
}

#[test]
fn the_simulator_can_move_to_a_worker_thread() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<PlantSim>();
}

#[test]
fn healthy_plant_stays_inside_its_normal_envelopes() {
    // No wear: typical readings sit inside the normal envelopes of the plant file (the file was written
    // for this plant), apart from rare noise excursions.
    let plant = example();
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            seed: 5,
            wear_acceleration: 0.0,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let mut total = 0usize;
    let mut outside: HashMap<String, usize> = HashMap::new();
    for _ in 0..3600 {
        let t = sim.step();
        let ctx_mode = None::<&str>;
        for r in &t.readings {
            let asset = plant.asset(&r.asset).unwrap();
            for (name, v) in &r.values {
                if let Some(env) = asset.signal(name).unwrap().envelopes.select(ctx_mode, None) {
                    total += 1;
                    if !env.warning.contains(*v) {
                        *outside.entry(format!("{}/{name}", r.asset)).or_default() += 1;
                    }
                }
            }
        }
    }
    let bad: usize = outside.values().sum();
    assert!((bad as f64) < 0.005 * total as f64, "{bad} of {total} readings in alarm: {outside:?}");
}

#[test]
fn high_load_wears_bearings_faster_than_low_load() {
    let plant = small_plant();
    let mut fail_steps = [0.0, 0.0];
    let seeds = 24;
    for seed in 0..seeds {
        for (k, load) in [(0, 1.0), (1, 0.45)] {
            let mut sim = PlantSim::new(
                &plant,
                SimConfig {
                    seed,
                    step_s: 30.0,
                    wear_acceleration: 2000.0,
                    mttr_s: None,
                    // wear only: waveform frames would cost most of this (unoptimised) test's time
                    waveform_every_s: 0.0,
                    ..SimConfig::default()
                },
            )
            .unwrap();
            sim.set_load("motor", load).unwrap();
            let cap = 3000;
            let mut steps = cap;
            for i in 0..cap {
                let t = sim.step();
                if t.truth.iter().any(|e| e.asset == "motor" && e.kind == TruthKind::Failure) {
                    steps = i;
                    break;
                }
            }
            fail_steps[k] += steps as f64 / f64::from(seeds as u32);
        }
    }
    // load³: 1.0 vs 0.45 is an ≈ 11× stress ratio; with the cap the ratio of means is smaller but large.
    assert!(
        fail_steps[1] > 3.0 * fail_steps[0],
        "mean steps to failure: high load {}, low load {}",
        fail_steps[0],
        fail_steps[1]
    );
}

#[test]
fn bearing_wear_leads_to_onset_then_failure_and_the_asset_stops_until_repaired() {
    let plant = example();
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            step_s: 2.0,
            mttr_s: Some(600.0),
            waveform_every_s: 600.0,
            ..demo(21)
        },
    )
    .unwrap();
    let mut onset: HashMap<(String, String), i64> = HashMap::new();
    let mut failed: HashMap<String, i64> = HashMap::new();
    let mut checked_stops = 0;
    let mut repaired = 0;
    let speed_signal = |asset: &str| {
        let a = plant.asset(asset).unwrap();
        a.running.as_ref().map(|r| r.signal.clone()).unwrap()
    };
    for _ in 0..20_000 {
        let t = sim.step();
        for e in &t.truth {
            let key = (e.asset.clone(), e.component.clone().unwrap_or_default());
            match e.kind {
                TruthKind::FaultOnset => {
                    onset.insert(key, e.ts_ns);
                }
                TruthKind::Failure => {
                    if e.mode.as_deref() == Some("bearing_wear") {
                        let at = onset.get(&key).copied();
                        assert!(at.is_some_and(|o| o <= e.ts_ns), "failure of {key:?} without an earlier fault onset");
                    }
                    failed.insert(e.asset.clone(), e.ts_ns);
                }
                TruthKind::Repaired => {
                    if failed.remove(&e.asset).is_some() {
                        repaired += 1;
                    }
                    onset.remove(&key);
                }
                _ => {}
            }
        }
        for asset in failed.keys() {
            let speed = value(&t, asset, &speed_signal(asset));
            assert_eq!(speed, 0.0, "failed {asset} reports speed {speed}");
            checked_stops += 1;
        }
        for f in t.frames.iter().filter(|f| failed.contains_key(&f.asset)) {
            assert_eq!(f.shaft_rpm, 0.0, "failed {} sends a frame at {} rpm", f.asset, f.shaft_rpm);
        }
    }
    assert!(checked_stops > 100 && repaired > 0, "stops checked {checked_stops}, repairs {repaired}");
    assert!(sim.health().iter().all(|h| (0.0..=1.0).contains(&h.damage)));
}

#[test]
fn manual_repair_restarts_a_failed_asset() {
    let plant = small_plant();
    let mut sim = PlantSim::new(
        &plant,
        SimConfig {
            seed: 2,
            step_s: 30.0,
            wear_acceleration: 20_000.0,
            mttr_s: None,
            ..SimConfig::default()
        },
    )
    .unwrap();
    sim.set_load("motor", 1.2).unwrap();
    let mut steps = 0;
    while !sim.is_failed("motor").unwrap() {
        sim.step();
        steps += 1;
        assert!(steps < 100_000, "motor never failed");
    }
    // without MTTR it stays down
    for _ in 0..200 {
        let t = sim.step();
        assert_eq!(value(&t, "motor", "speed"), 0.0);
        assert_eq!(value(&t, "motor", "current"), 0.0);
    }
    let failed = sim.health().into_iter().find(|h| h.asset == "motor" && h.state == HealthState::Failed).unwrap();
    assert_eq!(failed.mode.as_str(), "bearing_wear");
    sim.repair("motor").unwrap();
    let t = sim.step();
    assert!(
        t.truth
            .iter()
            .any(|e| e.kind == TruthKind::Repaired && e.asset == "motor" && e.component.as_deref() == Some("de_bearing"))
    );
    assert!(value(&t, "motor", "speed") > 1400.0);
    assert!(sim.health().iter().filter(|h| h.asset == "motor").all(|h| h.state == HealthState::Healthy));
    assert!(matches!(sim.repair("nope"), Err(SimError::UnknownAsset(_))));
    assert!(matches!(sim.set_load("motor", 7.0), Err(SimError::InvalidLoad { .. })));
    assert!(matches!(sim.set_load("meter", 0.5), Err(SimError::NotControllable(_))));
}

fn mean(ticks: &[Tick], asset: &str, signal: &str) -> f64 {
    ticks.iter().map(|t| value(t, asset, signal)).sum::<f64>() / ticks.len() as f64
}

#[test]
fn pump_follows_the_affinity_laws() {
    // static_head_m = 0: the operating point moves along a parabola through the origin, so Q ∝ N, H ∝ N², P ∝ N³.
    let plant = small_plant();
    let cfg = SimConfig {
        seed: 4,
        wear_acceleration: 0.0,
        mode_change_mean_s: 1e12,
        changeover_mean_s: 1e12,
        ..SimConfig::default()
    };
    let at = |speed_ratio: f64| {
        let mut sim = PlantSim::new(&plant, cfg.clone()).unwrap();
        sim.set_load("pump", speed_ratio).unwrap();
        let ticks: Vec<Tick> = (0..2000).map(|_| sim.step()).collect();
        let pressure = mean(&ticks, "pump", "discharge_pressure");
        (
            mean(&ticks, "pump", "speed"),
            mean(&ticks, "pump", "flow"),
            mean(&ticks, "pump", "head"),
            mean(&ticks, "pump", "power"),
            mean(&ticks, "pump", "efficiency"),
            pressure,
        )
    };
    let (n1, q1, h1, p1, e1, pressure) = at(1.0);
    let (n2, q2, h2, p2, e2, _) = at(0.7);
    let r = n2 / n1;
    assert!((r - 0.7).abs() < 0.01, "speed ratio {r}");
    assert!((q2 / q1 / r - 1.0).abs() < 0.01, "flow ratio {} vs {r}", q2 / q1);
    assert!((h2 / h1 / r.powi(2) - 1.0).abs() < 0.02, "head ratio {} vs {}", h2 / h1, r * r);
    assert!((p2 / p1 / r.powi(3) - 1.0).abs() < 0.03, "power ratio {} vs {}", p2 / p1, r.powi(3));
    assert!((e2 - e1).abs() < 1.0, "efficiency {e1} vs {e2}");
    // rated point: 60 m³/h at 40 m, 9.06 kW shaft, 72 %
    assert!(
        (q1 - 60.0).abs() < 1.5 && (h1 - 40.0).abs() < 1.5 && (p1 - 9.06).abs() < 0.4 && (e1 - 72.0).abs() < 1.0,
        "{q1} {h1} {p1} {e1}"
    );
    // discharge pressure = suction 0.3 bar + ρ·g·H
    assert!((pressure - (0.3 + 998.0 * 9.80665 * h1 / 1e5)).abs() < 0.02, "{pressure}");
}

#[test]
fn motors_heat_with_load_and_the_meter_integrates_the_line() {
    let plant = small_plant();
    let cfg = SimConfig {
        seed: 9,
        wear_acceleration: 0.0,
        mode_change_mean_s: 1e12,
        changeover_mean_s: 1e12,
        ..SimConfig::default()
    };
    let temps = |load: f64| {
        let mut sim = PlantSim::new(&plant, cfg.clone()).unwrap();
        sim.set_load("motor", load).unwrap();
        let ticks: Vec<Tick> = (0..600).map(|_| sim.step()).collect();
        (mean(&ticks, "motor", "winding_temp"), mean(&ticks, "amb", "temperature"), ticks)
    };
    let (hot, amb, _) = temps(1.0);
    let (cool, _, ticks) = temps(0.5);
    // rated load: 80 K rise over ambient; half load: losses 0.3 + 0.7·(12.28/21)² = 0.539 of rated → 43 K
    assert!((hot - amb - 80.0).abs() < 5.0, "rated winding {hot} at ambient {amb}");
    assert!((cool - amb - 43.1).abs() < 4.0, "half-load winding {cool} at ambient {amb}");
    let e0 = value(&ticks[0], "meter", "energy");
    let e1 = value(&ticks[599], "meter", "energy");
    let p: f64 = ticks[1..].iter().map(|t| value(t, "meter", "active_power")).sum::<f64>() / 3600.0;
    assert!((e1 - e0 - p).abs() < 0.02 * p, "energy {} vs ∫P {p}", e1 - e0);
    let motor_kw = mean(&ticks, "motor", "power");
    assert!(mean(&ticks, "meter", "active_power") > motor_kw + 4.0);
    let pf = mean(&ticks, "meter", "power_factor");
    assert!((0.6..1.0).contains(&pf), "{pf}");
}

#[test]
fn unknown_asset_types_get_a_generic_model() {
    let plant = small_plant();
    let ticks = run(
        &plant,
        SimConfig {
            seed: 1,
            ..SimConfig::default()
        },
        3000,
    );
    for t in &ticks {
        let torque = value(t, "mix", "torque");
        assert!((40.0..=60.0).contains(&torque), "{torque}");
        assert_eq!(value(t, "mix", "phase"), 1.0);
    }
    assert!(value(&ticks[2999], "mix", "batches") > value(&ticks[0], "mix", "batches"));
    let torques: Vec<f64> = ticks.iter().map(|t| value(t, "mix", "torque")).collect();
    assert!(torques.windows(2).any(|w| w[0] != w[1]), "the walk moves");
}

#[test]
fn modes_and_changeovers_are_published_as_context_and_truth() {
    let plant = example();
    let cfg = SimConfig {
        seed: 12,
        step_s: 10.0,
        mode_change_mean_s: 1800.0,
        changeover_mean_s: 3600.0,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    let ticks: Vec<Tick> = (0..2000).map(|_| sim.step()).collect();
    let first = &ticks[0];
    assert_eq!(first.context.len(), 4, "every line's initial context");
    let (line, u) = first.context.iter().find(|(l, _)| l == "l1").unwrap();
    assert_eq!(line, "l1");
    assert!(u.product.as_ref().unwrap().as_deref().is_some_and(|p| p.starts_with("shaft-")));
    assert!(u.batch.is_some() && u.work_order.is_some() && u.mode == Some(Some("normal".into())));
    // applying every published update reproduces the simulator's own view of the context
    for line in ["l1", "l2", "l3", "u1"] {
        let applied = ticks
            .iter()
            .flat_map(|t| t.context.iter())
            .filter(|(l, _)| l == line)
            .fold(LineContext::default(), |ctx, (_, u)| u.apply(&ctx));
        assert_eq!(Some(applied), sim.line_context(line));
    }
    let events: Vec<_> = ticks.iter().flat_map(|t| t.truth.iter()).collect();
    let modes = events.iter().filter(|e| e.kind == TruthKind::ModeChange).count();
    let changeovers = events.iter().filter(|e| e.kind == TruthKind::Changeover).count();
    assert!(modes > 10 && changeovers > 5, "{modes} mode changes, {changeovers} changeovers");
    let ctx_modes = ticks.iter().skip(1).flat_map(|t| t.context.iter()).filter(|(_, u)| u.mode.is_some()).count();
    assert_eq!(ctx_modes, modes);
    // no changeovers on the utilities line, which has no products
    assert!(events.iter().all(|e| !(e.kind == TruthKind::Changeover && e.line == "u1")));
    // the truth log serialises as JSON lines
    let line = serde_json::to_string(events[0]).unwrap();
    assert!(line.contains("\"kind\":"), "{line}");
}

#[test]
fn faster_than_real_time() {
    let plant = example();
    let mut sim = PlantSim::new(&plant, demo(1)).unwrap();
    let n = 5000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(sim.step());
    }
    let rate = f64::from(n) / start.elapsed().as_secs_f64();
    eprintln!("{rate:.0} plant-steps/s ({} assets)", plant.assets.len());
    // Debug builds are slow; the release figure is far higher (see the crate docs / report).
    assert!(rate > 500.0, "{rate} steps/s");
}

#[test]
fn invalid_configs_are_rejected() {
    let plant = example();
    for cfg in [
        SimConfig {
            step_s: 0.0,
            ..SimConfig::default()
        },
        SimConfig {
            step_s: f64::NAN,
            ..SimConfig::default()
        },
        SimConfig {
            wear_acceleration: -1.0,
            ..SimConfig::default()
        },
        SimConfig {
            mttr_s: Some(0.0),
            ..SimConfig::default()
        },
    ] {
        assert!(matches!(PlantSim::new(&plant, cfg), Err(SimError::InvalidConfig(_))));
    }
}

#[test]
fn impeller_wear_lowers_head_and_efficiency_and_raises_power_per_flow() {
    let plant = small_plant();
    let cfg = SimConfig {
        seed: 6,
        wear_acceleration: 4000.0,
        mttr_s: None,
        mode_change_mean_s: 1e12,
        changeover_mean_s: 1e12,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    sim.set_load("pump", 1.0).unwrap();
    let early: Vec<Tick> = (0..600).map(|_| sim.step()).collect();
    let wear0 = impeller(&sim);
    let mut late = Vec::new();
    while impeller(&sim) < 0.6 && !sim.is_failed("pump").unwrap() {
        late = (0..600).map(|_| sim.step()).collect();
    }
    let wear1 = impeller(&sim);
    assert!(wear1 > wear0 + 0.4, "impeller wear {wear0} -> {wear1}");
    // compare while running (the pump may have stopped with a bearing failure in the last window)
    let late: Vec<Tick> = late.into_iter().filter(|t| value(t, "pump", "speed") > 100.0).collect();
    assert!(late.len() > 100);
    // normalise to rated speed with the affinity laws: head / r², power per flow / r²
    let r2 = |t: &[Tick]| (mean(t, "pump", "speed") / 2900.0).powi(2);
    let (e0, e1) = (mean(&early, "pump", "efficiency"), mean(&late, "pump", "efficiency"));
    let (h0, h1) = (mean(&early, "pump", "head") / r2(&early), mean(&late, "pump", "head") / r2(&late));
    let ppf = |t: &[Tick]| mean(t, "pump", "power") / mean(t, "pump", "flow") / r2(t);
    assert!(e1 < e0 - 5.0, "efficiency {e0} -> {e1}");
    assert!(h1 < h0 - 2.0, "head {h0} -> {h1}");
    assert!(ppf(&late) > 1.03 * ppf(&early), "power per flow {} -> {}", ppf(&early), ppf(&late));
}

fn impeller(sim: &PlantSim) -> f64 {
    sim.health().iter().find(|h| h.asset == "pump" && h.component == "impeller").unwrap().damage
}

#[test]
fn a_failed_conveyor_blocks_the_line_upstream_and_starves_it_downstream() {
    let plant = plant_with(
        r#"
[sites.s]
name = "S"
[sites.s.areas.a]
name = "A"
[sites.s.areas.a.lines.l]
name = "L"
products = ["p"]
output = "c3"
assets = [
  { id = "c1", type = "belt_conveyor" },
  { id = "c2", type = "belt_conveyor" },
  { id = "c3", type = "belt_conveyor" },
]
"#,
    );
    let cfg = SimConfig {
        seed: 3,
        step_s: 10.0,
        wear_acceleration: 20_000.0,
        mttr_s: None,
        changeover_mean_s: 1e12,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, cfg).unwrap();
    sim.set_load("c1", 0.0).unwrap();
    sim.set_load("c3", 0.0).unwrap();
    sim.set_load("c2", 1.5).unwrap();
    let mut t = sim.step();
    while !sim.is_failed("c2").unwrap() {
        t = sim.step();
        assert!(t.ts_ns < 1_767_225_600_000_000_000 + 400 * 86_400 * 1_000_000_000, "c2 never failed");
    }
    assert!(!sim.is_failed("c1").unwrap() && !sim.is_failed("c3").unwrap(), "only c2 should fail here");
    let items = value(&t, "c3", "items_total");
    for _ in 0..100 {
        let t = sim.step();
        assert_eq!(value(&t, "c1", "state"), 2.0, "upstream blocked");
        assert_eq!(value(&t, "c2", "state"), 3.0, "fault");
        assert_eq!(value(&t, "c3", "state"), 0.0, "downstream starved");
        assert_eq!(value(&t, "c3", "items_total"), items);
        assert_eq!(value(&t, "c2", "belt_speed"), 0.0);
    }
    sim.repair("c2").unwrap();
    // lightly loaded now, so that it does not wear out again within the check
    sim.set_load("c2", 0.0).unwrap();
    let t = (0..100).map(|_| sim.step()).last().unwrap();
    assert_eq!(value(&t, "c2", "state"), 1.0);
    assert!(value(&t, "c3", "items_total") > items);
}
