//! `doppel sim` executes commands: against the embedded broker of `doppel serve`, a set_load and a repair
//! command come back acknowledged as applied, the repair's maintenance message carries the command's work
//! order (and is stored by the server), and a command for an unknown asset comes back rejected.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use doppel_ingest::command::{self, AckStatus, CommandAck, CommandAction};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// The simulator process, killed on drop.
struct Sim(Child);
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sim_applies_commands_and_acknowledges_each() {
    let dir = tempdir("simcmd");
    let port = free_port();
    let mqtt = free_port();
    let d = Doppel::serve(port, &dir, &["--mqtt-port", &mqtt.to_string()]);
    let sim_log = dir.join("sim.log");
    let out = std::fs::File::create(&sim_log).unwrap();
    let mut sim = Sim(Command::new(BIN)
        .args([
            "sim",
            "--plant",
            example_plant().to_str().unwrap(),
            "--mqtt-url",
            &format!("mqtt://127.0.0.1:{mqtt}"),
            "--speed",
            "5",
            "--duration",
            "100000",
            "--no-progress",
            "--waveform-every-s",
            "0",
            "--client-id",
            "sim-under-test",
        ])
        .env("DOPPEL_LOG", "info")
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("cannot start doppel sim"));

    let commands = [
        command::Command {
            asset: "l1-hyd-motor".into(),
            id: "test-set-load-1".into(),
            ts_ns: Some(now_ms() * 1_000_000),
            action: CommandAction::SetLoad { load: 0.5 },
            reason: Some("derate: winding temperature".into()),
        },
        command::Command {
            asset: "l1-coolant-pump".into(),
            id: "test-repair-1".into(),
            ts_ns: None,
            action: CommandAction::Repair {
                work_order: Some("WO-12".into()),
            },
            reason: Some("bearing noise".into()),
        },
        command::Command {
            asset: "no-such-asset".into(),
            id: "test-unknown-1".into(),
            ts_ns: None,
            action: CommandAction::Stop,
            reason: None,
        },
    ];

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (acks, maintenance) = rt.block_on(async {
        let mut o = MqttOptions::new("sim-commands-test", "127.0.0.1", mqtt);
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut ev) = AsyncClient::new(o, 100);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>)>();
        let (sub_tx, mut sub_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let poller = tokio::spawn(async move {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic, p.payload.to_vec()));
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = sub_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        client.subscribe(command::COMMAND_ACK_FILTER, QoS::AtLeastOnce).await.unwrap();
        client.subscribe("doppel/v1/maintenance/+", QoS::AtLeastOnce).await.unwrap();
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(10), sub_rx.recv())
                .await
                .expect("no SUBACK from the broker");
        }

        // The simulator subscribes shortly after it starts; until its first acknowledgement arrives, send the
        // commands again every second (same ids: it answers a repeat without applying it twice).
        let mut acks: BTreeMap<String, CommandAck> = BTreeMap::new();
        let mut maintenance: Vec<serde_json::Value> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut next_send = Instant::now();
        while Instant::now() < deadline {
            if acks.len() < commands.len() && Instant::now() >= next_send {
                for c in commands.iter().filter(|c| !acks.contains_key(&c.id)) {
                    command::publish_command(&client, c).await.unwrap();
                }
                next_send = Instant::now() + Duration::from_secs(1);
            }
            let with_wo = maintenance.iter().any(|m| m["work_order"] == "WO-12");
            if acks.len() == commands.len() && with_wo {
                break;
            }
            if let Ok(Some((topic, payload))) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                if topic.starts_with(command::COMMAND_ACK_PREFIX) {
                    let ack = command::parse_command_ack(&topic, &payload).unwrap_or_else(|e| panic!("bad ack on {topic}: {e}"));
                    acks.insert(ack.id.clone(), ack);
                } else if topic == "doppel/v1/maintenance/l1-coolant-pump" {
                    maintenance.push(serde_json::from_slice(&payload).unwrap());
                }
            }
        }
        poller.abort();
        (acks, maintenance)
    });
    let log = || std::fs::read_to_string(&sim_log).unwrap_or_default();
    assert!(sim.0.try_wait().unwrap().is_none(), "doppel sim exited; log:\n{}", log());

    let ack = |id: &str| {
        acks.get(id)
            .unwrap_or_else(|| panic!("no acknowledgement for {id}: {acks:?}\nsim log:\n{}", log()))
    };
    let set = ack("test-set-load-1");
    assert_eq!((set.status, set.asset.as_str()), (AckStatus::Applied, "l1-hyd-motor"), "{set:?}");
    let repair = ack("test-repair-1");
    assert_eq!((repair.status, repair.asset.as_str()), (AckStatus::Applied, "l1-coolant-pump"), "{repair:?}");
    assert!(repair.detail.as_deref().unwrap_or("").contains("WO-12"), "{repair:?}");
    let unknown = ack("test-unknown-1");
    assert_eq!(unknown.status, AckStatus::Rejected, "{unknown:?}");
    assert!(unknown.detail.as_deref().unwrap_or("").contains("unknown asset 'no-such-asset'"), "{unknown:?}");

    let m = maintenance
        .iter()
        .find(|m| m["work_order"] == "WO-12")
        .unwrap_or_else(|| panic!("no maintenance message with the work order: {maintenance:?}\nsim log:\n{}", log()));
    assert_eq!(m["kind"], "repair");
    assert!(m["note"].as_str().unwrap().contains("test-repair-1"), "{m}");

    // The server stored that maintenance message like one from a CMMS.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let events = d.get("/api/events?kind=maintenance&subject=l1-coolant-pump");
        if events.to_string().contains("WO-12") {
            break;
        }
        assert!(Instant::now() < deadline, "the repair's maintenance record was not stored: {events}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Every command is in the simulator's log.
    let text = log();
    for id in ["test-set-load-1", "test-repair-1", "test-unknown-1"] {
        assert!(text.contains(id), "command {id} not logged:\n{text}");
    }
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}
