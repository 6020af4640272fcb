//! The plan as people and adapters read it: per asset the chosen action with its expected consequences and the
//! alternatives it beat (each simulated over the same RUL scenarios), the line reroutes, the part orders and the
//! orders expected to ship late.

use serde::{Deserialize, Serialize};

use crate::problem::{AssetOption, Breakdown, Consequences, Problem};
use crate::solve::{Solved, Solver};

const NS_PER_H: f64 = 3_600.0 * 1e9;

/// What the plan does with an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Nothing within the horizon (accept the risk).
    RunOn,
    /// Reduce load now, no repair within the horizon.
    Derate,
    /// Planned repair (possibly derated until then).
    Maintain,
}

/// One way to handle an asset and what it leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub label: String,
    pub kind: ActionKind,
    pub derate: f64,
    pub start_ns: Option<i64>,
    pub order_parts: bool,
    /// Expected cost of this alternative for this asset alone (its repair costs, its failure risk, its planned
    /// stop priced at the line's rate, labour at the cheapest able crew), currency units.
    pub expected_cost: f64,
    pub consequences: Consequences,
    /// Production hours expected short at the due dates of the line's orders because of this alternative alone.
    pub late_hours: f64,
    pub chosen: bool,
}

/// The plan's decision for one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetAction {
    pub asset: String,
    pub line: String,
    pub class: String,
    pub kind: ActionKind,
    pub derate: f64,
    /// Planned repair: start and end, and the crew.
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub crew: Option<String>,
    /// Spare parts the repair uses.
    pub parts: Vec<String>,
    /// Order the missing parts now (run-on / derate with parts out of stock).
    pub order_parts: bool,
    pub consequences: Consequences,
    /// Probability of failure within the horizon if nothing is done.
    pub risk_if_run_on: f64,
    /// Median predicted RUL at rated load, hours (None for assets without a prediction of failure).
    pub rul_median_h: Option<f64>,
    pub alternatives: Vec<Alternative>,
}

/// Production moved to another line while a line stands for planned work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerouteAction {
    pub line: String,
    pub to: Vec<String>,
    pub start_ns: i64,
    pub hours: f64,
}

/// A spare-part order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartOrder {
    pub part: String,
    pub qty: u32,
    /// Latest time to order so that the part arrives for its first planned use (now for safety stock).
    pub order_by_ns: i64,
}

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub now_ns: i64,
    pub horizon_h: f64,
    pub slot_h: f64,
    pub solver: Solver,
    pub proven_optimal: bool,
    pub solve_seconds: f64,
    pub expected_cost: Breakdown,
    pub expected_total: f64,
    /// Expected total of running everything on (the "do nothing" baseline) — the plan's value is the difference.
    pub run_on_total: f64,
    pub actions: Vec<AssetAction>,
    pub reroutes: Vec<RerouteAction>,
    pub part_orders: Vec<PartOrder>,
    /// Orders expected to ship late: (order id, production hours short).
    pub late_orders: Vec<(String, f64)>,
}

impl Problem {
    /// Stand-alone expected cost of option `o` of asset `a`: its own costs plus labour at the cheapest able crew
    /// and its planned stop priced at its line (rerouting where cheaper).
    #[must_use]
    pub fn standalone_cost(&self, a: usize, opt: &AssetOption) -> f64 {
        let mut c = opt.cost.total();
        if let Some(s) = opt.slot {
            let labour = self.crew_ok[a].iter().map(|&c| self.business.crews[c].cost_per_h).fold(f64::INFINITY, f64::min);
            if labour.is_finite() {
                c += labour * self.dur_h[a];
            }
            let l = &self.lines[self.asset_line[a]];
            let d = self.weight[a] * self.dur_h[a] * l.producing[s];
            let r = if l.reroute_share > 0.0 && l.reroute_cost_h < l.cost_h {
                l.reroute_share * d
            } else {
                0.0
            };
            c += (d - r) * l.cost_h + r * l.reroute_cost_h;
        }
        c
    }
}

fn kind_of(opt: &AssetOption) -> ActionKind {
    match (opt.slot, opt.derate > 0.0) {
        (Some(_), _) => ActionKind::Maintain,
        (None, true) => ActionKind::Derate,
        (None, false) => ActionKind::RunOn,
    }
}

fn label(p: &Problem, opt: &AssetOption) -> String {
    let mut s = match opt.slot {
        Some(slot) => format!("maintain at {}", doppel_model::time::format_rfc3339(p.slot_start_ns(slot))),
        None if opt.derate > 0.0 => "derate, no repair within the horizon".to_string(),
        None => "run on".to_string(),
    };
    if opt.derate > 0.0 {
        s.push_str(&format!(
            " (derated {:.0} %{})",
            opt.derate * 100.0,
            if opt.slot.is_some() { " until then" } else { "" }
        ));
    }
    if opt.order_parts {
        s.push_str(", order spare parts now");
    }
    s
}

