//! # doppel-server
//!
//! The twin server: opens the store, starts the embedded MQTT broker (or connects to an external
//! one), runs the ingest pipeline and the live twin runtime, and serves the REST API under `/api/`,
//! the live stream (`/api/stream`, Server-Sent Events) and the OpenAPI spec (`/api/openapi.json`).
//!
//! Data flow: source → [`doppel_ingest::Ingestor`] → store (durable) → [`live`] task →
//! [`doppel_twin::TwinRuntime`] → twin events (stored, and broadcast to the live stream).
//! [`app`] builds the router from an [`AppState`] so tests can call it in-process.

pub mod api;
pub mod line_api;
pub mod live;
pub mod models;
pub mod overview;
pub mod plan_api;
pub mod prescribe;
pub mod web;
pub mod production;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use doppel_ingest::Ingestor;
use doppel_ingest::mqtt::{BrokerSettings, ClientSettings, EmbeddedBroker, MqttStats};
use doppel_model::{Plant, time};
use doppel_store::{Store, StoreConfig};
use doppel_twin::TwinRuntime;
use parking_lot::Mutex;
use tokio::sync::broadcast;

pub use api::app;

/// Errors of starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("store: {0}")]
    Store(#[from] doppel_store::StoreError),
    #[error("ingest: {0}")]
    Ingest(#[from] doppel_ingest::IngestError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Config(String),
}

/// How the server receives MQTT.
#[derive(Debug, Clone)]
pub enum MqttMode {
    /// Run the embedded broker on this address and ingest from it.
    Embedded { listen: SocketAddr },
    /// Connect to an external broker (`mqtt://host:port`).
    External { url: String },
    /// No MQTT (HTTP ingest only).
    Disabled,
}

/// Everything `doppel serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub plant: Arc<Plant>,
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub mqtt: MqttMode,
    /// MQTT client id of the ingest session (persistent session key on the broker).
    pub mqtt_client_id: String,
    /// Ingest sessions sharing the stream through a shared subscription (`$share/...`); 1 = one
    /// ordinary subscription. Each session has its own window of unacknowledged messages, which
    /// matters because acknowledgement waits for the disk.
    pub mqtt_sessions: usize,
    /// Delete stored data older than this.
    pub retention: Option<Duration>,
    /// Reject samples stamped further than this ahead of the server clock (None: no limit).
    pub max_future: Option<Duration>,
    /// Horizon of the failure probability, overriding the plant file's `predict.horizon_h` (None: keep it).
    pub prediction_horizon: Option<Duration>,
    /// Business data for the prescriptive planner (None: no plans until `PUT /api/business`).
    pub business: Option<doppel_plan::Business>,
    /// Planner settings (slot, horizon, re-optimisation period, solver limits).
    pub plan: prescribe::PlanSettings,
    /// Webhook (a CMMS) that receives work orders as they change state.
    pub webhook_url: Option<String>,
    /// The production twin (line simulation in step with the plant, genealogy under `{data_dir}/trace`).
    pub production: production::ProductionSettings,
}

/// Shared state of the running server.
pub struct AppState {
    pub plant: Arc<Plant>,
    pub store: Arc<Store>,
    pub ingestor: Arc<Ingestor>,
    pub twins: Mutex<TwinRuntime>,
    /// JSON texts of live events (`{"type": ..., ...}`).
    pub live: broadcast::Sender<Arc<str>>,
    pub mqtt: Arc<MqttStats>,
    pub started_ns: i64,
    /// Samples applied to the live twins (after they were durable).
    pub applied_samples: std::sync::atomic::AtomicU64,
    /// Online scoring of the predictive models.
    pub predict: Mutex<doppel_twin::predict::PredictionEngine>,
    /// The model version in use, if any.
    pub model: Mutex<Option<models::LoadedModel>>,
    /// Plans, recommendations, work orders, executed actions and the audit log.
    pub prescribe: Mutex<prescribe::Prescriber>,
    /// Energy per unit of each line (from the store, recomputed every few seconds; see [`overview`]).
    pub energy: Mutex<overview::EnergyCache>,
    /// The production twin: simulated production of every line, genealogy and traceability.
    pub production: production::Production,
}

