//! Business constraints: what an ERP / MES / CMMS knows and the planner must respect — lines and what their
//! downtime costs, production orders with due dates, maintenance crews with skills and shifts, spare parts with
//! stock and lead times, planned downtime windows, and per-asset-class maintenance facts (durations, costs,
//! parts, how derating stretches life).
//!
//! The same structure is read from a TOML file ([`Business::parse_toml`]) and from JSON (the API); both go
//! through [`Business::validate`], which collects every problem with its field path. Times are RFC 3339 strings.

use std::collections::{BTreeMap, BTreeSet};

use doppel_model::time;
use serde::{Deserialize, Serialize};

use crate::PlanError;

const NS_PER_H: f64 = 3_600.0 * 1e9;

/// Plant-wide cost rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Costs {
    /// Penalty per production order that ships late (contract penalty, expediting), currency units.
    pub late_order_penalty: f64,
    /// Additional penalty per hour of production an order is short at its due date.
    pub late_penalty_per_h: f64,
    /// Electricity price per kWh.
    pub energy_price_per_kwh: f64,
    /// Yearly holding cost of spare parts as a share of their value (capital, storage).
    pub parts_holding_rate_per_year: f64,
}

impl Default for Costs {
    fn default() -> Costs {
        Costs {
            late_order_penalty: 5_000.0,
            late_penalty_per_h: 200.0,
            energy_price_per_kwh: 0.15,
            parts_holding_rate_per_year: 0.25,
        }
    }
}

/// Where a line's production can go while it is down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reroute {
    /// The line (or cell, or subcontractor) that can make this line's products.
    pub to: String,
    /// Share of this line's rate the other line can absorb with its spare capacity (0–1).
    pub share: f64,
    /// Extra cost per hour of this line's production made elsewhere (transport, set-up, overtime).
    pub cost_per_h: f64,
}

/// A production line as the business sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBusiness {
    pub id: String,
    /// Lost margin per hour the line stands (fixed costs, lost contribution), currency units.
    pub downtime_cost_per_h: f64,
    /// Output rate at full speed, units per hour.
    pub rate_per_h: f64,
    #[serde(default)]
    pub reroute: Vec<Reroute>,
}

/// A planned downtime window of a line (shutdown, weekend, changeover): maintenance inside it stops nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub line: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub reason: String,
}

/// A production order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub id: String,
    pub line: String,
    #[serde(default)]
    pub product: String,
    /// Units still to make.
    pub quantity: f64,
    pub due: String,
}

/// A daily shift, hours of the day in UTC; `end` may be below `start` for a night shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub start_hour: f64,
    pub end_hour: f64,
}

/// A maintenance crew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crew {
    pub id: String,
    pub skills: Vec<String>,
    /// Technicians; a crew works on that many jobs at once.
    #[serde(default = "one")]
    pub size: u32,
    pub shifts: Vec<Shift>,
    /// Labour cost per technician-hour.
    #[serde(default)]
    pub cost_per_h: f64,
    /// Technicians already on a job, each with the time the job ends (RFC 3339 or relative): they are not
    /// available before then (as the CMMS knows).
    #[serde(default)]
    pub busy_until: Vec<String>,
}

fn one() -> u32 {
    1
}

/// A spare part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub id: String,
    pub on_hand: u32,
    pub lead_time_h: f64,
    pub unit_cost: f64,
    /// Fixed cost of placing an order (freight, expediting).
    #[serde(default)]
    pub order_cost: f64,
}

/// Parts a job consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUse {
    pub part: String,
    #[serde(default = "one")]
    pub qty: u32,
}

