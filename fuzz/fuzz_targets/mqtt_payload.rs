//! MQTT topic + payload parsing must never panic, whatever arrives.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line (up to 64 bytes) is the topic suffix, the rest the payload.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(0).min(64);
    let topic = format!("doppel/v1/{}", String::from_utf8_lossy(&data[..split]));
    let _ = doppel_ingest::payload::parse_message(&topic, &data[split..], 1_800_000_000_000_000_000);
    let _ = doppel_ingest::payload::parse_context_body(data, 0);
    let _ = doppel_ingest::payload::parse_maintenance_body(data, 0);
});
