//! `doppel`: command-line glue over the library crates. `main` only parses and dispatches.

mod bench;
mod diagnose;
mod learn;
mod line;
mod linebench;
mod plantfleet;
mod policy;
mod publisher;
mod query;
mod recording;
mod simrun;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use doppel_model::Plant;
use doppel_server::{MqttMode, ServerConfig};

/// Failure-probability horizon of the demo, hours of (accelerated) running time: at the default wear
/// acceleration of 2000 this is about 12 days of real wear.
const DEMO_HORIZON_H: f64 = 0.15;

/// The example plant shipped with doppel (used when no --plant is given).
pub const EXAMPLE_PLANT: &str = include_str!("../../../plants/example.toml");

#[derive(Parser)]
#[command(
    name = "doppel",
    version,
    about = "doppel — a digital twin for manufacturing",
    long_about = "doppel — a digital twin for manufacturing.\n\nIt ingests sensor data (MQTT, HTTP), puts it in context (plant model, units, product, batch), stores it durably, keeps a live twin of every asset (envelopes, alerts, operating state, OEE) and serves it over a REST API and a live stream.\n\nQuick start: `doppel demo` runs a simulated factory with everything embedded; open the printed URL."
)]
struct Cli {
    /// Log filter (tracing env-filter syntax), e.g. "info" or "doppel_ingest=debug".
    #[arg(long, global = true, env = "DOPPEL_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo: embedded MQTT broker + store + simulated plant + API server, on one machine.
    Demo(DemoArgs),
    /// Run the twin server for a plant: store, MQTT ingest (embedded broker or external), API.
    Serve(ServeArgs),
    /// Simulate a plant and publish its data over MQTT (and write the ground-truth log).
    Sim(simrun::SimArgs),
    /// Validate a plant file and print a summary, or every error with file, line and field.
    Check(CheckArgs),
    /// Read stored data from a data directory (the server must not be running on it).
    Query(query::QueryArgs),
    /// Benchmarks (store ingest vs PostgreSQL COPY, history query, MQTT end-to-end path, vibration signal processing,
    /// maintenance policies, the planner, line what-if speed, traceability).
    Bench(bench::BenchArgs),
    /// Diagnose a vibration recording (.npz/.npy/.csv): bearing defect, unbalance or misalignment, ISO 10816-3 zone.
    Diagnose(diagnose::DiagnoseArgs),
    /// Predictive models: RUL on NASA C-MAPSS; train, evaluate and list the plant's models (RUL with interval,
    /// failure probability, health index, anomaly detection).
    Learn(learn::LearnArgs),
    /// The audit log of decisions and actions (approvals, automatic actions, commands, work orders).
    Audit(AuditArgs),
    /// Line, product and factory twins on a plant file, offline: simulate a line, what-if with confidence
    /// intervals, order sequencing, energy, factory scenarios; root cause from a stopped server's genealogy.
    Line(line::LineArgs),
}

