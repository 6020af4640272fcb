//! The online condition monitor against the simulator's ground truth: every waveform frame of the example plant
//! (motors and pumps, 12.8 kHz accelerometers) goes through [`WaveProcessor`] as it would arrive over MQTT, and
//! the confirmed diagnoses are compared with what the simulator says is wrong:
//!
//! * every bearing defect that develops is diagnosed with its true location before the bearing fails;
//! * a bearing that is healthy is never diagnosed with a bearing defect (no false alarm), and
//! * diagnoses of misalignment appear only on machines the simulator made notably misaligned.
//!
//! Environment: `CONDITION_SEEDS=7,8,9` chooses the seeds (default 7 and 8); `DEBUG_ASSET=<id>` prints every
//! frame diagnosis of one asset with its evidence (add `DEBUG_CAGE=1` to also print the cage hypothesis).

use std::collections::HashMap;
use std::path::Path;

use doppel_ingest::wave::{WaveConfig, WaveProcessor};
use doppel_model::{Plant, WaveFrame};
use doppel_signal::diagnosis::Fault;
use doppel_sim::{PlantSim, SimConfig, TruthKind};

fn fault_of(f: doppel_sim::vibration::BearingFault) -> Fault {
    use doppel_sim::vibration::BearingFault as B;
    match f {
        B::OuterRace => Fault::OuterRace,
        B::InnerRace => Fault::InnerRace,
        B::Ball => Fault::Ball,
        B::Cage => Fault::Cage,
    }
}

#[test]
fn simulated_bearing_faults_are_diagnosed_before_failure_without_false_alarms() {
    let seeds: Vec<u64> = std::env::var("CONDITION_SEEDS")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![7, 8]);
    let mut table = std::collections::BTreeMap::new();
    let (mut delays, mut leads) = (Vec::new(), Vec::new());
    for seed in seeds {
        for (truth, first, delay, lead) in scenario(seed) {
            *table.entry((truth.as_str(), first.as_str())).or_insert(0) += 1;
            delays.push(delay);
            leads.push(lead);
        }
    }
    delays.sort_by(f64::total_cmp);
    leads.sort_by(f64::total_cmp);
    eprintln!("bearing failures: (true fault, first confirmed diagnosis) → count: {table:?}");
    if !delays.is_empty() {
        eprintln!(
            "{} failures; onset → diagnosis median {:.1} min (max {:.1}); diagnosis → failure median {:.1} min (min {:.1})",
            delays.len(),
            delays[delays.len() / 2],
            delays[delays.len() - 1],
            leads[leads.len() / 2],
            leads[0]
        );
    }
}

