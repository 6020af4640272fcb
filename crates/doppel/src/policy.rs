//! `doppel bench policy` and `doppel bench plan`: the proof of value of the prescriptive planner.
//!
//! * `policy`: reactive, tuned fixed-interval preventive, tuned predictive and prescriptive maintenance on the
//!   same fleet and the same random futures ([`doppel_plan::fleet`]), over several seeds, with 95 % confidence
//!   intervals. Two sources of degradation: the plant simulator ([`crate::plantfleet`]) and real C-MAPSS
//!   run-to-failure trajectories ([`CmapssFleet`]).
//! * `plan`: the planner's optimality gap (local search against the exact MILP on small instances) and its speed
//!   on a large one (500 assets × 14 days × 20 crews by default).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use doppel_learn::hybrid::{OnlineUnit, Prognostics, PrognosticsConfig};
use doppel_learn::series::Trajectory;
use doppel_plan::business::{Business, ClassBusiness, Costs, LineBusiness, Part, PartUse};
use doppel_plan::fleet::{Fleet, FleetAsset, Metrics, Policy, RunConfig, mean_ci, run_policy, tune};
use doppel_plan::instance::{InstanceSize, SHIFTS, SplitMix, crew, gap_instance, random};
use doppel_plan::{PlanConfig, Problem, RulDist, solve_local, solve_milp};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

