//! The plant simulator as a source of degradation for `doppel bench policy`.
//!
//! The example plant's predicted assets (motors, pumps, spindles, conveyors) degrade as `doppel-sim` models them
//! (bearing fatigue and spalling, impeller erosion, insulation ageing; wear rates ∝ load³), at a time scale where
//! bearings fail within weeks (`--wear-acceleration`, default 6). The twin's models are trained first, exactly as
//! `doppel learn train --simulate-hours` does, on 360 simulated days of a separate seed run to failure (steps of one
//! hour of running time, RUL capped at 10 days); the benchmark fleet then runs other seeds, and each hour every
//! asset's readings (and the physics residuals computed from them) go through the twin's [`PredictionEngine`]. The
//! planner sees the engine's RUL quantiles, never the simulator's hidden damage.
//!
//! Derating sets the asset's load (`PlantSim::set_load`), so it really slows wear; a stopped asset runs at zero load.
//! Wasted life is measured on a clone of the simulator run forward at rated load until the asset fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use doppel_model::Plant;
use doppel_plan::RulDist;
use doppel_plan::business::{Business, Costs, LineBusiness};
use doppel_plan::fleet::{Fleet, FleetAsset};
use doppel_plan::instance::{SHIFTS, crew, parts};
use doppel_sim::{PlantSim, SimConfig, TruthKind};
use doppel_twin::predict::{PlantModels, PredictionEngine, TrainConfig, TrainingSetBuilder, train_plant_models};
use doppel_twin::residuals::ResidualEngine;

use crate::learn::{WithResiduals, feed_tick, plant_prognostics};

const SIM_STEP_S: f64 = 300.0;
const PREDICT_STEP_S: f64 = 3600.0;
const TRAIN_DAYS: f64 = 360.0;
const CAP_H: f64 = 240.0;
const QUANTILES: usize = 100;
/// Counterfactual run length for the wasted life of a planned repair (longer remaining lives count as this).
const WASTE_MAX_H: f64 = 60.0 * 24.0;

/// The plant with its trained models.
pub struct PlantSource {
    plant: Arc<Plant>,
    models: PlantModels,
    wear: f64,
    /// Mean operating hours between failures per asset type, from the training run.
    mean_life_h: BTreeMap<String, f64>,
    train_seconds: f64,
}

impl PlantSource {
    /// Loads the plant, sets one-hour prediction steps, simulates the training history and trains the models.
    pub fn prepare(path: Option<&PathBuf>, wear: f64) -> Result<PlantSource> {
        if !(wear.is_finite() && wear > 0.0) {
            bail!("--wear-acceleration must be > 0");
        }
        let started = std::time::Instant::now();
        let mut plant = (*crate::load_plant(path)?).clone();
        for a in &mut plant.assets {
            if let Some(spec) = &mut a.predict {
                spec.step_s = PREDICT_STEP_S;
            }
        }
        for t in plant.asset_types.values_mut() {
            if let Some(spec) = &mut t.predict {
                spec.step_s = PREDICT_STEP_S;
            }
        }
        let plant = Arc::new(plant);
        let cfg = sim_config(7_777, wear, Some(4.0 * 3600.0));
        let mut sim = PlantSim::new(&plant, cfg).context("cannot simulate this plant")?;
        let (residuals, _) = ResidualEngine::new(&plant);
        let mut sink = WithResiduals {
            residuals,
            inner: TrainingSetBuilder::new(&plant),
        };
        let steps = (TRAIN_DAYS * 86_400.0 / SIM_STEP_S) as usize;
        let bar = indicatif::ProgressBar::new(steps as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} training history [{bar:40}] {percent}% eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let index = signal_index(&plant, &mut sim);
        let mut failures: BTreeMap<String, usize> = BTreeMap::new();
        for k in 0..steps {
            let tick = sim.step();
            feed_tick(&plant, &tick, &index, &mut sink);
            for t in tick.truth.iter().filter(|t| t.kind == TruthKind::Failure) {
                if let Some(a) = plant.asset(&t.asset) {
                    *failures.entry(a.type_id.clone()).or_default() += 1;
                }
            }
            if k % 2000 == 0 {
                bar.set_position(k as u64);
            }
        }
        bar.finish_and_clear();
        let lives = sink.inner.finish();
        let tc = TrainConfig {
            cap_h: CAP_H,
            prognostics: plant_prognostics(),
            anomaly: doppel_learn::anomaly::AnomalyConfig::default(),
        };
        let (models, problems) = train_plant_models(&plant, &lives, &tc);
        for p in &problems {
            tracing::warn!(asset_type = %p.asset_type, reason = %p.reason, "no model for this type");
        }
        if models.types.is_empty() {
            bail!("the training history gave no model (no failures at --wear-acceleration {wear}?)");
        }
        let mut mean_life_h = BTreeMap::new();
        for ty in models.types.keys() {
            let n = plant.assets.iter().filter(|a| &a.type_id == ty).count() as f64;
            let f = failures.get(ty).copied().unwrap_or(0).max(1) as f64;
            mean_life_h.insert(ty.clone(), TRAIN_DAYS * 24.0 * n / f);
        }
        Ok(PlantSource {
            plant,
            models,
            wear,
            mean_life_h,
            train_seconds: started.elapsed().as_secs_f64(),
        })
    }

