//! The data shape every model of this crate learns from: a [`Trajectory`] — one unit's life (an engine from
//! new to failure, a motor bearing from its last repair to now) as equally spaced steps, each with the operating
//! settings that decide the regime and the measured values.
//!
//! C-MAPSS units convert with [`crate::cmapss::Unit::to_trajectory`]; the twin builds trajectories from a plant
//! asset's stored signals (one step per aggregation interval).

use serde::{Deserialize, Serialize};

use crate::LearnError;

/// One unit's history, oldest step first. `settings[t]` and `values[t]` describe step `t`; every row of
/// `settings` has the same length (0 allowed: a single regime), and so has every row of `values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// Name of the unit (engine number, asset id and run number).
    pub id: String,
    /// Operating settings per step (what the operator or the process imposes: load, speed, altitude...).
    pub settings: Vec<Vec<f64>>,
    /// Measured values per step (sensors, features, residuals), in a fixed order.
    pub values: Vec<Vec<f64>>,
    /// `true` when the trajectory ends at a failure (run to failure): the remaining life after its last step is 0
    /// steps. `false` when it was cut before failure (a test unit, a preventive repair, the present).
    pub failed: bool,
}

impl Trajectory {
    /// Number of steps.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it has no step.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Checks that settings and values have one row per step and consistent widths, with finite numbers.
    ///
    /// # Errors
    /// [`LearnError::Mismatch`] naming the trajectory, the step and what is wrong.
    pub fn validate(&self, n_settings: usize, n_values: usize) -> Result<(), LearnError> {
        let bad = |m: String| Err(LearnError::Mismatch(format!("trajectory {}: {m}", self.id)));
        if self.settings.len() != self.values.len() {
            return bad(format!("{} setting rows for {} value rows", self.settings.len(), self.values.len()));
        }
        for (t, (s, v)) in self.settings.iter().zip(&self.values).enumerate() {
            if s.len() != n_settings {
                return bad(format!("step {t}: {} settings, expected {n_settings}", s.len()));
            }
            if v.len() != n_values {
                return bad(format!("step {t}: {} values, expected {n_values}", v.len()));
            }
            if let Some(i) = s.iter().chain(v).position(|x| !x.is_finite()) {
                return bad(format!("step {t}: column {i} is not a finite number"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_step_and_column() {
        let t = Trajectory {
            id: "m1#2".into(),
            settings: vec![vec![1.0], vec![1.0]],
            values: vec![vec![0.0, 1.0], vec![0.0, f64::NAN]],
            failed: true,
        };
        let e = t.validate(1, 2).unwrap_err().to_string();
        assert!(e.contains("m1#2") && e.contains("step 1") && e.contains("column 2"), "{e}");
        assert!(t.validate(2, 2).unwrap_err().to_string().contains("step 0: 1 settings"));
        assert_eq!(t.len(), 2);
    }
}
