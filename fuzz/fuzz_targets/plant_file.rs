//! Plant-file parsing and validation must never panic; errors must carry a location.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = doppel_model::Plant::parse(text, "fuzz.toml") {
            for d in e.diagnostics() {
                assert!(d.line <= text.lines().count() + 1);
            }
        }
    }
});
