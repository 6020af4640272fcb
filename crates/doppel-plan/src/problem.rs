//! The planning problem: assets with their RUL distributions, the business constraints, time cut into slots
//! (shifts by default), every option of every asset simulated forward over its RUL scenarios, and the exact cost
//! of a whole plan ([`Problem::evaluate`]) that both optimisers ([`crate::solve`]) minimise.
//!
//! ## Options of one asset
//! Each option is a combination of
//! * **when to maintain**: at the start of slot `s` (a planned repair by a crew with the class's skill, taking
//!   `planned_h`), or not within the horizon (run on);
//! * **derate** `d` (0 or one of the class's levels) from now until the maintenance or the horizon: life is
//!   consumed at `(1 − d)^k` of the rated rate, so every RUL scenario stretches by `1 / (1 − d)^k`, while the
//!   line loses `d` of its rate for as long as the asset runs derated;
//! * for run-on options, when a needed spare part is out of stock: **order it now**, so that a failure after its
//!   lead time waits for no part (the part is held in stock meanwhile).
//!
//! Each option is simulated over every RUL scenario: if the asset fails before the maintenance (or the end of the
//! horizon), it pays the corrective repair (cost, parts, labour) and the line stands for `corrective_h` plus the
//! wait for parts that are not in stock; derating costs throughput until then; a planned repair throws away the
//! life the component still had, priced as that share of a new component ([`crate::business::ClassBusiness::mean_life_h`]).
//! For an asset the model does not flag yet, a failure scenario that the model will flag at a later decision early
//! enough to repair ([`RulDist::caught_later`]) ends in a planned repair then instead: plans are re-optimised, so
//! waiting for the prediction to sharpen has a value, and a healthy-looking component is not replaced "in case".
//! The averages over scenarios are the option's expected consequences ([`Consequences`]).
//!
//! ## Coupling between assets (why the plan is optimised jointly)
//! * planned repairs on one line in the same slot share the stop: the line stands for the longest of them;
//! * a planned stop inside a planned downtime window of its line stops no production;
//! * planned stops may be **rerouted** to the lines named in `reroute` (their share of the rate, at their cost);
//! * crews: each crew has technician-hours per slot from its shifts; a job needs the class's skill;
//! * parts: jobs before a part's lead time can only use stock on hand; later ones may use ordered parts (one
//!   order per part, at its order cost);
//! * orders: lost production hours before an order's due date beyond the line's slack make it late.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::PlanError;
use crate::business::{Business, covered_hours};
use crate::rul::RulDist;

const NS_PER_H: f64 = 3_600.0 * 1e9;

/// (index, hours): a late order's index and hours short, or a slot and its rerouted hours.
pub(crate) type IndexHours = (usize, f64);
const HOURS_PER_YEAR: f64 = 8_760.0;

/// One asset to plan for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetInput {
    pub id: String,
    pub line: String,
    /// Asset class (the plant's asset type), looked up in [`Business::classes`].
    pub class: String,
    pub rul: RulDist,
}

/// Planner settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    /// Length of a slot, hours (a shift).
    pub slot_h: f64,
    /// Planning horizon, hours.
    pub horizon_h: f64,
}

impl Default for PlanConfig {
    fn default() -> PlanConfig {
        PlanConfig {
            slot_h: 8.0,
            horizon_h: 14.0 * 24.0,
        }
    }
}

/// Expected cost split of an option or a plan (currency units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Repairs after failures: repair cost, parts and labour.
    pub corrective: f64,
    /// Planned repairs: repair cost, parts and labour.
    pub planned: f64,
    /// Lost margin while lines stand (failures and planned stops).
    pub downtime: f64,
    /// Throughput lost to derating.
    pub derate: f64,
    /// Production made on other lines.
    pub reroute: f64,
    /// Late-order penalties.
    pub late: f64,
    /// Electricity.
    pub energy: f64,
    /// Part order costs and holding.
    pub parts_logistics: f64,
    /// Value of the life thrown away by replacing components early.
    pub wasted_life: f64,
}

