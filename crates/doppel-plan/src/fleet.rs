//! The policy benchmark: four maintenance policies run on the same fleet and the same random futures, with the
//! same crews, spare parts and production orders, and the business outcome of each.
//!
//! A [`Fleet`] is the source of degradation (the plant simulator, or C-MAPSS run-to-failure trajectories replayed
//! cycle by cycle) together with the twin's predictions for it. [`run_policy`] plays one policy over it hour by
//! hour:
//!
//! * **production**: each line works through its orders (released over time at 80–90 % of its capacity, due a
//!   few days later) at its rate, reduced by the deepest derate on the line and stopped while any of its assets is
//!   down; an order finished after its due date is late;
//! * **maintenance**: a failure stops the asset and queues a corrective job; policies queue planned jobs. A job
//!   starts when a technician with the skill is on shift and free and its spare parts are in stock (parts are
//!   reordered to their base stock on use and arrive after their lead time); a planned job's asset keeps running
//!   (and may fail) until the job starts; a finished job renews the asset;
//! * **policies**, at the start of each slot (shift): *reactive* does nothing; *preventive* queues a job for every
//!   asset older than a fixed interval; *predictive* queues a job when P(failure within the lead time) from the
//!   twin's RUL distribution exceeds a threshold; *prescriptive* builds the [`Problem`] (RUL distributions, crews,
//!   stock, open orders) and carries out the optimiser's plan for the coming slot: repairs starting now, derates,
//!   part orders — re-optimised every slot;
//! * **costs** as the planner prices them: repairs, parts, labour, part orders and holding, lost margin while a
//!   line stands or runs derated, late-order penalties, electricity; and the life thrown away by planned repairs
//!   (the asset's true remaining life at the repair, from the fleet's ground truth).
//!
//! The interval of *preventive* and the threshold of *predictive* are tuned for the lowest mean total cost on
//! separate tuning seeds ([`tune`]), as a competent plant would tune them.

use serde::{Deserialize, Serialize};

use crate::business::{Business, Order};
use crate::instance::SplitMix;
use crate::plan::ActionKind;
use crate::problem::{AssetInput, PlanConfig, Problem};
use crate::rul::RulDist;
use crate::solve::{SolveOptions, solve};

const NS_PER_H: f64 = 3_600.0 * 1e9;
const HOURS_PER_YEAR: f64 = 8_760.0;

/// An asset of a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetAsset {
    pub id: String,
    pub line: String,
    pub class: String,
}

/// A source of degradation with the twin's predictions for it.
pub trait Fleet {
    fn assets(&self) -> &[FleetAsset];
    /// Advances `dt_h` hours. Assets with `running[a] == false` are stopped (they neither age nor fail);
    /// `derate[a]` is the share of rated load taken off. Returns the assets that failed during the step.
    fn advance(&mut self, dt_h: f64, running: &[bool], derate: &[f64]) -> Vec<usize>;
    /// Replaces the worn component(s) of asset `a`: a new life starts.
    fn renew(&mut self, a: usize);
    /// The twin's RUL distribution for asset `a` now (hours at rated load), from what it has observed.
    fn predict(&mut self, a: usize) -> RulDist;
    /// Operating hours since the last renewal.
    fn age_h(&self, a: usize) -> f64;
    /// Ground truth: hours asset `a` would still run at rated load before failing.
    fn true_remaining_h(&mut self, a: usize) -> f64;
}

/// A maintenance policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Policy {
    Reactive,
    /// Repair every asset after this share of its class's mean life (operating hours since renewal).
    Preventive {
        life_fraction: f64,
    },
    Predictive {
        threshold: f64,
        lead_h: f64,
    },
    Prescriptive,
}

impl Policy {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Reactive => "reactive",
            Policy::Preventive { .. } => "preventive",
            Policy::Predictive { .. } => "predictive",
            Policy::Prescriptive => "prescriptive",
        }
    }
}

