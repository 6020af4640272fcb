//! Runs continued from a previous run's end state ([`doppel_line::state`]): exact for a deterministic line,
//! and for the example plant's line 1 simulated in chunks a consistent genealogy (serials continue, every
//! unit visits every station once, no machine processes two units at once, one blank per unit) and the same
//! production as one long run.

use doppel_line::config::{LineConfig, Route, StationConfig};
use doppel_line::plant::{PlantLineOptions, line_from_plant};
use doppel_line::state::{LineState, Place};
use doppel_line::trace::{TraceBuilder, TraceLog};
use doppel_line::{Dist, LineError, SimOptions, Simulator};
use doppel_model::Plant;

fn det(x: f64) -> Dist {
    Dist::Deterministic { value: x }
}

/// Exit time (absolute seconds) of every serial in a log that starts at `t0`.
fn exits(log: &TraceLog, t0: f64, out: &mut std::collections::BTreeMap<u64, f64>) {
    for u in log.units.iter().chain(&log.continued) {
        if u.exit_s.is_finite() {
            out.insert(u.serial, t0 + u.exit_s);
        }
    }
}

#[test]
fn a_campaign_under_way_continues_in_the_next_run() {
    let mut a = StationConfig::new("a", det(10.0), 1);
    a.setup = Some(vec![vec![0.0, 30.0], vec![30.0, 0.0]]);
    let mut l = LineConfig::serial("l", vec![a]);
    l.products = vec!["x".into(), "y".into()];
    l.sources[0].mix = [("x".to_string(), 1.0), ("y".to_string(), 1.0)].into_iter().collect();
    l.sources[0].batch_size = 20;
    let sim = Simulator::new(&l).unwrap();
    let run = sim
        .run(&SimOptions {
            end_state: true,
            ..SimOptions::new(1, 95.0, 0.0)
        })
        .unwrap();
    let st = run.end_state.unwrap();
    let (product, left) = st.sources[0].campaign.clone().unwrap();
    // 10 units started (9 finished, the 10th on the machine) of a campaign of 20
    assert_eq!(left, 10, "{st:?}");
    assert_eq!(st.machines[0].last_product.as_deref(), Some(product.as_str()));
    let next = sim
        .run_from(
            &SimOptions {
                trace: true,
                serial_base: 10,
                ..SimOptions::new(99, 120.0, 0.0)
            },
            &st,
        )
        .unwrap();
    let log = next.trace.unwrap();
    let p = log.products.iter().position(|x| *x == product).unwrap() as u16;
    // the unit on the machine finishes at 5 s, then the campaign's 10 remaining units follow without a changeover
    assert_eq!(log.continued.len(), 1);
    assert!((log.continued[0].exit_s - 5.0).abs() < 1e-9, "{:?}", log.continued);
    assert!(log.units.iter().take(10).all(|u| u.product == p), "{:?}", log.units);
    assert_eq!(next.stations[0].changeovers, u64::from(log.units.get(10).is_some_and(|u| u.product != p)));
}

