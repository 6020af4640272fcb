//! Root cause of quality excursions on data the simulator produces: a known cause planted in a line is
//! ranked first with the right transport lag, and a negative control (the cause not among the
//! candidates) finds nothing significant.

use doppel_line::config::{Drift, Effect, LineConfig, ProcessVar, QualityCheck, Route, StationConfig};
use doppel_line::rootcause::{QualitySignal, RootCauseConfig, RootCauseReport, TimeSeries, rank_by_genealogy, rank_causes};
use doppel_line::trace::TraceIndex;
use doppel_line::{Dist, SimOptions, simulate};

const H: f64 = 3600.0;
const D: f64 = 86_400.0;

fn var(name: &str, mean: f64, sd: f64, tau_s: f64, drifts: &[(f64, f64, f64)]) -> ProcessVar {
    ProcessVar {
        name: name.into(),
        mean,
        sd,
        tau_s,
        drifts: drifts
            .iter()
            .map(|&(start_s, dur, delta)| Drift {
                start_s,
                end_s: start_s + dur,
                ramp_s: H,
                delta,
                machine: None,
            })
            .collect(),
        alarm_above: None,
        alarm_below: None,
    }
}

/// saw → mill → (1 h transport) → wash → (30 min transport) → measure → pack. The bore diameter measured
/// at `measure` grows 1.2 µm per K of the mill's spindle temperature when the unit was milled (if
/// `observed_cause`), else with the mill's unobserved tool wear.
fn line(observed_cause: bool) -> LineConfig {
    let episodes = [
        (2.0 * D + 10.0 * H, 6.0 * H, 8.0),
        (5.0 * D + 2.0 * H, 5.0 * H, 8.0),
        (8.0 * D + 14.0 * H, 6.0 * H, 8.0),
    ];
    let mut saw = StationConfig::new("saw", Dist::LogNormal { mean: 50.0, cv: 0.1 }, 1);
    saw.process_vars = vec![var("coolant_pressure", 5.0, 0.2, H, &[(3.5 * D, 8.0 * H, 1.0)])];
    let mut mill = StationConfig::new("mill", Dist::LogNormal { mean: 60.0, cv: 0.1 }, 1).with_buffer(Some(10));
    let temp_drifts: &[(f64, f64, f64)] = if observed_cause { &episodes } else { &[] };
    mill.process_vars = vec![
        var("spindle_temp", 40.0, 1.0, 1800.0, temp_drifts),
        var("vibration", 1.0, 0.1, 600.0, &[]),
        var("tool_wear", 0.0, 0.5, 1800.0, if observed_cause { &[] } else { &episodes }),
    ];
    mill.routes = vec![Route {
        to: Some("wash".into()),
        p: 1.0,
        transport_s: H,
    }];
    // units in transport count against the destination buffer: room for the hour on the conveyor
    let mut wash = StationConfig::new("wash", Dist::LogNormal { mean: 40.0, cv: 0.1 }, 1).with_buffer(Some(150));
    wash.process_vars = vec![var("bath_temp", 55.0, 0.5, H, &[(6.5 * D, 10.0 * H, 3.0)])];
    wash.routes = vec![Route {
        to: Some("measure".into()),
        p: 1.0,
        transport_s: 0.5 * H,
    }];
    let mut measure = StationConfig::new("measure", Dist::LogNormal { mean: 30.0, cv: 0.1 }, 1).with_buffer(Some(100));
    measure.process_vars = vec![var("room_temp", 21.0, 0.3, 2.0 * H, &[])];
    let pack = StationConfig::new("pack", Dist::LogNormal { mean: 20.0, cv: 0.1 }, 1).with_buffer(Some(10));
    let mut l = LineConfig::serial("rc", vec![saw, mill, wash, measure, pack]);
    let (v, coef) = if observed_cause { ("spindle_temp", 1.2) } else { ("tool_wear", 1.2) };
    l.quality = vec![QualityCheck {
        name: "bore_diameter".into(),
        at: "measure".into(),
        nominal: 0.0,
        noise_sd: 3.0,
        lower: -10.0,
        upper: 10.0,
        effects: vec![Effect {
            station: "mill".into(),
            var: v.into(),
            coef,
        }],
        on_fail: Default::default(),
    }];
    l
}

const CANDIDATES: [(&str, &str); 5] = [
    ("saw", "coolant_pressure"),
    ("mill", "spindle_temp"),
    ("mill", "vibration"),
    ("wash", "bath_temp"),
    ("measure", "room_temp"),
];