impl Breakdown {
    #[must_use]
    pub fn total(&self) -> f64 {
        self.corrective + self.planned + self.downtime + self.derate + self.reroute + self.late + self.energy + self.parts_logistics + self.wasted_life
    }

    fn add(&mut self, o: &Breakdown, k: f64) {
        self.corrective += k * o.corrective;
        self.planned += k * o.planned;
        self.downtime += k * o.downtime;
        self.derate += k * o.derate;
        self.reroute += k * o.reroute;
        self.late += k * o.late;
        self.energy += k * o.energy;
        self.parts_logistics += k * o.parts_logistics;
        self.wasted_life += k * o.wasted_life;
    }
}

/// What an option is expected to lead to, from its simulation over the RUL scenarios.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Consequences {
    /// Probability of a failure before the action takes effect (the maintenance, or the horizon's end).
    pub failure_probability: f64,
    /// Expected hours the line stands (failures, and the planned stop when there is one).
    pub downtime_h: f64,
    /// Expected production hours lost to derating.
    pub derate_loss_h: f64,
    /// Expected electricity, kWh, over the horizon.
    pub energy_kwh: f64,
    /// Expected hours of component life (at rated load) thrown away.
    pub wasted_life_h: f64,
    /// Probability that the asset would fail before the action takes effect but a later plan, once the model
    /// flags the coming failure, repairs it in time instead (see [`crate::rul::RulDist::caught_later`]).
    #[serde(default)]
    pub caught_later_probability: f64,
}

/// One option of one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetOption {
    /// Slot of the planned repair; `None` = run on (no repair within the horizon).
    pub slot: Option<usize>,
    /// Derating share until the repair / horizon end (0 = full load).
    pub derate: f64,
    /// Order the missing spare parts now (run-on options whose parts are out of stock).
    pub order_parts: bool,
    /// Expected costs of the option alone (planned labour and the planned stop's line cost come from the crew and
    /// the line, see [`Problem::evaluate`]).
    pub cost: Breakdown,
    pub consequences: Consequences,
    /// Expected production hours lost before each order of the asset's line is due (failures, derating).
    pub late_loss_h: Vec<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct OrderData {
    pub(crate) id: String,
    pub(crate) due_h: f64,
    /// Slots that start before the due date.
    pub(crate) due_slot: usize,
    /// Production hours to spare before the due date (negative: late whatever happens).
    pub(crate) slack_h: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct LineData {
    pub(crate) id: String,
    pub(crate) cost_h: f64,
    pub(crate) reroute_share: f64,
    pub(crate) reroute_cost_h: f64,
    /// Share of each slot in which the line produces (not in a planned downtime window).
    pub(crate) producing: Vec<f64>,
    pub(crate) orders: Vec<OrderData>,
}

/// A complete planning problem, with every option simulated. Build with [`Problem::new`].
#[derive(Debug, Clone)]
pub struct Problem {
    pub now_ns: i64,
    pub config: PlanConfig,
    pub slots: usize,
    pub business: Business,
    pub assets: Vec<AssetInput>,
    /// `options[a]`: the options of asset `a`; option 0 is always "run on at full load".
    pub options: Vec<Vec<AssetOption>>,
    pub(crate) lines: Vec<LineData>,
    pub(crate) asset_line: Vec<usize>,
    /// Planned-repair hours and the line weight (1 = stops the line) of each asset.
    pub(crate) dur_h: Vec<f64>,
    pub(crate) weight: Vec<f64>,
    /// `crew_hours[c][s]`: technician-hours of crew c in slot s.
    pub(crate) crew_hours: Vec<Vec<f64>>,
    /// `crew_ok[a]`: crews with the skill for asset a.
    pub(crate) crew_ok: Vec<Vec<usize>>,
    /// `part_need[a]`: (part index, qty) of asset a's job.
    pub(crate) part_need: Vec<Vec<(usize, u32)>>,
    /// Lead time of each part in slots: jobs in slots `< lead_slots[p]` use stock on hand only.
    pub(crate) lead_slots: Vec<usize>,
}

/// One asset's decision in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub option: usize,
    /// Crew doing the planned repair (options with a slot).
    pub crew: Option<usize>,
}

