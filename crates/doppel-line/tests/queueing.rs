//! Validation of the simulator against queueing theory (DOMAIN.md: "Queueing checks for a line simulator").
//!
//! Every check runs independent replications and compares the theoretical value with the replication
//! mean: the test asserts that the theory lies within a 99.9 % Student-t interval of the mean (so a
//! correct simulator fails by chance in 1 of 1000 checks, and the seeds are fixed), *and* that the
//! interval is narrow (relative half-width stated per check), so that the check has power.

use doppel_line::config::{Arrivals, LineConfig, SourceConfig, StationConfig};
use doppel_line::stats::Estimate;
use doppel_line::{Dist, SimOptions, Simulator};

const REPS: u64 = 20;

fn queue(service: Dist, servers: usize, lambda: f64) -> LineConfig {
    let mut l = LineConfig::serial("q", vec![StationConfig::new("s", service, servers)]);
    l.sources = vec![SourceConfig {
        id: "arrivals".into(),
        to: "s".into(),
        arrivals: Arrivals::Renewal {
            interarrival: Dist::Exponential { mean: 1.0 / lambda },
            limit: None,
        },
        mix: Default::default(),
        batch_size: 1,
    }];
    l
}

struct Obs {
    util: Vec<f64>,
    l: Vec<f64>,
    lq: Vec<f64>,
    w: Vec<f64>,
    little_gap: Vec<f64>,
    throughput: Vec<f64>,
    bottleneck: Vec<Option<String>>,
}

fn replicate(l: &LineConfig, horizon: f64, warmup: f64) -> Obs {
    let sim = Simulator::new(l).unwrap();
    let mut o = Obs {
        util: vec![],
        l: vec![],
        lq: vec![],
        w: vec![],
        little_gap: vec![],
        throughput: vec![],
        bottleneck: vec![],
    };
    for r in 0..REPS {
        let run = sim.run(&SimOptions::new(1000 + r, horizon, warmup)).unwrap();
        let k = &run.kpis;
        o.util.push(run.stations[0].utilisation);
        o.l.push(k.wip_mean);
        o.lq.push(run.stations[0].mean_queue);
        o.w.push(k.lead_time_mean_s);
        o.little_gap.push((k.wip_mean - k.departure_rate_per_s * k.sojourn_mean_s).abs() / k.wip_mean);
        o.throughput.push(k.throughput_per_h / 3600.0);
        o.bottleneck.push(run.bottleneck.id.clone());
    }
    o
}

fn check(name: &str, xs: &[f64], theory: f64, max_rel_half_width: f64) {
    let e95 = Estimate::of(xs, 0.95);
    let e999 = Estimate::of(xs, 0.999);
    println!(
        "{name}: theory {theory:.4}, simulated {:.4} ± {:.4} (95 %), relative error {:+.2} %, relative half-width {:.2} %",
        e95.mean,
        e95.half_width,
        100.0 * (e95.mean - theory) / theory,
        100.0 * e95.half_width / theory
    );
    assert!(
        e999.contains(theory),
        "{name}: theory {theory} outside the 99.9 % interval {:.4} ± {:.4}",
        e999.mean,
        e999.half_width
    );
    assert!(e95.half_width / theory < max_rel_half_width, "{name}: interval too wide to test anything");
}

fn mm1(rho: f64, horizon: f64) {
    let (lambda, mu) = (rho, 1.0);
    let o = replicate(&queue(Dist::Exponential { mean: 1.0 / mu }, 1, lambda), horizon, 0.05 * horizon);
    check(&format!("M/M/1 ρ={rho} utilisation"), &o.util, rho, 0.01);
    check(&format!("M/M/1 ρ={rho} L"), &o.l, rho / (1.0 - rho), 0.03);
    check(&format!("M/M/1 ρ={rho} Lq"), &o.lq, rho * rho / (1.0 - rho), 0.04);
    check(&format!("M/M/1 ρ={rho} W"), &o.w, 1.0 / (mu - lambda), 0.03);
    // Little's law holds within each run (up to the warm-up edge effect)
    let worst = o.little_gap.iter().cloned().fold(0.0, f64::max);
    println!("M/M/1 ρ={rho}: worst relative |L − λW| over runs {worst:.2e}");
    assert!(worst < 0.01);
}

