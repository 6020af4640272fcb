//! `cargo run --release -p doppel-learn --example cv -- <cmapss dir> [subset]`: the cross-validation on training
//! units behind the defaults (no test file is read). Each held-out unit is cut 5 times so that its true RUL is
//! uniform in 7..145 cycles, like the FD001 test split's; "uniform" rows cut anywhere in the life instead.
use doppel_learn::cmapss::load_subset;
use doppel_learn::hybrid::PrognosticsConfig;
use doppel_learn::rul::cross_validate_with;
use doppel_learn::series::Trajectory;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), subset) = (args.get(1), args.get(2).map_or("FD001", String::as_str)) else {
        eprintln!("usage: cv <cmapss dir> [subset]");
        return;
    };
    let data = match load_subset(std::path::Path::new(dir), subset) {
        Ok(d) => d,
        Err(e) => return eprintln!("{e}"),
    };
    let train: Vec<Trajectory> = data.train.iter().map(|u| u.to_trajectory(true)).collect();
    let d = PrognosticsConfig::default();
    let variant = |name: &str, f: &dyn Fn(&mut PrognosticsConfig)| {
        let mut c = d.clone();
        f(&mut c);
        (name.to_string(), c)
    };
    let runs = [
        variant("hybrid (default)", &|_| {}),
        variant("pure", &|c| c.hybrid = false),
        variant("hybrid, trend window 40 steps", &|c| c.trend_window = Some(40)),
        variant("hybrid, trend window 80 steps", &|c| c.trend_window = Some(80)),
        variant("hybrid, trend window 200 steps", &|c| c.trend_window = Some(200)),
        variant("hybrid, plain CV+ (alpha as is)", &|c| c.rul.calibrate_degrading = false),
        variant("pure, plain CV+", &|c| {
            c.hybrid = false;
            c.rul.calibrate_degrading = false;
        }),
        variant("hybrid, baseline 10 steps", &|c| c.rul.baseline = 10),
        variant("hybrid, baseline 20 steps", &|c| c.rul.baseline = 20),
        variant("hybrid, 1 Mondrian group", &|c| c.rul.conformal_groups = 1),
        variant("hybrid, 6 Mondrian groups", &|c| c.rul.conformal_groups = 6),
    ];
    println!("| configuration | cuts | RMSE | RMSE capped | PHM08 per 100 | coverage (capped) | coverage RUL <= cap | width |");
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (name, c)) in runs.iter().enumerate() {
        let ranges: &[(Option<(f64, f64)>, &str)] = if i == 0 {
            &[(Some((7.0, 145.0)), "7..145"), (None, "uniform")]
        } else {
            &[(Some((7.0, 145.0)), "7..145")]
        };
        for (range, label) in ranges {
            match cross_validate_with(&train, &c.rul, c.hybrid_trend(), 5, 5, 1, *range) {
                Ok(v) => println!(
                    "| {name} | {label} | {:.2} | {:.2} | {:.0} | {:.3} | {:.3} | {:.1} |",
                    v.rmse, v.rmse_capped, v.phm08_score_capped_per_100, v.coverage_capped, v.coverage_below_cap, v.mean_interval_width
                ),
                Err(e) => println!("| {name} | {label} | error: {e} |"),
            }
        }
    }
}
