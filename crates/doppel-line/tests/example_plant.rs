//! The example plant (plants/example.toml) as line models: the simulator names the bottleneck a person
//! reading the configuration expects, health from the twins slows a line, and genealogy comes out of it.

use doppel_line::config::{Drift, Health, WEEK};
use doppel_line::plant::{PlantLineOptions, line_from_plant};
use doppel_line::trace::TraceIndex;
use doppel_line::whatif::{Change, Scenario, WhatIfConfig, run_whatif};
use doppel_line::{SimOptions, simulate};

fn plant() -> doppel_model::Plant {
    doppel_model::Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap()
}

#[test]
fn the_bottleneck_of_each_example_line_is_the_one_a_person_expects() {
    // l1, l2: four 150 s machining centres in parallel (37.5 s per part for the cell, 39.4 s with the 5 %
    // speed losses) feed 2 s transfer conveyors: the machining cell limits the line. l3: one 150 s
    // finishing spindle among 2 s conveyors.
    let p = plant();
    for (line, expected) in [("l1", "l1-cnc"), ("l2", "l2-cnc"), ("l3", "l3-cnc-1")] {
        let cfg = line_from_plant(&p, line, &PlantLineOptions::default()).unwrap();
        assert_eq!(cfg.stations[cfg.design_bottleneck().unwrap()].id, expected);
        for seed in 0..5 {
            let r = simulate(&cfg, &SimOptions::new(seed, WEEK, 86_400.0)).unwrap();
            assert_eq!(r.bottleneck.id.as_deref(), Some(expected), "{line} seed {seed}: {:?}", r.bottleneck);
            let share = r.bottleneck.total[cfg.station_index(expected).unwrap()];
            assert!(share > 0.8, "{line}: bottleneck share {share}");
            // throughput at most the cell's capacity, and not far below it (failures, changeovers, scrap)
            let cap = 3600.0 / cfg.capacity_cycle(cfg.station_index(expected).unwrap()) / 1.05;
            assert!(
                r.kpis.throughput_per_h < cap && r.kpis.throughput_per_h > 0.75 * cap,
                "{line}: {} vs {cap}",
                r.kpis.throughput_per_h
            );
            assert!(r.kpis.oee.oee > 0.6 && r.kpis.oee.oee < 1.0, "{line}: {:?}", r.kpis.oee);
        }
    }
}

#[test]
fn a_degrading_machine_slows_the_simulated_line() {
    let p = plant();
    let cfg = line_from_plant(&p, "l3", &PlantLineOptions::default()).unwrap();
    // The twin reports the finishing spindle at health 0.35 with a 60 % chance of failing within 24 h.
    let degraded = Health::from_twin(Some(0.35), Some(0.6), 24.0 * 3600.0);
    let scen = vec![Scenario {
        name: "spindle degraded".into(),
        changes: vec![Change::MachineHealth {
            station: "l3-cnc-1".into(),
            machine: None,
            health: degraded,
        }],
    }];
    let r = run_whatif(&cfg, &scen, &WhatIfConfig::new(10, WEEK, 86_400.0, 3)).unwrap();
    let tp = r.variants[0].row("throughput_per_h").unwrap();
    println!(
        "l3 throughput {:.2} → {:.2} /h ({:+.1} %)",
        tp.baseline.mean,
        tp.variant.mean,
        100.0 * tp.relative
    );
    assert!(tp.significant && tp.relative < -0.15, "{tp:?}");
    let q = r.variants[0].row("quality").unwrap();
    assert!(q.significant && q.difference.mean < 0.0);
}

#[test]
fn the_simulator_produces_serials_lots_and_quality_results_for_the_example_plant() {
    let p = plant();
    let mut cfg = line_from_plant(&p, "l1", &PlantLineOptions::default()).unwrap();
    // machining centre 2 overheats on day 2 (over its 60 °C warning envelope) for 6 hours
    cfg.stations[0].process_vars[0].drifts.push(Drift {
        start_s: 2.0 * 86_400.0,
        end_s: 2.0 * 86_400.0 + 6.0 * 3600.0,
        ramp_s: 1800.0,
        delta: 25.0,
        machine: Some(1),
    });
    let r = simulate(
        &cfg,
        &SimOptions {
            trace: true,
            start_ns: doppel_model::time::parse_rfc3339("2026-01-05T00:00:00Z").unwrap(),
            ..SimOptions::new(1, 4.0 * 86_400.0, 0.0)
        },
    )
    .unwrap();
    let log = r.trace.as_ref().unwrap();
    let ix = TraceIndex::from_log(log);
    assert!(ix.units() > 5000, "{}", ix.units());
    let g = ix.unit(100).unwrap();
    assert_eq!(g.visits.len(), 4);
    assert!(g.visits[0].asset.starts_with("l1-cnc-"));
    assert_eq!(g.visits[3].station, "l1-conv-3");
    assert_eq!(g.lots, vec!["l1-blank-00001".to_string()]);
    assert_eq!(g.quality.len(), 1);
    assert!(g.visits.windows(2).all(|w| w[0].end_ns <= w[1].start_ns));
    // every unit processed by l1-cnc-2 while it was in alarm
    let hot = ix.units_in_alarm("l1-cnc-2");
    assert!(hot.len() > 50, "{}", hot.len());
    for &s in hot.iter().take(200) {
        let u = ix.unit(s).unwrap();
        assert!(u.visits.iter().any(|v| v.asset == "l1-cnc-2" && v.alarm), "{u:?}");
    }
    assert!(ix.units_in_alarm("l1-cnc-1").is_empty());
    let intervals = ix.alarm_intervals("l1-cnc-2");
    assert!(!intervals.is_empty() && intervals.iter().all(|w| w.0 < w.1));
    // the alarms fall in the overheating window (day 2, 00:00 + 6 h after the start)
    let day2 = doppel_model::time::parse_rfc3339("2026-01-07T00:00:00Z").unwrap();
    assert!(intervals.iter().all(|w| w.0 >= day2 && w.1 <= day2 + 7 * 3_600_000_000_000), "{intervals:?}");
    // the hot spindle's parts fail the dimension check more often
    let fail_rate = |serials: &[u64]| {
        serials
            .iter()
            .filter(|&&s| ix.unit(s).is_some_and(|u| u.quality.iter().any(|q| !q.pass)))
            .count() as f64
            / serials.len() as f64
    };
    let all: Vec<u64> = (0..ix.units() as u64).filter(|s| ix.unit(*s).is_some_and(|u| !u.quality.is_empty())).collect();
    assert!(
        fail_rate(&hot) > 5.0 * fail_rate(&all).max(0.001) || fail_rate(&hot) > 0.5,
        "{} {}",
        fail_rate(&hot),
        fail_rate(&all)
    );
    // lots both ways
    let lot = &g.lots[0];
    let with_lot = ix.units_with_lot(lot);
    assert_eq!(with_lot.len(), 500);
    assert!(with_lot.contains(&100));
}
