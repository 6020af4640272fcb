//! What-if analysis: change a line's parameters, simulate replications of the baseline and of every
//! variant in parallel, and report KPIs side by side with confidence intervals, before anything is
//! applied to the real process.
//!
//! * A [`Scenario`] is a name and a list of typed [`Change`]s applied to a copy of the baseline
//!   [`LineConfig`] (which the caller builds from the live twins' current state, e.g. with
//!   [`crate::plant::line_from_plant`] and [`crate::config::Health::from_twin`]).
//! * Replication `r` of every scenario uses seed `seed + r`. Since every random stream is keyed by the
//!   element it belongs to ([`crate::rng`]), a station that a change does not touch sees the same
//!   processing times, failures and repairs in the baseline and the variant: **common random numbers**
//!   (Law, *Simulation Modeling and Analysis*, §11.2). The paired differences then have much narrower
//!   intervals than two independent estimates would.
//! * For each KPI the report gives the baseline and variant means with 95 % Student-t intervals
//!   ([`crate::stats`]), the paired difference with its interval, and whether that interval excludes 0.
//! * Runs are spread over `std::thread::scope` threads (one per core by default); the work is a few
//!   dozen independent runs, so a shared job counter is all the scheduling needed (no rayon).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::config::{Arrivals, Calendar, FailureClock, FailureModel, Health, LineConfig, Machine, SourceConfig, StationConfig, Window};
use crate::des::{SimOptions, Simulator};
use crate::dist::Dist;
use crate::energy::{PowerModel, Tariff, energy_report};
use crate::results::RunResult;
use crate::stats::{Estimate, paired_difference};

/// One change to a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Multiply a station's speed (processing times ÷ factor).
    StationSpeed { station: String, factor: f64 },
    /// Set a station's input buffer capacity (`None`: unbounded).
    BufferSize { station: String, capacity: Option<usize> },
    /// Set the number of parallel machines (new machines are healthy and named `{station}-m{k}`).
    Machines { station: String, count: usize },
    /// Set a source's product mix.
    ProductMix { source: String, mix: BTreeMap<String, f64> },
    /// Replace the line's shift pattern (`None`: always scheduled).
    ShiftPattern { calendar: Option<Calendar> },
    /// Replace a station's planned maintenance windows.
    MaintenanceWindows { station: String, windows: Vec<Window> },
    /// Set the health of one machine (`machine` index) or of all of a station's machines.
    MachineHealth { station: String, machine: Option<usize>, health: Health },
    /// Replace a station's failure model.
    Failures { station: String, failures: Option<FailureModel> },
    /// Scale a renewal source's arrival rate (demand) by `factor`.
    Demand { source: String, factor: f64 },
    /// Price energy with this tariff.
    EnergyTariff { tariff: Tariff },
}

/// A named set of changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub changes: Vec<Change>,
}

/// Applies `changes` to a copy of `base`; returns the changed line and the tariff (the last
/// `EnergyTariff` change, else `tariff`).
pub fn apply(base: &LineConfig, changes: &[Change], tariff: Option<&Tariff>) -> Result<(LineConfig, Option<Tariff>), LineError> {
    let (l, tf) = apply_unchecked(base, changes, tariff)?;
    l.validate()?;
    Ok((l, tf))
}