#[derive(Args, Clone)]
struct ServerArgs {
    /// HTTP port of the API.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on (HTTP and the embedded MQTT broker). The API has no authentication
    /// yet, so only loopback is allowed unless --allow-remote is given.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// Allow listening on a non-loopback address although the API is not authenticated.
    #[arg(long)]
    allow_remote: bool,
    /// Where the store (WAL, Parquet segments) lives.
    #[arg(long, default_value = "doppel-data")]
    data_dir: PathBuf,
    /// Port of the embedded MQTT broker (default 1883, or a free port if 1883 is taken).
    #[arg(long, conflicts_with_all = ["mqtt_url", "no_mqtt"])]
    mqtt_port: Option<u16>,
    /// Connect to this external MQTT broker instead of running the embedded one (mqtt://host:port).
    #[arg(long, conflicts_with = "no_mqtt")]
    mqtt_url: Option<String>,
    /// Do not ingest over MQTT (HTTP ingest only).
    #[arg(long)]
    no_mqtt: bool,
    /// MQTT client id of the ingest session (the broker keeps a persistent session under it).
    #[arg(long, default_value = "doppel-ingest")]
    mqtt_client_id: String,
    /// MQTT ingest sessions sharing the stream (a shared subscription, `$share/<client id>/doppel/v1/#`).
    /// Each has its own window of unacknowledged messages; more sessions = more throughput, but
    /// messages of one topic may then be processed out of publish order (the store still keeps the
    /// last value written per timestamp, but which of two different values sent for the same
    /// timestamp wins is then no longer deterministic).
    #[arg(long, default_value_t = 1)]
    mqtt_sessions: usize,
    /// Delete stored data older than this many days.
    #[arg(long)]
    retention_days: Option<u64>,
    /// Quarantine samples stamped more than this many hours ahead of the server clock (device
    /// clock errors); 0 = no limit. The demo lifts the limit when --speed > 1.
    #[arg(long, default_value_t = 24)]
    max_future_hours: u64,
    /// Horizon of the failure probability the predictive models report, hours of running time (default:
    /// each asset type's `predict.horizon_h` in the plant file).
    #[arg(long)]
    prediction_horizon_h: Option<f64>,
    /// Business data for the prescriptive planner (TOML: lines and downtime costs, orders, crews, spare parts,
    /// downtime windows, maintenance facts per asset type, guardrails; see docs/plan.md). The demo uses
    /// plants/example-business.toml on its accelerated clock; serve plans nothing without it until
    /// PUT /api/business.
    #[arg(long)]
    business: Option<PathBuf>,
    /// Seconds between re-optimisations of the maintenance plan (a change of orders or inventory re-plans at once).
    #[arg(long, default_value_t = 60.0)]
    plan_every_s: f64,
    /// Planning slot (a shift), hours (the demo divides it by its wear acceleration).
    #[arg(long, default_value_t = 8.0)]
    plan_slot_h: f64,
    /// Planning horizon, hours (the demo divides it by its wear acceleration).
    #[arg(long, default_value_t = 336.0)]
    plan_horizon_h: f64,
    /// Webhook (http://) that receives work orders as they are scheduled, started and completed (a CMMS).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Do not run the production twin (the line simulation in step with the plant that records every unit's
    /// genealogy under {data-dir}/trace; docs/line.md).
    #[arg(long)]
    no_production: bool,
    /// Seed of the production twin's line simulation.
    #[arg(long, default_value_t = 1)]
    production_seed: u64,
    /// Units kept in the in-memory genealogy index (older ones stay on disk, not indexed). About 250 bytes per
    /// unit of a four-station line.
    #[arg(long, default_value_t = 2_000_000)]
    trace_max_units: usize,
    /// Shortest production chunk, seconds of plant time: the line is simulated up to the plant's clock once it
    /// is this far ahead of the last chunk.
    #[arg(long, default_value_t = 60.0)]
    production_chunk_s: f64,
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Plant file to simulate (default: the bundled example plant, plants/example.toml).
    #[arg(long)]
    plant: Option<PathBuf>,
    /// Random seed of the simulator (same seed, same plant history).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Simulated seconds per real second. Above 1 the plant's clock runs ahead of the wall clock
    /// (its timestamps are in the future; query history with explicit start/end).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Time scale of degradation (1 = realistic months to failure; the demo default makes
    /// faults develop within tens of minutes).
    #[arg(long, default_value_t = 2000.0)]
    wear_acceleration: f64,
    /// Ground-truth log (JSON lines of fault onsets, failures, repairs, mode changes).
    #[arg(long)]
    truth_log: Option<PathBuf>,
    /// Simulated seconds between two vibration frames of each accelerometer (0 = none). Short in the demo so
    /// the accelerated faults are seen developing.
    #[arg(long, default_value_t = 10.0)]
    waveform_every_s: f64,
    /// Do not train predictive models in the background when the data directory has none (the twins then
    /// show no RUL, failure probability or anomaly score until `doppel learn train` registers a model).
    #[arg(long)]
    no_training: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Plant file (TOML).
    #[arg(long)]
    plant: PathBuf,
}