/// (time-series report, true mean delay from milling to measuring, genealogy report)
fn analyse(observed_cause: bool) -> (RootCauseReport, f64, RootCauseReport) {
    let l = line(observed_cause);
    let run = simulate(
        &l,
        &SimOptions {
            trace: true,
            // serials that do not start at 0 (as in a production twin's later chunks)
            serial_base: 1_000_000,
            ..SimOptions::new(11, 10.0 * D, 0.0)
        },
    )
    .unwrap();
    let ix = TraceIndex::from_log(run.trace.as_ref().unwrap());
    let q = ix.quality_series("bore_diameter");
    let quality = QualitySignal {
        name: "bore_diameter".into(),
        points: q.iter().map(|&(t, v, _)| (t as f64 * 1e-9, v)).collect(),
        lower: -10.0,
        upper: 10.0,
    };
    let vars: Vec<TimeSeries> = CANDIDATES
        .iter()
        .map(|(s, v)| TimeSeries::from_ns(&format!("{s}.{v}"), &ix.variable_series(s, v)))
        .collect();
    let cfg = RootCauseConfig {
        bin_s: 300.0,
        max_lag_s: 3.0 * H,
        permutations: 499,
        ..RootCauseConfig::default()
    };
    let report = rank_causes(&quality, &vars, &cfg).unwrap();
    // the true delay from milling to measuring, from the genealogy
    let mut delays = Vec::new();
    for &s in ix.serials().iter().step_by(50) {
        if let Some(u) = ix.unit(s)
            && let (Some(m), Some(qr)) = (u.visits.iter().find(|v| v.station == "mill"), u.quality.first())
        {
            delays.push((qr.at_ns - m.start_ns) as f64 * 1e-9);
        }
    }
    let mean_delay = delays.iter().sum::<f64>() / delays.len() as f64;
    for c in &report.candidates {
        println!(
            "{:<22} lag {:>6.0} s  r {:+.2}  d {:+.2}  r_pb {:+.2}  excursion {:.2} vs normal {:.2} ({} / {} bins)  p {:.3}  p_adj {:.3}{}",
            c.name,
            c.lag_s,
            c.correlation,
            c.effect_size,
            c.point_biserial,
            c.mean_excursion,
            c.mean_normal,
            c.n_excursion,
            c.n_normal,
            c.p_value,
            c.p_adjusted,
            if c.significant { "  *" } else { "" }
        );
    }
    println!(
        "excursion bins {} of {}; true mean delay mill → measure {mean_delay:.0} s",
        report.excursion_bins, report.bins
    );
    let cands: Vec<(String, String)> = CANDIDATES.iter().map(|(s, v)| (s.to_string(), v.to_string())).collect();
    let by_unit = rank_by_genealogy(&ix, "bore_diameter", &cands, &cfg).unwrap();
    for c in &by_unit.candidates {
        println!(
            "genealogy: {:<22} delay {:>6.0} s  d {:+.2}  p {:.3}  p_adj {:.3}{}",
            c.name,
            c.lag_s,
            c.effect_size,
            c.p_value,
            c.p_adjusted,
            if c.significant { "  *" } else { "" }
        );
    }
    (report, mean_delay, by_unit)
}

#[test]
fn a_planted_root_cause_is_ranked_first_with_the_transport_lag() {
    let (r, delay, by_unit) = analyse(true);
    // with genealogy, unit by unit: the same cause first, at the observed delay
    assert_eq!(by_unit.candidates[0].name, "mill.spindle_temp");
    assert!(
        by_unit.candidates[0].significant && (by_unit.candidates[0].lag_s - delay).abs() < 60.0,
        "{:?}",
        by_unit.candidates[0]
    );
    assert!(by_unit.candidates[1..].iter().all(|c| !c.significant), "{:?}", by_unit.candidates);
    assert!(r.excursion_bins >= 20, "{}", r.excursion_bins);
    let top = &r.candidates[0];
    assert_eq!(top.name, "mill.spindle_temp");
    assert!(top.significant && top.effect_size > 2.0, "{top:?}");
    assert!((top.lag_s - delay).abs() <= 2.0 * 300.0, "lag {} vs delay {delay}", top.lag_s);
    // the decoys with their own drifts are not significant
    assert!(r.candidates[1..].iter().all(|c| !c.significant), "{:?}", r.candidates);
}

#[test]
fn negative_control_nothing_significant_when_the_cause_is_not_a_candidate() {
    let (r, _, by_unit) = analyse(false);
    assert!(by_unit.candidates.iter().all(|c| !c.significant), "{:?}", by_unit.candidates);
    assert!(r.excursion_bins >= 20, "the control still has excursions: {}", r.excursion_bins);
    assert!(r.candidates.iter().all(|c| !c.significant), "{:?}", r.candidates);
}