/// [`apply`] without validating the result (a factory's line may refer to shared components it does not
/// declare; the factory validates the combined network).
pub(crate) fn apply_unchecked(base: &LineConfig, changes: &[Change], tariff: Option<&Tariff>) -> Result<(LineConfig, Option<Tariff>), LineError> {
    let mut l = base.clone();
    let mut tf = tariff.cloned();
    fn st<'a>(l: &'a mut LineConfig, id: &str) -> Result<&'a mut StationConfig, LineError> {
        l.stations
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| LineError::UnknownStation(id.to_string()))
    }
    fn src<'a>(l: &'a mut LineConfig, id: &str) -> Result<&'a mut SourceConfig, LineError> {
        l.sources
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| LineError::invalid("source", &format!("unknown source '{id}'")))
    }
    for c in changes {
        match c {
            Change::StationSpeed { station, factor } => {
                if !(factor.is_finite() && *factor > 0.0) {
                    return Err(LineError::invalid("station_speed.factor", "must be > 0"));
                }
                st(&mut l, station)?.speed_factor *= factor;
            }
            Change::BufferSize { station, capacity } => st(&mut l, station)?.buffer = *capacity,
            Change::Machines { station, count } => {
                if *count == 0 {
                    return Err(LineError::invalid("machines.count", "at least one machine"));
                }
                let s = st(&mut l, station)?;
                let id = s.id.clone();
                s.machines.truncate(*count);
                let mut k = s.machines.len();
                while s.machines.len() < *count {
                    k += 1;
                    let name = format!("{id}-m{k}");
                    if s.machines.iter().any(|m| m.asset == name) {
                        continue;
                    }
                    s.machines.push(Machine::new(&name));
                }
            }
            Change::ProductMix { source, mix } => src(&mut l, source)?.mix = mix.clone(),
            Change::ShiftPattern { calendar } => l.calendar = calendar.clone(),
            Change::MaintenanceWindows { station, windows } => st(&mut l, station)?.maintenance = windows.clone(),
            Change::MachineHealth { station, machine, health } => {
                let s = st(&mut l, station)?;
                match machine {
                    Some(k) => {
                        s.machines
                            .get_mut(*k)
                            .ok_or_else(|| LineError::invalid("machine_health.machine", "no such machine"))?
                            .health = *health
                    }
                    None => s.machines.iter_mut().for_each(|m| m.health = *health),
                }
            }
            Change::Failures { station, failures } => st(&mut l, station)?.failures = *failures,
            Change::Demand { source, factor } => {
                if !(factor.is_finite() && *factor > 0.0) {
                    return Err(LineError::invalid("demand.factor", "must be > 0"));
                }
                match &mut src(&mut l, source)?.arrivals {
                    Arrivals::Renewal { interarrival, .. } => *interarrival = interarrival.scaled(1.0 / factor),
                    _ => return Err(LineError::invalid("demand.source", "only renewal (demand-driven) sources have a rate")),
                }
            }
            Change::EnergyTariff { tariff } => {
                tariff.validate()?;
                tf = Some(tariff.clone());
            }
        }
    }
    Ok((l, tf))
}

/// How to run a what-if.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIfConfig {
    pub replications: usize,
    pub horizon_s: f64,
    pub warmup_s: f64,
    pub seed: u64,
    /// Worker threads; `None`: one per available core.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Tariff of the baseline (variants may change it).
    #[serde(default)]
    pub tariff: Option<Tariff>,
    /// Confidence level of the intervals (default 0.95).
    #[serde(default = "level")]
    pub level: f64,
}

fn level() -> f64 {
    0.95
}

impl WhatIfConfig {
    pub fn new(replications: usize, horizon_s: f64, warmup_s: f64, seed: u64) -> WhatIfConfig {
        WhatIfConfig {
            replications,
            horizon_s,
            warmup_s,
            seed,
            threads: None,
            tariff: None,
            level: 0.95,
        }
    }
}

/// The KPIs of a replication, in report order.
pub const KPIS: [&str; 13] = [
    "throughput_per_h",
    "good",
    "scrap",
    "wip_mean",
    "lead_time_mean_s",
    "lead_time_p95_s",
    "oee",
    "availability",
    "performance",
    "quality",
    "energy_kwh",
    "kwh_per_good_unit",
    "energy_cost_per_good_unit",
];

