//! `doppel sim`: runs the plant simulator and publishes its readings over MQTT using the topic
//! scheme of docs/mqtt.md, paced to `--speed` × real time, with a ground-truth log.
//!
//! It also executes commands (docs/mqtt.md, "Commands"): a second MQTT connection subscribes to
//! `doppel/v1/command/+` and hands each message over a channel to the stepping loop, which applies it to the
//! simulator between two steps and publishes one acknowledgement on `doppel/v1/command_ack/{asset}`. Receiving
//! commands never waits on the stepping loop, and the stepping loop only polls the channel, so commands do not
//! slow the publishing.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use doppel_ingest::command::{self, AckStatus, Command, CommandAck, CommandAction};
use doppel_model::time;
use doppel_sim::{PlantSim, SimConfig, TruthEvent};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::{Map, Value, json};

#[derive(Args, Clone)]
pub struct SimArgs {
    /// Plant file to simulate (default: the bundled example plant).
    #[arg(long)]
    pub plant: Option<PathBuf>,
    /// MQTT broker to publish to.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt_url: String,
    /// Random seed (same seed and start, same data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated seconds per real second; 0 = as fast as the broker accepts.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Stop after this many simulated seconds (default: run until interrupted).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Degradation time scale (1 = realistic; larger = faults develop faster).
    #[arg(long, default_value_t = 1.0)]
    pub wear_acceleration: f64,
    /// Write the ground truth (fault onsets, failures, repairs, mode changes, changeovers) here as JSON lines.
    #[arg(long)]
    pub truth_log: Option<PathBuf>,
    /// MQTT client id of the publisher.
    #[arg(long, default_value = "doppel-sim")]
    pub client_id: String,
    /// Simulated start time, RFC 3339 (default: now). Fix it for fully reproducible runs.
    #[arg(long)]
    pub start: Option<String>,
    /// Hide the progress bar shown with --duration.
    #[arg(long)]
    pub no_progress: bool,
    /// Simulated seconds between two vibration frames of each accelerometer (waveform signal); 0 = no frames.
    /// Frames go to doppel/v1/wave/{asset}/{signal} as binary DWF1 frames (docs/waveforms.md).
    #[arg(long, default_value_t = 60.0)]
    pub waveform_every_s: f64,
    /// Length of each vibration frame, simulated seconds (samples = length × the signal's rate_hz).
    #[arg(long, default_value_t = 1.0)]
    pub waveform_frame_s: f64,
}

