//! `doppel line`: the line simulator on a plant file, offline (no server): simulate a line, what-if with
//! confidence intervals, sequence orders, energy under a tariff, factory scenarios; and root cause from the
//! genealogy a stopped server recorded. Tables on stdout, or `--json`. The line models are the production
//! twin's ([`doppel_server::production::production_line`]) with healthy machines and an empty line at the
//! start (the server's API starts from the live state instead).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use doppel_line::config::{Calendar, LineConfig, Window};
use doppel_line::energy::{Tariff, energy_report};
use doppel_line::factory::evaluate_factory;
use doppel_line::rootcause::RootCauseConfig;
use doppel_line::schedule::{ScheduleProblem, simulate_schedules};
use doppel_line::stats::Estimate;
use doppel_line::whatif::{Change, Scenario, WhatIfConfig, run_whatif};
use doppel_line::{SimOptions, Simulator};
use doppel_server::line_api::{FactoryScenarioSpec, OrderSpec, factory_scenarios, orders_of};
use doppel_server::production::{Production, factory_of, production_line};
use serde_json::{Value, json};

#[derive(Args)]
pub struct LineArgs {
    #[command(subcommand)]
    what: Which,
}

#[derive(Args, Clone)]
struct Common {
    /// Plant file (default: the bundled example plant, plants/example.toml).
    #[arg(long)]
    plant: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Which {
    /// Simulate one run of a line: KPIs, OEE (ISO 22400-2), every station's state shares and the bottleneck by the
    /// active-period method.
    Simulate {
        #[command(flatten)]
        c: Common,
        /// Line id (a line of the plant file with production stations).
        #[arg(long)]
        line: String,
        /// Simulated hours.
        #[arg(long, default_value_t = 24.0)]
        hours: f64,
        /// Hours at the start left out of the statistics (warm-up).
        #[arg(long, default_value_t = 0.0)]
        warmup_h: f64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// What-if: each --speed, --machines or --buffer (or each scenario of --scenarios) against the baseline, replicated
    /// with common random numbers; KPIs with 95 % intervals and paired differences.
    Whatif {
        #[command(flatten)]
        c: Common,
        /// Line id.
        #[arg(long)]
        line: String,
        /// A scenario: STATION=FACTOR, that station's speed multiplied (e.g. l1-cnc=1.1). Repeatable.
        #[arg(long = "speed", value_name = "STATION=FACTOR")]
        speed: Vec<String>,
        /// A scenario: STATION=N parallel machines. Repeatable.
        #[arg(long = "machines", value_name = "STATION=N")]
        machines: Vec<String>,
        /// A scenario: STATION=N places in the station's input buffer. Repeatable.
        #[arg(long = "buffer", value_name = "STATION=N")]
        buffer: Vec<String>,
        /// Scenarios from a JSON file: [{"name": ..., "changes": [{"kind": "station_speed", ...}]}] (the API's form).
        #[arg(long)]
        scenarios: Option<PathBuf>,
        /// Replications of each configuration (2–200).
        #[arg(long, default_value_t = 20)]
        replications: usize,
        /// Simulated days per replication.
        #[arg(long, default_value_t = 7.0)]
        days: f64,
        /// Warm-up hours left out of the statistics.
        #[arg(long, default_value_t = 24.0)]
        warmup_h: f64,
        /// Seed of replication 1 (replication r uses seed + r − 1).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Sequence orders on a line (ATCS + local search on its bottleneck, with changeovers) around blocked windows, against
    /// EDD and FIFO, in the model and by simulation.
    Schedule {
        #[command(flatten)]
        c: Common,
        /// Line id.
        #[arg(long)]
        line: String,
        /// Orders, a JSON file: [{"id", "product", "quantity", "due_h", "release_h"?, "weight"?}] (hours from now).
        #[arg(long)]
        orders: PathBuf,
        /// A window when the line cannot work, START_H-END_H in hours from now (planned maintenance). Repeatable.
        #[arg(long = "blocked", value_name = "START_H-END_H")]
        blocked: Vec<String>,
        /// Objective weight of one second of changeover, in weighted-tardiness seconds.
        #[arg(long, default_value_t = 1.0)]
        setup_weight: f64,
        /// Replications of the simulated comparison.
        #[arg(long, default_value_t = 10)]
        replications: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Energy of a line: kWh, cost and cost per good unit under a tariff; with --shifts, shift patterns compared under it.
    Energy {
        #[command(flatten)]
        c: Common,
        /// Line id.
        #[arg(long)]
        line: String,
        /// Simulated days.
        #[arg(long, default_value_t = 7.0)]
        days: f64,
        /// Flat price per kWh (used when --peak/--off-peak are not given).
        #[arg(long, default_value_t = 0.15)]
        price: f64,
        /// Peak price per kWh (a day/night tariff, with --off-peak).
        #[arg(long, requires = "off_peak")]
        peak: Option<f64>,
        /// Off-peak price per kWh.
        #[arg(long, requires = "peak")]
        off_peak: Option<f64>,
        /// First hour of the peak period.
        #[arg(long, default_value_t = 6)]
        peak_start_h: usize,
        /// End of the peak period (hour).
        #[arg(long, default_value_t = 22)]
        peak_end_h: usize,
        /// Compare shift patterns: NAME=START_H-END_H,... (end may exceed 24), Monday to Friday; the first is the
        /// baseline. E.g. day=6-14,night=22-30.
        #[arg(long)]
        shifts: Option<String>,
        /// Replications (with --shifts).
        #[arg(long, default_value_t = 10)]
        replications: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Root cause of a quality check's failures from the genealogy a server recorded (its {data-dir}/trace, read
    /// with the server stopped): every process variable ranked unit by unit, with evidence.
    Rootcause {
        #[command(flatten)]
        c: Common,
        /// Data directory of the server.
        #[arg(long, default_value = "doppel-data")]
        data_dir: PathBuf,
        /// Line id.
        #[arg(long)]
        line: String,
        /// Quality check (default: the line's first).
        #[arg(long)]
        check: Option<String>,
        /// Analyse the newest this many units with the check.
        #[arg(long, default_value_t = 20_000)]
        last: usize,
        /// Permutations of the significance test.
        #[arg(long, default_value_t = 999)]
        permutations: usize,
    },
    /// Factory scenarios over all the plant's production lines (each line's blanks a supply `{line}-blank` delivered
    /// in lots): per-line and total throughput against the baseline with 95 % intervals.
    Factory {
        #[command(flatten)]
        c: Common,
        /// A scenario: COMPONENT/LOT=HOURS, that lot arrives late (e.g. l1-blank/l1-blank-00002=24). Repeatable.
        #[arg(long = "lot-delay", value_name = "COMPONENT/LOT=HOURS")]
        lot_delay: Vec<String>,
        /// A scenario: LINE=NEW_ID, a copy of the line added (capacity expansion). Repeatable.
        #[arg(long = "copy-line", value_name = "LINE=NEW_ID")]
        copy_line: Vec<String>,
        /// A scenario: LINE/STATION=N machines at a station. Repeatable.
        #[arg(long = "machines", value_name = "LINE/STATION=N")]
        machines: Vec<String>,
        /// Scenarios from a JSON file (the API's form of POST /api/whatif/factory `scenarios`).
        #[arg(long)]
        scenarios: Option<PathBuf>,
        /// Lots of blanks each line has at the start.
        #[arg(long, default_value_t = 2)]
        on_hand_lots: usize,
        /// Hours between deliveries (default: a lot's worth of each line's design rate, 10 % ahead).
        #[arg(long)]
        lot_every_h: Option<f64>,
        /// Replications.
        #[arg(long, default_value_t = 10)]
        replications: usize,
        /// Simulated days.
        #[arg(long, default_value_t = 7.0)]
        days: f64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn line_of(c: &Common, line: &str) -> Result<(std::sync::Arc<doppel_model::Plant>, LineConfig)> {
    let plant = crate::load_plant(c.plant.as_ref())?;
    let cfg = production_line(&plant, line).with_context(|| {
        let ids: Vec<String> = doppel_line::plant::lines_from_plant(&plant, &Default::default())
            .into_iter()
            .map(|l| l.id)
            .collect();
        format!("line '{line}' cannot be simulated (lines with production stations: {})", ids.join(", "))
    })?;
    Ok((plant, cfg))
}

fn kv(s: &str, what: &str) -> Result<(String, f64)> {
    let (k, v) = s.rsplit_once('=').with_context(|| format!("{what}: expected NAME=VALUE, got '{s}'"))?;
    let v: f64 = v.trim().parse().with_context(|| format!("{what}: '{v}' is not a number"))?;
    Ok((k.trim().to_string(), v))
}

fn span(s: &str, what: &str) -> Result<(f64, f64)> {
    let (a, b) = s.split_once('-').with_context(|| format!("{what}: expected START-END, got '{s}'"))?;
    let a: f64 = a.trim().parse().with_context(|| format!("{what}: '{a}' is not a number"))?;
    let b: f64 = b.trim().parse().with_context(|| format!("{what}: '{b}' is not a number"))?;
    if !(a.is_finite() && b.is_finite() && b >= a) {
        bail!("{what}: '{s}' needs START ≤ END");
    }
    Ok((a, b))
}

fn ci(e: &Estimate) -> String {
    format!("{:.4} ± {:.4}", e.mean, e.half_width)
}

fn print_json(v: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(a: LineArgs) -> Result<()> {
    match a.what {
        Which::Simulate {
            c,
            line,
            hours,
            warmup_h,
            seed,
        } => simulate(&c, &line, hours, warmup_h, seed),
        Which::Whatif {
            c,
            line,
            speed,
            machines,
            buffer,
            scenarios,
            replications,
            days,
            warmup_h,
            seed,
            threads,
        } => {
            let (_, cfg) = line_of(&c, &line)?;
            let mut sc: Vec<Scenario> = Vec::new();
            for s in &speed {
                let (st, f) = kv(s, "--speed")?;
                sc.push(Scenario {
                    name: format!("{st} speed ×{f}"),
                    changes: vec![Change::StationSpeed { station: st, factor: f }],
                });
            }
            for s in &machines {
                let (st, n) = kv(s, "--machines")?;
                sc.push(Scenario {
                    name: format!("{st} with {n} machines"),
                    changes: vec![Change::Machines {
                        station: st,
                        count: n.round().max(0.0) as usize,
                    }],
                });
            }
            for s in &buffer {
                let (st, n) = kv(s, "--buffer")?;
                sc.push(Scenario {
                    name: format!("{st} buffer {n}"),
                    changes: vec![Change::BufferSize {
                        station: st,
                        capacity: Some(n.round().max(0.0) as usize),
                    }],
                });
            }
            if let Some(p) = &scenarios {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                let more: Vec<Scenario> = serde_json::from_str(&text).with_context(|| format!("{}: not a list of scenarios", p.display()))?;
                sc.extend(more);
            }
            if sc.is_empty() {
                bail!("no scenario: give --speed, --machines, --buffer or --scenarios");
            }
            let ok = (2..=200).contains(&replications) && days > 0.0 && days <= 90.0;
            if !ok {
                bail!("--replications must be 2–200 and --days in (0, 90]");
            }
            let mut wc = WhatIfConfig::new(replications, days * 86_400.0, warmup_h * 3600.0, seed);
            wc.threads = threads;
            let bar = spinner(&format!("simulating {} runs of {days} days", replications * (sc.len() + 1)));
            let t = std::time::Instant::now();
            let r = run_whatif(&cfg, &sc, &wc)?;
            bar.finish_and_clear();
            let secs = t.elapsed().as_secs_f64();
            if c.json {
                return print_json(&json!({"line": line, "report": r, "elapsed_s": secs}));
            }
            println!(
                "what-if on {line}: {replications} replications × {} configurations of {days} days (warm-up {warmup_h} h) in {secs:.2} s ({:.1} replications/s)",
                sc.len() + 1,
                r.runs as f64 / secs
            );
            println!("baseline bottleneck: {:?}", r.baseline_bottlenecks);
            for v in &r.variants {
                println!("\n{}    (bottleneck: {:?})", v.name, v.bottlenecks);
                println!(
                    "{:<28} {:>26} {:>26} {:>28} {:>9}",
                    "KPI", "baseline (95 %)", "variant (95 %)", "difference (paired, 95 %)", "relative"
                );
                for row in &v.rows {
                    println!(
                        "{:<28} {:>26} {:>26} {:>28} {:>8.1}%{}",
                        row.kpi,
                        ci(&row.baseline),
                        ci(&row.variant),
                        ci(&row.difference),
                        100.0 * row.relative,
                        if row.significant { " *" } else { "" }
                    );
                }
            }
            println!("\n* the difference's 95 % interval excludes 0");
            Ok(())
        }
        Which::Schedule {
            c,
            line,
            orders,
            blocked,
            setup_weight,
            replications,
            seed,
        } => {
            let (_, cfg) = line_of(&c, &line)?;
            let text = std::fs::read_to_string(&orders).with_context(|| format!("cannot read {}", orders.display()))?;
            let specs: Vec<OrderSpec> = serde_json::from_str(&text).with_context(|| format!("{}: not a list of orders", orders.display()))?;
            let os = orders_of(&cfg, &specs, doppel_model::time::now())?;
            let mut windows = Vec::new();
            for b in &blocked {
                let (x, y) = span(b, "--blocked")?;
                windows.push(Window {
                    start_s: x * 3600.0,
                    end_s: y * 3600.0,
                });
            }
            let problem = ScheduleProblem::from_line(&cfg, &os, windows, setup_weight)?;
            let best = problem.solve();
            let edd = problem.evaluate(&problem.edd());
            let mut fifo: Vec<usize> = (0..problem.jobs.len()).collect();
            fifo.sort_by(|&a, &b| problem.jobs[a].release_s.total_cmp(&problem.jobs[b].release_s).then(a.cmp(&b)));
            let fifo = problem.evaluate(&fifo);
            let work: f64 = problem.jobs.iter().map(|j| j.quantity as f64 * problem.unit_time_s[j.product]).sum();
            let horizon = (work * 1.5 + problem.blocked.iter().map(|w| w.end_s - w.start_s).sum::<f64>() + 3600.0)
                .max(problem.jobs.iter().map(|j| j.due_s).fold(0.0, f64::max) + 3600.0);
            let seqs = vec![
                ("optimised".to_string(), best.sequence.clone()),
                ("edd".to_string(), edd.sequence.clone()),
                ("fifo".to_string(), fifo.sequence.clone()),
            ];
            let bar = spinner("simulating the schedules");
            let sims = simulate_schedules(&cfg, &problem, &seqs, replications.max(1), horizon, seed)?;
            bar.finish_and_clear();
            if c.json {
                return print_json(&json!({"line": line, "problem": problem, "schedule": best, "edd": edd, "fifo": fifo, "simulated": sims}));
            }
            let ids = |s: &[usize]| s.iter().map(|&j| problem.jobs[j].id.clone()).collect::<Vec<_>>().join(" → ");
            for (name, s) in [("optimised", &best), ("EDD", &edd), ("FIFO", &fifo)] {
                println!(
                    "{name:<10} {}   weighted tardiness {:.0} s, set-up {:.0} s, objective {:.0}",
                    ids(&s.sequence),
                    s.weighted_tardiness,
                    s.setup_s,
                    s.objective
                );
            }
            println!("\nsimulated ({} replications, 95 %):", replications.max(1));
            println!(
                "{:<10} {:>30} {:>26} {:>20} {:>18}",
                "sequence", "weighted tardiness (s)", "makespan (h)", "changeovers", "late orders"
            );
            for s in &sims {
                println!(
                    "{:<10} {:>30} {:>26} {:>20} {:>18}",
                    s.name,
                    ci(&s.weighted_tardiness_s),
                    format!("{:.2} ± {:.2}", s.makespan_s.mean / 3600.0, s.makespan_s.half_width / 3600.0),
                    ci(&s.changeovers),
                    ci(&s.late_orders)
                );
            }
            Ok(())
        }
        Which::Energy {
            c,
            line,
            days,
            price,
            peak,
            off_peak,
            peak_start_h,
            peak_end_h,
            shifts,
            replications,
            seed,
        } => {
            let (_, cfg) = line_of(&c, &line)?;
            let tariff = match (peak, off_peak) {
                (Some(p), Some(o)) => Tariff::day_night(p, o, peak_start_h, peak_end_h),
                _ => Tariff::flat(price),
            };
            tariff.validate()?;
            match shifts {
                None => {
                    let o = SimOptions {
                        bucket_s: Some(3600.0),
                        ..SimOptions::new(seed, days * 86_400.0, 0.0)
                    };
                    let run = Simulator::new(&cfg)?.run(&o)?;
                    let rep = energy_report(&cfg, &run, &tariff)?;
                    if c.json {
                        return print_json(&json!({"line": line, "days": days, "tariff": tariff, "report": rep}));
                    }
                    println!(
                        "{line}, {days} days: {:.1} kWh, cost {:.2}, {} good units: {:.3} kWh and {:.4} per good unit",
                        rep.energy_kwh, rep.cost, rep.good, rep.kwh_per_good_unit, rep.cost_per_good_unit
                    );
                    for (s, e, k) in &rep.by_station {
                        println!("  {s:<16} {e:>10.1} kWh {k:>10.2}");
                    }
                    Ok(())
                }
                Some(list) => {
                    let mut named = Vec::new();
                    for item in list.split(',') {
                        let (name, sp) = item
                            .split_once('=')
                            .with_context(|| format!("--shifts: expected NAME=START-END, got '{item}'"))?;
                        let (a, b) = span(sp, "--shifts")?;
                        if !((0.0..24.0).contains(&a) && b > a && b - a <= 24.0) {
                            bail!("--shifts: '{item}' needs 0 ≤ start < 24 and start < end ≤ start + 24");
                        }
                        named.push((name.to_string(), Calendar::daily(5, a, b)));
                    }
                    if named.len() < 2 {
                        bail!("--shifts: at least two shift patterns to compare");
                    }
                    let mut base = cfg.clone();
                    base.calendar = Some(named[0].1.clone());
                    let sc: Vec<Scenario> = named[1..]
                        .iter()
                        .map(|(n, c)| Scenario {
                            name: n.clone(),
                            changes: vec![Change::ShiftPattern { calendar: Some(c.clone()) }],
                        })
                        .collect();
                    let mut wc = WhatIfConfig::new(replications.max(2), days * 86_400.0, 0.0, seed);
                    wc.tariff = Some(tariff.clone());
                    let r = run_whatif(&base, &sc, &wc)?;
                    if c.json {
                        return print_json(&json!({"line": line, "tariff": tariff, "baseline_shift": named[0].0, "report": r}));
                    }
                    println!(
                        "{line}: shift {} (baseline) against the others, {} replications of {days} days, 95 %",
                        named[0].0, wc.replications
                    );
                    for v in &r.variants {
                        println!("\n{}", v.name);
                        for k in ["throughput_per_h", "kwh_per_good_unit", "energy_cost_per_good_unit"] {
                            if let Some(row) = v.row(k) {
                                println!(
                                    "  {k:<28} {:>24} → {:>24}  {:+.1} %{}",
                                    ci(&row.baseline),
                                    ci(&row.variant),
                                    100.0 * row.relative,
                                    if row.significant { " *" } else { "" }
                                );
                            }
                        }
                    }
                    Ok(())
                }
            }
        }
        Which::Rootcause {
            c,
            data_dir,
            line,
            check,
            last,
            permutations,
        } => {
            let (plant, cfg) = line_of(&c, &line)?;
            let dir = data_dir.join("trace");
            let (prod, rec) = Production::read_only(plant, &dir).with_context(|| format!("cannot read the genealogy in {}", dir.display()))?;
            let check = match check {
                Some(x) => x,
                None => cfg.quality.first().map(|q| q.name.clone()).context("the line has no quality checks")?,
            };
            let rc = RootCauseConfig {
                permutations,
                ..RootCauseConfig::default()
            };
            let (report, units) = prod.traces().root_cause(&line, &cfg, &check, last, &rc)?;
            if c.json {
                return print_json(&json!({"line": line, "check": check, "units": units, "storage": rec, "report": report}));
            }
            println!(
                "{line} / {check}: {units} units from {} genealogy records, {} failed",
                rec.records, report.excursion_bins
            );
            println!(
                "{:<32} {:>9} {:>9} {:>12} {:>12} {:>9} {:>9}",
                "variable", "d", "r_pb", "failed mean", "passed mean", "p", "p (Holm)"
            );
            for k in &report.candidates {
                println!(
                    "{:<32} {:>9.2} {:>9.2} {:>12.3} {:>12.3} {:>9.4} {:>9.4}{}",
                    k.name,
                    k.effect_size,
                    k.point_biserial,
                    k.mean_excursion,
                    k.mean_normal,
                    k.p_value,
                    k.p_adjusted,
                    if k.significant { " *" } else { "" }
                );
            }
            Ok(())
        }
        Which::Factory {
            c,
            lot_delay,
            copy_line,
            machines,
            scenarios,
            on_hand_lots,
            lot_every_h,
            replications,
            days,
            seed,
        } => {
            let plant = crate::load_plant(c.plant.as_ref())?;
            let lines: Vec<LineConfig> = plant.lines().filter_map(|(_, _, l)| production_line(&plant, &l.id).ok()).collect();
            let base = factory_of(lines, &plant.enterprise, days * 86_400.0, on_hand_lots, lot_every_h);
            let mut specs: Vec<Value> = Vec::new();
            for s in &lot_delay {
                let (k, h) = kv(s, "--lot-delay")?;
                let (comp, lot) = k
                    .split_once('/')
                    .with_context(|| format!("--lot-delay: expected COMPONENT/LOT=HOURS, got '{s}'"))?;
                specs.push(json!({"name": format!("{lot} {h} h late"), "changes": [{"kind": "lot_delay", "component": comp, "lot": lot, "delay_h": h}]}));
            }
            for s in &copy_line {
                let (l, id) = s.split_once('=').with_context(|| format!("--copy-line: expected LINE=NEW_ID, got '{s}'"))?;
                specs.push(json!({"name": format!("a copy of {l}"), "changes": [{"kind": "copy_line", "line": l, "id": id}]}));
            }
            for s in &machines {
                let (k, n) = kv(s, "--machines")?;
                let (l, st) = k.split_once('/').with_context(|| format!("--machines: expected LINE/STATION=N, got '{s}'"))?;
                specs.push(json!({"name": format!("{st} with {n} machines"), "changes": [{"kind": "line", "line": l, "change": {"kind": "machines", "station": st, "count": n.round() as usize}}]}));
            }
            let mut parsed: Vec<FactoryScenarioSpec> = serde_json::from_value(Value::Array(specs))?;
            if let Some(p) = &scenarios {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                let more: Vec<FactoryScenarioSpec> =
                    serde_json::from_str(&text).with_context(|| format!("{}: not a list of factory scenarios", p.display()))?;
                parsed.extend(more);
            }
            if parsed.is_empty() {
                bail!("no scenario: give --lot-delay, --copy-line, --machines or --scenarios");
            }
            let sc = factory_scenarios(&base, &parsed)?;
            let wc = WhatIfConfig::new(replications.max(2), days * 86_400.0, 0.0, seed);
            let bar = spinner(&format!("simulating the factory, {} runs", wc.replications * (sc.len() + 1)));
            let r = evaluate_factory(&base, &sc, &wc)?;
            bar.finish_and_clear();
            if c.json {
                return print_json(&json!({"report": r}));
            }
            println!(
                "factory {} ({} lines), {} replications of {days} days, throughput per hour, 95 %",
                base.id,
                base.lines.len(),
                r.replications
            );
            for (l, e) in &r.baseline {
                println!("  baseline {l:<8} {}", ci(e));
            }
            for v in &r.variants {
                println!("\n{}", v.name);
                for x in v.lines.iter().chain(std::iter::once(&v.total)) {
                    println!(
                        "  {:<10} {:>22} → {:>22}  difference {:>22}{}   no material {:.1} %",
                        x.line,
                        ci(&x.baseline),
                        ci(&x.variant),
                        ci(&x.difference),
                        if x.significant { " *" } else { "" },
                        100.0 * x.no_material_share.mean
                    );
                }
            }
            Ok(())
        }
    }
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()));
    bar.set_message(msg.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn simulate(c: &Common, line: &str, hours: f64, warmup_h: f64, seed: u64) -> Result<()> {
    let (_, cfg) = line_of(c, line)?;
    if !(hours > 0.0 && warmup_h >= 0.0 && warmup_h < hours) {
        bail!("--hours must be > 0 and --warmup-h below it");
    }
    let run = Simulator::new(&cfg)?.run(&SimOptions::new(seed, hours * 3600.0, warmup_h * 3600.0))?;
    if c.json {
        return print_json(&json!({"line": line, "config": cfg, "run": run}));
    }
    let k = &run.kpis;
    println!(
        "{line}: {hours} h (warm-up {warmup_h} h): {} good, {} scrap, {:.2} good/h, WIP {:.1}, lead time {:.0} s (p95 {:.0} s)",
        k.good, k.scrap, k.throughput_per_h, k.wip_mean, k.lead_time_mean_s, k.lead_time_p95_s
    );
    println!(
        "OEE {:.3} = availability {:.3} × performance {:.3} × quality {:.3}",
        k.oee.oee, k.oee.availability, k.oee.performance, k.oee.quality
    );
    println!("bottleneck (active-period method): {}", run.bottleneck.id.as_deref().unwrap_or("none"));
    println!(
        "\n{:<14} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "station", "m", "busy", "blocked", "starved", "down", "setup", "util.", "OEE", "BN share", "kWh"
    );
    for (i, s) in run.stations.iter().enumerate() {
        println!(
            "{:<14} {:>4} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>9.1}",
            s.id,
            s.servers,
            s.shares.busy,
            s.shares.blocked,
            s.shares.starved,
            s.shares.down,
            s.shares.setup,
            s.utilisation,
            s.oee.oee,
            run.bottleneck.total.get(i).copied().unwrap_or(0.0),
            s.energy_kwh
        );
    }
    Ok(())
}
