//! Prints the signal benchmark as JSON.
//!
//! ```text
//! cargo run --release -p doppel-signal --example signal_bench                              # Rust only
//! cargo run --release -p doppel-signal --example signal_bench -- /work/venv-bench/bin/python  # and numpy/scipy
//! ```

use doppel_signal::bench::{SignalBenchConfig, compare, default_script_path, run};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = SignalBenchConfig::default();
    let json = match std::env::args().nth(1) {
        Some(python) => serde_json::to_string_pretty(&compare(Path::new(&python), &default_script_path(), &config)?)?,
        None => serde_json::to_string_pretty(&run(&config)?)?,
    };
    println!("{json}");
    Ok(())
}
