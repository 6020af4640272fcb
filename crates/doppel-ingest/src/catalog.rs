//! Resolves received samples against the plant model: asset and signal lookup, unit conversion to
//! the signal's unit, and the checks that send a sample to quarantine instead of the store.

use std::collections::HashMap;
use std::sync::Arc;

use doppel_model::{Plant, SignalKind, time, units};
use doppel_store::{SeriesId, Store};

use crate::IngestError;
use crate::payload::{RawSample, Rejected};

/// By default, samples further than this ahead of the receive clock are rejected (clock errors).
pub const MAX_FUTURE_NS: i64 = 24 * 3600 * time::NANOS_PER_SEC;
/// Samples before 1990-01-01 are rejected (an unset device clock sends 1970).
pub const MIN_TS_NS: i64 = 631_152_000 * time::NANOS_PER_SEC;

/// A sample ready for the store, with its place in the plant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedSample {
    pub asset: u32,
    pub signal: u32,
    pub series: SeriesId,
    pub ts_ns: i64,
    /// In the signal's declared unit.
    pub value: f64,
}

/// Index of an asset and its signals by name: (asset index, signal name → (signal index, series)).
type AssetEntry = (u32, HashMap<String, (u32, SeriesId)>);

/// Asset/signal → series mapping for one plant.
pub struct Catalog {
    plant: Arc<Plant>,
    assets: HashMap<String, AssetEntry>,
    series: Vec<Vec<SeriesId>>,
    max_future_ns: i64,
}

impl Catalog {
    /// Registers every signal of every asset as a store series (idempotent).
    pub fn new(plant: Arc<Plant>, store: &Store) -> Result<Catalog, IngestError> {
        let mut assets = HashMap::new();
        let mut series = Vec::with_capacity(plant.assets.len());
        for (ai, a) in plant.assets.iter().enumerate() {
            let mut signals = HashMap::new();
            let mut ids = Vec::with_capacity(a.signals.len());
            for (si, s) in a.signals.iter().enumerate() {
                let id = store.register_series(&Plant::series_key(&a.id, &s.name))?;
                signals.insert(s.name.clone(), (si as u32, id));
                ids.push(id);
            }
            assets.insert(a.id.clone(), (ai as u32, signals));
            series.push(ids);
        }
        Ok(Catalog {
            plant,
            assets,
            series,
            max_future_ns: MAX_FUTURE_NS,
        })
    }

    /// How far ahead of the receive clock a sample may be (`i64::MAX`: no limit, e.g. for a
    /// simulator running faster than real time).
    pub fn set_max_future_ns(&mut self, ns: i64) {
        self.max_future_ns = ns;
    }

    pub fn plant(&self) -> &Arc<Plant> {
        &self.plant
    }

    /// Series of `asset`/`signal` by index.
    pub fn series(&self, asset: usize, signal: usize) -> Option<SeriesId> {
        self.series.get(asset)?.get(signal).copied()
    }

    /// Indexes of an asset and one of its signals, by name.
    pub fn lookup(&self, asset: &str, signal: &str) -> Option<(u32, u32, SeriesId)> {
        let (ai, signals) = self.assets.get(asset)?;
        let (si, id) = signals.get(signal)?;
        Some((*ai, *si, *id))
    }

    /// Checks and converts one sample. `receive_ns` bounds timestamps from the future.
    pub fn resolve(&self, raw: &RawSample, receive_ns: i64) -> Result<ResolvedSample, Rejected> {
        let reject = |field: &str, reason: String| Rejected {
            field: field.to_string(),
            reason,
        };
        let Some((ai, signals)) = self.assets.get(&raw.asset) else {
            return Err(reject("asset", format!("unknown asset '{}': it is not in the plant file", raw.asset)));
        };
        let asset = &self.plant.assets[*ai as usize];
        let Some(&(si, series)) = signals.get(&raw.signal) else {
            return Err(reject(
                "signal",
                format!("asset '{}' (type {}) has no signal '{}'", raw.asset, asset.type_id, raw.signal),
            ));
        };
        let signal = &asset.signals[si as usize];
        let Some(value) = raw.value else {
            return Err(reject("value", "value is null".into()));
        };
        let value = match &raw.unit {
            None => value,
            Some(u) => {
                let from = units::lookup(u).map_err(|e| reject("unit", e.to_string()))?;
                from.convert(value, &signal.unit).map_err(|e| reject("unit", e.to_string()))?
            }
        };
        if !value.is_finite() {
            return Err(reject("value", format!("{value} is not a finite number")));
        }
        if !signal.valid.contains(value) {
            return Err(reject(
                "value",
                format!(
                    "{value} {} is outside the physically possible range [{}, {}] of {}/{}",
                    signal.unit, signal.valid.low, signal.valid.high, asset.id, signal.name
                ),
            ));
        }
        match signal.kind {
            SignalKind::Counter if value < 0.0 => return Err(reject("value", format!("counter {} cannot be negative ({value})", signal.name))),
            SignalKind::State if value.fract() != 0.0 || value < 0.0 || value as usize >= signal.states.len() => {
                return Err(reject(
                    "value",
                    format!("{value} is not a state index of {} (0..{})", signal.name, signal.states.len()),
                ));
            }
            _ => {}
        }
        if raw.ts_ns < MIN_TS_NS {
            return Err(reject(
                "ts",
                format!("{} is before 1990: is the device clock set?", time::format_rfc3339(raw.ts_ns)),
            ));
        }
        if raw.ts_ns > receive_ns.saturating_add(self.max_future_ns) {
            let hours = self.max_future_ns as f64 / (3600.0 * time::NANOS_PER_SEC as f64);
            return Err(reject(
                "ts",
                format!("{} is more than {hours} h ahead of the server clock", time::format_rfc3339(raw.ts_ns)),
            ));
        }
        Ok(ResolvedSample {
            asset: *ai,
            signal: si,
            series,
            ts_ns: raw.ts_ns,
            value,
        })
    }
}