#[derive(Args)]
struct AuditArgs {
    #[command(subcommand)]
    what: AuditCommand,
}

#[derive(clap::Subcommand)]
enum AuditCommand {
    /// Checks the hash chain of {data-dir}/audit/audit.log: every record's hash and its link to the one before.
    /// Exits 1 naming the first bad line when a record was changed, inserted, removed or reordered.
    Verify {
        /// Data directory of the server.
        #[arg(long, default_value = "doppel-data")]
        data_dir: PathBuf,
    },
    /// Prints the audit records as JSON lines (from --since, a sequence number).
    Show {
        #[arg(long, default_value = "doppel-data")]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 0)]
        since: u64,
    },
}

fn audit(a: &AuditArgs) -> Result<()> {
    match &a.what {
        AuditCommand::Verify { data_dir } => {
            let path = data_dir.join("audit").join("audit.log");
            match doppel_store::audit::verify(&path) {
                Ok(r) => {
                    println!("{}: {} records, hash chain intact (last hash {})", path.display(), r.records, r.last_hash);
                    println!("keep the last hash elsewhere to detect records removed from the end");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    std::process::exit(1);
                }
            }
        }
        AuditCommand::Show { data_dir, since } => {
            let path = data_dir.join("audit").join("audit.log");
            for r in doppel_store::audit::read(&path).with_context(|| format!("cannot read {}", path.display()))? {
                if r.seq >= *since {
                    println!("{}", serde_json::to_string(&r)?);
                }
            }
            Ok(())
        }
    }
}

