//! `doppel bench whatif` and `doppel bench trace`: the line twin's measurements for BENCHMARKS.md.
//!
//! * **whatif**: one simulated week of the 10-station reference line ([`doppel_line::whatif::reference_line`]),
//!   20 replications, under a day/night tariff: the baseline alone, the baseline with one variant (the bottleneck
//!   10 % faster, with its paired difference), and the baseline on one thread.
//! * **trace**: genealogy of N simulated units (default 10 million) through the 4-station traceability reference
//!   line ([`doppel_line::trace::reference_line`]), indexed, then query latencies both ways; and the production
//!   twin's durable path: M units (default 1 million) simulated in one-hour chunks, each continuing the last,
//!   written as genealogy records (DEFLATE JSON, CRC, fdatasync per chunk) to a temporary directory, read back
//!   and indexed again.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use doppel_line::config::WEEK;
use doppel_line::energy::Tariff;
use doppel_line::rng::Rng;
use doppel_line::state::LineState;
use doppel_line::trace::{TraceBuilder, reference_line};
use doppel_line::whatif::{Change, Scenario, WhatIfConfig, run_whatif};
use doppel_line::{SimOptions, Simulator};
use doppel_server::production::{ChunkRecord, TraceFile};

#[derive(Args)]
pub struct WhatifBenchArgs {
    /// Stations of the reference line.
    #[arg(long, default_value_t = 10)]
    stations: usize,
    /// Replications per configuration.
    #[arg(long, default_value_t = 20)]
    replications: usize,
    /// Simulated days per replication.
    #[arg(long, default_value_t = 7.0)]
    days: f64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
pub struct TraceBenchArgs {
    /// Units to simulate and index for the query latencies.
    #[arg(long, default_value_t = 10_000_000)]
    units: u64,
    /// Units to simulate in one-hour chunks and write through the durable genealogy path (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    durable_units: u64,
    /// Random queries of each kind.
    #[arg(long, default_value_t = 100_000)]
    queries: usize,
}

pub fn bench_whatif(a: &WhatifBenchArgs) -> Result<()> {
    let line = doppel_line::whatif::reference_line(a.stations);
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|x| x.get()).unwrap_or(1));
    let mut cfg = WhatIfConfig::new(a.replications, a.days * 86_400.0, 0.0, 1);
    cfg.threads = Some(threads);
    cfg.tariff = Some(Tariff::day_night(0.30, 0.12, 6, 22));
    let weeks = a.days * 86_400.0 / WEEK;
    // warm the caches once
    let _ = run_whatif(&line, &[], &WhatIfConfig::new(2, 86_400.0, 0.0, 99))?;
    let t = Instant::now();
    let base = run_whatif(&line, &[], &cfg)?;
    let one = t.elapsed().as_secs_f64();
    println!(
        "what-if: {}-station reference line, {} days ({weeks:.2} weeks) per replication, {threads} threads",
        a.stations, a.days
    );
    println!(
        "  baseline only: {} replications in {one:.3} s = {:.1} replications/s ({:.2} M events/s, {:.0} good units per replication)",
        cfg.replications,
        cfg.replications as f64 / one,
        base.events as f64 / one / 1e6,
        base.baseline["good"].mean
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
    let r = run_whatif(&line, &scenarios, &cfg)?;
    let two = t.elapsed().as_secs_f64();
    println!(
        "  baseline + 1 variant: {} runs in {two:.3} s = {:.1} replications/s",
        r.runs,
        r.runs as f64 / two
    );
    if let Some(row) = r.variants[0].row("throughput_per_h") {
        println!(
            "  bottleneck {bottleneck} 10 % faster: throughput {:.2} → {:.2} units/h, paired difference {:+.2} ± {:.2} (95 %)",
            row.baseline.mean, row.variant.mean, row.difference.mean, row.difference.half_width
        );
    }
    let t = Instant::now();
    let _ = run_whatif(
        &line,
        &[],
        &WhatIfConfig {
            threads: Some(1),
            ..cfg.clone()
        },
    )?;
    let st = t.elapsed().as_secs_f64();
    println!(
        "  baseline only on 1 thread: {st:.3} s = {:.1} replications/s per core",
        cfg.replications as f64 / st
    );
    Ok(())
}

