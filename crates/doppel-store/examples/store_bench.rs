//! Runs the store benchmarks once: `cargo run --release -p doppel-store --example store_bench [total_samples]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(10_000_000);
    let only = std::env::args().nth(2).unwrap_or_default();
    let series = 1000;
    let dir = tempfile::tempdir()?;
    for (batch, writers) in [(10_000, 4), (1_000, 8)] {
        if !only.is_empty() && only != "ingest" {
            break;
        }
        let r = doppel_store::bench::ingest_benchmark(&dir.path().join(format!("ingest-{batch}-{writers}")), total, series, batch, writers)?;
        println!(
            "{}: {} rows in {:.3}s = {:.0} samples/s ({})",
            r.name,
            r.rows,
            r.elapsed.as_secs_f64(),
            r.samples_per_sec,
            r.details
        );
    }
    if only == "ingest" {
        // Read everything back to make sure the numbers are real.
        let store = doppel_store::Store::open(doppel_store::StoreConfig::new(dir.path().join("ingest-10000-4")))?;
        let mut n = 0;
        for (id, _) in store.list_series() {
            n += store.query_raw(id, i64::MIN, i64::MAX)?.len();
        }
        println!("verified: {n} samples readable after reopen, {:?}", store.stats());
        return Ok(());
    }
    match doppel_store::bench::postgres_copy_benchmark(total, series) {
        Ok(r) => println!(
            "{}: {} rows in {:.3}s = {:.0} rows/s ({})",
            r.name,
            r.rows,
            r.elapsed.as_secs_f64(),
            r.samples_per_sec,
            r.details
        ),
        Err(e) => println!("postgres benchmark unavailable: {e}"),
    }
    let q = doppel_store::bench::query_benchmark(&dir.path().join("query"), 30, 20, 9)?;
    println!(
        "30-day downsample: {} samples of the series ({} total) -> {} buckets (step {} s), median {:.2} ms, runs {:?}; write {:.2}s, compact {:.2}s",
        q.samples,
        q.total_samples,
        q.buckets,
        q.step_ns / 1_000_000_000,
        q.median.as_secs_f64() * 1e3,
        q.runs,
        q.write_time.as_secs_f64(),
        q.compact_time.as_secs_f64()
    );
    Ok(())
}
