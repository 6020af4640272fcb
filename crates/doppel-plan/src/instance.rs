//! Seeded synthetic planning instances: a plant of `lines` lines with motors, pumps, spindles and conveyors,
//! crews on day / late / night shifts, spare parts with lead times, orders with due dates, weekend windows, and
//! RUL distributions from healthy to about to fail. Used by tests, by the optimality-gap benchmark (exact solver
//! against local search) and by the planner speed benchmark (500 assets × 14 days × 20 crews).

use crate::business::{Business, ClassBusiness, Costs, Crew, LineBusiness, Order, Part, PartUse, Reroute, Shift, Window};
use crate::problem::{AssetInput, PlanConfig, Problem};
use crate::rul::RulDist;

/// SplitMix64: a small, well-known seeded generator (Steele, Lea & Flood 2014).
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    #[must_use]
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// Size of a synthetic instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceSize {
    pub assets: usize,
    pub lines: usize,
    pub crews: usize,
    pub horizon_h: f64,
    /// Scenarios per RUL distribution.
    pub scenarios: usize,
    /// Share of assets with a predicted failure (the rest look healthy).
    pub degrading: f64,
}

/// The four asset classes of the synthetic plant (and of the example plant's business file).
#[must_use]
pub fn classes() -> Vec<ClassBusiness> {
    let class = |id: &str, skill: &str, planned_h, corrective_h, planned_cost, corrective_cost, part: &str, life, kw| ClassBusiness {
        class: id.into(),
        skill: skill.into(),
        planned_h,
        corrective_h,
        planned_cost,
        corrective_cost,
        parts: vec![PartUse { part: part.into(), qty: 1 }],
        life_exponent: 3.0,
        derate_levels: vec![0.1, 0.2],
        mean_life_h: life,
        derate_throughput_loss: 1.0,
        power_kw: kw,
        stops_line: true,
    };
    vec![
        class("induction_motor", "electrical", 4.0, 16.0, 600.0, 6_000.0, "bearing_6309", 5_000.0, 55.0),
        class("centrifugal_pump", "mechanical", 6.0, 20.0, 900.0, 9_000.0, "pump_seal_kit", 8_000.0, 30.0),
        class("cnc_spindle", "mechanical", 5.0, 24.0, 1_200.0, 14_000.0, "spindle_bearing_set", 6_000.0, 22.0),
        class("belt_conveyor", "mechanical", 3.0, 10.0, 300.0, 3_000.0, "drive_bearing_6205", 7_000.0, 7.5),
    ]
}

/// The early (06–14), late (14–22) and night (22–06) shifts, UTC.
pub const SHIFTS: [Shift; 3] = [
    Shift {
        start_hour: 6.0,
        end_hour: 14.0,
    },
    Shift {
        start_hour: 14.0,
        end_hour: 22.0,
    },
    Shift {
        start_hour: 22.0,
        end_hour: 6.0,
    },
];

/// A crew of `size` technicians with `skills` working one daily `shift`.
#[must_use]
pub fn crew(id: &str, skills: &[&str], size: u32, shift: Shift, cost_per_h: f64) -> Crew {
    Crew {
        id: id.into(),
        skills: skills.iter().map(|s| (*s).to_string()).collect(),
        size,
        shifts: vec![shift],
        cost_per_h,
        busy_until: Vec::new(),
    }
}

/// The spare parts of [`classes`] (motor bearing, pump seal kit, spindle bearing set, conveyor drive bearing) with
/// their lead times and costs, and `on_hand` in that order.
#[must_use]
pub fn parts(on_hand: [u32; 4]) -> Vec<Part> {
    let part = |id: &str, on_hand, lead_time_h, unit_cost, order_cost| Part {
        id: id.into(),
        on_hand,
        lead_time_h,
        unit_cost,
        order_cost,
    };
    vec![
        part("bearing_6309", on_hand[0], 48.0, 180.0, 150.0),
        part("pump_seal_kit", on_hand[1], 96.0, 650.0, 200.0),
        part("spindle_bearing_set", on_hand[2], 120.0, 2_400.0, 300.0),
        part("drive_bearing_6205", on_hand[3], 24.0, 60.0, 80.0),
    ]
}

