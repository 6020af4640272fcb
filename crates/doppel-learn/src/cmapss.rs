//! Loader for the NASA C-MAPSS turbofan text files (`train_FDxxx.txt`, `test_FDxxx.txt`, `RUL_FDxxx.txt`).
//!
//! This is the only module of the crate that does I/O. The parsers ([`parse_units`], [`parse_rul`]) take the text
//! and the file name (for error messages) so they can be tested without files.
//!
//! Format: one row per engine cycle, whitespace separated, 26 columns: unit, cycle, 3 operational settings,
//! 21 sensors. Cycles of one unit are consecutive and start at 1; the units appear one after the other.

use std::path::{Path, PathBuf};

use crate::LearnError;
use crate::series::Trajectory;

/// Number of operational-setting columns.
pub const N_SETTINGS: usize = 3;
/// Number of sensor columns.
pub const N_SENSORS: usize = 21;
const N_COLUMNS: usize = 2 + N_SETTINGS + N_SENSORS;

/// One engine cycle: the 3 operational settings and the 21 sensor readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    /// Cycle number, 1-based.
    pub cycle: u32,
    /// Operational settings (columns 3–5).
    pub settings: [f64; N_SETTINGS],
    /// Sensor readings `sensor_1..sensor_21` (columns 6–26).
    pub sensors: [f64; N_SENSORS],
}

/// One engine's trajectory, in cycle order.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Unit number as written in the file.
    pub id: u32,
    /// Its cycles, consecutive from 1.
    pub cycles: Vec<Cycle>,
}

impl Unit {
    /// The unit as a [`Trajectory`]: settings = the 3 operational settings, values = the 21 sensors, one step per
    /// cycle; `failed` says whether the unit ran to failure (training units) or was cut before (test units).
    #[must_use]
    pub fn to_trajectory(&self, failed: bool) -> Trajectory {
        Trajectory {
            id: self.id.to_string(),
            settings: self.cycles.iter().map(|c| c.settings.to_vec()).collect(),
            values: self.cycles.iter().map(|c| c.sensors.to_vec()).collect(),
            failed,
        }
    }
}

/// A C-MAPSS subset: run-to-failure training units, truncated test units and the true RUL of each test unit
/// after its last cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Subset {
    /// Subset name, e.g. `FD001`.
    pub name: String,
    /// Training units (run to failure).
    pub train: Vec<Unit>,
    /// Test units (truncated before failure).
    pub test: Vec<Unit>,
    /// True RUL of test unit *i* after its last recorded cycle, in cycles.
    pub test_rul: Vec<f64>,
}

fn parse_err(file: &Path, line: usize, message: impl Into<String>) -> LearnError {
    LearnError::Parse {
        file: file.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Parses a `train_FDxxx.txt` or `test_FDxxx.txt` text into units. `file` is used only in error messages.
///
/// # Errors
/// [`LearnError::Parse`] (with the 1-based line) for a wrong column count, a non-numeric or non-finite value, a
/// unit number that reappears after another unit, or a cycle that does not follow the previous one.
pub fn parse_units(text: &str, file: &Path) -> Result<Vec<Unit>, LearnError> {
    let mut units: Vec<Unit> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let fields: Vec<&str> = raw.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() != N_COLUMNS {
            return Err(parse_err(file, line, format!("expected {N_COLUMNS} columns, found {}", fields.len())));
        }
        let unit: u32 = fields[0]
            .parse()
            .map_err(|_| parse_err(file, line, format!("unit number {:?} is not a positive integer", fields[0])))?;
        let cycle: u32 = fields[1]
            .parse()
            .map_err(|_| parse_err(file, line, format!("cycle {:?} is not a positive integer", fields[1])))?;
        let mut values = [0.0; N_SETTINGS + N_SENSORS];
        for (k, v) in values.iter_mut().enumerate() {
            let f = fields[2 + k];
            let x: f64 = f
                .parse()
                .map_err(|_| parse_err(file, line, format!("column {}: {f:?} is not a number", 3 + k)))?;
            if !x.is_finite() {
                return Err(parse_err(file, line, format!("column {}: {f:?} is not finite", 3 + k)));
            }
            *v = x;
        }
        let mut settings = [0.0; N_SETTINGS];
        settings.copy_from_slice(&values[..N_SETTINGS]);
        let mut sensors = [0.0; N_SENSORS];
        sensors.copy_from_slice(&values[N_SETTINGS..]);
        let row = Cycle { cycle, settings, sensors };
        match units.last_mut() {
            Some(last) if last.id == unit => {
                let prev = last.cycles.last().map_or(0, |c| c.cycle);
                if cycle != prev + 1 {
                    return Err(parse_err(file, line, format!("unit {unit}: cycle {cycle} does not follow cycle {prev}")));
                }
                last.cycles.push(row);
            }
            _ => {
                if units.iter().any(|u| u.id == unit) {
                    return Err(parse_err(file, line, format!("unit {unit} reappears after other units")));
                }
                if cycle != 1 {
                    return Err(parse_err(file, line, format!("unit {unit} starts at cycle {cycle}, expected 1")));
                }
                units.push(Unit { id: unit, cycles: vec![row] });
            }
        }
    }
    Ok(units)
}

/// Parses a `RUL_FDxxx.txt` text: one non-negative number per line.
///
/// # Errors
/// [`LearnError::Parse`] for a line that does not hold exactly one finite, non-negative number.
pub fn parse_rul(text: &str, file: &Path) -> Result<Vec<f64>, LearnError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let fields: Vec<&str> = raw.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [f] => {
                let x: f64 = f.parse().map_err(|_| parse_err(file, line, format!("{f:?} is not a number")))?;
                if !x.is_finite() || x < 0.0 {
                    return Err(parse_err(file, line, format!("RUL {f:?} must be finite and non-negative")));
                }
                out.push(x);
            }
            _ => return Err(parse_err(file, line, format!("expected one value, found {}", fields.len()))),
        }
    }
    Ok(out)
}