#[derive(Args, Clone)]
pub struct PolicyArgs {
    /// C-MAPSS directory: replay real run-to-failure trajectories (train the RUL model on half of the training
    /// units of --subset, replay the other half as the fleet). Without it, the plant simulator is the source.
    #[arg(long)]
    pub cmapss: Option<PathBuf>,
    /// C-MAPSS subset (FD001–FD004; any subset placed in the directory).
    #[arg(long, default_value = "FD001")]
    pub subset: String,
    /// Hours of operation per C-MAPSS cycle (12: a mean life of about 100 days).
    #[arg(long, default_value_t = 12.0)]
    pub cycle_h: f64,
    /// Assets in the C-MAPSS fleet (lines of 5).
    #[arg(long, default_value_t = 40)]
    pub assets: usize,
    /// Plant file for the simulator source (default: the bundled example plant).
    #[arg(long)]
    pub plant: Option<PathBuf>,
    /// Simulator source: degradation time scale (1 = realistic; the default makes bearings fail in weeks).
    #[arg(long, default_value_t = 6.0)]
    pub wear_acceleration: f64,
    /// Simulated days per run.
    #[arg(long, default_value_t = 120.0)]
    pub days: f64,
    /// Evaluation seeds (each: a different fleet state, future and order stream; the same for every policy).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Separate seeds on which the preventive interval and the predictive threshold are tuned.
    #[arg(long, default_value_t = 2)]
    pub tune_seeds: u64,
    /// Time limit of each prescriptive re-optimisation, seconds.
    #[arg(long, default_value_t = 0.3)]
    pub solve_limit_s: f64,
    /// Print JSON: {"policies": [{"policy", "unplanned_downtime_hours", "failures", "maintenance_cost", "total_cost", "late_orders", "wasted_life", …}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Clone)]
pub struct PlanBenchArgs {
    /// Small instances solved by both the exact MILP and local search (optimality gap).
    #[arg(long, default_value_t = 30)]
    pub gap_instances: u64,
    /// Assets of each small instance.
    #[arg(long, default_value_t = 10)]
    pub gap_assets: usize,
    /// Assets of the large instance (speed).
    #[arg(long, default_value_t = 500)]
    pub assets: usize,
    /// Crews of the large instance.
    #[arg(long, default_value_t = 20)]
    pub crews: usize,
    /// Horizon of the large instance, days (8-hour slots).
    #[arg(long, default_value_t = 14.0)]
    pub days: f64,
    /// Local-search time limit on the large instance, seconds.
    #[arg(long, default_value_t = 4.0)]
    pub limit_s: f64,
    /// A second, long local search on the large instance to show how far the time-limited plan is from where the
    /// search converges, seconds (0: skip).
    #[arg(long, default_value_t = 30.0)]
    pub reference_limit_s: f64,
}

const NOW: i64 = 1_767_225_600_000_000_000;

/// `doppel bench plan`.
pub fn bench_plan(a: &PlanBenchArgs) -> Result<()> {
    println!(
        "optimality gap: local search vs exact MILP (good_lp + microlp) on {} instances of {} assets, 2 lines, 2 crews, 72 h in 8-h slots",
        a.gap_instances, a.gap_assets
    );
    let mut gaps = Vec::new();
    let (mut t_exact, mut t_local, mut unproven) = (0.0, 0.0, 0);
    for seed in 0..a.gap_instances {
        let p = gap_instance(seed, a.gap_assets, NOW)?;
        let exact = solve_milp(&p, Duration::from_secs(60), None)?;
        let local = solve_local(&p, Duration::from_secs(5));
        if !exact.proven_optimal {
            unproven += 1;
        }
        t_exact += exact.seconds;
        t_local += local.seconds;
        let opt = exact.evaluation.total;
        gaps.push((local.evaluation.total - opt) / opt.abs().max(1.0));
    }
    let (mean, ci) = mean_ci(&gaps);
    let worst = gaps.iter().copied().fold(0.0, f64::max);
    let zero = gaps.iter().filter(|g| **g < 1e-9).count();
    println!(
        "  gap: mean {:.3} % ± {:.3} %, worst {:.3} %, optimal in {zero}/{} instances; exact {:.3} s/instance ({unproven} not proven optimal), local {:.4} s/instance",
        100.0 * mean,
        100.0 * ci,
        100.0 * worst,
        gaps.len(),
        t_exact / gaps.len() as f64,
        t_local / gaps.len() as f64
    );
    let size = InstanceSize {
        assets: a.assets,
        lines: (a.assets / 25).max(1),
        crews: a.crews,
        horizon_h: a.days * 24.0,
        scenarios: 40,
        degrading: 0.45,
    };
    let (business, assets) = random(1, size, NOW);
    let started = Instant::now();
    let p = Problem::new(
        NOW,
        PlanConfig {
            slot_h: 8.0,
            horizon_h: a.days * 24.0,
        },
        business,
        assets,
    )?;
    let build = started.elapsed().as_secs_f64();
    let solved = solve_local(&p, Duration::from_secs_f64(a.limit_s));
    let options: usize = p.options.iter().map(Vec::len).sum();
    println!(
        "speed: {} assets × {} days ({} slots) × {} crews, {} lines, {options} options simulated over 40 RUL scenarios each",
        a.assets, a.days, p.slots, a.crews, size.lines
    );
    println!(
        "  build + simulate options {:.3} s, optimise {:.3} s (limit {} s), total {:.3} s; expected cost {:.0} vs {:.0} running everything on; {} violations",
        build,
        solved.seconds,
        a.limit_s,
        build + solved.seconds,
        solved.evaluation.total,
        p.evaluate(&vec![doppel_plan::problem::Choice { option: 0, crew: None }; p.assets.len()]).total,
        solved.evaluation.violations.len()
    );
    if a.reference_limit_s > 0.0 {
        let long = solve_local(&p, Duration::from_secs_f64(a.reference_limit_s));
        println!(
            "  reference: {:.1} s of local search reach {:.0}; the {} s plan is {:.3} % above it",
            long.seconds,
            long.evaluation.total,
            a.limit_s,
            100.0 * (solved.evaluation.total - long.evaluation.total) / long.evaluation.total.abs().max(1.0)
        );
    }
    Ok(())
}

/// `doppel bench policy`.
pub fn bench_policy(a: &PolicyArgs) -> Result<()> {
    if a.seeds == 0 || a.tune_seeds == 0 {
        bail!("--seeds and --tune-seeds must be at least 1");
    }
    let cfg = RunConfig {
        duration_h: a.days * 24.0,
        solve_limit_s: a.solve_limit_s,
        ..RunConfig::default()
    };
    match &a.cmapss {
        Some(dir) => {
            let source = CmapssSource::load(dir, &a.subset, a.cycle_h)?;
            let business = cmapss_business(a.assets, source.mean_life_h);
            let label = format!(
                "C-MAPSS {} ({} training units for the model, {} replayed; {} assets, {} h per cycle)",
                a.subset,
                source.trained_on,
                source.pool.len(),
                a.assets,
                a.cycle_h
            );
            let mut make = |seed: u64| -> Result<Box<dyn Fleet + '_>> { Ok(Box::new(CmapssFleet::new(&source, a.assets, seed))) };
            compare(a, &cfg, &business, &label, &mut make)
        }
        None => {
            let source = crate::plantfleet::PlantSource::prepare(a.plant.as_ref(), a.wear_acceleration)?;
            let business = source.business();
            let label = source.label();
            let mut make = |seed: u64| -> Result<Box<dyn Fleet + '_>> { Ok(Box::new(source.fleet(seed)?)) };
            compare(a, &cfg, &business, &label, &mut make)
        }
    }
}

fn compare<'f>(a: &PolicyArgs, cfg: &RunConfig, business: &Business, label: &str, make: &mut dyn FnMut(u64) -> Result<Box<dyn Fleet + 'f>>) -> Result<()> {
    let tune_seeds: Vec<u64> = (1000..1000 + a.tune_seeds).collect();
    let eval_seeds: Vec<u64> = (1..=a.seeds).collect();
    let intervals: Vec<Policy> = [0.25, 0.35, 0.45, 0.55, 0.7, 0.85, 1.0]
        .iter()
        .map(|&f| Policy::Preventive { life_fraction: f })
        .collect();
    let lead_h = 2.0 * cfg.plan.slot_h + 24.0;
    let thresholds: Vec<Policy> = [0.02, 0.05, 0.1, 0.2, 0.35, 0.5]
        .iter()
        .map(|&t| Policy::Predictive { threshold: t, lead_h })
        .collect();
    let bar = if a.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((tune_seeds.len() * (intervals.len() + thresholds.len()) + 4 * eval_seeds.len()) as u64)
    };
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let started = Instant::now();
    let mut tuned = |cands: &[Policy], what: &str| {
        bar.set_message(format!("tuning {what}"));
        let mut wrapped = |s: u64| {
            bar.inc(1);
            make(s)
        };
        tune(cands, &tune_seeds, business, cfg, &mut wrapped)
    };
    let (preventive, _) = tuned(&intervals, "preventive")?;
    let (predictive, _) = tuned(&thresholds, "predictive")?;
    let policies = [Policy::Reactive, preventive, predictive, Policy::Prescriptive];
    let mut results: Vec<(Policy, Vec<Metrics>)> = Vec::new();
    for p in policies {
        bar.set_message(p.name().to_string());
        let mut runs: Vec<Metrics> = Vec::new();
        for &s in &eval_seeds {
            let mut fleet = make(s)?;
            runs.push(run_policy(fleet.as_mut(), business, p, &RunConfig { seed: s, ..*cfg }));
            bar.inc(1);
        }
        results.push((p, runs));
    }
    bar.finish_and_clear();
    let field = |runs: &[Metrics], f: fn(&Metrics) -> f64| mean_ci(&runs.iter().map(f).collect::<Vec<_>>());
    type Field = (&'static str, fn(&Metrics) -> f64);
    let fields: [Field; 7] = [
        ("unplanned_downtime_hours", |m| m.unplanned_downtime_hours),
        ("failures", |m| m.failures),
        ("planned_repairs", |m| m.planned_repairs),
        ("maintenance_cost", |m| m.maintenance_cost),
        ("total_cost", |m| m.total_cost),
        ("late_orders", |m| m.late_orders),
        ("wasted_life", |m| m.wasted_life),
    ];
    // Paired reductions of prescriptive against preventive (same seeds, same futures).
    let paired = |f: fn(&Metrics) -> f64| {
        let pre = &results[1].1;
        let rx = &results[3].1;
        let r: Vec<f64> = pre
            .iter()
            .zip(rx)
            .map(|(a, b)| if f(a).abs() > 1e-9 { 1.0 - f(b) / f(a) } else { 0.0 })
            .collect();
        mean_ci(&r)
    };
    let reductions = [
        ("unplanned_downtime_hours", paired(|m| m.unplanned_downtime_hours)),
        ("maintenance_cost", paired(|m| m.maintenance_cost)),
        ("total_cost", paired(|m| m.total_cost)),
    ];
    if a.json {
        let policies: Vec<Value> = results
            .iter()
            .map(|(p, runs)| {
                let mut o = serde_json::Map::new();
                o.insert("policy".into(), json!(p.name()));
                let mut ci = serde_json::Map::new();
                for (name, f) in fields {
                    let (m, h) = field(runs, f);
                    o.insert(name.into(), json!(m));
                    ci.insert(name.into(), json!(h));
                }
                o.insert("ci95".into(), Value::Object(ci));
                o.insert("parameters".into(), serde_json::to_value(p)?);
                o.insert("runs".into(), json!(runs.len()));
                Ok(Value::Object(o))
            })
            .collect::<Result<_>>()?;
        let red: serde_json::Map<String, Value> = reductions.iter().map(|(n, (m, h))| ((*n).to_string(), json!({"mean": m, "ci95": h}))).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "source": label,
                "days": a.days,
                "seeds": eval_seeds,
                "tuning_seeds": tune_seeds,
                "policies": policies,
                "prescriptive_vs_preventive_reduction": red,
                "seconds": started.elapsed().as_secs_f64(),
            }))?
        );
        return Ok(());
    }
    println!("policy benchmark — {label}");
    println!(
        "{} days per run, {} evaluation seeds (tuning on {} other seeds); mean ± 95 % CI",
        a.days,
        eval_seeds.len(),
        tune_seeds.len()
    );
    println!(
        "  tuned: preventive after {:.0} % of the class's mean life in operation; predictive when P(failure within {:.0} h) ≥ {}",
        match preventive {
            Policy::Preventive { life_fraction } => 100.0 * life_fraction,
            _ => f64::NAN,
        },
        lead_h,
        match predictive {
            Policy::Predictive { threshold, .. } => threshold,
            _ => f64::NAN,
        }
    );
    println!(
        "  {:<13} {:>18} {:>12} {:>12} {:>20} {:>20} {:>12} {:>16}",
        "policy", "unplanned down h", "failures", "planned", "maintenance cost", "total cost", "late orders", "wasted life h"
    );
    for (p, runs) in &results {
        let cell = |f: fn(&Metrics) -> f64, w: usize| {
            let (m, h) = field(runs, f);
            format!("{:>w$}", format!("{m:.0} ± {h:.0}"))
        };
        println!(
            "  {:<13} {} {} {} {} {} {} {}",
            p.name(),
            cell(fields[0].1, 18),
            cell(fields[1].1, 12),
            cell(fields[2].1, 12),
            cell(fields[3].1, 20),
            cell(fields[4].1, 20),
            cell(fields[5].1, 12),
            cell(fields[6].1, 16)
        );
    }
    for (n, (m, h)) in reductions {
        println!("  prescriptive vs preventive: {n} −{:.1} % ± {:.1} % (paired by seed)", 100.0 * m, 100.0 * h);
    }
    println!("  {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// C-MAPSS fleet

/// The trained model and the held-out trajectories of a C-MAPSS subset.
pub struct CmapssSource {
    model: Prognostics,
    pool: Vec<Trajectory>,
    cycle_h: f64,
    trained_on: usize,
    mean_life_h: f64,
}

impl CmapssSource {
    fn load(dir: &std::path::Path, subset: &str, cycle_h: f64) -> Result<CmapssSource> {
        if !(cycle_h.is_finite() && cycle_h > 0.0) {
            bail!("--cycle-h must be > 0");
        }
        let data = doppel_learn::cmapss::load_subset(dir, subset).with_context(|| format!("C-MAPSS {subset} in {}", dir.display()))?;
        let all: Vec<Trajectory> = data.train.iter().map(|u| u.to_trajectory(true)).collect();
        if all.len() < 8 {
            bail!(
                "C-MAPSS {subset}: {} training units; need at least 8 to split into model and fleet halves",
                all.len()
            );
        }
        let (train, pool): (Vec<_>, Vec<_>) = all.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let train: Vec<Trajectory> = train.into_iter().map(|(_, t)| t).collect();
        let pool: Vec<Trajectory> = pool.into_iter().map(|(_, t)| t).collect();
        let model = Prognostics::train(&train, &PrognosticsConfig::default()).context("training the RUL model on half of the training units")?;
        let mean_life_h = train.iter().map(|t| t.len() as f64).sum::<f64>() / train.len() as f64 * cycle_h;
        Ok(CmapssSource {
            trained_on: train.len(),
            model,
            pool,
            cycle_h,
            mean_life_h,
        })
    }
}

/// The business side of the C-MAPSS fleet: engines driving production lines of five, two day crews and a night
/// crew, engine modules with a four-day lead time.
fn cmapss_business(assets: usize, mean_life_h: f64) -> Business {
    let lines = assets.div_ceil(5).max(1);
    Business {
        costs: Costs::default(),
        lines: (0..lines)
            .map(|l| LineBusiness {
                id: format!("L{l}"),
                downtime_cost_per_h: 1_500.0,
                rate_per_h: 100.0,
                reroute: Vec::new(),
            })
            .collect(),
        classes: vec![ClassBusiness {
            class: "turbofan".into(),
            skill: "mechanical".into(),
            planned_h: 8.0,
            corrective_h: 30.0,
            planned_cost: 2_000.0,
            corrective_cost: 20_000.0,
            parts: vec![PartUse {
                part: "engine_module".into(),
                qty: 1,
            }],
            life_exponent: 3.0,
            derate_levels: vec![0.1, 0.2],
            mean_life_h,
            derate_throughput_loss: 1.0,
            power_kw: 0.0,
            stops_line: true,
        }],
        crews: vec![
            crew("day-a", &["mechanical"], 2, SHIFTS[0], 70.0),
            crew("day-b", &["mechanical"], 1, SHIFTS[1], 75.0),
            crew("night", &["mechanical"], 1, SHIFTS[2], 95.0),
        ],
        parts: vec![Part {
            id: "engine_module".into(),
            on_hand: (assets / 10).max(1) as u32,
            lead_time_h: 96.0,
            unit_cost: 4_000.0,
            order_cost: 300.0,
        }],
        orders: Vec::new(),
        windows: Vec::new(),
        guardrails: Vec::new(),
    }
}

/// A fleet whose assets follow held-out C-MAPSS trajectories cycle by cycle. An asset fails at the end of its
/// trajectory (the engine's true end of life); a repair starts a new trajectory drawn from the pool. Derating by
/// `d` slows the progression to `(1 − d)³` cycles per cycle-time (life consumed ∝ load³, as the planner assumes).
pub struct CmapssFleet<'s> {
    src: &'s CmapssSource,
    assets: Vec<FleetAsset>,
    unit: Vec<usize>,
    pos: Vec<f64>,
    seen: Vec<usize>,
    online: Vec<OnlineUnit>,
    age_h: Vec<f64>,
    cache: Vec<Option<RulDist>>,
    rng: SplitMix,
}

