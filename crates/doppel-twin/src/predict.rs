//! Predictive twins: per asset, a trajectory of step means of the inputs the plant file names
//! (`[asset_types.X.predict]`), scored online by the models of its asset type — remaining useful life with a
//! 90 % interval, failure probability within the horizon, health index and multivariate anomaly score — and the
//! same step building turned into training trajectories from history.
//!
//! * **Steps.** Time is cut into fixed steps of `step_s` seconds (data time). A step's row is the mean of each
//!   input and setting over its samples (the last value carried forward when a signal sent nothing in the step).
//!   Steps in which the asset was not running (mean of its `running_when` signal at or below the threshold)
//!   are left out: wear advances with running time, so trajectories, RUL and the horizon count **running
//!   time**. A step closes when the first sample of a later step arrives; samples older than the open step are
//!   ignored.
//! * **Lives.** A trajectory is one life of the asset: it starts at a renewing maintenance (repair, replace;
//!   [`doppel_model::MaintenanceRecord`]) or at the first data, and ends at a failure (training) or now
//!   (online). Online history is bounded at [`MAX_HISTORY`] steps (the first [`KEEP_HEAD`] — the asset's own
//!   healthy baseline — and the most recent are kept).
//! * **Training** ([`TrainingSetBuilder`], [`train_plant_models`]): run-to-failure lives train the RUL model of
//!   their asset type; steps more than the RUL cap before a failure, and all but the last cap's worth of a
//!   life that did not end in failure, are "healthy" rows for the anomaly detector.

use std::collections::{BTreeMap, HashMap};

use doppel_learn::LearnError;
use doppel_learn::anomaly::{AnomalyConfig, OnlineAnomaly, PcaDetector};
use doppel_learn::hybrid::{Prognosis, Prognostics, PrognosticsConfig};
use doppel_learn::series::Trajectory;
use doppel_model::{Asset, Plant};
use serde::{Deserialize, Serialize};

use crate::residuals::ResidualSample;

/// Most steps of online history kept per asset.
pub const MAX_HISTORY: usize = 20_000;
/// Steps at the start of a life kept when the history is trimmed.
pub const KEEP_HEAD: usize = 100;

/// Name of the plant's predictive models in the model registry.
pub const MODEL_NAME: &str = "predictive";

/// One closed, running step of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// End of the step (ns).
    pub end_ns: i64,
    /// Means of the settings, in the spec's order.
    pub settings: Vec<f64>,
    /// Means of the inputs, in the spec's order.
    pub values: Vec<f64>,
}

/// Builds step rows of one asset from its samples.
#[derive(Debug, Clone)]
pub struct StepAggregator {
    step_ns: i64,
    /// Signal indices: inputs, then settings, then the running signal (if any).
    columns: Vec<usize>,
    n_inputs: usize,
    n_settings: usize,
    running_above: Option<f64>,
    slot: Option<i64>,
    sum: Vec<f64>,
    count: Vec<u32>,
    last: Vec<Option<f64>>,
}

impl StepAggregator {
    /// For an asset with a `predict` spec; `None` without one (or when a named signal is missing, which the
    /// plant loader rules out).
    #[must_use]
    pub fn new(asset: &Asset) -> Option<StepAggregator> {
        let spec = asset.predict.as_ref()?;
        let mut columns = Vec::new();
        for n in spec.inputs.iter().chain(&spec.settings) {
            columns.push(asset.signal_index(n)?);
        }
        let running = asset.running.as_ref().and_then(|r| asset.signal_index(&r.signal).map(|i| (i, r.above)));
        if let Some((i, _)) = running {
            columns.push(i);
        }
        let n = columns.len();
        Some(StepAggregator {
            step_ns: ((spec.step_s * 1e9) as i64).max(1),
            columns,
            n_inputs: spec.inputs.len(),
            n_settings: spec.settings.len(),
            running_above: running.map(|(_, a)| a),
            slot: None,
            sum: vec![0.0; n],
            count: vec![0; n],
            last: vec![None; n],
        })
    }

    /// Step length (ns).
    #[must_use]
    pub fn step_ns(&self) -> i64 {
        self.step_ns
    }