/// A running server; dropping it does not stop the tasks (they end with the runtime).
pub struct Running {
    pub state: Arc<AppState>,
    pub http_addr: SocketAddr,
    pub mqtt_addr: Option<SocketAddr>,
}

/// Opens the store and builds the state without any network (used by tests and `serve`).
pub fn build_state(
    plant: Arc<Plant>,
    store: Arc<Store>,
    max_future: Option<Duration>,
) -> Result<(Arc<AppState>, tokio::sync::mpsc::UnboundedReceiver<doppel_ingest::Committed>), ServerError> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let max_future_ns = max_future.map_or(i64::MAX, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let ingestor = Arc::new(Ingestor::new(plant.clone(), store.clone(), tx, max_future_ns)?);
    let now = time::now();
    let mut twins = TwinRuntime::new(plant.clone(), now);
    live::restore_twins(&mut twins, &ingestor)?;
    let mut predict = doppel_twin::predict::PredictionEngine::new(&plant, None);
    live::restore_predictions(&mut predict, &ingestor)?;
    let (live, _) = broadcast::channel(4096);
    let prod = production::Production::new(plant.clone());
    let state = Arc::new(AppState {
        plant,
        store,
        ingestor,
        twins: Mutex::new(twins),
        live,
        mqtt: Arc::new(MqttStats::default()),
        started_ns: now,
        applied_samples: Default::default(),
        predict: Mutex::new(predict),
        model: Mutex::new(None),
        prescribe: Mutex::new(prescribe::Prescriber::new(doppel_plan::Business::default(), prescribe::PlanSettings::default())),
        energy: Mutex::new(overview::EnergyCache::default()),
        production: prod,
    });
    Ok((state, rx))
}