/// Settings of a benchmark run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub start_ns: i64,
    pub duration_h: f64,
    pub dt_h: f64,
    /// Planning: slot (decision period) and horizon.
    pub plan: PlanConfig,
    /// Seed of the order stream.
    pub seed: u64,
    /// Time limit of each prescriptive re-optimisation, seconds.
    pub solve_limit_s: f64,
    /// Production orders: demand as a share of each line's capacity.
    pub demand_share: f64,
    /// Measure the life thrown away by planned repairs (asks the fleet for ground truth, which may be costly:
    /// tuning runs skip it).
    pub measure_waste: bool,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            start_ns: 1_767_225_600_000_000_000,
            duration_h: 120.0 * 24.0,
            dt_h: 1.0,
            plan: PlanConfig::default(),
            seed: 1,
            solve_limit_s: 0.5,
            demand_share: 0.85,
            measure_waste: true,
        }
    }
}

/// Outcome of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Line-hours stopped by failures (repair and waiting for crew or parts).
    pub unplanned_downtime_hours: f64,
    pub failures: f64,
    pub planned_repairs: f64,
    /// Repairs (planned and corrective), parts, labour, part orders and holding.
    pub maintenance_cost: f64,
    /// Maintenance cost + lost margin (stops, derating) + late-order penalties + electricity.
    pub total_cost: f64,
    pub late_orders: f64,
    /// Hours of life (at rated load) thrown away by planned repairs.
    pub wasted_life: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum JobKind {
    Planned,
    Corrective,
}

#[derive(Debug, Clone)]
struct Job {
    asset: usize,
    kind: JobKind,
    /// Technician (crew index) and end time once started.
    running: Option<(usize, f64)>,
}

struct Sim<'b> {
    business: &'b Business,
    class: Vec<usize>,
    line: Vec<usize>,
    jobs: Vec<Job>,
    busy: Vec<Vec<f64>>,
    stock: Vec<u32>,
    on_order: Vec<Vec<(f64, u32)>>,
    m: Metrics,
}

impl Sim<'_> {
    /// (part index, quantity) of asset `a`'s repair.
    fn parts_of(&self, a: usize) -> Vec<(usize, u32)> {
        self.business.classes[self.class[a]]
            .parts
            .iter()
            .filter_map(|u| self.business.parts.iter().position(|p| p.id == u.part).map(|p| (p, u.qty)))
            .collect()
    }
}

/// Production orders of one run: (line index, release h, due h, quantity).
fn order_stream(business: &Business, cfg: &RunConfig) -> Vec<(usize, f64, f64, f64)> {
    let mut rng = SplitMix::new(cfg.seed ^ 0x0DE5);
    let mut out = Vec::new();
    for (l, line) in business.lines.iter().enumerate() {
        let mut t = 0.0;
        while t < cfg.duration_h {
            let span = rng.range(24.0, 72.0);
            let qty = (line.rate_per_h * span * cfg.demand_share * rng.range(0.95, 1.05)).round();
            out.push((l, t, t + span + rng.range(48.0, 96.0), qty));
            t += span;
        }
    }
    out
}