    /// Closes the open step: its row when the asset ran and every column has a value.
    fn close(&mut self) -> Option<StepRow> {
        let slot = self.slot?;
        let mut means = Vec::with_capacity(self.columns.len());
        for k in 0..self.columns.len() {
            if self.count[k] > 0 {
                let m = self.sum[k] / f64::from(self.count[k]);
                self.last[k] = Some(m);
                means.push(Some(m));
            } else {
                means.push(self.last[k]);
            }
            self.sum[k] = 0.0;
            self.count[k] = 0;
        }
        self.slot = None;
        let means: Option<Vec<f64>> = means.into_iter().collect();
        let means = means?;
        if let Some(above) = self.running_above
            && means.last().is_none_or(|&r| r <= above)
        {
            return None;
        }
        Some(StepRow {
            end_ns: (slot + 1).saturating_mul(self.step_ns),
            values: means[..self.n_inputs].to_vec(),
            settings: means[self.n_inputs..self.n_inputs + self.n_settings].to_vec(),
        })
    }

    /// Adds a sample; returns the previous step's row when this sample opens a later step.
    pub fn push(&mut self, signal: usize, ts_ns: i64, value: f64) -> Option<StepRow> {
        if !value.is_finite() {
            return None;
        }
        let cols: Vec<usize> = self.columns.iter().enumerate().filter(|&(_, &c)| c == signal).map(|(k, _)| k).collect();
        if cols.is_empty() {
            return None;
        }
        let slot = ts_ns.div_euclid(self.step_ns);
        let mut closed = None;
        match self.slot {
            Some(s) if slot < s => return None,
            Some(s) if slot > s => closed = self.close(),
            _ => {}
        }
        self.slot = Some(slot);
        for k in cols {
            self.sum[k] += value;
            self.count[k] += 1;
        }
        closed
    }

    /// Closes the open step now (end of data, a failure or a maintenance at this time).
    pub fn flush(&mut self) -> Option<StepRow> {
        self.close()
    }
}

fn push_bounded(t: &mut Trajectory, row: StepRow) {
    if t.values.len() >= MAX_HISTORY {
        t.values.remove(KEEP_HEAD);
        t.settings.remove(KEEP_HEAD);
    }
    t.settings.push(row.settings);
    t.values.push(row.values);
}

fn new_life(id: String) -> Trajectory {
    Trajectory {
        id,
        settings: Vec::new(),
        values: Vec::new(),
        failed: false,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Training data

/// Turns samples, failures and maintenance of a plant's assets into training trajectories per asset type.
pub struct TrainingSetBuilder {
    assets: Vec<Option<(StepAggregator, Trajectory, u32)>>,
    ids: Vec<String>,
    types: Vec<String>,
    done: BTreeMap<String, Vec<Trajectory>>,
}

impl TrainingSetBuilder {
    /// For every asset of `plant` with a `predict` spec.
    #[must_use]
    pub fn new(plant: &Plant) -> TrainingSetBuilder {
        TrainingSetBuilder {
            assets: plant
                .assets
                .iter()
                .map(|a| StepAggregator::new(a).map(|g| (g, new_life(format!("{}#1", a.id)), 1)))
                .collect(),
            ids: plant.assets.iter().map(|a| a.id.clone()).collect(),
            types: plant.assets.iter().map(|a| a.type_id.clone()).collect(),
            done: BTreeMap::new(),
        }
    }

    /// A measured sample (asset and signal indices into the plant).
    pub fn sample(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64) {
        if let Some(Some((g, life, _))) = self.assets.get_mut(asset)
            && let Some(row) = g.push(signal, ts_ns, value)
        {
            push_bounded(life, row);
        }
    }

    fn end_life(&mut self, asset: usize, failed: bool) {
        let Some(Some((g, life, n))) = self.assets.get_mut(asset) else { return };
        if let Some(row) = g.flush() {
            push_bounded(life, row);
        }
        *n += 1;
        let mut ended = std::mem::replace(life, new_life(format!("{}#{n}", self.ids[asset])));
        if !ended.is_empty() {
            ended.failed = failed;
            self.done.entry(self.types[asset].clone()).or_default().push(ended);
        }
    }

    /// The asset failed at this time: its current life ends as run to failure.
    pub fn failure(&mut self, asset: usize) {
        self.end_life(asset, true);
    }

    /// Renewing maintenance: a life that did not end in failure ends (censored) and a new one starts.
    pub fn renewal(&mut self, asset: usize) {
        self.end_life(asset, false);
    }

    /// Ends every open life (censored) and returns the trajectories by asset type.
    #[must_use]
    pub fn finish(mut self) -> BTreeMap<String, Vec<Trajectory>> {
        for a in 0..self.assets.len() {
            self.end_life(a, false);
        }
        self.done
    }
}

// ---------------------------------------------------------------------------------------------------------
// Models

/// How the plant models are trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Cap of the piecewise-linear RUL target, in hours of running time.
    pub cap_h: f64,
    /// The RUL model (its `cap` is set from `cap_h` and the step).
    pub prognostics: PrognosticsConfig,
    /// The anomaly detector.
    pub anomaly: AnomalyConfig,
}

/// What a type's models were trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Lives seen.
    pub lives: usize,
    /// Of which run to failure (the RUL model's training units).
    pub failures: usize,
    /// Steps in all lives.
    pub steps: usize,
    /// Healthy rows the anomaly detector was fitted and calibrated on.
    pub healthy_rows: usize,
}

