//! Writes a small store to the directory given as argument (for inspecting the Parquet
//! layout with DuckDB/pyarrow): `cargo run -p doppel-store --example make_sample_store DIR`.

use doppel_store::{MINUTE_NS, NewEvent, Sample, Store, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: make_sample_store DIR")?;
    let store = Store::open(StoreConfig::new(&dir))?;
    let base = doppel_store::bench::BENCH_BASE_TS;
    let ids = [store.register_series("L1-M01/winding_temp")?, store.register_series("L1-M01/vibration")?];
    let mut batch = Vec::new();
    for i in 0..7200i64 {
        for (k, id) in ids.iter().enumerate() {
            batch.push(Sample {
                series: *id,
                ts: base + i * 30_000_000_000,
                value: k as f64 + i as f64 * 0.1,
                context: 0,
            });
        }
    }
    store.append(&batch)?;
    store.append_events(vec![NewEvent {
        ts: base + MINUTE_NS,
        kind: "state".into(),
        subject: "L1-M01".into(),
        payload: r#"{"state":"running"}"#.into(),
    }])?;
    store.flush_now()?;
    store.compact_now()?;
    println!("{:?}", store.stats());
    Ok(())
}