/// Cost and feasibility of a whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub cost: Breakdown,
    pub total: f64,
    /// Constraint violations (empty for a feasible plan).
    pub violations: Vec<String>,
    /// Orders expected to ship late: (order id, hours short).
    pub late_orders: Vec<(String, f64)>,
    /// Rerouted production hours per (line, slot).
    pub reroutes: Vec<(String, usize, f64)>,
    /// Parts that must be ordered: (part, quantity beyond stock, order now?).
    pub part_orders: Vec<(String, u32)>,
}

impl Problem {
    /// Builds the problem and simulates every option.
    ///
    /// # Errors
    /// [`PlanError::Invalid`] for an invalid business document, a bad config, or assets whose line or class the
    /// business document does not describe (each named).
    pub fn new(now_ns: i64, config: PlanConfig, business: Business, assets: Vec<AssetInput>) -> Result<Problem, PlanError> {
        business.validate()?;
        if !(config.slot_h.is_finite() && config.slot_h > 0.0 && config.horizon_h.is_finite() && config.horizon_h >= config.slot_h) {
            return Err(PlanError::Invalid(vec![format!(
                "slot_h = {} and horizon_h = {} must be > 0 with horizon_h >= slot_h",
                config.slot_h, config.horizon_h
            )]));
        }
        let slots = (config.horizon_h / config.slot_h).round().max(1.0) as usize;
        let horizon_h = slots as f64 * config.slot_h;
        let slot_ns = (config.slot_h * NS_PER_H) as i64;
        let windows = business.windows_by_line();
        let mut lines = Vec::new();
        let mut line_index = BTreeMap::new();
        for l in &business.lines {
            let spans = windows.get(l.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let producing: Vec<f64> = (0..slots)
                .map(|s| {
                    let a = now_ns + s as i64 * slot_ns;
                    1.0 - covered_hours(spans, a, a + slot_ns) / config.slot_h
                })
                .collect();
            // Orders by due date; slack = producing hours before the due date − hours the orders due by then need.
            let mut orders: Vec<(f64, &crate::business::Order)> = business
                .orders
                .iter()
                .filter(|o| o.line == l.id)
                .filter_map(|o| doppel_model::time::parse_rfc3339(&o.due).map(|d| ((d - now_ns) as f64 / NS_PER_H, o)))
                .collect();
            orders.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut need = 0.0;
            let orders = orders
                .into_iter()
                .map(|(due_h, o)| {
                    need += o.quantity / l.rate_per_h;
                    let due_ns = now_ns + (due_h.max(0.0) * NS_PER_H) as i64;
                    let avail = due_h.max(0.0) - covered_hours(spans, now_ns, due_ns);
                    let due_slot = ((due_h / config.slot_h).ceil().max(0.0) as usize).min(slots);
                    OrderData {
                        id: o.id.clone(),
                        due_h,
                        due_slot,
                        slack_h: avail - need,
                    }
                })
                .collect();
            let share: f64 = l.reroute.iter().map(|r| r.share).sum::<f64>().min(1.0);
            let cost = if share > 0.0 {
                l.reroute.iter().map(|r| r.share * r.cost_per_h).sum::<f64>() / l.reroute.iter().map(|r| r.share).sum::<f64>()
            } else {
                0.0
            };
            line_index.insert(l.id.clone(), lines.len());
            lines.push(LineData {
                id: l.id.clone(),
                cost_h: l.downtime_cost_per_h,
                reroute_share: share,
                reroute_cost_h: cost,
                producing,
                orders,
            });
        }
        let mut bad = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in assets.iter().enumerate() {
            if !seen.insert(a.id.as_str()) {
                bad.push(format!("assets[{i}].id = '{}': duplicate", a.id));
            }
            if !line_index.contains_key(&a.line) {
                bad.push(format!("assets[{i}] '{}': line '{}' has no [[lines]] entry in the business data", a.id, a.line));
            }
            if business.class(&a.class).is_none() {
                bad.push(format!(
                    "assets[{i}] '{}': class '{}' has no [[classes]] entry in the business data",
                    a.id, a.class
                ));
            }
        }
        if !bad.is_empty() {
            return Err(PlanError::Invalid(bad));
        }
        let crew_hours: Vec<Vec<f64>> = business
            .crews
            .iter()
            .map(|c| {
                (0..slots)
                    .map(|s| c.hours_between(now_ns + s as i64 * slot_ns, now_ns + (s as i64 + 1) * slot_ns))
                    .collect()
            })
            .collect();
        let lead_slots: Vec<usize> = business.parts.iter().map(|p| (p.lead_time_h / config.slot_h).ceil() as usize).collect();
        let mut p = Problem {
            now_ns,
            config: PlanConfig {
                slot_h: config.slot_h,
                horizon_h,
            },
            slots,
            assets: Vec::new(),
            options: Vec::new(),
            lines,
            asset_line: Vec::new(),
            dur_h: Vec::new(),
            weight: Vec::new(),
            crew_hours,
            crew_ok: Vec::new(),
            part_need: Vec::new(),
            lead_slots,
            business,
        };
        for a in &assets {
            let class = p.business.class(&a.class).cloned().unwrap_or_else(|| unreachable_class(&a.class));
            let same = assets.iter().filter(|b| b.line == a.line && b.class == a.class).count().max(1);
            p.asset_line.push(line_index[&a.line]);
            p.dur_h.push(class.planned_h);
            p.weight.push(if class.stops_line { 1.0 } else { 1.0 / same as f64 });
            p.crew_ok.push(
                p.business
                    .crews
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.skills.contains(&class.skill))
                    .map(|(i, _)| i)
                    .collect(),
            );
            p.part_need.push(
                class
                    .parts
                    .iter()
                    .filter_map(|u| p.business.parts.iter().position(|q| q.id == u.part).map(|i| (i, u.qty)))
                    .collect(),
            );
        }
        p.assets = assets;
        p.options = (0..p.assets.len()).map(|a| p.simulate_options(a)).collect();
        Ok(p)
    }