    pub fn label(&self) -> String {
        let types: Vec<String> = self.mean_life_h.iter().map(|(t, h)| format!("{t} MTBF {:.0} h", h)).collect();
        format!(
            "plant simulator ({} predicted assets of {} lines, wear acceleration {}; models trained on {TRAIN_DAYS} simulated days of another seed in {:.0} s; {})",
            self.assets().len(),
            self.plant.lines().count(),
            self.wear,
            self.train_seconds,
            types.join(", ")
        )
    }

    fn assets(&self) -> Vec<(usize, FleetAsset)> {
        self.plant
            .assets
            .iter()
            .enumerate()
            .filter(|(_, a)| self.models.types.contains_key(&a.type_id))
            .map(|(i, a)| {
                (
                    i,
                    FleetAsset {
                        id: a.id.clone(),
                        line: a.line.clone(),
                        class: a.type_id.clone(),
                    },
                )
            })
            .collect()
    }

    /// The business around the example plant: three crews, one or two spare parts of each kind, lines whose
    /// downtime costs what a machining or assembly line loses, utilities cheaper.
    pub fn business(&self) -> Business {
        let mut classes = doppel_plan::instance::classes();
        for c in &mut classes {
            if let Some(h) = self.mean_life_h.get(&c.class) {
                c.mean_life_h = *h;
            }
            // Four spindles work in parallel on a machining line: one down slows the line, it does not stop it.
            c.stops_line = c.class != "cnc_spindle";
        }
        classes.retain(|c| self.models.types.contains_key(&c.class));
        Business {
            costs: Costs::default(),
            lines: self
                .plant
                .lines()
                .map(|(_, _, l)| LineBusiness {
                    id: l.id.clone(),
                    downtime_cost_per_h: if l.id.starts_with('u') { 600.0 } else { 1_800.0 },
                    rate_per_h: 120.0,
                    reroute: Vec::new(),
                })
                .collect(),
            classes,
            crews: vec![
                crew("early", &["mechanical", "electrical"], 2, SHIFTS[0], 70.0),
                crew("late", &["mechanical"], 1, SHIFTS[1], 75.0),
                crew("night", &["electrical"], 1, SHIFTS[2], 95.0),
            ],
            parts: parts([2, 1, 1, 2]),
            orders: Vec::new(),
            windows: Vec::new(),
            guardrails: Vec::new(),
        }
    }

    /// A fleet on evaluation seed `seed`: the plant at random component ages, the trained models installed.
    pub fn fleet(&self, seed: u64) -> Result<PlantFleet> {
        let cfg = sim_config(seed, self.wear, None);
        let mut sim = PlantSim::new(&self.plant, cfg).context("cannot simulate this plant")?;
        let mut engine = PredictionEngine::new(&self.plant, None);
        engine.set_models(&self.plant, self.models.clone());
        let (residuals, _) = ResidualEngine::new(&self.plant);
        let index = signal_index(&self.plant, &mut sim);
        let assets = self.assets();
        let base: Vec<f64> = assets.iter().map(|(_, a)| sim.load(&a.id).unwrap_or(1.0)).collect();
        let n = assets.len();
        Ok(PlantFleet {
            sim,
            engine,
            residuals,
            index,
            plant_idx: assets.iter().map(|(i, _)| *i).collect(),
            assets: assets.into_iter().map(|(_, a)| a).collect(),
            applied: base.clone(),
            base,
            age_h: vec![0.0; n],
            cache: vec![None; n],
        })
    }
}

fn sim_config(seed: u64, wear: f64, mttr_s: Option<f64>) -> SimConfig {
    SimConfig {
        seed,
        step_s: SIM_STEP_S,
        wear_acceleration: wear,
        initial_wear: true,
        mttr_s,
        waveform_every_s: 0.0,
        ..SimConfig::default()
    }
}