/// The models of one asset type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeModel {
    pub asset_type: String,
    /// Input signals, in model column order.
    pub inputs: Vec<String>,
    /// Setting signals, in model column order.
    pub settings: Vec<String>,
    /// Step length, seconds.
    pub step_s: f64,
    /// RUL cap, hours.
    pub cap_h: f64,
    pub training: TrainingSummary,
    /// `None` when there were too few failures to train a RUL model.
    pub prognostics: Option<Prognostics>,
    pub anomaly: PcaDetector,
}

/// The predictive models of a plant, one per asset type with a `predict` spec and enough history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlantModels {
    pub types: BTreeMap<String, TypeModel>,
}

/// Why a type got no (or only part of its) models.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainProblem {
    pub asset_type: String,
    pub reason: String,
}

/// Fewest run-to-failure lives for a RUL model.
pub const MIN_FAILURES: usize = 5;

/// Trains the models of every asset type in `lives` (from [`TrainingSetBuilder::finish`]).
#[must_use]
pub fn train_plant_models(plant: &Plant, lives: &BTreeMap<String, Vec<Trajectory>>, cfg: &TrainConfig) -> (PlantModels, Vec<TrainProblem>) {
    let mut types = BTreeMap::new();
    let mut problems = Vec::new();
    for (ty, runs) in lives {
        let Some(spec) = plant.asset_types.get(ty).and_then(|t| t.predict.as_ref()) else {
            continue;
        };
        let problem = |reason: String| TrainProblem {
            asset_type: ty.clone(),
            reason,
        };
        let cap_steps = (cfg.cap_h * 3600.0 / spec.step_s).max(1.0);
        let mut healthy = Vec::new();
        for r in runs {
            let keep = if r.failed {
                r.len().saturating_sub(cap_steps as usize)
            } else {
                r.len().saturating_sub(cap_steps as usize).min(r.len() / 2)
            };
            healthy.extend(r.values[..keep].iter().cloned());
        }
        let anomaly = match PcaDetector::fit(&healthy, &spec.inputs, &cfg.anomaly) {
            Ok(d) => d,
            Err(e) => {
                problems.push(problem(format!("no anomaly detector ({} healthy steps): {e}", healthy.len())));
                continue;
            }
        };
        let failed: Vec<Trajectory> = runs.iter().filter(|r| r.failed).cloned().collect();
        let prognostics = if failed.len() < MIN_FAILURES {
            problems.push(problem(format!(
                "no RUL model: {} run-to-failure lives, at least {MIN_FAILURES} needed",
                failed.len()
            )));
            None
        } else {
            let mut pc = cfg.prognostics.clone();
            pc.set_cap(cap_steps);
            match Prognostics::train(&failed, &pc) {
                Ok(m) => Some(m),
                Err(e) => {
                    problems.push(problem(format!("no RUL model: {e}")));
                    None
                }
            }
        };
        types.insert(
            ty.clone(),
            TypeModel {
                asset_type: ty.clone(),
                inputs: spec.inputs.clone(),
                settings: spec.settings.clone(),
                step_s: spec.step_s,
                cap_h: cfg.cap_h,
                training: TrainingSummary {
                    lives: runs.len(),
                    failures: failed.len(),
                    steps: runs.iter().map(Trajectory::len).sum(),
                    healthy_rows: healthy.len(),
                },
                prognostics,
                anomaly,
            },
        );
    }
    (PlantModels { types }, problems)
}

// ---------------------------------------------------------------------------------------------------------
// Online

/// The latest prediction of one asset, in the units of its output signals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AssetPrognosis {
    /// End of the step it was made at (ns).
    pub ts_ns: i64,
    /// Steps of running history in the current life.
    pub steps: usize,
    pub health_index: Option<f64>,
    pub anomaly_score: f64,
    pub anomaly_alarm: bool,
    /// Remaining useful life and its 90 % interval, hours of running time.
    pub rul_h: Option<f64>,
    pub rul_lower_h: Option<f64>,
    pub rul_upper_h: Option<f64>,
    /// Probability of failure within `horizon_h`, percent.
    pub failure_probability_pct: Option<f64>,
    pub horizon_h: f64,
}