#[test]
fn mm1_at_rho_0_5() {
    mm1(0.5, 200_000.0);
}

#[test]
fn mm1_at_rho_0_8() {
    mm1(0.8, 400_000.0);
}

#[test]
fn md1_matches_pollaczek_khinchine() {
    // M/D/1: Lq = ρ²/(2(1−ρ)), W = Lq/λ + D
    let (lambda, d) = (0.8, 1.0);
    let rho = lambda * d;
    let o = replicate(&queue(Dist::Deterministic { value: d }, 1, lambda), 200_000.0, 10_000.0);
    let lq = rho * rho / (2.0 * (1.0 - rho));
    check("M/D/1 Lq", &o.lq, lq, 0.03);
    check("M/D/1 W", &o.w, lq / lambda + d, 0.02);
    // M/G/1 with log-normal service (cv 0.5): Lq = λ²E[S²]/(2(1−ρ)), E[S²] = (1+cv²)·E[S]²
    let o = replicate(&queue(Dist::LogNormal { mean: d, cv: 0.5 }, 1, lambda), 200_000.0, 10_000.0);
    let lq = lambda * lambda * (1.0 + 0.25) * d * d / (2.0 * (1.0 - rho));
    check("M/G/1 (log-normal cv 0.5) Lq", &o.lq, lq, 0.03);
}

#[test]
fn mmc_matches_erlang_c() {
    // M/M/3, ρ = 0.8 per server: Lq = C(c, a)·ρ/(1−ρ), W = Lq/λ + 1/μ
    let (c, lambda, mu) = (3usize, 2.4, 1.0);
    let a: f64 = lambda / mu;
    let rho = a / c as f64;
    let fact = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
    let sum: f64 = (0..c).map(|k| a.powi(k as i32) / fact(k)).sum();
    let top = a.powi(c as i32) / fact(c) / (1.0 - rho);
    let erlang_c = top / (sum + top);
    let lq = erlang_c * rho / (1.0 - rho);
    let o = replicate(&queue(Dist::Exponential { mean: 1.0 / mu }, c, lambda), 150_000.0, 10_000.0);
    check("M/M/3 utilisation", &o.util, rho, 0.01);
    check("M/M/3 Lq", &o.lq, lq, 0.05);
    check("M/M/3 W", &o.w, lq / lambda + 1.0 / mu, 0.02);
    check("M/M/3 L", &o.l, lq + a, 0.02);
}

fn tandem(means: &[f64], buffer: Option<usize>) -> LineConfig {
    LineConfig::serial(
        "tandem",
        means
            .iter()
            .enumerate()
            .map(|(i, &m)| StationConfig::new(&format!("s{}", i + 1), Dist::Exponential { mean: m }, 1).with_buffer(buffer))
            .collect(),
    )
}

#[test]
fn tandem_line_with_large_buffers_runs_at_the_bottleneck_rate() {
    // Station s2 (mean 1.0) is the bottleneck; s4 (0.9) is close behind.
    let l = tandem(&[0.8, 1.0, 0.7, 0.9], Some(200));
    let o = replicate(&l, 100_000.0, 10_000.0);
    check("tandem throughput (large buffers)", &o.throughput, 1.0, 0.01);
    assert!(o.bottleneck.iter().all(|b| b.as_deref() == Some("s2")), "{:?}", o.bottleneck);
}

