//! MQTT: the embedded broker (rumqttd) and the ingest client (rumqttc) that subscribes to
//! `doppel/v1/#` with a persistent session and acknowledges each QoS 1 message only after the
//! pipeline made it durable.
//!
//! Guarantees: with an external broker that persists sessions (Mosquitto with `persistence true`,
//! or simply while the broker keeps running), a message the broker delivered to us but that we
//! had not yet acknowledged when doppel crashed is redelivered on reconnect, because we never
//! ack before the store's fsync. The embedded broker keeps sessions in memory only: it survives
//! the ingest client reconnecting, but a crash of the doppel process takes the broker down too,
//! and messages it had accepted from publishers but not yet delivered to us are lost. Devices
//! that need end-to-end durability should use an external broker or the HTTP bulk endpoint,
//! which answers only after the WAL commit.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use doppel_model::time;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;

use crate::IngestError;
use crate::payload::TOPIC_FILTER;
use crate::pipeline::Ingestor;

/// A running embedded MQTT broker.
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
}

/// Settings of the embedded broker.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub max_payload_bytes: usize,
    /// Unacknowledged QoS 1 messages in flight per client.
    pub max_inflight: usize,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            listen: ([127, 0, 0, 1], 1883).into(),
            max_connections: 10_000,
            max_payload_bytes: crate::payload::MAX_PAYLOAD_BYTES,
            max_inflight: 1000,
        }
    }
}

impl EmbeddedBroker {
    /// Starts rumqttd on its own thread and waits until it accepts connections.
    pub fn start(settings: &BrokerSettings) -> Result<EmbeddedBroker, IngestError> {
        // Fail early and clearly if the port is taken (rumqttd would only log it).
        std::net::TcpListener::bind(settings.listen).map_err(|e| IngestError::Broker(format!("cannot listen on {}: {e}", settings.listen)))?;
        let connections = rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: settings.max_payload_bytes,
            max_inflight_count: settings.max_inflight,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        };
        let server = rumqttd::ServerSettings {
            name: "doppel-v4".into(),
            listen: settings.listen,
            tls: None,
            next_connection_delay_ms: 1,
            connections,
        };
        let config = rumqttd::Config {
            id: 0,
            router: rumqttd::RouterConfig {
                max_connections: settings.max_connections,
                max_outgoing_packet_count: settings.max_inflight as u64,
                max_segment_size: 100 * 1024 * 1024,
                max_segment_count: 10,
                custom_segment: None,
                initialized_filters: None,
                shared_subscriptions_strategy: Default::default(),
            },
            v4: Some(HashMap::from([("doppel".to_string(), server)])),
            v5: None,
            ws: None,
            cluster: None,
            console: None,
            bridge: None,
            prometheus: None,
            metrics: None,
        };
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = ?e, "embedded MQTT broker stopped");
                }
            })
            .map_err(|e| IngestError::Broker(e.to_string()))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !mqtt_handshake(settings.listen) {
            if std::time::Instant::now() > deadline {
                return Err(IngestError::Broker(format!("embedded broker did not start listening on {}", settings.listen)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(EmbeddedBroker { addr: settings.listen })
    }
}

/// Readiness probe: a real MQTT 3.1.1 CONNECT → CONNACK, then close (a bare TCP connect would
/// make the broker log a failed connection).
fn mqtt_handshake(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    const CONNECT: &[u8] = &[
        0x10, 24, // CONNECT, remaining length
        0, 4, b'M', b'Q', b'T', b'T', 4, // protocol name and level 3.1.1
        0x02, 0, 10, // clean session, keep-alive 10 s
        0, 12, b'd', b'o', b'p', b'p', b'e', b'l', b'-', b'p', b'r', b'o', b'b', b'e',
    ];
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut ack = [0u8; 4];
    s.write_all(CONNECT).is_ok() && s.read_exact(&mut ack).is_ok() && ack[0] == 0x20 && ack[3] == 0
}

/// Where and how the ingest client connects.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `mqtt://host:port` (optionally `?client_id=...`).
    pub url: String,
    pub client_id: String,
    /// Messages in flight towards us (the broker's window for unacknowledged QoS 1 deliveries).
    pub inflight: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Subscription filter: [`TOPIC_FILTER`], or `$share/<group>/doppel/v1/#` when several sessions
    /// share the load (see [`shared_filter`]).
    pub filter: String,
}

/// The shared-subscription filter used when `sessions` ingest sessions split the stream.
pub fn shared_filter(group: &str) -> String {
    format!("$share/{group}/{TOPIC_FILTER}")
}

impl ClientSettings {
    pub fn new(url: impl Into<String>, client_id: impl Into<String>) -> ClientSettings {
        ClientSettings {
            url: url.into(),
            client_id: client_id.into(),
            inflight: 1000,
            username: None,
            password: None,
            filter: TOPIC_FILTER.to_string(),
        }
    }

    /// rumqttc options for these settings.
    pub fn options(&self, clean_session: bool) -> Result<MqttOptions, IngestError> {
        let (host, port) = parse_mqtt_url(&self.url)?;
        let mut o = MqttOptions::new(self.client_id.clone(), host, port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_clean_session(clean_session);
        o.set_max_packet_size(crate::payload::MAX_PAYLOAD_BYTES + 1024, crate::payload::MAX_PAYLOAD_BYTES + 1024);
        o.set_inflight(self.inflight.max(1));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            o.set_credentials(u.clone(), p.clone());
        }
        Ok(o)
    }
}

/// Parses `mqtt://host:port` / `tcp://host:port` / `host:port`.
pub fn parse_mqtt_url(url: &str) -> Result<(String, u16), IngestError> {
    let rest = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).unwrap_or(url);
    let rest = rest.split(['?', '/']).next().unwrap_or(rest);
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| IngestError::Config(format!("--mqtt-url '{url}': '{p}' is not a port number")))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(IngestError::Config(format!("--mqtt-url '{url}': no host (expected mqtt://host:port)")));
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}

