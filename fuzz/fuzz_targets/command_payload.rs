//! Command and command-acknowledgement parsing must never panic, whatever arrives.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line (up to 64 bytes) is the topic suffix, the rest the payload.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(0).min(64);
    let topic = format!("doppel/v1/{}", String::from_utf8_lossy(&data[..split]));
    let payload = &data[split..];
    let _ = doppel_ingest::command::parse_command(&topic, payload);
    let _ = doppel_ingest::command::parse_command_ack(&topic, payload);
    // The whole input as a body on valid topics, so the JSON paths get every byte.
    let _ = doppel_ingest::command::parse_command("doppel/v1/command/m1", data);
    let _ = doppel_ingest::command::parse_command_ack("doppel/v1/command_ack/m1", data);
    let _ = doppel_ingest::command::command_id_of(data);
    // Anything that parses serialises to a body that parses back to the same command.
    if let Ok(c) = doppel_ingest::command::parse_command("doppel/v1/command/m1", data) {
        let again = doppel_ingest::command::parse_command("doppel/v1/command/m1", &c.to_json());
        assert_eq!(again.ok(), Some(c));
    }
});
