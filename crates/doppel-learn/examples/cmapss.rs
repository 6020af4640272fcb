//! `cargo run --release -p doppel-learn --example cmapss -- <dir> <subset> [baseline]`: the C-MAPSS report.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut cfg = doppel_learn::hybrid::PrognosticsConfig::default();
    if let Some(b) = args.get(3) {
        cfg.rul.baseline = b.parse().unwrap_or(0);
    }
    match doppel_learn::run_cmapss(std::path::Path::new(&args[1]), &args[2], &cfg) {
        Ok(r) => print!("{}", r.summary()),
        Err(e) => eprintln!("{e}"),
    }
}
