//! Lines from the plant file: map a [`doppel_model::Plant`] line's assets to stations.
//!
//! The plant model knows assets, their types and each producing type's ideal cycle
//! (`production.ideal_cycle_s`), but not the process flow. [`PlantLineOptions`] holds what it lacks, with
//! documented defaults; the rules are:
//!
//! 1. **Stations** are the line's assets whose type has `production` (in the example plant: CNC spindles,
//!    150 s, and belt conveyors, 40 s). Assets without it (motors, pumps, meters, climate sensors) are
//!    auxiliaries and not stations.
//! 2. **Order**: the line's asset order, with the line's `output` asset (its counter) last.
//! 3. **Parallel machines**: consecutive assets of a type listed in [`PlantLineOptions::parallel_types`]
//!    (default `cnc_spindle`) form one station with one machine each — the machining centres of a line
//!    work in parallel, as doppel-sim treats them (a line's rate scales with the share of its spindles
//!    running). The station is named after the common id prefix (`l1-cnc` for `l1-cnc-1..4`).
//! 4. **Cycle times**: a type with a `rated_speed_mps` parameter is a transfer conveyor: deterministic
//!    cycle `conveyor_pitch_m / rated_speed_mps` (one part per metre of belt at 0.5 m/s: 2 s; its 40 s
//!    `ideal_cycle_s` is the line's counter rate, not a processing time). Every other station: log-normal
//!    with mean `ideal_cycle_s × cycle_over_ideal` (default 1.05: minor stops and speed losses) and
//!    coefficient of variation `cycle_cv` (0.08); the ideal cycle for OEE is the plant's.
//! 5. **Losses** at processing (non-conveyor) stations: calendar-time failures (MTBF `mtbf_h`, 40 h, with
//!    log-normal repairs of mean `mttr_s`, 3600 s as doppel-sim's default MTTR, cv 0.8), conveyors with
//!    `conveyor_mtbf_h` (400 h) and 15-minute repairs; changeovers of `changeover_s` (300 s, doppel-sim's
//!    5-minute set-up stop) between products at processing stations; scrap `scrap_p` (2 %, doppel-sim's
//!    spindle scrap share) at processing stations.
//! 6. **Health** from the twins: [`PlantLineOptions::health`] by asset id (see [`Health::from_twin`]).
//! 7. **Buffers** of `buffer` (4) places in front of every station but the first; a saturated source
//!    with the line's products in equal shares, in campaigns of `campaign` (50) units.
//! 8. **Traceability** (when `trace_model`): each processing machine measures the signal named
//!    `process_signal` (`spindle_temp`) as a process variable — mean 8 K below the top of its normal
//!    envelope, sd 1.5 K, correlation time 1 h, alarm above the top of its warning envelope; the output
//!    station measures a `dimension` (deviation from nominal, µm: noise sd 4, spec ±15, +2 µm per K of
//!    the first processing station's temperature); the first station consumes one `blank` per unit from
//!    lots of `lot_size` (500).
//! 9. **Power**: [`PowerModel::simple`] with the asset's `rated_power_kw` parameter (spindles 15 kW in the
//!    example plant; 10 kW when absent, conveyors 1.5 kW) and an idle power of 30 % of it.

use std::collections::BTreeMap;

use doppel_model::Plant;
use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::config::{
    Arrivals, ComponentSupply, Consumption, Disposition, Effect, FailureClock, FailureModel, Health, LineConfig, Lot, Machine, ProcessVar, QualityCheck,
    SourceConfig, StationConfig,
};
use crate::dist::Dist;
use crate::energy::PowerModel;

/// What the plant file does not say (see the module docs for each rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlantLineOptions {
    pub parallel_types: Vec<String>,
    pub conveyor_pitch_m: f64,
    pub cycle_over_ideal: f64,
    pub cycle_cv: f64,
    pub mtbf_h: f64,
    pub mttr_s: f64,
    pub conveyor_mtbf_h: f64,
    pub changeover_s: f64,
    pub scrap_p: f64,
    pub buffer: Option<usize>,
    pub campaign: u32,
    /// Health by asset id.
    pub health: BTreeMap<String, Health>,
    pub trace_model: bool,
    pub process_signal: String,
    pub lot_size: u64,
    /// Number of lots of blanks on hand at time 0.
    pub lots: usize,
}

