//! `doppel learn`: remaining useful life on NASA C-MAPSS, and the plant's predictive models — trained from a
//! simulated fleet history or from stored history, registered in the model registry, and evaluated against
//! the simulator's ground truth.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use doppel_model::{MaintenanceRecord, Plant};
use doppel_sim::{PlantSim, SimConfig, TruthKind};
use doppel_store::{EventFilter, ModelRegistry, Store, StoreConfig};
use doppel_twin::predict::{Evaluation, MODEL_NAME, PlantModels, PredictionEngine, TrainConfig, TrainingSetBuilder, train_plant_models};
use doppel_twin::residuals::ResidualEngine;
use serde::Serialize;
use serde_json::json;

#[derive(Args)]
pub struct LearnArgs {
    #[command(subcommand)]
    command: LearnCommand,
}

#[derive(Subcommand)]
enum LearnCommand {
    /// Train a remaining-useful-life model on a NASA C-MAPSS subset (train_FDxxx.txt) and evaluate it on the
    /// official test split (test_FDxxx.txt + RUL_FDxxx.txt): RMSE, PHM08 score, 90 % interval coverage,
    /// training time.
    Rul(RulArgs),
    /// Train the plant's predictive models (RUL with interval, failure probability, health index, anomaly
    /// detector) per asset type, from a simulated fleet history or from stored history, and register them.
    Train(TrainArgs),
    /// Evaluate the registered models on a fresh simulation against its ground truth: failures predicted
    /// before they happen (lead time), anomaly detection delay after fault onset, false alarms per asset-day.
    Evaluate(EvaluateArgs),
    /// List the registered model versions with their metadata.
    Models(ModelsArgs),
}