    /// Start of slot `s` in hours from now.
    #[must_use]
    pub fn slot_start_h(&self, s: usize) -> f64 {
        s as f64 * self.config.slot_h
    }

    /// Start of slot `s`, ns since the epoch.
    #[must_use]
    pub fn slot_start_ns(&self, s: usize) -> i64 {
        self.now_ns + (self.slot_start_h(s) * NS_PER_H) as i64
    }

    /// Crews able to do asset `a`'s job.
    #[must_use]
    pub fn crews_for(&self, a: usize) -> &[usize] {
        &self.crew_ok[a]
    }

    /// Simulates every option of asset `a` over its RUL scenarios.
    fn simulate_options(&self, a: usize) -> Vec<AssetOption> {
        let asset = &self.assets[a];
        let class = self.business.class(&asset.class).cloned().unwrap_or_else(|| unreachable_class(&asset.class));
        let line = &self.lines[self.asset_line[a]];
        let w = self.weight[a];
        let h = self.config.horizon_h;
        let price = self.business.costs.energy_price_per_kwh;
        let labour = self.crew_ok[a].iter().map(|&c| self.business.crews[c].cost_per_h).fold(f64::INFINITY, f64::min);
        let labour = if labour.is_finite() { labour } else { 0.0 };
        let parts: Vec<(&crate::business::Part, u32)> = self.part_need[a].iter().map(|&(p, q)| (&self.business.parts[p], q)).collect();
        let parts_cost: f64 = parts.iter().map(|(p, q)| p.unit_cost * f64::from(*q)).sum();
        let missing: Vec<&(&crate::business::Part, u32)> = parts.iter().filter(|(p, q)| p.on_hand < *q).collect();
        let wait_if_failed = missing.iter().map(|(p, _)| p.lead_time_h).fold(0.0, f64::max);
        let mut levels = vec![0.0];
        levels.extend(class.derate_levels.iter().copied());
        let slots: Vec<Option<usize>> = std::iter::once(None).chain((0..self.slots).map(Some)).collect();
        let mut out = Vec::new();
        for &slot in &slots {
            for &d in &levels {
                let orders: &[bool] = if slot.is_none() && !missing.is_empty() { &[false, true] } else { &[false] };
                for &order in orders {
                    out.push(self.simulate(a, &class, line, w, slot, d, order, labour, parts_cost, wait_if_failed, h, price));
                }
            }
        }
        // Option 0 must be "run on at full load, no order": it is, by construction (slot None first, d = 0 first).
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn simulate(
        &self,
        a: usize,
        class: &crate::business::ClassBusiness,
        line: &LineData,
        w: f64,
        slot: Option<usize>,
        d: f64,
        order: bool,
        labour: f64,
        parts_cost: f64,
        wait_if_failed: f64,
        h: f64,
        price: f64,
    ) -> AssetOption {
        let rul = &self.assets[a].rul;
        let rate = (1.0 - d).powf(class.life_exponent);
        // Output the line loses while the asset runs derated.
        let dl = d * class.derate_throughput_loss;
        let t_end = slot.map_or(h, |s| self.slot_start_h(s));
        let n = rul.len().max(1) as f64;
        let mut cost = Breakdown::default();
        let mut cons = Consequences::default();
        let mut late = vec![0.0; line.orders.len()];
        let producing_at = |t: f64| line.producing[((t / self.config.slot_h) as usize).min(self.slots - 1)];
        let lead = if order { wait_if_failed } else { 0.0 };
        // A failure the model will flag at a later decision can be repaired as planned then, if there is time for
        // the repair and the wait for parts (ordered now, or at the flag).
        let react_h = class.planned_h + if order { 0.0 } else { wait_if_failed };
        let mut failures = 0.0;
        let scenarios: Vec<Option<f64>> = if rul.is_empty() {
            vec![None]
        } else {
            rul.failures_before(t_end, rate).collect()
        };
        for (i, fail) in scenarios.iter().enumerate() {
            let weight = if rul.is_empty() { 1.0 } else { 1.0 / n };
            match *fail {
                Some(t) => {
                    let caught = rul.caught_later(t, self.config.slot_h, react_h);
                    failures += 1.0 - caught;
                    cons.caught_later_probability += weight * caught;
                    let wait = if order { (lead - t).max(0.0) } else { wait_if_failed };
                    // Either it fails (corrective repair, waiting for parts) or a later plan repairs it just before.
                    let down_failed = class.corrective_h + wait;
                    let down_caught = class.planned_h;
                    let stop_failed = down_failed * w * producing_at(t);
                    let stop_caught = down_caught * w * producing_at(t);
                    let stop = (1.0 - caught) * stop_failed + caught * stop_caught;
                    cost.corrective += weight * (1.0 - caught) * (class.corrective_cost + parts_cost + labour * class.corrective_h);
                    cost.planned += weight * caught * (class.planned_cost + parts_cost + labour * class.planned_h);
                    cost.downtime += weight * stop * line.cost_h;
                    cost.derate += weight * dl * t * w * line.cost_h;
                    cons.downtime_h += weight * stop;
                    cons.derate_loss_h += weight * dl * t * w;
                    let down = (1.0 - caught) * down_failed + caught * down_caught;
                    cons.energy_kwh += weight * class.power_kw * ((1.0 - d) * t + (h - t - down).max(0.0));
                    for (k, o) in line.orders.iter().enumerate() {
                        if o.due_h > t {
                            let lost = (1.0 - caught) * stop_failed.min((o.due_h - t) * w) + caught * stop_caught.min((o.due_h - t) * w);
                            late[k] += weight * (lost + dl * t * w);
                        } else {
                            late[k] += weight * dl * o.due_h.max(0.0) * w;
                        }
                    }
                }
                None => {
                    cost.derate += weight * dl * t_end * w * line.cost_h;
                    cons.derate_loss_h += weight * dl * t_end * w;
                    for (k, o) in line.orders.iter().enumerate() {
                        late[k] += weight * dl * o.due_h.clamp(0.0, t_end) * w;
                    }
                    if slot.is_some() {
                        cost.planned += weight * (class.planned_cost + parts_cost);
                        // Life left at the repair, in rated-load hours. A censored scenario (no sign of failure
                        // within the model's cap) has, on average, a new component's mean life left — not the cap,
                        // which would make replacing healthy components look cheap.
                        let left = rul.samples().get(i).map_or(0.0, |&s| {
                            let s = if rul.is_censored(s) { s.max(class.mean_life_h) } else { s };
                            (s - rate * t_end).max(0.0)
                        });
                        cost.wasted_life += weight * (class.planned_cost + parts_cost) * left / class.mean_life_h;
                        cons.wasted_life_h += weight * left;
                        cons.energy_kwh += weight * class.power_kw * ((1.0 - d) * t_end + (h - t_end - class.planned_h).max(0.0));
                    } else {
                        cons.energy_kwh += weight * class.power_kw * (1.0 - d) * h;
                    }
                }
            }
        }
        if order {
            for (p, q) in self.missing_parts(a) {
                let p = &self.business.parts[p];
                // The part sits in stock from its arrival on (it stays an asset whether or not it is used).
                let held = (h - p.lead_time_h).max(0.0);
                cost.parts_logistics += p.order_cost + p.unit_cost * f64::from(q) * self.business.costs.parts_holding_rate_per_year * held / HOURS_PER_YEAR;
            }
        }
        cost.energy = cons.energy_kwh * price;
        cons.failure_probability = if rul.is_empty() { 0.0 } else { failures / n };
        AssetOption {
            slot,
            derate: d,
            order_parts: order,
            cost,
            consequences: cons,
            late_loss_h: late,
        }
    }

    /// Parts of asset `a`'s job with less stock on hand than the job needs: (part index, qty).
    fn missing_parts(&self, a: usize) -> Vec<(usize, u32)> {
        self.part_need[a].iter().copied().filter(|&(p, q)| self.business.parts[p].on_hand < q).collect()
    }

    /// Cost and feasibility of a complete plan (one choice per asset).
    #[must_use]
    pub fn evaluate(&self, plan: &[Choice]) -> Evaluation {
        let mut cost = Breakdown::default();
        let mut violations = Vec::new();
        let mut crew_used = vec![vec![0.0; self.slots]; self.business.crews.len()];
        let mut part_early = vec![0u32; self.business.parts.len()];
        let mut part_total = vec![0u32; self.business.parts.len()];
        let mut part_ordered = vec![false; self.business.parts.len()];
        let mut line_stop = vec![vec![0.0f64; self.slots]; self.lines.len()];
        let mut line_loss: Vec<Vec<f64>> = self.lines.iter().map(|l| vec![0.0; l.orders.len()]).collect();
        for (a, ch) in plan.iter().enumerate() {
            let Some(opt) = self.options[a].get(ch.option) else {
                violations.push(format!("asset '{}': no option {}", self.assets[a].id, ch.option));
                continue;
            };
            cost.add(&opt.cost, 1.0);
            let l = self.asset_line[a];
            for (k, v) in opt.late_loss_h.iter().enumerate() {
                line_loss[l][k] += v;
            }
            if opt.order_parts {
                for &(p, q) in &self.part_need[a] {
                    if self.business.parts[p].on_hand < q {
                        part_ordered[p] = true;
                    }
                }
            }
            if let Some(s) = opt.slot {
                line_stop[l][s] = line_stop[l][s].max(self.weight[a] * self.dur_h[a]);
                for &(p, q) in &self.part_need[a] {
                    part_total[p] += q;
                    if s < self.lead_slots[p] {
                        part_early[p] += q;
                    }
                }
                match ch.crew {
                    Some(c) if self.crew_ok[a].contains(&c) => {
                        crew_used[c][s] += self.dur_h[a];
                        cost.planned += self.business.crews[c].cost_per_h * self.dur_h[a];
                    }
                    Some(c) => violations.push(format!("asset '{}': crew {c} lacks the skill", self.assets[a].id)),
                    None => violations.push(format!("asset '{}': planned repair without a crew", self.assets[a].id)),
                }
            }
        }
        for (c, used) in crew_used.iter().enumerate() {
            for (s, u) in used.iter().enumerate() {
                if *u > self.crew_hours[c][s] + 1e-9 {
                    violations.push(format!(
                        "crew '{}' slot {s}: {u} h of jobs > {} h on shift",
                        self.business.crews[c].id, self.crew_hours[c][s]
                    ));
                }
            }
        }
        let mut part_orders = Vec::new();
        for (p, part) in self.business.parts.iter().enumerate() {
            if part_early[p] > part.on_hand {
                violations.push(format!(
                    "part '{}': {} needed before its lead time, {} on hand",
                    part.id, part_early[p], part.on_hand
                ));
            }
            let beyond = part_total[p].saturating_sub(part.on_hand);
            if beyond > 0 || part_ordered[p] {
                cost.parts_logistics += part.order_cost;
                part_orders.push((part.id.clone(), beyond.max(u32::from(part_ordered[p]))));
            }
        }
        let mut late_orders = Vec::new();
        let mut reroutes = Vec::new();
        for (l, line) in self.lines.iter().enumerate() {
            let (c, late, rr) = self.line_cost(l, &line_stop[l], &line_loss[l]);
            cost.downtime += c.downtime;
            cost.reroute += c.reroute;
            cost.late += c.late;
            for (k, hours) in late {
                late_orders.push((line.orders[k].id.clone(), hours));
            }
            for (s, r) in rr {
                reroutes.push((line.id.clone(), s, r));
            }
        }
        let total = cost.total();
        Evaluation {
            cost,
            total,
            violations,
            late_orders,
            reroutes,
            part_orders,
        }
    }

    /// Line-coupled costs: planned stops (`stop[s]` hours in slot s), rerouting, and late orders given the
    /// assets' own expected losses before each due date. Rerouting takes the stop's rerouteable share whenever it
    /// is cheaper than standing. Returns the costs, late orders (index, hours) and reroutes (slot, hours).
    pub(crate) fn line_cost(&self, l: usize, stop: &[f64], own_loss: &[f64]) -> (Breakdown, Vec<IndexHours>, Vec<IndexHours>) {
        let line = &self.lines[l];
        let mut c = Breakdown::default();
        let reroute = line.reroute_share > 0.0 && line.reroute_cost_h < line.cost_h;
        let mut lost_by_slot = vec![0.0; self.slots];
        let mut rr = Vec::new();
        for (s, &d) in stop.iter().enumerate() {
            if d <= 0.0 {
                continue;
            }
            let prod = line.producing[s];
            let r = if reroute { line.reroute_share * d } else { 0.0 };
            c.downtime += prod * (d - r) * line.cost_h;
            c.reroute += prod * r * line.reroute_cost_h;
            lost_by_slot[s] = prod * (d - r);
            if r > 0.0 && prod > 0.0 {
                rr.push((s, prod * r));
            }
        }
        let mut prefix = Vec::with_capacity(self.slots + 1);
        prefix.push(0.0);
        for v in &lost_by_slot {
            prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
        }
        let mut late = Vec::new();
        for (k, o) in line.orders.iter().enumerate() {
            let before = prefix[o.due_slot];
            let short = before + own_loss.get(k).copied().unwrap_or(0.0) - o.slack_h;
            if short > 1e-9 {
                c.late += self.business.costs.late_penalty_per_h * short + self.business.costs.late_order_penalty;
                late.push((k, short));
            }
        }
        (c, late, rr)
    }
}

fn unreachable_class(class: &str) -> crate::business::ClassBusiness {
    // Problem::new rejects unknown classes before any option is simulated; this keeps the code panic-free.
    crate::business::ClassBusiness {
        class: class.to_string(),
        skill: String::new(),
        planned_h: 1.0,
        corrective_h: 1.0,
        planned_cost: 0.0,
        corrective_cost: 0.0,
        parts: Vec::new(),
        life_exponent: 3.0,
        derate_levels: Vec::new(),
        mean_life_h: 1.0,
        derate_throughput_loss: 1.0,
        power_kw: 0.0,
        stops_line: true,
    }
}