/// Plant signal index of every reading of a tick (readings come in plant order, values in signal order).
fn signal_index(plant: &Plant, sim: &mut PlantSim) -> Vec<Vec<Option<usize>>> {
    let probe = sim.clone().step();
    probe
        .readings
        .iter()
        .map(|r| {
            let a = plant.asset(&r.asset);
            r.values.iter().map(|(n, _)| a.and_then(|a| a.signal_index(n))).collect()
        })
        .collect()
}

/// See the module documentation.
pub struct PlantFleet {
    sim: PlantSim,
    engine: PredictionEngine,
    residuals: ResidualEngine,
    index: Vec<Vec<Option<usize>>>,
    plant_idx: Vec<usize>,
    assets: Vec<FleetAsset>,
    base: Vec<f64>,
    applied: Vec<f64>,
    age_h: Vec<f64>,
    cache: Vec<Option<RulDist>>,
}

impl Fleet for PlantFleet {
    fn assets(&self) -> &[FleetAsset] {
        &self.assets
    }

    fn advance(&mut self, dt_h: f64, running: &[bool], derate: &[f64]) -> Vec<usize> {
        for a in 0..self.assets.len() {
            let load = if running[a] { self.base[a] * (1.0 - derate[a]) } else { 0.0 };
            if (load - self.applied[a]).abs() > 1e-12 && self.sim.set_load(&self.assets[a].id, load.clamp(0.0, 1.5)).is_ok() {
                self.applied[a] = load;
            }
        }
        let steps = (dt_h * 3600.0 / SIM_STEP_S).round().max(1.0) as usize;
        let mut failed = Vec::new();
        for _ in 0..steps {
            let tick = self.sim.step();
            for (ai, r) in tick.readings.iter().enumerate() {
                for ((_, v), si) in r.values.iter().zip(&self.index[ai]) {
                    let Some(si) = *si else { continue };
                    let _ = self.engine.observe(ai, si, tick.ts_ns, *v);
                    for res in self.residuals.observe(ai, si, tick.ts_ns, *v) {
                        let _ = self.engine.observe(res.asset, res.signal, res.ts_ns, res.value);
                    }
                }
            }
            for t in tick.truth.iter().filter(|t| t.kind == TruthKind::Failure) {
                if let Some(a) = self.assets.iter().position(|x| x.id == t.asset)
                    && !failed.contains(&a)
                {
                    failed.push(a);
                }
            }
        }
        for (a, &run) in running.iter().enumerate().take(self.assets.len()) {
            if run {
                self.age_h[a] += dt_h;
            }
            self.cache[a] = None;
        }
        failed
    }

    fn renew(&mut self, a: usize) {
        let _ = self.sim.repair(&self.assets[a].id);
        self.engine.renew(self.plant_idx[a]);
        self.age_h[a] = 0.0;
        self.cache[a] = None;
    }

    fn predict(&mut self, a: usize) -> RulDist {
        if let Some(d) = &self.cache[a] {
            return d.clone();
        }
        let probs: Vec<f64> = (0..QUANTILES).map(|k| (k as f64 + 0.5) / QUANTILES as f64).collect();
        let d = match self.engine.rul_outlook(self.plant_idx[a], &probs) {
            Some(o) => {
                let d = RulDist::from_samples(o.quantiles_h, Some(o.cap_h));
                if o.flagged { d } else { d.with_warning(o.warning_leads_h) }
            }
            // No step of this life yet: a renewed asset, nothing to foresee within the model's cap.
            None => RulDist::from_samples(std::iter::repeat_n(CAP_H, QUANTILES), Some(CAP_H)),
        };
        self.cache[a] = Some(d.clone());
        d
    }

    fn age_h(&self, a: usize) -> f64 {
        self.age_h[a]
    }

    fn true_remaining_h(&mut self, a: usize) -> f64 {
        let mut twin = self.sim.clone();
        let id = &self.assets[a].id;
        let _ = twin.set_load(id, self.base[a]);
        let steps = (WASTE_MAX_H * 3600.0 / SIM_STEP_S) as usize;
        for k in 1..=steps {
            let tick = twin.step();
            if tick.truth.iter().any(|t| t.kind == TruthKind::Failure && &t.asset == id) {
                return k as f64 * SIM_STEP_S / 3600.0;
            }
        }
        WASTE_MAX_H
    }
}
