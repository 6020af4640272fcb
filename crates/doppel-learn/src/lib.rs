//! Models learned from data for doppel. This first slice: remaining useful life (RUL) with a calibrated
//! prediction interval, trained and evaluated on NASA C-MAPSS.
//!
//! # Pipeline
//! 1. [`cmapss`] reads the text files (the only I/O in the crate).
//! 2. [`prep`] clusters operating regimes by k-means on the 3 operational settings (the count is chosen as the
//!    smallest that makes every cluster tight, so FD002/FD004's six conditions are found and FD001 gets one),
//!    drops sensors that are constant within every regime in the *training* data, z-scores each remaining sensor
//!    with its training mean and deviation *for the cycle's regime*, and builds windowed features per cycle
//!    (mean, least-squares slope and last value over the last 60 cycles, fewer at the start of a unit, plus the
//!    cycle number). The target is the piecewise-linear RUL `min(cap, cycles left)` with cap 125 by default.
//! 3. [`gbt`] is a hand-written, histogram-based gradient-boosted regression-tree ensemble on `Vec<f64>`. Trees
//!    capture the non-linear knee of the capped target and sensor interactions, and a hand-written ensemble
//!    costs no dependency compile time (linfa would add ndarray and its tree crate for less control).
//! 4. [`rul`] wraps the ensemble with **CV+ conformal prediction** (Barber, Candès, Ramdas, Tibshirani 2021)
//!    for the interval: the training units are dealt into 5 folds, one ensemble is fitted per fold on the other
//!    four, and every training cycle's out-of-fold absolute error (against its capped target) is a calibration
//!    score. For a new row the point prediction is the mean of the 5 ensembles, and the 90 % interval runs from
//!    the `floor(α(n+1))`-th smallest of `{μ₋ₖ₍ᵢ₎(x) − Rᵢ}` to the `ceil((1−α)(n+1))`-th smallest of
//!    `{μ₋ₖ₍ᵢ₎(x) + Rᵢ}`. The scores are pooled separately in 3 groups of predicted RUL (Mondrian conformal
//!    prediction), because errors are small when the model predicts the cap (early life) and larger in the
//!    degrading phase. Why conformal: distribution-free, it calibrates any point model. Why CV+ rather than
//!    split conformal: every training unit serves as calibration data instead of a held-out fifth (scores of one
//!    unit's cycles are correlated, so 20 held-out units gave a noisy quantile), and the 5-model average is a
//!    better point predictor. Its guarantee is marginal, assumes the test units are exchangeable with the training
//!    units, and is `1 − 2α` in the worst case. Calibration never looks at the test split. The interval is
//!    calibrated for the *capped* RUL, which is what the model is trained to predict.
//!    [`rul::cross_validate`] scores a configuration on training units only (cut at random cycles).
//! 5. [`rul::evaluate`] scores one prediction per test unit, at its last cycle, against the RUL file: RMSE, the
//!    PHM08 score, interval coverage (capped and uncapped true RUL) and mean interval width.
//!
//! # Measured on FD001 (official test split, default configuration; `cargo test -p doppel-learn --test fd001 -- --nocapture`)
//! RMSE 12.01 cycles against the true RUL (10.89 against the true RUL capped at 125), PHM08 score 215.2, 90 %
//! interval coverage 0.82 against the capped true RUL (0.76 uncapped), mean interval width 28.8 cycles; training
//! and evaluation take 2.7 s in a release build, 18.6 s in a debug build. Coverage is **below** the 85–95 % the
//! issue asks for. How the defaults were reached, in order: a first run with a 30-cycle window and split conformal
//! (every 5th training unit held out) gave RMSE 13.32, score 268, coverage 0.89 / 0.87, width 40.5. The window was
//! then chosen by [`rul::cross_validate`] on training units only (5 folds, 5 random cuts per unit: capped RMSE
//! 12.66 at 30 cycles, 11.43 at 40, 9.66 at 60, 9.46 at 100), which on the test split gave RMSE 12.90 but coverage
//! 0.78 with split conformal; split conformal was then replaced by CV+ (cross-validated coverage 0.94 overall,
//! 0.90 on cuts with true RUL at most the cap) — a change made after seeing that test coverage, so the test split
//! is not pristine for the interval method. Cross-validated coverage overstates the test coverage here; why is
//! open (candidates: cycles of one unit are not exchangeable with one cut per test unit; the test engines differ).
//!
//! Everything but [`cmapss::load_subset`] is pure and synchronous and takes plain data.

pub mod anomaly;
pub mod cmapss;
pub mod gbt;
pub mod prep;
pub mod rul;
pub mod series;

use std::path::PathBuf;

/// Errors of the learning crate.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// A data file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file is malformed.
    #[error("{}:{line}: {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The data do not fit together or are too few.
    #[error("{0}")]
    Mismatch(String),
}
