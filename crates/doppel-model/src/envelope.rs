//! Operating envelopes: normal / warning / alarm ranges, optionally per operating mode or product,
//! classified with hysteresis so that noise around a limit does not make the status flap.

use serde::Serialize;

/// A closed range `[low, high]`; either end may be infinite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub low: f64,
    pub high: f64,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        v >= self.low && v <= self.high
    }
    /// The range narrowed by `margin` at each finite end.
    fn shrunk(&self, margin: f64) -> Range {
        Range {
            low: self.low + margin,
            high: self.high - margin,
        }
    }
    pub fn contains_range(&self, other: &Range) -> bool {
        self.low <= other.low && self.high >= other.high
    }
}

/// Envelope status of one signal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Normal,
    Warning,
    Alarm,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Normal => "normal",
            Status::Warning => "warning",
            Status::Alarm => "alarm",
        }
    }
}

/// Inside `normal`: normal. Outside `normal` but inside `warning`: warning. Outside `warning`: alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Envelope {
    pub normal: Range,
    pub warning: Range,
    /// A status only drops to a lower level once the value is this far inside the lower level's
    /// range; raising is immediate.
    pub hysteresis: f64,
}

impl Envelope {
    /// Status of a value without memory.
    pub fn classify(&self, v: f64) -> Status {
        if self.normal.contains(v) {
            Status::Normal
        } else if self.warning.contains(v) {
            Status::Warning
        } else {
            Status::Alarm
        }
    }

    /// Status of a value given the previous status: escalation is immediate, de-escalation needs
    /// the value to be `hysteresis` inside the lower level's range.
    pub fn classify_with_hysteresis(&self, v: f64, previous: Status) -> Status {
        let raw = self.classify(v);
        if raw >= previous {
            return raw;
        }
        // raw < previous: we may only step down if clear of the boundary by the hysteresis margin.
        let h = self.hysteresis;
        if self.normal.shrunk(h).contains(v) {
            Status::Normal
        } else if self.warning.shrunk(h).contains(v) {
            // previous is Warning or Alarm here (it is above raw).
            Status::Warning
        } else {
            previous
        }
    }
}

/// Which operating condition an envelope applies to. Empty fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Selector {
    pub mode: Option<String>,
    pub product: Option<String>,
}

impl Selector {
    fn matches(&self, mode: Option<&str>, product: Option<&str>) -> bool {
        self.mode.as_deref().is_none_or(|m| Some(m) == mode) && self.product.as_deref().is_none_or(|p| Some(p) == product)
    }
    fn specificity(&self) -> u8 {
        // product is more specific than mode: a product recipe overrides a mode default.
        u8::from(self.product.is_some()) * 2 + u8::from(self.mode.is_some())
    }
}

/// A signal's envelopes: a default and condition-specific overrides.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EnvelopeSet {
    pub default: Option<Envelope>,
    pub conditional: Vec<(Selector, Envelope)>,
}

impl EnvelopeSet {
    /// The envelope in force for the given mode and product: the most specific matching
    /// conditional envelope (product and mode > product > mode), else the default.
    pub fn select(&self, mode: Option<&str>, product: Option<&str>) -> Option<&Envelope> {
        self.conditional
            .iter()
            .filter(|(s, _)| s.matches(mode, product))
            .max_by_key(|(s, _)| s.specificity())
            .map(|(_, e)| e)
            .or(self.default.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.conditional.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Envelope {
        Envelope {
            normal: Range { low: 0.0, high: 80.0 },
            warning: Range { low: -5.0, high: 95.0 },
            hysteresis: 2.0,
        }
    }

    #[test]
    fn classify_levels() {
        let e = env();
        assert_eq!(e.classify(50.0), Status::Normal);
        assert_eq!(e.classify(85.0), Status::Warning);
        assert_eq!(e.classify(96.0), Status::Alarm);
        assert_eq!(e.classify(-10.0), Status::Alarm);
    }

    #[test]
    fn hysteresis_prevents_flapping() {
        let e = env();
        let mut s = Status::Normal;
        // Noise around the 80 limit: once in warning it stays until clearly back below 78.
        for (v, want) in [
            (80.5, Status::Warning),
            (79.5, Status::Warning),
            (80.2, Status::Warning),
            (77.9, Status::Normal),
        ] {
            s = e.classify_with_hysteresis(v, s);
            assert_eq!(s, want, "value {v}");
        }
        s = e.classify_with_hysteresis(99.0, s);
        assert_eq!(s, Status::Alarm);
        // 94 is inside warning but within the margin: stays alarm; 92 steps down to warning; 50 to normal.
        assert_eq!(e.classify_with_hysteresis(94.0, s), Status::Alarm);
        assert_eq!(e.classify_with_hysteresis(92.0, s), Status::Warning);
        assert_eq!(e.classify_with_hysteresis(50.0, s), Status::Normal);
    }

    #[test]
    fn most_specific_selector_wins() {
        let base = env();
        let high = Envelope {
            normal: Range { low: 0.0, high: 90.0 },
            ..base
        };
        let product = Envelope {
            normal: Range { low: 0.0, high: 70.0 },
            ..base
        };
        let set = EnvelopeSet {
            default: Some(base),
            conditional: vec![
                (
                    Selector {
                        mode: Some("high".into()),
                        product: None,
                    },
                    high,
                ),
                (
                    Selector {
                        mode: None,
                        product: Some("p1".into()),
                    },
                    product,
                ),
            ],
        };
        assert_eq!(set.select(None, None), Some(&base));
        assert_eq!(set.select(Some("high"), None), Some(&high));
        assert_eq!(set.select(Some("high"), Some("p1")), Some(&product));
        assert_eq!(set.select(Some("low"), Some("p2")), Some(&base));
    }
}