/// The small instances on which local search is checked against the exact solver: `assets` assets (90 %
/// degrading) on 2 lines, 2 crews, 72 h in 8-hour slots, 16 RUL scenarios.
///
/// # Errors
/// Those of [`Problem::new`] (none for generated data).
pub fn gap_instance(seed: u64, assets: usize, now_ns: i64) -> Result<Problem, crate::PlanError> {
    let size = InstanceSize {
        assets,
        lines: 2,
        crews: 2,
        horizon_h: 72.0,
        scenarios: 16,
        degrading: 0.9,
    };
    let (business, assets) = random(seed, size, now_ns);
    Problem::new(now_ns, PlanConfig { slot_h: 8.0, horizon_h: 72.0 }, business, assets)
}

/// A random instance at `now_ns`.
#[must_use]
pub fn random(seed: u64, size: InstanceSize, now_ns: i64) -> (Business, Vec<AssetInput>) {
    let mut rng = SplitMix::new(seed);
    let h_ns = 3_600_000_000_000_i64;
    let at = |h: f64| doppel_model::time::format_rfc3339(now_ns + (h * h_ns as f64) as i64);
    let lines: Vec<LineBusiness> = (0..size.lines)
        .map(|l| LineBusiness {
            id: format!("L{l}"),
            downtime_cost_per_h: rng.range(800.0, 3_000.0),
            rate_per_h: rng.range(60.0, 200.0),
            reroute: if size.lines > 1 && rng.uniform() < 0.6 {
                vec![Reroute {
                    to: format!("L{}", (l + 1) % size.lines),
                    share: rng.range(0.2, 0.6),
                    cost_per_h: rng.range(200.0, 700.0),
                }]
            } else {
                Vec::new()
            },
        })
        .collect();
    let crews: Vec<Crew> = (0..size.crews)
        .map(|c| Crew {
            id: format!("crew{c}"),
            skills: match c % 3 {
                0 => vec!["electrical".into(), "mechanical".into()],
                1 => vec!["mechanical".into()],
                _ => vec!["electrical".into()],
            },
            size: 1 + (c % 2) as u32,
            shifts: vec![SHIFTS[c % 3]],
            cost_per_h: rng.range(45.0, 90.0),
            busy_until: Vec::new(),
        })
        .collect();
    let n = size.assets as u32;
    let parts = parts([n / 20 + 1, n / 40, n / 30 + 1, n / 15 + 2]);
    let mut orders = Vec::new();
    for l in &lines {
        let mut t = 0.0;
        let mut k = 0;
        while t < size.horizon_h {
            let dur = rng.range(24.0, 72.0);
            t += dur;
            // Demand at 80–95 % of the line's capacity.
            let qty = (l.rate_per_h * dur * rng.range(0.80, 0.95)).round();
            orders.push(Order {
                id: format!("{}-PO{k}", l.id),
                line: l.id.clone(),
                product: format!("P{}", k % 3),
                quantity: qty,
                due: at(t),
            });
            k += 1;
        }
    }
    let windows: Vec<Window> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, l)| {
            let start = rng.range(0.0, size.horizon_h * 0.6);
            Window {
                line: l.id.clone(),
                start: at(start),
                end: at(start + 8.0),
                reason: "planned shutdown".into(),
            }
        })
        .collect();
    let business = Business {
        costs: Costs::default(),
        lines,
        classes: classes(),
        crews,
        parts,
        orders,
        windows,
        guardrails: Vec::new(),
    };
    let class_ids = ["induction_motor", "centrifugal_pump", "cnc_spindle", "belt_conveyor"];
    let assets = (0..size.assets)
        .map(|i| {
            let line = format!("L{}", i % size.lines.max(1));
            let class = class_ids[rng.below(class_ids.len())].to_string();
            let u = rng.uniform();
            let rul = if u >= size.degrading {
                RulDist::healthy()
            } else {
                // Degrading: median anywhere from 'now' to twice the horizon, spread 20–60 %.
                let median = rng.range(6.0, 2.0 * size.horizon_h);
                let sigma = rng.range(0.2, 0.6);
                let n = size.scenarios.max(1);
                RulDist::from_samples(
                    (0..n).map(|k| median * (sigma * crate::rul::normal_quantile((k as f64 + 0.5) / n as f64)).exp()),
                    None,
                )
            };
            AssetInput {
                id: format!("A{i:04}"),
                line,
                class,
                rul,
            }
        })
        .collect();
    (business, assets)
}