fn read(path: PathBuf) -> Result<(String, PathBuf), LearnError> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((text, path)),
        Err(source) => Err(LearnError::Io { file: path, source }),
    }
}

/// Loads `train_<subset>.txt`, `test_<subset>.txt` and `RUL_<subset>.txt` from `dir`.
///
/// # Errors
/// [`LearnError::Io`] if a file cannot be read, [`LearnError::Parse`] for malformed content, and
/// [`LearnError::Mismatch`] when the RUL file does not hold one value per test unit or a file holds no unit.
pub fn load_subset(dir: &Path, subset: &str) -> Result<Subset, LearnError> {
    let (train_text, train_path) = read(dir.join(format!("train_{subset}.txt")))?;
    let train = parse_units(&train_text, &train_path)?;
    let (test_text, test_path) = read(dir.join(format!("test_{subset}.txt")))?;
    let test = parse_units(&test_text, &test_path)?;
    let (rul_text, rul_path) = read(dir.join(format!("RUL_{subset}.txt")))?;
    let test_rul = parse_rul(&rul_text, &rul_path)?;
    if train.is_empty() {
        return Err(LearnError::Mismatch(format!("{} holds no unit", train_path.display())));
    }
    if test.len() != test_rul.len() {
        return Err(LearnError::Mismatch(format!(
            "{} has {} test units but {} has {} RUL values",
            test_path.display(),
            test.len(),
            rul_path.display(),
            test_rul.len()
        )));
    }
    Ok(Subset {
        name: subset.to_string(),
        train,
        test,
        test_rul,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(unit: u32, cycle: u32) -> String {
        let mut s = format!("{unit} {cycle} 0.001 -0.0002 100.0");
        for k in 0..N_SENSORS {
            s.push_str(&format!(" {}.5", k + 1));
        }
        s.push_str("  ");
        s
    }

    #[test]
    fn parses_units_and_cycles() {
        let text = [row(1, 1), row(1, 2), row(2, 1)].join("\n") + "\n";
        let units = parse_units(&text, Path::new("t.txt")).unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].cycles.len(), 2);
        assert_eq!(units[0].cycles[1].sensors[20], 21.5);
        assert_eq!(units[1].cycles[0].settings[2], 100.0);
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = [row(1, 1), row(1, 3)].join("\n");
        let err = parse_units(&text, Path::new("t.txt")).unwrap_err().to_string();
        assert!(err.contains("t.txt:2"), "{err}");
        let text = [row(1, 1), "1 2 3".to_string()].join("\n");
        let err = parse_units(&text, Path::new("t.txt")).unwrap_err().to_string();
        assert!(err.contains("t.txt:2") && err.contains("columns"), "{err}");
        let bad = row(1, 1).replace("4.5", "x");
        let err = parse_units(&bad, Path::new("t.txt")).unwrap_err().to_string();
        assert!(err.contains("t.txt:1") && err.contains("not a number"), "{err}");
        let text = [row(1, 1), row(2, 1), row(1, 2)].join("\n");
        assert!(parse_units(&text, Path::new("t.txt")).is_err());
        let err = parse_rul("12\n-3\n", Path::new("r.txt")).unwrap_err().to_string();
        assert!(err.contains("r.txt:2"), "{err}");
        assert_eq!(parse_rul("12 \n 7\n", Path::new("r.txt")).unwrap(), vec![12.0, 7.0]);
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let err = load_subset(Path::new("/nonexistent/cmapss"), "FD001").unwrap_err().to_string();
        assert!(err.contains("train_FD001.txt"), "{err}");
    }
}