/// Plays `policy` over `fleet` (see the module documentation).
pub fn run_policy(fleet: &mut dyn Fleet, business: &Business, policy: Policy, cfg: &RunConfig) -> Metrics {
    let assets: Vec<FleetAsset> = fleet.assets().to_vec();
    let n = assets.len();
    let mut sim = Sim {
        business,
        class: assets
            .iter()
            .map(|a| business.classes.iter().position(|c| c.class == a.class).unwrap_or(0))
            .collect(),
        line: assets.iter().map(|a| business.lines.iter().position(|l| l.id == a.line).unwrap_or(0)).collect(),
        jobs: Vec::new(),
        busy: business.crews.iter().map(|c| vec![0.0; c.size as usize]).collect(),
        stock: business.parts.iter().map(|p| p.on_hand).collect(),
        on_order: vec![Vec::new(); business.parts.len()],
        m: Metrics::default(),
    };
    let orders = order_stream(business, cfg);
    let mut remaining: Vec<f64> = orders.iter().map(|o| o.3).collect();
    let mut done = vec![false; orders.len()];
    let mut down = vec![false; n];
    let mut derate = vec![0.0; n];
    let steps = (cfg.duration_h / cfg.dt_h).round() as usize;
    let per_slot = (cfg.plan.slot_h / cfg.dt_h).round().max(1.0) as usize;
    let price = business.costs.energy_price_per_kwh;
    for step in 0..steps {
        let t = step as f64 * cfg.dt_h;
        let now_ns = cfg.start_ns + (t * NS_PER_H) as i64;
        // Parts arriving.
        for (p, list) in sim.on_order.iter_mut().enumerate() {
            let arrived: u32 = list.iter().filter(|(at, _)| *at <= t).map(|(_, q)| *q).sum();
            list.retain(|(at, _)| *at > t);
            sim.stock[p] += arrived;
        }
        // Decisions at the start of each slot.
        if step % per_slot == 0 {
            decide(fleet, &mut sim, policy, cfg, t, now_ns, &down, &mut derate, &orders, &remaining, &done);
        }
        // Jobs finishing, then starting.
        let mut finished = Vec::new();
        for (j, job) in sim.jobs.iter().enumerate() {
            if let Some((_, end)) = job.running
                && end <= t + 1e-9
            {
                finished.push(j);
            }
        }
        for &j in finished.iter().rev() {
            let job = sim.jobs.remove(j);
            fleet.renew(job.asset);
            down[job.asset] = false;
            derate[job.asset] = 0.0;
        }
        start_jobs(fleet, &mut sim, t, now_ns, &mut down, cfg.measure_waste);
        // Run the plant for one step.
        let running: Vec<bool> = (0..n).map(|a| !down[a]).collect();
        for a in fleet.advance(cfg.dt_h, &running, &derate) {
            if down[a] {
                continue;
            }
            down[a] = true;
            derate[a] = 0.0;
            sim.m.failures += 1.0;
            // A queued planned job becomes the corrective one.
            sim.jobs.retain(|j| !(j.asset == a && j.running.is_none()));
            sim.jobs.push(Job {
                asset: a,
                kind: JobKind::Corrective,
                running: None,
            });
        }
        // Production, downtime, energy, holding.
        for (l, line) in business.lines.iter().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&a| sim.line[a] == l).collect();
            // Assets in series stop the line; assets in parallel (not stopping it) each carry 1/n of its rate.
            let lost = |pick: &dyn Fn(usize) -> bool| -> f64 {
                let series = members.iter().any(|&a| pick(a) && business.classes[sim.class[a]].stops_line);
                if series {
                    return 1.0;
                }
                let parallel: f64 = members
                    .iter()
                    .filter(|&&a| pick(a) && !business.classes[sim.class[a]].stops_line)
                    .map(|&a| 1.0 / members.iter().filter(|&&b| sim.class[b] == sim.class[a]).count().max(1) as f64)
                    .sum();
                parallel.min(1.0)
            };
            let down_share = lost(&|a| down[a]);
            let failed_share = lost(&|a| down[a] && sim.jobs.iter().any(|j| j.asset == a && j.kind == JobKind::Corrective));
            let slow = members
                .iter()
                .map(|&a| derate[a] * business.classes[sim.class[a]].derate_throughput_loss)
                .fold(0.0, f64::max);
            let share = (1.0 - down_share) * (1.0 - slow);
            sim.m.total_cost += (1.0 - share) * cfg.dt_h * line.downtime_cost_per_h;
            sim.m.unplanned_downtime_hours += failed_share * cfg.dt_h;
            let mut capacity = line.rate_per_h * share * cfg.dt_h;
            for (k, o) in orders.iter().enumerate() {
                if capacity <= 0.0 {
                    break;
                }
                if o.0 != l || done[k] || o.1 > t {
                    continue;
                }
                let made = capacity.min(remaining[k]);
                remaining[k] -= made;
                capacity -= made;
                if remaining[k] <= 1e-9 {
                    done[k] = true;
                    if t + cfg.dt_h > o.2 {
                        sim.m.late_orders += 1.0;
                        sim.m.total_cost += business.costs.late_order_penalty + business.costs.late_penalty_per_h * (t + cfg.dt_h - o.2);
                    }
                }
            }
        }
        for a in 0..n {
            if !down[a] {
                sim.m.total_cost += business.classes[sim.class[a]].power_kw * (1.0 - derate[a]) * cfg.dt_h * price;
            }
        }
        let holding: f64 = business.parts.iter().zip(&sim.stock).map(|(p, &s)| p.unit_cost * f64::from(s)).sum::<f64>()
            * business.costs.parts_holding_rate_per_year
            * cfg.dt_h
            / HOURS_PER_YEAR;
        sim.m.maintenance_cost += holding;
    }
    // Orders still open at the end and already overdue count as late.
    for (k, o) in orders.iter().enumerate() {
        if !done[k] && o.2 < cfg.duration_h {
            sim.m.late_orders += 1.0;
            sim.m.total_cost += business.costs.late_order_penalty + business.costs.late_penalty_per_h * (cfg.duration_h - o.2);
        }
    }
    sim.m.total_cost += sim.m.maintenance_cost;
    sim.m
}

