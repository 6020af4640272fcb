//! The C-MAPSS experiment behind `doppel learn rul`: train the hybrid and the pure learned model on a subset's
//! training units, evaluate both on its official test split, compare them by true-RUL band, and time training
//! and online inference.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::LearnError;
use crate::cmapss::load_subset;
use crate::hybrid::{OnlineUnit, Prognostics, PrognosticsConfig};
use crate::rul::{RulReport, evaluate, rmse};
use crate::series::Trajectory;

/// RMSE of both models on the test units whose true RUL falls in a band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    /// True RUL range `[from, to)`, cycles.
    pub from: f64,
    pub to: f64,
    /// Test units in the band.
    pub units: usize,
    pub rmse_hybrid: f64,
    pub rmse_pure: f64,
}

/// RMSE of both models on a named group of test units (by observed history, or units whose life is unusual).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    pub units: usize,
    pub rmse_hybrid: f64,
    pub rmse_pure: f64,
}

/// Online inference speed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferenceSpeed {
    /// Predictions timed (full online path: features from the unit's history, RUL, interval, failure
    /// probability, health index).
    pub predictions: usize,
    /// Units per batched call.
    pub batch: usize,
    /// One unit per call, one thread.
    pub per_second_unbatched: f64,
    /// Batched, on one thread.
    pub per_second_one_thread: f64,
    /// On every available core (one thread each, independent units).
    pub per_second_all_cores: f64,
    /// Incremental online path, one unit per call on one thread: each call adds the unit's next step to its
    /// [`crate::hybrid::OnlineUnit`] state and predicts ([`Prognostics::push`] + [`Prognostics::predict_online`]).
    pub per_second_online: f64,
    /// The incremental online path on every available core.
    pub per_second_online_all_cores: f64,
    pub threads: usize,
}

/// Everything `doppel learn rul` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CmapssRun {
    pub subset: String,
    pub training_units: usize,
    pub test_units: usize,
    /// Seconds to train the hybrid model (the one reported).
    pub training_seconds: f64,
    /// The hybrid model on the test split (the headline figures).
    pub hybrid: RulReport,
    /// The pure learned model (no degradation features), same configuration otherwise.
    pub pure: RulReport,
    /// Both models by true-RUL band.
    pub bands: Vec<Band>,
    /// Both models on groups of units: short and long observed histories, and units whose whole life (observed
    /// cycles + true RUL) is shorter or longer than 90 % of the training units' (fast and slow degraders, where
    /// the learned model must extrapolate).
    pub groups: Vec<Group>,
    pub inference: InferenceSpeed,
}

impl CmapssRun {
    /// Text report; the first lines are `RMSE <value>`, `PHM08 <value>`, `coverage <value>`, `training_seconds <value>`.
    #[must_use]
    pub fn summary(&self) -> String {
        let h = &self.hybrid;
        let mut s = format!(
            "RMSE {:.2}\nPHM08 {:.1}\ncoverage {:.2}\ntraining_seconds {:.1}\n",
            h.rmse, h.phm08_score, h.coverage_capped, self.training_seconds
        );
        s += &format!(
            "\n{}: {} training units, {} test units, {} operating regime(s), {} informative sensors\n",
            self.subset,
            self.training_units,
            self.test_units,
            h.regimes,
            h.kept_sensors.len()
        );
        s += &format!(
            "hybrid (degradation model + trees): RMSE {:.2} (capped truth {:.2}), PHM08 {:.1}, {:.0} % interval: coverage {:.2} of capped truth ({:.2} uncapped), mean width {:.1} cycles\n",
            h.rmse,
            h.rmse_capped,
            h.phm08_score,
            100.0 * h.nominal_coverage,
            h.coverage_capped,
            h.coverage_uncapped,
            h.mean_interval_width
        );
        let p = &self.pure;
        s += &format!(
            "pure learned model:                 RMSE {:.2} (capped truth {:.2}), PHM08 {:.1}, coverage {:.2}, mean width {:.1}\n",
            p.rmse, p.rmse_capped, p.phm08_score, p.coverage_capped, p.mean_interval_width
        );
        s += "true RUL band: units, RMSE hybrid, RMSE pure\n";
        for b in &self.bands {
            s += &format!("  [{:>3}, {:>3}): {:>3}, {:6.2}, {:6.2}\n", b.from, b.to, b.units, b.rmse_hybrid, b.rmse_pure);
        }
        s += "unit group: units, RMSE hybrid, RMSE pure\n";
        for g in &self.groups {
            s += &format!("  {}: {}, {:.2}, {:.2}\n", g.name, g.units, g.rmse_hybrid, g.rmse_pure);
        }
        let i = &self.inference;
        s += &format!(
            "online inference (RUL, interval, failure probability, health index): incremental state (push a step + predict) {:.0}/s on one thread, {:.0}/s on {} threads; from the history {:.0}/s one unit per call, {:.0}/s scoring {} units per call on one thread, {:.0}/s on {} threads\n",
            i.per_second_online,
            i.per_second_online_all_cores,
            i.threads,
            i.per_second_unbatched,
            i.per_second_one_thread,
            i.batch,
            i.per_second_all_cores,
            i.threads
        );
        s
    }
}

