//! Predictive models in the running server: the newest version of [`doppel_twin::predict::MODEL_NAME`] in the
//! model registry (`{data_dir}/models`) is loaded at start and whenever a newer one is registered (checked
//! every few seconds), so `doppel learn train` — or the demo's background training — takes effect without a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use doppel_store::{ModelRegistry, ModelVersion};
use doppel_twin::predict::{MODEL_NAME, PlantModels};
use serde::Serialize;

use crate::AppState;

/// How often the registry is checked for a newer version.
const WATCH_EVERY: Duration = Duration::from_secs(3);

/// The model version the twins use.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedModel {
    pub name: String,
    pub version: u32,
    /// The metadata registered with it (training data, metrics, date).
    pub meta: serde_json::Value,
    /// Asset types it predicts.
    pub asset_types: Vec<String>,
}

fn load(state: &AppState, registry: &ModelRegistry, v: &ModelVersion) -> Result<LoadedModel, String> {
    let bytes = registry.artefact(v).map_err(|e| e.to_string())?;
    let models: PlantModels = serde_json::from_slice(&bytes).map_err(|e| format!("model artefact is not readable: {e}"))?;
    let asset_types: Vec<String> = models.types.keys().cloned().collect();
    for p in state.predict.lock().set_models(&state.plant, models) {
        tracing::warn!(asset_type = %p.asset, reason = %p.reason, "predictive model not used");
    }
    Ok(LoadedModel {
        name: v.name.clone(),
        version: v.version,
        meta: serde_json::from_str(&v.meta).unwrap_or(serde_json::Value::Null),
        asset_types,
    })
}

/// Loads the newest version if it is newer than the one in use.
pub fn load_latest(state: &AppState, registry: &ModelRegistry) {
    let latest = match registry.latest(MODEL_NAME) {
        Ok(Some(v)) => v,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the model registry");
            return;
        }
    };
    if state.model.lock().as_ref().is_some_and(|m| m.version >= latest.version) {
        return;
    }
    match load(state, registry, &latest) {
        Ok(m) => {
            tracing::info!(version = m.version, types = ?m.asset_types, "predictive models loaded");
            *state.model.lock() = Some(m);
        }
        Err(e) => tracing::warn!(version = latest.version, error = %e, "predictive models not loaded"),
    }
}

/// Checks the registry for newer versions until the runtime stops.
pub async fn watch(state: Arc<AppState>, registry: ModelRegistry) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    loop {
        every.tick().await;
        let (s, r) = (state.clone(), registry.clone());
        let _ = tokio::task::spawn_blocking(move || load_latest(&s, &r)).await;
    }
}
