//! Factory-level scenarios: several lines fed by shared component supplies, simulated together.
//!
//! A [`FactoryConfig`] is a list of lines plus the component supplies they share. [`FactoryConfig::combined`]
//! merges them into one [`LineConfig`] network (a line's stations, sources, quality checks and own
//! components are prefixed `line/…`; shared components keep their name, so every line draws from the same
//! lots first in, first out), which the DES runs as usual. Results are split back per line: its sources'
//! output and lead times, its stations, and its own bottleneck by the active-period method over its
//! stations only (lines run in parallel, each has its own).
//!
//! Scenarios ([`FactoryChange`]): capacity expansion (add a line, or any line-level [`Change`] such as
//! more machines at a station), demand change ([`Change::Demand`] on a line's renewal source), supply
//! disruption (a lot arriving late). [`evaluate_factory`] runs them with common random numbers and reports
//! paired differences per line and for the factory, like [`crate::whatif`].
//!
//! All lines share one shift calendar (the DES has one); lines with different calendars are rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::bottleneck::active_period_method;
use crate::config::{ComponentSupply, LineConfig};
use crate::des::{SimOptions, Simulator};
use crate::results::RunResult;
use crate::stats::{Estimate, paired_difference};
use crate::whatif::{Change, WhatIfConfig, apply_unchecked, parallel};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactoryConfig {
    pub id: String,
    pub lines: Vec<LineConfig>,
    /// Components every line draws from (lines refer to them by name in `consumes`).
    #[serde(default)]
    pub shared: Vec<ComponentSupply>,
}

/// The per-line id of an element: `line/element`.
pub fn scoped(line: &str, id: &str) -> String {
    format!("{line}/{id}")
}

impl FactoryConfig {
    /// One network of all lines (see the module docs).
    pub fn combined(&self) -> Result<LineConfig, LineError> {
        if self.lines.is_empty() {
            return Err(LineError::invalid("lines", "at least one line"));
        }
        for (i, l) in self.lines.iter().enumerate() {
            if self.lines[..i].iter().any(|o| o.id == l.id) {
                return Err(LineError::invalid(&format!("lines.{}", l.id), "duplicate line id"));
            }
            if l.calendar != self.lines[0].calendar {
                return Err(LineError::invalid(
                    &format!("lines.{}.calendar", l.id),
                    "all lines of a factory share one calendar",
                ));
            }
        }
        let mut products: Vec<String> = Vec::new();
        for l in &self.lines {
            for p in &l.products {
                if !products.contains(p) {
                    products.push(p.clone());
                }
            }
        }
        let shared: Vec<&str> = self.shared.iter().map(|c| c.component.as_str()).collect();
        let comp = |line: &str, c: &str| if shared.contains(&c) { c.to_string() } else { scoped(line, c) };
        let mut stations = Vec::new();
        let mut sources = Vec::new();
        let mut components: Vec<ComponentSupply> = self.shared.clone();
        let mut quality = Vec::new();
        for l in &self.lines {
            let n = l.stations.len();
            let idx: Vec<usize> = l.products.iter().map(|p| products.iter().position(|x| x == p).unwrap_or(0)).collect();
            for (i, s) in l.stations.iter().enumerate() {
                let mut s = s.clone();
                s.id = scoped(&l.id, &s.id);
                if s.routes.is_empty() {
                    s.routes = vec![crate::config::Route {
                        to: (i + 1 < n).then(|| l.stations[i + 1].id.clone()),
                        p: 1.0,
                        transport_s: 0.0,
                    }];
                }
                for r in &mut s.routes {
                    r.to = r.to.as_ref().map(|t| scoped(&l.id, t));
                }
                s.rework_to = s.rework_to.as_ref().map(|t| scoped(&l.id, t));
                for c in &mut s.consumes {
                    c.component = comp(&l.id, &c.component);
                }
                if let Some(m) = &s.setup {
                    let mut big = vec![vec![0.0; products.len()]; products.len()];
                    for (a, row) in m.iter().enumerate() {
                        for (b, v) in row.iter().enumerate() {
                            big[idx[a]][idx[b]] = *v;
                        }
                    }
                    s.setup = Some(big);
                }
                stations.push(s);
            }
            for s in &l.sources {
                let mut s = s.clone();
                s.id = scoped(&l.id, &s.id);
                s.to = scoped(&l.id, &s.to);
                if s.mix.is_empty()
                    && let Some(p) = l.products.first()
                {
                    s.mix.insert(p.clone(), 1.0);
                }
                sources.push(s);
            }
            for c in &l.components {
                if !shared.contains(&c.component.as_str()) {
                    let mut c = c.clone();
                    c.component = scoped(&l.id, &c.component);
                    components.push(c);
                }
            }
            for q in &l.quality {
                let mut q = q.clone();
                q.name = scoped(&l.id, &q.name);
                q.at = scoped(&l.id, &q.at);
                for e in &mut q.effects {
                    e.station = scoped(&l.id, &e.station);
                }
                quality.push(q);
            }
        }
        let c = LineConfig {
            id: self.id.clone(),
            products,
            stations,
            sources,
            calendar: self.lines[0].calendar.clone(),
            components,
            quality,
            reference_station: None,
            planned_cycle_s: None,
        };
        c.validate()?;
        Ok(c)
    }
}

