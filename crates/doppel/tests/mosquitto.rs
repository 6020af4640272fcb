//! Against a real Mosquitto (Debian `mosquitto`): doppel ingests over an external broker with a
//! persistent session and acknowledges only after the WAL commit, so killing doppel with SIGKILL
//! mid-stream loses nothing the broker accepted — Mosquitto redelivers it after the restart.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

struct Mosquitto(Child);
impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mosquitto(dir: &std::path::Path, port: u16) -> Mosquitto {
    let bin = require("mosquitto", "mosquitto");
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
             max_queued_messages 0\nmax_inflight_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n",
            dir.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("cannot start mosquitto");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not start: {}",
            std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Mosquitto(child)
}

#[test]
fn mqtt_via_mosquitto_survives_kill_9_without_losing_broker_accepted_messages() {
    let dir = tempdir("mosquitto");
    let mport = free_port();
    let _broker = start_mosquitto(&dir, mport);
    let port = free_port();
    let data = dir.join("data");
    let url = format!("mqtt://127.0.0.1:{mport}");
    let mut d = Doppel::serve(port, &data, &["--mqtt-url", &url]);
    let log = d.log.clone();
    // The persistent session must exist before publishing (it is created by the first subscription).
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.get("/api/health")["mqtt"]["connects"].as_u64() == Some(0) {
        assert!(Instant::now() < deadline, "doppel never connected to mosquitto");
        std::thread::sleep(Duration::from_millis(50));
    }

    const MESSAGES: u64 = 6000;
    let base = now_ms() - 7_200_000;
    let published = Arc::new(AtomicU64::new(0));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let publisher = {
        let acked = acked.clone();
        let published = published.clone();
        rt.spawn(async move {
            let mut o = MqttOptions::new("test-publisher", "127.0.0.1", mport);
            o.set_inflight(100);
            let (c, mut ev) = AsyncClient::new(o, 1000);
            let a2 = acked.clone();
            tokio::spawn(async move {
                loop {
                    match ev.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            a2.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
            for i in 0..MESSAGES {
                // One sample per message on the conveyor's belt_speed; value encodes the index.
                let body = format!(r#"{{"ts":{},"values":{{"belt_speed":{}}}}}"#, base + i as i64, (i % 400) as f64 / 100.0);
                c.publish("doppel/v1/data/l2-conv-2", QoS::AtLeastOnce, false, body).await.unwrap();
                published.fetch_add(1, Ordering::Relaxed);
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        })
    };

    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(700));
        let sent = published.load(Ordering::Relaxed);
        d.crash_and_restart();
        if round == 0 {
            assert!(sent > 0 && sent < MESSAGES, "the first kill must land mid-stream (published {sent})");
        }
    }
    rt.block_on(publisher).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::Relaxed) < MESSAGES {
        assert!(
            Instant::now() < deadline,
            "mosquitto acknowledged only {} of {MESSAGES}",
            acked.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Every message mosquitto accepted must end up stored exactly once per timestamp.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = d.get(&format!(
            "/api/assets/l2-conv-2/signals/belt_speed/history?raw=true&start={}&end={}",
            base,
            base + MESSAGES as i64
        ));
        let pts = h["points"].as_array().unwrap();
        if pts.len() as u64 == MESSAGES {
            for (i, p) in pts.iter().enumerate() {
                assert_eq!(p[0].as_i64().unwrap(), (base + i as i64) * 1_000_000);
                assert_eq!(p[1].as_f64().unwrap(), (i % 400) as f64 / 100.0);
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {MESSAGES} broker-accepted messages stored after kill -9 cycles; doppel log:\n{}",
            pts.len(),
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(published.load(Ordering::Relaxed) == MESSAGES);
    let _ = std::fs::remove_dir_all(&dir);
}
