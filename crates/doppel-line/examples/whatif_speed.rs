//! What-if speed: one simulated week of the 10-station reference line
//! ([`doppel_line::whatif::reference_line`]), 20 replications, and a baseline-versus-variant comparison
//! (40 runs). Run with
//!
//! ```sh
//! cargo run --release -p doppel-line --example whatif_speed
//! ```
//!
//! The target (issue 6): a week of a 10-station line, 20 replications, in ≤ 2 s.

use std::time::Instant;

use doppel_line::config::WEEK;
use doppel_line::energy::Tariff;
use doppel_line::whatif::{Change, Scenario, WhatIfConfig, reference_line, run_whatif};

fn main() {
    let line = reference_line(10);
    let threads = std::thread::available_parallelism().map(|x| x.get()).unwrap_or(1);
    let mut cfg = WhatIfConfig::new(20, WEEK, 0.0, 1);
    cfg.tariff = Some(Tariff::day_night(0.30, 0.12, 6, 22));
    // warm the caches once
    let _ = run_whatif(&line, &[], &WhatIfConfig::new(2, 86_400.0, 0.0, 99));
    let t = Instant::now();
    let base = run_whatif(&line, &[], &cfg).expect("baseline");
    let one = t.elapsed().as_secs_f64();
    let units = base.baseline["good"].mean;
    println!(
        "baseline only: {} replications of one week, {threads} threads: {one:.3} s ({:.1} replications/s, {:.2} M events/s, {units:.0} good units per week)",
        cfg.replications,
        cfg.replications as f64 / one,
        base.events as f64 / one / 1e6
    );
    let bottleneck = base.baseline_bottlenecks.iter().max_by_key(|x| x.1).map(|x| x.0.clone()).unwrap_or_default();
    let scenarios = vec![Scenario {
        name: "bottleneck +10 %".into(),
        changes: vec![Change::StationSpeed {
            station: bottleneck.clone(),
            factor: 1.1,
        }],
    }];
    let t = Instant::now();
    let r = run_whatif(&line, &scenarios, &cfg).expect("what-if");
    let two = t.elapsed().as_secs_f64();
    println!(
        "baseline + 1 variant: {} runs of one week: {two:.3} s ({:.1} replications/s)",
        r.runs,
        r.runs as f64 / two
    );
    let row = r.variants[0].row("throughput_per_h").expect("row");
    println!(
        "bottleneck {bottleneck}: throughput {:.2} → {:.2} units/h, paired difference {:+.2} ± {:.2} (95 %)",
        row.baseline.mean, row.variant.mean, row.difference.mean, row.difference.half_width
    );
    let single = Instant::now();
    let _ = run_whatif(
        &line,
        &[],
        &WhatIfConfig {
            threads: Some(1),
            ..cfg.clone()
        },
    )
    .expect("single thread");
    let st = single.elapsed().as_secs_f64();
    println!(
        "baseline only on 1 thread: {st:.3} s ({:.1} replications/s per core)",
        cfg.replications as f64 / st
    );
}
