//! The HTTP bulk-ingest body parser must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = doppel_ingest::parse_bulk(data, 1_800_000_000_000_000_000);
});
