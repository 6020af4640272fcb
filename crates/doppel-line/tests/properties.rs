//! Property tests: any valid line simulates without panicking and keeps its books; configurations round-trip
//! through JSON (the form the API will accept); genealogy queries agree with a brute-force scan; the
//! bottleneck shares are proper shares.

use std::collections::BTreeMap;

use doppel_line::bottleneck::active_period_method;
use doppel_line::config::{Arrivals, Calendar, ComponentSupply, Consumption, FailureClock, FailureModel, LineConfig, Lot, Order, Route, StationConfig, Window};
use doppel_line::trace::{TraceIndex, TraceLog, UnitRecord, VisitRecord};
use doppel_line::{Dist, SimOptions, simulate};
use proptest::prelude::*;

fn dist() -> impl Strategy<Value = Dist> {
    prop_oneof![
        (5.0..60.0f64).prop_map(|value| Dist::Deterministic { value }),
        (5.0..60.0f64).prop_map(|mean| Dist::Exponential { mean }),
        (5.0..60.0f64, 0.0..1.0f64).prop_map(|(mean, cv)| Dist::LogNormal { mean, cv }),
        (5.0..60.0f64, 0.05..1.5f64).prop_map(|(mean, cv)| Dist::Gamma { mean, cv }),
        (5.0..60.0f64, 1u32..5).prop_map(|(mean, k)| Dist::Erlang { mean, k }),
    ]
}

prop_compose! {
    fn station(i: usize)(cycle in dist(), servers in 1usize..4, buffer in prop_oneof![Just(None), (0usize..4).prop_map(Some)],
                         scrap in 0.0..0.1f64, rework in 0.0..0.1f64, fail in proptest::option::of((300.0..5000.0f64, 10.0..500.0f64, any::<bool>())),
                         setup in proptest::option::of(0.0..200.0f64), speed in 0.5..2.0f64) -> StationConfig {
        let mut s = StationConfig::new(&format!("s{i}"), cycle, servers).with_buffer(buffer);
        s.scrap_p = scrap;
        s.rework_p = rework;
        s.speed_factor = speed;
        s.failures = fail.map(|(m, r, ops)| FailureModel {
            clock: if ops { FailureClock::Operations } else { FailureClock::Calendar },
            mean_between: if ops { m / 30.0 } else { m },
            repair: Dist::Exponential { mean: r },
        });
        s.setup = setup.map(|x| vec![vec![0.0, x], vec![x, 0.0]]);
        if i % 2 == 1 {
            s.maintenance = vec![Window { start_s: 20_000.0 + 1000.0 * i as f64, end_s: 24_000.0 }];
        }
        s
    }
}