#[test]
fn small_buffers_block_and_cut_throughput_below_the_bottleneck_rate() {
    // Two exponential stations of rate 1, the first saturated, b waiting places between them, blocking
    // after service: the states 0..b+2 of a birth–death chain with equal rates are equally likely, so
    // throughput = (b+2)/(b+3) (2/3 for b = 0).
    for b in [0usize, 2] {
        let o = replicate(&tandem(&[1.0, 1.0], Some(b)), 100_000.0, 5_000.0);
        let theory = (b as f64 + 2.0) / (b as f64 + 3.0);
        check(&format!("two stations, buffer {b}: throughput"), &o.throughput, theory, 0.01);
        assert!(Estimate::of(&o.throughput, 0.999).upper() < 1.0);
    }
}

#[test]
fn mm1k_loses_the_erlang_share_of_arrivals() {
    // M/M/1/K with K = buffer + 1 places in the system, ρ = 0.9, K = 5:
    // P(loss) = (1−ρ)ρ^K / (1−ρ^(K+1)), L = ρ/(1−ρ) − (K+1)ρ^(K+1)/(1−ρ^(K+1))
    let (rho, k) = (0.9f64, 5i32);
    let mut l = queue(Dist::Exponential { mean: 1.0 }, 1, rho);
    l.stations[0].buffer = Some(k as usize - 1);
    let sim = Simulator::new(&l).unwrap();
    let (mut loss, mut wip) = (vec![], vec![]);
    for r in 0..REPS {
        let run = sim.run(&SimOptions::new(500 + r, 200_000.0, 5_000.0)).unwrap();
        let s = &run.sources[0];
        loss.push(s.lost as f64 / (s.lost + s.entered) as f64);
        wip.push(run.kpis.wip_mean);
    }
    let p_loss = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    let l_theory = rho / (1.0 - rho) - f64::from(k + 1) * rho.powi(k + 1) / (1.0 - rho.powi(k + 1));
    check("M/M/1/5 loss probability", &loss, p_loss, 0.02);
    check("M/M/1/5 L", &wip, l_theory, 0.01);
}

#[test]
fn jackson_network_with_a_split_and_rework_feedback() {
    // Poisson λ = 0.5 → s1 (μ = 1.25, 20 % reworked in place: effective μ(1−r) = 1) → 50/50 split →
    // s2 (μ = 0.5) or s3 (μ = 0.6) → out. Jackson's theorem: each station is an M/M/1 with its own arrival
    // rate; L = Σ ρᵢ/(1−ρᵢ), W = L/λ.
    let mut s1 = StationConfig::new("s1", Dist::Exponential { mean: 0.8 }, 1);
    s1.rework_p = 0.2;
    s1.routes = vec![
        doppel_line::config::Route {
            to: Some("s2".into()),
            p: 0.5,
            transport_s: 0.0,
        },
        doppel_line::config::Route {
            to: Some("s3".into()),
            p: 0.5,
            transport_s: 0.0,
        },
    ];
    let mut s2 = StationConfig::new("s2", Dist::Exponential { mean: 2.0 }, 1);
    s2.routes = vec![doppel_line::config::Route {
        to: None,
        p: 1.0,
        transport_s: 0.0,
    }];
    let s3 = StationConfig::new("s3", Dist::Exponential { mean: 1.0 / 0.6 }, 1);
    let mut l = LineConfig::serial("jackson", vec![s1, s2, s3]);
    l.sources = vec![SourceConfig {
        id: "arrivals".into(),
        to: "s1".into(),
        arrivals: Arrivals::Renewal {
            interarrival: Dist::Exponential { mean: 2.0 },
            limit: None,
        },
        mix: Default::default(),
        batch_size: 1,
    }];
    let o = replicate(&l, 300_000.0, 10_000.0);
    let rhos = [0.5, 0.25 / 0.5, 0.25 / 0.6];
    let lt: f64 = rhos.iter().map(|r| r / (1.0 - r)).sum();
    check("Jackson network L", &o.l, lt, 0.02);
    check("Jackson network W", &o.w, lt / 0.5, 0.02);
    check("Jackson network s1 utilisation", &o.util, 0.5, 0.01);
}