/// Maintenance facts of one asset class (an asset type of the plant file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassBusiness {
    /// The asset type id.
    pub class: String,
    /// Skill a crew needs for the job.
    pub skill: String,
    /// Duration of a planned repair (asset down), hours.
    pub planned_h: f64,
    /// Duration of a repair after a failure (diagnosis, collateral damage), hours, not counting waits for parts.
    pub corrective_h: f64,
    /// Labour-free cost of a planned repair (consumables, contractor fees).
    #[serde(default)]
    pub planned_cost: f64,
    /// Cost of a repair after a failure (collateral damage, overtime, scrap), on top of parts.
    pub corrective_cost: f64,
    #[serde(default)]
    pub parts: Vec<PartUse>,
    /// Life-consumption exponent on load: derating by d consumes life at `(1 − d)^k` of the rated rate (ISO 281:
    /// 3 for ball bearings, 10/3 for roller bearings).
    #[serde(default = "three")]
    pub life_exponent: f64,
    /// Derating levels the planner may consider (shares of rated load, e.g. 0.1 = run at 90 %).
    #[serde(default = "derates")]
    pub derate_levels: Vec<f64>,
    /// Share of a derate that the line loses in output: 1 for a machine that paces the line (a conveyor, a
    /// spindle's feed), less for auxiliaries with design margin (a coolant pump at 80 % speed still cools).
    #[serde(default = "one_f")]
    pub derate_throughput_loss: f64,
    /// Mean life of a new component at rated load, hours (prices the life thrown away by early replacement).
    pub mean_life_h: f64,
    /// Electrical power at rated load, kW.
    #[serde(default)]
    pub power_kw: f64,
    /// Whether the line stops while this asset is down (an asset in series); otherwise its line loses
    /// `1 / (assets of the class on the line)` of its rate.
    #[serde(default = "yes")]
    pub stops_line: bool,
}

fn one_f() -> f64 {
    1.0
}
fn three() -> f64 {
    3.0
}
fn derates() -> Vec<f64> {
    vec![0.1, 0.2]
}
fn yes() -> bool {
    true
}

/// Everything the business side provides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Business {
    pub costs: Costs,
    pub lines: Vec<LineBusiness>,
    pub classes: Vec<ClassBusiness>,
    pub crews: Vec<Crew>,
    pub parts: Vec<Part>,
    pub orders: Vec<Order>,
    pub windows: Vec<Window>,
    /// Autonomy rules ([`crate::policy`]).
    pub guardrails: Vec<crate::policy::Rule>,
}

/// A time in a business document: RFC 3339, or relative to when the document is loaded (`+36h`, `+3d`,
/// `+90m`; for demos and tests — [`Business::resolve_relative`] turns them into absolute times).
#[must_use]
pub fn parse_when(s: &str, now_ns: i64) -> Option<i64> {
    if let Some(rel) = s.trim().strip_prefix('+') {
        let (num, unit) = rel.split_at(rel.find(|c: char| c.is_ascii_alphabetic())?);
        let v: f64 = num.trim().parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
        let h = match unit {
            "m" | "min" => v / 60.0,
            "h" => v,
            "d" => v * 24.0,
            _ => return None,
        };
        return Some(now_ns + (h * NS_PER_H) as i64);
    }
    time::parse_rfc3339(s)
}

/// A window or order with its times parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub start_ns: i64,
    pub end_ns: i64,
}

impl Business {
    /// Reads and validates a TOML document.
    ///
    /// # Errors
    /// [`PlanError::Parse`] with the TOML error (line and column), or [`PlanError::Invalid`] with every finding.
    pub fn parse_toml(text: &str) -> Result<Business, PlanError> {
        let b: Business = toml::from_str(text).map_err(|e| PlanError::Parse(e.to_string()))?;
        b.validate()?;
        Ok(b)
    }