struct AssetPredictor {
    agg: StepAggregator,
    life: Trajectory,
    lives: u32,
    anomaly: Option<OnlineAnomaly>,
    /// Output signal indices: health_index, anomaly_score, rul, rul_lower, rul_upper, failure_probability.
    outputs: [Option<usize>; 6],
    latest: Option<AssetPrognosis>,
    horizon_s: f64,
    step_s: f64,
    asset_type: String,
    id: String,
}

/// An asset's RUL distribution in hours of running time, as planners take it ([`PredictionEngine::rul_outlook`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RulOutlookHours {
    /// Quantiles of the conformal predictive distribution; values at `cap_h` are censored.
    pub quantiles_h: Vec<f64>,
    pub cap_h: f64,
    /// The model sees the failure coming (point prediction below its flag level).
    pub flagged: bool,
    /// How long before failure the model flagged its training lives (sorted; see
    /// `doppel_learn::rul::RulModel::warning_leads`).
    pub warning_leads_h: Vec<f64>,
}

/// Scores every predicted asset online.
pub struct PredictionEngine {
    assets: HashMap<usize, AssetPredictor>,
    models: Option<PlantModels>,
}

/// An error of the online scoring of one asset (it does not stop the others).
#[derive(Debug, Clone, PartialEq)]
pub struct PredictProblem {
    pub asset: String,
    pub reason: String,
}

impl PredictionEngine {
    /// For every asset of `plant` with a `predict` spec; `horizon_s` overrides the plant file's horizon.
    #[must_use]
    pub fn new(plant: &Plant, horizon_s: Option<f64>) -> PredictionEngine {
        let mut assets = HashMap::new();
        for (i, a) in plant.assets.iter().enumerate() {
            let (Some(agg), Some(spec)) = (StepAggregator::new(a), a.predict.as_ref()) else {
                continue;
            };
            let out = |n: &str| a.signal_index(n);
            assets.insert(
                i,
                AssetPredictor {
                    agg,
                    life: new_life(format!("{}#1", a.id)),
                    lives: 1,
                    anomaly: None,
                    outputs: [
                        out("health_index"),
                        out("anomaly_score"),
                        out("rul"),
                        out("rul_lower"),
                        out("rul_upper"),
                        out("failure_probability"),
                    ],
                    latest: None,
                    horizon_s: horizon_s.unwrap_or(spec.horizon_s),
                    step_s: spec.step_s,
                    asset_type: a.type_id.clone(),
                    id: a.id.clone(),
                },
            );
        }
        PredictionEngine { assets, models: None }
    }

    /// Sets the horizon of the failure probability (seconds of running time) for every asset.
    pub fn set_horizon(&mut self, horizon_s: f64) {
        for p in self.assets.values_mut() {
            p.horizon_s = horizon_s;
        }
    }

    /// Whether no asset is predicted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// Installs models (e.g. loaded from the registry). Types whose inputs differ from the plant file's are
    /// skipped and reported.
    pub fn set_models(&mut self, plant: &Plant, models: PlantModels) -> Vec<PredictProblem> {
        let mut problems = Vec::new();
        let mut ok = BTreeMap::new();
        for (ty, m) in models.types {
            match plant.asset_types.get(&ty).and_then(|t| t.predict.as_ref()) {
                Some(spec) if spec.inputs == m.inputs && spec.settings == m.settings && (spec.step_s - m.step_s).abs() < 1e-9 => {
                    ok.insert(ty, m);
                }
                _ => problems.push(PredictProblem {
                    asset: ty.clone(),
                    reason: "the model's inputs, settings or step differ from the plant file's predict table: retrain".into(),
                }),
            }
        }
        for p in self.assets.values_mut() {
            p.anomaly = ok.get(&p.asset_type).map(|m| OnlineAnomaly::new(m.anomaly.clone()));
        }
        self.models = Some(PlantModels { types: ok });
        problems
    }

    /// Whether models are installed for this asset's type.
    #[must_use]
    pub fn has_model(&self, asset: usize) -> bool {
        let Some(p) = self.assets.get(&asset) else { return false };
        self.models.as_ref().is_some_and(|m| m.types.contains_key(&p.asset_type))
    }

    /// Running steps in the asset's current life (None for an asset without predictions).
    #[must_use]
    pub fn life_steps(&self, asset: usize) -> Option<usize> {
        self.assets.get(&asset).map(|p| p.life.len())
    }

    /// The latest prediction of an asset.
    #[must_use]
    pub fn latest(&self, asset: usize) -> Option<AssetPrognosis> {
        self.assets.get(&asset).and_then(|p| p.latest)
    }