/// Counters of the MQTT ingest loop.
#[derive(Debug, Default)]
pub struct MqttStats {
    pub received: std::sync::atomic::AtomicU64,
    pub acked: std::sync::atomic::AtomicU64,
    pub connects: std::sync::atomic::AtomicU64,
    /// Set once the broker confirmed our subscription (or resumed our session).
    pub subscribed: std::sync::atomic::AtomicBool,
}

/// Most messages handled as one batch (one store write, one fsync shared with other writers).
const MAX_BATCH_MESSAGES: usize = 4096;
/// Most payload bytes in one batch.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// A received message, tagged with the connection it arrived on (acks are only valid there).
struct Received {
    epoch: u64,
    publish: Publish,
}

/// A batch that finished: acknowledge its messages (in order) if it is durable. `parts` are runs
/// of messages that arrived on one connection (`epoch`), as (QoS, packet id).
struct Finished {
    batch: u64,
    durable: bool,
    parts: Vec<(u64, Vec<(QoS, u16)>)>,
}

/// Runs the MQTT ingest client until the task is dropped. Reconnects with back-off; the session is
/// persistent (clean_session = false), so the broker keeps our subscription and unacknowledged
/// messages while we are away.
///
/// Pipeline: the receive loop only hands messages to a processing thread, which takes whatever has
/// arrived as one batch ([`Ingestor::handle_batch`]); when the batch is durable its messages are
/// acknowledged, batches in receive order and only on the connection they arrived on (after a
/// reconnect the broker redelivers what was not acknowledged; storing it again is idempotent).
pub async fn run_ingest_client(settings: ClientSettings, ingestor: Arc<Ingestor>, stats: Arc<MqttStats>) -> Result<(), IngestError> {
    let mut opts = settings.options(false)?;
    // Manual acks: the client must not ack on receipt, only after the store commit.
    opts.set_manual_acks(true);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    let epoch = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Finished>();
    let (work_tx, work_rx) = std::sync::mpsc::channel::<Received>();
    let processor = {
        let ingestor = ingestor.clone();
        std::thread::Builder::new()
            .name("mqtt-ingest".into())
            .spawn(move || process_batches(work_rx, ingestor, ack_tx))
            .map_err(|e| IngestError::Internal(e.to_string()))?
    };
    let acker = tokio::spawn(ack_in_order(client.clone(), ack_rx, epoch.clone(), stats.clone()));
    let result = receive_loop(&client, &mut eventloop, &settings.filter, work_tx, &epoch, &stats).await;
    acker.abort();
    let _ = processor.join();
    result
}