const CHUNK: u64 = 1_000_000;
const LOT: u64 = 2_000;

fn bar(n: u64, what: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(n);
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} units  eta {{eta}}"))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

pub fn bench_trace(a: &TraceBenchArgs) -> Result<()> {
    let total = a.units.max(1);
    let mut b = TraceBuilder::new();
    let t = Instant::now();
    let (mut made, mut chunk, mut t_sim, mut events) = (0u64, 0u64, 0.0, 0u64);
    let mut last_end_ns = 0i64;
    let progress = bar(total, "simulating genealogy");
    while made < total {
        let n = CHUNK.min(total - made);
        let sim = Simulator::new(&reference_line(n.div_ceil(LOT) + 1, LOT, &format!("{chunk:02}")))?;
        // the cut station (10 s) paces the line; run long enough for n units to enter
        let ts = Instant::now();
        let run = sim.run(&SimOptions {
            trace: true,
            start_ns: last_end_ns,
            serial_base: made,
            ..SimOptions::new(chunk, n as f64 * 10.5 + 3600.0, 0.0)
        })?;
        t_sim += ts.elapsed().as_secs_f64();
        events += run.events;
        let Some(mut log) = run.trace else { break };
        log.units.truncate(n as usize);
        let keep = made + n;
        log.visits.retain(|v| v.serial < keep);
        log.lots_used.retain(|x| x.0 < keep);
        log.quality.retain(|x| x.serial < keep);
        last_end_ns += (run.horizon_s * 1e9) as i64;
        made += log.units.len() as u64;
        b.add(&log);
        chunk += 1;
        progress.set_position(made);
    }
    progress.finish_and_clear();
    let t_gen = t.elapsed().as_secs_f64();
    let tb = Instant::now();
    let ix = b.finish();
    let t_build = tb.elapsed().as_secs_f64();
    println!("traceability: {} units, {} visits (4-station reference line)", ix.units(), ix.visits());
    println!(
        "  simulated in {t_sim:.1} s ({:.2} M units/s, {:.1} M events/s); simulated and columnised in {t_gen:.1} s; indexed in {t_build:.1} s; index ≈ {:.2} GB",
        made as f64 / t_sim / 1e6,
        events as f64 / t_sim / 1e6,
        ix.memory_bytes() as f64 / 1e9
    );
    let mut rng = Rng::new(7);
    let q = a.queries.max(1);
    let tq = Instant::now();
    let mut visits = 0usize;
    for _ in 0..q {
        let s = rng.below(ix.units()) as u64;
        visits += ix.unit(s).map(|u| u.visits.len()).unwrap_or(0);
    }
    let per = tq.elapsed().as_secs_f64() / q as f64;
    println!(
        "  everything about serial S: {:.2} µs per query ({q} random serials, {:.1} visits each)",
        per * 1e6,
        visits as f64 / q as f64
    );
    let span_ns = last_end_ns;
    let q2 = (q / 10).max(1);
    let tq = Instant::now();
    let mut found = 0usize;
    for _ in 0..q2 {
        let t0 = (rng.uniform() * (span_ns as f64 - 3.6e12).max(0.0)) as i64;
        found += ix.units_by_asset("mill-m1", t0, t0 + 3_600_000_000_000).len();
    }
    let per = tq.elapsed().as_secs_f64() / q2 as f64;
    println!(
        "  units processed by asset A in a 1-hour window: {:.2} µs per query ({:.0} units each)",
        per * 1e6,
        found as f64 / q2 as f64
    );
    let tq = Instant::now();
    let hot = ix.units_in_alarm("mill-m1");
    let per = tq.elapsed().as_secs_f64();
    println!(
        "  units made while asset A was in alarm: {:.1} ms ({} units over {} alarm intervals)",
        per * 1e3,
        hot.len(),
        ix.alarm_intervals("mill-m1").len()
    );
    let tq = Instant::now();
    let mut found = 0usize;
    for _ in 0..q2 {
        let c = rng.below(chunk as usize);
        let k = rng.below((CHUNK / LOT) as usize);
        found += ix.units_with_lot(&format!("BAR-{c:02}-{k:05}")).len();
    }
    let per = tq.elapsed().as_secs_f64() / q2 as f64;
    println!(
        "  units that consumed lot L: {:.2} µs per query ({:.0} units each)",
        per * 1e6,
        found as f64 / q2 as f64
    );
    drop(ix);
    if a.durable_units > 0 {
        durable(a.durable_units)?;
    }
    Ok(())
}