#[derive(Args)]
struct RulArgs {
    /// Directory holding train_FDxxx.txt, test_FDxxx.txt and RUL_FDxxx.txt.
    #[arg(long)]
    cmapss: PathBuf,
    /// Subset name: FD001, FD002, FD003 or FD004.
    #[arg(long, default_value = "FD001")]
    subset: String,
    /// Cap of the piecewise-linear RUL target, cycles.
    #[arg(long, default_value_t = 125.0)]
    cap: f64,
    /// Print the full report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct HistoryArgs {
    /// Plant file (default: the bundled example plant).
    #[arg(long)]
    plant: Option<PathBuf>,
    /// Data directory of the twin server (its `store/` and `models/`).
    #[arg(long, default_value = "doppel-data")]
    data_dir: PathBuf,
    /// Simulated hours of plant history to generate (ignored with --from-store).
    #[arg(long, default_value_t = 48.0)]
    simulate_hours: f64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Degradation time scale of the simulation (the demo runs at 2000).
    #[arg(long, default_value_t = 2000.0)]
    wear_acceleration: f64,
    /// Simulated seconds per simulator step.
    #[arg(long, default_value_t = 1.0)]
    sim_step_s: f64,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    history: HistoryArgs,
    /// Train from the history stored in --data-dir (the server must not be running on it): lives end at
    /// `maintenance` events; a `repair` ends a run to failure, a `replace` a life cut short.
    #[arg(long)]
    from_store: bool,
    /// Cap of the RUL target, hours of running time (default: 2000 h divided by --wear-acceleration).
    #[arg(long)]
    cap_h: Option<f64>,
    /// Target false-alarm rate of the anomaly detector, per scored step.
    #[arg(long, default_value_t = 0.001)]
    false_alarm_rate: f64,
    /// Print the training report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvaluateArgs {
    #[command(flatten)]
    history: HistoryArgs,
    /// Failure probability (percent) at which a failure counts as predicted.
    #[arg(long, default_value_t = 50.0)]
    threshold_pct: f64,
    /// Horizon of the failure probability, hours of running time (default: the plant file's).
    #[arg(long)]
    horizon_h: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ModelsArgs {
    /// Data directory of the twin server.
    #[arg(long, default_value = "doppel-data")]
    data_dir: PathBuf,
}

pub fn run(a: LearnArgs) -> Result<()> {
    match a.command {
        LearnCommand::Rul(r) => rul(&r),
        LearnCommand::Train(t) => train(&t).map(|_| ()),
        LearnCommand::Evaluate(e) => evaluate(&e),
        LearnCommand::Models(m) => {
            let reg = ModelRegistry::open(m.data_dir.join("models"))?;
            for v in reg.list()? {
                println!("{} v{}  {}\n  {}", v.name, v.version, v.dir.display(), v.meta);
            }
            Ok(())
        }
    }
}

fn rul(a: &RulArgs) -> Result<()> {
    let mut cfg = doppel_learn::hybrid::PrognosticsConfig::default();
    cfg.set_cap(a.cap);
    let run = doppel_learn::run_cmapss(&a.cmapss, &a.subset, &cfg).with_context(|| format!("C-MAPSS {} in {}", a.subset, a.cmapss.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{}", run.summary());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Replaying history through the twin's step building

/// Everything the plant produced, fed in time order.
pub(crate) trait Sink {
    fn sample(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64);
    fn maintenance(&mut self, asset: usize, ts_ns: i64, record: &MaintenanceRecord);
}

impl Sink for TrainingSetBuilder {
    fn sample(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64) {
        TrainingSetBuilder::sample(self, asset, signal, ts_ns, value);
    }
    fn maintenance(&mut self, asset: usize, _ts_ns: i64, record: &MaintenanceRecord) {
        match record.kind {
            doppel_model::MaintenanceKind::Repair => self.failure(asset),
            doppel_model::MaintenanceKind::Replace => self.renewal(asset),
            doppel_model::MaintenanceKind::Service => {}
        }
    }
}

/// Physics residuals are computed by the server from measured signals; replays compute them the same way.
pub(crate) struct WithResiduals<S> {
    pub(crate) residuals: ResidualEngine,
    pub(crate) inner: S,
}

impl<S: Sink> WithResiduals<S> {
    fn sample(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64) {
        self.inner.sample(asset, signal, ts_ns, value);
        for r in self.residuals.observe(asset, signal, ts_ns, value) {
            self.inner.sample(r.asset, r.signal, r.ts_ns, r.value);
        }
    }
}

fn sim_config(h: &HistoryArgs) -> SimConfig {
    SimConfig {
        seed: h.seed,
        step_s: h.sim_step_s,
        wear_acceleration: h.wear_acceleration,
        initial_wear: h.wear_acceleration > 1.0,
        waveform_every_s: 0.0,
        ..SimConfig::default()
    }
}

/// Runs the simulator for `--simulate-hours`, feeding `on_tick` each tick's samples (by index) and truth.
fn simulate(plant: &Arc<Plant>, h: &HistoryArgs, mut on_tick: impl FnMut(&doppel_sim::Tick, &[Vec<Option<usize>>])) -> Result<u64> {
    if !(h.simulate_hours > 0.0 && h.simulate_hours.is_finite()) {
        bail!("--simulate-hours must be positive");
    }
    let cfg = sim_config(h);
    let step_s = cfg.step_s;
    let mut sim = PlantSim::new(plant, cfg).context("cannot simulate this plant")?;
    let steps = (h.simulate_hours * 3600.0 / step_s).ceil() as u64;
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} simulating [{bar:40}] {percent}%  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut index: Vec<Vec<Option<usize>>> = Vec::new();
    for k in 0..steps {
        let tick = sim.step();
        if index.is_empty() {
            index = tick
                .readings
                .iter()
                .map(|r| {
                    let a = plant.asset(&r.asset);
                    r.values.iter().map(|(n, _)| a.and_then(|a| a.signal_index(n))).collect()
                })
                .collect();
        }
        on_tick(&tick, &index);
        if k % 1000 == 0 {
            bar.set_position(k);
        }
    }
    bar.finish_and_clear();
    Ok(steps)
}

pub(crate) fn feed_tick<S: Sink>(plant: &Plant, tick: &doppel_sim::Tick, index: &[Vec<Option<usize>>], sink: &mut WithResiduals<S>) {
    for (ai, r) in tick.readings.iter().enumerate() {
        for ((_, v), si) in r.values.iter().zip(&index[ai]) {
            if let Some(si) = si {
                sink.sample(ai, *si, tick.ts_ns, *v);
            }
        }
    }
    for t in tick.truth.iter().filter(|t| t.kind == TruthKind::Repaired) {
        if let Some(ai) = plant.asset_position(&t.asset) {
            let rec = MaintenanceRecord {
                kind: doppel_model::MaintenanceKind::Repair,
                component: t.component.clone(),
                work_order: None,
                note: Some(t.detail.clone()),
            };
            sink.inner.maintenance(ai, t.ts_ns, &rec);
        }
    }
}

/// Replays the history stored in a data directory (samples of every predicted asset's inputs, settings and
/// running signal, and maintenance events), asset by asset in time order. Residual inputs are read as the
/// server stored them — what the online engine sees — not recomputed.
fn replay_store(plant: &Arc<Plant>, data_dir: &std::path::Path, sink: &mut TrainingSetBuilder) -> Result<u64> {
    let dir = data_dir.join("store");
    let store = Store::open(StoreConfig::new(&dir)).with_context(|| format!("cannot open the store in {} (is a server running on it?)", dir.display()))?;
    let mut fed = 0u64;
    for (ai, a) in plant.assets.iter().enumerate() {
        let Some(spec) = &a.predict else { continue };
        let mut rows: Vec<(i64, u8, usize, f64)> = Vec::new();
        for (si, s) in a.signals.iter().enumerate() {
            let needed = spec.inputs.contains(&s.name) || spec.settings.contains(&s.name) || a.running.as_ref().is_some_and(|r| r.signal == s.name);
            if !needed {
                continue;
            }
            let Some(id) = store.series_id(&Plant::series_key(&a.id, &s.name)) else {
                continue;
            };
            for (ts, v) in store.query_raw(id, i64::MIN, i64::MAX)? {
                rows.push((ts, 1, si, v));
            }
        }
        let events = store.query_events(&EventFilter {
            start: i64::MIN,
            end: i64::MAX,
            kinds: Some(vec![doppel_ingest::pipeline::MAINTENANCE_EVENT.to_string()]),
            subject: Some(a.id.clone()),
            limit: 0,
            latest_first: false,
        })?;
        let mut records = Vec::new();
        for e in events {
            match serde_json::from_str::<MaintenanceRecord>(&e.payload) {
                Ok(r) => {
                    rows.push((e.ts, 0, records.len(), 0.0));
                    records.push(r);
                }
                Err(err) => tracing::warn!(asset = %a.id, error = %err, "unreadable maintenance event skipped"),
            }
        }
        rows.sort_by_key(|x| (x.0, x.1));
        for (ts, kind, i, v) in rows {
            if kind == 0 {
                Sink::maintenance(sink, ai, ts, &records[i]);
            } else {
                Sink::sample(sink, ai, i, ts, v);
                fed += 1;
            }
        }
    }
    store.close()?;
    Ok(fed)
}

// ---------------------------------------------------------------------------------------------------------
// Training

#[derive(Serialize)]
struct TrainReport {
    version: u32,
    source: String,
    seconds: f64,
    types: BTreeMap<String, doppel_twin::predict::TrainingSummary>,
    problems: Vec<String>,
}

/// The RUL model's configuration for plant assets: their settings (speed, flow, load) vary continuously, so the
/// operating space is cut into a fixed number of regimes instead of searching for tight clusters; long healthy
/// lives are thinned (every 5th step at the cap).
pub(crate) fn plant_prognostics() -> doppel_learn::hybrid::PrognosticsConfig {
    let mut c = doppel_learn::hybrid::PrognosticsConfig::default();
    c.rul.regimes = Some(4);
    c.rul.thin_capped = 5;
    c
}

/// Trains and registers the plant models; returns the registered version.
fn train(a: &TrainArgs) -> Result<u32> {
    let plant = crate::load_plant(a.history.plant.as_ref())?;
    let started = Instant::now();
    let (residuals, _) = ResidualEngine::new(&plant);
    let mut sink = WithResiduals {
        residuals,
        inner: TrainingSetBuilder::new(&plant),
    };
    let source = if a.from_store {
        let n = replay_store(&plant, &a.history.data_dir, &mut sink.inner)?;
        format!("stored history in {} ({n} samples)", a.history.data_dir.display())
    } else {
        simulate(&plant, &a.history, |tick, index| feed_tick(&plant, tick, index, &mut sink))?;
        format!(
            "simulated fleet: {} h, seed {}, wear acceleration {}",
            a.history.simulate_hours, a.history.seed, a.history.wear_acceleration
        )
    };
    let lives = sink.inner.finish();
    let cap_h = match a.cap_h {
        Some(c) if c > 0.0 => c,
        Some(c) => bail!("--cap-h must be positive, not {c}"),
        None => 2000.0 / a.history.wear_acceleration,
    };
    let cfg = TrainConfig {
        cap_h,
        prognostics: plant_prognostics(),
        anomaly: doppel_learn::anomaly::AnomalyConfig {
            false_alarm_rate: a.false_alarm_rate,
            ..Default::default()
        },
    };
    let (models, problems) = train_plant_models(&plant, &lives, &cfg);
    if models.types.is_empty() {
        bail!(
            "no model could be trained: {}",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.asset_type, p.reason))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let types: BTreeMap<String, _> = models.types.iter().map(|(k, m)| (k.clone(), m.training.clone())).collect();
    let problems: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.asset_type, p.reason)).collect();
    let meta = json!({
        "created": doppel_model::time::format_rfc3339(doppel_model::time::now()),
        "plant": plant.enterprise,
        "source": source,
        "cap_h": cap_h,
        "false_alarm_rate": a.false_alarm_rate,
        "training_seconds": seconds,
        "types": types,
        "problems": problems,
    });
    let reg = ModelRegistry::open(a.history.data_dir.join("models"))?;
    let v = reg.register(MODEL_NAME, &meta.to_string(), &serde_json::to_vec(&models)?)?;
    let report = TrainReport {
        version: v.version,
        source,
        seconds,
        types,
        problems,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "registered {} v{} in {} ({:.1} s; {})",
            MODEL_NAME,
            v.version,
            v.dir.display(),
            report.seconds,
            report.source
        );
        for (t, s) in &report.types {
            println!(
                "  {t}: {} lives, {} run to failure, {} steps, {} healthy steps for the anomaly detector",
                s.lives, s.failures, s.steps, s.healthy_rows
            );
        }
        for p in &report.problems {
            println!("  not trained: {p}");
        }
    }
    Ok(v.version)
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation against the simulator's ground truth

/// The online engine, as the server runs it, scored against the simulator's truth.
struct Evaluator {
    engine: PredictionEngine,
    eval: Evaluation,
}

impl Sink for Evaluator {
    fn sample(&mut self, asset: usize, signal: usize, ts_ns: i64, value: f64) {
        let (out, problem) = self.engine.observe(asset, signal, ts_ns, value);
        if let Some(p) = problem {
            tracing::warn!(asset = %p.asset, reason = %p.reason, "prediction failed");
        }
        // Outputs come only when a step closed and was scored: a fresh prediction.
        if !out.is_empty()
            && let Some(latest) = self.engine.latest(asset)
        {
            self.eval.scored(asset, &latest);
        }
    }
    fn maintenance(&mut self, asset: usize, _ts_ns: i64, record: &MaintenanceRecord) {
        if record.kind.renews() {
            self.engine.renew(asset);
            self.eval.renewal(asset);
        }
    }
}

fn evaluate(a: &EvaluateArgs) -> Result<()> {
    let plant = crate::load_plant(a.history.plant.as_ref())?;
    let reg = ModelRegistry::open(a.history.data_dir.join("models"))?;
    let v = reg
        .latest(MODEL_NAME)?
        .with_context(|| format!("no model registered in {}: run `doppel learn train` first", reg.dir().display()))?;
    let models: PlantModels = serde_json::from_slice(&reg.artefact(&v)?).context("model artefact is not readable")?;
    let mut engine = PredictionEngine::new(&plant, a.horizon_h.map(|h| h * 3600.0));
    for p in engine.set_models(&plant, models) {
        tracing::warn!(asset_type = %p.asset, reason = %p.reason, "model not used");
    }
    let (residuals, _) = ResidualEngine::new(&plant);
    let mut sink = WithResiduals {
        residuals,
        inner: Evaluator {
            engine,
            eval: Evaluation::new(a.threshold_pct),
        },
    };
    let step_s = a.history.sim_step_s;
    let started = Instant::now();
    let predicted: Vec<usize> = plant.assets.iter().enumerate().filter(|(_, x)| x.predict.is_some()).map(|(i, _)| i).collect();
    simulate(&plant, &a.history, |tick, index| {
        for t in &tick.truth {
            let Some(ai) = plant.asset_position(&t.asset) else { continue };
            match t.kind {
                TruthKind::FaultOnset => sink.inner.eval.fault_onset(ai, t.ts_ns),
                TruthKind::Failure => sink.inner.eval.failure(ai, &t.asset, t.mode.as_deref().unwrap_or("unknown"), t.ts_ns),
                _ => {}
            }
        }
        for &ai in &predicted {
            sink.inner.eval.exposure(ai, step_s);
        }
        feed_tick(&plant, tick, index, &mut sink);
    })?;
    let report = sink.inner.eval.report();
    let wall = started.elapsed().as_secs_f64();
    if a.json {
        let mut j = serde_json::to_value(&report)?;
        if let serde_json::Value::Object(m) = &mut j {
            m.insert("model_version".into(), json!(v.version));
            m.insert("simulated_hours".into(), json!(a.history.simulate_hours));
            m.insert("seed".into(), json!(a.history.seed));
            m.insert("wear_acceleration".into(), json!(a.history.wear_acceleration));
            m.insert("wall_seconds".into(), json!(wall));
        }
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!(
            "model v{}: {} failures in {} simulated h (seed {}); {} predicted (P(failure within the horizon) >= {} % before the failure)",
            v.version, report.failures, a.history.simulate_hours, a.history.seed, report.predicted, a.threshold_pct
        );
        println!("  mode: failures, predicted (premature), median lead h, anomaly-detected, median anomaly delay h, median onset-to-failure h");
        for (m, r) in &report.by_mode {
            let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
            println!(
                "  {m}: {}, {} ({}), {}, {}, {}, {}",
                r.failures,
                r.predicted,
                r.premature,
                f(r.median_lead_h),
                r.anomaly_detected,
                f(r.median_anomaly_delay_h),
                f(r.median_fault_duration_h)
            );
        }
        println!(
            "  anomaly false alarms: {} in {:.1} healthy asset-days ({:.3} per asset-day of simulated time)",
            report.false_anomaly_alarms, report.healthy_asset_days, report.false_anomaly_alarms_per_asset_day
        );
    }
    Ok(())
}

/// Trains models for the demo from a simulated fleet history (another seed than the demo's) if the registry
/// in `data_dir` has none; returns the version in the registry.
pub fn ensure_demo_models(plant: Option<&PathBuf>, data_dir: &std::path::Path, wear_acceleration: f64, seed: u64) -> Result<u32> {
    let reg = ModelRegistry::open(data_dir.join("models"))?;
    if let Some(v) = reg.latest(MODEL_NAME)? {
        return Ok(v.version);
    }
    train(&TrainArgs {
        history: HistoryArgs {
            plant: plant.cloned(),
            data_dir: data_dir.to_path_buf(),
            simulate_hours: 48.0,
            seed: seed.wrapping_add(1000),
            wear_acceleration,
            sim_step_s: 1.0,
        },
        from_store: false,
        cap_h: None,
        false_alarm_rate: 0.001,
        json: false,
    })
}