#[derive(Args)]
struct CheckArgs {
    /// Plant file to validate.
    plant: PathBuf,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).context("--log is not a valid filter")?)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Check(a) => check(&a),
        Command::Query(a) => query::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Diagnose(a) => diagnose::run(a),
        Command::Learn(a) => learn::run(a),
        Command::Audit(a) => audit(&a),
        Command::Line(a) => line::run(a),
        Command::Sim(a) => runtime()?.block_on(simrun::run(a)),
        Command::Serve(a) => runtime()?.block_on(serve(a)),
        Command::Demo(a) => runtime()?.block_on(demo(a)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Loads a plant file, or the bundled example.
pub fn load_plant(path: Option<&PathBuf>) -> Result<Arc<Plant>> {
    let plant = match path {
        Some(p) => Plant::load(p)?,
        None => Plant::parse(EXAMPLE_PLANT, "plants/example.toml (bundled)")?,
    };
    Ok(Arc::new(plant))
}

fn check(a: &CheckArgs) -> Result<()> {
    match Plant::load(&a.plant) {
        Ok(p) => {
            let lines = p.lines().count();
            println!(
                "{}: ok — enterprise '{}', {} site(s), {} line(s), {} asset type(s), {} assets, {} signals",
                a.plant.display(),
                p.enterprise,
                p.sites.len(),
                lines,
                p.asset_types.len(),
                p.assets.len(),
                p.assets.iter().map(|x| x.signals.len()).sum::<usize>()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

fn server_config(plant: Arc<Plant>, a: &ServerArgs) -> Result<ServerConfig> {
    if !a.listen.is_loopback() && !a.allow_remote {
        bail!(
            "refusing to listen on {} without authentication: the API and broker are open. Use --listen 127.0.0.1, or --allow-remote if this network is trusted",
            a.listen
        );
    }
    let mqtt = if a.no_mqtt {
        MqttMode::Disabled
    } else if let Some(url) = &a.mqtt_url {
        MqttMode::External { url: url.clone() }
    } else {
        let port = match a.mqtt_port {
            Some(p) => p,
            None => free_port_or(a.listen, 1883)?,
        };
        MqttMode::Embedded {
            listen: SocketAddr::new(a.listen, port),
        }
    };
    Ok(ServerConfig {
        plant,
        data_dir: a.data_dir.clone(),
        http: SocketAddr::new(a.listen, a.port),
        mqtt,
        mqtt_client_id: a.mqtt_client_id.clone(),
        mqtt_sessions: a.mqtt_sessions.max(1),
        retention: a.retention_days.map(|d| std::time::Duration::from_secs(d * 86_400)),
        max_future: (a.max_future_hours > 0).then(|| std::time::Duration::from_secs(a.max_future_hours * 3600)),
        prediction_horizon: match a.prediction_horizon_h {
            Some(h) if h > 0.0 && h.is_finite() => Some(std::time::Duration::from_secs_f64(h * 3600.0)),
            Some(h) => bail!("--prediction-horizon-h must be a positive number of hours, not {h}"),
            None => None,
        },
        business: match &a.business {
            Some(p) => Some(doppel_plan::Business::load(p)?),
            None => None,
        },
        plan: plan_settings(a, 1.0)?,
        webhook_url: a.webhook_url.clone(),
        production: production_settings(a, 1.0)?,
    })
}

/// Production twin settings from the command line; `business_clock`: the factor the business data was
/// accelerated by (the demo's maintenance clock), 1 for a real plant.
fn production_settings(a: &ServerArgs, business_clock: f64) -> Result<doppel_server::production::ProductionSettings> {
    if !(a.production_chunk_s.is_finite() && a.production_chunk_s >= 1.0 && a.production_chunk_s <= 3600.0) {
        bail!("--production-chunk-s must be between 1 and 3600, not {}", a.production_chunk_s);
    }
    if a.trace_max_units == 0 {
        bail!("--trace-max-units must be at least 1");
    }
    Ok(doppel_server::production::ProductionSettings {
        enabled: !a.no_production,
        seed: a.production_seed,
        max_indexed_units: a.trace_max_units,
        min_chunk_s: a.production_chunk_s,
        business_clock,
        ..Default::default()
    })
}

/// Planner settings from the command line, on a clock `accel` times faster than real time.
fn plan_settings(a: &ServerArgs, accel: f64) -> Result<doppel_server::prescribe::PlanSettings> {
    for (name, v) in [
        ("--plan-every-s", a.plan_every_s),
        ("--plan-slot-h", a.plan_slot_h),
        ("--plan-horizon-h", a.plan_horizon_h),
    ] {
        if !(v.is_finite() && v > 0.0) {
            bail!("{name} must be a positive number, not {v}");
        }
    }
    if a.plan_horizon_h < a.plan_slot_h {
        bail!("--plan-horizon-h ({}) must be at least --plan-slot-h ({})", a.plan_horizon_h, a.plan_slot_h);
    }
    Ok(doppel_server::prescribe::PlanSettings {
        config: doppel_plan::PlanConfig {
            slot_h: a.plan_slot_h / accel,
            horizon_h: a.plan_horizon_h / accel,
        },
        every: std::time::Duration::from_secs_f64(a.plan_every_s),
        solve: doppel_plan::SolveOptions {
            exact_max_binaries: 400,
            exact_time_limit_s: 2.0,
            local_time_limit_s: 2.0,
        },
        rul_scale: 1.0,
    })
}

/// The example plant's business data (plants/example-business.toml), bundled.
const EXAMPLE_BUSINESS: &str = include_str!("../../../plants/example-business.toml");

/// `preferred` if it is free, else a free port chosen by the OS.
fn free_port_or(ip: IpAddr, preferred: u16) -> Result<u16> {
    if std::net::TcpListener::bind((ip, preferred)).is_ok() {
        return Ok(preferred);
    }
    let l = std::net::TcpListener::bind((ip, 0)).context("no free port for the embedded MQTT broker")?;
    Ok(l.local_addr()?.port())
}

async fn serve(a: ServeArgs) -> Result<()> {
    let plant = load_plant(Some(&a.plant))?;
    let running = doppel_server::start(server_config(plant, &a.server)?).await?;
    announce(&running);
    shutdown_signal().await;
    Ok(())
}

async fn demo(a: DemoArgs) -> Result<()> {
    let plant = load_plant(a.plant.as_ref())?;
    let mut config = server_config(plant.clone(), &a.server)?;
    if a.speed > 1.0 {
        // The simulated clock runs ahead of the wall clock: accept its future timestamps.
        config.max_future = None;
    }
    if config.prediction_horizon.is_none() {
        // Wear runs `wear_acceleration` times faster than real time: a horizon of minutes here is days of real wear.
        config.prediction_horizon = Some(std::time::Duration::from_secs_f64(DEMO_HORIZON_H * 3600.0));
    }
    // The planner runs on the demo's accelerated clock: shifts, repairs, lead times and due dates shrink by the
    // wear acceleration (costs per hour grow by it), and it re-plans every few seconds.
    let mut business = match &a.server.business {
        Some(p) => doppel_plan::Business::load(p)?,
        None => doppel_plan::Business::parse_toml(EXAMPLE_BUSINESS).context("bundled plants/example-business.toml")?,
    };
    // At --speed s the simulated clock also runs s times faster than the planner's wall clock.
    let speed = if a.speed > 0.0 { a.speed } else { 1.0 };
    let clock = a.wear_acceleration * speed;
    business.accelerate(clock);
    config.business = Some(business);
    config.plan = plan_settings(&a.server, clock)?;
    config.plan.rul_scale = speed;
    // business due dates and work orders are on that clock; the production twin converts them to plant time
    config.production = production_settings(&a.server, clock)?;
    if a.server.plan_every_s == 60.0 {
        config.plan.every = std::time::Duration::from_secs(5);
    }
    let running = doppel_server::start(config).await?;
    announce(&running);
    if !a.no_training {
        // The twins predict once models exist: train them from a simulated fleet history in the background
        // (first run only; the server picks up the registered version within seconds).
        let (plant_path, dir, wear, seed) = (a.plant.clone(), a.server.data_dir.clone(), a.wear_acceleration, a.seed);
        std::thread::spawn(move || match learn::ensure_demo_models(plant_path.as_ref(), &dir, wear, seed) {
            Ok(v) => tracing::info!(version = v, "predictive models ready"),
            Err(e) => tracing::error!(error = %e, "predictive models could not be trained"),
        });
    }
    let mqtt = running.mqtt_addr.context("the demo needs the embedded MQTT broker")?;
    let sim = simrun::SimArgs {
        plant: a.plant.clone(),
        mqtt_url: format!("mqtt://{mqtt}"),
        seed: a.seed,
        speed: a.speed,
        duration: None,
        wear_acceleration: a.wear_acceleration,
        truth_log: Some(a.truth_log.clone().unwrap_or_else(|| a.server.data_dir.join("ground-truth.jsonl"))),
        client_id: "doppel-sim".into(),
        start: None,
        no_progress: true,
        waveform_every_s: a.waveform_every_s,
        waveform_frame_s: 1.0,
    };
    tokio::select! {
        r = simrun::run(sim) => r?,
        _ = shutdown_signal() => {}
    }
    Ok(())
}

fn announce(r: &doppel_server::Running) {
    println!(
        "doppel is running: http://{}/  (API: http://{}/api/assets, spec: /api/openapi.json, live: /api/stream)",
        r.http_addr, r.http_addr
    );
    if let Some(m) = r.mqtt_addr {
        println!("embedded MQTT broker: mqtt://{m}  (topics: doppel/v1/data/<asset>, doppel/v1/context/<line>; see docs/mqtt.md)");
    }
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