#[test]
fn a_single_product_deterministic_line_in_chunks_matches_exactly() {
    let mut a = StationConfig::new("a", det(10.0), 1);
    a.routes = vec![Route {
        to: Some("b".into()),
        p: 1.0,
        transport_s: 7.0,
    }];
    let b = StationConfig::new("b", det(23.0), 2).with_buffer(Some(2));
    let c = StationConfig::new("c", det(13.0), 1).with_buffer(Some(1));
    let l = LineConfig::serial("l", vec![a, b, c]);
    let sim = Simulator::new(&l).unwrap();
    let whole = sim
        .run(&SimOptions {
            trace: true,
            ..SimOptions::new(1, 3000.0, 0.0)
        })
        .unwrap();
    let mut expect = std::collections::BTreeMap::new();
    exits(whole.trace.as_ref().unwrap(), 0.0, &mut expect);
    let cuts = [0.0, 333.3, 401.7, 1000.0, 1017.25, 2222.0, 3000.0];
    let mut got = std::collections::BTreeMap::new();
    let mut state: Option<LineState> = None;
    let mut base = 0;
    let mut visits = std::collections::BTreeMap::<u64, Vec<(u16, f64, f64)>>::new();
    for w in cuts.windows(2) {
        let o = SimOptions {
            trace: true,
            end_state: true,
            serial_base: base,
            ..SimOptions::new(1, w[1] - w[0], 0.0)
        };
        let run = match &state {
            Some(s) => sim.run_from(&o, s).unwrap(),
            None => sim.run(&o).unwrap(),
        };
        let log = run.trace.unwrap();
        base += log.units.len() as u64;
        exits(&log, w[0], &mut got);
        for v in &log.visits {
            visits.entry(v.serial).or_default().push((v.station, w[0] + v.start_s, w[0] + v.end_s));
        }
        let st = run.end_state.unwrap();
        assert!(st.units.iter().any(|u| matches!(u.place, Place::Busy { .. })), "{st:?}");
        state = Some(st);
    }
    assert_eq!(got.len(), expect.len());
    for (s, t) in &expect {
        assert!((got[s] - t).abs() < 1e-6, "serial {s}: {} vs {t}", got[s]);
    }
    // a visit cut by a chunk boundary is recorded once, with its true start
    let whole_visits: Vec<_> = whole
        .trace
        .as_ref()
        .unwrap()
        .visits
        .iter()
        .filter(|v| v.serial == 40)
        .map(|v| (v.station, v.start_s, v.end_s))
        .collect();
    let mut chunked = visits[&40].clone();
    chunked.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert_eq!(whole_visits.len(), chunked.len());
    for (a, b) in whole_visits.iter().zip(&chunked) {
        assert_eq!(a.0, b.0);
        assert!((a.1 - b.1).abs() < 1e-6 && (a.2 - b.2).abs() < 1e-6, "{a:?} {b:?}");
    }
}

fn example_l1() -> LineConfig {
    let plant = Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap();
    line_from_plant(&plant, "l1", &PlantLineOptions::default()).unwrap()
}

/// `chunks` chunks of `chunk_s`, each continuing the last (seed varies by chunk; the lots on hand carry over);
/// returns the logs and the good units.
fn chunked(line: &LineConfig, seed: u64, chunk_s: f64, chunks: usize) -> (Vec<TraceLog>, u64) {
    let mut state: Option<LineState> = None;
    let mut base = 0;
    let mut logs = Vec::new();
    let mut good = 0;
    for k in 0..chunks {
        let o = SimOptions {
            trace: true,
            end_state: true,
            serial_base: base,
            start_ns: (k as f64 * chunk_s * 1e9) as i64,
            ..SimOptions::new(seed * 1000 + k as u64, chunk_s, 0.0)
        };
        let mut cfg = line.clone();
        if let Some(st) = &state {
            for c in &mut cfg.components {
                c.lots = st.lots_on_hand(&c.component);
            }
        }
        let sim = Simulator::new(&cfg).unwrap();
        let run = match &state {
            Some(s) => sim.run_from(&o, s).unwrap(),
            None => sim.run(&o).unwrap(),
        };
        good += run.kpis.good;
        let log = run.trace.unwrap();
        base += log.units.len() as u64;
        logs.push(log);
        state = run.end_state;
    }
    (logs, good)
}