/// The production twin's durable path: one-hour chunks continuing each other, written as records.
fn durable(total: u64) -> Result<()> {
    let dir = std::env::var_os("DOPPEL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target/bench-tmp"))
        .join(format!("doppel-trace-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut file, _, _) = TraceFile::open(&dir, None)?;
    let chunk_s = 3600.0;
    let lots = total.div_ceil(LOT) + 2;
    let base = reference_line(lots, LOT, "D");
    let mut state: Option<LineState> = None;
    let (mut made, mut chunk) = (0u64, 0u64);
    let (mut t_sim, mut t_write) = (0.0, 0.0);
    let progress = bar(total, "writing genealogy records");
    let t = Instant::now();
    while made < total {
        let mut cfg = base.clone();
        if let Some(st) = &state {
            for c in &mut cfg.components {
                c.lots = st.lots_on_hand(&c.component);
            }
        }
        let ts = Instant::now();
        let sim = Simulator::new(&cfg)?;
        let o = SimOptions {
            trace: true,
            end_state: true,
            start_ns: (chunk as f64 * chunk_s * 1e9) as i64,
            serial_base: made,
            ..SimOptions::new(chunk + 1, chunk_s, 0.0)
        };
        let run = match &state {
            Some(s) => sim.run_from(&o, s)?,
            None => sim.run(&o)?,
        };
        t_sim += ts.elapsed().as_secs_f64();
        let log = run.trace.unwrap_or_default();
        let end = run.end_state.unwrap_or_default();
        let tw = Instant::now();
        let rec = ChunkRecord::new(
            "bench",
            chunk + 1,
            o.start_ns,
            o.start_ns + (chunk_s * 1e9) as i64,
            o.seed,
            made,
            0,
            &log,
            end.clone(),
            run.kpis.good,
            run.kpis.scrap,
        );
        file.append(&rec)?;
        t_write += tw.elapsed().as_secs_f64();
        made += rec.units_made() as u64;
        chunk += 1;
        state = Some(end);
        progress.set_position(made);
    }
    progress.finish_and_clear();
    let elapsed = t.elapsed().as_secs_f64();
    let bytes = file.disk_bytes();
    drop(file);
    let tr = Instant::now();
    let (records, rec) = TraceFile::read(&dir)?;
    let t_read = tr.elapsed().as_secs_f64();
    let ti = Instant::now();
    let mut b = TraceBuilder::new();
    for r in &records {
        b.add(&r.trace_log());
    }
    let ix = b.finish();
    let t_index = ti.elapsed().as_secs_f64();
    println!(
        "durable genealogy: {made} units in {chunk} one-hour chunks, each continuing the last: {elapsed:.1} s in all ({t_sim:.1} s simulating, {t_write:.1} s encoding and writing with fdatasync per chunk: {:.0} units/s, {:.1} ms per chunk)",
        made as f64 / t_write,
        1e3 * t_write / chunk as f64
    );
    println!(
        "  {:.1} MB on disk ({:.0} bytes per unit); read back ({} records, {} torn or corrupt) in {t_read:.1} s and indexed in {t_index:.1} s ({} units)",
        bytes as f64 / 1e6,
        bytes as f64 / made as f64,
        rec.records,
        rec.corrupt_records + usize::from(rec.truncated_bytes > 0),
        ix.units()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