/// The KPI values of one run (order of [`KPIS`]).
pub fn kpi_values(config: &LineConfig, run: &RunResult, tariff: Option<&Tariff>) -> Result<Vec<f64>, LineError> {
    let k = &run.kpis;
    let per = |x: f64| if k.good > 0 { x / k.good as f64 } else { 0.0 };
    let cost = match tariff {
        Some(t) => energy_report(config, run, t)?.cost_per_good_unit,
        None => 0.0,
    };
    Ok(vec![
        k.throughput_per_h,
        k.good as f64,
        k.scrap as f64,
        k.wip_mean,
        k.lead_time_mean_s,
        k.lead_time_p95_s,
        k.oee.oee,
        k.oee.availability,
        k.oee.performance,
        k.oee.quality,
        k.energy_kwh,
        per(k.energy_kwh),
        cost,
    ])
}

/// One KPI of one variant against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiRow {
    pub kpi: String,
    pub baseline: Estimate,
    pub variant: Estimate,
    /// variant − baseline, paired by replication.
    pub difference: Estimate,
    /// difference ÷ baseline mean (NaN when the baseline is 0).
    pub relative: f64,
    /// The difference's interval excludes 0.
    pub significant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    pub rows: Vec<KpiRow>,
    /// How often each station was named the bottleneck (active-period method) over the replications.
    pub bottlenecks: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIfReport {
    pub replications: usize,
    pub baseline: BTreeMap<String, Estimate>,
    pub baseline_bottlenecks: BTreeMap<String, usize>,
    pub variants: Vec<ScenarioReport>,
    /// Simulated runs and events (for speed measurements).
    pub runs: usize,
    pub events: u64,
}

impl ScenarioReport {
    pub fn row(&self, kpi: &str) -> Option<&KpiRow> {
        self.rows.iter().find(|r| r.kpi == kpi)
    }
}

struct RepOut {
    kpis: Vec<f64>,
    bottleneck: Option<String>,
    events: u64,
}

/// Runs `jobs` closures on `threads` scoped threads; results in job order.
pub(crate) fn parallel<T: Send>(jobs: usize, threads: Option<usize>, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|x| x.get()).unwrap_or(1))
        .clamp(1, jobs.max(1));
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..jobs).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= jobs {
                        break;
                    }
                    let r = f(j);
                    if let Ok(mut o) = out.lock() {
                        o[j] = Some(r);
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default().into_iter().flatten().collect()
}

/// Simulates the baseline and every scenario `cfg.replications` times (common random numbers) and
/// compares them.
pub fn run_whatif(base: &LineConfig, scenarios: &[Scenario], cfg: &WhatIfConfig) -> Result<WhatIfReport, LineError> {
    if cfg.replications < 2 {
        return Err(LineError::invalid("replications", "at least 2 for a confidence interval"));
    }
    if !(cfg.level > 0.0 && cfg.level < 1.0) {
        return Err(LineError::invalid("level", "must be in (0, 1)"));
    }
    let mut configs = vec![(base.clone(), cfg.tariff.clone())];
    for s in scenarios {
        configs.push(apply(base, &s.changes, cfg.tariff.as_ref())?);
    }
    let sims = configs.iter().map(|(c, _)| Simulator::new(c)).collect::<Result<Vec<_>, _>>()?;
    let any_tariff = configs.iter().any(|c| c.1.is_some());
    let reps = cfg.replications;
    let jobs = configs.len() * reps;
    let outs = parallel(jobs, cfg.threads, |j| -> Result<RepOut, LineError> {
        let (ci, r) = (j / reps, j % reps);
        let mut o = SimOptions::new(cfg.seed.wrapping_add(r as u64), cfg.horizon_s, cfg.warmup_s);
        if any_tariff {
            o.bucket_s = Some(3600.0);
        }
        let run = sims[ci].run(&o)?;
        Ok(RepOut {
            kpis: kpi_values(&configs[ci].0, &run, configs[ci].1.as_ref())?,
            bottleneck: run.bottleneck.id.clone(),
            events: run.events,
        })
    });
    let outs = outs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let events = outs.iter().map(|o| o.events).sum();
    let column = |ci: usize, k: usize| -> Vec<f64> { (0..reps).map(|r| outs[ci * reps + r].kpis[k]).collect() };
    let bottlenecks = |ci: usize| {
        let mut m = BTreeMap::new();
        for r in 0..reps {
            if let Some(b) = &outs[ci * reps + r].bottleneck {
                *m.entry(b.clone()).or_insert(0) += 1;
            }
        }
        m
    };
    let baseline = KPIS
        .iter()
        .enumerate()
        .map(|(k, n)| (n.to_string(), Estimate::of(&column(0, k), cfg.level)))
        .collect();
    let variants = scenarios
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let ci = si + 1;
            let rows = KPIS
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let (a, b) = (column(0, k), column(ci, k));
                    let base = Estimate::of(&a, cfg.level);
                    let difference = paired_difference(&a, &b, cfg.level);
                    KpiRow {
                        kpi: n.to_string(),
                        baseline: base,
                        variant: Estimate::of(&b, cfg.level),
                        difference,
                        relative: if base.mean != 0.0 { difference.mean / base.mean } else { f64::NAN },
                        significant: difference.excludes_zero(),
                    }
                })
                .collect();
            ScenarioReport {
                name: s.name.clone(),
                rows,
                bottlenecks: bottlenecks(ci),
            }
        })
        .collect();
    Ok(WhatIfReport {
        replications: reps,
        baseline,
        baseline_bottlenecks: bottlenecks(0),
        variants,
        runs: jobs,
        events,
    })
}