    /// The asset's RUL distribution now, in hours of running time: quantiles at the probabilities `probs`, the
    /// model's cap (quantiles at the cap are censored: the asset lives at least that long), whether the model
    /// flags the asset, and the model's warning leads. `None` without a model or a step in the current life.
    #[must_use]
    pub fn rul_outlook(&self, asset: usize, probs: &[f64]) -> Option<RulOutlookHours> {
        let p = self.assets.get(&asset)?;
        let model = self.models.as_ref()?.types.get(&p.asset_type)?.prognostics.as_ref()?;
        if p.life.is_empty() {
            return None;
        }
        let to_h = p.step_s / 3600.0;
        let o = model.rul_outlook(&p.life, probs).ok()?;
        Some(RulOutlookHours {
            quantiles_h: o.quantiles.into_iter().map(|v| v * to_h).collect(),
            cap_h: model.model.config.cap * to_h,
            flagged: o.flagged,
            warning_leads_h: model.model.warning_leads().iter().map(|v| v * to_h).collect(),
        })
    }

    /// A renewing maintenance: the asset starts a new life.
    pub fn renew(&mut self, asset: usize) {
        if let Some(p) = self.assets.get_mut(&asset) {
            let _ = p.agg.flush();
            p.lives += 1;
            p.life = new_life(format!("{}#{}", p.id, p.lives));
            if let Some(a) = &mut p.anomaly {
                a.reset();
            }
            p.latest = None;
        }
    }

    /// Feeds a committed sample; returns the prediction samples of a step it closed (to be stored as the
    /// asset's output signals) and a problem if scoring failed.
    pub fn observe(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64) -> (Vec<ResidualSample>, Option<PredictProblem>) {
        let Some(p) = self.assets.get_mut(&asset) else { return (Vec::new(), None) };
        let Some(row) = p.agg.push(signal, ts_ns, value) else {
            return (Vec::new(), None);
        };
        let end_ns = row.end_ns;
        let values = row.values.clone();
        push_bounded(&mut p.life, row);
        let Some(model) = self.models.as_ref().and_then(|m| m.types.get(&p.asset_type)) else {
            return (Vec::new(), None);
        };
        match score(p, model, &values, end_ns) {
            Ok(prog) => {
                p.latest = Some(prog);
                let vals = [
                    prog.health_index,
                    Some(prog.anomaly_score),
                    prog.rul_h,
                    prog.rul_lower_h,
                    prog.rul_upper_h,
                    prog.failure_probability_pct,
                ];
                let out = p
                    .outputs
                    .iter()
                    .zip(vals)
                    .filter_map(|(s, v)| {
                        Some(ResidualSample {
                            asset,
                            signal: (*s)?,
                            ts_ns: end_ns,
                            value: v?,
                        })
                    })
                    .collect();
                (out, None)
            }
            Err(e) => (
                Vec::new(),
                Some(PredictProblem {
                    asset: p.id.clone(),
                    reason: e.to_string(),
                }),
            ),
        }
    }
}

fn score(p: &mut AssetPredictor, model: &TypeModel, values: &[f64], end_ns: i64) -> Result<AssetPrognosis, LearnError> {
    let state = match &mut p.anomaly {
        Some(a) => Some(a.push(values)?),
        None => None,
    };
    let to_h = p.step_s / 3600.0;
    let prog: Option<Prognosis> = match &model.prognostics {
        Some(m) => Some(m.predict(&p.life, p.horizon_s / p.step_s)?),
        None => None,
    };
    Ok(AssetPrognosis {
        ts_ns: end_ns,
        steps: p.life.len(),
        health_index: prog.map(|g| g.health_index),
        anomaly_score: state.as_ref().map_or(0.0, |s| s.score),
        anomaly_alarm: state.as_ref().is_some_and(|s| s.alarm),
        rul_h: prog.map(|g| g.rul * to_h),
        rul_lower_h: prog.map(|g| g.lower * to_h),
        rul_upper_h: prog.map(|g| g.upper * to_h),
        failure_probability_pct: prog.map(|g| 100.0 * g.failure_probability),
        horizon_h: p.horizon_s / 3600.0,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation against ground truth

#[derive(Debug, Default)]
struct LifeTrack {
    onset: Option<i64>,
    predicted_at: Option<(i64, f64)>,
    anomaly_at: Option<i64>,
    last_alarm: bool,
}

/// How one failure was foreseen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureOutcome {
    pub asset: String,
    /// Failure mode (e.g. `bearing_wear`).
    pub mode: String,
    pub failure_ts_ns: i64,
    /// Whether P(failure within the horizon) reached the threshold before the failure, in the same life.
    pub predicted: bool,
    /// Time from that first prediction to the failure, hours.
    pub lead_h: Option<f64>,
    /// The prediction came earlier than the horizon before the failure (it claimed a failure within the horizon
    /// that did not happen within it).
    pub premature: bool,
    /// Time from the fault onset to the first anomaly alarm, hours (None: no alarm after the onset).
    pub anomaly_delay_h: Option<f64>,
    /// Time from the fault onset to the failure, hours (None: the onset was not seen).
    pub fault_duration_h: Option<f64>,
}

/// Per failure mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeSummary {
    pub failures: usize,
    pub predicted: usize,
    pub premature: usize,
    pub median_lead_h: Option<f64>,
    pub anomaly_detected: usize,
    pub median_anomaly_delay_h: Option<f64>,
    /// Median time from fault onset to failure, hours (for scale).
    pub median_fault_duration_h: Option<f64>,
}

/// The evaluation of online predictions against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationReport {
    pub threshold_pct: f64,
    pub failures: usize,
    pub predicted: usize,
    pub by_mode: BTreeMap<String, ModeSummary>,
    /// Asset-days (data time) of predicted assets with no fault developing.
    pub healthy_asset_days: f64,
    /// Anomaly alarms (rising edges) in those periods.
    pub false_anomaly_alarms: u64,
    pub false_anomaly_alarms_per_asset_day: f64,
    pub outcomes: Vec<FailureOutcome>,
}

