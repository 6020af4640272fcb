//! `doppel bench`: the benchmarks of BENCHMARKS.md, each measured side by side with its peer in
//! the same run so that the ratio is meaningful on a noisy machine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use doppel_ingest::mqtt::{BrokerSettings, ClientSettings, EmbeddedBroker};
use doppel_model::{Plant, SignalKind, time};
use doppel_server::{MqttMode, ServerConfig};
use rumqttc::{AsyncClient, Event, Packet, QoS};

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
