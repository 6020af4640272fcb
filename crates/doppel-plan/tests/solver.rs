//! The exact solver against local search on small instances (optimality gap), and the planner's behaviour on
//! hand-built cases: uncertainty matters, derating buys time, repairs on one line are grouped.

use doppel_plan::instance::{InstanceSize, gap_instance, random};
use doppel_plan::{PlanConfig, Problem, solve_local, solve_milp};
use std::time::Duration;

const NOW: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

#[test]
fn local_search_is_within_a_few_percent_of_the_exact_optimum_on_small_instances() {
    let mut gaps = Vec::new();
    for seed in 0..12u64 {
        let p = gap_instance(seed, 10, NOW).unwrap();
        let exact = solve_milp(&p, Duration::from_secs(30), None).unwrap();
        let local = solve_local(&p, Duration::from_secs(5));
        assert!(exact.evaluation.violations.is_empty(), "{:?}", exact.evaluation.violations);
        assert!(local.evaluation.violations.is_empty(), "{:?}", local.evaluation.violations);
        assert!(exact.proven_optimal, "seed {seed}: exact solver hit its time limit");
        let obj = exact.objective.unwrap();
        // The model's objective is the evaluation of its plan: the two agree.
        assert!(
            (obj - exact.evaluation.total).abs() <= 1e-6 * obj.abs().max(1.0),
            "seed {seed}: objective {obj} vs evaluation {}",
            exact.evaluation.total
        );
        // Nothing beats the optimum.
        assert!(
            local.evaluation.total >= obj - 1e-6 * obj.abs().max(1.0),
            "seed {seed}: local {} < optimum {obj}",
            local.evaluation.total
        );
        let gap = (local.evaluation.total - obj) / obj.abs().max(1.0);
        println!(
            "seed {seed}: optimum {obj:.1} ({:.2} s), local {:.1} ({:.3} s), gap {:.3} %",
            exact.seconds,
            local.evaluation.total,
            local.seconds,
            100.0 * gap
        );
        gaps.push(gap);
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    println!(
        "mean gap {:.3} %, worst {:.3} %",
        100.0 * mean,
        100.0 * gaps.iter().copied().fold(0.0, f64::max)
    );
    let worst = gaps.iter().copied().fold(0.0, f64::max);
    assert!(mean < 0.01 && worst < 0.05, "optimality gap: mean {mean}, worst {worst}");
}

fn lognormal(median: f64, sigma: f64) -> doppel_plan::RulDist {
    doppel_plan::RulDist::from_samples(
        (0..100).map(|k| median * (sigma * doppel_plan::rul::normal_quantile((k as f64 + 0.5) / 100.0)).exp()),
        None,
    )
}

/// A two-asset business of `lines` lines with no orders, windows or reroutes, line downtime at 1 500 per hour
/// and every part in stock: only the decision under test matters.
fn plain_business(seed: u64, lines: usize) -> doppel_plan::Business {
    let (mut business, _) = random(
        seed,
        InstanceSize {
            assets: 2,
            lines,
            crews: 3,
            horizon_h: 336.0,
            scenarios: 10,
            degrading: 1.0,
        },
        NOW,
    );
    business.orders.clear();
    business.windows.clear();
    for l in &mut business.lines {
        l.reroute.clear();
        l.downtime_cost_per_h = 1500.0;
    }
    for p in &mut business.parts {
        p.on_hand = 5;
    }
    business
}

#[test]
fn the_rul_distribution_matters_not_only_its_median() {
    // Two identical motors on two identical lines, both with a median RUL of 120 h: one prediction is sharp, the
    // other uncertain. The uncertain one is repaired earlier (its early failures are likely enough to pay for
    // the life thrown away); a plan from the medians alone would treat them the same.
    let business = plain_business(3, 2);
    let asset = |id: &str, line: &str, rul| doppel_plan::AssetInput {
        id: id.into(),
        line: line.into(),
        class: "induction_motor".into(),
        rul,
    };
    let assets = vec![asset("sharp", "L0", lognormal(120.0, 0.05)), asset("wide", "L1", lognormal(120.0, 0.6))];
    let p = Problem::new(NOW, PlanConfig::default(), business, assets).unwrap();
    let s = solve_milp(&p, Duration::from_secs(60), None).unwrap();
    let slot = |a: usize| p.options[a][s.choices[a].option].slot;
    let (sharp, wide) = (
        slot(0).expect("the sharp one is repaired within the horizon"),
        slot(1).expect("the wide one too"),
    );
    assert!(wide < sharp, "uncertain RUL repaired at slot {wide}, sharp at slot {sharp}");
    // The sharp one is repaired shortly before its failures start (120 h ≈ slot 15), not needlessly early.
    assert!((10..15).contains(&sharp), "sharp repaired at slot {sharp}");
}

#[test]
fn a_healthy_looking_component_is_not_replaced_in_case_when_the_model_would_flag_its_failure_in_time() {
    // Two motors on one line. "due" fails in about 30 h and must be repaired now; "healthy" shows nothing (85 % of
    // its scenarios beyond the model's 240-h cap) but 15 % of its scenarios fail between 100 h and 240 h. The line
    // stops for "due" anyway, so replacing "healthy" in the same stop looks cheap against a 15 % risk of a
    // corrective repair. But the model flags failures 40–120 h ahead: those scenarios will be seen at a later
    // re-plan and repaired as planned, so the right plan leaves "healthy" running.
    let mut business = plain_business(5, 1);
    // Enough electricians on every shift for both jobs in one slot: only the decision is tested.
    for c in &mut business.crews {
        c.size = 3;
        c.skills = vec!["electrical".into(), "mechanical".into()];
    }
    let line = business.lines[0].id.clone();
    let asset = |id: &str, rul| doppel_plan::AssetInput {
        id: id.into(),
        line: line.clone(),
        class: "induction_motor".into(),
        rul,
    };
    let due = doppel_plan::RulDist::from_samples((0..100).map(|k| 26.0 + 0.08 * k as f64), Some(240.0));
    let tail = (0..100).map(|k| if k < 15 { 100.0 + 9.0 * k as f64 } else { 240.0 });
    let unaware = doppel_plan::RulDist::from_samples(tail.clone(), Some(240.0));
    let aware = unaware.clone().with_warning((0..20).map(|k| 40.0 + 4.0 * k as f64));
    let plan_for = |healthy: doppel_plan::RulDist| {
        let p = Problem::new(NOW, PlanConfig::default(), business.clone(), vec![asset("due", due.clone()), asset("healthy", healthy)]).unwrap();
        let s = solve_milp(&p, Duration::from_secs(60), None).unwrap();
        assert!(s.proven_optimal);
        let slot = |a: usize| p.options[a][s.choices[a].option].slot;
        (slot(0), slot(1), p.options[1][0].consequences)
    };
    let (due_slot, healthy_slot, run_on) = plan_for(unaware);
    assert!(due_slot.is_some_and(|s| s <= 3), "repaired before its failures start at 26 h: {due_slot:?}");
    assert_eq!(healthy_slot, due_slot, "without a warning lead the shared stop is used to replace it as well");
    assert!((run_on.failure_probability - 0.15).abs() < 1e-9, "{run_on:?}");
    let (due_slot, healthy_slot, run_on) = plan_for(aware);
    assert!(due_slot.is_some_and(|s| s <= 3), "repaired before its failures start at 26 h: {due_slot:?}");
    assert_eq!(healthy_slot, None, "with it, the healthy-looking motor runs on: {run_on:?}");
    // Its failure scenarios are now mostly repairs planned later, once flagged.
    assert!(run_on.failure_probability < 0.02 && run_on.caught_later_probability > 0.13, "{run_on:?}");
}