impl Default for PlantLineOptions {
    fn default() -> PlantLineOptions {
        PlantLineOptions {
            parallel_types: vec!["cnc_spindle".to_string()],
            conveyor_pitch_m: 1.0,
            cycle_over_ideal: 1.05,
            cycle_cv: 0.08,
            mtbf_h: 40.0,
            mttr_s: 3600.0,
            conveyor_mtbf_h: 400.0,
            changeover_s: 300.0,
            scrap_p: 0.02,
            buffer: Some(4),
            campaign: 50,
            health: BTreeMap::new(),
            trace_model: true,
            process_signal: "spindle_temp".to_string(),
            lot_size: 500,
            lots: 400,
        }
    }
}

fn common_prefix(ids: &[&str]) -> String {
    if ids.len() == 1 {
        return ids[0].to_string();
    }
    let first = ids[0];
    let mut n = first.len();
    for id in &ids[1..] {
        n = n.min(first.bytes().zip(id.bytes()).take_while(|(a, b)| a == b).count());
    }
    let p = first[..n].trim_end_matches(|c: char| c.is_ascii_digit()).trim_end_matches(['-', '_']);
    if p.is_empty() { first.to_string() } else { p.to_string() }
}

/// The line `line_id` of `plant` as a simulation model.
pub fn line_from_plant(plant: &Plant, line_id: &str, opts: &PlantLineOptions) -> Result<LineConfig, LineError> {
    let line = plant.line(line_id).ok_or_else(|| LineError::UnknownLine(line_id.to_string()))?;
    let mut ids: Vec<&str> = line
        .assets
        .iter()
        .map(String::as_str)
        .filter(|a| plant.asset(a).is_some_and(|x| x.production.is_some()))
        .collect();
    if let Some(out) = &line.output
        && let Some(p) = ids.iter().position(|a| a == out)
    {
        let o = ids.remove(p);
        ids.push(o);
    }
    if ids.is_empty() {
        return Err(LineError::NoStations(line_id.to_string()));
    }
    // group consecutive parallel-type assets
    let mut groups: Vec<Vec<&str>> = Vec::new();
    for id in ids {
        let ty = plant.asset(id).map(|a| a.type_id.as_str()).unwrap_or("");
        let parallel = opts.parallel_types.iter().any(|t| t == ty);
        match groups.last_mut() {
            Some(g) if parallel && plant.asset(g[0]).map(|a| a.type_id.as_str()) == Some(ty) => g.push(id),
            _ => groups.push(vec![id]),
        }
    }
    let products = if line.products.is_empty() {
        vec![format!("{line_id}-product")]
    } else {
        line.products.clone()
    };
    let np = products.len();
    let mut stations = Vec::new();
    let mut first_process: Option<(String, f64)> = None;
    for (gi, g) in groups.iter().enumerate() {
        let Some(a0) = plant.asset(g[0]) else { continue };
        let Some(prod) = &a0.production else { continue };
        let id = common_prefix(g);
        let conveyor = a0.param("rated_speed_mps").filter(|v| *v > 0.0);
        let (cycle, ideal) = match conveyor {
            Some(v) => {
                let c = opts.conveyor_pitch_m / v;
                (Dist::Deterministic { value: c }, c)
            }
            None => (
                Dist::LogNormal {
                    mean: prod.ideal_cycle_s * opts.cycle_over_ideal,
                    cv: opts.cycle_cv,
                },
                prod.ideal_cycle_s,
            ),
        };
        let mut s = StationConfig::new(&id, cycle, g.len());
        s.machines = g
            .iter()
            .map(|a| Machine {
                health: opts.health.get(*a).copied().unwrap_or_default(),
                ..Machine::new(a)
            })
            .collect();
        s.ideal_cycle_s = Some(ideal);
        s.buffer = if gi == 0 { Some(0) } else { opts.buffer };
        let rated_kw = a0.param("rated_power_kw").unwrap_or(if conveyor.is_some() { 1.5 } else { 10.0 });
        s.power = Some(PowerModel::simple(rated_kw, 0.3 * rated_kw));
        if conveyor.is_some() {
            s.failures = Some(FailureModel {
                clock: FailureClock::Calendar,
                mean_between: opts.conveyor_mtbf_h * 3600.0,
                repair: Dist::LogNormal { mean: 900.0, cv: 0.5 },
            });
        } else {
            s.failures = Some(FailureModel {
                clock: FailureClock::Calendar,
                mean_between: opts.mtbf_h * 3600.0,
                repair: Dist::LogNormal { mean: opts.mttr_s, cv: 0.8 },
            });
            if np > 1 && opts.changeover_s > 0.0 {
                s.setup = Some(
                    (0..np)
                        .map(|i| (0..np).map(|j| if i == j { 0.0 } else { opts.changeover_s }).collect())
                        .collect(),
                );
            }
            s.scrap_p = opts.scrap_p;
            if opts.trace_model
                && let Some(sig) = a0.signal(&opts.process_signal)
                && let Some(env) = &sig.envelopes.default
                && env.normal.high.is_finite()
            {
                s.process_vars.push(ProcessVar {
                    name: opts.process_signal.clone(),
                    mean: env.normal.high - 8.0,
                    sd: 1.5,
                    tau_s: 3600.0,
                    drifts: Vec::new(),
                    alarm_above: env.warning.high.is_finite().then_some(env.warning.high),
                    alarm_below: None,
                });
                if first_process.is_none() {
                    first_process = Some((id.clone(), env.normal.high - 8.0));
                }
            }
        }
        stations.push(s);
    }
    let first = stations[0].id.clone();
    let last = stations[stations.len() - 1].id.clone();
    let mut components = Vec::new();
    let mut quality = Vec::new();
    if opts.trace_model {
        stations[0].consumes = vec![Consumption {
            component: "blank".into(),
            per_unit: 1,
        }];
        components.push(ComponentSupply {
            component: "blank".into(),
            lots: (0..opts.lots)
                .map(|k| Lot {
                    id: format!("{line_id}-blank-{:05}", k + 1),
                    quantity: opts.lot_size,
                    arrival_s: 0.0,
                })
                .collect(),
        });
        if let Some((st, _)) = &first_process {
            quality.push(QualityCheck {
                name: "dimension".into(),
                at: last.clone(),
                nominal: 0.0,
                noise_sd: 4.0,
                lower: -15.0,
                upper: 15.0,
                effects: vec![Effect {
                    station: st.clone(),
                    var: opts.process_signal.clone(),
                    coef: 2.0,
                }],
                on_fail: Disposition::Scrap,
            });
        }
    }
    let mix: BTreeMap<String, f64> = products.iter().map(|p| (p.clone(), 1.0)).collect();
    let cfg = LineConfig {
        id: line_id.to_string(),
        products,
        stations,
        sources: vec![SourceConfig {
            id: format!("{line_id}-in"),
            to: first,
            arrivals: Arrivals::Saturated,
            mix,
            batch_size: opts.campaign.max(1),
        }],
        calendar: None,
        components,
        quality,
        reference_station: None,
        planned_cycle_s: None,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Every line of `plant` that has production stations.
pub fn lines_from_plant(plant: &Plant, opts: &PlantLineOptions) -> Vec<LineConfig> {
    plant.lines().filter_map(|(_, _, l)| line_from_plant(plant, &l.id, opts).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn example() -> Plant {
        Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap()
    }

    #[test]
    fn example_lines_map_to_stations() {
        let p = example();
        let l1 = line_from_plant(&p, "l1", &PlantLineOptions::default()).unwrap();
        let ids: Vec<&str> = l1.stations.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["l1-cnc", "l1-conv-1", "l1-conv-2", "l1-conv-3"]);
        assert_eq!(l1.stations[0].machines.len(), 4);
        assert_eq!(l1.stations[0].ideal_cycle_s, Some(150.0));
        assert_eq!(l1.stations[1].cycle, Dist::Deterministic { value: 2.0 });
        assert_eq!(l1.products, vec!["shaft-a".to_string(), "shaft-b".to_string()]);
        assert_eq!(l1.quality[0].at, "l1-conv-3");
        // l3: the output conveyor moves to the end, after the finishing spindle
        let l3 = line_from_plant(&p, "l3", &PlantLineOptions::default()).unwrap();
        let ids: Vec<&str> = l3.stations.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["l3-conv-1", "l3-conv-2", "l3-conv-3", "l3-cnc-1", "l3-conv-4"]);
        assert_eq!(l3.stations[3].process_vars[0].alarm_above, Some(60.0));
        assert_eq!(lines_from_plant(&p, &PlantLineOptions::default()).len(), 3);
        assert_eq!(line_from_plant(&p, "u1", &PlantLineOptions::default()), Err(LineError::NoStations("u1".into())));
        assert_eq!(
            line_from_plant(&p, "zz", &PlantLineOptions::default()),
            Err(LineError::UnknownLine("zz".into()))
        );
        assert_eq!(common_prefix(&["a-1", "a-2"]), "a");
        assert_eq!(common_prefix(&["x"]), "x");
    }
}