/// Scores online predictions against what really happened (a simulator's ground truth): was each failure
/// predicted — P(failure within the horizon) at or above a threshold before it — and how early; how long after
/// the fault onset did the anomaly detector alarm; how many anomaly alarms came while nothing was wrong.
#[derive(Debug)]
pub struct Evaluation {
    threshold_pct: f64,
    open: BTreeMap<usize, LifeTrack>,
    outcomes: Vec<FailureOutcome>,
    healthy_alarms: u64,
    healthy_asset_s: f64,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

impl Evaluation {
    #[must_use]
    pub fn new(threshold_pct: f64) -> Evaluation {
        Evaluation {
            threshold_pct,
            open: BTreeMap::new(),
            outcomes: Vec::new(),
            healthy_alarms: 0,
            healthy_asset_s: 0.0,
        }
    }

    /// A fault started developing (truth).
    pub fn fault_onset(&mut self, asset: usize, ts_ns: i64) {
        self.open.entry(asset).or_default().onset.get_or_insert(ts_ns);
    }

    /// `dt_s` seconds of data time passed for a predicted asset; counted as healthy exposure when no fault is
    /// developing on it.
    pub fn exposure(&mut self, asset: usize, dt_s: f64) {
        if self.open.get(&asset).is_none_or(|t| t.onset.is_none()) {
            self.healthy_asset_s += dt_s;
        }
    }

    /// A fresh prediction of an asset (after each scored step).
    pub fn scored(&mut self, asset: usize, p: &AssetPrognosis) {
        let t = self.open.entry(asset).or_default();
        if p.failure_probability_pct.is_some_and(|x| x >= self.threshold_pct) && t.predicted_at.is_none() {
            t.predicted_at = Some((p.ts_ns, p.horizon_h));
        }
        if p.anomaly_alarm {
            if t.onset.is_some() {
                t.anomaly_at.get_or_insert(p.ts_ns);
            } else if !t.last_alarm {
                self.healthy_alarms += 1;
            }
        }
        t.last_alarm = p.anomaly_alarm;
    }

    /// The asset failed (truth).
    pub fn failure(&mut self, asset: usize, id: &str, mode: &str, ts_ns: i64) {
        let t = self.open.remove(&asset).unwrap_or_default();
        let hours = |from: i64| (ts_ns - from) as f64 / 3.6e12;
        self.outcomes.push(FailureOutcome {
            asset: id.to_string(),
            mode: mode.to_string(),
            failure_ts_ns: ts_ns,
            predicted: t.predicted_at.is_some(),
            lead_h: t.predicted_at.map(|(at, _)| hours(at)),
            premature: t.predicted_at.is_some_and(|(at, horizon_h)| hours(at) > horizon_h),
            anomaly_delay_h: match (t.anomaly_at, t.onset) {
                (Some(at), Some(on)) => Some((at - on) as f64 / 3.6e12),
                _ => None,
            },
            fault_duration_h: t.onset.map(hours),
        });
        // Until the repair the asset is failed, not healthy: keep it out of the healthy exposure.
        self.open.insert(
            asset,
            LifeTrack {
                onset: Some(ts_ns),
                ..Default::default()
            },
        );
    }