/// Times online prediction over the given units: the incremental path (a unit's [`OnlineUnit`] state takes its
/// next step, then [`Prognostics::predict_online`]), one unit per call from its history
/// ([`Prognostics::predict`]), and a fleet per call ([`Prognostics::predict_many`] over `batch` units, as when
/// every asset of a type is scored at each step), on one thread and on every core. All zeros without units.
#[must_use]
pub fn bench_inference(model: &Prognostics, units: &[Trajectory], horizon: f64, predictions: usize, batch: usize) -> InferenceSpeed {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if units.is_empty() || predictions == 0 {
        return InferenceSpeed {
            predictions: 0,
            batch,
            per_second_unbatched: 0.0,
            per_second_one_thread: 0.0,
            per_second_all_cores: 0.0,
            per_second_online: 0.0,
            per_second_online_all_cores: 0.0,
            threads,
        };
    }
    let batch = batch.max(1);
    let refs: Vec<&Trajectory> = units.iter().collect();
    let one_by_one = |n: usize, offset: usize| {
        let mut sink = 0.0;
        for i in 0..n {
            if let Ok(p) = model.predict(refs[(i + offset) % refs.len()], horizon) {
                sink += p.rul;
            }
        }
        sink
    };
    let batched = |n: usize, offset: usize| {
        let mut sink = 0.0;
        let mut done = 0;
        while done < n {
            let group: Vec<&Trajectory> = (0..batch.min(n - done)).map(|i| refs[(done + i + offset) % refs.len()]).collect();
            for p in model.predict_many(&group, horizon).into_iter().flatten() {
                sink += p.rul;
            }
            done += group.len();
        }
        sink
    };
    // Online: every unit's state holds its history but the last step; each call pushes the next step of the
    // unit's own history (wrapping to its start) and predicts.
    let online = |n: usize, offset: usize| {
        let mut states: Vec<(OnlineUnit, usize)> = units
            .iter()
            .map(|u| {
                let mut s = model.online_unit(&u.id);
                for t in 0..u.len().saturating_sub(1) {
                    let _ = model.push(&mut s, &u.settings[t], &u.values[t]);
                }
                (s, u.len().saturating_sub(1))
            })
            .collect();
        let t = Instant::now();
        let mut sink = 0.0;
        for i in 0..n {
            let k = (i + offset) % units.len();
            let (state, next) = &mut states[k];
            let u = &units[k];
            if u.is_empty() {
                continue;
            }
            let _ = model.push(state, &u.settings[*next], &u.values[*next]);
            *next = (*next + 1) % u.len();
            if let Ok(p) = model.predict_online(state, horizon) {
                sink += p.rul;
            }
        }
        std::hint::black_box(sink);
        t.elapsed().as_secs_f64()
    };
    let t = Instant::now();
    std::hint::black_box(one_by_one(predictions / 4, 0));
    let single = (predictions / 4) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    std::hint::black_box(batched(predictions, 0));
    let one = predictions as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            s.spawn(move || std::hint::black_box(batched(predictions, k)));
        }
    });
    let all = (predictions * threads) as f64 / t.elapsed().as_secs_f64();
    let online_one = predictions as f64 / online(predictions, 0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            s.spawn(move || online(predictions, k));
        }
    });
    let online_all = (predictions * threads) as f64 / t.elapsed().as_secs_f64();
    InferenceSpeed {
        predictions,
        batch,
        per_second_unbatched: single,
        per_second_one_thread: one,
        per_second_all_cores: all,
        per_second_online: online_one,
        per_second_online_all_cores: online_all,
        threads,
    }
}