const QUANTILES: usize = 100;

impl<'s> CmapssFleet<'s> {
    fn new(src: &'s CmapssSource, n: usize, seed: u64) -> CmapssFleet<'s> {
        let assets = (0..n)
            .map(|i| FleetAsset {
                id: format!("E{i:03}"),
                line: format!("L{}", i / 5),
                class: "turbofan".into(),
            })
            .collect();
        let mut f = CmapssFleet {
            src,
            assets,
            unit: vec![0; n],
            pos: vec![0.0; n],
            seen: vec![0; n],
            online: (0..n).map(|i| src.model.online_unit(&format!("E{i:03}"))).collect(),
            age_h: vec![0.0; n],
            cache: vec![None; n],
            rng: SplitMix::new(seed),
        };
        for a in 0..n {
            f.renew(a);
            // A fleet that has been running: each asset somewhere in the first 80 % of its current life.
            let len = f.src.pool[f.unit[a]].len() as f64;
            f.pos[a] = (f.rng.range(0.0, 0.8) * len).floor();
            f.age_h[a] = f.pos[a] * f.src.cycle_h;
            f.observe(a);
        }
        f
    }

    /// Feeds the cycles completed so far to the asset's online predictor.
    fn observe(&mut self, a: usize) {
        let t = &self.src.pool[self.unit[a]];
        let upto = (self.pos[a].floor() as usize).min(t.len());
        while self.seen[a] < upto {
            let k = self.seen[a];
            if self.src.model.push(&mut self.online[a], &t.settings[k], &t.values[k]).is_err() {
                break;
            }
            self.seen[a] += 1;
            self.cache[a] = None;
        }
    }
}

impl Fleet for CmapssFleet<'_> {
    fn assets(&self) -> &[FleetAsset] {
        &self.assets
    }