    /// Reads and validates a business file (TOML).
    ///
    /// # Errors
    /// [`PlanError::Io`] when unreadable, else as [`Business::parse_toml`].
    pub fn load(path: &std::path::Path) -> Result<Business, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::Io(format!("{}: {e}", path.display())))?;
        Business::parse_toml(&text).map_err(|e| match e {
            PlanError::Parse(m) => PlanError::Parse(format!("{}: {m}", path.display())),
            PlanError::Invalid(v) => PlanError::Invalid(v.into_iter().map(|m| format!("{}: {m}", path.display())).collect()),
            other => other,
        })
    }

    /// Checks references, ranges and times; collects every finding.
    ///
    /// # Errors
    /// [`PlanError::Invalid`] listing each problem with its field path.
    pub fn validate(&self) -> Result<(), PlanError> {
        let mut bad = Vec::new();
        let nonneg = |bad: &mut Vec<String>, path: String, v: f64| {
            if !(v.is_finite() && v >= 0.0) {
                bad.push(format!("{path} = {v}: must be a finite number >= 0"));
            }
        };
        nonneg(&mut bad, "costs.late_order_penalty".into(), self.costs.late_order_penalty);
        nonneg(&mut bad, "costs.late_penalty_per_h".into(), self.costs.late_penalty_per_h);
        nonneg(&mut bad, "costs.energy_price_per_kwh".into(), self.costs.energy_price_per_kwh);
        nonneg(&mut bad, "costs.parts_holding_rate_per_year".into(), self.costs.parts_holding_rate_per_year);
        let ids = |kind: &str, list: Vec<&str>, bad: &mut Vec<String>| {
            let mut seen = BTreeSet::new();
            for (i, id) in list.into_iter().enumerate() {
                if id.is_empty() {
                    bad.push(format!("{kind}[{i}].id: must not be empty"));
                } else if !seen.insert(id) {
                    bad.push(format!("{kind}[{i}].id = '{id}': duplicate"));
                }
            }
        };
        ids("lines", self.lines.iter().map(|l| l.id.as_str()).collect(), &mut bad);
        ids("classes", self.classes.iter().map(|c| c.class.as_str()).collect(), &mut bad);
        ids("crews", self.crews.iter().map(|c| c.id.as_str()).collect(), &mut bad);
        ids("parts", self.parts.iter().map(|p| p.id.as_str()).collect(), &mut bad);
        ids("orders", self.orders.iter().map(|o| o.id.as_str()).collect(), &mut bad);
        let lines: BTreeSet<&str> = self.lines.iter().map(|l| l.id.as_str()).collect();
        let parts: BTreeSet<&str> = self.parts.iter().map(|p| p.id.as_str()).collect();
        for (i, l) in self.lines.iter().enumerate() {
            nonneg(&mut bad, format!("lines[{i}].downtime_cost_per_h"), l.downtime_cost_per_h);
            if !(l.rate_per_h.is_finite() && l.rate_per_h > 0.0) {
                bad.push(format!("lines[{i}].rate_per_h = {}: must be > 0", l.rate_per_h));
            }
            for (j, r) in l.reroute.iter().enumerate() {
                if !lines.contains(r.to.as_str()) || r.to == l.id {
                    bad.push(format!("lines[{i}].reroute[{j}].to = '{}': not another line of this file", r.to));
                }
                if !(r.share.is_finite() && (0.0..=1.0).contains(&r.share)) {
                    bad.push(format!("lines[{i}].reroute[{j}].share = {}: must be in [0, 1]", r.share));
                }
                nonneg(&mut bad, format!("lines[{i}].reroute[{j}].cost_per_h"), r.cost_per_h);
            }
        }
        for (i, c) in self.classes.iter().enumerate() {
            let p = format!("classes[{i}]");
            if !(c.planned_h.is_finite() && c.planned_h > 0.0) {
                bad.push(format!("{p}.planned_h = {}: must be > 0", c.planned_h));
            }
            if !(c.corrective_h.is_finite() && c.corrective_h > 0.0) {
                bad.push(format!("{p}.corrective_h = {}: must be > 0", c.corrective_h));
            }
            nonneg(&mut bad, format!("{p}.planned_cost"), c.planned_cost);
            nonneg(&mut bad, format!("{p}.corrective_cost"), c.corrective_cost);
            nonneg(&mut bad, format!("{p}.power_kw"), c.power_kw);
            if !(c.mean_life_h.is_finite() && c.mean_life_h > 0.0) {
                bad.push(format!("{p}.mean_life_h = {}: must be > 0", c.mean_life_h));
            }
            if !(c.derate_throughput_loss.is_finite() && (0.0..=1.0).contains(&c.derate_throughput_loss)) {
                bad.push(format!("{p}.derate_throughput_loss = {}: must be in [0, 1]", c.derate_throughput_loss));
            }
            if !(c.life_exponent.is_finite() && c.life_exponent >= 0.0) {
                bad.push(format!("{p}.life_exponent = {}: must be >= 0", c.life_exponent));
            }
            for (j, d) in c.derate_levels.iter().enumerate() {
                if !(d.is_finite() && *d > 0.0 && *d < 1.0) {
                    bad.push(format!("{p}.derate_levels[{j}] = {d}: must be in (0, 1)"));
                }
            }
            for (j, u) in c.parts.iter().enumerate() {
                if !parts.contains(u.part.as_str()) {
                    bad.push(format!("{p}.parts[{j}].part = '{}': no such part in [[parts]]", u.part));
                }
            }
        }
        for (i, c) in self.crews.iter().enumerate() {
            if c.size == 0 {
                bad.push(format!("crews[{i}].size: must be at least 1"));
            }
            nonneg(&mut bad, format!("crews[{i}].cost_per_h"), c.cost_per_h);
            for (j, t) in c.busy_until.iter().enumerate() {
                if parse_when(t, 0).is_none() {
                    bad.push(format!("crews[{i}].busy_until[{j}] = '{t}': not an RFC 3339 time (or +N h/d/m from now)"));
                }
            }
            for (j, s) in c.shifts.iter().enumerate() {
                for (name, v) in [("start_hour", s.start_hour), ("end_hour", s.end_hour)] {
                    if !(v.is_finite() && (0.0..=24.0).contains(&v)) {
                        bad.push(format!("crews[{i}].shifts[{j}].{name} = {v}: must be in [0, 24]"));
                    }
                }
            }
        }
        for (i, p) in self.parts.iter().enumerate() {
            nonneg(&mut bad, format!("parts[{i}].lead_time_h"), p.lead_time_h);
            nonneg(&mut bad, format!("parts[{i}].unit_cost"), p.unit_cost);
            nonneg(&mut bad, format!("parts[{i}].order_cost"), p.order_cost);
        }
        for (i, o) in self.orders.iter().enumerate() {
            if !lines.contains(o.line.as_str()) {
                bad.push(format!("orders[{i}].line = '{}': no such line in [[lines]]", o.line));
            }
            nonneg(&mut bad, format!("orders[{i}].quantity"), o.quantity);
            if parse_when(&o.due, 0).is_none() {
                bad.push(format!("orders[{i}].due = '{}': not an RFC 3339 time (or +N h/d/m from now)", o.due));
            }
        }
        for (i, w) in self.windows.iter().enumerate() {
            if !lines.contains(w.line.as_str()) {
                bad.push(format!("windows[{i}].line = '{}': no such line in [[lines]]", w.line));
            }
            match (parse_when(&w.start, 0), parse_when(&w.end, 0)) {
                (Some(a), Some(b)) if a < b => {}
                (Some(_), Some(_)) => bad.push(format!("windows[{i}]: end '{}' is not after start '{}'", w.end, w.start)),
                _ => bad.push(format!(
                    "windows[{i}]: start/end '{}'/'{}' are not RFC 3339 times (or +N h/d/m from now)",
                    w.start, w.end
                )),
            }
        }
        bad.extend(crate::policy::Policy::new(self.guardrails.clone()).problems());
        if bad.is_empty() { Ok(()) } else { Err(PlanError::Invalid(bad)) }
    }

    /// Rewrites relative times (`+72h`) as absolute RFC 3339 times from `now_ns`.
    pub fn resolve_relative(&mut self, now_ns: i64) {
        let fix = |s: &mut String| {
            if s.trim_start().starts_with('+')
                && let Some(t) = parse_when(s, now_ns)
            {
                *s = time::format_rfc3339(t);
            }
        };
        for o in &mut self.orders {
            fix(&mut o.due);
        }
        for w in &mut self.windows {
            fix(&mut w.start);
            fix(&mut w.end);
        }
    }

    /// The same business on a clock running `factor` times faster (the demo's accelerated wear): durations and
    /// relative times divided by `factor`, per-hour costs multiplied by it (so a repair still costs what it
    /// costs), and crews on duty around the clock (daily shift patterns do not compress). Absolute times are
    /// kept.
    pub fn accelerate(&mut self, factor: f64) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let rel = |s: &mut String| {
            if let Some(h) = parse_when(s, 0).filter(|_| s.trim_start().starts_with('+')) {
                *s = format!("+{}h", h as f64 / NS_PER_H / factor);
            }
        };
        self.costs.late_penalty_per_h *= factor;
        for l in &mut self.lines {
            l.downtime_cost_per_h *= factor;
            l.rate_per_h *= factor;
            for r in &mut l.reroute {
                r.cost_per_h *= factor;
            }
        }
        for c in &mut self.classes {
            c.planned_h /= factor;
            c.corrective_h /= factor;
            c.mean_life_h /= factor;
            c.power_kw *= factor;
        }
        for c in &mut self.crews {
            c.cost_per_h *= factor;
            c.shifts = vec![Shift {
                start_hour: 0.0,
                end_hour: 24.0,
            }];
        }
        for p in &mut self.parts {
            p.lead_time_h /= factor;
        }
        for o in &mut self.orders {
            rel(&mut o.due);
        }
        for w in &mut self.windows {
            rel(&mut w.start);
            rel(&mut w.end);
        }
    }

    pub fn line(&self, id: &str) -> Option<&LineBusiness> {
        self.lines.iter().find(|l| l.id == id)
    }

    pub fn class(&self, id: &str) -> Option<&ClassBusiness> {
        self.classes.iter().find(|c| c.class == id)
    }

    pub fn part(&self, id: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.id == id)
    }

    /// Planned downtime windows per line, parsed (validated documents only).
    #[must_use]
    pub fn windows_by_line(&self) -> BTreeMap<&str, Vec<Span>> {
        let mut m: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
        for w in &self.windows {
            if let (Some(a), Some(b)) = (time::parse_rfc3339(&w.start), time::parse_rfc3339(&w.end)) {
                m.entry(w.line.as_str()).or_default().push(Span { start_ns: a, end_ns: b });
            }
        }
        m
    }
}