    /// A renewing maintenance: a new, healthy life starts.
    pub fn renewal(&mut self, asset: usize) {
        self.open.insert(asset, LifeTrack::default());
    }

    /// The figures so far.
    #[must_use]
    pub fn report(&self) -> EvaluationReport {
        let mut by_mode: BTreeMap<String, Vec<&FailureOutcome>> = BTreeMap::new();
        for f in &self.outcomes {
            by_mode.entry(f.mode.clone()).or_default().push(f);
        }
        let by_mode = by_mode
            .into_iter()
            .map(|(m, fs)| {
                let s = ModeSummary {
                    failures: fs.len(),
                    predicted: fs.iter().filter(|f| f.predicted).count(),
                    premature: fs.iter().filter(|f| f.premature).count(),
                    median_lead_h: median(fs.iter().filter_map(|f| f.lead_h).collect()),
                    anomaly_detected: fs.iter().filter(|f| f.anomaly_delay_h.is_some()).count(),
                    median_anomaly_delay_h: median(fs.iter().filter_map(|f| f.anomaly_delay_h).collect()),
                    median_fault_duration_h: median(fs.iter().filter_map(|f| f.fault_duration_h).collect()),
                };
                (m, s)
            })
            .collect();
        let days = self.healthy_asset_s / 86_400.0;
        EvaluationReport {
            threshold_pct: self.threshold_pct,
            failures: self.outcomes.len(),
            predicted: self.outcomes.iter().filter(|f| f.predicted).count(),
            by_mode,
            healthy_asset_days: days,
            false_anomaly_alarms: self.healthy_alarms,
            false_anomaly_alarms_per_asset_day: if days > 0.0 { self.healthy_alarms as f64 / days } else { 0.0 },
            outcomes: self.outcomes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANT: &str = r#"
enterprise = "Acme"

[asset_types.motor]
running_when = { signal = "speed", above = 10.0 }
predict = { inputs = ["vibration", "temp"], settings = ["load"], step_s = 10 }

[asset_types.motor.signals.speed]
unit = "rpm"
kind = "process"
rate_hz = 1

[asset_types.motor.signals.vibration]
unit = "mm/s"
kind = "process"
rate_hz = 1

[asset_types.motor.signals.temp]
unit = "degC"
kind = "process"
rate_hz = 1

[asset_types.motor.signals.load]
unit = "%"
kind = "process"
rate_hz = 1

[sites.s1]
name = "Site"

[sites.s1.areas.a1]
name = "Area"

[sites.s1.areas.a1.lines.l1]
name = "Line"
assets = [{ id = "m1", type = "motor" }]
"#;

    const S: i64 = 1_000_000_000;

    fn plant() -> Plant {
        Plant::parse(PLANT, "p.toml").unwrap()
    }

    /// Feeds one second of samples: speed, vibration, temp, load.
    fn second(g: &mut StepAggregator, a: &Asset, t: i64, speed: f64, vib: f64) -> Vec<StepRow> {
        let mut rows = Vec::new();
        for (name, v) in [("speed", speed), ("vibration", vib), ("temp", 50.0), ("load", 80.0)] {
            rows.extend(g.push(a.signal_index(name).unwrap(), t * S, v));
        }
        rows
    }

    #[test]
    fn steps_are_means_of_running_time_only() {
        let p = plant();
        let a = &p.assets[0];
        let mut g = StepAggregator::new(a).unwrap();
        let mut rows = Vec::new();
        // 0..10 s running with vibration 1..=10 (mean 5.5); 10..20 s stopped; 20..30 s running at 2.0.
        for t in 0..10 {
            rows.extend(second(&mut g, a, t, 1500.0, (t + 1) as f64));
        }
        for t in 10..20 {
            rows.extend(second(&mut g, a, t, 0.0, 0.0));
        }
        for t in 20..30 {
            rows.extend(second(&mut g, a, t, 1500.0, 2.0));
        }
        rows.extend(g.flush());
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].end_ns, 10 * S);
        assert!((rows[0].values[0] - 5.5).abs() < 1e-12);
        assert_eq!((rows[0].values[1], rows[0].settings[0]), (50.0, 80.0));
        assert_eq!((rows[1].end_ns, rows[1].values[0]), (30 * S, 2.0));
        // A sample older than the open step is ignored; unrelated signals are ignored.
        assert!(g.push(a.signal_index("vibration").unwrap(), 0, 1.0).is_none());
    }

