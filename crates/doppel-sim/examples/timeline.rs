//! Prints the ground-truth timeline and a few signals of the example plant under the demo settings.
//!
//! `cargo run --release -p doppel-sim --example timeline -- [hours] [seed] [wear_acceleration] [asset to trace]`

use doppel_model::time::format_rfc3339;
use doppel_sim::{PlantSim, SimConfig, TruthKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hours: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(42);
    let accel: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2000.0);
    let trace = args.get(4).cloned();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml");
    let plant = match doppel_model::Plant::load(std::path::Path::new(path)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let config = SimConfig {
        seed,
        wear_acceleration: accel,
        initial_wear: true,
        mttr_s: Some(1800.0),
        ..SimConfig::default()
    };
    let mut sim = match PlantSim::new(&plant, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let steps = (hours * 3600.0) as usize;
    let mut counts = [0usize; 5];
    for i in 0..steps {
        let t = sim.step();
        for e in &t.truth {
            counts[e.kind as usize] += 1;
            if !matches!(e.kind, TruthKind::ModeChange | TruthKind::Changeover) {
                println!(
                    "{} {:?} {} {} {}",
                    format_rfc3339(e.ts_ns),
                    e.kind,
                    e.asset,
                    e.component.as_deref().unwrap_or("-"),
                    e.detail
                );
            }
        }
        if let Some(asset) = &trace
            && i % 120 == 0
            && let Some(r) = t.readings.iter().find(|r| r.asset == *asset)
        {
            let values: Vec<String> = r.values.iter().map(|(n, v)| format!("{n}={v:.2}")).collect();
            println!("  {asset} t={i:>6}s {}", values.join(" "));
        }
        if trace.is_none() && i % 600 == 0 {
            let pick = |a: &str, s: &str| {
                t.readings
                    .iter()
                    .find(|r| r.asset == a)
                    .and_then(|r| r.values.iter().find(|(n, _)| n == s))
                    .map(|v| v.1)
                    .unwrap_or(f64::NAN)
            };
            println!(
                "  t={:>6}s ambient {:.1} degC | l1-hyd-motor I {:.1} A Tw {:.1} Tb {:.1} vib {:.2} | u1-cw-pump-1 Q {:.1} H {:.1} eff {:.1} | l1-conv-3 items {} | u1-meter P {:.1} kW",
                i,
                pick("u1-climate", "temperature"),
                pick("l1-hyd-motor", "current"),
                pick("l1-hyd-motor", "winding_temp"),
                pick("l1-hyd-motor", "bearing_temp"),
                pick("l1-hyd-motor", "vibration"),
                pick("u1-cw-pump-1", "flow"),
                pick("u1-cw-pump-1", "head"),
                pick("u1-cw-pump-1", "efficiency"),
                pick("l1-conv-3", "items_total"),
                pick("u1-meter", "active_power"),
            );
        }
    }
    println!(
        "onsets {} failures {} repairs {} mode changes {} changeovers {}",
        counts[0], counts[1], counts[2], counts[3], counts[4]
    );
}
