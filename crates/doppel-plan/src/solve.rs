//! The two optimisers of a [`Problem`]:
//!
//! * [`solve_milp`]: the exact mixed-integer program (good_lp with the pure-Rust microlp branch and bound). One
//!   binary per asset option, one per (asset, slot, crew) assignment, one per order (late or not) and per part
//!   (ordered or not); continuous line stops, reroutes and late hours. Its optimum is the cheapest plan under the
//!   same cost semantics as [`Problem::evaluate`] (tests check that the evaluation of its plan equals its objective).
//! * [`solve_local`]: local search for large instances — start from "run everything on", then repeatedly move
//!   one asset to its best option (with the cheapest crew that has room), and eject jobs from full crew slots when
//!   that pays; stops at a local optimum or the time limit. Checked against the exact solver on small instances
//!   (the optimality gap is reported by `doppel bench plan-gap` and asserted in tests).
//!
//! [`solve`] picks the exact solver when the instance is small enough and falls back to local search otherwise or
//! when the exact solver runs out of time.

use std::time::{Duration, Instant};

use good_lp::{Expression, ProblemVariables, Solution, SolutionStatus, SolverModel, Variable, WithTimeLimit, microlp, variable};
use serde::{Deserialize, Serialize};

use crate::PlanError;
use crate::problem::{Choice, Evaluation, Problem};

/// Which optimiser made a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    Milp,
    LocalSearch,
}

/// An optimised plan: one choice per asset and its evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solved {
    pub choices: Vec<Choice>,
    pub evaluation: Evaluation,
    pub solver: Solver,
    /// The exact solver proved optimality (false after a time limit, and always for local search).
    pub proven_optimal: bool,
    /// The exact solver's objective value (equals `evaluation.total` up to rounding).
    pub objective: Option<f64>,
    pub seconds: f64,
}

/// Options of [`solve`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolveOptions {
    /// Use the exact solver when the model has at most this many binary variables.
    pub exact_max_binaries: usize,
    /// Time limit of the exact solver, seconds.
    pub exact_time_limit_s: f64,
    /// Time limit of the local search, seconds.
    pub local_time_limit_s: f64,
}

impl Default for SolveOptions {
    fn default() -> SolveOptions {
        SolveOptions {
            exact_max_binaries: 400,
            exact_time_limit_s: 5.0,
            local_time_limit_s: 4.0,
        }
    }
}

/// Number of binary variables of the exact model of `p`.
#[must_use]
pub fn binaries(p: &Problem) -> usize {
    let x: usize = p.options.iter().map(Vec::len).sum();
    let y: usize = (0..p.assets.len())
        .map(|a| {
            (0..p.slots)
                .map(|s| p.crew_ok[a].iter().filter(|&&c| p.crew_hours[c][s] >= p.dur_h[a]).count())
                .sum::<usize>()
        })
        .sum();
    let z: usize = p.lines.iter().map(|l| l.orders.len()).sum();
    x + y + z + p.business.parts.len()
}

/// Solves with the exact solver when the model is small enough, else (or when it fails or times out without a
/// better plan) with local search.
#[must_use]
pub fn solve(p: &Problem, opts: SolveOptions) -> Solved {
    let local = solve_local(p, Duration::from_secs_f64(opts.local_time_limit_s));
    if binaries(p) <= opts.exact_max_binaries
        && let Ok(exact) = solve_milp(p, Duration::from_secs_f64(opts.exact_time_limit_s), Some(&local.choices))
        && exact.evaluation.violations.is_empty()
        && exact.evaluation.total <= local.evaluation.total + 1e-6
    {
        return exact;
    }
    local
}

