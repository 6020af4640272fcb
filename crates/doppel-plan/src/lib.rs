//! # doppel-plan
//!
//! Prescriptive planning: given each asset's predicted remaining-useful-life *distribution* and the business
//! constraints (crews, spare parts, production orders, planned downtime windows, costs), choose for every asset
//! what to do over the next days — run on, derate, maintain in a given shift with a given crew, order parts,
//! reroute the line's production while it stands — so that the expected total cost is lowest.
//!
//! Pure, synchronous, no I/O except [`business::Business::load`].
//!
//! * [`business`]: the constraints as an ERP / MES / CMMS provides them (TOML file or JSON);
//! * [`rul`]: RUL scenarios ([`rul::RulDist`]) — plans use the whole distribution, never a point estimate;
//! * [`problem`]: options simulated forward over the scenarios, and the exact cost of a plan;
//! * [`solve`]: the exact MILP (good_lp + microlp) and local search for large instances;
//! * [`plan`]: the plan as people read it — actions, alternatives with their consequences, reroutes, orders;
//! * [`policy`]: autonomy and guardrails — recommend / auto within limits / off, per action type and class;
//! * [`workorder`]: work orders and their states;
//! * [`fleet`]: the policy benchmark — reactive, preventive, predictive and prescriptive on the same futures;
//! * [`instance`]: seeded synthetic instances (tests, the optimality-gap and speed benchmarks).

pub mod business;
pub mod fleet;
pub mod instance;
pub mod plan;
pub mod policy;
pub mod problem;
pub mod rul;
pub mod solve;
pub mod workorder;

pub use business::Business;
pub use plan::{ActionKind, AssetAction, Plan, make_plan};
pub use problem::{AssetInput, PlanConfig, Problem};
pub use rul::RulDist;
pub use solve::{SolveOptions, Solved, Solver, solve, solve_local, solve_milp};

/// Errors of the planner.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read business data: {0}")]
    Io(String),
    #[error("business data: {0}")]
    Parse(String),
    #[error("invalid planning input:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
    #[error("solver: {0}")]
    Solver(String),
    #[error("{0}")]
    State(String),
}