#[test]
fn line_1_in_short_chunks_keeps_a_consistent_genealogy() {
    let line = example_l1();
    let (logs, _) = chunked(&line, 3, 600.0, 36);
    // serials: new units of one chunk never reuse a serial; continued units were in the previous end state
    let mut new_serials = std::collections::HashSet::new();
    for log in &logs {
        for u in &log.units {
            assert!(new_serials.insert(u.serial), "serial {} made twice", u.serial);
        }
        for u in &log.continued {
            assert!(new_serials.contains(&u.serial), "continued {} was never made", u.serial);
        }
    }
    let mut b = TraceBuilder::new();
    for l in &logs {
        b.add(l);
    }
    let ix = b.finish();
    assert_eq!(ix.units(), new_serials.len());
    let stations: Vec<&str> = line.stations.iter().map(|s| s.id.as_str()).collect();
    let mut finished = 0;
    let mut by_asset: std::collections::BTreeMap<String, Vec<(i64, i64)>> = Default::default();
    for &s in &new_serials {
        let g = ix.unit(s).unwrap();
        for v in &g.visits {
            by_asset.entry(v.asset.clone()).or_default().push((v.start_ns, v.end_ns));
        }
        if g.exit_ns.is_none() || g.scrapped {
            continue;
        }
        finished += 1;
        let path: Vec<&str> = g.visits.iter().map(|v| v.station.as_str()).collect();
        assert_eq!(path, stations, "serial {s}: {g:?}");
        assert!(g.entered_ns.unwrap() <= g.visits[0].start_ns);
        for w in g.visits.windows(2) {
            assert!(w[0].end_ns <= w[1].start_ns, "{g:?}");
        }
        assert_eq!(g.lots.len(), 1, "one blank per unit: {g:?}");
        assert_eq!(g.quality.len(), 1);
        // the spindle temperature measured at the mill is on the unit's mill visit
        assert_eq!(g.visits[0].conditions.len(), 1);
    }
    assert!(finished > 400, "{finished}");
    // no machine ever holds two units at once
    for (asset, mut v) in by_asset {
        v.sort_unstable();
        for w in v.windows(2) {
            assert!(w[0].1 <= w[1].0, "{asset} overlaps: {w:?}");
        }
    }
    // no lot gives more than its quantity
    let mut per_lot = std::collections::BTreeMap::<String, usize>::new();
    for &s in &new_serials {
        for l in ix.unit(s).unwrap().lots {
            *per_lot.entry(l).or_default() += 1;
        }
    }
    assert!(per_lot.values().all(|&n| n <= 500), "{per_lot:?}");
}

#[test]
fn line_1_in_chunks_produces_what_one_long_run_produces() {
    let line = example_l1();
    let sim = Simulator::new(&line).unwrap();
    let reps = 20;
    let hours = 12.0;
    let mut whole = Vec::new();
    let mut parts = Vec::new();
    for r in 0..reps {
        whole.push(sim.run(&SimOptions::new(100 + r, hours * 3600.0, 0.0)).unwrap().kpis.good as f64);
        parts.push(chunked(&line, 200 + r, 900.0, (hours * 4.0) as usize).1 as f64);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let (mw, mp) = (mean(&whole), mean(&parts));
    let se = ((var(&whole) + var(&parts)) / reps as f64).sqrt();
    println!("12 h of line 1: one run {mw:.1} good units, 48 chunks of 15 min {mp:.1} (se of the difference {se:.1})");
    assert!((mw - mp).abs() < 3.0 * se + 0.01 * mw, "{whole:?} {parts:?}");
}

#[test]
fn invalid_states_are_refused_with_the_field() {
    let line = example_l1();
    let sim = Simulator::new(&line).unwrap();
    let run = sim
        .run(&SimOptions {
            end_state: true,
            ..SimOptions::new(1, 3600.0, 0.0)
        })
        .unwrap();
    let st = run.end_state.unwrap();
    assert!(!st.units.is_empty() && st.machines.len() == 7 && st.sources.len() == 1 && !st.lots.is_empty());
    // round trip through JSON
    let back: LineState = serde_json::from_str(&serde_json::to_string(&st).unwrap()).unwrap();
    assert_eq!(back, st);
    let next = SimOptions {
        serial_base: st.max_serial().unwrap() + 1,
        ..SimOptions::new(2, 600.0, 0.0)
    };
    sim.run_from(&next, &st).unwrap();
    let low = SimOptions { serial_base: 0, ..next };
    assert!(matches!(sim.run_from(&low, &st), Err(LineError::Invalid { field, .. }) if field == "state.units.0.serial"));
    let mut bad = st.clone();
    bad.units[0].station = "nope".into();
    assert_eq!(sim.run_from(&next, &bad), Err(LineError::UnknownStation("nope".into())));
    let mut bad = st.clone();
    let busy: Vec<usize> = (0..bad.units.len()).filter(|&i| matches!(bad.units[i].place, Place::Busy { .. })).collect();
    assert!(busy.len() >= 2);
    let first = bad.units[busy[0]].place.clone();
    bad.units[busy[1]].place = first;
    bad.units[busy[1]].station = bad.units[busy[0]].station.clone();
    assert!(matches!(sim.run_from(&next, &bad), Err(LineError::Invalid { field, .. }) if field.ends_with("place.machine")));
}
