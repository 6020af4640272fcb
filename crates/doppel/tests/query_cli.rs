//! `doppel query` reads a data directory directly once the server is stopped, and refuses while
//! the server holds it.

mod common;

use common::*;

#[test]
fn query_reads_series_history_and_events_of_a_stopped_server() {
    let dir = tempdir("query");
    let port = free_port();
    let mut d = Doppel::serve(port, &dir, &["--no-mqtt"]);
    let t = now_ms() - 600_000;
    let body = format!(
        r#"{{"samples":[{{"asset":"l2-cnc-3","signal":"spindle_temp","ts":{t},"value":31.5}},{{"asset":"l2-cnc-3","signal":"spindle_temp","ts":{},"value":32.5}},{{"asset":"ghost","signal":"x","ts":{t},"value":1}}]}}"#,
        t + 1000
    );
    let (status, resp) = http(d.http, "POST", "/api/ingest", Some(&body));
    assert_eq!(status, 200, "{resp}");
    let (status, _) = http(d.http, "POST", "/api/lines/l2/context", Some(r#"{"product":"flange-c","batch":"B-77"}"#));
    assert_eq!(status, 200);

    // While the server runs, the store directory is locked.
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(["query", "--data-dir", dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let locked = run(&["series"]);
    assert!(!locked.status.success(), "query must refuse a directory in use");

    d.kill9();
    let series = run(&["series"]);
    assert!(series.status.success(), "{}", String::from_utf8_lossy(&series.stderr));
    let text = String::from_utf8_lossy(&series.stdout);
    assert!(text.lines().any(|l| l.starts_with("l2-cnc-3/spindle_temp\t32.5\t")), "{text}");
    assert_eq!(
        text.lines().count(),
        doppel_model::Plant::load(&example_plant())
            .unwrap()
            .assets
            .iter()
            .map(|a| a.signals.len())
            .sum::<usize>()
    );

    let raw = run(&[
        "history",
        "l2-cnc-3/spindle_temp",
        "--start",
        &(t - 1).to_string(),
        "--end",
        &(t + 2000).to_string(),
        "--raw",
    ]);
    let text = String::from_utf8_lossy(&raw.stdout);
    let values: Vec<&str> = text.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(values, ["31.5", "32.5"], "{text}");

    let ev = run(&["events", "--kind", "quarantine"]);
    assert!(String::from_utf8_lossy(&ev.stdout).contains("unknown asset 'ghost'"));
    let ev = run(&["events", "--kind", "context", "--subject", "l2"]);
    assert!(String::from_utf8_lossy(&ev.stdout).contains("B-77"));

    let bad = run(&["history", "no/such"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no series 'no/such'"));
    let _ = std::fs::remove_dir_all(&dir);
}
