//! Energy what-if: run a shift at night instead of during the day, or add a night shift, under a
//! time-of-use tariff; compare cost per unit and throughput with confidence intervals.

use doppel_line::config::{Calendar, WEEK};
use doppel_line::energy::Tariff;
use doppel_line::whatif::{Change, Scenario, WhatIfConfig, reference_line, run_whatif};

#[test]
fn night_shift_costs_less_per_unit_at_the_same_throughput_and_a_second_shift_doubles_output() {
    let mut line = reference_line(6);
    // baseline: one day shift 06:00–14:00, Monday to Friday
    line.calendar = Some(Calendar::daily(5, 6.0, 14.0));
    // peak 0.32 per kWh from 06:00 to 22:00, 0.11 at night
    let tariff = Tariff::day_night(0.32, 0.11, 6, 22);
    let scen = vec![
        Scenario {
            name: "night shift 22:00–06:00".into(),
            changes: vec![Change::ShiftPattern {
                calendar: Some(Calendar::daily(5, 22.0, 30.0)),
            }],
        },
        Scenario {
            name: "day + night shift".into(),
            changes: vec![Change::ShiftPattern {
                calendar: Some(Calendar::daily_shifts(5, &[(6.0, 14.0), (22.0, 30.0)])),
            }],
        },
    ];
    let mut cfg = WhatIfConfig::new(10, WEEK, 0.0, 5);
    cfg.tariff = Some(tariff);
    let r = run_whatif(&line, &scen, &cfg).unwrap();
    for v in &r.variants {
        let tp = v.row("throughput_per_h").unwrap();
        let c = v.row("energy_cost_per_good_unit").unwrap();
        let e = v.row("kwh_per_good_unit").unwrap();
        println!(
            "{}: throughput {:.2} → {:.2} /h ({:+.1} %), energy {:.3} → {:.3} kWh/unit, cost {:.4} → {:.4} per unit ({:+.1} % ± {:.1})",
            v.name,
            tp.baseline.mean,
            tp.variant.mean,
            100.0 * tp.relative,
            e.baseline.mean,
            e.variant.mean,
            c.baseline.mean,
            c.variant.mean,
            100.0 * c.relative,
            100.0 * c.difference.half_width / c.baseline.mean
        );
    }
    let night = &r.variants[0];
    let tp = night.row("throughput_per_h").unwrap();
    assert!(tp.relative.abs() < 0.03, "{tp:?}");
    let cost = night.row("energy_cost_per_good_unit").unwrap();
    assert!(cost.significant && cost.relative < -0.4, "{cost:?}");
    // energy per unit barely changes (same work, standby spread differently)
    assert!(night.row("kwh_per_good_unit").unwrap().relative.abs() < 0.03);
    let both = &r.variants[1];
    let tp2 = both.row("throughput_per_h").unwrap();
    assert!(tp2.relative > 0.85 && tp2.relative < 1.15, "{tp2:?}");
    // cost per unit of the two-shift pattern lies between day-only and night-only
    let c2 = both.row("energy_cost_per_good_unit").unwrap();
    assert!(c2.variant.mean < cost.baseline.mean && c2.variant.mean > cost.variant.mean, "{c2:?}");
}
