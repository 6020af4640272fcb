//! Throughput sanity of the ingest hot path: `cargo run --release -p doppel-twin --example apply_throughput`.
//! Applies 1M samples round-robin over every signal of the example plant and prints the rate.

use std::sync::Arc;
use std::time::Instant;

use doppel_model::{LineContext, Plant};
use doppel_twin::TwinRuntime;

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml");
    let plant = Arc::new(Plant::load(std::path::Path::new(path)).expect("example plant"));
    let series: Vec<(usize, usize)> = plant
        .assets
        .iter()
        .enumerate()
        .flat_map(|(a, asset)| (0..asset.signals.len()).map(move |s| (a, s)))
        .collect();
    let mut twin = TwinRuntime::new(plant, 0);
    let ctx = LineContext {
        mode: Some("normal".into()),
        ..LineContext::default()
    };
    let n: i64 = 1_000_000;
    let mut events = 0usize;
    let start = Instant::now();
    for i in 0..n {
        let (a, s) = series[i as usize % series.len()];
        // Values near typical levels with a slow wobble; 1 Hz per series.
        let ts = (i / series.len() as i64) * 1_000_000_000;
        let v = 50.0 + 10.0 * ((i % 97) as f64 / 97.0);
        events += twin.apply(a, s, ts, v, &ctx).len();
    }
    let dt = start.elapsed();
    println!(
        "{n} applies over {} series in {dt:?} ({:.1} ns/apply, {:.1} M/s), {events} events",
        series.len(),
        dt.as_nanos() as f64 / n as f64,
        n as f64 / dt.as_secs_f64() / 1e6
    );
}