/// Runs the example plant for 10 simulated hours; asserts the rules; returns (true fault, first confirmed
/// diagnosis, minutes from onset to diagnosis, minutes from diagnosis to failure) for every bearing that failed.
fn scenario(seed: u64) -> Vec<(Fault, Fault, f64, f64)> {
    let plant = Plant::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap();
    // Accelerated wear so several bearings go from onset to failure within the simulated span.
    let config = SimConfig {
        seed,
        step_s: 5.0,
        wear_acceleration: 3000.0,
        initial_wear: true,
        waveform_every_s: 30.0,
        ..SimConfig::default()
    };
    let mut sim = PlantSim::new(&plant, config).unwrap();
    let waves = WaveProcessor::new(WaveConfig::default());
    let index: HashMap<&str, usize> = plant.assets.iter().enumerate().map(|(i, a)| (a.id.as_str(), i)).collect();
    // (asset, truth fault) → onset time; failures and repairs by asset.
    let mut active: HashMap<String, (Fault, i64)> = HashMap::new();
    let mut diagnosed_right: HashMap<String, i64> = HashMap::new();
    let mut missed: Vec<String> = Vec::new();
    let mut false_bearing: Vec<String> = Vec::new();
    let mut wrong_type: Vec<String> = Vec::new();
    let mut faults_seen = 0usize;
    let rolling = |f: Fault| matches!(f, Fault::Ball | Fault::Cage);
    let mut ball_cage_confusions: std::collections::BTreeSet<String> = Default::default();
    // The first confirmed diagnosis of each active fault.
    let mut first_call: HashMap<String, Fault> = HashMap::new();
    // (fault, minutes from onset to diagnosis, minutes from diagnosis to failure) of every bearing that failed.
    let mut caught: Vec<(Fault, Fault, f64, f64)> = Vec::new();
    let start = sim.now_ns();
    let mut history: HashMap<String, Vec<String>> = HashMap::new();
    // After a repair the monitor needs `confirm_count` normal frames to clear the old diagnosis.
    let mut repaired_at: HashMap<String, i64> = HashMap::new();
    let grace_ns = (WaveConfig::default().confirm_window as f64 * 30.0 * 1e9) as i64;
    let hours = 10.0;
    let steps = (hours * 3600.0 / 5.0) as usize;
    for _ in 0..steps {
        let tick = sim.step();
        for t in &tick.truth {
            if t.mode.as_deref() == Some("bearing_wear") {
                history
                    .entry(t.asset.clone())
                    .or_default()
                    .push(format!("{:?} {:?} @{}", t.kind, t.fault, (t.ts_ns - start) / 1_000_000_000));
            }
            // Only the bearing the accelerometer sits on is watched (a motor's non-drive-end bearing is not).
            let monitored = index.get(t.asset.as_str()).is_some_and(|&i| {
                plant.assets[i]
                    .signals
                    .iter()
                    .any(|s| s.kind == doppel_model::SignalKind::Waveform && s.component.is_some() && s.component == t.component)
            });
            if !monitored || t.mode.as_deref() != Some("bearing_wear") {
                continue;
            }
            match t.kind {
                TruthKind::FaultOnset => {
                    if let Some(f) = t.fault {
                        active.insert(t.asset.clone(), (fault_of(f), t.ts_ns));
                        faults_seen += 1;
                    }
                }
                TruthKind::Failure => {
                    if let (Some((f, onset)), Some(at)) = (active.get(&t.asset), diagnosed_right.get(&t.asset)) {
                        caught.push((
                            *f,
                            first_call.get(&t.asset).copied().unwrap_or(*f),
                            (at - onset) as f64 / 60e9,
                            (t.ts_ns - at) as f64 / 60e9,
                        ));
                    }
                    if active.contains_key(&t.asset) && !diagnosed_right.contains_key(&t.asset) {
                        missed.push(format!("{} ({:?}) failed at {} undiagnosed", t.asset, active[&t.asset].0, t.ts_ns));
                    }
                }
                TruthKind::Repaired => {
                    first_call.remove(&t.asset);
                    repaired_at.insert(t.asset.clone(), t.ts_ns);
                    active.remove(&t.asset);
                    diagnosed_right.remove(&t.asset);
                }
                _ => {}
            }
        }
        for f in &tick.frames {
            let ai = index[f.asset.as_str()];
            let si = plant.assets[ai].signal_index(&f.signal).unwrap();
            let frame = WaveFrame {
                t0_ns: f.t0_ns,
                sample_rate_hz: f.sample_rate_hz,
                shaft_rpm: Some(f.shaft_rpm),
                samples: f.samples.clone(),
            };
            waves.process(&plant, ai, si, &frame, None).unwrap();
            let status = waves.status(Some(&f.asset)).into_iter().find(|s| s.signal == f.signal).unwrap();
            if std::env::var("DEBUG_ASSET").is_ok_and(|a| a == f.asset) {
                let h = status
                    .hypotheses
                    .iter()
                    .find(|h| h.detected || (h.fault == Fault::Cage && std::env::var("DEBUG_CAGE").is_ok()));
                eprintln!(
                    "DEBUG @{} rpm {:?} frame {:?} confirmed {} {:?}",
                    (f.t0_ns - start) / 1_000_000_000,
                    status.shaft_rpm,
                    status.frame_fault,
                    status.fault,
                    h.map(|h| (
                        &h.explanation,
                        h.lines.iter().map(|l| (l.label.clone(), l.found_hz, l.prominence_db)).collect::<Vec<_>>()
                    ))
                );
            }
            if status.fault.is_bearing() {
                match active.get(&f.asset) {
                    Some((truth, _)) if *truth == status.fault => {
                        diagnosed_right.entry(f.asset.clone()).or_insert(f.t0_ns);
                        first_call.entry(f.asset.clone()).or_insert(status.fault);
                    }
                    // Known limit: the simulator's ball defects are cage-modulated, and its cage defects ring a dense
                    // FTF comb; the two are sometimes confused with each other (counted, reported in BENCHMARKS.md).
                    Some((truth, _)) if rolling(*truth) && rolling(status.fault) => {
                        diagnosed_right.entry(f.asset.clone()).or_insert(f.t0_ns);
                        ball_cage_confusions.insert(f.asset.clone());
                        first_call.entry(f.asset.clone()).or_insert(status.fault);
                    }
                    Some((truth, _)) => wrong_type.push(format!(
                        "{}: diagnosed {} but the defect is {truth} @{} (history {:?})",
                        f.asset,
                        status.fault,
                        (f.t0_ns - start) / 1_000_000_000,
                        history.get(&f.asset)
                    )),
                    None if repaired_at.get(&f.asset).is_some_and(|r| f.t0_ns - r <= grace_ns) => {}
                    None => false_bearing.push(format!(
                        "{}: diagnosed {} on a healthy bearing @{} ({}; history {:?})",
                        f.asset,
                        status.fault,
                        (f.t0_ns - start) / 1_000_000_000,
                        status.explanation,
                        history.get(&f.asset)
                    )),
                }
            }
        }
    }
    eprintln!(
        "seed {seed}: {faults_seen} bearing fault onsets on monitored assets; {} ran to failure:",
        caught.len()
    );
    for (f, first, delay, lead) in &caught {
        eprintln!("  {f:<11} first confirmed as {first:<11} {delay:6.1} min after onset, {lead:6.1} min before failure");
    }
    eprintln!("missed: {missed:?}; wrong type: {wrong_type:?}; ball/cage confused on: {ball_cage_confusions:?}");
    assert!(caught.len() >= 3, "several bearings should run to failure in the scenario");
    assert!(faults_seen >= 3, "the scenario should develop several bearing faults, got {faults_seen}");
    assert!(missed.is_empty(), "bearing failures without a prior correct diagnosis: {missed:?}");
    assert!(false_bearing.is_empty(), "false bearing diagnoses: {false_bearing:?}");
    // The type may be unclear for a frame or two right at onset, but a confirmed wrong type is a defect.
    assert!(wrong_type.is_empty(), "wrong fault types: {wrong_type:?}");
    // Misalignment is only called on machines built with notable misalignment.
    for s in waves.status(None) {
        if s.fault == Fault::Misalignment {
            let p = sim.vibration_profile(&s.asset).unwrap().unwrap();
            assert!(
                p.misalignment_mm_s >= 0.8,
                "{}: misalignment diagnosed at {:.2} mm/s of 2×: {}",
                s.asset,
                p.misalignment_mm_s,
                s.explanation
            );
        }
    }
    caught
}
