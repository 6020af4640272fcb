//! A strict table of engineering units.
//!
//! Every signal declares one unit from this table; an unknown symbol is an error, never a guess.
//! Each unit belongs to a [`Dimension`] and converts to that dimension's reference unit by
//! `reference = value * scale + offset` (the offset exists only for temperatures). A sample that
//! arrives in another unit of the same dimension (°F for a °C signal, psi for a bar signal) is
//! converted to the signal's unit; a sample in a unit of another dimension is rejected.

use std::fmt;

/// The physical quantity a unit measures. Conversions are only allowed within one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    Dimensionless,
    Count,
    State,
    Temperature,
    Current,
    Voltage,
    Power,
    Energy,
    Pressure,
    VolumeFlow,
    MassFlow,
    Length,
    Velocity,
    Acceleration,
    RotationalSpeed,
    Frequency,
    Mass,
    Volume,
    Torque,
    Force,
    Time,
    Density,
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Dimension::Dimensionless => "dimensionless ratio",
            Dimension::Count => "count",
            Dimension::State => "state",
            Dimension::Temperature => "temperature",
            Dimension::Current => "electric current",
            Dimension::Voltage => "voltage",
            Dimension::Power => "power",
            Dimension::Energy => "energy",
            Dimension::Pressure => "pressure",
            Dimension::VolumeFlow => "volume flow",
            Dimension::MassFlow => "mass flow",
            Dimension::Length => "length",
            Dimension::Velocity => "velocity",
            Dimension::Acceleration => "acceleration",
            Dimension::RotationalSpeed => "rotational speed",
            Dimension::Frequency => "frequency",
            Dimension::Mass => "mass",
            Dimension::Volume => "volume",
            Dimension::Torque => "torque",
            Dimension::Force => "force",
            Dimension::Time => "time",
            Dimension::Density => "density",
        };
        f.write_str(name)
    }
}

/// One entry of the unit table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    /// Canonical symbol, as written in plant files and API answers (ASCII).
    pub symbol: &'static str,
    /// What the unit measures.
    pub dimension: Dimension,
    /// Multiply by this (then add `offset`) to get the dimension's reference unit.
    pub scale: f64,
    /// Added after scaling (temperatures only).
    pub offset: f64,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol)
    }
}

impl Unit {
    /// Converts `value` given in `self` into `target`. Fails if the dimensions differ.
    pub fn convert(&self, value: f64, target: &Unit) -> Result<f64, UnitError> {
        if self.dimension != target.dimension {
            return Err(UnitError::Incompatible {
                from: self.symbol.to_string(),
                to: target.symbol.to_string(),
                from_dimension: self.dimension,
                to_dimension: target.dimension,
            });
        }
        if self.symbol == target.symbol {
            return Ok(value);
        }
        let reference = value * self.scale + self.offset;
        Ok((reference - target.offset) / target.scale)
    }
}

/// Errors of unit lookup and conversion.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("unknown unit '{symbol}'{}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    Unknown { symbol: String, suggestion: Option<String> },
    #[error("cannot convert '{from}' ({from_dimension}) to '{to}' ({to_dimension})")]
    Incompatible {
        from: String,
        to: String,
        from_dimension: Dimension,
        to_dimension: Dimension,
    },
}

const fn u(symbol: &'static str, dimension: Dimension, scale: f64) -> Unit {
    Unit {
        symbol,
        dimension,
        scale,
        offset: 0.0,
    }
}

use Dimension as D;

/// The table. Reference units: K, A, V, W, J, Pa, m³/s, kg/s, m, m/s, m/s², rev/s, Hz, kg, m³, N·m, N, s, kg/m³.
static UNITS: &[Unit] = &[
    u("1", D::Dimensionless, 1.0),
    u("%", D::Dimensionless, 0.01),
    u("ppm", D::Dimensionless, 1e-6),
    u("count", D::Count, 1.0),
    u("state", D::State, 1.0),
    Unit {
        symbol: "degC",
        dimension: D::Temperature,
        scale: 1.0,
        offset: 273.15,
    },
    Unit {
        symbol: "degF",
        dimension: D::Temperature,
        scale: 5.0 / 9.0,
        offset: 273.15 - 32.0 * 5.0 / 9.0,
    },
    u("K", D::Temperature, 1.0),
    u("A", D::Current, 1.0),
    u("mA", D::Current, 1e-3),
    u("kA", D::Current, 1e3),
    u("V", D::Voltage, 1.0),
    u("mV", D::Voltage, 1e-3),
    u("kV", D::Voltage, 1e3),
    u("W", D::Power, 1.0),
    u("kW", D::Power, 1e3),
    u("MW", D::Power, 1e6),
    u("hp", D::Power, 745.699_871_582_270_2),
    u("J", D::Energy, 1.0),
    u("kJ", D::Energy, 1e3),
    u("MJ", D::Energy, 1e6),
    u("Wh", D::Energy, 3600.0),
    u("kWh", D::Energy, 3.6e6),
    u("MWh", D::Energy, 3.6e9),
    u("Pa", D::Pressure, 1.0),
    u("kPa", D::Pressure, 1e3),
    u("MPa", D::Pressure, 1e6),
    u("bar", D::Pressure, 1e5),
    u("mbar", D::Pressure, 1e2),
    u("psi", D::Pressure, 6_894.757_293_168_361),
    u("m3/s", D::VolumeFlow, 1.0),
    u("m3/h", D::VolumeFlow, 1.0 / 3600.0),
    u("L/s", D::VolumeFlow, 1e-3),
    u("L/min", D::VolumeFlow, 1e-3 / 60.0),
    u("gpm", D::VolumeFlow, 3.785_411_784e-3 / 60.0),
    u("kg/s", D::MassFlow, 1.0),
    u("kg/h", D::MassFlow, 1.0 / 3600.0),
    u("t/h", D::MassFlow, 1000.0 / 3600.0),
    u("m", D::Length, 1.0),
    u("cm", D::Length, 1e-2),
    u("mm", D::Length, 1e-3),
    u("um", D::Length, 1e-6),
    u("in", D::Length, 0.0254),
    u("m/s", D::Velocity, 1.0),
    u("m/min", D::Velocity, 1.0 / 60.0),
    u("mm/s", D::Velocity, 1e-3),
    u("in/s", D::Velocity, 0.0254),
    u("m/s2", D::Acceleration, 1.0),
    u("mm/s2", D::Acceleration, 1e-3),
    u("g", D::Acceleration, 9.806_65),
    u("rpm", D::RotationalSpeed, 1.0 / 60.0),
    u("rev/s", D::RotationalSpeed, 1.0),
    u("Hz", D::Frequency, 1.0),
    u("kHz", D::Frequency, 1e3),
    u("kg", D::Mass, 1.0),
    u("t", D::Mass, 1e3),
    u("m3", D::Volume, 1.0),
    u("L", D::Volume, 1e-3),
    u("N.m", D::Torque, 1.0),
    u("N", D::Force, 1.0),
    u("kN", D::Force, 1e3),
    u("s", D::Time, 1.0),
    u("ms", D::Time, 1e-3),
    u("min", D::Time, 60.0),
    u("h", D::Time, 3600.0),
    u("kg/m3", D::Density, 1.0),
];

