//! A QoS 1 MQTT publisher for `doppel sim` and `doppel bench`: the client plus a background event
//! loop that counts the broker's PUBACKs, so callers can wait until everything was accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use doppel_ingest::mqtt::ClientSettings;
use rumqttc::{AsyncClient, Event, Packet};

pub struct Publisher {
    pub client: AsyncClient,
    acked: Arc<AtomicU64>,
    closing: Arc<AtomicBool>,
    poller: tokio::task::JoinHandle<()>,
}

impl Publisher {
    /// Connects (clean session, 1000 messages in flight); connection errors are logged and retried.
    pub fn connect(url: &str, client_id: &str) -> Result<Publisher> {
        let mut opts = ClientSettings::new(url, client_id).options(true)?;
        opts.set_inflight(1000);
        let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
        let acked = Arc::new(AtomicU64::new(0));
        let closing = Arc::new(AtomicBool::new(false));
        let (a, c) = (acked.clone(), closing.clone());
        let poller = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) if c.load(Ordering::Relaxed) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "MQTT publisher connection error; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(Publisher {
            client,
            acked,
            closing,
            poller,
        })
    }

    /// PUBACKs received so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until `n` messages were acknowledged or `limit` passed; returns the count.
    pub async fn wait_acked(&self, n: u64, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        while self.acked() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.acked()
    }

    /// Disconnects cleanly and stops the event loop.
    pub async fn close(self) {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.poller.abort();
    }
}