/// Turns a solved problem into a plan.
#[must_use]
pub fn make_plan(p: &Problem, solved: &Solved) -> Plan {
    let mut actions = Vec::new();
    for (a, asset) in p.assets.iter().enumerate() {
        let ch = solved.choices[a];
        let opt = &p.options[a][ch.option];
        let kind = kind_of(opt);
        // Alternatives: run on, the best of each kind, the earliest repair, and the chosen one.
        let mut picks: Vec<usize> = vec![0];
        let best_by = |f: &dyn Fn(&AssetOption) -> bool| {
            (0..p.options[a].len())
                .filter(|&o| f(&p.options[a][o]))
                .min_by(|&i, &j| p.standalone_cost(a, &p.options[a][i]).total_cmp(&p.standalone_cost(a, &p.options[a][j])))
        };
        picks.extend(best_by(&|o| o.slot.is_none() && o.derate > 0.0));
        picks.extend(best_by(&|o| o.slot.is_none() && o.order_parts));
        picks.extend(best_by(&|o| o.slot.is_some()));
        picks.extend(best_by(&|o| o.slot == Some(0) && o.derate == 0.0));
        picks.push(ch.option);
        picks.sort_unstable();
        picks.dedup();
        let mut alternatives: Vec<Alternative> = picks
            .into_iter()
            .map(|o| {
                let x = &p.options[a][o];
                Alternative {
                    label: label(p, x),
                    kind: kind_of(x),
                    derate: x.derate,
                    start_ns: x.slot.map(|s| p.slot_start_ns(s)),
                    order_parts: x.order_parts,
                    expected_cost: p.standalone_cost(a, x),
                    consequences: x.consequences,
                    late_hours: x.late_loss_h.iter().copied().fold(0.0, f64::max),
                    chosen: o == ch.option,
                }
            })
            .collect();
        alternatives.sort_by(|x, y| x.expected_cost.total_cmp(&y.expected_cost));
        let start_ns = opt.slot.map(|s| p.slot_start_ns(s));
        actions.push(AssetAction {
            asset: asset.id.clone(),
            line: asset.line.clone(),
            class: asset.class.clone(),
            kind,
            derate: opt.derate,
            start_ns,
            end_ns: start_ns.map(|t| t + (p.dur_h[a] * NS_PER_H) as i64),
            crew: ch.crew.map(|c| p.business.crews[c].id.clone()),
            parts: if opt.slot.is_some() {
                p.part_need[a].iter().map(|&(pi, _)| p.business.parts[pi].id.clone()).collect()
            } else {
                Vec::new()
            },
            order_parts: opt.order_parts,
            consequences: opt.consequences,
            risk_if_run_on: p.options[a][0].consequences.failure_probability,
            rul_median_h: asset.rul.median(),
            alternatives,
        });
    }
    let reroutes = solved
        .evaluation
        .reroutes
        .iter()
        .map(|(line, s, h)| RerouteAction {
            line: line.clone(),
            to: p
                .business
                .line(line)
                .map(|l| l.reroute.iter().map(|r| r.to.clone()).collect())
                .unwrap_or_default(),
            start_ns: p.slot_start_ns(*s),
            hours: *h,
        })
        .collect();
    let part_orders = solved
        .evaluation
        .part_orders
        .iter()
        .map(|(part, qty)| {
            let lead = p.business.part(part).map_or(0.0, |x| x.lead_time_h);
            // First planned use beyond stock decides the latest order time; safety orders go out now.
            let first_use = p
                .assets
                .iter()
                .enumerate()
                .filter_map(|(a, _)| {
                    let opt = &p.options[a][solved.choices[a].option];
                    let uses = p.part_need[a].iter().any(|&(pi, _)| p.business.parts[pi].id == *part);
                    (uses && opt.slot.is_some()).then(|| p.slot_start_h(opt.slot.unwrap_or(0)))
                })
                .filter(|&t| t >= lead)
                .fold(f64::INFINITY, f64::min);
            let by_h = if first_use.is_finite() { (first_use - lead).max(0.0) } else { 0.0 };
            PartOrder {
                part: part.clone(),
                qty: *qty,
                order_by_ns: p.now_ns + (by_h * NS_PER_H) as i64,
            }
        })
        .collect();
    let run_on = p.evaluate(&vec![crate::problem::Choice { option: 0, crew: None }; p.assets.len()]);
    Plan {
        now_ns: p.now_ns,
        horizon_h: p.config.horizon_h,
        slot_h: p.config.slot_h,
        solver: solved.solver,
        proven_optimal: solved.proven_optimal,
        solve_seconds: solved.seconds,
        expected_cost: solved.evaluation.cost,
        expected_total: solved.evaluation.total,
        run_on_total: run_on.total,
        actions,
        reroutes,
        part_orders,
        late_orders: solved.evaluation.late_orders.clone(),
    }
}