/// Starts queued jobs that have a free technician on shift and their parts.
fn start_jobs(fleet: &mut dyn Fleet, sim: &mut Sim<'_>, t: f64, now_ns: i64, down: &mut [bool], measure_waste: bool) {
    let business = sim.business;
    // Corrective jobs first, then planned ones in queue order.
    let mut queue: Vec<usize> = (0..sim.jobs.len()).filter(|&j| sim.jobs[j].running.is_none()).collect();
    queue.sort_by_key(|&j| (sim.jobs[j].kind == JobKind::Planned, j));
    for j in queue {
        let a = sim.jobs[j].asset;
        let class = &business.classes[sim.class[a]];
        let parts = sim.parts_of(a);
        if parts.iter().any(|&(p, q)| sim.stock[p] < q) {
            for &(p, q) in &parts {
                reorder(sim, p, q, t);
            }
            continue;
        }
        let tech = business.crews.iter().enumerate().find_map(|(c, crew)| {
            if !crew.skills.contains(&class.skill) || !crew.on_shift(now_ns) {
                return None;
            }
            sim.busy[c].iter().position(|&until| until <= t + 1e-9).map(|i| (c, i))
        });
        let Some((c, i)) = tech else { continue };
        let kind = sim.jobs[j].kind;
        let dur = if kind == JobKind::Corrective { class.corrective_h } else { class.planned_h };
        sim.busy[c][i] = t + dur;
        sim.jobs[j].running = Some((c, t + dur));
        let parts_cost: f64 = parts.iter().map(|&(p, q)| business.parts[p].unit_cost * f64::from(q)).sum();
        for &(p, q) in &parts {
            sim.stock[p] -= q;
            reorder(sim, p, 0, t);
        }
        let labour = business.crews[c].cost_per_h * dur;
        sim.m.maintenance_cost += parts_cost
            + labour
            + if kind == JobKind::Corrective {
                class.corrective_cost
            } else {
                class.planned_cost
            };
        if kind == JobKind::Planned {
            sim.m.planned_repairs += 1.0;
            if measure_waste {
                sim.m.wasted_life += fleet.true_remaining_h(a);
            }
            down[a] = true;
        }
    }
}

