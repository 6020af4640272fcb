//! `doppel query`: reads a data directory directly (the store allows one process per directory,
//! so stop the server first, or use the REST API while it runs).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use doppel_model::time;
use doppel_store::{EventFilter, Store, StoreConfig};

#[derive(Args)]
pub struct QueryArgs {
    /// Data directory of a stopped doppel server or demo.
    #[arg(long, default_value = "doppel-data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// List stored series (asset/signal) with their latest value.
    Series,
    /// History of one series, downsampled (or raw with --raw).
    History {
        /// Series key: <asset>/<signal>, e.g. l1-cnc-1/vibration.
        series: String,
        /// Start (RFC 3339 or epoch ms); default: 1 hour before end.
        #[arg(long)]
        start: Option<String>,
        /// End (RFC 3339 or epoch ms); default: now.
        #[arg(long)]
        end: Option<String>,
        /// Maximum number of buckets.
        #[arg(long, default_value_t = 20)]
        buckets: usize,
        /// Print every raw sample instead of buckets.
        #[arg(long)]
        raw: bool,
    },
    /// Stored events (context changes, alerts, state changes, quarantine records), latest first.
    Events {
        /// Only this kind (context, alert_raised, alert_cleared, state_changed, quarantine, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Only this asset or line.
        #[arg(long)]
        subject: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

fn parse_time(flag: &str, v: &str) -> Result<i64> {
    time::parse_user_time(v).with_context(|| format!("{flag} '{v}' is not an RFC 3339 time nor epoch milliseconds (in range)"))
}

pub fn run(a: QueryArgs) -> Result<()> {
    let dir = a.data_dir.join("store");
    if !dir.exists() {
        anyhow::bail!("no store in {} (give --data-dir of a doppel demo/serve)", a.data_dir.display());
    }
    let store = Store::open(StoreConfig::new(&dir)).with_context(|| format!("cannot open the store in {}", dir.display()))?;
    match a.what {
        What::Series => {
            for (id, key) in store.list_series() {
                match store.latest(id)? {
                    Some((ts, v)) => println!("{key}\t{v}\t{}", time::format_rfc3339(ts)),
                    None => println!("{key}\t-\t-"),
                }
            }
        }
        What::History {
            series,
            start,
            end,
            buckets,
            raw,
        } => {
            let id = store
                .series_id(&series)
                .with_context(|| format!("no series '{series}' (list them with `doppel query series`)"))?;
            let end = end.as_deref().map(|v| parse_time("--end", v)).transpose()?.unwrap_or_else(time::now);
            let start = start
                .as_deref()
                .map(|v| parse_time("--start", v))
                .transpose()?
                .unwrap_or(end - 3600 * time::NANOS_PER_SEC);
            if raw {
                for (ts, v) in store.query_raw(id, start, end)? {
                    println!("{}\t{v}", time::format_rfc3339(ts));
                }
            } else {
                let ds = store.query_downsampled(id, start, end, buckets.max(1))?;
                println!("bucket_start\tcount\tmin\tmax\tmean\tlast\t(step {} s)", ds.step_ns as f64 / 1e9);
                for b in ds.buckets {
                    println!(
                        "{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}",
                        time::format_rfc3339(b.start),
                        b.count,
                        b.min,
                        b.max,
                        b.mean,
                        b.last
                    );
                }
            }
        }
        What::Events { kind, subject, limit } => {
            let f = EventFilter {
                kinds: kind.map(|k| vec![k]),
                subject,
                limit,
                latest_first: true,
                ..Default::default()
            };
            for e in store.query_events(&f)? {
                println!("{}\t{}\t{}\t{}", time::format_rfc3339(e.ts), e.kind, e.subject, e.payload);
            }
        }
    }
    store.close()?;
    Ok(())
}