/// Spellings accepted for canonical symbols (the Unicode forms and common variants).
static ALIASES: &[(&str, &str)] = &[
    ("°C", "degC"),
    ("C", "degC"),
    ("celsius", "degC"),
    ("°F", "degF"),
    ("F", "degF"),
    ("fahrenheit", "degF"),
    ("kelvin", "K"),
    ("percent", "%"),
    ("m³/h", "m3/h"),
    ("m³/s", "m3/s"),
    ("l/s", "L/s"),
    ("l/min", "L/min"),
    ("m/s²", "m/s2"),
    ("m/s^2", "m/s2"),
    ("mm/s²", "mm/s2"),
    ("µm", "um"),
    ("μm", "um"),
    ("N·m", "N.m"),
    ("Nm", "N.m"),
    ("r/min", "rpm"),
    ("RPM", "rpm"),
    ("m³", "m3"),
    ("l", "L"),
    ("kg/m³", "kg/m3"),
    ("pcs", "count"),
    ("", "1"),
];

/// Looks a unit up by symbol or accepted alias. Unknown symbols are an error with a suggestion.
pub fn lookup(symbol: &str) -> Result<Unit, UnitError> {
    let trimmed = symbol.trim();
    let canonical = ALIASES.iter().find(|(alias, _)| *alias == trimmed).map(|(_, c)| *c).unwrap_or(trimmed);
    UNITS.iter().find(|u| u.symbol == canonical).copied().ok_or_else(|| UnitError::Unknown {
        symbol: symbol.to_string(),
        suggestion: suggest(trimmed),
    })
}

/// All canonical units, for documentation and `doppel check --units`.
pub fn all() -> &'static [Unit] {
    UNITS
}

fn suggest(symbol: &str) -> Option<String> {
    let lower = symbol.to_ascii_lowercase();
    UNITS
        .iter()
        .map(|u| u.symbol)
        .chain(ALIASES.iter().map(|(a, _)| *a).filter(|a| !a.is_empty()))
        .map(|candidate| (edit_distance(&lower, &candidate.to_ascii_lowercase()), candidate))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    // Optimal string alignment distance: insertions, deletions, substitutions and transpositions.
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_conversions_are_affine() {
        let c = lookup("°C").unwrap();
        let f = lookup("degF").unwrap();
        let k = lookup("K").unwrap();
        assert!((f.convert(212.0, &c).unwrap() - 100.0).abs() < 1e-9);
        assert!((c.convert(-40.0, &f).unwrap() + 40.0).abs() < 1e-9);
        assert!((c.convert(0.0, &k).unwrap() - 273.15).abs() < 1e-9);
    }

    #[test]
    fn pressure_and_flow_scale() {
        let psi = lookup("psi").unwrap();
        let bar = lookup("bar").unwrap();
        assert!((psi.convert(14.503_773_8, &bar).unwrap() - 1.0).abs() < 1e-6);
        let lpm = lookup("L/min").unwrap();
        let m3h = lookup("m³/h").unwrap();
        assert!((lpm.convert(1000.0, &m3h).unwrap() - 60.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_units_are_rejected_with_a_suggestion() {
        let err = lookup("kw").unwrap_err();
        assert_eq!(
            err,
            UnitError::Unknown {
                symbol: "kw".into(),
                suggestion: Some("kW".into())
            }
        );
        assert!(matches!(lookup("furlongs/fortnight"), Err(UnitError::Unknown { suggestion: None, .. })));
    }

    #[test]
    fn different_dimensions_do_not_convert() {
        let a = lookup("A").unwrap();
        let v = lookup("V").unwrap();
        let err = a.convert(1.0, &v).unwrap_err();
        assert!(err.to_string().contains("electric current"), "{err}");
    }

    #[test]
    fn every_symbol_is_unique_and_every_alias_resolves() {
        for (i, a) in UNITS.iter().enumerate() {
            assert!(UNITS[i + 1..].iter().all(|b| b.symbol != a.symbol), "duplicate {}", a.symbol);
        }
        for (alias, target) in ALIASES {
            assert_eq!(lookup(alias).unwrap().symbol, *target);
        }
    }
}