fn line() -> impl Strategy<Value = LineConfig> {
    (1usize..5, any::<bool>(), any::<bool>(), 1u32..20, 0u8..3)
        .prop_flat_map(|(n, shifts, branch, batch, source)| {
            let stations: Vec<_> = (0..n).map(station).collect();
            (stations, Just(shifts), Just(branch), Just(batch), Just(source))
        })
        .prop_map(|(mut stations, shifts, branch, batch, source)| {
            if branch && stations.len() >= 3 {
                stations[0].routes = vec![
                    Route {
                        to: Some("s1".into()),
                        p: 0.6,
                        transport_s: 5.0,
                    },
                    Route {
                        to: Some("s2".into()),
                        p: 0.4,
                        transport_s: 0.0,
                    },
                ];
            }
            let mut l = LineConfig::serial("prop", stations);
            l.products = vec!["x".into(), "y".into()];
            l.sources[0].mix = BTreeMap::from([("x".to_string(), 1.0), ("y".to_string(), 1.0)]);
            l.sources[0].batch_size = batch;
            if shifts {
                l.calendar = Some(Calendar::daily(7, 6.0, 22.0));
            }
            match source {
                1 => {
                    l.sources[0].arrivals = Arrivals::Renewal {
                        interarrival: Dist::Exponential { mean: 40.0 },
                        limit: None,
                    }
                }
                2 => {
                    let orders = (0..5)
                        .map(|k| Order {
                            id: format!("o{k}"),
                            product: ["x", "y"][k % 2].into(),
                            quantity: 50,
                            release_s: 3000.0 * k as f64,
                            due_s: 20_000.0,
                            weight: 1.0,
                        })
                        .collect();
                    l.sources[0].arrivals = Arrivals::Orders { orders };
                    l.stations[0].consumes = vec![Consumption {
                        component: "c".into(),
                        per_unit: 1,
                    }];
                    let lots = vec![
                        Lot {
                            id: "L1".into(),
                            quantity: 120,
                            arrival_s: 0.0,
                        },
                        Lot {
                            id: "L2".into(),
                            quantity: 200,
                            arrival_s: 30_000.0,
                        },
                    ];
                    l.components = vec![ComponentSupply { component: "c".into(), lots }];
                }
                _ => {}
            }
            l
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn any_valid_line_simulates_and_keeps_its_books(l in line(), seed in 0u64..1000) {
        let o = SimOptions { trace: true, bucket_s: Some(3600.0), ..SimOptions::new(seed, 86_400.0, 3600.0) };
        let r = simulate(&l, &o).unwrap();
        // reproducible (compared through their serialised and debug forms: NaN marks units still in the line)
        let again = simulate(&l, &o).unwrap();
        prop_assert_eq!(serde_json::to_string(&r).unwrap(), serde_json::to_string(&again).unwrap());
        prop_assert_eq!(format!("{:?}", r.trace), format!("{:?}", again.trace));
        for (s, c) in r.stations.iter().zip(&l.stations) {
            let expect = c.machines.len() as f64 * r.period_s;
            prop_assert!((s.time.total() - expect).abs() < 1e-6 * expect, "{}: {} vs {}", s.id, s.time.total(), expect);
            prop_assert!((s.shares.total() - 1.0).abs() < 1e-6);
            prop_assert!(s.good + s.scrap + s.rework == s.produced);
            prop_assert!(s.oee.availability >= 0.0 && s.oee.availability <= 1.0 + 1e-9);
            prop_assert!(s.oee.quality >= 0.0 && s.oee.quality <= 1.0);
            prop_assert!(s.mean_queue >= 0.0 && s.mean_wip >= s.mean_queue - 1e-9);
        }
        let b = &r.bottleneck;
        prop_assert!(b.total.iter().all(|&x| (0.0..=1.0 + 1e-9).contains(&x)));
        prop_assert!(b.sole.iter().sum::<f64>() <= 1.0 + 1e-9);
        let entered: u64 = r.sources.iter().map(|s| s.entered).sum();
        prop_assert!(r.kpis.good + r.kpis.scrap <= entered + (r.kpis.wip_mean.ceil() as u64) + 1000);
        let buckets = r.buckets.as_ref().unwrap();
        let bucket_busy: f64 = buckets.time[0].iter().map(|t| t.busy).sum();
        prop_assert!((bucket_busy - r.stations[0].time.busy).abs() < 1e-6 * r.stations[0].time.busy.max(1.0));
        let t = r.trace.as_ref().unwrap();
        prop_assert!(t.visits.iter().all(|v| v.end_s >= v.start_s));
        // material: no unit consumed more than the lots held, and each consumed unit names a lot
        let used = t.lots_used.len() as u64;
        prop_assert!(used <= l.components.iter().flat_map(|c| c.lots.iter()).map(|x| x.quantity).sum::<u64>());
        for o in &r.orders {
            prop_assert!(o.good + o.scrap <= o.quantity);
            prop_assert!(o.completion_s.is_none() || o.good + o.scrap == o.quantity);
        }
    }

    #[test]
    fn line_configs_round_trip_through_json(l in line()) {
        let j = serde_json::to_string(&l).unwrap();
        let back: LineConfig = serde_json::from_str(&j).unwrap();
        prop_assert_eq!(back, l);
    }

    #[test]
    fn arbitrary_json_never_panics_the_config_reader(s in "\\PC{0,200}") {
        if let Ok(l) = serde_json::from_str::<LineConfig>(&s) {
            let _ = l.validate();
        }
    }

    #[test]
    fn genealogy_queries_agree_with_a_scan(visits in proptest::collection::vec((0u64..200, 0u32..3, 0.0..1000.0f64, 0.1..30.0f64, any::<bool>()), 1..300),
                                           windows in proptest::collection::vec((0.0..1100.0f64, 0.0..200.0f64), 1..10)) {
        let log = TraceLog {
            start_ns: 0,
            products: vec!["p".into()],
            stations: vec!["s".into()],
            assets: vec!["a0".into(), "a1".into(), "a2".into()],
            var_names: vec![vec![]],
            units: (0..200).map(|k| UnitRecord { serial: k, ..UnitRecord::default() }).collect(),
            visits: visits.iter().map(|&(serial, asset, start_s, d, alarm)| VisitRecord { serial, station: 0, asset, start_s, end_s: start_s + d, health: 1.0, alarm, cond_start: 0, cond_len: 0 }).collect(),
            ..TraceLog::default()
        };
        let ix = TraceIndex::from_log(&log);
        for &(t0, w) in &windows {
            let (a, b) = ((t0 * 1e9) as i64, ((t0 + w) * 1e9) as i64);
            for asset in 0..3u32 {
                let mut expect: Vec<u64> = log.visits.iter()
                    .filter(|v| v.asset == asset && ((v.start_s * 1e9).round() as i64) < b && ((v.end_s * 1e9).round() as i64) > a)
                    .map(|v| v.serial).collect();
                expect.sort_unstable();
                expect.dedup();
                prop_assert_eq!(ix.units_by_asset(&format!("a{asset}"), a, b), expect);
            }
        }
        for s in 0..200u64 {
            let n = log.visits.iter().filter(|v| v.serial == s).count();
            prop_assert_eq!(ix.unit(s).unwrap().visits.len(), n);
        }
    }

    #[test]
    fn active_period_shares_are_shares(periods in proptest::collection::vec(proptest::collection::vec((0.0..1000.0f64, 0.0..100.0f64), 0..20), 1..5)) {
        let p: Vec<Vec<(f64, f64)>> = periods.into_iter().map(|v| {
            let mut v: Vec<(f64, f64)> = v.into_iter().map(|(a, d)| (a, a + d)).collect();
            v.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut out: Vec<(f64, f64)> = Vec::new();
            for x in v {
                match out.last_mut() {
                    Some(l) if x.0 <= l.1 => l.1 = l.1.max(x.1),
                    _ => out.push(x),
                }
            }
            out
        }).collect();
        let b = active_period_method(&p, 0.0, 1100.0, 1100.0, &[]);
        let any_active: f64 = {
            let mut all: Vec<(f64, f64)> = p.iter().flatten().copied().collect();
            all.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut len = 0.0;
            let mut cur: Option<(f64, f64)> = None;
            for x in all {
                cur = match cur {
                    Some(c) if x.0 <= c.1 => Some((c.0, c.1.max(x.1))),
                    Some(c) => { len += c.1 - c.0; Some(x) }
                    None => Some(x),
                };
            }
            if let Some(c) = cur { len += c.1 - c.0; }
            len.min(1100.0)
        };
        let sole: f64 = b.sole.iter().sum();
        prop_assert!(sole <= any_active / 1100.0 + 1e-9);
        prop_assert!(b.total.iter().all(|&x| x <= 1.0 + 1e-9));
        prop_assert!(b.station.is_some() == (any_active > 0.0));
    }
}