/// The benchmark line of the what-if speed target: `n` stations in series making three products in
/// campaigns of 20, log-normal cycle times (cv 0.15) around 40 s with station `n/2` the slowest (46 s),
/// buffers of 8, calendar-time failures (MTBF 8 h, log-normal repairs of mean 20 min), changeovers of
/// 5–10 min between products, 1 % scrap at the last station, three 8-hour shifts on five days a week
/// and a power model per station.
pub fn reference_line(n: usize) -> LineConfig {
    let products: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let stations = (0..n)
        .map(|i| {
            let mean = if i == n / 2 { 46.0 } else { 36.0 + (i % 4) as f64 * 2.0 };
            let mut s = StationConfig::new(&format!("op{}", (i + 1) * 10), Dist::LogNormal { mean, cv: 0.15 }, 1).with_buffer(Some(8));
            s.cycle_by_product.insert("c".into(), Dist::LogNormal { mean: mean * 1.1, cv: 0.15 });
            s.failures = Some(FailureModel {
                clock: FailureClock::Calendar,
                mean_between: 8.0 * 3600.0,
                repair: Dist::LogNormal { mean: 1200.0, cv: 0.8 },
            });
            s.setup = Some(vec![vec![0.0, 300.0, 600.0], vec![300.0, 0.0, 450.0], vec![600.0, 450.0, 0.0]]);
            s.power = Some(PowerModel::simple(12.0, 3.0));
            if i + 1 == n {
                s.scrap_p = 0.01;
            }
            s
        })
        .collect();
    let mut l = LineConfig::serial("reference", stations);
    l.products = products;
    l.sources[0].mix = [("a".to_string(), 0.5), ("b".to_string(), 0.3), ("c".to_string(), 0.2)].into_iter().collect();
    l.sources[0].batch_size = 20;
    l.calendar = Some(Calendar::daily_shifts(5, &[(6.0, 14.0), (14.0, 22.0), (22.0, 30.0)]));
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WEEK;

    #[test]
    fn changes_apply_and_invalid_ones_are_rejected() {
        let base = reference_line(4);
        let (l, t) = apply(
            &base,
            &[
                Change::StationSpeed {
                    station: "op30".into(),
                    factor: 1.25,
                },
                Change::BufferSize {
                    station: "op20".into(),
                    capacity: Some(2),
                },
                Change::Machines {
                    station: "op30".into(),
                    count: 2,
                },
                Change::ShiftPattern { calendar: None },
                Change::MaintenanceWindows {
                    station: "op10".into(),
                    windows: vec![Window { start_s: 0.0, end_s: 10.0 }],
                },
                Change::MachineHealth {
                    station: "op10".into(),
                    machine: Some(0),
                    health: Health::from_twin(Some(0.5), None, 1.0),
                },
                Change::EnergyTariff { tariff: Tariff::flat(0.2) },
            ],
            None,
        )
        .unwrap();
        assert_eq!(l.stations[2].speed_factor, 1.25);
        assert_eq!(l.stations[1].buffer, Some(2));
        assert_eq!(l.stations[2].machines.len(), 2);
        assert_eq!(l.stations[2].machines[1].asset, "op30-m2");
        assert!(l.calendar.is_none());
        assert_eq!(l.stations[0].maintenance.len(), 1);
        assert!(l.stations[0].machines[0].health.speed_factor < 1.0);
        assert_eq!(t, Some(Tariff::flat(0.2)));
        assert!(
            apply(
                &base,
                &[Change::StationSpeed {
                    station: "nope".into(),
                    factor: 1.0
                }],
                None
            )
            .is_err()
        );
        assert!(
            apply(
                &base,
                &[Change::Machines {
                    station: "op10".into(),
                    count: 0
                }],
                None
            )
            .is_err()
        );
        assert!(
            apply(
                &base,
                &[Change::Demand {
                    source: "in".into(),
                    factor: 2.0
                }],
                None
            )
            .is_err()
        );
        let j = serde_json::to_string(&Change::BufferSize {
            station: "x".into(),
            capacity: None,
        })
        .unwrap();
        assert_eq!(j, r#"{"kind":"buffer_size","station":"x","capacity":null}"#);
    }

    #[test]
    fn speeding_up_the_bottleneck_helps_and_common_random_numbers_narrow_the_difference() {
        let base = reference_line(5);
        let bottleneck = base.stations[base.design_bottleneck().unwrap()].id.clone();
        assert_eq!(bottleneck, "op30");
        let scenarios = vec![
            Scenario {
                name: "faster bottleneck".into(),
                changes: vec![Change::StationSpeed {
                    station: bottleneck.clone(),
                    factor: 1.2,
                }],
            },
            Scenario {
                name: "faster first station".into(),
                changes: vec![Change::StationSpeed {
                    station: "op10".into(),
                    factor: 1.2,
                }],
            },
        ];
        let mut cfg = WhatIfConfig::new(8, WEEK, 86_400.0, 7);
        cfg.tariff = Some(Tariff::day_night(0.3, 0.1, 6, 22));
        let r = run_whatif(&base, &scenarios, &cfg).unwrap();
        assert_eq!(r.runs, 24);
        assert_eq!(r.baseline_bottlenecks.get(&bottleneck).copied().unwrap_or(0), 8, "{:?}", r.baseline_bottlenecks);
        let fast = r.variants[0].row("throughput_per_h").unwrap();
        assert!(fast.significant && fast.difference.mean > 0.0, "{fast:?}");
        let other = r.variants[1].row("throughput_per_h").unwrap();
        assert!(other.difference.mean.abs() < 0.3 * fast.difference.mean, "{other:?} vs {fast:?}");
        // paired interval narrower than the independent intervals
        assert!(fast.difference.half_width < fast.baseline.half_width + fast.variant.half_width);
        assert!(r.baseline["energy_cost_per_good_unit"].mean > 0.0);
        // reproducible, and independent of the number of threads
        let mut cfg1 = cfg.clone();
        cfg1.threads = Some(1);
        assert_eq!(run_whatif(&base, &scenarios, &cfg1).unwrap(), r);
        assert!(run_whatif(&base, &scenarios, &WhatIfConfig::new(1, WEEK, 0.0, 1)).is_err());
    }

    #[test]
    fn parallel_keeps_job_order() {
        let v = parallel(50, Some(3), |j| j * j);
        assert_eq!(v, (0..50).map(|j| j * j).collect::<Vec<_>>());
        assert!(parallel(0, None, |j| j).is_empty());
    }
}