/// Starts everything: store, MQTT, twins, HTTP. Must run inside a multi-threaded tokio runtime.
pub async fn start(config: ServerConfig) -> Result<Running, ServerError> {
    // Bind first: a taken port should fail before anything else starts.
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| ServerError::Listen { addr: config.http, source })?;
    let http_addr = listener.local_addr().map_err(|source| ServerError::Listen { addr: config.http, source })?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| ServerError::Config(format!("cannot create data directory {}: {e}", config.data_dir.display())))?;
    let store_dir = config.data_dir.join("store");
    let store = tokio::task::spawn_blocking(move || Store::open(StoreConfig::new(store_dir).with_retention(config.retention)))
        .await
        .map_err(|e| ServerError::Config(e.to_string()))??;
    let store = Arc::new(store);
    let (state, committed) = build_state(config.plant.clone(), store, config.max_future)?;
    if let Some(h) = config.prediction_horizon {
        state.predict.lock().set_horizon(h.as_secs_f64());
    }
    let registry = doppel_store::ModelRegistry::open(config.data_dir.join("models"))?;
    models::load_latest(&state, &registry);
    tokio::spawn(models::watch(state.clone(), registry));
    tokio::spawn(live::run_twins(state.clone(), committed));
    tokio::spawn(live::run_ticks(state.clone()));
    tokio::spawn(overview::run(state.clone()));
    let audit_dir = config.data_dir.join("audit");
    let audit = tokio::task::spawn_blocking(move || doppel_store::audit::AuditLog::open(audit_dir.join("audit.log")))
        .await
        .map_err(|e| ServerError::Config(e.to_string()))?
        .map_err(|e| ServerError::Config(format!("audit log: {e}")))?;
    let webhook = match &config.webhook_url {
        Some(u) => Some(doppel_ingest::webhook::Webhook::new(u, Duration::from_secs(5), 5).map_err(|e| ServerError::Config(format!("--webhook-url: {e}")))?),
        None => None,
    };
    let (commands_tx, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    {
        let mut p = state.prescribe.lock();
        p.settings = config.plan.clone();
        if let Some(b) = config.business.clone() {
            p.set_business(b, time::now(), "system")
                .map_err(|e| ServerError::Config(format!("business data: {e}")))?;
        }
        let adapter = (!matches!(config.mqtt, MqttMode::Disabled)).then_some(commands_tx);
        p.connect(adapter, webhook, Some(audit));
    }
    tokio::spawn(prescribe::run(state.clone()));
    if config.production.enabled {
        // Rebuilding the genealogy index can take seconds: the server answers meanwhile (genealogy: 503).
        let (st, dir, mut settings) = (state.clone(), config.data_dir.join("trace"), config.production.clone());
        settings.retention = settings.retention.or(config.retention);
        tokio::spawn(async move {
            let s2 = st.clone();
            match tokio::task::spawn_blocking(move || s2.production.open(&dir, settings)).await {
                Ok(Ok(_)) => production::run(st).await,
                Ok(Err(e)) => tracing::error!(error = %e, "production twin not started"),
                Err(e) => tracing::error!(error = %e, "production twin not started"),
            }
        });
    }

    let mqtt_addr = match &config.mqtt {
        MqttMode::Embedded { listen } => {
            let settings = BrokerSettings {
                listen: *listen,
                ..Default::default()
            };
            let broker = tokio::task::spawn_blocking(move || EmbeddedBroker::start(&settings))
                .await
                .map_err(|e| ServerError::Config(e.to_string()))??;
            let url = format!("mqtt://{}", broker.addr);
            spawn_mqtt_clients(&state, &url, &config.mqtt_client_id, config.mqtt_sessions);
            tokio::spawn(prescribe::run_command_adapter(
                state.clone(),
                url,
                format!("{}-commands", config.mqtt_client_id),
                commands_rx,
            ));
            Some(broker.addr)
        }
        MqttMode::External { url } => {
            doppel_ingest::mqtt::parse_mqtt_url(url)?;
            spawn_mqtt_clients(&state, url, &config.mqtt_client_id, config.mqtt_sessions);
            tokio::spawn(prescribe::run_command_adapter(
                state.clone(),
                url.clone(),
                format!("{}-commands", config.mqtt_client_id),
                commands_rx,
            ));
            None
        }
        MqttMode::Disabled => {
            drop(commands_rx);
            None
        }
    };
    if !matches!(config.mqtt, MqttMode::Disabled) {
        // Publishers started right after us must not race our subscription.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !state.mqtt.subscribed.load(std::sync::atomic::Ordering::Relaxed) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !state.mqtt.subscribed.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!("MQTT subscription not confirmed yet; continuing (the client keeps retrying)");
        }
    }

    let router = app(state.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    tracing::info!(http = %http_addr, mqtt = ?mqtt_addr, assets = state.plant.assets.len(), "doppel server running");
    Ok(Running { state, http_addr, mqtt_addr })
}

fn spawn_mqtt_clients(state: &Arc<AppState>, url: &str, client_id: &str, sessions: usize) {
    let sessions = sessions.max(1);
    for k in 0..sessions {
        let mut s = ClientSettings::new(url, if sessions == 1 { client_id.to_string() } else { format!("{client_id}-{k}") });
        if sessions > 1 {
            s.filter = doppel_ingest::mqtt::shared_filter(client_id);
        }
        spawn_mqtt_client(state, s);
    }
}

fn spawn_mqtt_client(state: &Arc<AppState>, settings: ClientSettings) {
    let ingestor = state.ingestor.clone();
    let stats = state.mqtt.clone();
    tokio::spawn(async move {
        if let Err(e) = doppel_ingest::mqtt::run_ingest_client(settings, ingestor, stats).await {
            tracing::error!(error = %e, "MQTT ingest stopped");
        }
    });
}