/// Base-stock replenishment: orders what brings stock + open orders back to the initial stock (and at least
/// `need` for a waiting job).
fn reorder(sim: &mut Sim<'_>, p: usize, need: u32, t: f64) {
    let part = &sim.business.parts[p];
    let open: u32 = sim.on_order[p].iter().map(|(_, q)| *q).sum();
    let target = part.on_hand.max(need);
    let have = sim.stock[p] + open;
    if have < target {
        sim.on_order[p].push((t + part.lead_time_h, target - have));
        sim.m.maintenance_cost += part.order_cost;
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    fleet: &mut dyn Fleet,
    sim: &mut Sim<'_>,
    policy: Policy,
    cfg: &RunConfig,
    t: f64,
    now_ns: i64,
    down: &[bool],
    derate: &mut [f64],
    orders: &[(usize, f64, f64, f64)],
    remaining: &[f64],
    done: &[bool],
) {
    let n = derate.len();
    let idle: Vec<usize> = (0..n).filter(|&a| !down[a] && !sim.jobs.iter().any(|j| j.asset == a)).collect();
    match policy {
        Policy::Reactive => {}
        Policy::Preventive { life_fraction } => {
            for a in idle {
                if fleet.age_h(a) >= life_fraction * sim.business.classes[sim.class[a]].mean_life_h {
                    sim.jobs.push(Job {
                        asset: a,
                        kind: JobKind::Planned,
                        running: None,
                    });
                }
            }
        }
        Policy::Predictive { threshold, lead_h } => {
            for a in idle {
                if fleet.predict(a).prob_before(lead_h, 1.0) >= threshold {
                    sim.jobs.push(Job {
                        asset: a,
                        kind: JobKind::Planned,
                        running: None,
                    });
                }
            }
        }
        Policy::Prescriptive => {
            let assets = fleet.assets().to_vec();
            let mut inputs = Vec::new();
            let mut index = Vec::new();
            for a in idle {
                let rul = fleet.predict(a);
                if rul.prob_before(cfg.plan.horizon_h, 1.0) <= 0.0 {
                    derate[a] = 0.0;
                    continue;
                }
                inputs.push(AssetInput {
                    id: assets[a].id.clone(),
                    line: assets[a].line.clone(),
                    class: assets[a].class.clone(),
                    rul,
                });
                index.push(a);
            }
            if inputs.is_empty() {
                return;
            }
            let mut business = sim.business.clone();
            // What the ERP knows now: stock (with parts on order), open orders with what is left of them.
            for (p, part) in business.parts.iter_mut().enumerate() {
                part.on_hand = sim.stock[p]
                    + sim.on_order[p]
                        .iter()
                        .filter(|(at, _)| *at <= t + cfg.plan.slot_h)
                        .map(|(_, q)| *q)
                        .sum::<u32>();
            }
            business.orders = orders
                .iter()
                .enumerate()
                .filter(|(k, o)| !done[*k] && o.1 <= t + cfg.plan.horizon_h)
                .map(|(k, o)| Order {
                    id: format!("O{k}"),
                    line: sim.business.lines[o.0].id.clone(),
                    product: String::new(),
                    quantity: remaining[k],
                    due: doppel_model::time::format_rfc3339(cfg.start_ns + (o.2 * NS_PER_H) as i64),
                })
                .collect();
            business.windows.clear();
            // Technicians on a job are not free before it ends.
            for (c, crew) in business.crews.iter_mut().enumerate() {
                crew.busy_until = sim.busy[c]
                    .iter()
                    .filter(|&&until| until > t)
                    .map(|&until| doppel_model::time::format_rfc3339(cfg.start_ns + (until * NS_PER_H) as i64))
                    .collect();
            }
            let Ok(problem) = Problem::new(now_ns, cfg.plan, business, inputs) else {
                return;
            };
            let solved = solve(
                &problem,
                SolveOptions {
                    exact_max_binaries: 0,
                    exact_time_limit_s: 0.0,
                    local_time_limit_s: cfg.solve_limit_s,
                },
            );
            let plan = crate::plan::make_plan(&problem, &solved);
            for (i, action) in plan.actions.iter().enumerate() {
                let a = index[i];
                derate[a] = action.derate;
                if action.kind == ActionKind::Maintain && action.start_ns.is_some_and(|s| s < now_ns + (cfg.plan.slot_h * NS_PER_H) as i64) {
                    sim.jobs.push(Job {
                        asset: a,
                        kind: JobKind::Planned,
                        running: None,
                    });
                }
                if action.order_parts {
                    for (p, q) in sim.parts_of(a) {
                        reorder(sim, p, q, t);
                    }
                }
            }
            for order in &plan.part_orders {
                if order.order_by_ns <= now_ns + (cfg.plan.slot_h * NS_PER_H) as i64
                    && let Some(p) = sim.business.parts.iter().position(|x| x.id == order.part)
                {
                    let want = sim.business.parts[p].on_hand + order.qty;
                    reorder(sim, p, want, t);
                }
            }
        }
    }
}

/// Mean and 95 % confidence half-width (Student t) of a sample.
#[must_use]
pub fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, f64::INFINITY);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Two-sided 97.5 % Student t quantiles for 1..=30 degrees of freedom, then the normal value.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
        2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.96);
    (mean, t * (var / n as f64).sqrt())
}