/// The exact mixed-integer program, optionally warm-started from a feasible plan.
///
/// # Errors
/// [`PlanError::Solver`] when the solver fails or finds no feasible plan within the time limit.
// The model's constraints index several variable arrays by (asset, slot, crew) at once: index loops read best.
#[allow(clippy::needless_range_loop)]
pub fn solve_milp(p: &Problem, limit: Duration, warm: Option<&[Choice]>) -> Result<Solved, PlanError> {
    let start = Instant::now();
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::from(0.0);
    let mut init: Vec<(Variable, f64)> = Vec::new();
    let n = p.assets.len();
    // x[a][o]
    let x: Vec<Vec<Variable>> = (0..n)
        .map(|a| {
            p.options[a]
                .iter()
                .enumerate()
                .map(|(o, opt)| {
                    let v = vars.add(variable().binary());
                    objective += opt.cost.total() * v;
                    if let Some(w) = warm {
                        init.push((v, if w[a].option == o { 1.0 } else { 0.0 }));
                    }
                    v
                })
                .collect()
        })
        .collect();
    // y[a][s] = [(crew, var)]
    let mut y: Vec<Vec<Vec<(usize, Variable)>>> = vec![vec![Vec::new(); p.slots]; n];
    for a in 0..n {
        for s in 0..p.slots {
            for &c in &p.crew_ok[a] {
                if p.crew_hours[c][s] >= p.dur_h[a] {
                    let v = vars.add(variable().binary());
                    objective += p.business.crews[c].cost_per_h * p.dur_h[a] * v;
                    if let Some(w) = warm {
                        let on = p.options[a][w[a].option].slot == Some(s) && w[a].crew == Some(c);
                        init.push((v, if on { 1.0 } else { 0.0 }));
                    }
                    y[a][s].push((c, v));
                }
            }
        }
    }
    let mut constraints = Vec::new();
    let slot_sum = |a: usize, s: usize| -> Expression {
        let mut e = Expression::from(0.0);
        for (o, opt) in p.options[a].iter().enumerate() {
            if opt.slot == Some(s) {
                e += x[a][o];
            }
        }
        e
    };
    for a in 0..n {
        let mut one = Expression::from(0.0);
        for v in &x[a] {
            one += *v;
        }
        constraints.push(one.eq(1.0));
        for s in 0..p.slots {
            let mut crews = Expression::from(0.0);
            for (_, v) in &y[a][s] {
                crews += *v;
            }
            constraints.push(crews.eq(slot_sum(a, s)));
        }
    }
    for c in 0..p.business.crews.len() {
        for s in 0..p.slots {
            let mut used = Expression::from(0.0);
            let mut any = false;
            for a in 0..n {
                for (cc, v) in &y[a][s] {
                    if *cc == c {
                        used += p.dur_h[a] * *v;
                        any = true;
                    }
                }
            }
            if any {
                constraints.push(used.leq(p.crew_hours[c][s]));
            }
        }
    }
    // Lines: stops, reroutes, late orders.
    for (l, line) in p.lines.iter().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&a| p.asset_line[a] == l).collect();
        let reroute = line.reroute_share > 0.0 && line.reroute_cost_h < line.cost_h;
        let mut lost: Vec<Expression> = Vec::with_capacity(p.slots);
        for s in 0..p.slots {
            let d = vars.add(variable().min(0.0));
            for &a in &members {
                constraints.push(Expression::from(d).geq(p.weight[a] * p.dur_h[a] * slot_sum(a, s)));
            }
            let prod = line.producing[s];
            if reroute {
                let r = vars.add(variable().min(0.0));
                constraints.push(Expression::from(r).leq(line.reroute_share * d));
                // Rerouting is cheaper than standing: the evaluation reroutes the full share; so does the optimum.
                objective += prod * line.cost_h * d - prod * (line.cost_h - line.reroute_cost_h) * r;
                lost.push(prod * d - prod * r);
            } else {
                objective += prod * line.cost_h * d;
                lost.push(prod * d);
            }
        }
        for (k, o) in line.orders.iter().enumerate() {
            let late = vars.add(variable().min(0.0));
            let z = vars.add(variable().binary());
            let mut short = Expression::from(-o.slack_h);
            for e in lost.iter().take(o.due_slot) {
                short += e.clone();
            }
            let mut m = o.slack_h.min(0.0).abs();
            for &a in &members {
                let mut worst: f64 = 0.0;
                for (oi, opt) in p.options[a].iter().enumerate() {
                    let v = opt.late_loss_h[k];
                    if v != 0.0 {
                        short += v * x[a][oi];
                    }
                    worst = worst.max(v);
                }
                m += worst + p.weight[a] * p.dur_h[a] * p.slots as f64;
            }
            constraints.push(Expression::from(late).geq(short));
            constraints.push(Expression::from(late).leq((m + 1.0) * z));
            objective += p.business.costs.late_penalty_per_h * late + p.business.costs.late_order_penalty * z;
        }
    }
    // Parts.
    for (pi, part) in p.business.parts.iter().enumerate() {
        let order = vars.add(variable().binary());
        objective += part.order_cost * order;
        let mut early = Expression::from(0.0);
        let mut total = Expression::from(-f64::from(part.on_hand));
        let mut any_early = false;
        let mut cap = 0.0;
        for a in 0..n {
            let Some(&(_, q)) = p.part_need[a].iter().find(|(pp, _)| *pp == pi) else {
                continue;
            };
            cap += f64::from(q);
            for (oi, opt) in p.options[a].iter().enumerate() {
                if let Some(s) = opt.slot {
                    total += f64::from(q) * x[a][oi];
                    if s < p.lead_slots[pi] {
                        early += f64::from(q) * x[a][oi];
                        any_early = true;
                    }
                }
                if opt.order_parts && part.on_hand < q {
                    constraints.push(Expression::from(x[a][oi]).leq(order));
                }
            }
        }
        if any_early {
            constraints.push(early.leq(f64::from(part.on_hand)));
        }
        constraints.push(total.leq((cap + 1.0) * order));
    }
    let goal = objective.clone();
    let mut model = vars.minimise(objective).using(microlp).with_time_limit(limit.as_secs_f64().max(0.01));
    if !init.is_empty() {
        use good_lp::WithInitialSolution;
        model = model.with_initial_solution(init);
    }
    for c in constraints {
        model.add_constraint(c);
    }
    let sol = model.solve().map_err(|e| PlanError::Solver(e.to_string()))?;
    let proven = matches!(sol.status(), SolutionStatus::Optimal);
    let choices: Vec<Choice> = (0..n)
        .map(|a| {
            let option = (0..x[a].len()).max_by(|&i, &j| sol.value(x[a][i]).total_cmp(&sol.value(x[a][j]))).unwrap_or(0);
            let crew = p.options[a][option]
                .slot
                .and_then(|s| y[a][s].iter().max_by(|u, v| sol.value(u.1).total_cmp(&sol.value(v.1))).map(|(c, _)| *c));
            Choice { option, crew }
        })
        .collect();
    let evaluation = p.evaluate(&choices);
    let objective = Some(sol.eval(&goal));
    Ok(Solved {
        choices,
        evaluation,
        solver: Solver::Milp,
        proven_optimal: proven,
        objective,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Incremental state of the local search.
struct State<'p> {
    p: &'p Problem,
    choices: Vec<Choice>,
    crew_used: Vec<Vec<f64>>,
    part_early: Vec<u32>,
    part_total: Vec<u32>,
    part_flag: Vec<u32>,
    /// Sum of the assets' own late losses per line and order.
    own_loss: Vec<Vec<f64>>,
    members: Vec<Vec<usize>>,
    line_cost: Vec<f64>,
}

impl<'p> State<'p> {
    fn new(p: &'p Problem) -> State<'p> {
        let n = p.assets.len();
        let mut members = vec![Vec::new(); p.lines.len()];
        for a in 0..n {
            members[p.asset_line[a]].push(a);
        }
        let mut st = State {
            p,
            choices: vec![Choice { option: 0, crew: None }; n],
            crew_used: vec![vec![0.0; p.slots]; p.business.crews.len()],
            part_early: vec![0; p.business.parts.len()],
            part_total: vec![0; p.business.parts.len()],
            part_flag: vec![0; p.business.parts.len()],
            own_loss: p.lines.iter().map(|l| vec![0.0; l.orders.len()]).collect(),
            members,
            line_cost: vec![0.0; p.lines.len()],
        };
        for a in 0..n {
            st.apply(a, Choice { option: 0, crew: None }, 1.0);
        }
        for l in 0..p.lines.len() {
            st.line_cost[l] = st.line_total(l, None);
        }
        st
    }

    /// Adds (`sign` = 1) or removes (−1) the resource use of asset `a` under choice `ch`.
    fn apply(&mut self, a: usize, ch: Choice, sign: f64) {
        let p = self.p;
        let opt = &p.options[a][ch.option];
        let l = p.asset_line[a];
        for (k, v) in opt.late_loss_h.iter().enumerate() {
            self.own_loss[l][k] += sign * v;
        }
        let add = |x: &mut u32, q: u32| {
            if sign > 0.0 {
                *x += q;
            } else {
                *x = x.saturating_sub(q);
            }
        };
        if let Some(s) = opt.slot {
            if let Some(c) = ch.crew {
                self.crew_used[c][s] += sign * p.dur_h[a];
            }
            for &(pi, q) in &p.part_need[a] {
                add(&mut self.part_total[pi], q);
                if s < p.lead_slots[pi] {
                    add(&mut self.part_early[pi], q);
                }
            }
        }
        if opt.order_parts {
            for &(pi, q) in &p.part_need[a] {
                if p.business.parts[pi].on_hand < q {
                    add(&mut self.part_flag[pi], 1);
                }
            }
        }
    }

    /// Line-coupled cost of line `l`, with asset `a` (if given) replaced by `alt`.
    fn line_total(&self, l: usize, swap: Option<(usize, Choice)>) -> f64 {
        let p = self.p;
        let mut stop = vec![0.0f64; p.slots];
        for &a in &self.members[l] {
            let ch = match swap {
                Some((b, alt)) if b == a => alt,
                _ => self.choices[a],
            };
            if let Some(s) = p.options[a][ch.option].slot {
                stop[s] = stop[s].max(p.weight[a] * p.dur_h[a]);
            }
        }
        let mut own = self.own_loss[l].clone();
        if let Some((b, alt)) = swap {
            let (old, new) = (&p.options[b][self.choices[b].option], &p.options[b][alt.option]);
            for (k, v) in own.iter_mut().enumerate() {
                *v += new.late_loss_h[k] - old.late_loss_h[k];
            }
        }
        let (c, _, _) = p.line_cost(l, &stop, &own);
        c.downtime + c.reroute + c.late
    }

    fn parts_cost(&self) -> f64 {
        self.p
            .business
            .parts
            .iter()
            .enumerate()
            .filter(|(i, part)| self.part_total[*i] > part.on_hand || self.part_flag[*i] > 0)
            .map(|(_, part)| part.order_cost)
            .sum()
    }

    fn own_cost(&self, a: usize, ch: Choice) -> f64 {
        let opt = &self.p.options[a][ch.option];
        opt.cost.total() + ch.crew.map_or(0.0, |c| self.p.business.crews[c].cost_per_h * self.p.dur_h[a])
    }

    /// Cheapest crew with room for asset `a` in slot `s` (ignoring `a`'s own current job).
    fn crew_for(&self, a: usize, s: usize) -> Option<usize> {
        let p = self.p;
        let cur = self.choices[a];
        let own = |c: usize| {
            if p.options[a][cur.option].slot == Some(s) && cur.crew == Some(c) {
                p.dur_h[a]
            } else {
                0.0
            }
        };
        p.crew_ok[a]
            .iter()
            .copied()
            .filter(|&c| self.crew_used[c][s] - own(c) + p.dur_h[a] <= p.crew_hours[c][s] + 1e-9)
            .min_by(|&c, &d| p.business.crews[c].cost_per_h.total_cmp(&p.business.crews[d].cost_per_h))
    }

    /// Whether the parts constraints hold with `a` moved to `ch`.
    fn parts_ok(&mut self, a: usize, ch: Choice) -> bool {
        let old = self.choices[a];
        self.apply(a, old, -1.0);
        self.apply(a, ch, 1.0);
        let ok = self.p.business.parts.iter().enumerate().all(|(i, part)| self.part_early[i] <= part.on_hand);
        self.apply(a, ch, -1.0);
        self.apply(a, old, 1.0);
        ok
    }

    /// Cost change of moving asset `a` to `ch` (None when infeasible).
    fn delta(&mut self, a: usize, ch: Choice) -> Option<f64> {
        let old = self.choices[a];
        if old == ch {
            return Some(0.0);
        }
        if self.p.options[a][ch.option].slot.is_some() && !self.parts_ok(a, ch) {
            return None;
        }
        let l = self.p.asset_line[a];
        let parts_before = self.parts_cost();
        self.apply(a, old, -1.0);
        self.apply(a, ch, 1.0);
        let parts_after = self.parts_cost();
        self.apply(a, ch, -1.0);
        self.apply(a, old, 1.0);
        let line_after = self.line_total(l, Some((a, ch)));
        Some(self.own_cost(a, ch) - self.own_cost(a, old) + line_after - self.line_cost[l] + parts_after - parts_before)
    }

    fn set(&mut self, a: usize, ch: Choice) {
        let old = self.choices[a];
        self.apply(a, old, -1.0);
        self.apply(a, ch, 1.0);
        self.choices[a] = ch;
        let l = self.p.asset_line[a];
        self.line_cost[l] = self.line_total(l, None);
    }

    /// The best feasible move of asset `a`: (choice, delta).
    fn best_move(&mut self, a: usize) -> (Choice, f64) {
        let mut best = (self.choices[a], 0.0);
        for o in 0..self.p.options[a].len() {
            let crew = match self.p.options[a][o].slot {
                Some(s) => match self.crew_for(a, s) {
                    Some(c) => Some(c),
                    None => continue,
                },
                None => None,
            };
            let ch = Choice { option: o, crew };
            if let Some(d) = self.delta(a, ch)
                && d < best.1 - 1e-9
            {
                best = (ch, d);
            }
        }
        best
    }

    /// Tries to put asset `a` into option `o` (a planned repair) with crew `c` by first moving away the jobs that
    /// stand in the way — those of crew `c` in that slot, and those using the stock of a part `a` needs before its
    /// lead time — then re-placing them at their best options; keeps the change only when the total cost falls.
    fn eject(&mut self, a: usize, o: usize, c: usize) -> bool {
        let p = self.p;
        let Some(s) = p.options[a][o].slot else { return false };
        let before = self.total();
        let saved = self.choices.clone();
        let slot_of = |st: &State<'_>, b: usize| p.options[b][st.choices[b].option].slot;
        let mut occupants: Vec<usize> = (0..p.assets.len())
            .filter(|&b| b != a && self.choices[b].crew == Some(c) && slot_of(self, b) == Some(s))
            .collect();
        for &(pi, _) in &p.part_need[a] {
            if s < p.lead_slots[pi] {
                let users: Vec<usize> = (0..p.assets.len())
                    .filter(|&b| b != a && p.part_need[b].iter().any(|&(q, _)| q == pi) && slot_of(self, b).is_some_and(|t| t < p.lead_slots[pi]))
                    .collect();
                for b in users {
                    if !occupants.contains(&b) {
                        occupants.push(b);
                    }
                }
            }
        }
        self.set(a, Choice { option: 0, crew: None });
        let ch = Choice { option: o, crew: Some(c) };
        let mut removed = Vec::new();
        for &b in &occupants {
            if self.crew_used[c][s] + p.dur_h[a] <= p.crew_hours[c][s] + 1e-9 && self.parts_ok(a, ch) {
                break;
            }
            self.set(b, Choice { option: 0, crew: None });
            removed.push(b);
        }
        if self.crew_used[c][s] + p.dur_h[a] <= p.crew_hours[c][s] + 1e-9 && self.parts_ok(a, ch) {
            self.set(a, ch);
            for &b in &removed {
                let (mv, d) = self.best_move(b);
                if d < 0.0 {
                    self.set(b, mv);
                }
            }
            if self.total() < before - 1e-6 {
                return true;
            }
        }
        for (b, ch) in saved.into_iter().enumerate() {
            if self.choices[b] != ch {
                self.set(b, ch);
            }
        }
        false
    }

    fn total(&self) -> f64 {
        (0..self.p.assets.len()).map(|a| self.own_cost(a, self.choices[a])).sum::<f64>() + self.line_cost.iter().sum::<f64>() + self.parts_cost()
    }
}

/// First moves tried per asset in the pair-move phase.
const PAIR_CANDIDATES: usize = 6;

/// Best-improvement descent over single moves and ejections, until no move pays or time runs out.
fn descend(st: &mut State<'_>, order: &[usize], start: Instant, limit: Duration) {
    let p = st.p;
    loop {
        let mut improved = false;
        for &a in order {
            if start.elapsed() > limit {
                break;
            }
            let (ch, d) = st.best_move(a);
            if d < -1e-9 {
                st.set(a, ch);
                improved = true;
            }
        }
        if start.elapsed() <= limit {
            // Ejections: for assets whose stand-alone best repairs do not fit (crew full, parts taken), make room.
            for &a in order {
                if start.elapsed() > limit {
                    break;
                }
                let mut ranked: Vec<usize> = (0..p.options[a].len()).filter(|&o| p.options[a][o].slot.is_some()).collect();
                ranked.sort_by(|&i, &j| p.options[a][i].cost.total().total_cmp(&p.options[a][j].cost.total()));
                for &o in ranked.iter().take(2) {
                    let Some(s) = p.options[a][o].slot else { continue };
                    if st.choices[a].option == o {
                        continue;
                    }
                    if let Some(c) = st.crew_for(a, s)
                        && st.parts_ok(a, Choice { option: o, crew: Some(c) })
                    {
                        continue;
                    }
                    let crews: Vec<usize> = p.crew_ok[a].iter().copied().filter(|&c| p.crew_hours[c][s] >= p.dur_h[a]).collect();
                    if crews.into_iter().any(|c| st.eject(a, o, c)) {
                        improved = true;
                        break;
                    }
                }
            }
        }
        if !improved || start.elapsed() > limit {
            break;
        }
    }
}

/// Descent, then pair moves on each line: move one asset to any option and let a second asset of the same line
/// respond with its best move. This crosses the steps of the late-order penalties (an order is late or not) that
/// single moves cannot; kept when the total falls.
fn improve(st: &mut State<'_>, order: &[usize], start: Instant, limit: Duration) {
    let p = st.p;
    descend(st, order, start, limit);
    let by_line: Vec<Vec<usize>> = st
        .members
        .iter()
        .map(|m| m.iter().copied().filter(|&a| !p.assets[a].rul.is_empty()).collect())
        .collect();
    'outer: loop {
        let mut improved = false;
        for members in &by_line {
            for &a in members {
                // Candidate first moves: the asset's cheapest stand-alone options, and repairs in slots where another
                // asset of the line is already being repaired (sharing the stop).
                let mut cands: Vec<usize> = (0..p.options[a].len()).collect();
                cands.sort_by(|&i, &j| p.standalone_cost(a, &p.options[a][i]).total_cmp(&p.standalone_cost(a, &p.options[a][j])));
                cands.truncate(PAIR_CANDIDATES);
                for &b in members {
                    if let Some(sb) = p.options[b][st.choices[b].option].slot {
                        cands.extend((0..p.options[a].len()).filter(|&o| p.options[a][o].slot == Some(sb) && p.options[a][o].derate == 0.0));
                    }
                }
                cands.sort_unstable();
                cands.dedup();
                for o in cands {
                    if start.elapsed() > limit {
                        break 'outer;
                    }
                    if st.choices[a].option == o {
                        continue;
                    }
                    let crew = match p.options[a][o].slot {
                        Some(s) => match st.crew_for(a, s) {
                            Some(c) => Some(c),
                            None => continue,
                        },
                        None => None,
                    };
                    let ch = Choice { option: o, crew };
                    let Some(d) = st.delta(a, ch) else { continue };
                    let old_a = st.choices[a];
                    st.set(a, ch);
                    let mut done = false;
                    for &b in members {
                        if b == a {
                            continue;
                        }
                        let (mv, db) = st.best_move(b);
                        if d + db < -1e-6 {
                            st.set(b, mv);
                            improved = true;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        st.set(a, old_a);
                    }
                }
            }
        }
        if !improved {
            break;
        }
        descend(st, order, start, limit);
    }
}

/// Local search (see the module documentation).
#[must_use]
pub fn solve_local(p: &Problem, limit: Duration) -> Solved {
    let start = Instant::now();
    let mut st = State::new(p);
    let n = p.assets.len();
    // Most urgent first: by the best standalone improvement over running on.
    let mut order: Vec<usize> = (0..n).collect();
    let gain: Vec<f64> = (0..n)
        .map(|a| {
            let base = p.options[a][0].cost.total();
            p.options[a].iter().map(|o| o.cost.total()).fold(base, f64::min) - base
        })
        .collect();
    order.sort_by(|&a, &b| gain[a].total_cmp(&gain[b]));
    improve(&mut st, &order, start, limit);
    // A second start: every asset at its cheapest stand-alone option that fits (most urgent first).
    let mut greedy = State::new(p);
    for &a in &order {
        let mut ranked: Vec<usize> = (0..p.options[a].len()).collect();
        ranked.sort_by(|&i, &j| p.standalone_cost(a, &p.options[a][i]).total_cmp(&p.standalone_cost(a, &p.options[a][j])));
        for o in ranked {
            let crew = match p.options[a][o].slot {
                Some(s) => match greedy.crew_for(a, s) {
                    Some(c) => Some(c),
                    None => continue,
                },
                None => None,
            };
            let ch = Choice { option: o, crew };
            if p.options[a][o].slot.is_none() || greedy.parts_ok(a, ch) {
                greedy.set(a, ch);
                break;
            }
        }
    }
    improve(&mut greedy, &order, start, limit);
    if greedy.total() < st.total() - 1e-9 {
        st = greedy;
    }
    let evaluation = p.evaluate(&st.choices);
    Solved {
        choices: st.choices,
        evaluation,
        solver: Solver::LocalSearch,
        proven_optimal: false,
        objective: None,
        seconds: start.elapsed().as_secs_f64(),
    }
}