async fn receive_loop(
    client: &AsyncClient,
    eventloop: &mut EventLoop,
    filter: &str,
    work: std::sync::mpsc::Sender<Received>,
    epoch: &std::sync::atomic::AtomicU64,
    stats: &MqttStats,
) -> Result<(), IngestError> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut backoff = Duration::from_millis(100);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                stats.connects.fetch_add(1, Relaxed);
                epoch.fetch_add(1, Relaxed);
                backoff = Duration::from_millis(100);
                tracing::info!(session_present = ack.session_present, "connected to MQTT broker");
                if ack.session_present {
                    stats.subscribed.store(true, Relaxed);
                } else {
                    client
                        .subscribe(filter, QoS::AtLeastOnce)
                        .await
                        .map_err(|e| IngestError::Broker(e.to_string()))?;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => stats.subscribed.store(true, Relaxed),
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                stats.received.fetch_add(1, Relaxed);
                if work
                    .send(Received {
                        epoch: epoch.load(Relaxed),
                        publish,
                    })
                    .is_err()
                {
                    return Err(IngestError::Internal("MQTT processing thread stopped".into()));
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection error");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Takes everything that has arrived as one batch, hands it to the pipeline, repeats.
fn process_batches(rx: std::sync::mpsc::Receiver<Received>, ingestor: Arc<Ingestor>, acks: mpsc::UnboundedSender<Finished>) {
    let mut batch_no: u64 = 0;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let mut bytes = batch[0].publish.payload.len();
        while batch.len() < MAX_BATCH_MESSAGES && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.publish.payload.len();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        batch_no += 1;
        let this = batch_no;
        let receive = time::now();
        // A batch may straddle a reconnect: keep per-connection runs so each acks on its own connection.
        let mut parts: Vec<(u64, Vec<(QoS, u16)>)> = Vec::new();
        for r in &batch {
            let id = (r.publish.qos, r.publish.pkid);
            match parts.last_mut() {
                Some((e, v)) if *e == r.epoch => v.push(id),
                _ => parts.push((r.epoch, vec![id])),
            }
        }
        let messages: Vec<(&str, &[u8])> = batch.iter().map(|r| (r.publish.topic.as_str(), &r.publish.payload[..])).collect();
        let tx = acks.clone();
        ingestor.handle_batch(
            messages,
            receive,
            Box::new(move |res| {
                let durable = match res {
                    Ok(_) => true,
                    // Not durable: never ack; the broker redelivers after a reconnect.
                    Err(e) => {
                        tracing::error!(error = %e, "MQTT batch not stored; leaving it unacknowledged");
                        false
                    }
                };
                let _ = tx.send(Finished { batch: this, durable, parts });
            }),
        );
    }
}

/// Acknowledges batches in the order they were received (MQTT 3.1.1 §4.6; rumqttd rejects
/// out-of-order acks), holding back batches that completed early. Acks for a connection that is
/// gone are dropped: the broker redelivers those messages.
async fn ack_in_order(client: AsyncClient, mut rx: mpsc::UnboundedReceiver<Finished>, epoch: Arc<std::sync::atomic::AtomicU64>, stats: Arc<MqttStats>) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut next: u64 = 1;
    let mut pending: BTreeMap<u64, Finished> = BTreeMap::new();
    while let Some(f) = rx.recv().await {
        pending.insert(f.batch, f);
        while let Some(f) = pending.remove(&next) {
            next += 1;
            if !f.durable {
                continue;
            }
            for (part_epoch, ids) in f.parts {
                if part_epoch != epoch.load(Relaxed) {
                    continue;
                }
                for (qos, pkid) in &ids {
                    let mut p = Publish::new("", *qos, Vec::<u8>::new());
                    p.pkid = *pkid;
                    if client.ack(&p).await.is_err() {
                        return;
                    }
                }
                stats.acked.fetch_add(ids.len() as u64, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls() {
        assert_eq!(parse_mqtt_url("mqtt://localhost:1884").unwrap(), ("localhost".into(), 1884));
        assert_eq!(parse_mqtt_url("tcp://127.0.0.1").unwrap(), ("127.0.0.1".into(), 1883));
        assert_eq!(parse_mqtt_url("broker:1883?client_id=x").unwrap(), ("broker".into(), 1883));
        assert!(parse_mqtt_url("mqtt://host:notaport").is_err());
        assert!(parse_mqtt_url("mqtt://:1883").is_err());
    }
}