pub async fn run(a: SimArgs) -> Result<()> {
    let plant = crate::load_plant(a.plant.as_ref())?;
    let start_ns = match &a.start {
        Some(s) => time::parse_rfc3339(s).with_context(|| format!("--start '{s}' is not an RFC 3339 time"))?,
        None => time::now(),
    };
    if !(a.speed >= 0.0 && a.speed.is_finite()) {
        anyhow::bail!("--speed must be >= 0");
    }
    let config = SimConfig {
        seed: a.seed,
        start_ns,
        wear_acceleration: a.wear_acceleration,
        initial_wear: a.wear_acceleration > 1.0,
        waveform_every_s: a.waveform_every_s,
        waveform_frame_s: a.waveform_frame_s,
        ..SimConfig::default()
    };
    let step_s = config.step_s;
    let mut sim = PlantSim::new(&plant, config).context("cannot simulate this plant")?;
    let mut truth = match &a.truth_log {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open --truth-log {}", p.display()))?,
        )),
        None => None,
    };

    let publisher = crate::publisher::Publisher::connect(&a.mqtt_url, &a.client_id)?;
    let client = &publisher.client;
    let mut published: u64 = 0;
    let mut listener = CommandListener::start(&a.mqtt_url, &a.client_id)?;
    let mut executor = CommandExecutor::default();

    let steps = a.duration.map(|d| (d / step_s).ceil() as u64);
    let bar = match (steps, a.no_progress) {
        (Some(n), false) => {
            let b = indicatif::ProgressBar::new(n);
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} simulating [{bar:40}] {pos}/{len} s  {per_sec}  eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Some(b)
        }
        _ => None,
    };
    tracing::info!(assets = plant.assets.len(), seed = a.seed, speed = a.speed, url = %a.mqtt_url, "simulator publishing");
    let real_start = Instant::now();
    let mut k: u64 = 0;
    loop {
        if steps.is_some_and(|n| k >= n) {
            break;
        }
        // Commands that arrived since the last step take effect from this step on.
        while let Ok((topic, payload)) = listener.rx.try_recv() {
            let Some(ack) = executor.handle(&mut sim, &topic, &payload) else {
                continue;
            };
            match command::publish_command_ack(client, &ack).await {
                Ok(()) => published += 1,
                Err(e) => tracing::warn!(command = %ack.id, asset = %ack.asset, error = %e, "cannot publish a command acknowledgement"),
            }
        }
        let tick = sim.step();
        k += 1;
        for (line, update) in &tick.context {
            let mut body = serde_json::to_value(update)?;
            if let Value::Object(m) = &mut body {
                m.insert("ts".into(), json!(tick.ts_ns / time::NANOS_PER_MILLI));
            }
            client
                .publish(format!("doppel/v1/context/{line}"), QoS::AtLeastOnce, false, body.to_string())
                .await?;
            published += 1;
        }
        for r in &tick.readings {
            let values: Map<String, Value> = r.values.iter().map(|(s, v)| (s.clone(), json!(v))).collect();
            let body = json!({"ts": tick.ts_ns / time::NANOS_PER_MILLI, "values": values});
            client
                .publish(format!("doppel/v1/data/{}", r.asset), QoS::AtLeastOnce, false, body.to_string())
                .await?;
            published += 1;
        }
        for f in &tick.frames {
            let frame = doppel_model::WaveFrame {
                t0_ns: f.t0_ns,
                sample_rate_hz: f.sample_rate_hz,
                shaft_rpm: Some(f.shaft_rpm),
                samples: f.samples.clone(),
            };
            let bytes =
                doppel_model::wave::encode(&frame, doppel_model::Encoding::F32).with_context(|| format!("encoding a frame of {}/{}", f.asset, f.signal))?;
            client
                .publish(format!("doppel/v1/wave/{}/{}", f.asset, f.signal), QoS::AtLeastOnce, false, bytes)
                .await?;
            published += 1;
        }
        // A completed repair is what a CMMS would report: the twin starts a new life for the asset's models.
        let commanded = executor.take_repairs();
        for t in tick.truth.iter().filter(|t| t.kind == doppel_sim::TruthKind::Repaired) {
            let body = maintenance_body(t, commanded.get(&t.asset));
            client
                .publish(format!("doppel/v1/maintenance/{}", t.asset), QoS::AtLeastOnce, false, body.to_string())
                .await?;
            published += 1;
        }
        if let Some(w) = truth.as_mut() {
            for t in &tick.truth {
                serde_json::to_writer(&mut *w, t)?;
                w.write_all(b"\n")?;
            }
            if !tick.truth.is_empty() {
                w.flush()?;
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
        if a.speed > 0.0 {
            let due = Duration::from_secs_f64(k as f64 * step_s / a.speed);
            let elapsed = real_start.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
    }
    if let Some(b) = bar {
        b.finish();
    }
    // Leave only once the broker acknowledged every QoS 1 publish (or after 30 s).
    let n = publisher.wait_acked(published, Duration::from_secs(30)).await;
    if n < published {
        tracing::warn!(published, acknowledged = n, "broker did not acknowledge every message");
    }
    println!("published {published} messages ({n} acknowledged by the broker) over {k} simulated steps");
    listener.close().await;
    publisher.close().await;
    Ok(())
}

/// The body of the maintenance message for a `Repaired` truth event; `command` is the repair command that
/// caused it, if any, whose work order and id go into the message.
fn maintenance_body(t: &TruthEvent, command: Option<&RepairCommand>) -> Value {
    let mut m = Map::new();
    m.insert("ts".into(), json!(t.ts_ns / time::NANOS_PER_MILLI));
    m.insert("kind".into(), json!("repair"));
    match command {
        Some(c) => {
            m.insert("note".into(), json!(format!("{} (command {})", t.detail, c.id)));
            if let Some(wo) = &c.work_order {
                m.insert("work_order".into(), json!(wo));
            }
        }
        None => {
            m.insert("note".into(), json!(t.detail));
        }
    }
    if let Some(c) = &t.component {
        m.insert("component".into(), json!(c));
    }
    Value::Object(m)
}

/// Capacity of the channel from the command connection to the stepping loop. When it is full the command
/// connection waits (and so does the broker's delivery to it); the stepping loop is never held up.
const COMMAND_QUEUE: usize = 1024;

/// The command connection: its own MQTT client (`{client id}-commands`, clean session, so commands sent while
/// the simulator was away are not replayed) subscribed to `doppel/v1/command/+` at QoS 1, polled by a task
/// that forwards every message into `rx`.
struct CommandListener {
    client: AsyncClient,
    rx: tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl CommandListener {
    fn start(url: &str, client_id: &str) -> Result<CommandListener> {
        let opts = doppel_ingest::mqtt::ClientSettings::new(url, format!("{client_id}-commands")).options(true)?;
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        let (tx, rx) = tokio::sync::mpsc::channel(COMMAND_QUEUE);
        let subscriber = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    // A clean session forgets the subscription: subscribe on every (re)connect.
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Err(e) = subscriber.try_subscribe(command::COMMAND_FILTER, QoS::AtLeastOnce) {
                            tracing::warn!(error = %e, "cannot subscribe to commands");
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => tracing::info!(filter = command::COMMAND_FILTER, "simulator listening for commands"),
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send((p.topic, p.payload.to_vec())).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "MQTT command connection error; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(CommandListener { client, rx, task })
    }

    async fn close(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
    }
}

/// A repair started by a command: its maintenance message names the command and its work order.
#[derive(Debug, Clone, PartialEq)]
struct RepairCommand {
    id: String,
    work_order: Option<String>,
}

/// How many answered command ids are remembered to answer a repeated delivery without applying it again.
const REMEMBERED_COMMANDS: usize = 4096;

/// Applies commands to the simulator and produces their acknowledgements.
#[derive(Default)]
struct CommandExecutor {
    /// Assets stopped by a `stop` command, with the load to restore on `start`.
    stopped: HashMap<String, f64>,
    /// Normal load of assets derated by a `derate` command (restored by a derate of 0).
    normal: HashMap<String, f64>,
    /// Repairs commanded since the last step, by asset (their `Repaired` truth events come in the next tick).
    repairs: HashMap<String, RepairCommand>,
    /// Acknowledgements of recent commands by (asset, id), oldest first in `order`.
    answered: HashMap<(String, String), CommandAck>,
    order: VecDeque<(String, String)>,
}

impl CommandExecutor {
    /// Handles one message from the command topic: applies a readable command and returns its
    /// acknowledgement, answers a repeated id with its first acknowledgement (without applying it again), and
    /// rejects a command that cannot be read if its `id` can be found. `None` when there is no one to answer
    /// (no id, or a topic without a valid asset).
    fn handle(&mut self, sim: &mut PlantSim, topic: &str, payload: &[u8]) -> Option<CommandAck> {
        let now = sim.now_ns();
        let cmd = match command::parse_command(topic, payload) {
            Ok(c) => c,
            Err(e) => {
                let asset = topic.strip_prefix(command::COMMAND_PREFIX).filter(|a| command::command_ack_topic(a).is_ok());
                let (Some(asset), Some(id)) = (asset, command::command_id_of(payload)) else {
                    tracing::warn!(topic, error = %e, "unreadable command without an id or asset; not acknowledged");
                    return None;
                };
                let ack = CommandAck {
                    asset: asset.to_string(),
                    id,
                    status: AckStatus::Rejected,
                    detail: Some(e.to_string()),
                    ts_ns: now,
                };
                tracing::warn!(command = %ack.id, asset, error = %e, "command rejected: unreadable");
                return Some(self.remember(ack));
            }
        };
        let key = (cmd.asset.clone(), cmd.id.clone());
        if let Some(ack) = self.answered.get(&key) {
            tracing::info!(command = %cmd.id, asset = %cmd.asset, "command received again; repeating its acknowledgement");
            return Some(ack.clone());
        }
        let (status, detail) = match self.apply(sim, &cmd) {
            Ok(detail) => (AckStatus::Applied, detail),
            Err(e) => (AckStatus::Rejected, e.to_string()),
        };
        tracing::info!(
            command = %cmd.id,
            asset = %cmd.asset,
            action = cmd.action.name(),
            status = ?status,
            detail = %detail,
            reason = cmd.reason.as_deref().unwrap_or(""),
            "command"
        );
        Some(self.remember(CommandAck {
            asset: cmd.asset,
            id: cmd.id,
            status,
            detail: Some(detail),
            ts_ns: now,
        }))
    }

    fn remember(&mut self, ack: CommandAck) -> CommandAck {
        let key = (ack.asset.clone(), ack.id.clone());
        if self.answered.insert(key.clone(), ack.clone()).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > REMEMBERED_COMMANDS {
            if let Some(old) = self.order.pop_front() {
                self.answered.remove(&old);
            }
        }
        ack
    }

    /// Carries out one command; the text says what changed.
    fn apply(&mut self, sim: &mut PlantSim, cmd: &Command) -> Result<String, doppel_sim::SimError> {
        let asset = cmd.asset.as_str();
        match &cmd.action {
            CommandAction::SetLoad { load } => {
                sim.set_load(asset, *load)?;
                // An explicit load also ends a commanded stop or derate.
                self.stopped.remove(asset);
                self.normal.remove(asset);
                Ok(format!("load set to {load}"))
            }
            CommandAction::Repair { work_order } => {
                sim.repair(asset)?;
                self.repairs.insert(
                    asset.to_string(),
                    RepairCommand {
                        id: cmd.id.clone(),
                        work_order: work_order.clone(),
                    },
                );
                Ok(match work_order {
                    Some(wo) => format!("repaired under work order {wo}"),
                    None => "repaired".to_string(),
                })
            }
            CommandAction::Derate { share } => {
                let normal = match self.normal.get(asset) {
                    Some(l) => *l,
                    None => sim.load(asset)?,
                };
                let load = normal * (1.0 - share);
                sim.set_load(asset, load)?;
                if *share > 0.0 {
                    self.normal.insert(asset.to_string(), normal);
                    Ok(format!("derated by {:.0} %: load {load:.3} of normal {normal:.3}", share * 100.0))
                } else {
                    self.normal.remove(asset);
                    Ok(format!("normal load {normal:.3} restored"))
                }
            }
            CommandAction::Stop => {
                let load = sim.load(asset)?;
                if self.stopped.contains_key(asset) {
                    return Ok("already stopped".to_string());
                }
                sim.set_load(asset, 0.0)?;
                self.stopped.insert(asset.to_string(), load);
                Ok(format!("stopped (load {load} saved)"))
            }
            CommandAction::Start => match self.stopped.get(asset).copied() {
                Some(load) => {
                    sim.set_load(asset, load)?;
                    self.stopped.remove(asset);
                    Ok(format!("started with load {load}"))
                }
                None => Ok(format!("not stopped by a command; load stays {}", sim.load(asset)?)),
            },
        }
    }

    /// The repairs commanded before the step that was just taken (their truth events are in its tick).
    fn take_repairs(&mut self) -> HashMap<String, RepairCommand> {
        std::mem::take(&mut self.repairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim() -> PlantSim {
        let plant = crate::load_plant(None).unwrap();
        PlantSim::new(
            &plant,
            SimConfig {
                seed: 7,
                start_ns: 1_795_600_800_000_000_000,
                waveform_every_s: 0.0,
                ..SimConfig::default()
            },
        )
        .unwrap()
    }

    fn send(ex: &mut CommandExecutor, sim: &mut PlantSim, asset: &str, body: &str) -> Option<CommandAck> {
        ex.handle(sim, &format!("doppel/v1/command/{asset}"), body.as_bytes())
    }

    #[test]
    fn set_load_stop_and_start_drive_the_simulator() {
        let (mut ex, mut sim) = (CommandExecutor::default(), sim());
        sim.step();
        let before = sim.load("l1-hyd-motor").unwrap();
        let ack = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c1","action":"set_load","load":0.5}"#).unwrap();
        assert_eq!((ack.status, ack.id.as_str(), ack.asset.as_str()), (AckStatus::Applied, "c1", "l1-hyd-motor"));
        assert_eq!(ack.ts_ns, sim.now_ns());
        assert_eq!(sim.load("l1-hyd-motor").unwrap(), 0.5);
        assert_ne!(before, 0.5);

        let ack = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c2","action":"stop"}"#).unwrap();
        assert_eq!(ack.status, AckStatus::Applied);
        assert_eq!(sim.load("l1-hyd-motor").unwrap(), 0.0);
        let again = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c3","action":"stop"}"#).unwrap();
        assert_eq!(again.detail.as_deref(), Some("already stopped"));
        let ack = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c4","action":"start"}"#).unwrap();
        assert_eq!(ack.status, AckStatus::Applied);
        assert_eq!(sim.load("l1-hyd-motor").unwrap(), 0.5, "start restores the load from before the stop");
        let ack = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c5","action":"start"}"#).unwrap();
        assert!(ack.detail.unwrap().contains("not stopped"));
    }

    #[test]
    fn bad_commands_are_rejected_with_the_reason() {
        let (mut ex, mut sim) = (CommandExecutor::default(), sim());
        let ack = send(&mut ex, &mut sim, "no-such-asset", r#"{"id":"c1","action":"set_load","load":0.5}"#).unwrap();
        assert_eq!(ack.status, AckStatus::Rejected);
        assert!(ack.detail.unwrap().contains("unknown asset 'no-such-asset'"));
        let ack = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c2","action":"set_load","load":7}"#).unwrap();
        assert_eq!(ack.status, AckStatus::Rejected);
        assert!(ack.detail.unwrap().contains("outside [0, 1.5]"));
        // Unreadable, but with an id: rejected with the parser's message.
        let ack = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c3","action":"fly"}"#).unwrap();
        assert_eq!(ack.status, AckStatus::Rejected);
        assert!(ack.detail.unwrap().contains("field `action`"));
        // Nothing to answer to.
        assert!(send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"action":"stop"}"#).is_none());
        assert!(ex.handle(&mut sim, "doppel/v1/command/", br#"{"id":"c4","action":"stop"}"#).is_none());
    }

    #[test]
    fn a_repeated_id_gets_the_same_answer_without_being_applied_again() {
        let (mut ex, mut sim) = (CommandExecutor::default(), sim());
        let first = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c1","action":"set_load","load":0.5}"#).unwrap();
        sim.set_load("l1-hyd-motor", 0.9).unwrap();
        sim.step();
        let again = send(&mut ex, &mut sim, "l1-hyd-motor", r#"{"id":"c1","action":"set_load","load":0.5}"#).unwrap();
        assert_eq!(again, first);
        assert_eq!(sim.load("l1-hyd-motor").unwrap(), 0.9);
        // The same id for another asset is another command.
        let other = send(&mut ex, &mut sim, "l1-coolant-pump", r#"{"id":"c1","action":"set_load","load":0.5}"#).unwrap();
        assert_eq!(other.asset, "l1-coolant-pump");
        for i in 0..REMEMBERED_COMMANDS + 10 {
            send(&mut ex, &mut sim, "l1-hyd-motor", &format!(r#"{{"id":"n{i}","action":"start"}}"#)).unwrap();
        }
        assert_eq!(ex.answered.len(), REMEMBERED_COMMANDS);
        assert_eq!(ex.order.len(), REMEMBERED_COMMANDS);
    }

    #[test]
    fn a_commanded_repair_names_its_work_order_in_the_maintenance_message() {
        let (mut ex, mut sim) = (CommandExecutor::default(), sim());
        sim.step();
        let ack = send(&mut ex, &mut sim, "l1-coolant-pump", r#"{"id":"c9","action":"repair","work_order":"WO-12"}"#).unwrap();
        assert_eq!(ack.status, AckStatus::Applied);
        let tick = sim.step();
        let commanded = ex.take_repairs();
        let repaired: Vec<&TruthEvent> = tick
            .truth
            .iter()
            .filter(|t| t.kind == doppel_sim::TruthKind::Repaired && t.asset == "l1-coolant-pump")
            .collect();
        assert!(!repaired.is_empty());
        for t in repaired {
            let body = maintenance_body(t, commanded.get(&t.asset));
            assert_eq!(body["work_order"], "WO-12");
            assert_eq!(body["kind"], "repair");
            assert!(body["note"].as_str().unwrap().contains("command c9"), "{body}");
            let (_, record) = doppel_ingest::payload::parse_maintenance_body(body.to_string().as_bytes(), 0).unwrap();
            assert_eq!(record.work_order.as_deref(), Some("WO-12"));
        }
        assert!(ex.take_repairs().is_empty(), "a repair's work order is used for one tick only");
        // Repairs the simulator does on its own carry no work order.
        let t = TruthEvent {
            ts_ns: 5_000_000,
            asset: "a".into(),
            line: "l".into(),
            component: Some("bearing".into()),
            kind: doppel_sim::TruthKind::Repaired,
            mode: None,
            fault: None,
            detail: "automatic repair".into(),
        };
        assert_eq!(
            maintenance_body(&t, None),
            json!({"ts": 5, "kind": "repair", "note": "automatic repair", "component": "bearing"})
        );
    }
}