/// One line's share of a factory run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineSummary {
    pub line: String,
    pub good: u64,
    pub throughput_per_h: f64,
    pub lead_time_mean_s: f64,
    /// The line's bottleneck station (its own id, unprefixed) by the active-period method.
    pub bottleneck: Option<String>,
    /// Share of the line's machine time spent waiting for components.
    pub no_material_share: f64,
}

/// Splits a run of [`FactoryConfig::combined`] into lines.
pub fn summarise(factory: &FactoryConfig, run: &RunResult) -> Vec<LineSummary> {
    factory
        .lines
        .iter()
        .map(|l| {
            let pre = format!("{}/", l.id);
            let srcs: Vec<_> = run.sources.iter().filter(|s| s.id.starts_with(&pre)).collect();
            let good: u64 = srcs.iter().map(|s| s.good).sum();
            let lead = if good > 0 {
                srcs.iter().map(|s| s.lead_time_mean_s * s.good as f64).sum::<f64>() / good as f64
            } else {
                0.0
            };
            let st: Vec<usize> = (0..run.stations.len()).filter(|&i| run.stations[i].id.starts_with(&pre)).collect();
            let periods: Vec<Vec<(f64, f64)>> = st.iter().map(|&i| run.active_periods.get(i).cloned().unwrap_or_default()).collect();
            let ids: Vec<String> = st.iter().map(|&i| run.stations[i].id[pre.len()..].to_string()).collect();
            let b = active_period_method(&periods, run.warmup_s, run.horizon_s, run.scheduled_s, &ids);
            let (nm, tot) = st.iter().fold((0.0, 0.0), |(a, t), &i| {
                (a + run.stations[i].time.no_material, t + run.stations[i].time.total())
            });
            LineSummary {
                line: l.id.clone(),
                good,
                throughput_per_h: good as f64 / (run.period_s / 3600.0),
                lead_time_mean_s: lead,
                bottleneck: b.id,
                no_material_share: if tot > 0.0 { nm / tot } else { 0.0 },
            }
        })
        .collect()
}

