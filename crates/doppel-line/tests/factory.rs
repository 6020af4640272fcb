//! Factory-level scenarios on the example plant's production lines (l1 shafts and l2 flanges machine the
//! same shared bar stock; l3 assembles), each with the outcome a person would expect.

use doppel_line::config::{Arrivals, ComponentSupply, Consumption, Lot, WEEK};
use doppel_line::factory::{FactoryChange, FactoryConfig, FactoryScenario, evaluate_factory};
use doppel_line::plant::{PlantLineOptions, line_from_plant};
use doppel_line::whatif::{Change, WhatIfConfig};
use doppel_line::{Dist, LineConfig};

const DAY: f64 = 86_400.0;

fn factory() -> FactoryConfig {
    let p = doppel_model::Plant::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml"))).unwrap();
    let opts = PlantLineOptions::default();
    let mut lines: Vec<LineConfig> = ["l1", "l2", "l3"].iter().map(|l| line_from_plant(&p, l, &opts).unwrap()).collect();
    // l1 and l2 saw their blanks from the same bar stock: one bar per part, a 4000-bar lot delivered every day
    for l in &mut lines[..2] {
        l.components.clear();
        l.stations[0].consumes = vec![Consumption {
            component: "bar_stock".into(),
            per_unit: 1,
        }];
    }
    let shared = vec![ComponentSupply {
        component: "bar_stock".into(),
        lots: (0..8)
            .map(|d| Lot {
                id: format!("BAR-{d}"),
                quantity: if d == 0 { 6000 } else { 4000 },
                arrival_s: d as f64 * DAY,
            })
            .collect(),
    }];
    FactoryConfig {
        id: "north".into(),
        lines,
        shared,
    }
}

fn cfg() -> WhatIfConfig {
    WhatIfConfig::new(8, WEEK, 0.5 * DAY, 21)
}

#[test]
fn capacity_at_the_bottleneck_raises_throughput_elsewhere_it_does_not() {
    let f = factory();
    let scen = vec![
        FactoryScenario {
            name: "fifth machining centre on l1".into(),
            changes: vec![FactoryChange::Line {
                line: "l1".into(),
                change: Change::Machines {
                    station: "l1-cnc".into(),
                    count: 5,
                },
            }],
        },
        FactoryScenario {
            name: "second transfer conveyor on l1".into(),
            changes: vec![FactoryChange::Line {
                line: "l1".into(),
                change: Change::Machines {
                    station: "l1-conv-2".into(),
                    count: 2,
                },
            }],
        },
        FactoryScenario {
            name: "a copy of l3".into(),
            changes: vec![FactoryChange::AddLine {
                config: LineConfig {
                    id: "l3b".into(),
                    ..f.lines[2].clone()
                },
            }],
        },
    ];
    let r = evaluate_factory(&f, &scen, &cfg()).unwrap();
    let bottleneck = r.variants[0].line("l1").unwrap();
    println!(
        "l1 +1 machining centre: {:.2} → {:.2} /h ({:+.2} ± {:.2})",
        bottleneck.baseline.mean, bottleneck.variant.mean, bottleneck.difference.mean, bottleneck.difference.half_width
    );
    assert!(
        bottleneck.significant && bottleneck.difference.mean > 0.15 * bottleneck.baseline.mean,
        "{bottleneck:?}"
    );
    let elsewhere = r.variants[1].line("l1").unwrap();
    println!("l1 +1 conveyor: {:+.3} ± {:.3} /h", elsewhere.difference.mean, elsewhere.difference.half_width);
    assert!(elsewhere.difference.mean.abs() < 0.01 * elsewhere.baseline.mean, "{elsewhere:?}");
    // the other lines are unaffected by l1's expansion
    assert!(r.variants[0].line("l3").unwrap().difference.mean.abs() < 1e-9);
    // a new line adds its throughput to the factory
    let added = &r.variants[2];
    let l3 = r.baseline.iter().find(|x| x.0 == "l3").unwrap().1;
    assert!((added.total.difference.mean - l3.mean).abs() < 0.1 * l3.mean, "{:?} vs {l3:?}", added.total);
    assert_eq!(added.line("l3b").unwrap().bottlenecks.get("l3-cnc-1"), Some(&8));
}

#[test]
fn demand_change_follows_demand_until_the_line_saturates() {
    let mut f = factory();
    // l3 (capacity about 21.6 good parts per hour) receives Poisson demand of 14 parts per hour
    f.lines[2].sources[0].arrivals = Arrivals::Renewal {
        interarrival: Dist::Exponential { mean: 3600.0 / 14.0 },
        limit: None,
    };
    let src = f.lines[2].sources[0].id.clone();
    let scen = vec![
        FactoryScenario {
            name: "+20 % demand".into(),
            changes: vec![FactoryChange::Line {
                line: "l3".into(),
                change: Change::Demand {
                    source: src.clone(),
                    factor: 1.2,
                },
            }],
        },
        FactoryScenario {
            name: "+100 % demand".into(),
            changes: vec![FactoryChange::Line {
                line: "l3".into(),
                change: Change::Demand { source: src, factor: 2.0 },
            }],
        },
    ];
    let r = evaluate_factory(&f, &scen, &cfg()).unwrap();
    let up20 = r.variants[0].line("l3").unwrap();
    let up100 = r.variants[1].line("l3").unwrap();
    println!(
        "l3 at +20 %: {:.2} → {:.2} /h; at +100 %: {:.2} /h",
        up20.baseline.mean, up20.variant.mean, up100.variant.mean
    );
    // below capacity, output follows demand (≈ +20 %, less the 2 % scrap at the same rate)
    assert!((up20.variant.mean / up20.baseline.mean - 1.2).abs() < 0.04, "{up20:?}");
    // at twice the demand (28/h) the line saturates at its capacity
    assert!(
        up100.variant.mean < 0.85 * 2.0 * up100.baseline.mean && up100.variant.mean > up20.variant.mean,
        "{up100:?}"
    );
    assert!(up100.variant.mean < 22.5);
}

#[test]
fn a_late_lot_starves_the_lines_that_share_it_and_no_other() {
    let f = factory();
    let scen = vec![FactoryScenario {
        name: "BAR-2 a day late".into(),
        changes: vec![FactoryChange::LotDelay {
            component: "bar_stock".into(),
            lot: "BAR-2".into(),
            delay_s: DAY,
        }],
    }];
    let r = evaluate_factory(&f, &scen, &cfg()).unwrap();
    let v = &r.variants[0];
    for l in ["l1", "l2"] {
        let c = v.line(l).unwrap();
        println!(
            "{l}: {:.2} → {:.2} /h, waiting for material {:.1} % of machine time",
            c.baseline.mean,
            c.variant.mean,
            100.0 * c.no_material_share.mean
        );
        assert!(c.significant && c.difference.mean < -0.03 * c.baseline.mean, "{c:?}");
        assert!(c.no_material_share.mean > 0.02);
    }
    let l3 = v.line("l3").unwrap();
    assert!(l3.difference.mean.abs() < 1e-9 && l3.no_material_share.mean == 0.0, "{l3:?}");
    assert!(v.total.difference.mean < 0.0);
}