impl Crew {
    /// Technician-hours this crew works within `[start_ns, end_ns)` (technicians busy on a job count from its end).
    #[must_use]
    pub fn hours_between(&self, start_ns: i64, end_ns: i64) -> f64 {
        let busy: Vec<i64> = self.busy_until.iter().filter_map(|t| parse_when(t, 0)).take(self.size as usize).collect();
        let free = f64::from(self.size) - busy.len() as f64;
        let mut h = shift_hours(&self.shifts, start_ns, end_ns) * free;
        for until in busy {
            h += shift_hours(&self.shifts, start_ns.max(until), end_ns);
        }
        h
    }

    /// Whether the crew is on shift at `ts_ns`.
    #[must_use]
    pub fn on_shift(&self, ts_ns: i64) -> bool {
        let h = hour_of_day(ts_ns);
        self.shifts.iter().any(|s| in_shift(*s, h))
    }
}

fn hour_of_day(ts_ns: i64) -> f64 {
    (ts_ns.rem_euclid(24 * 3_600 * 1_000_000_000)) as f64 / NS_PER_H
}

fn in_shift(s: Shift, h: f64) -> bool {
    if s.start_hour <= s.end_hour {
        h >= s.start_hour && h < s.end_hour
    } else {
        h >= s.start_hour || h < s.end_hour
    }
}

