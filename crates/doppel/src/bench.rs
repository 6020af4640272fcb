//! `doppel bench`: the benchmarks of BENCHMARKS.md, each measured side by side with its peer in
//! the same run so that the ratio is meaningful on a noisy machine; and the condition-monitoring
//! validations on public bearing data (`cwru`: diagnosis against labels, `femto`: alarm lead time
//! before a run-to-failure), which call the same library functions as `doppel diagnose`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use doppel_ingest::mqtt::{BrokerSettings, ClientSettings, EmbeddedBroker};
use doppel_model::{Plant, SignalKind, time};
use doppel_physics::bearing::BearingGeometry;
use doppel_server::{MqttMode, ServerConfig};
use doppel_signal::diagnosis::{Fault, Hypothesis, RecordingOptions, diagnose_recording};
use rumqttc::{AsyncClient, Event, Packet, QoS};

use crate::recording::read_channel;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: Which,
}

#[derive(Subcommand)]
enum Which {
    /// Durable ingest into the store (fsync, group commit, Parquet flush) vs PostgreSQL COPY of the same rows.
    Store {
        /// Samples to write.
        #[arg(long, default_value_t = 10_000_000)]
        samples: usize,
        /// Distinct series.
        #[arg(long, default_value_t = 1000)]
        series: usize,
        /// Samples per append call.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Concurrent writer threads.
        #[arg(long, default_value_t = 2)]
        writers: usize,
        /// Rows for the PostgreSQL COPY run (0 skips it).
        #[arg(long, default_value_t = 2_000_000)]
        pg_rows: usize,
        /// Work directory (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// History query: one signal, N days at 1 Hz, downsampled to 1000 buckets.
    Query {
        /// Days of 1 Hz data.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Other series written alongside (they share the segments).
        #[arg(long, default_value_t = 20)]
        other_series: usize,
        /// Timed query runs (the median is reported).
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// MQTT path: publish → broker → ingest → durable → twin, vs the bare embedded broker's pub→sub; and live-stream latency.
    Mqtt {
        /// QoS 1 messages in the throughput runs.
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        /// Messages per second in the latency run (nominal load).
        #[arg(long, default_value_t = 1000)]
        latency_rate: u64,
        /// Seconds of the latency run.
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
        /// Ingest sessions (shared subscription), as `doppel serve --mqtt-sessions`.
        #[arg(long, default_value_t = 1)]
        sessions: usize,
        /// Broker to measure with (the same kind is used for the bare run and for doppel).
        #[arg(long, value_enum, default_value = "embedded")]
        broker: Broker,
    },
    /// Vibration signal processing: channels per core at 10 kHz one-second frames (one thread) vs the same pipeline in numpy/scipy.
    Signal(SignalArgs),
    /// Fault diagnosis on the CWRU bearing records listed in labels.csv: per-recording evidence and a confusion table.
    Cwru(CwruArgs),
    /// Run-to-failure health monitoring on a FEMTO-ST PRONOSTIA bearing: indicator alarms and their lead time before failure.
    Femto(FemtoArgs),
    /// Maintenance policies compared on the same fleet and futures: reactive, tuned preventive, tuned predictive, prescriptive.
    Policy(crate::policy::PolicyArgs),
    /// The planner: optimality gap of local search against the exact MILP on small instances, and speed on a large one.
    Plan(crate::policy::PlanBenchArgs),
    /// Line what-if speed: replications per second of one week of a 10-station line, 20 replications.
    Whatif(crate::linebench::WhatifBenchArgs),
    /// Traceability: query latencies both ways over 10 million simulated units; the durable genealogy path.
    Trace(crate::linebench::TraceBenchArgs),
}

pub fn run(a: BenchArgs) -> Result<()> {
    match a.what {
        Which::Store {
            samples,
            series,
            batch,
            writers,
            pg_rows,
            dir,
        } => bench_store(samples, series, batch, writers, pg_rows, dir),
        Which::Query { days, other_series, runs } => {
            let tmp = tempdir()?;
            let r = doppel_store::bench::query_benchmark(&tmp.0, days, other_series, runs)?;
            println!(
                "query: {} samples of one series over {days} days (+{other_series} other series, {} samples in all)",
                r.samples, r.total_samples
            );
            println!(
                "  written+flushed in {:.1} s, compacted in {:.1} s",
                r.write_time.as_secs_f64(),
                r.compact_time.as_secs_f64()
            );
            println!(
                "  downsampled to {} buckets (step {} s): median {:.2} ms over {runs} runs (min {:.2} ms, max {:.2} ms)",
                r.buckets,
                r.step_ns / 1_000_000_000,
                ms(r.median),
                ms(*r.runs.iter().min().unwrap_or(&r.median)),
                ms(*r.runs.iter().max().unwrap_or(&r.median))
            );
            Ok(())
        }
        Which::Mqtt {
            messages,
            latency_rate,
            latency_secs,
            sessions,
            broker,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(bench_mqtt(messages, latency_rate, latency_secs, sessions, broker)),
        Which::Signal(a) => bench_signal(a),
        Which::Cwru(a) => bench_cwru(a),
        Which::Femto(a) => bench_femto(a),
        Which::Policy(a) => crate::policy::bench_policy(&a),
        Which::Plan(a) => crate::policy::bench_plan(&a),
        Which::Whatif(a) => crate::linebench::bench_whatif(&a),
        Which::Trace(a) => crate::linebench::bench_trace(&a),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn tempdir() -> Result<TempDir> {
    let base = std::env::var_os("DOPPEL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-tmp"));
    let p = base.join(format!("doppel-bench-{}-{}", std::process::id(), time::now()));
    std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(TempDir(p))
}

fn bench_store(samples: usize, series: usize, batch: usize, writers: usize, pg_rows: usize, dir: Option<PathBuf>) -> Result<()> {
    let tmp = tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.0.join("store"));
    println!("store ingest: {samples} samples, {series} series, batches of {batch}, {writers} writer thread(s), fsync on, including the Parquet flush");
    let r = doppel_store::bench::ingest_benchmark(&dir, samples, series, batch, writers)?;
    println!(
        "  doppel store: {:.0} samples/s ({:.2} s)  [{}]",
        r.samples_per_sec,
        r.elapsed.as_secs_f64(),
        r.details
    );
    if pg_rows > 0 {
        match doppel_store::bench::postgres_copy_benchmark(pg_rows, series) {
            Ok(pg) => {
                println!(
                    "  PostgreSQL COPY: {:.0} rows/s ({} rows, {:.2} s)  [{}]",
                    pg.samples_per_sec,
                    pg.rows,
                    pg.elapsed.as_secs_f64(),
                    pg.details
                );
                println!("  ratio doppel / PostgreSQL COPY: {:.1}x", r.samples_per_sec / pg.samples_per_sec);
            }
            Err(e) => bail!("PostgreSQL COPY baseline failed: {e}\n(install it with `apt-get install -y postgresql`, or pass --pg-rows 0 to skip)"),
        }
    }
    Ok(())
}

/// One realistic payload per asset: every signal at one timestamp, values inside the valid range.
fn payloads(plant: &Plant) -> Vec<(String, Vec<(String, f64)>)> {
    plant
        .assets
        .iter()
        .map(|a| {
            let values = a
                .signals
                .iter()
                .map(|s| {
                    let v = match s.kind {
                        SignalKind::State => 1.0,
                        SignalKind::Counter => 10.0,
                        _ if s.valid.low.is_finite() && s.valid.high.is_finite() => (s.valid.low + s.valid.high) / 4.0,
                        _ => 1.0,
                    };
                    (s.name.clone(), v)
                })
                .collect();
            (format!("doppel/v1/data/{}", a.id), values)
        })
        .collect()
}

fn body(values: &[(String, f64)], ts_ns: i64) -> String {
    let mut s = format!("{{\"ts\":\"{}\",\"values\":{{", time::format_rfc3339(ts_ns));
    for (i, (k, v)) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("\"{k}\":{v}"));
    }
    s.push_str("}}");
    s
}

fn free_addr() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Publishes `n` QoS 1 messages as fast as the broker takes them; returns when all are PUBACKed.
async fn publish_all(url: &str, id: &str, msgs: &[(String, String)], n: u64) -> Result<()> {
    let publisher = crate::publisher::Publisher::connect(url, id)?;
    for i in 0..n {
        let (t, b) = &msgs[(i as usize) % msgs.len()];
        publisher.client.publish(t.clone(), QoS::AtLeastOnce, false, b.clone()).await?;
    }
    let acked = publisher.wait_acked(n, Duration::from_secs(600)).await;
    publisher.close().await;
    if acked < n {
        bail!("the broker acknowledged only {acked} of {n} messages");
    }
    Ok(())
}

/// Which broker the MQTT benchmark runs against.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Broker {
    /// The embedded rumqttd broker (doppel's default).
    Embedded,
    /// A Mosquitto started for the run (Debian `mosquitto`), as an external broker.
    Mosquitto,
}