/// A factory-level change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactoryChange {
    /// A line-level change (station ids unprefixed, as in the line).
    Line {
        line: String,
        change: Change,
    },
    /// Capacity expansion: a new line.
    AddLine {
        config: LineConfig,
    },
    RemoveLine {
        line: String,
    },
    /// Supply disruption: shared lot `lot` of `component` arrives `delay_s` later.
    LotDelay {
        component: String,
        lot: String,
        delay_s: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactoryScenario {
    pub name: String,
    pub changes: Vec<FactoryChange>,
}

/// Applies `changes` to a copy of `base`.
pub fn apply_factory(base: &FactoryConfig, changes: &[FactoryChange]) -> Result<FactoryConfig, LineError> {
    let mut f = base.clone();
    for c in changes {
        match c {
            FactoryChange::Line { line, change } => {
                let l = f.lines.iter_mut().find(|l| l.id == *line).ok_or_else(|| LineError::UnknownLine(line.clone()))?;
                *l = apply_unchecked(l, std::slice::from_ref(change), None)?.0;
            }
            FactoryChange::AddLine { config } => f.lines.push(config.clone()),
            FactoryChange::RemoveLine { line } => {
                let n = f.lines.len();
                f.lines.retain(|l| l.id != *line);
                if f.lines.len() == n {
                    return Err(LineError::UnknownLine(line.clone()));
                }
            }
            FactoryChange::LotDelay { component, lot, delay_s } => {
                let c = f
                    .shared
                    .iter_mut()
                    .find(|c| c.component == *component)
                    .ok_or_else(|| LineError::UnknownComponent(component.clone()))?;
                let l = c
                    .lots
                    .iter_mut()
                    .find(|l| l.id == *lot)
                    .ok_or_else(|| LineError::invalid("lot_delay.lot", &format!("unknown lot '{lot}'")))?;
                l.arrival_s += delay_s;
            }
        }
    }
    f.combined()?;
    Ok(f)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineComparison {
    pub line: String,
    pub baseline: Estimate,
    pub variant: Estimate,
    /// Paired, variant − baseline (lines missing in one of them count 0 there).
    pub difference: Estimate,
    pub significant: bool,
    pub no_material_share: Estimate,
    /// How often each station was the line's bottleneck in the variant.
    pub bottlenecks: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactoryScenarioReport {
    pub name: String,
    /// Good units per hour, factory total.
    pub total: LineComparison,
    pub lines: Vec<LineComparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactoryReport {
    pub replications: usize,
    pub baseline: Vec<(String, Estimate)>,
    pub variants: Vec<FactoryScenarioReport>,
}

impl FactoryScenarioReport {
    pub fn line(&self, id: &str) -> Option<&LineComparison> {
        self.lines.iter().find(|l| l.line == id)
    }
}

/// Replicates the baseline factory and each scenario (common random numbers) and compares line and factory
/// throughput.
pub fn evaluate_factory(base: &FactoryConfig, scenarios: &[FactoryScenario], cfg: &WhatIfConfig) -> Result<FactoryReport, LineError> {
    if cfg.replications < 2 {
        return Err(LineError::invalid("replications", "at least 2"));
    }
    let mut factories = vec![base.clone()];
    for s in scenarios {
        factories.push(apply_factory(base, &s.changes)?);
    }
    let sims = factories
        .iter()
        .map(|f| f.combined().and_then(|c| Simulator::new(&c)))
        .collect::<Result<Vec<_>, _>>()?;
    let reps = cfg.replications;
    let outs = parallel(factories.len() * reps, cfg.threads, |j| {
        let (fi, r) = (j / reps, j % reps);
        sims[fi]
            .run(&SimOptions::new(cfg.seed.wrapping_add(r as u64), cfg.horizon_s, cfg.warmup_s))
            .map(|run| summarise(&factories[fi], &run))
    });
    let outs = outs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let series = |fi: usize, line: Option<&str>, f: fn(&LineSummary) -> f64| -> Vec<f64> {
        (0..reps)
            .map(|r| outs[fi * reps + r].iter().filter(|s| line.is_none_or(|l| s.line == l)).map(f).sum())
            .collect()
    };
    let baseline = std::iter::once(("total".to_string(), Estimate::of(&series(0, None, |s| s.throughput_per_h), cfg.level)))
        .chain(
            base.lines
                .iter()
                .map(|l| (l.id.clone(), Estimate::of(&series(0, Some(&l.id), |s| s.throughput_per_h), cfg.level))),
        )
        .collect();
    let compare = |fi: usize, line: Option<&str>| {
        let (a, b) = (series(0, line, |s| s.throughput_per_h), series(fi, line, |s| s.throughput_per_h));
        let difference = paired_difference(&a, &b, cfg.level);
        let mut bottlenecks = BTreeMap::new();
        for r in 0..reps {
            for s in &outs[fi * reps + r] {
                if line.is_some_and(|l| l == s.line)
                    && let Some(b) = &s.bottleneck
                {
                    *bottlenecks.entry(b.clone()).or_insert(0) += 1;
                }
            }
        }
        LineComparison {
            line: line.unwrap_or("total").to_string(),
            baseline: Estimate::of(&a, cfg.level),
            variant: Estimate::of(&b, cfg.level),
            difference,
            significant: difference.excludes_zero(),
            no_material_share: Estimate::of(&series(fi, line, |s| s.no_material_share), cfg.level),
            bottlenecks,
        }
    };
    let variants = scenarios
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let fi = si + 1;
            let mut ids: Vec<String> = base.lines.iter().map(|l| l.id.clone()).collect();
            for l in &factories[fi].lines {
                if !ids.contains(&l.id) {
                    ids.push(l.id.clone());
                }
            }
            FactoryScenarioReport {
                name: s.name.clone(),
                total: compare(fi, None),
                lines: ids.iter().map(|l| compare(fi, Some(l))).collect(),
            }
        })
        .collect();
    Ok(FactoryReport {
        replications: reps,
        baseline,
        variants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Consumption, Lot, StationConfig};
    use crate::dist::Dist;

    fn two_lines() -> FactoryConfig {
        let mut a = LineConfig::serial(
            "a",
            vec![
                StationConfig::new("s1", Dist::Deterministic { value: 10.0 }, 1),
                StationConfig::new("s2", Dist::Deterministic { value: 20.0 }, 1).with_buffer(Some(2)),
            ],
        );
        a.stations[0].consumes = vec![Consumption {
            component: "bolt".into(),
            per_unit: 1,
        }];
        a.stations[1].setup = Some(vec![vec![0.0]]);
        let mut b = LineConfig::serial("b", vec![StationConfig::new("s1", Dist::Deterministic { value: 30.0 }, 1)]);
        b.products = vec!["q".into()];
        b.stations[0].consumes = vec![Consumption {
            component: "bolt".into(),
            per_unit: 1,
        }];
        FactoryConfig {
            id: "f".into(),
            lines: vec![a, b],
            shared: vec![ComponentSupply {
                component: "bolt".into(),
                lots: vec![Lot {
                    id: "B1".into(),
                    quantity: 100,
                    arrival_s: 0.0,
                }],
            }],
        }
    }

    #[test]
    fn lines_merge_into_one_network_with_shared_lots() {
        let f = two_lines();
        let c = f.combined().unwrap();
        let ids: Vec<&str> = c.stations.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["a/s1", "a/s2", "b/s1"]);
        assert_eq!(c.stations[0].routes[0].to.as_deref(), Some("a/s2"));
        assert_eq!(c.stations[1].routes[0].to, None);
        assert_eq!(c.products, vec!["p".to_string(), "q".to_string()]);
        assert_eq!(c.stations[1].setup.as_ref().unwrap().len(), 2);
        assert_eq!(c.components.len(), 1);
        let run = Simulator::new(&c).unwrap().run(&SimOptions::new(1, 10_000.0, 0.0)).unwrap();
        let s = summarise(&f, &run);
        // 100 bolts shared: both lines stop when they run out
        assert_eq!(s[0].good + s[1].good, 100);
        assert_eq!(run.kpis.good, 100);
        assert!(s[0].no_material_share > 0.4 && s[1].no_material_share > 0.8, "{s:?}");
        assert_eq!(s[0].bottleneck.as_deref(), Some("s2"));
        let mut bad = f.clone();
        bad.lines[1].id = "a".into();
        assert!(bad.combined().is_err());
        assert!(apply_factory(&f, &[FactoryChange::RemoveLine { line: "zz".into() }]).is_err());
        let g = apply_factory(
            &f,
            &[FactoryChange::LotDelay {
                component: "bolt".into(),
                lot: "B1".into(),
                delay_s: 50.0,
            }],
        )
        .unwrap();
        assert_eq!(g.shared[0].lots[0].arrival_s, 50.0);
    }
}