/// Hours of `[start_ns, end_ns)` covered by the daily shifts (overlapping shifts count once).
fn shift_hours(shifts: &[Shift], start_ns: i64, end_ns: i64) -> f64 {
    if end_ns <= start_ns || shifts.is_empty() {
        return 0.0;
    }
    // Integrate on a 6-minute grid: exact for shift edges on tenths of an hour, cheap for slot-sized spans.
    let step = 360 * 1_000_000_000_i64;
    let mut t = start_ns;
    let mut total = 0.0;
    while t < end_ns {
        let next = (t - t.rem_euclid(step) + step).min(end_ns);
        let mid = t + (next - t) / 2;
        let h = hour_of_day(mid);
        if shifts.iter().any(|s| in_shift(*s, h)) {
            total += (next - t) as f64 / NS_PER_H;
        }
        t = next;
    }
    total
}

/// Hours of `[start_ns, end_ns)` covered by any of `spans`.
#[must_use]
pub fn covered_hours(spans: &[Span], start_ns: i64, end_ns: i64) -> f64 {
    let mut cut: Vec<(i64, i64)> = spans
        .iter()
        .map(|s| (s.start_ns.max(start_ns), s.end_ns.min(end_ns)))
        .filter(|(a, b)| a < b)
        .collect();
    cut.sort_unstable();
    let mut total = 0i64;
    let mut cur: Option<(i64, i64)> = None;
    for (a, b) in cut {
        cur = match cur {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((a, b)) = cur {
        total += b - a;
    }
    total as f64 / NS_PER_H
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[costs]
late_order_penalty = 4000

[[lines]]
id = "L1"
downtime_cost_per_h = 1500
rate_per_h = 120
reroute = [{ to = "L2", share = 0.5, cost_per_h = 300 }]

[[lines]]
id = "L2"
downtime_cost_per_h = 1000
rate_per_h = 80

[[classes]]
class = "induction_motor"
skill = "electrical"
planned_h = 4
corrective_h = 16
planned_cost = 800
corrective_cost = 6000
parts = [{ part = "bearing_6205" }]
mean_life_h = 5000

[[crews]]
id = "day"
skills = ["electrical", "mechanical"]
size = 2
shifts = [{ start_hour = 6, end_hour = 14 }, { start_hour = 14, end_hour = 22 }]
cost_per_h = 60

[[parts]]
id = "bearing_6205"
on_hand = 2
lead_time_h = 72
unit_cost = 120

[[orders]]
id = "PO-1"
line = "L1"
quantity = 5000
due = "2026-01-03T00:00:00Z"

[[windows]]
line = "L2"
start = "2026-01-03T00:00:00Z"
end = "2026-01-04T00:00:00Z"
"#;

    #[test]
    fn a_complete_file_parses() {
        let b = Business::parse_toml(EXAMPLE).unwrap();
        assert_eq!(b.costs.late_order_penalty, 4000.0);
        assert_eq!(b.costs.energy_price_per_kwh, 0.15);
        assert_eq!(b.class("induction_motor").unwrap().derate_levels, vec![0.1, 0.2]);
        assert_eq!(b.windows_by_line()["L2"].len(), 1);
    }

    #[test]
    fn every_bad_field_is_named() {
        let text = EXAMPLE
            .replace("part = \"bearing_6205\" }", "part = \"nope\" }")
            .replace("due = \"2026-01-03T00:00:00Z\"", "due = \"tomorrow\"")
            .replace("to = \"L2\"", "to = \"L9\"");
        let Err(PlanError::Invalid(v)) = Business::parse_toml(&text) else {
            panic!("must fail")
        };
        let all = v.join("\n");
        assert!(all.contains("classes[0].parts[0].part = 'nope'"), "{all}");
        assert!(all.contains("orders[0].due = 'tomorrow'"), "{all}");
        assert!(all.contains("lines[0].reroute[0].to = 'L9'"), "{all}");
        let Err(PlanError::Parse(m)) = Business::parse_toml("[[lines]]\nid = 3") else {
            panic!()
        };
        assert!(m.contains("line 2"), "{m}");
    }

    #[test]
    fn relative_times_resolve_and_a_business_can_run_on_an_accelerated_clock() {
        let text = EXAMPLE.replace("due = \"2026-01-03T00:00:00Z\"", "due = \"+2d\"");
        let mut rel = Business::parse_toml(&text).unwrap();
        rel.resolve_relative(time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap());
        assert_eq!(rel.orders[0].due, "2026-01-03T00:00:00Z");
        let mut fast = Business::parse_toml(&text).unwrap();
        fast.accelerate(2000.0);
        assert_eq!(fast.orders[0].due, "+0.024h");
        assert!((fast.classes[0].planned_h - 0.002).abs() < 1e-12);
        assert!((fast.lines[0].downtime_cost_per_h - 3_000_000.0).abs() < 1e-6);
        assert_eq!(
            fast.crews[0].shifts,
            vec![Shift {
                start_hour: 0.0,
                end_hour: 24.0
            }]
        );
        fast.validate().unwrap();
        assert!(parse_when("+90m", 0) == Some(5_400_000_000_000) && parse_when("+3x", 0).is_none());
    }

    #[test]
    fn shift_hours_count_day_and_night_shifts() {
        let day0 = time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let h = |x: f64| day0 + (x * NS_PER_H) as i64;
        let crew = Crew {
            id: "c".into(),
            skills: vec![],
            size: 2,
            shifts: vec![Shift {
                start_hour: 22.0,
                end_hour: 6.0,
            }],
            cost_per_h: 0.0,
            busy_until: vec![],
        };
        assert!((crew.hours_between(h(0.0), h(24.0)) - 16.0).abs() < 1e-9);
        // One technician on a job until 03:00: 3 hours of the night lost.
        let busy = Crew {
            busy_until: vec![time::format_rfc3339(h(3.0))],
            ..crew.clone()
        };
        assert!((busy.hours_between(h(0.0), h(24.0)) - 13.0).abs() < 1e-9);
        assert!((crew.hours_between(h(4.0), h(8.0)) - 4.0).abs() < 1e-9);
        assert!(crew.on_shift(h(23.0)) && !crew.on_shift(h(12.0)));
        let spans = [
            Span {
                start_ns: h(1.0),
                end_ns: h(3.0),
            },
            Span {
                start_ns: h(2.0),
                end_ns: h(5.0),
            },
        ];
        assert!((covered_hours(&spans, h(0.0), h(4.0)) - 3.0).abs() < 1e-9);
    }
}
