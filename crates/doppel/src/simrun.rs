//! `doppel sim`: runs the plant simulator and publishes its readings over MQTT using the topic
//! scheme of docs/mqtt.md, paced to `--speed` × real time, with a ground-truth log.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use doppel_model::time;
use doppel_sim::{PlantSim, SimConfig};
use rumqttc::QoS;
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
        for t in tick.truth.iter().filter(|t| t.kind == doppel_sim::TruthKind::Repaired) {
            let mut body = json!({"ts": t.ts_ns / time::NANOS_PER_MILLI, "kind": "repair", "note": t.detail});
            if let (Some(c), Value::Object(m)) = (&t.component, &mut body) {
                m.insert("component".into(), json!(c));
            }
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
    publisher.close().await;
    Ok(())
}