    #[test]
    fn a_signal_silent_in_a_step_carries_its_last_mean() {
        let p = plant();
        let a = &p.assets[0];
        let mut g = StepAggregator::new(a).unwrap();
        for t in 0..10 {
            second(&mut g, a, t, 1500.0, 3.0);
        }
        // Next step: no vibration sample.
        let mut rows = Vec::new();
        for t in 10..20 {
            for (name, v) in [("speed", 1500.0), ("temp", 60.0), ("load", 80.0)] {
                rows.extend(g.push(a.signal_index(name).unwrap(), t * S, v));
            }
        }
        rows.extend(g.flush());
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].values[0], rows[1].values[1]), (3.0, 60.0));
    }

    #[test]
    fn lives_end_at_failures_and_renewals() {
        let p = plant();
        let a = &p.assets[0];
        let mut b = TrainingSetBuilder::new(&p);
        let feed = |b: &mut TrainingSetBuilder, from: i64, to: i64| {
            for t in from..to {
                for (name, v) in [("speed", 1500.0), ("vibration", 1.0), ("temp", 50.0), ("load", 80.0)] {
                    b.sample(0, a.signal_index(name).unwrap(), t * S, v);
                }
            }
        };
        feed(&mut b, 0, 100); // 10 steps
        b.failure(0);
        feed(&mut b, 200, 250); // 5 steps, then a preventive replacement
        b.renewal(0);
        feed(&mut b, 300, 330); // 3 steps, still running at the end
        let lives = b.finish();
        let runs = &lives["motor"];
        let shape: Vec<(String, usize, bool)> = runs.iter().map(|r| (r.id.clone(), r.len(), r.failed)).collect();
        assert_eq!(shape, vec![("m1#1".into(), 10, true), ("m1#2".into(), 5, false), ("m1#3".into(), 3, false)]);
        assert_eq!(runs[0].settings[0], vec![80.0]);
    }

    #[test]
    fn evaluation_counts_predictions_delays_and_false_alarms() {
        let h = 3_600 * S;
        let prog = |ts: i64, p: f64, alarm: bool| AssetPrognosis {
            ts_ns: ts,
            steps: 1,
            health_index: None,
            anomaly_score: if alarm { 2.0 } else { 0.1 },
            anomaly_alarm: alarm,
            rul_h: None,
            rul_lower_h: None,
            rul_upper_h: None,
            failure_probability_pct: Some(p),
            horizon_h: 1.0,
        };
        let mut e = Evaluation::new(50.0);
        e.exposure(0, 86_400.0);
        // One false alarm episode (two alarmed steps = one rising edge) while healthy.
        e.scored(0, &prog(h, 1.0, true));
        e.scored(0, &prog(2 * h, 1.0, true));
        e.scored(0, &prog(3 * h, 1.0, false));
        e.fault_onset(0, 4 * h);
        e.exposure(0, 3_600.0); // not healthy any more
        e.scored(0, &prog(5 * h, 10.0, true)); // anomaly 1 h after onset
        e.scored(0, &prog(6 * h, 60.0, false)); // predicted 2 h before the failure: premature for a 1 h horizon
        e.failure(0, "m1", "bearing_wear", 8 * h);
        e.renewal(0);
        e.failure(0, "m1", "bearing_wear", 9 * h); // not foreseen at all
        let r = e.report();
        assert_eq!((r.failures, r.predicted, r.false_anomaly_alarms), (2, 1, 1));
        assert!((r.healthy_asset_days - 1.0).abs() < 1e-12);
        let f = &r.outcomes[0];
        assert_eq!((f.predicted, f.lead_h, f.premature, f.anomaly_delay_h), (true, Some(2.0), true, Some(1.0)));
        assert_eq!(f.fault_duration_h, Some(4.0));
        let m = &r.by_mode["bearing_wear"];
        assert_eq!((m.failures, m.predicted, m.premature, m.anomaly_detected), (2, 1, 1, 1));
        assert_eq!(m.median_lead_h, Some(2.0));
    }

    #[test]
    fn history_keeps_the_head_and_the_tail() {
        let mut t = new_life("x".into());
        for k in 0..(MAX_HISTORY + 5) {
            push_bounded(
                &mut t,
                StepRow {
                    end_ns: k as i64,
                    settings: vec![],
                    values: vec![k as f64],
                },
            );
        }
        assert_eq!(t.len(), MAX_HISTORY);
        assert_eq!(t.values[KEEP_HEAD - 1][0], (KEEP_HEAD - 1) as f64);
        assert_eq!(t.values[KEEP_HEAD][0], (KEEP_HEAD + 5) as f64);
        assert_eq!(t.values[MAX_HISTORY - 1][0], (MAX_HISTORY + 4) as f64);
    }
}