    fn advance(&mut self, dt_h: f64, running: &[bool], derate: &[f64]) -> Vec<usize> {
        let mut failed = Vec::new();
        for a in 0..self.assets.len() {
            if !running[a] {
                continue;
            }
            let len = self.src.pool[self.unit[a]].len() as f64;
            self.pos[a] += dt_h / self.src.cycle_h * (1.0 - derate[a]).powi(3);
            self.age_h[a] += dt_h;
            self.observe(a);
            if self.pos[a] >= len {
                failed.push(a);
            }
        }
        failed
    }

    fn renew(&mut self, a: usize) {
        self.unit[a] = self.rng.below(self.src.pool.len());
        self.pos[a] = 0.0;
        self.seen[a] = 0;
        self.age_h[a] = 0.0;
        self.online[a] = self.src.model.online_unit(&self.assets[a].id);
        self.cache[a] = None;
    }

    fn predict(&mut self, a: usize) -> RulDist {
        if let Some(d) = &self.cache[a] {
            return d.clone();
        }
        let cap_h = self.src.model.model.config.cap * self.src.cycle_h;
        let probs: Vec<f64> = (0..QUANTILES).map(|k| (k as f64 + 0.5) / QUANTILES as f64).collect();
        let d = if self.seen[a] == 0 {
            // Nothing observed in this life yet: a new engine, no failure within the model's sight.
            RulDist::from_samples(std::iter::repeat_n(cap_h, QUANTILES), Some(cap_h))
        } else {
            match self.src.model.rul_outlook_online(&self.online[a], &probs) {
                Ok(o) => {
                    let d = RulDist::from_samples(o.quantiles.into_iter().map(|c| c * self.src.cycle_h), Some(cap_h));
                    if o.flagged {
                        d
                    } else {
                        d.with_warning(self.src.model.model.warning_leads().iter().map(|c| c * self.src.cycle_h))
                    }
                }
                Err(_) => RulDist::healthy(),
            }
        };
        self.cache[a] = Some(d.clone());
        d
    }

    fn age_h(&self, a: usize) -> f64 {
        self.age_h[a]
    }

    fn true_remaining_h(&mut self, a: usize) -> f64 {
        let len = self.src.pool[self.unit[a]].len() as f64;
        (len - self.pos[a]).max(0.0) * self.src.cycle_h
    }
}