/// A broker process that is stopped on drop.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_broker(broker: Broker, dir: &std::path::Path) -> Result<(String, Option<Child>)> {
    let addr = free_addr()?;
    match broker {
        Broker::Embedded => {
            EmbeddedBroker::start(&BrokerSettings {
                listen: addr,
                ..Default::default()
            })?;
            Ok((format!("mqtt://{addr}"), None))
        }
        Broker::Mosquitto => {
            let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
                .into_iter()
                .find(|p| std::path::Path::new(p).exists())
                .context("mosquitto not found: apt-get install -y mosquitto")?;
            let conf = dir.join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "listener {} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\npersistence false\n",
                    addr.port()
                ),
            )?;
            let child = Child(
                std::process::Command::new(bin)
                    .arg("-c")
                    .arg(&conf)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()?,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(addr).is_err() {
                if Instant::now() > deadline {
                    bail!("mosquitto did not start");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok((format!("mqtt://{addr}"), Some(child)))
        }
    }
}

async fn bench_mqtt(n: u64, latency_rate: u64, latency_secs: u64, sessions: usize, broker: Broker) -> Result<()> {
    let plant = Arc::new(Plant::parse(crate::EXAMPLE_PLANT, "example")?);
    let per_asset = payloads(&plant);
    // Distinct timestamps per message so every sample is a new point.
    let base = time::now() - 3 * 86_400 * time::NANOS_PER_SEC;
    let msgs: Vec<(String, String)> = (0..n)
        .map(|i| {
            let (t, v) = &per_asset[(i as usize) % per_asset.len()];
            (t.clone(), body(v, base + (i / per_asset.len() as u64) as i64 * time::NANOS_PER_SEC))
        })
        .collect();
    let total_samples: u64 = (0..n).map(|i| per_asset[(i as usize) % per_asset.len()].1.len() as u64).sum();
    println!(
        "MQTT path ({sessions} ingest session(s)): {n} QoS 1 messages ({total_samples} samples, {} assets of the example plant), one publisher",
        per_asset.len()
    );

    // 1. Bare broker: publisher → broker → one QoS 1 subscriber.
    let tmp_broker = tempdir()?;
    let (url, _mosquitto) = start_broker(broker, &tmp_broker.0)?;
    println!(
        "  broker: {}",
        if broker == Broker::Mosquitto {
            "Mosquitto (external, max_inflight_messages unlimited)"
        } else {
            "embedded rumqttd"
        }
    );
    let mut so = ClientSettings::new(url.clone(), "bench-sub").options(true)?;
    so.set_inflight(1000);
    let (sub, mut sev) = AsyncClient::new(so, 10_000);
    sub.subscribe("doppel/v1/#", QoS::AtLeastOnce).await?;
    let got = Arc::new(AtomicU64::new(0));
    let got2 = got.clone();
    let sub_task = tokio::spawn(async move {
        loop {
            match sev.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    got2.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let pubh = {
        let url = url.clone();
        let msgs = msgs.clone();
        tokio::spawn(async move { publish_all(&url, "bench-pub", &msgs, n).await })
    };
    while got.load(Ordering::Relaxed) < n {
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("bare broker run timed out");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let bare = t0.elapsed();
    pubh.await??;
    sub_task.abort();
    let bare_rate = n as f64 / bare.as_secs_f64();
    println!("  bare broker pub→sub: {bare_rate:.0} msgs/s ({:.2} s)", bare.as_secs_f64());

    // 2. doppel: publisher → broker → ingest → WAL fsync → ack → twin (a fresh broker of the same kind).
    let tmp = tempdir()?;
    let (mqtt, url, _mosquitto2) = match broker {
        Broker::Embedded => {
            let a = free_addr()?;
            (MqttMode::Embedded { listen: a }, format!("mqtt://{a}"), None)
        }
        Broker::Mosquitto => {
            let (u, guard) = start_broker(broker, &tmp.0)?;
            (MqttMode::External { url: u.clone() }, u, guard)
        }
    };
    let running = doppel_server::start(ServerConfig {
        plant: plant.clone(),
        data_dir: tmp.0.clone(),
        http: "127.0.0.1:0".parse()?,
        mqtt,
        mqtt_client_id: "doppel-ingest".into(),
        mqtt_sessions: sessions,
        retention: None,
        max_future: Some(Duration::from_secs(86_400)),
        prediction_horizon: None,
        business: None,
        plan: doppel_server::prescribe::PlanSettings::default(),
        webhook_url: None,
        // the end-to-end ingest path only: no production simulation beside it
        production: doppel_server::production::ProductionSettings {
            enabled: false,
            ..Default::default()
        },
    })
    .await?;
    let state = running.state.clone();
    // Wait for the ingest session to be subscribed.
    while state.mqtt.connects.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let pubh = {
        let url = url.clone();
        let msgs = msgs.clone();
        tokio::spawn(async move { publish_all(&url, "bench-pub2", &msgs, n).await })
    };
    while state.mqtt.acked.load(Ordering::Relaxed) < n {
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("doppel run timed out: {} of {n} acknowledged", state.mqtt.acked.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Visible in the twin: every durable sample has been applied to the live twins.
    let twin_deadline = Instant::now() + Duration::from_secs(30);
    while state.applied_samples.load(Ordering::Relaxed) < total_samples && Instant::now() < twin_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let e2e = t0.elapsed();
    pubh.await??;
    let rate = n as f64 / e2e.as_secs_f64();
    let stats = state.store.stats();
    println!(
        "  doppel end to end (durable + acked + in twin): {rate:.0} msgs/s = {:.0} samples/s ({:.2} s, {} group commits)",
        total_samples as f64 / e2e.as_secs_f64(),
        e2e.as_secs_f64(),
        stats.group_commits
    );
    println!("  ratio doppel / bare broker: {:.2}x", rate / bare_rate);

    // 3. Latency at nominal load: sample timestamp (stamped at publish) → live-stream event.
    let mut live = state.live.subscribe();
    let phase_start = time::now();
    let lat: Arc<latency::Latencies> = Arc::new(latency::Latencies::default());
    let lat2 = lat.clone();
    let collector = tokio::spawn(async move {
        loop {
            match live.recv().await {
                Ok(m) if m.starts_with("{\"type\":\"values\"") => {
                    let now = time::now();
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&m) {
                        for x in v["values"].as_array().into_iter().flatten() {
                            if let Some(ts) = x["ts"].as_i64()
                                && ts >= phase_start
                            {
                                lat2.push(now - ts);
                            }
                        }
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    });
    let publisher = crate::publisher::Publisher::connect(&url, "bench-latency")?;
    let total = latency_rate * latency_secs;
    let start = Instant::now();
    for i in 0..total {
        let due = Duration::from_secs_f64(i as f64 / latency_rate as f64);
        let el = start.elapsed();
        if due > el {
            tokio::time::sleep(due - el).await;
        }
        let (t, v) = &per_asset[(i as usize) % per_asset.len()];
        publisher.client.publish(t.clone(), QoS::AtLeastOnce, false, body(v, time::now())).await?;
    }
    publisher.wait_acked(total, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    publisher.close().await;
    collector.abort();
    let mut l = lat.take();
    l.sort_unstable();
    if l.is_empty() {
        bail!("no latency samples observed");
    }
    let p = |q: f64| l[((l.len() as f64 - 1.0) * q).round() as usize] as f64 / 1e6;
    println!(
        "  latency sample → live-stream event at {latency_rate} msgs/s for {latency_secs} s ({} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.len(),
        p(0.5),
        p(0.99),
        p(1.0)
    );
    Ok(())
}

mod latency {
    /// A tiny mutex-protected latency collector.
    #[derive(Default)]
    pub struct Latencies(std::sync::Mutex<Vec<i64>>);
    impl Latencies {
        pub fn push(&self, v: i64) {
            if let Ok(mut g) = self.0.lock() {
                g.push(v);
            }
        }
        pub fn take(&self) -> Vec<i64> {
            self.0.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default()
        }
    }
}

// ───────────────────────────── condition monitoring (issue 3) ─────────────────────────────

#[derive(Args)]
pub struct SignalArgs {
    /// Channels monitored at once (round-robin on one thread, sharing FFT plans and scratch).
    #[arg(long, default_value_t = 64)]
    channels: usize,
    /// One-second frames per channel in each timed run.
    #[arg(long, default_value_t = 30)]
    frames: usize,
    /// Channel-frames the numpy script times.
    #[arg(long, default_value_t = 200)]
    numpy_frames: usize,
    /// Python interpreter with numpy and scipy (`pip install numpy scipy`).
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// The numpy reference script (default: bench/signal_numpy.py of the source tree, else of the current directory).
    #[arg(long)]
    script: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

const NUMPY_HINT: &str = "install them with `pip install numpy scipy` (for example `python3 -m venv /opt/venv-bench && /opt/venv-bench/bin/pip install numpy scipy`), then pass `--python /opt/venv-bench/bin/python`";

/// Checks that `python` runs and imports what the numpy script needs; returns "numpy-version scipy-version".
fn check_numpy(python: &Path) -> Result<String> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import numpy, scipy, scipy.signal, scipy.stats; print(numpy.__version__, scipy.__version__)",
        ])
        .output();
    match out {
        Err(e) => bail!(
            "cannot run the Python interpreter '{}' ({e}); pass --python PATH to a Python 3 with numpy and scipy; {NUMPY_HINT}",
            python.display()
        ),
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no error output").trim().to_string();
            bail!("'{}' cannot import numpy and scipy ({last}); {NUMPY_HINT}", python.display())
        }
        Ok(o) => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
    }
}

fn numpy_script(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        if p.is_file() {
            return Ok(p);
        }
        bail!("numpy script {} not found", p.display());
    }
    let source_tree = doppel_signal::bench::default_script_path();
    let cwd = PathBuf::from("bench/signal_numpy.py");
    for p in [&source_tree, &cwd] {
        if p.is_file() {
            return Ok(p.clone());
        }
    }
    bail!(
        "the numpy script bench/signal_numpy.py was found neither in the source tree ({}) nor in the current directory; pass --script PATH",
        source_tree.display()
    )
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn bench_signal(a: SignalArgs) -> Result<()> {
    use doppel_signal::bench::{SignalBenchConfig, compare};
    if a.channels == 0 || a.frames == 0 || a.numpy_frames == 0 {
        bail!("--channels, --frames and --numpy-frames must be at least 1");
    }
    let script = numpy_script(a.script)?;
    let versions = check_numpy(&a.python)?;
    let cfg = SignalBenchConfig {
        channels: a.channels,
        frames_per_channel: a.frames,
        numpy_frames: a.numpy_frames,
        ..SignalBenchConfig::default()
    };
    let frame_s = cfg.frame_len as f64 / cfg.sample_rate_hz;
    if !a.json {
        println!(
            "signal processing: {} channels × {} frames of {} samples at {} Hz ({frame_s} s), one thread; numpy/scipy ({versions}) via {}",
            cfg.channels,
            cfg.frames_per_channel,
            cfg.frame_len,
            cfg.sample_rate_hz,
            a.python.display()
        );
    }
    let c = compare(&a.python, &script, &cfg).with_context(|| format!("signal benchmark ({} {})", a.python.display(), script.display()))?;
    let (r, n) = (&c.rust, &c.numpy);
    let numpy_channels = frame_s * 1e6 / n.us_per_channel_frame;
    if a.json {
        let out = serde_json::json!({
            "python": a.python.display().to_string(),
            "script": script.display().to_string(),
            "config": cfg,
            "rust": r,
            "numpy": n,
            "numpy_channels_per_core": numpy_channels,
            "speed_ratio": c.speedup,
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "  pipeline per channel-frame: time features, Hann spectrum, band RMS 10–1000 Hz and 1–5 kHz, velocity RMS 10–1000 Hz, envelope spectrum of {}–{} Hz",
        cfg.band.lo_hz, cfg.band.hi_hz
    );
    println!(
        "  Rust, fixed band:                 {:>8.1} µs per channel-frame → {:>6.0} channels per core in real time",
        r.us_per_channel_frame, r.channels_per_core
    );
    println!(
        "  Rust, kurtogram every {:>2} frames:  {:>8.1} µs per channel-frame → {:>6.0} channels per core (one kurtogram: {:.0} µs)",
        r.kurtogram_every_n_frames, r.us_per_channel_frame_with_kurtogram, r.channels_per_core_with_kurtogram, r.us_per_kurtogram
    );
    println!(
        "  memory per channel: {} sharing the thread's scratch ({} once per core); {} with its own scratch",
        kib(r.memory_per_channel_bytes),
        kib(r.shared_scratch_bytes),
        kib(r.memory_per_channel_own_scratch_bytes)
    );
    println!(
        "  numpy {} / scipy {}:           {:>8.1} µs per channel-frame → {:>6.0} channels per core ({} frames)",
        n.numpy, n.scipy, n.us_per_channel_frame, numpy_channels, n.frames
    );
    println!("  speed ratio numpy / Rust (fixed band): {:.1}x", c.speedup);
    let (rc, nc) = (&r.check, &n.check);
    println!(
        "  same result, first frame (Rust | numpy): RMS {:.4} | {:.4} g, kurtosis {:.3} | {:.3}, velocity {:.3} | {:.3} mm/s, envelope peak {:.1} | {:.1} Hz",
        rc.rms, nc.rms, rc.kurtosis, nc.kurtosis, rc.velocity_rms_mm_s, nc.velocity_rms_mm_s, rc.envelope_peak_hz, nc.envelope_peak_hz
    );
    Ok(())
}

#[derive(Args)]
pub struct CwruArgs {
    /// Folder holding labels.csv and the recordings it lists.
    #[arg(long, default_value = "../shared/data/bearings/cwru")]
    data: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One row of a CWRU labels.csv.
struct LabelRow {
    file: String,
    label: String,
    truth: Fault,
    faulty_bearing: String,
    bearing: &'static str,
    channel: &'static str,
    geometry: BearingGeometry,
    fs: f64,
    rpm: f64,
}

/// The fault class of a label: a class name, or one followed by a qualifier (`outer_race_at_6_oclock`).
fn fault_of_label(label: &str) -> Option<Fault> {
    let l = label.trim().to_lowercase();
    Fault::parse(&l).or_else(|| {
        Fault::ALL
            .iter()
            .copied()
            .filter(|f| *f != Fault::Normal)
            .find(|f| l.starts_with(&format!("{}_", f.as_str())))
    })
}

/// Reads `labels.csv` (columns by header name: file, fault, faulty_bearing, shaft_rpm_nominal, sampling_rate_hz;
/// channels optional).
fn read_labels(dir: &Path) -> Result<Vec<LabelRow>> {
    let path = dir.join("labels.csv");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().with_context(|| format!("{}: empty file", path.display()))?;
    let header: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("{}: no column '{name}' (columns: {})", path.display(), header.join(", ")))
    };
    let (c_file, c_fault, c_bearing, c_rpm, c_fs) = (
        col("file")?,
        col("fault")?,
        col("faulty_bearing")?,
        col("shaft_rpm_nominal")?,
        col("sampling_rate_hz")?,
    );
    let c_channels = header.iter().position(|h| *h == "channels");
    let mut rows = Vec::new();
    for (i, line) in lines {
        let where_ = format!("{}: line {}", path.display(), i + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: usize| fields.get(c).copied().with_context(|| format!("{where_}: missing column {}", header[c]));
        let number = |c: usize| -> Result<f64> {
            let s = get(c)?;
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .with_context(|| format!("{where_}: {} '{s}' is not a positive number", header[c]))
        };
        let label = get(c_fault)?.to_string();
        let truth = fault_of_label(&label).with_context(|| {
            format!(
                "{where_}: unknown fault label '{label}' (expected one of {} or one of them followed by _<qualifier>)",
                Fault::ALL.map(Fault::as_str).join(", ")
            )
        })?;
        let faulty_bearing = get(c_bearing)?.to_lowercase();
        let (bearing, channel, geometry) = match faulty_bearing.as_str() {
            "drive_end" => ("drive-end SKF 6205", "DE", BearingGeometry::CWRU_DRIVE_END_6205),
            "fan_end" => ("fan-end SKF 6203", "FE", BearingGeometry::CWRU_FAN_END_6203),
            "none" | "" if truth == Fault::Normal => ("drive-end SKF 6205", "DE", BearingGeometry::CWRU_DRIVE_END_6205),
            other => bail!("{where_}: faulty_bearing '{other}' is not drive_end, fan_end, or none (for a normal record)"),
        };
        if let Some(c) = c_channels
            && let Some(list) = fields.get(c)
            && !list.split('|').any(|ch| ch.trim() == channel)
        {
            bail!("{where_}: the {bearing} is read from channel {channel}, but the record's channels are {list}");
        }
        rows.push(LabelRow {
            file: get(c_file)?.to_string(),
            label,
            truth,
            faulty_bearing,
            bearing,
            channel,
            geometry,
            fs: number(c_fs)?,
            rpm: number(c_rpm)?,
        });
    }
    if rows.is_empty() {
        bail!("{}: no recordings listed", path.display());
    }
    Ok(rows)
}

/// "BPFI at 161.73 Hz (expected 162.19 Hz), 35.4 dB over the floor; strongest confirming line 2×BPFI at … ; band …".
fn describe_evidence(h: &Hypothesis) -> String {
    let Some(first) = h.lines.first() else {
        return h.explanation.clone();
    };
    let mut s = format!(
        "{} at {:.2} Hz (expected {:.2} Hz), {:.1} dB over the floor",
        first.label, first.found_hz, first.expected_hz, first.prominence_db
    );
    if let Some(c) = h.lines[1..].iter().max_by(|a, b| a.prominence_db.total_cmp(&b.prominence_db)) {
        s.push_str(&format!(
            "; strongest confirming line {} at {:.2} Hz, {:.1} dB",
            c.label, c.found_hz, c.prominence_db
        ));
    }
    if let Some((lo, hi)) = h.band_hz {
        s.push_str(&format!("; demodulation band {lo:.0}–{hi:.0} Hz"));
    }
    s
}

/// Markdown confusion table: rows are the true classes present, columns all seven classes.
fn confusion_markdown(pairs: &[(Fault, Fault)]) -> (String, Vec<Fault>, Vec<Vec<usize>>) {
    let rows: Vec<Fault> = Fault::ALL.iter().copied().filter(|f| pairs.iter().any(|(t, _)| t == f)).collect();
    let counts: Vec<Vec<usize>> = rows
        .iter()
        .map(|t| Fault::ALL.iter().map(|d| pairs.iter().filter(|(a, b)| a == t && b == d).count()).collect())
        .collect();
    let mut s = String::from("| true \\ diagnosed |");
    for f in Fault::ALL {
        s.push_str(&format!(" {f} |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(Fault::ALL.len()));
    s.push('\n');
    for (t, row) in rows.iter().zip(&counts) {
        s.push_str(&format!("| {t} |"));
        for (d, n) in Fault::ALL.iter().zip(row) {
            if *n > 0 && d == t {
                s.push_str(&format!(" **{n}** |"));
            } else {
                s.push_str(&format!(" {n} |"));
            }
        }
        s.push('\n');
    }
    (s, rows, counts)
}

fn bench_cwru(a: CwruArgs) -> Result<()> {
    if !a.data.is_dir() {
        bail!(
            "CWRU data folder {} not found (relative to the current directory {}): it should hold labels.csv and the .npz records listed in it (see shared/data/README.md, section 2); pass --data DIR",
            a.data.display(),
            std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()
        );
    }
    let rows = read_labels(&a.data)?;
    let mut results = Vec::new();
    let mut pairs = Vec::new();
    if !a.json {
        println!(
            "CWRU bearing records of {} ({} listed in labels.csv), diagnosed as `doppel diagnose` does:",
            a.data.display(),
            rows.len()
        );
    }
    for row in &rows {
        let path = a.data.join(&row.file);
        let x = read_channel(&path, Some(row.channel))?;
        let f = doppel_ingest::wave::frequencies(&row.geometry, row.rpm);
        let r = diagnose_recording(&x, row.fs, &f, &RecordingOptions::default()).with_context(|| format!("{}: diagnosis", path.display()))?;
        let d = &r.diagnosis;
        let correct = d.fault == row.truth;
        pairs.push((row.truth, d.fault));
        let truth_hypothesis = d.hypotheses.iter().find(|h| h.fault == row.truth);
        if !a.json {
            println!(
                "\n{}  label {} ({}, channel {}, {} Hz, {} rpm, {})",
                row.file, row.label, row.faulty_bearing, row.channel, row.fs, row.rpm, row.bearing
            );
            println!("  diagnosis: {}{}", d.fault, if correct { "  (correct)" } else { "  (MISS)" });
            match d.evidence() {
                Some(h) => println!("  decisive evidence: {}", describe_evidence(h)),
                None => println!("  {}", d.explanation),
            }
            if !correct && let Some(h) = truth_hypothesis {
                println!(
                    "  the true class ({}): {}{}",
                    row.truth,
                    if h.detected { "detected too, ranked lower: " } else { "not detected: " },
                    describe_evidence(h)
                );
            }
        }
        results.push(serde_json::json!({
            "file": row.file,
            "label": row.label,
            "true_fault": row.truth,
            "faulty_bearing": row.faulty_bearing,
            "bearing": row.bearing,
            "channel": row.channel,
            "sample_rate_hz": row.fs,
            "shaft_rpm": row.rpm,
            "fault": d.fault,
            "correct": correct,
            "explanation": d.explanation,
            "evidence": d.evidence(),
            "defect_frequencies_hz": r.frequencies,
            "bands": r.bands,
            "resolution_hz": r.resolution_hz,
            "hypotheses": d.hypotheses,
        }));
    }
    let (table, row_faults, counts) = confusion_markdown(&pairs);
    let correct = pairs.iter().filter(|(t, d)| t == d).count();
    if a.json {
        let out = serde_json::json!({
            "data": a.data.display().to_string(),
            "recordings": results,
            "confusion": { "rows": row_faults, "columns": Fault::ALL, "counts": counts },
            "correct": correct,
            "total": pairs.len(),
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "\nconfusion table (rows: true label, columns: diagnosis), {correct} of {} correct:\n",
        pairs.len()
    );
    print!("{table}");
    Ok(())
}

#[derive(Args)]
pub struct FemtoArgs {
    /// Folder of one PRONOSTIA run: acc_NNNNN.csv.gz (or .csv) files, one snapshot each.
    #[arg(long, default_value = "../shared/data/bearings/femto_pronostia/Bearing3_1")]
    data: PathBuf,
    /// Sampling rate of the snapshots, Hz.
    #[arg(long, default_value_t = 25_600.0)]
    fs: f64,
    /// Shaft speed, rpm (operating condition 3 of the IEEE PHM 2012 challenge: 1500 rpm).
    #[arg(long, default_value_t = 1500.0)]
    rpm: f64,
    /// Snapshots at the start of the run that form the healthy baseline.
    #[arg(long, default_value_t = 50)]
    baseline: usize,
    /// Threshold = baseline mean + k × baseline standard deviation.
    #[arg(long, default_value_t = 3.0)]
    k: f64,
    /// Consecutive snapshots above the threshold that raise an alarm.
    #[arg(long, default_value_t = 3)]
    persistence: usize,
    /// Failure: the first snapshot whose |acceleration| exceeds this, g (the challenge's definition: 20 g).
    #[arg(long, default_value_t = 20.0)]
    failure_g: f64,
    /// Snapshots before failure that `diagnose`'s rules are run on.
    #[arg(long, default_value_t = 5)]
    last: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One PRONOSTIA snapshot: its file, time since the first snapshot, and both channels.
struct Snapshot {
    file: String,
    t_s: f64,
    channels: [Vec<f32>; 2],
}

const FEMTO_CHANNELS: [(&str, &str); 2] = [("horizontal", "4"), ("vertical", "5")];

/// The acc_*.csv(.gz) files of a run, in snapshot order.
fn femto_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".csv.gz").or_else(|| name.strip_suffix(".csv")) else {
            continue;
        };
        if let Some(n) = stem.strip_prefix("acc_").and_then(|n| n.parse::<u64>().ok()) {
            files.push((n, e.path()));
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("{}: no acc_NNNNN.csv.gz or acc_NNNNN.csv files", dir.display());
    }
    Ok(files)
}

fn read_snapshot(path: &Path) -> Result<Snapshot> {
    let mut stamp = [0.0f64; 4];
    for (i, s) in stamp.iter_mut().enumerate() {
        let col = read_channel(path, Some(&i.to_string()))?;
        *s = f64::from(*col.first().with_context(|| format!("{}: no rows", path.display()))?);
    }
    let read = |c: &str| read_channel(path, Some(c));
    Ok(Snapshot {
        file: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        t_s: stamp[0] * 3600.0 + stamp[1] * 60.0 + stamp[2] + stamp[3] * 1e-6,
        channels: [read(FEMTO_CHANNELS[0].1)?, read(FEMTO_CHANNELS[1].1)?],
    })
}

fn minutes(s: f64) -> String {
    format!("{:.1} min", s / 60.0)
}

fn bench_femto(a: FemtoArgs) -> Result<()> {
    use doppel_signal::health::{AlarmRule, HealthConfig, HealthIndicators, INDICATOR_NAMES, demodulation_band, persistent_alarm};
    if !a.data.is_dir() {
        bail!(
            "FEMTO data folder {} not found (relative to the current directory {}): it should hold the acc_NNNNN.csv.gz snapshots of one PRONOSTIA run (see shared/data/README.md, section 3); pass --data DIR",
            a.data.display(),
            std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()
        );
    }
    if !(a.failure_g.is_finite() && a.failure_g > 0.0) {
        bail!("--failure-g must be a positive acceleration in g");
    }
    let files = femto_files(&a.data)?;
    let mut snaps: Vec<Snapshot> = Vec::with_capacity(files.len());
    for (_, p) in &files {
        let mut s = read_snapshot(p)?;
        // Time of day: a run that passes midnight keeps counting up.
        if let Some(prev) = snaps.last() {
            while s.t_s < prev.t_s {
                s.t_s += 86_400.0;
            }
        }
        snaps.push(s);
    }
    let t0 = snaps[0].t_s;
    for s in &mut snaps {
        s.t_s -= t0;
    }
    let f = doppel_ingest::wave::frequencies(&BearingGeometry::PRONOSTIA, a.rpm);
    let hcfg = HealthConfig::default();
    let band = demodulation_band(a.fs, &f, &hcfg)?;
    let mut ind: Vec<[HealthIndicators; 2]> = Vec::with_capacity(snaps.len());
    for s in &snaps {
        let h = |c: usize| HealthIndicators::compute(&s.channels[c], a.fs, &f, &hcfg).with_context(|| format!("{}: {} channel", s.file, FEMTO_CHANNELS[c].0));
        ind.push([h(0)?, h(1)?]);
    }
    let failure = ind.iter().position(|p| p.iter().any(|h| h.max_abs > a.failure_g));
    let end = failure.unwrap_or(snaps.len());
    if a.baseline + a.persistence > end {
        bail!(
            "the run has {end} snapshots before failure: too few for a baseline of {} and a persistence of {}",
            a.baseline,
            a.persistence
        );
    }
    let t_end = failure.map_or(snaps[snaps.len() - 1].t_s, |i| snaps[i].t_s);
    let rule = AlarmRule {
        baseline: a.baseline,
        k: a.k,
        persistence: a.persistence,
    };
    struct Row {
        name: &'static str,
        channel: &'static str,
        outcome: doppel_signal::health::AlarmOutcome,
        series: Vec<f64>,
    }
    let mut table = Vec::new();
    for (c, (cname, _)) in FEMTO_CHANNELS.iter().enumerate() {
        for (j, name) in INDICATOR_NAMES.iter().enumerate() {
            let series: Vec<f64> = ind.iter().map(|p| p[c].values()[j]).collect();
            let outcome = persistent_alarm(&series[..end], &rule)?;
            table.push(Row {
                name,
                channel: cname,
                outcome,
                series,
            });
        }
    }
    // diagnose's rules on the last snapshots before failure, and on the baseline for comparison.
    let opts = RecordingOptions::default();
    let diag = |i: usize, c: usize| diagnose_recording(&snaps[i].channels[c], a.fs, &f, &opts).with_context(|| format!("{}: diagnosis", snaps[i].file));
    let mut last = Vec::new();
    for i in end.saturating_sub(a.last)..end {
        for c in 0..2 {
            last.push((i, c, diag(i, c)?.diagnosis));
        }
    }
    let mut baseline_tally: std::collections::BTreeMap<(usize, Fault), usize> = Default::default();
    for i in 0..a.baseline {
        for c in 0..2 {
            *baseline_tally.entry((c, diag(i, c)?.diagnosis.fault)).or_default() += 1;
        }
    }
    let rule_text = format!("mean + {}σ of snapshots 1–{}, {} in a row", a.k, a.baseline, a.persistence);

    if a.json {
        let indicators: Vec<_> = table
            .iter()
            .map(|r| {
                let o = &r.outcome;
                serde_json::json!({
                    "indicator": r.name,
                    "channel": r.channel,
                    "baseline_mean": o.baseline_mean,
                    "baseline_std": o.baseline_std,
                    "threshold": o.threshold,
                    "run_start": o.run_start,
                    "alarm": o.alarm,
                    "alarm_file": o.alarm.map(|i| snaps[i].file.clone()),
                    "alarm_time_s": o.alarm.map(|i| snaps[i].t_s),
                    "lead_time_min": o.alarm.map(|i| (t_end - snaps[i].t_s) / 60.0),
                    "false_alarms": o.false_alarms,
                    "final_run_start": o.final_run_start,
                    "series": r.series,
                })
            })
            .collect();
        let last_json: Vec<_> = last
            .iter()
            .map(|(i, c, d)| serde_json::json!({ "snapshot": i, "file": snaps[*i].file, "channel": FEMTO_CHANNELS[*c].0, "fault": d.fault, "explanation": d.explanation, "evidence": d.evidence() }))
            .collect();
        let tally: Vec<_> = baseline_tally
            .iter()
            .map(|((c, f), n)| serde_json::json!({ "channel": FEMTO_CHANNELS[*c].0, "fault": f, "snapshots": n }))
            .collect();
        let out = serde_json::json!({
            "data": a.data.display().to_string(),
            "snapshots": snaps.len(),
            "sample_rate_hz": a.fs,
            "shaft_rpm": a.rpm,
            "defect_frequencies_hz": f,
            "demodulation_band_hz": band,
            "failure": failure.map(|i| serde_json::json!({ "snapshot": i, "file": snaps[i].file, "time_s": snaps[i].t_s, "max_abs_g": ind[i].map(|h| h.max_abs) })),
            "failure_g": a.failure_g,
            "rule": rule,
            "times_s": snaps.iter().map(|s| s.t_s).collect::<Vec<_>>(),
            "indicators": indicators,
            "diagnosis_before_failure": last_json,
            "diagnosis_of_baseline": tally,
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }

    println!(
        "FEMTO-ST PRONOSTIA run {}: {} snapshots of {} samples at {} Hz, {} to {}",
        a.data.display(),
        snaps.len(),
        snaps[0].channels[0].len(),
        a.fs,
        snaps[0].file,
        snaps[snaps.len() - 1].file
    );
    println!(
        "bearing 13 × 3.5 mm on 25.6 mm at {} rpm: FTF {:.1} Hz, BSF {:.1} Hz, BPFO {:.1} Hz, BPFI {:.1} Hz; demodulation band {:.0}–{:.0} Hz",
        a.rpm, f.ftf_hz, f.bsf_hz, f.bpfo_hz, f.bpfi_hz, band.lo_hz, band.hi_hz
    );
    match failure {
        Some(i) => println!(
            "failure (first snapshot with |a| > {} g): #{} {} at t = {} (peak |a| H {:.1} g, V {:.1} g)",
            a.failure_g,
            i + 1,
            snaps[i].file,
            minutes(snaps[i].t_s),
            ind[i][0].max_abs,
            ind[i][1].max_abs
        ),
        None => println!(
            "no snapshot exceeds {} g: lead times below are to the last snapshot ({})",
            a.failure_g,
            minutes(t_end)
        ),
    }
    println!(
        "alarm rule: threshold = {rule_text}; the alarm is raised on the snapshot that completes the first run of {} above it; shorter runs after the baseline are counted as false alarms (suppressed by the persistence rule)\n",
        a.persistence
    );
    let stem = |i: usize| snaps[i].file.trim_end_matches(".gz").trim_end_matches(".csv").to_string();
    let lead = |i: usize| format!("{:.1} min", (t_end - snaps[i].t_s) / 60.0);
    println!(
        "| indicator | channel | threshold | first alarm (snapshot, time) | lead time before failure | false alarms before | above without a break since (lead) |"
    );
    println!("|---|---|---:|---|---:|---:|---|");
    for r in &table {
        let o = &r.outcome;
        let (alarm, lead_time) = match o.alarm {
            Some(i) => (format!("#{} {} ({})", i + 1, stem(i), minutes(snaps[i].t_s)), lead(i)),
            None => ("none before failure".to_string(), "–".to_string()),
        };
        let since = o.final_run_start.map_or("–".to_string(), |i| format!("#{} ({})", i + 1, lead(i)));
        println!(
            "| {} | {} | {:.4} (mean {:.4}, σ {:.4}) | {alarm} | {lead_time} | {} | {since} |",
            r.name, r.channel, o.threshold, o.baseline_mean, o.baseline_std, o.false_alarms
        );
    }
    println!(
        "\n`diagnose` rules on the last {} snapshots before failure (one 0.1 s snapshot each, {:.0} Hz resolution):",
        a.last,
        a.fs / snaps[0].channels[0].len() as f64
    );
    for (i, c, d) in &last {
        let ev = d.evidence().map(describe_evidence).unwrap_or_else(|| d.explanation.clone());
        println!("  #{} {} {:<10}: {} — {}", i + 1, snaps[*i].file, FEMTO_CHANNELS[*c].0, d.fault, ev);
    }
    println!("the same rules on the {} baseline snapshots (assumed healthy):", a.baseline);
    for ((c, f), n) in &baseline_tally {
        println!("  {:<10} {f}: {n}", FEMTO_CHANNELS[*c].0);
    }
    Ok(())
}