/// Picks, from `candidates`, the policy with the lowest mean total cost over the fleets `make(seed)` for the
/// tuning seeds. Returns it with its mean cost.
///
/// # Errors
/// The first error of `make`.
pub fn tune<'f, E>(
    candidates: &[Policy],
    seeds: &[u64],
    business: &Business,
    cfg: &RunConfig,
    make: &mut dyn FnMut(u64) -> Result<Box<dyn Fleet + 'f>, E>,
) -> Result<(Policy, f64), E> {
    let mut best = (candidates.first().copied().unwrap_or(Policy::Reactive), f64::INFINITY);
    for &p in candidates {
        let mut cost = 0.0;
        for &s in seeds {
            let mut fleet = make(s)?;
            cost += run_policy(
                fleet.as_mut(),
                business,
                p,
                &RunConfig {
                    seed: s,
                    measure_waste: false,
                    ..*cfg
                },
            )
            .total_cost;
        }
        cost /= seeds.len().max(1) as f64;
        if cost < best.1 {
            best = (p, cost);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::business::{Costs, LineBusiness, Shift};
    use crate::instance::classes;

    /// Lives drawn from a Weibull; the "twin" sees the true remaining life with 20 % log-normal noise.
    struct Toy {
        assets: Vec<FleetAsset>,
        life: Vec<f64>,
        age: Vec<f64>,
        rng: SplitMix,
    }

    impl Toy {
        fn new(seed: u64, n: usize) -> Toy {
            let mut rng = SplitMix::new(seed);
            let assets: Vec<FleetAsset> = (0..n)
                .map(|i| FleetAsset {
                    id: format!("m{i}"),
                    line: format!("L{}", i % 2),
                    class: "induction_motor".into(),
                })
                .collect();
            let mut t = Toy {
                assets,
                life: vec![0.0; n],
                age: vec![0.0; n],
                rng: SplitMix::new(seed ^ 7),
            };
            for a in 0..n {
                t.renew(a);
                t.age[a] = rng.range(0.0, 0.8) * t.life[a];
            }
            t
        }
    }

    impl Fleet for Toy {
        fn assets(&self) -> &[FleetAsset] {
            &self.assets
        }
        fn advance(&mut self, dt_h: f64, running: &[bool], derate: &[f64]) -> Vec<usize> {
            let mut failed = Vec::new();
            for a in 0..self.assets.len() {
                if running[a] {
                    self.age[a] += dt_h * (1.0 - derate[a]).powi(3);
                    if self.age[a] >= self.life[a] {
                        failed.push(a);
                    }
                }
            }
            failed
        }
        fn renew(&mut self, a: usize) {
            // Weibull shape 3, scale 600 h.
            self.life[a] = 600.0 * (-(1.0 - self.rng.uniform()).ln()).powf(1.0 / 3.0);
            self.age[a] = 0.0;
        }
        fn predict(&mut self, a: usize) -> RulDist {
            let left = (self.life[a] - self.age[a]).max(0.0);
            RulDist::from_interval(left, left * 0.7, left * 1.4, 0.9, None, 20)
        }
        fn age_h(&self, a: usize) -> f64 {
            self.age[a]
        }
        fn true_remaining_h(&mut self, a: usize) -> f64 {
            (self.life[a] - self.age[a]).max(0.0)
        }
    }

    fn business() -> Business {
        Business {
            costs: Costs::default(),
            lines: (0..2)
                .map(|l| LineBusiness {
                    id: format!("L{l}"),
                    downtime_cost_per_h: 1500.0,
                    rate_per_h: 100.0,
                    reroute: vec![],
                })
                .collect(),
            classes: classes(),
            crews: vec![crate::instance::crew(
                "c",
                &["electrical"],
                2,
                Shift {
                    start_hour: 6.0,
                    end_hour: 22.0,
                },
                60.0,
            )],
            parts: crate::instance::parts([2, 0, 0, 0]),
            orders: vec![],
            windows: vec![],
            guardrails: vec![],
        }
    }

    #[test]
    fn predictive_and_prescriptive_policies_beat_running_to_failure() {
        let b = business();
        let cfg = RunConfig {
            duration_h: 60.0 * 24.0,
            solve_limit_s: 0.2,
            ..RunConfig::default()
        };
        let run = |p: Policy| run_policy(&mut Toy::new(3, 8), &b, p, &cfg);
        let reactive = run(Policy::Reactive);
        let predictive = run(Policy::Predictive { threshold: 0.2, lead_h: 24.0 });
        let prescriptive = run(Policy::Prescriptive);
        assert!(reactive.failures >= 5.0, "{reactive:?}");
        assert_eq!(reactive.planned_repairs, 0.0);
        assert!(predictive.failures < reactive.failures / 2.0, "{predictive:?} vs {reactive:?}");
        assert!(prescriptive.failures < reactive.failures / 2.0, "{prescriptive:?} vs {reactive:?}");
        assert!(prescriptive.total_cost < reactive.total_cost, "{prescriptive:?} vs {reactive:?}");
        assert!(prescriptive.unplanned_downtime_hours < reactive.unplanned_downtime_hours);
        assert!(predictive.wasted_life > 0.0);
        let (m, h) = mean_ci(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (h - 4.303 / 3f64.sqrt()).abs() < 1e-9);
    }
}
