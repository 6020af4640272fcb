//! Traceability at scale: simulate 10 million serial numbers through a 4-station line (cut → mill with two
//! parallel machines → wash → inspect), index their genealogy and time the queries. Run with
//!
//! ```sh
//! cargo run --release -p doppel-line --example trace_bench            # 10 million units
//! cargo run --release -p doppel-line --example trace_bench -- 1000000 # another count
//! ```
//!
//! The units are simulated in chunks of one million (serial numbers and clocks continue from chunk to
//! chunk) so that only one chunk's raw log is in memory beside the growing index columns.

use std::time::Instant;

use doppel_line::config::{ComponentSupply, Consumption, Effect, LineConfig, Lot, ProcessVar, QualityCheck, StationConfig};
use doppel_line::rng::Rng;
use doppel_line::trace::TraceBuilder;
use doppel_line::{Dist, SimOptions, Simulator};

const CHUNK: u64 = 1_000_000;
const LOT: u64 = 2_000;

fn line(chunk_units: u64, chunk: u64) -> LineConfig {
    let mut cut = StationConfig::new("cut", Dist::LogNormal { mean: 10.0, cv: 0.1 }, 1);
    cut.consumes = vec![Consumption {
        component: "bar".into(),
        per_unit: 1,
    }];
    let mut mill = StationConfig::new("mill", Dist::LogNormal { mean: 18.0, cv: 0.15 }, 2).with_buffer(Some(6));
    mill.process_vars = vec![
        ProcessVar {
            name: "spindle_temp".into(),
            mean: 42.0,
            sd: 2.0,
            tau_s: 1800.0,
            drifts: vec![],
            alarm_above: Some(47.0),
            alarm_below: None,
        },
        ProcessVar {
            name: "spindle_load".into(),
            mean: 60.0,
            sd: 5.0,
            tau_s: 0.0,
            drifts: vec![],
            alarm_above: None,
            alarm_below: None,
        },
    ];
    let mut wash = StationConfig::new("wash", Dist::Deterministic { value: 8.0 }, 1).with_buffer(Some(6));
    wash.process_vars = vec![ProcessVar {
        name: "bath_temp".into(),
        mean: 55.0,
        sd: 0.5,
        tau_s: 3600.0,
        drifts: vec![],
        alarm_above: None,
        alarm_below: None,
    }];
    let inspect = StationConfig::new("inspect", Dist::Deterministic { value: 6.0 }, 1).with_buffer(Some(6));
    let mut l = LineConfig::serial("bench", vec![cut, mill, wash, inspect]);
    l.components = vec![ComponentSupply {
        component: "bar".into(),
        lots: (0..chunk_units.div_ceil(LOT) + 1)
            .map(|k| Lot {
                id: format!("BAR-{chunk:02}-{k:05}"),
                quantity: LOT,
                arrival_s: 0.0,
            })
            .collect(),
    }];
    l.quality = vec![QualityCheck {
        name: "diameter".into(),
        at: "inspect".into(),
        nominal: 0.0,
        noise_sd: 3.0,
        lower: -12.0,
        upper: 12.0,
        effects: vec![Effect {
            station: "mill".into(),
            var: "spindle_temp".into(),
            coef: 1.5,
        }],
        on_fail: Default::default(),
    }];
    l
}

fn main() {
    let total: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let mut b = TraceBuilder::new();
    let t = Instant::now();
    let (mut made, mut chunk, mut t_sim, mut events) = (0u64, 0u64, 0.0, 0u64);
    let mut last_end_ns = 0i64;
    while made < total {
        let n = CHUNK.min(total - made);
        let sim = Simulator::new(&line(n, chunk)).expect("line");
        // the cut station (10 s) paces the line; run long enough for n units to enter
        let ts = Instant::now();
        let run = sim
            .run(&SimOptions {
                trace: true,
                start_ns: last_end_ns,
                serial_base: made,
                ..SimOptions::new(chunk, n as f64 * 10.5 + 3600.0, 0.0)
            })
            .expect("run");
        t_sim += ts.elapsed().as_secs_f64();
        events += run.events;
        let mut log = run.trace.expect("trace");
        log.units.truncate(n as usize);
        let keep = made + n;
        log.visits.retain(|v| v.serial < keep);
        log.lots_used.retain(|x| x.0 < keep);
        log.quality.retain(|x| x.serial < keep);
        last_end_ns += (run.horizon_s * 1e9) as i64;
        made += log.units.len() as u64;
        b.add(&log);
        chunk += 1;
    }
    let t_gen = t.elapsed().as_secs_f64();
    let tb = Instant::now();
    let ix = b.finish();
    let t_build = tb.elapsed().as_secs_f64();
    println!(
        "{} units, {} visits: simulated in {t_sim:.1} s ({:.2} M units/s, {:.1} M events/s), simulated and columnised in {t_gen:.1} s in all, indexed in {t_build:.1} s, index ≈ {:.2} GB",
        ix.units(),
        ix.visits(),
        made as f64 / t_sim / 1e6,
        events as f64 / t_sim / 1e6,
        ix.memory_bytes() as f64 / 1e9
    );
    let mut rng = Rng::new(7);
    let q = 100_000;
    let tq = Instant::now();
    let mut visits = 0usize;
    for _ in 0..q {
        let s = rng.below(ix.units()) as u64;
        visits += ix.unit(s).map(|u| u.visits.len()).unwrap_or(0);
    }
    let per = tq.elapsed().as_secs_f64() / q as f64;
    println!(
        "everything about serial S: {:.2} µs per query ({q} random serials, {:.1} visits each)",
        per * 1e6,
        visits as f64 / q as f64
    );
    let span_ns = last_end_ns;
    let q = 10_000;
    let tq = Instant::now();
    let mut found = 0usize;
    for _ in 0..q {
        let t0 = (rng.uniform() * (span_ns as f64 - 3.6e12)) as i64;
        found += ix.units_by_asset("mill-m1", t0, t0 + 3_600_000_000_000).len();
    }
    let per = tq.elapsed().as_secs_f64() / q as f64;
    println!(
        "units processed by asset A in a 1-hour window: {:.2} µs per query ({:.0} units each)",
        per * 1e6,
        found as f64 / q as f64
    );
    let tq = Instant::now();
    let hot = ix.units_in_alarm("mill-m1");
    let per = tq.elapsed().as_secs_f64();
    println!(
        "units made while asset A was in alarm: {:.1} ms ({} units over {} alarm intervals)",
        per * 1e3,
        hot.len(),
        ix.alarm_intervals("mill-m1").len()
    );
    let q = 10_000;
    let tq = Instant::now();
    let mut found = 0usize;
    for _ in 0..q {
        let c = rng.below(chunk as usize);
        let k = rng.below((CHUNK / LOT) as usize);
        found += ix.units_with_lot(&format!("BAR-{c:02}-{k:05}")).len();
    }
    let per = tq.elapsed().as_secs_f64() / q as f64;
    println!(
        "units that consumed lot L: {:.2} µs per query ({:.0} units each)",
        per * 1e6,
        found as f64 / q as f64
    );
}
