//! The exact solver against local search on small instances (optimality gap), and the planner's behaviour on
//! hand-built cases: uncertainty matters, derating buys time, repairs on one line are grouped.

use doppel_plan::instance::{InstanceSize, random};
use doppel_plan::{PlanConfig, Problem, solve_local, solve_milp};
use std::time::Duration;

const NOW: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

#[test]
fn local_search_is_within_a_few_percent_of_the_exact_optimum_on_small_instances() {
    let mut gaps = Vec::new();
    for seed in 0..12u64 {
        let size = InstanceSize {
            assets: 10,
            lines: 2,
            crews: 2,
            horizon_h: 72.0,
            scenarios: 16,
            degrading: 0.9,
        };
        let (business, assets) = random(seed, size, NOW);
        let p = Problem::new(NOW, PlanConfig { slot_h: 8.0, horizon_h: 72.0 }, business, assets).unwrap();
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