/// Trains on `train_{subset}.txt` and evaluates on `test_{subset}.txt` + `RUL_{subset}.txt` in `dir`.
///
/// # Errors
/// Loading errors (with file and line) and those of training and evaluation.
pub fn run_cmapss(dir: &Path, subset: &str, cfg: &PrognosticsConfig) -> Result<CmapssRun, LearnError> {
    run_cmapss_with(dir, subset, cfg, 100_000)
}

/// [`run_cmapss`] timing `bench_predictions` online predictions (per thread).
///
/// # Errors
/// As [`run_cmapss`].
pub fn run_cmapss_with(dir: &Path, subset: &str, cfg: &PrognosticsConfig, bench_predictions: usize) -> Result<CmapssRun, LearnError> {
    let data = load_subset(dir, subset)?;
    let train: Vec<Trajectory> = data.train.iter().map(|u| u.to_trajectory(true)).collect();
    let test: Vec<Trajectory> = data.test.iter().map(|u| u.to_trajectory(false)).collect();
    let started = Instant::now();
    let hybrid = Prognostics::train(&train, &PrognosticsConfig { hybrid: true, ..cfg.clone() })?;
    let training_seconds = started.elapsed().as_secs_f64();
    let pure = Prognostics::train(&train, &PrognosticsConfig { hybrid: false, ..cfg.clone() })?;
    let hr = evaluate(&hybrid.model, &test, &data.test_rul)?;
    let pr = evaluate(&pure.model, &test, &data.test_rul)?;
    let edges = [0.0, 25.0, 50.0, 75.0, 100.0, 125.0, f64::INFINITY];
    let bands = edges
        .windows(2)
        .filter_map(|w| {
            let idx: Vec<usize> = (0..hr.units.len())
                .filter(|&i| hr.units[i].true_rul >= w[0] && hr.units[i].true_rul < w[1])
                .collect();
            if idx.is_empty() {
                return None;
            }
            let truth: Vec<f64> = idx.iter().map(|&i| hr.units[i].true_rul).collect();
            let h: Vec<f64> = idx.iter().map(|&i| hr.units[i].prediction.rul).collect();
            let p: Vec<f64> = idx.iter().map(|&i| pr.units[i].prediction.rul).collect();
            Some(Band {
                from: w[0],
                to: w[1],
                units: idx.len(),
                rmse_hybrid: rmse(&h, &truth),
                rmse_pure: rmse(&p, &truth),
            })
        })
        .collect();
    let group = |name: &str, keep: &dyn Fn(usize) -> bool| {
        let idx: Vec<usize> = (0..hr.units.len()).filter(|&i| keep(i)).collect();
        let truth: Vec<f64> = idx.iter().map(|&i| hr.units[i].true_rul).collect();
        let h: Vec<f64> = idx.iter().map(|&i| hr.units[i].prediction.rul).collect();
        let p: Vec<f64> = idx.iter().map(|&i| pr.units[i].prediction.rul).collect();
        Group {
            name: name.to_string(),
            units: idx.len(),
            rmse_hybrid: rmse(&h, &truth),
            rmse_pure: rmse(&p, &truth),
        }
    };
    let mut lives: Vec<f64> = train.iter().map(|u| u.len() as f64).collect();
    lives.sort_by(f64::total_cmp);
    let (p10, p90) = (lives[lives.len() / 10], lives[(lives.len() * 9) / 10]);
    let observed = |i: usize| test[i].len() as f64;
    let life = |i: usize| observed(i) + hr.units[i].true_rul;
    let groups = vec![
        group("observed < 100 cycles", &|i| observed(i) < 100.0),
        group("observed >= 100 cycles", &|i| observed(i) >= 100.0),
        group(&format!("life < {p10} cycles (shortest 10 % of training lives)"), &|i| life(i) < p10),
        group(&format!("life > {p90} cycles (longest 10 % of training lives)"), &|i| life(i) > p90),
        group("life within the training lives' 10-90 % range", &|i| (p10..=p90).contains(&life(i))),
    ];
    let inference = bench_inference(&hybrid, &test, 10.0, bench_predictions.max(100), 100);
    Ok(CmapssRun {
        subset: data.name,
        training_units: train.len(),
        test_units: test.len(),
        training_seconds,
        hybrid: hr,
        pure: pr,
        bands,
        groups,
        inference,
    })
}
