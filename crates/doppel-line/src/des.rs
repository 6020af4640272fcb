//! The discrete-event simulator.
//!
//! A binary heap orders events by (time, insertion sequence), so ties resolve first-in first-out and a
//! run is bit-reproducible. Events: arrivals and order releases, the end of a changeover or a unit's
//! processing, failures and repairs, maintenance windows, shift starts and ends, the end of a transport,
//! component lot arrivals and the end of the warm-up. An interrupted changeover or processing (failure,
//! maintenance, shift end) keeps its remaining time and resumes when the machine is available again
//! (pre-empt–resume); an event made stale by an interruption carries an old generation number and is
//! ignored.
//!
//! Statistics are collected from the warm-up on: state times per machine (exclusive states, see
//! [`crate::results::StateTimes`]), time integrals of the units in the line and at each station, lead
//! times of units leaving after the warm-up, and the active periods of each station for the bottleneck
//! ([`crate::bottleneck`]). Little's law L = λW then holds for the reported `wip_mean`,
//! `departure_rate_per_s` and `sojourn_mean_s` up to the edge effect of units present at the warm-up.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::bottleneck::active_period_method;
use crate::config::{CArrivals, Disposition, LineConfig, Model, Target, Window};
use crate::results::{Buckets, LineKpis, Oee, OrderResult, ProductResult, RunResult, SourceResult, StateTimes, StationResult};
use crate::rng::{Rng, purpose};
use crate::state::{Carried, LineState, LotState, MachineState, Place, SourceState, UnitState};
use crate::trace::{AlarmRecord, TraceLog, VisitRecord};

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimOptions {
    pub seed: u64,
    /// End of the run, seconds of sim time.
    pub horizon_s: f64,
    /// Statistics start here.
    pub warmup_s: f64,
    /// Record genealogy ([`crate::trace`]).
    #[serde(default)]
    pub trace: bool,
    /// Width of the state-time buckets (for energy), seconds; `None`: no buckets.
    #[serde(default)]
    pub bucket_s: Option<f64>,
    /// Epoch time of sim time 0, ns (genealogy timestamps).
    #[serde(default)]
    pub start_ns: i64,
    /// First serial number.
    #[serde(default)]
    pub serial_base: u64,
    /// Report the line's state at the horizon ([`RunResult::end_state`]), to continue from it
    /// ([`Simulator::run_from`]).
    #[serde(default)]
    pub end_state: bool,
}

impl SimOptions {
    pub fn new(seed: u64, horizon_s: f64, warmup_s: f64) -> SimOptions {
        SimOptions {
            seed,
            horizon_s,
            warmup_s,
            trace: false,
            bucket_s: None,
            start_ns: 0,
            serial_base: 0,
            end_state: false,
        }
    }
}

/// A validated line, ready to be simulated any number of times.
#[derive(Debug, Clone)]
pub struct Simulator {
    model: Model,
}

impl Simulator {
    pub fn new(config: &LineConfig) -> Result<Simulator, LineError> {
        Ok(Simulator { model: config.compile()? })
    }

    /// One run. Deterministic: the same configuration and options give the same result.
    pub fn run(&self, opts: &SimOptions) -> Result<RunResult, LineError> {
        self.check(opts)?;
        Ok(Engine::new(&self.model, opts).run(None))
    }

    /// One run that continues from `state` (a previous run's [`RunResult::end_state`], see [`crate::state`]):
    /// its units, machines and sources as they were, this run's time 0 being that run's horizon.
    /// `opts.serial_base` must exceed every serial number in `state`.
    pub fn run_from(&self, opts: &SimOptions, state: &LineState) -> Result<RunResult, LineError> {
        self.check(opts)?;
        let restore = Restore::compile(&self.model, state, opts)?;
        Ok(Engine::new(&self.model, opts).run(Some(restore)))
    }

    fn check(&self, opts: &SimOptions) -> Result<(), LineError> {
        if !(opts.horizon_s.is_finite() && opts.horizon_s > 0.0 && opts.warmup_s >= 0.0 && opts.warmup_s < opts.horizon_s) {
            return Err(LineError::invalid("options", "need 0 ≤ warmup < horizon, finite"));
        }
        if let Some(b) = opts.bucket_s
            && !(b > 0.0 && opts.horizon_s / b < 1e7)
        {
            return Err(LineError::invalid("options.bucket_s", "must be > 0 and give fewer than 10⁷ buckets"));
        }
        Ok(())
    }
}

/// Simulates `config` once.
pub fn simulate(config: &LineConfig, opts: &SimOptions) -> Result<RunResult, LineError> {
    Simulator::new(config)?.run(opts)
}

/// Where a restored unit goes, with indices resolved.
#[derive(Debug, Clone)]
enum RPlace {
    Waiting,
    InTransit(f64),
    /// server, remaining
    Setup(usize, f64),
    /// server, remaining, elapsed, conditions, alarm
    Busy(usize, f64, f64, Vec<f64>, bool),
    /// server, destination station, transport
    Blocked(usize, usize, f64),
}

#[derive(Debug, Clone)]
struct RUnit {
    serial: u64,
    product: u16,
    source: u16,
    age: f64,
    station: usize,
    place: RPlace,
    /// (slot, value)
    slots: Vec<(usize, f64)>,
}

#[derive(Debug, Clone)]
struct RMachine {
    server: usize,
    down: Option<f64>,
    last_product: Option<u16>,
    process: Vec<Option<(f64, f64)>>,
    alarm_for: Option<f64>,
}

/// A restored source: (index, campaign (product, left), next arrival, arrivals).
type RSource = (usize, Option<(u16, u32)>, Option<f64>, u64);

/// A [`LineState`] checked against a model, with names resolved to indices.
#[derive(Debug, Clone)]
struct Restore {
    units: Vec<RUnit>,
    machines: Vec<RMachine>,
    sources: Vec<RSource>,
}

impl Restore {
    fn compile(m: &Model, state: &LineState, opts: &SimOptions) -> Result<Restore, LineError> {
        let inv = |f: &str, msg: String| LineError::Invalid {
            field: format!("state.{f}"),
            message: msg,
        };
        let station = |id: &str| {
            m.stations
                .iter()
                .position(|s| s.id == id)
                .ok_or_else(|| LineError::UnknownStation(id.to_string()))
        };
        let product = |p: &str| {
            m.products
                .iter()
                .position(|x| x == p)
                .map(|i| i as u16)
                .ok_or_else(|| LineError::UnknownProduct(p.to_string()))
        };
        let mut first_server = Vec::with_capacity(m.stations.len());
        let mut n = 0;
        for s in &m.stations {
            first_server.push(n);
            n += s.machines.len();
        }
        let server = |st: usize, k: usize, f: &str| {
            if k < m.stations[st].machines.len() {
                Ok(first_server[st] + k)
            } else {
                Err(inv(f, format!("station '{}' has no machine {k}", m.stations[st].id)))
            }
        };
        let finite = |x: f64, f: &str| {
            if x.is_finite() && x >= 0.0 {
                Ok(x)
            } else {
                Err(inv(f, "times must be finite and ≥ 0".into()))
            }
        };
        let mut seen = std::collections::HashSet::new();
        let mut held = vec![false; n];
        let mut units = Vec::with_capacity(state.units.len());
        for (i, u) in state.units.iter().enumerate() {
            let f = |x: &str| format!("units.{i}.{x}");
            if u.serial >= opts.serial_base {
                return Err(inv(&f("serial"), format!("serial {} is not below serial_base {}", u.serial, opts.serial_base)));
            }
            if !seen.insert(u.serial) {
                return Err(inv(&f("serial"), format!("serial {} appears twice", u.serial)));
            }
            let st = station(&u.station)?;
            let source = m
                .sources
                .iter()
                .position(|s| s.id == u.source)
                .ok_or_else(|| inv(&f("source"), format!("unknown source '{}'", u.source)))?;
            let mut take = |k: usize| -> Result<usize, LineError> {
                let s = server(st, k, &f("place.machine"))?;
                if std::mem::replace(&mut held[s], true) {
                    return Err(inv(&f("place.machine"), format!("machine {k} of '{}' holds two units", u.station)));
                }
                Ok(s)
            };
            let place = match &u.place {
                Place::Waiting => RPlace::Waiting,
                Place::InTransit { remaining_s } => RPlace::InTransit(finite(*remaining_s, &f("place.remaining_s"))?),
                Place::Setup { machine, remaining_s } => RPlace::Setup(take(*machine)?, finite(*remaining_s, &f("place.remaining_s"))?),
                Place::Busy {
                    machine,
                    remaining_s,
                    elapsed_s,
                    conditions,
                    alarm,
                } => {
                    let nv = m.stations[st].vars.len();
                    if conditions.len() != nv {
                        return Err(inv(&f("place.conditions"), format!("station '{}' has {nv} process variables", u.station)));
                    }
                    RPlace::Busy(
                        take(*machine)?,
                        finite(*remaining_s, &f("place.remaining_s"))?,
                        finite(*elapsed_s, &f("place.elapsed_s"))?,
                        conditions.clone(),
                        *alarm,
                    )
                }
                Place::Blocked { machine, to, transport_s } => RPlace::Blocked(take(*machine)?, station(to)?, finite(*transport_s, &f("place.transport_s"))?),
            };
            let mut slots = Vec::new();
            for c in &u.carried {
                let si = station(&c.station)?;
                let Some(vi) = m.stations[si].vars.iter().position(|v| v.name == c.var) else {
                    return Err(inv(&f("carried"), format!("station '{}' has no variable '{}'", c.station, c.var)));
                };
                if let Some(slot) = m.stations[si].var_slot[vi] {
                    slots.push((slot, c.value));
                }
            }
            units.push(RUnit {
                serial: u.serial,
                product: product(&u.product)?,
                source: source as u16,
                age: finite(u.age_s, &f("age_s"))?,
                station: st,
                place,
                slots,
            });
        }
        let mut machines = Vec::with_capacity(state.machines.len());
        for (i, ms) in state.machines.iter().enumerate() {
            let f = |x: &str| format!("machines.{i}.{x}");
            let st = station(&ms.station)?;
            let nv = m.stations[st].vars.len();
            if !ms.process.is_empty() && ms.process.len() != nv {
                return Err(inv(&f("process"), format!("station '{}' has {nv} process variables", ms.station)));
            }
            machines.push(RMachine {
                server: server(st, ms.machine, &f("machine"))?,
                down: ms.down_remaining_s.map(|d| finite(d, &f("down_remaining_s"))).transpose()?,
                last_product: ms.last_product.as_deref().map(product).transpose()?,
                process: ms.process.clone(),
                alarm_for: ms.alarm_for_s.map(|d| finite(d, &f("alarm_for_s"))).transpose()?,
            });
        }
        let mut sources = Vec::new();
        for (i, ss) in state.sources.iter().enumerate() {
            let k = m
                .sources
                .iter()
                .position(|s| s.id == ss.source)
                .ok_or_else(|| inv(&format!("sources.{i}.source"), format!("unknown source '{}'", ss.source)))?;
            let campaign = match &ss.campaign {
                Some((p, left)) => Some((product(p)?, *left)),
                None => None,
            };
            let next = ss.next_arrival_s.map(|d| finite(d, &format!("sources.{i}.next_arrival_s"))).transpose()?;
            sources.push((k, campaign, next, ss.arrivals));
        }
        Ok(Restore { units, machines, sources })
    }
}

// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Ev {
    Arrival(u32),
    Release(u32, u32),
    Complete(u32, u32),
    Failure(u32, u32),
    Repaired(u32),
    MaintStart(u32),
    MaintEnd(u32),
    ShiftStart,
    ShiftEnd,
    Transport(u32, u32),
    Lot(u32, u32),
    Warmup,
}

struct Entry {
    t: f64,
    /// At equal times, completions and transports (0) come before interruptions and arrivals (1): a unit
    /// that ends exactly when a shift ends is finished in the shift.
    class: u8,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Entry) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Entry) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Entry) -> Ordering {
        o.t.total_cmp(&self.t).then(o.class.cmp(&self.class)).then(o.seq.cmp(&self.seq))
    }
}

const OFF: u8 = 0;
const MAINT: u8 = 1;
const DOWN: u8 = 2;
const SETUP: u8 = 3;
const BUSY: u8 = 4;
const BLOCKED: u8 = 5;
const STARVED: u8 = 6;
const NOMAT: u8 = 7;

fn waiting(s: u8) -> bool {
    s >= BLOCKED
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Work {
    Idle,
    Setup(u32),
    Busy(u32),
    /// unit, destination station, transport seconds
    Blocked(u32, u32, f64),
}

struct Srv {
    st: usize,
    m: usize,
    work: Work,
    end: f64,
    paused: Option<f64>,
    epoch: u32,
    failed: bool,
    maint: u32,
    fclock_since: Option<f64>,
    ttf_left: f64,
    fepoch: u32,
    ops_left: u64,
    last_product: Option<u16>,
    no_material: bool,
    state: u8,
    since: f64,
    visit_start: f64,
    ou: Vec<f64>,
    ou_t: Vec<f64>,
    cur_vars: Vec<f64>,
    cur_alarm: bool,
    alarm_since: Option<f64>,
    rng_fail: Rng,
    rng_var: Rng,
    load: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Waiter {
    Server(usize),
    Source(usize),
}

struct St {
    queue: VecDeque<u32>,
    in_transit: usize,
    waiters: VecDeque<Waiter>,
    servers: Vec<usize>,
    n_waiting: usize,
    active: bool,
    active_since: f64,
    periods: Vec<(f64, f64)>,
    n_at: usize,
    last_t: f64,
    q_area: f64,
    n_area: f64,
    time: StateTimes,
    produced: u64,
    good: u64,
    scrap: u64,
    rework: u64,
    failures: u64,
    changeovers: u64,
    planned_run: f64,
    busy_load: f64,
    rng_service: Rng,
    rng_route: Rng,
}

struct Unit {
    serial: u64,
    product: u16,
    source: u16,
    order: u32,
    entered: f64,
}

struct Src {
    rng_arr: Rng,
    rng_mix: Rng,
    batch_left: u32,
    batch_product: u16,
    arrivals: u64,
    pool: VecDeque<u32>,
    entered: u64,
    lost: u64,
    good: u64,
    scrap: u64,
    leads: Vec<f64>,
}

struct Ord_ {
    units_left: u32,
    good: u32,
    scrap: u32,
    completion: Option<f64>,
}

struct Engine<'a> {
    m: &'a Model,
    o: SimOptions,
    now: f64,
    seq: u64,
    heap: BinaryHeap<Entry>,
    srv: Vec<Srv>,
    st: Vec<St>,
    units: Vec<Unit>,
    slots: Vec<f64>,
    free_units: Vec<u32>,
    src: Vec<Src>,
    orders: Vec<Vec<Ord_>>,
    off: bool,
    collecting: bool,
    next_serial: u64,
    // system
    wip: usize,
    wip_last: f64,
    wip_area: f64,
    departures: u64,
    sojourn_sum: f64,
    reworks: u64,
    product_good: Vec<u64>,
    product_scrap: Vec<u64>,
    // material
    stock: Vec<u64>,
    lots: Vec<VecDeque<(u32, u64)>>,
    lot_base: Vec<u32>,
    rng_check: Vec<Rng>,
    trace: Option<TraceLog>,
    /// Serial → index in `trace.continued` of units restored from a state.
    restored: HashMap<u64, usize>,
    buckets: Option<Buckets>,
    events: u64,
}

impl<'a> Engine<'a> {
    fn new(m: &'a Model, o: &SimOptions) -> Engine<'a> {
        let seed = o.seed;
        let mut srv = Vec::new();
        let mut st = Vec::new();
        for (i, s) in m.stations.iter().enumerate() {
            let mut ids = Vec::new();
            for k in 0..s.machines.len() {
                ids.push(srv.len());
                let sub = (k as u64) << 8;
                srv.push(Srv {
                    st: i,
                    m: k,
                    work: Work::Idle,
                    end: 0.0,
                    paused: None,
                    epoch: 0,
                    failed: false,
                    maint: 0,
                    fclock_since: None,
                    ttf_left: 0.0,
                    fepoch: 0,
                    ops_left: u64::MAX,
                    last_product: None,
                    no_material: false,
                    state: STARVED,
                    since: 0.0,
                    visit_start: 0.0,
                    ou: vec![0.0; s.vars.len()],
                    ou_t: vec![f64::NAN; s.vars.len()],
                    cur_vars: vec![0.0; s.vars.len()],
                    cur_alarm: false,
                    alarm_since: None,
                    rng_fail: Rng::stream(seed, &s.id, purpose::FAILURE | sub),
                    rng_var: Rng::stream(seed, &s.id, purpose::PROCESS | sub),
                    load: s.speed * s.machines[k].health.speed_factor,
                });
            }
            st.push(St {
                queue: VecDeque::new(),
                in_transit: 0,
                waiters: VecDeque::new(),
                servers: ids,
                n_waiting: s.machines.len(),
                active: false,
                active_since: 0.0,
                periods: Vec::new(),
                n_at: 0,
                last_t: 0.0,
                q_area: 0.0,
                n_area: 0.0,
                time: StateTimes::default(),
                produced: 0,
                good: 0,
                scrap: 0,
                rework: 0,
                failures: 0,
                changeovers: 0,
                planned_run: 0.0,
                busy_load: 0.0,
                rng_service: Rng::stream(seed, &s.id, purpose::SERVICE),
                rng_route: Rng::stream(seed, &s.id, purpose::ROUTE),
            });
        }
        let src = m
            .sources
            .iter()
            .map(|s| Src {
                rng_arr: Rng::stream(seed, &s.id, purpose::ARRIVAL),
                rng_mix: Rng::stream(seed, &s.id, purpose::MIX),
                batch_left: 0,
                batch_product: 0,
                arrivals: 0,
                pool: VecDeque::new(),
                entered: 0,
                lost: 0,
                good: 0,
                scrap: 0,
                leads: Vec::new(),
            })
            .collect();
        let orders = m
            .sources
            .iter()
            .map(|s| match &s.arrivals {
                CArrivals::Orders(os) => os
                    .iter()
                    .map(|o| Ord_ {
                        units_left: o.2,
                        good: 0,
                        scrap: 0,
                        completion: None,
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        let mut lot_base = Vec::new();
        let mut nl = 0u32;
        for c in &m.components {
            lot_base.push(nl);
            nl += c.1.len() as u32;
        }
        let trace = o.trace.then(|| TraceLog {
            start_ns: o.start_ns,
            products: m.products.clone(),
            stations: m.stations.iter().map(|s| s.id.clone()).collect(),
            assets: m.assets.clone(),
            lots: m.components.iter().flat_map(|c| c.1.iter().map(|l| l.0.clone())).collect(),
            checks: m.checks.iter().map(|c| c.name.clone()).collect(),
            var_names: m.stations.iter().map(|s| s.vars.iter().map(|v| v.name.clone()).collect()).collect(),
            ..TraceLog::default()
        });
        let buckets = o.bucket_s.map(|w| {
            let nb = (o.horizon_s / w).ceil() as usize;
            Buckets {
                width_s: w,
                time: vec![vec![StateTimes::default(); nb]; m.stations.len()],
                busy_load: vec![vec![0.0; nb]; m.stations.len()],
                good: vec![0; nb],
            }
        });
        Engine {
            m,
            o: *o,
            now: 0.0,
            seq: 0,
            heap: BinaryHeap::new(),
            srv,
            st,
            units: Vec::new(),
            slots: Vec::new(),
            free_units: Vec::new(),
            src,
            orders,
            off: m.calendar.is_some(),
            collecting: o.warmup_s <= 0.0,
            next_serial: o.serial_base,
            wip: 0,
            wip_last: 0.0,
            wip_area: 0.0,
            departures: 0,
            sojourn_sum: 0.0,
            reworks: 0,
            product_good: vec![0; m.products.len()],
            product_scrap: vec![0; m.products.len()],
            stock: vec![0; m.components.len()],
            lots: vec![VecDeque::new(); m.components.len()],
            lot_base,
            rng_check: m.checks.iter().map(|c| Rng::stream(seed, &c.name, purpose::QUALITY)).collect(),
            trace,
            restored: HashMap::new(),
            buckets,
            events: 0,
        }
    }

    fn push(&mut self, t: f64, ev: Ev) {
        self.seq += 1;
        let class = u8::from(!matches!(ev, Ev::Complete(..) | Ev::Transport(..)));
        self.heap.push(Entry { t, class, seq: self.seq, ev });
    }

    fn run(mut self, restore: Option<Restore>) -> RunResult {
        let m = self.m;
        let h = self.o.horizon_s;
        // initial events
        if self.o.warmup_s > 0.0 {
            self.push(self.o.warmup_s, Ev::Warmup);
        }
        if let Some(c) = &m.calendar {
            for w in c.intervals(h) {
                self.push(w.start_s, Ev::ShiftStart);
                if w.end_s < h {
                    self.push(w.end_s, Ev::ShiftEnd);
                }
            }
        }
        for (i, s) in m.stations.iter().enumerate() {
            for w in &s.maintenance {
                if w.start_s < h && w.end_s > w.start_s {
                    self.push(w.start_s.max(0.0), Ev::MaintStart(i as u32));
                    self.push(w.end_s, Ev::MaintEnd(i as u32));
                }
            }
        }
        for (k, s) in m.sources.iter().enumerate() {
            match &s.arrivals {
                CArrivals::Saturated => {}
                CArrivals::Renewal(d, limit) => {
                    let restored = restore.as_ref().and_then(|r| r.sources.iter().find(|x| x.0 == k));
                    let done = restored.map_or(0, |x| x.3);
                    if limit.is_none_or(|l| l > done) {
                        let t = match restored.and_then(|x| x.2) {
                            Some(t) => t,
                            None => d.sample(&mut self.src[k].rng_arr),
                        };
                        self.push(t, Ev::Arrival(k as u32));
                    }
                }
                CArrivals::Orders(os) => {
                    for (j, o) in os.iter().enumerate() {
                        self.push(o.3, Ev::Release(k as u32, j as u32));
                    }
                }
            }
        }
        for (c, comp) in m.components.iter().enumerate() {
            for (l, lot) in comp.1.iter().enumerate() {
                self.push(lot.2, Ev::Lot(c as u32, l as u32));
            }
        }
        // the current state: machines down or set up, units waiting
        for s in 0..self.srv.len() {
            let (st, k) = (self.srv[s].st, self.srv[s].m);
            if let Some(d) = m.stations[st].machines[k].down_for_s {
                self.srv[s].failed = true;
                self.push(d, Ev::Repaired(s as u32));
            }
            self.srv[s].last_product = m.stations[st].set_up_for[k].map(|p| p as u16);
        }
        for i in 0..m.stations.len() {
            for &(p, count) in &m.stations[i].initial {
                for _ in 0..count {
                    let u = self.new_unit(0, p as u16, u32::MAX);
                    self.mark_entered(u);
                    self.st[i].queue.push_back(u);
                    self.st[i].n_at += 1;
                }
            }
        }
        let restoring = restore.is_some();
        if let Some(r) = restore {
            self.restore(r);
        }
        // machines: failure clocks, initial starts
        for s in 0..self.srv.len() {
            self.new_ttf(s);
            self.start_fclock(s);
            self.update(s);
        }
        for i in 0..self.st.len() {
            self.try_start_station(i);
        }
        if restoring {
            // machines that were blocked: room may be free now
            for i in 0..self.st.len() {
                self.on_space(i);
            }
        }
        while let Some(e) = self.heap.peek() {
            if e.t > h {
                break;
            }
            let Some(e) = self.heap.pop() else { break };
            self.now = e.t;
            self.events += 1;
            self.handle(e.ev);
        }
        self.now = h;
        self.finish()
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrival(k) => self.arrival(k as usize),
            Ev::Release(k, j) => self.release(k as usize, j as usize),
            Ev::Complete(s, g) => {
                let s = s as usize;
                if self.srv[s].epoch == g && self.srv[s].paused.is_none() {
                    match self.srv[s].work {
                        Work::Setup(u) => {
                            self.begin_service(s, u);
                            self.update(s);
                        }
                        Work::Busy(u) => self.finish_service(s, u),
                        _ => {}
                    }
                }
            }
            Ev::Failure(s, g) => {
                let s = s as usize;
                if self.srv[s].fepoch == g && self.srv[s].fclock_since.is_some() {
                    self.srv[s].fclock_since = None;
                    self.srv[s].ttf_left = 0.0;
                    self.fail(s);
                }
            }
            Ev::Repaired(s) => {
                let s = s as usize;
                self.srv[s].failed = false;
                self.new_ttf(s);
                self.start_fclock(s);
                self.resume(s);
                self.update(s);
            }
            Ev::MaintStart(i) => {
                for k in 0..self.st[i as usize].servers.len() {
                    let s = self.st[i as usize].servers[k];
                    self.srv[s].maint += 1;
                    if self.srv[s].maint == 1 {
                        self.interrupt(s);
                        self.stop_fclock(s);
                        self.update(s);
                    }
                }
            }
            Ev::MaintEnd(i) => {
                for k in 0..self.st[i as usize].servers.len() {
                    let s = self.st[i as usize].servers[k];
                    self.srv[s].maint = self.srv[s].maint.saturating_sub(1);
                    if self.srv[s].maint == 0 {
                        self.start_fclock(s);
                        self.resume(s);
                        self.update(s);
                    }
                }
            }
            Ev::ShiftEnd => {
                self.off = true;
                for s in 0..self.srv.len() {
                    self.interrupt(s);
                    self.stop_fclock(s);
                    self.update(s);
                }
            }
            Ev::ShiftStart => {
                self.off = false;
                for s in 0..self.srv.len() {
                    self.start_fclock(s);
                    self.resume(s);
                    self.update(s);
                }
                for i in 0..self.st.len() {
                    self.on_space(i);
                }
            }
            Ev::Transport(u, j) => {
                let j = j as usize;
                self.st[j].in_transit -= 1;
                self.enter(u, j);
            }
            Ev::Lot(c, l) => {
                let (c, l) = (c as usize, l as usize);
                let q = self.m.components[c].1[l].1;
                self.stock[c] += q;
                self.lots[c].push_back((self.lot_base[c] + l as u32, q));
                for k in 0..self.m.consumers[c].len() {
                    let i = self.m.consumers[c][k];
                    self.try_start_station(i);
                }
            }
            Ev::Warmup => self.begin_collecting(),
        }
    }

    // ----- accounting ------------------------------------------------------------------------------

    fn begin_collecting(&mut self) {
        for s in 0..self.srv.len() {
            self.accumulate(s);
        }
        for i in 0..self.st.len() {
            self.touch(i);
            let st = &mut self.st[i];
            st.q_area = 0.0;
            st.n_area = 0.0;
            st.time = StateTimes::default();
            st.produced = 0;
            st.good = 0;
            st.scrap = 0;
            st.rework = 0;
            st.failures = 0;
            st.changeovers = 0;
            st.planned_run = 0.0;
            st.busy_load = 0.0;
        }
        self.touch_wip();
        self.wip_area = 0.0;
        self.departures = 0;
        self.sojourn_sum = 0.0;
        self.reworks = 0;
        for x in &mut self.product_good {
            *x = 0;
        }
        for x in &mut self.product_scrap {
            *x = 0;
        }
        for s in &mut self.src {
            s.entered = 0;
            s.lost = 0;
            s.good = 0;
            s.scrap = 0;
            s.leads.clear();
        }
        self.collecting = true;
    }

    fn accumulate(&mut self, s: usize) {
        let now = self.now;
        let srv = &mut self.srv[s];
        let dt = now - srv.since;
        if dt > 0.0 && self.collecting {
            let (state, st) = (srv.state, srv.st);
            self.st[st].time.add(state, dt);
            if state == BUSY {
                self.st[st].busy_load += dt * srv.load;
            }
            if let Some(b) = &mut self.buckets {
                let w = b.width_s;
                let mut a = srv.since.max(self.o.warmup_s);
                let nb = b.good.len();
                while a < now {
                    let k = ((a / w) as usize).min(nb - 1);
                    let e = (((k + 1) as f64) * w).min(now);
                    let e = if e <= a { now } else { e };
                    b.time[st][k].add(state, e - a);
                    if state == BUSY {
                        b.busy_load[st][k] += (e - a) * srv.load;
                    }
                    a = e;
                }
            }
        }
        srv.since = now;
    }

    fn derive(&self, s: usize) -> u8 {
        let srv = &self.srv[s];
        if self.off {
            OFF
        } else if srv.maint > 0 {
            MAINT
        } else if srv.failed {
            DOWN
        } else {
            match srv.work {
                Work::Setup(_) => SETUP,
                Work::Busy(_) => BUSY,
                Work::Blocked(..) => BLOCKED,
                Work::Idle => {
                    if srv.no_material {
                        NOMAT
                    } else {
                        STARVED
                    }
                }
            }
        }
    }

    fn update(&mut self, s: usize) {
        let new = self.derive(s);
        let old = self.srv[s].state;
        if new == old {
            return;
        }
        self.accumulate(s);
        self.srv[s].state = new;
        let i = self.srv[s].st;
        if waiting(old) {
            self.st[i].n_waiting -= 1;
        }
        if waiting(new) {
            self.st[i].n_waiting += 1;
        }
        self.update_active(i);
    }

    fn update_active(&mut self, i: usize) {
        let now = self.now;
        let active = !self.off && self.st[i].n_waiting == 0;
        let st = &mut self.st[i];
        if active == st.active {
            return;
        }
        if active {
            st.active_since = now;
        } else {
            match st.periods.last_mut() {
                Some(l) if l.1 >= st.active_since => l.1 = now,
                _ => st.periods.push((st.active_since, now)),
            }
        }
        st.active = active;
    }

    fn touch(&mut self, i: usize) {
        let now = self.now;
        let st = &mut self.st[i];
        let dt = now - st.last_t;
        if dt > 0.0 {
            st.q_area += st.queue.len() as f64 * dt;
            st.n_area += st.n_at as f64 * dt;
        }
        st.last_t = now;
    }

    fn touch_wip(&mut self) {
        let dt = self.now - self.wip_last;
        if dt > 0.0 {
            self.wip_area += self.wip as f64 * dt;
        }
        self.wip_last = self.now;
    }

    // ----- availability and failures ---------------------------------------------------------------

    fn available(&self, s: usize) -> bool {
        let srv = &self.srv[s];
        !self.off && srv.maint == 0 && !srv.failed
    }

    fn new_ttf(&mut self, s: usize) {
        let st = self.srv[s].st;
        let Some(f) = self.m.stations[st].failures else { return };
        let h = self.m.stations[st].machines[self.srv[s].m].health;
        let srv = &mut self.srv[s];
        match f.clock {
            crate::config::FailureClock::Calendar => {
                let rate = h.hazard_factor / f.mean_between + h.extra_hazard_per_s;
                srv.ttf_left = if rate > 0.0 { srv.rng_fail.exponential(1.0 / rate) } else { f64::INFINITY };
            }
            crate::config::FailureClock::Operations => {
                let ideal = self.m.stations[st].ideal[0];
                let rate = h.hazard_factor / f.mean_between + h.extra_hazard_per_s * ideal;
                srv.ops_left = if rate > 0.0 {
                    srv.rng_fail.exponential(1.0 / rate).ceil().max(1.0).min(u64::MAX as f64 / 2.0) as u64
                } else {
                    u64::MAX
                };
            }
        }
    }

    fn start_fclock(&mut self, s: usize) {
        let st = self.srv[s].st;
        let calendar = matches!(self.m.stations[st].failures, Some(f) if f.clock == crate::config::FailureClock::Calendar);
        if !calendar || !self.available(s) || self.srv[s].fclock_since.is_some() || !self.srv[s].ttf_left.is_finite() {
            return;
        }
        let now = self.now;
        let srv = &mut self.srv[s];
        srv.fclock_since = Some(now);
        srv.fepoch = srv.fepoch.wrapping_add(1);
        let (t, g) = (now + srv.ttf_left, srv.fepoch);
        self.push(t, Ev::Failure(s as u32, g));
    }

    fn stop_fclock(&mut self, s: usize) {
        let now = self.now;
        let srv = &mut self.srv[s];
        if let Some(since) = srv.fclock_since.take() {
            srv.ttf_left = (srv.ttf_left - (now - since)).max(0.0);
            srv.fepoch = srv.fepoch.wrapping_add(1);
        }
    }

    fn fail(&mut self, s: usize) {
        let st = self.srv[s].st;
        let Some(f) = self.m.stations[st].failures else { return };
        self.interrupt(s);
        self.stop_fclock(s);
        self.srv[s].failed = true;
        if self.collecting {
            self.st[st].failures += 1;
        }
        let rep = f.repair.sample(&mut self.srv[s].rng_fail);
        self.push(self.now + rep, Ev::Repaired(s as u32));
        self.update(s);
    }

    fn interrupt(&mut self, s: usize) {
        let now = self.now;
        let srv = &mut self.srv[s];
        if matches!(srv.work, Work::Setup(_) | Work::Busy(_)) && srv.paused.is_none() {
            srv.paused = Some((srv.end - now).max(0.0));
            srv.epoch = srv.epoch.wrapping_add(1);
        }
    }

    fn resume(&mut self, s: usize) {
        if !self.available(s) {
            return;
        }
        let st = self.srv[s].st;
        match self.srv[s].work {
            Work::Setup(_) | Work::Busy(_) => {
                if let Some(rem) = self.srv[s].paused.take() {
                    let srv = &mut self.srv[s];
                    srv.end = self.now + rem;
                    srv.epoch = srv.epoch.wrapping_add(1);
                    let (t, g) = (srv.end, srv.epoch);
                    self.push(t, Ev::Complete(s as u32, g));
                }
            }
            Work::Blocked(_, j, _) => self.on_space(j as usize),
            Work::Idle => {
                self.try_start(s);
                self.on_space(st);
            }
        }
    }

    // ----- flow ------------------------------------------------------------------------------------

    fn idle_available(&self, j: usize) -> usize {
        self.st[j]
            .servers
            .iter()
            .filter(|&&s| self.srv[s].work == Work::Idle && self.available(s))
            .count()
    }

    fn has_space(&self, j: usize) -> bool {
        let st = &self.st[j];
        let cap = self.m.stations[j].buffer;
        let used = st.queue.len() + st.in_transit;
        cap == usize::MAX || used < cap + self.idle_available(j)
    }

    fn new_unit(&mut self, source: usize, product: u16, order: u32) -> u32 {
        let serial = self.next_serial;
        self.next_serial += 1;
        let id = self.alloc_unit(serial, source, product, order);
        if let Some(t) = &mut self.trace {
            t.units.push(crate::trace::UnitRecord {
                serial,
                product,
                source: source as u16,
                entered_s: f64::NAN,
                exit_s: f64::NAN,
                scrapped: false,
            });
        }
        id
    }

    fn alloc_unit(&mut self, serial: u64, source: usize, product: u16, order: u32) -> u32 {
        let u = Unit {
            serial,
            product,
            source: source as u16,
            order,
            entered: f64::NAN,
        };
        let n = self.m.n_slots;
        let id = match self.free_units.pop() {
            Some(id) => {
                self.units[id as usize] = u;
                id
            }
            None => {
                self.units.push(u);
                self.slots.extend(std::iter::repeat_n(f64::NAN, n));
                (self.units.len() - 1) as u32
            }
        };
        if n > 0 {
            let b = id as usize * n;
            self.slots[b..b + n].fill(f64::NAN);
        }
        id
    }

    /// The genealogy record of unit `serial` (made in this run, or restored).
    fn trace_unit(&mut self, serial: u64) -> Option<&mut crate::trace::UnitRecord> {
        let base = self.o.serial_base;
        let t = self.trace.as_mut()?;
        if serial >= base {
            t.units.get_mut((serial - base) as usize)
        } else {
            let k = *self.restored.get(&serial)?;
            t.continued.get_mut(k)
        }
    }

    fn mark_entered(&mut self, u: u32) {
        let now = self.now;
        let unit = &mut self.units[u as usize];
        unit.entered = now;
        let (serial, source) = (unit.serial, unit.source as usize);
        self.touch_wip();
        self.wip += 1;
        if self.collecting {
            self.src[source].entered += 1;
        }
        if let Some(r) = self.trace_unit(serial) {
            r.entered_s = now;
        }
    }

    fn draw_product(&mut self, k: usize) -> u16 {
        let src = &mut self.src[k];
        if src.batch_left == 0 {
            let u = src.rng_mix.uniform();
            let mix = &self.m.sources[k].mix;
            src.batch_product = mix.iter().position(|&c| u < c).unwrap_or(mix.len() - 1) as u16;
            src.batch_left = self.m.sources[k].batch;
        }
        src.batch_left -= 1;
        src.batch_product
    }

    fn arrival(&mut self, k: usize) {
        let CArrivals::Renewal(d, limit) = self.m.sources[k].arrivals else { return };
        self.src[k].arrivals += 1;
        if limit.is_none_or(|l| self.src[k].arrivals < l) {
            let t = self.now + d.sample(&mut self.src[k].rng_arr);
            self.push(t, Ev::Arrival(k as u32));
        }
        let p = self.draw_product(k);
        let j = self.m.sources[k].to;
        if self.has_space(j) {
            let u = self.new_unit(k, p, u32::MAX);
            self.mark_entered(u);
            self.enter(u, j);
        } else if self.collecting {
            self.src[k].lost += 1;
        }
    }

    fn release(&mut self, k: usize, j: usize) {
        let CArrivals::Orders(os) = &self.m.sources[k].arrivals else { return };
        let (p, q) = (os[j].1 as u16, os[j].2);
        for _ in 0..q {
            let u = self.new_unit(k, p, j as u32);
            self.src[k].pool.push_back(u);
        }
        self.feed_from_pool(k);
    }

    /// Moves units from source `k`'s release queue into its station while there is room.
    fn feed_from_pool(&mut self, k: usize) {
        let j = self.m.sources[k].to;
        while !self.src[k].pool.is_empty() && self.has_space(j) {
            let Some(u) = self.src[k].pool.pop_front() else { break };
            self.mark_entered(u);
            self.enter(u, j);
        }
        if !self.src[k].pool.is_empty() && !self.st[j].waiters.contains(&Waiter::Source(k)) {
            self.st[j].waiters.push_back(Waiter::Source(k));
        }
    }

    fn enter(&mut self, u: u32, j: usize) {
        self.touch(j);
        self.st[j].queue.push_back(u);
        self.st[j].n_at += 1;
        self.try_start_station(j);
    }

    fn try_start_station(&mut self, j: usize) {
        for k in 0..self.st[j].servers.len() {
            let s = self.st[j].servers[k];
            self.try_start(s);
        }
    }

    fn has_material(&self, j: usize) -> bool {
        self.m.stations[j].consumes.iter().all(|&(c, q)| self.stock[c] >= u64::from(q))
    }

    fn consume(&mut self, j: usize, u: u32) {
        let serial = self.units[u as usize].serial;
        for k in 0..self.m.stations[j].consumes.len() {
            let (c, q) = self.m.stations[j].consumes[k];
            let mut need = u64::from(q);
            self.stock[c] -= need;
            while need > 0 {
                let Some(front) = self.lots[c].front_mut() else { break };
                let take = need.min(front.1);
                front.1 -= take;
                need -= take;
                let lot = front.0;
                if front.1 == 0 {
                    self.lots[c].pop_front();
                }
                if let Some(t) = &mut self.trace {
                    t.lots_used.push((serial, lot));
                }
            }
        }
    }

    fn try_start(&mut self, s: usize) {
        if !self.available(s) || self.srv[s].work != Work::Idle {
            return;
        }
        let j = self.srv[s].st;
        let from_queue = !self.st[j].queue.is_empty();
        let sat = self.m.stations[j].saturated;
        if !from_queue && sat.is_none() {
            self.srv[s].no_material = false;
            self.update(s);
            return;
        }
        if !self.has_material(j) {
            self.srv[s].no_material = true;
            self.update(s);
            return;
        }
        self.srv[s].no_material = false;
        let u = if from_queue {
            self.touch(j);
            let Some(u) = self.st[j].queue.pop_front() else { return };
            u
        } else {
            let k = sat.unwrap_or(0);
            let p = self.draw_product(k);
            let u = self.new_unit(k, p, u32::MAX);
            self.mark_entered(u);
            self.touch(j);
            self.st[j].n_at += 1;
            u
        };
        self.consume(j, u);
        let p = self.units[u as usize].product;
        let setup = match (&self.m.stations[j].setup, self.srv[s].last_product) {
            (Some(mx), Some(lp)) => mx[lp as usize][p as usize],
            _ => 0.0,
        };
        self.srv[s].last_product = Some(p);
        if setup > 0.0 {
            if self.collecting {
                self.st[j].changeovers += 1;
            }
            let srv = &mut self.srv[s];
            srv.work = Work::Setup(u);
            srv.end = self.now + setup;
            srv.epoch = srv.epoch.wrapping_add(1);
            let (t, g) = (srv.end, srv.epoch);
            self.push(t, Ev::Complete(s as u32, g));
        } else {
            self.begin_service(s, u);
        }
        self.update(s);
        if from_queue {
            self.on_space(j);
        }
    }

    fn begin_service(&mut self, s: usize, u: u32) {
        let now = self.now;
        let j = self.srv[s].st;
        let cs = &self.m.stations[j];
        let mi = self.srv[s].m;
        let health = cs.machines[mi].health;
        // process variables
        let mut alarm = health.alarm;
        let ns = self.m.n_slots;
        for (vi, v) in cs.vars.iter().enumerate() {
            let srv = &mut self.srv[s];
            let z = srv.rng_var.normal();
            let x = if v.tau_s > 0.0 {
                let last = srv.ou_t[vi];
                if last.is_nan() {
                    v.sd * z
                } else {
                    let a = (-(now - last) / v.tau_s).exp();
                    srv.ou[vi] * a + v.sd * (1.0 - a * a).max(0.0).sqrt() * z
                }
            } else {
                v.sd * z
            };
            srv.ou[vi] = x;
            srv.ou_t[vi] = now;
            let val = v.mean + v.offset(now, mi) + x;
            srv.cur_vars[vi] = val;
            if v.alarm_above.is_some_and(|a| val > a) || v.alarm_below.is_some_and(|b| val < b) {
                alarm = true;
            }
            if let Some(slot) = cs.var_slot[vi] {
                self.slots[u as usize * ns + slot] = val;
            }
        }
        if self.trace.is_some() {
            let asset = cs.asset_idx[mi] as u32;
            let srv = &mut self.srv[s];
            match (alarm, srv.alarm_since) {
                (true, None) => srv.alarm_since = Some(now),
                (false, Some(a)) => {
                    srv.alarm_since = None;
                    if let Some(t) = &mut self.trace {
                        t.alarms.push(AlarmRecord { asset, start_s: a, end_s: now });
                    }
                }
                _ => {}
            }
        }
        let srv = &mut self.srv[s];
        srv.cur_alarm = alarm;
        let p = self.units[u as usize].product as usize;
        let d = cs.cycle[p].sample(&mut self.st[j].rng_service) / (cs.speed * health.speed_factor);
        srv.work = Work::Busy(u);
        srv.visit_start = now;
        srv.end = now + d;
        srv.epoch = srv.epoch.wrapping_add(1);
        let (t, g) = (srv.end, srv.epoch);
        self.push(t, Ev::Complete(s as u32, g));
    }

    fn finish_service(&mut self, s: usize, u: u32) {
        let now = self.now;
        let j = self.srv[s].st;
        let m = self.m;
        let cs = &m.stations[j];
        let mi = self.srv[s].m;
        let health = cs.machines[mi].health;
        let p = self.units[u as usize].product as usize;
        if self.collecting {
            self.st[j].produced += 1;
            self.st[j].planned_run += cs.ideal[p];
        }
        let serial = self.units[u as usize].serial;
        if let Some(t) = &mut self.trace {
            let c0 = t.conditions.len() as u32;
            t.conditions.extend(self.srv[s].cur_vars.iter().map(|&x| x as f32));
            t.visits.push(VisitRecord {
                serial,
                station: j as u16,
                asset: cs.asset_idx[mi] as u32,
                start_s: self.srv[s].visit_start,
                end_s: now,
                health: health.index as f32,
                alarm: self.srv[s].cur_alarm,
                cond_start: c0,
                cond_len: cs.vars.len() as u16,
            });
        }
        // disposition: quality checks first, then the station's own scrap / rework draw
        let mut disp: Option<Disposition> = None;
        let ns = m.n_slots;
        for &c in &cs.checks {
            let ck = &m.checks[c];
            let mut v = ck.nominal + ck.noise_sd * self.rng_check[c].normal();
            for &(slot, coef, mean) in &ck.effects {
                let x = self.slots[u as usize * ns + slot];
                if x.is_finite() {
                    v += coef * (x - mean);
                }
            }
            let pass = v >= ck.lower && v <= ck.upper;
            if let Some(t) = &mut self.trace {
                t.quality.push(crate::trace::QualityRecord {
                    serial,
                    check: c as u16,
                    value: v,
                    pass,
                    t_s: now,
                });
            }
            if !pass && disp.is_none() {
                disp = Some(ck.on_fail);
            }
        }
        let r = self.st[j].rng_route.uniform();
        let scrap_p = (cs.scrap_p * health.scrap_factor).min(1.0);
        if disp.is_none() {
            if r < scrap_p {
                disp = Some(Disposition::Scrap);
            } else if r < scrap_p + cs.rework_p {
                disp = Some(Disposition::Rework);
            }
        }
        let route_u = self.st[j].rng_route.uniform();
        if self.srv[s].ops_left != u64::MAX {
            self.srv[s].ops_left = self.srv[s].ops_left.saturating_sub(1);
        }
        match disp {
            Some(Disposition::Scrap) => {
                if self.collecting {
                    self.st[j].scrap += 1;
                }
                self.free_server(s);
                self.depart(u, false);
            }
            Some(Disposition::Rework) => {
                if self.collecting {
                    self.st[j].rework += 1;
                    self.reworks += 1;
                }
                if cs.rework_to == j {
                    // reworked in place: first in line at this station, whatever the buffer holds (no deadlock)
                    self.free_server(s);
                    self.touch(j);
                    self.st[j].queue.push_front(u);
                    self.st[j].n_at += 1;
                } else {
                    self.forward(s, u, cs.rework_to, 0.0);
                }
            }
            None => {
                if self.collecting {
                    self.st[j].good += 1;
                }
                let &(target, _, tr) = cs.routes.iter().find(|r| route_u < r.1).unwrap_or(&cs.routes[cs.routes.len() - 1]);
                match target {
                    Target::Out => {
                        self.free_server(s);
                        self.depart(u, true);
                    }
                    Target::Station(k) => self.forward(s, u, k, tr),
                }
            }
        }
        if self.srv[s].ops_left == 0 {
            self.fail(s);
        }
        if matches!(self.srv[s].work, Work::Idle) {
            self.try_start(s);
        }
        self.update(s);
        self.on_space(j);
    }

    /// Server `s` hands unit `u` to station `k`, or blocks.
    fn forward(&mut self, s: usize, u: u32, k: usize, transport: f64) {
        if self.has_space(k) {
            self.free_server(s);
            self.send(u, k, transport);
        } else {
            self.srv[s].work = Work::Blocked(u, k as u32, transport);
            self.st[k].waiters.push_back(Waiter::Server(s));
            self.update(s);
        }
    }

    fn free_server(&mut self, s: usize) {
        let j = self.srv[s].st;
        self.touch(j);
        self.st[j].n_at -= 1;
        self.srv[s].work = Work::Idle;
    }

    fn send(&mut self, u: u32, k: usize, transport: f64) {
        if transport > 0.0 {
            self.st[k].in_transit += 1;
            self.push(self.now + transport, Ev::Transport(u, k as u32));
        } else {
            self.enter(u, k);
        }
    }

    /// Station `j` may have room: release blocked upstream machines and waiting release queues, in order.
    fn on_space(&mut self, j: usize) {
        loop {
            if self.st[j].waiters.is_empty() || !self.has_space(j) {
                return;
            }
            let pos = self.st[j].waiters.iter().position(|w| match *w {
                Waiter::Server(s) => self.available(s),
                Waiter::Source(k) => !self.src[k].pool.is_empty(),
            });
            let Some(pos) = pos else { return };
            match self.st[j].waiters[pos] {
                Waiter::Server(s) => {
                    self.st[j].waiters.remove(pos);
                    let Work::Blocked(u, _, tr) = self.srv[s].work else { continue };
                    self.free_server(s);
                    self.send(u, j, tr);
                    let up = self.srv[s].st;
                    self.try_start(s);
                    self.update(s);
                    self.on_space(up);
                }
                Waiter::Source(k) => {
                    let Some(u) = self.src[k].pool.pop_front() else { continue };
                    if self.src[k].pool.is_empty() {
                        self.st[j].waiters.remove(pos);
                    }
                    self.mark_entered(u);
                    self.enter(u, j);
                }
            }
        }
    }

    fn depart(&mut self, u: u32, good: bool) {
        let now = self.now;
        self.touch_wip();
        self.wip -= 1;
        let unit = &self.units[u as usize];
        let (serial, source, product, order, entered) = (unit.serial, unit.source as usize, unit.product as usize, unit.order, unit.entered);
        if self.collecting {
            self.departures += 1;
            self.sojourn_sum += now - entered;
            let src = &mut self.src[source];
            if good {
                src.good += 1;
                src.leads.push(now - entered);
                self.product_good[product] += 1;
            } else {
                src.scrap += 1;
                self.product_scrap[product] += 1;
            }
            if good && let Some(b) = &mut self.buckets {
                let k = ((now / b.width_s) as usize).min(b.good.len() - 1);
                b.good[k] += 1;
            }
        }
        if order != u32::MAX {
            let o = &mut self.orders[source][order as usize];
            o.units_left -= 1;
            if good {
                o.good += 1;
            } else {
                o.scrap += 1;
            }
            if o.units_left == 0 {
                o.completion = Some(now);
            }
        }
        if let Some(r) = self.trace_unit(serial) {
            r.exit_s = now;
            r.scrapped = !good;
        }
        self.free_units.push(u);
    }

    // ----- continuing from a state ------------------------------------------------------------------

    /// Puts a continued run's units, machines and sources in place (at time 0).
    fn restore(&mut self, r: Restore) {
        let ns = self.m.n_slots;
        for &(k, campaign, _, arrivals) in &r.sources {
            if let Some((p, left)) = campaign {
                self.src[k].batch_product = p;
                self.src[k].batch_left = left;
            }
            self.src[k].arrivals = arrivals;
        }
        for rm in &r.machines {
            let s = rm.server;
            if let Some(d) = rm.down
                && !self.srv[s].failed
            {
                self.srv[s].failed = true;
                self.push(d, Ev::Repaired(s as u32));
            }
            if rm.last_product.is_some() {
                self.srv[s].last_product = rm.last_product;
            }
            for (vi, p) in rm.process.iter().enumerate() {
                if let Some((x, age)) = *p {
                    self.srv[s].ou[vi] = x;
                    self.srv[s].ou_t[vi] = -age;
                }
            }
            if let Some(a) = rm.alarm_for {
                self.srv[s].alarm_since = Some(-a);
            }
        }
        for ru in r.units {
            let u = self.alloc_unit(ru.serial, ru.source as usize, ru.product, u32::MAX);
            self.units[u as usize].entered = -ru.age;
            for &(slot, v) in &ru.slots {
                self.slots[u as usize * ns + slot] = v;
            }
            self.touch_wip();
            self.wip += 1;
            if let Some(t) = &mut self.trace {
                self.restored.insert(ru.serial, t.continued.len());
                t.continued.push(crate::trace::UnitRecord {
                    serial: ru.serial,
                    product: ru.product,
                    source: ru.source,
                    entered_s: -ru.age,
                    exit_s: f64::NAN,
                    scrapped: false,
                });
            }
            let j = ru.station;
            match ru.place {
                RPlace::Waiting => {
                    self.st[j].queue.push_back(u);
                    self.st[j].n_at += 1;
                }
                RPlace::InTransit(rem) => {
                    self.st[j].in_transit += 1;
                    self.push(rem, Ev::Transport(u, j as u32));
                }
                RPlace::Setup(s, rem) => {
                    self.st[j].n_at += 1;
                    self.srv[s].work = Work::Setup(u);
                    self.hold(s, rem);
                }
                RPlace::Busy(s, rem, elapsed, conditions, alarm) => {
                    self.st[j].n_at += 1;
                    let srv = &mut self.srv[s];
                    srv.work = Work::Busy(u);
                    srv.visit_start = -elapsed;
                    srv.cur_vars = conditions;
                    srv.cur_alarm = alarm;
                    self.hold(s, rem);
                }
                RPlace::Blocked(s, to, transport) => {
                    self.st[j].n_at += 1;
                    self.srv[s].work = Work::Blocked(u, to as u32, transport);
                    self.st[to].waiters.push_back(Waiter::Server(s));
                }
            }
        }
    }

    /// Restored work on server `s` ends in `rem` seconds, or keeps that much for when the machine is available.
    fn hold(&mut self, s: usize, rem: f64) {
        if self.available(s) {
            let srv = &mut self.srv[s];
            srv.end = self.now + rem;
            srv.epoch = srv.epoch.wrapping_add(1);
            let (t, g) = (srv.end, srv.epoch);
            self.push(t, Ev::Complete(s as u32, g));
        } else {
            self.srv[s].paused = Some(rem);
        }
    }

    /// The line at the horizon (see [`crate::state`]).
    fn export_state(&self) -> LineState {
        let m = self.m;
        let h = self.o.horizon_s;
        let ns = m.n_slots;
        let mut transit: Vec<Vec<(f64, u64, u32)>> = vec![Vec::new(); self.st.len()];
        let mut repair: Vec<Option<f64>> = vec![None; self.srv.len()];
        let mut next_arrival: Vec<Option<f64>> = vec![None; self.src.len()];
        for e in self.heap.iter() {
            match e.ev {
                Ev::Transport(u, j) => transit[j as usize].push((e.t, e.seq, u)),
                Ev::Repaired(s) => {
                    let r = &mut repair[s as usize];
                    *r = Some(r.map_or(e.t - h, |x| x.max(e.t - h)));
                }
                Ev::Arrival(k) => next_arrival[k as usize] = Some(e.t - h),
                _ => {}
            }
        }
        for t in &mut transit {
            t.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        let mut slot_names = vec![(String::new(), String::new()); ns];
        for s in &m.stations {
            for (vi, v) in s.vars.iter().enumerate() {
                if let Some(sl) = s.var_slot[vi] {
                    slot_names[sl] = (s.id.clone(), v.name.clone());
                }
            }
        }
        let unit = |u: u32, station: usize, place: Place| -> UnitState {
            let x = &self.units[u as usize];
            let carried = (0..ns)
                .filter_map(|sl| {
                    let v = self.slots[u as usize * ns + sl];
                    v.is_finite().then(|| Carried {
                        station: slot_names[sl].0.clone(),
                        var: slot_names[sl].1.clone(),
                        value: v,
                    })
                })
                .collect();
            UnitState {
                serial: x.serial,
                product: m.products[x.product as usize].clone(),
                source: m.sources[x.source as usize].id.clone(),
                age_s: h - x.entered,
                station: m.stations[station].id.clone(),
                place,
                carried,
            }
        };
        let mut units = Vec::new();
        for (i, st) in self.st.iter().enumerate() {
            for (k, &s) in st.servers.iter().enumerate() {
                let srv = &self.srv[s];
                let remaining_s = srv.paused.unwrap_or(srv.end - h).max(0.0);
                match srv.work {
                    Work::Idle => {}
                    Work::Setup(u) => units.push(unit(u, i, Place::Setup { machine: k, remaining_s })),
                    Work::Busy(u) => units.push(unit(
                        u,
                        i,
                        Place::Busy {
                            machine: k,
                            remaining_s,
                            elapsed_s: h - srv.visit_start,
                            conditions: srv.cur_vars.clone(),
                            alarm: srv.cur_alarm,
                        },
                    )),
                    Work::Blocked(u, to, transport_s) => units.push(unit(
                        u,
                        i,
                        Place::Blocked {
                            machine: k,
                            to: m.stations[to as usize].id.clone(),
                            transport_s,
                        },
                    )),
                }
            }
            for &u in &st.queue {
                units.push(unit(u, i, Place::Waiting));
            }
            for &(t, _, u) in &transit[i] {
                units.push(unit(u, i, Place::InTransit { remaining_s: t - h }));
            }
        }
        let machines = self
            .srv
            .iter()
            .enumerate()
            .map(|(s, srv)| {
                let cs = &m.stations[srv.st];
                MachineState {
                    station: cs.id.clone(),
                    machine: srv.m,
                    asset: cs.machines[srv.m].asset.clone(),
                    down_remaining_s: if srv.failed { repair[s] } else { None },
                    last_product: srv.last_product.map(|p| m.products[p as usize].clone()),
                    process: (0..cs.vars.len())
                        .map(|vi| (!srv.ou_t[vi].is_nan()).then(|| (srv.ou[vi], h - srv.ou_t[vi])))
                        .collect(),
                    alarm_for_s: srv.alarm_since.map(|a| h - a),
                }
            })
            .collect();
        let sources = m
            .sources
            .iter()
            .enumerate()
            .map(|(k, cs)| SourceState {
                source: cs.id.clone(),
                campaign: (self.src[k].batch_left > 0).then(|| (m.products[self.src[k].batch_product as usize].clone(), self.src[k].batch_left)),
                next_arrival_s: next_arrival[k],
                arrivals: self.src[k].arrivals,
            })
            .collect();
        let mut lots = Vec::new();
        for (c, comp) in m.components.iter().enumerate() {
            for &(l, remaining) in &self.lots[c] {
                if remaining > 0 {
                    lots.push(LotState {
                        component: comp.0.clone(),
                        lot: comp.1[(l - self.lot_base[c]) as usize].0.clone(),
                        remaining,
                    });
                }
            }
        }
        LineState {
            units,
            machines,
            sources,
            lots,
        }
    }

    // ----- results ---------------------------------------------------------------------------------

    fn finish(mut self) -> RunResult {
        let m = self.m;
        let h = self.o.horizon_s;
        let w0 = self.o.warmup_s;
        let end_state = self.o.end_state.then(|| self.export_state());
        for s in 0..self.srv.len() {
            self.accumulate(s);
        }
        for i in 0..self.st.len() {
            self.touch(i);
            if self.st[i].active {
                let st = &mut self.st[i];
                match st.periods.last_mut() {
                    Some(l) if l.1 >= st.active_since => l.1 = h,
                    _ => st.periods.push((st.active_since, h)),
                }
            }
        }
        self.touch_wip();
        if let Some(t) = &mut self.trace {
            for srv in &self.srv {
                if let Some(a) = srv.alarm_since {
                    t.alarms.push(AlarmRecord {
                        asset: m.stations[srv.st].asset_idx[srv.m] as u32,
                        start_s: a,
                        end_s: h,
                    });
                }
            }
        }
        let period = h - w0;
        let scheduled = match &m.calendar {
            Some(c) => {
                let iv = c.intervals(h);
                iv.iter().map(|w: &Window| (w.end_s.min(h) - w.start_s.max(w0)).max(0.0)).sum()
            }
            None => period,
        };
        let hours = period / 3600.0;
        let stations: Vec<StationResult> = m
            .stations
            .iter()
            .zip(&self.st)
            .map(|(cs, st)| {
                let n = cs.machines.len();
                let pbt = st.time.total() - st.time.off - st.time.maintenance;
                let oee = Oee::new(pbt, st.time.busy, st.planned_run, st.produced, st.good);
                StationResult {
                    id: cs.id.clone(),
                    servers: n,
                    produced: st.produced,
                    good: st.good,
                    scrap: st.scrap,
                    rework: st.rework,
                    failures: st.failures,
                    changeovers: st.changeovers,
                    throughput_per_h: st.produced as f64 / hours,
                    time: st.time,
                    shares: st.time.share_of(n as f64 * period),
                    utilisation: if pbt > 0.0 { st.time.busy / pbt } else { 0.0 },
                    mean_queue: st.q_area / period,
                    mean_wip: st.n_area / period,
                    busy_load_s: st.busy_load,
                    energy_kwh: cs.power.map(|p| p.energy_kwh(&st.time, st.busy_load)).unwrap_or(0.0),
                    oee,
                }
            })
            .collect();
        let mut sources = Vec::new();
        let (mut good, mut scrap, mut lost) = (0, 0, 0);
        let mut all_leads = Vec::new();
        for (cs, s) in m.sources.iter().zip(&mut self.src) {
            good += s.good;
            scrap += s.scrap;
            lost += s.lost;
            let (mean, p95) = mean_p95(&mut s.leads);
            all_leads.extend_from_slice(&s.leads);
            sources.push(SourceResult {
                id: cs.id.clone(),
                entered: s.entered,
                lost: s.lost,
                good: s.good,
                scrap: s.scrap,
                throughput_per_h: s.good as f64 / hours,
                lead_time_mean_s: mean,
                lead_time_p95_s: p95,
            });
        }
        let (lead_mean, lead_p95) = mean_p95(&mut all_leads);
        let reference = &self.st[m.reference];
        let nref = m.stations[m.reference].machines.len() as f64;
        // planned maintenance of the reference station is scheduled out of the line's planned busy time
        let line_pbt = (scheduled - reference.time.maintenance / nref).max(0.0);
        let line_apt = (line_pbt - (reference.time.down + reference.time.setup) / nref).max(0.0);
        let produced = good + scrap;
        let line_oee = Oee::new(line_pbt, line_apt, m.planned_cycle_s * produced as f64, produced, good);
        let kpis = LineKpis {
            throughput_per_h: good as f64 / hours,
            good,
            scrap,
            lost,
            reworks: self.reworks,
            wip_mean: self.wip_area / period,
            lead_time_mean_s: lead_mean,
            lead_time_p95_s: lead_p95,
            sojourn_mean_s: if self.departures > 0 {
                self.sojourn_sum / self.departures as f64
            } else {
                0.0
            },
            departure_rate_per_s: self.departures as f64 / period,
            oee: line_oee,
            energy_kwh: 0.0,
        };
        let products = m
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| ProductResult {
                product: p.clone(),
                good: self.product_good[i],
                scrap: self.product_scrap[i],
            })
            .collect();
        let mut orders = Vec::new();
        for (k, cs) in m.sources.iter().enumerate() {
            if let CArrivals::Orders(os) = &cs.arrivals {
                for (j, o) in os.iter().enumerate() {
                    let r = &self.orders[k][j];
                    orders.push(OrderResult {
                        id: o.0.clone(),
                        product: m.products[o.1].clone(),
                        quantity: o.2,
                        good: r.good,
                        scrap: r.scrap,
                        release_s: o.3,
                        due_s: o.4,
                        weight: o.5,
                        completion_s: r.completion,
                    });
                }
            }
        }
        let periods: Vec<Vec<(f64, f64)>> = self.st.iter_mut().map(|s| std::mem::take(&mut s.periods)).collect();
        let ids: Vec<String> = m.stations.iter().map(|s| s.id.clone()).collect();
        let bottleneck = active_period_method(&periods, w0, h, scheduled, &ids);
        let mut result = RunResult {
            line: m.id.clone(),
            seed: self.o.seed,
            warmup_s: w0,
            horizon_s: h,
            period_s: period,
            scheduled_s: scheduled,
            stations,
            kpis,
            sources,
            products,
            orders,
            bottleneck,
            buckets: self.buckets.take(),
            trace: self.trace.take(),
            active_periods: periods,
            events: self.events,
            end_state,
        };
        result.kpis.energy_kwh = result.stations.iter().map(|s| s.energy_kwh).sum();
        result
    }
}

/// Mean and 95th percentile (nearest rank); sorts in place. (0, 0) when empty.
pub(crate) fn mean_p95(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let k = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    let (_, p, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    (mean, *p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use crate::dist::Dist;

    fn det(x: f64) -> Dist {
        Dist::Deterministic { value: x }
    }

    #[test]
    fn deterministic_serial_line_runs_at_the_slowest_station() {
        let l = LineConfig::serial(
            "l",
            vec![
                StationConfig::new("a", det(10.0), 1),
                StationConfig::new("b", det(20.0), 1).with_buffer(Some(2)),
                StationConfig::new("c", det(5.0), 1),
            ],
        );
        let r = simulate(&l, &SimOptions::new(1, 36_000.0, 3600.0)).unwrap();
        // b makes one unit per 20 s → 180 per hour
        assert!((r.kpis.throughput_per_h - 180.0).abs() < 0.5, "{}", r.kpis.throughput_per_h);
        let a = &r.stations[0];
        let b = &r.stations[1];
        assert!((b.utilisation - 1.0).abs() < 1e-6);
        // a works 10 of every 20 s and is blocked the rest
        assert!((a.shares.busy - 0.5).abs() < 1e-3 && (a.shares.blocked - 0.5).abs() < 1e-3, "{:?}", a.shares);
        assert!((r.stations[2].shares.starved - 0.75).abs() < 1e-3);
        assert_eq!(r.bottleneck.id.as_deref(), Some("b"));
        // WIP: b's buffer full (2) + b in process + a holding one = 4 at a steady state, plus c's 1/4
        assert!((r.kpis.wip_mean - (1.0 + 2.0 + 1.0 + 0.25)).abs() < 0.05, "{}", r.kpis.wip_mean);
        // Little: L = λW
        assert!((r.kpis.wip_mean - r.kpis.departure_rate_per_s * r.kpis.sojourn_mean_s).abs() < 0.05);
        assert!((r.stations[1].oee.oee - 1.0).abs() < 1e-6);
        assert!((r.kpis.oee.oee - 1.0).abs() < 0.01, "{:?}", r.kpis.oee);
    }

    #[test]
    fn runs_are_reproducible_and_seeds_differ() {
        let l = LineConfig::serial(
            "l",
            vec![
                StationConfig::new("a", Dist::Exponential { mean: 10.0 }, 1),
                StationConfig::new("b", Dist::Exponential { mean: 9.0 }, 1).with_buffer(Some(3)),
            ],
        );
        let o = SimOptions::new(3, 50_000.0, 0.0);
        let a = simulate(&l, &o).unwrap();
        let b = simulate(&l, &o).unwrap();
        assert_eq!(a, b);
        let c = simulate(&l, &SimOptions { seed: 4, ..o }).unwrap();
        assert_ne!(a.kpis.good, c.kpis.good);
        assert!(simulate(&l, &SimOptions::new(1, 10.0, 20.0)).is_err());
    }

    #[test]
    fn changeovers_failures_maintenance_and_shifts_are_accounted() {
        let mut s = StationConfig::new("a", det(10.0), 1);
        s.setup = Some(vec![vec![0.0, 50.0], vec![50.0, 0.0]]);
        let s = s.with_failures(FailureModel {
            clock: FailureClock::Calendar,
            mean_between: 2000.0,
            repair: det(100.0),
        });
        let mut s = s;
        s.maintenance = vec![Window {
            start_s: 40_000.0,
            end_s: 41_000.0,
        }];
        let mut l = LineConfig::serial("l", vec![s]);
        l.products = vec!["x".into(), "y".into()];
        l.sources[0].mix = [("x".to_string(), 1.0), ("y".to_string(), 1.0)].into_iter().collect();
        l.sources[0].batch_size = 10;
        l.calendar = Some(Calendar::daily(7, 6.0, 22.0));
        let r = simulate(&l, &SimOptions::new(9, 86_400.0, 0.0)).unwrap();
        let st = &r.stations[0];
        assert_eq!(r.station("a"), Some(st));
        assert!(r.station("zz").is_none());
        let t = st.time;
        assert!((t.total() - 86_400.0).abs() < 1e-6);
        assert!((t.off - 8.0 * 3600.0).abs() < 1e-6, "{t:?}");
        assert!((t.maintenance - 1000.0).abs() < 1e-6);
        assert!(
            st.failures > 0 && (t.down - 100.0 * st.failures as f64).abs() < 100.0 + 1e-6,
            "{t:?} {}",
            st.failures
        );
        assert!(st.changeovers > 0 && (t.setup - 50.0 * st.changeovers as f64).abs() < 50.0 + 1e-6);
        assert!((t.busy - 10.0 * st.produced as f64).abs() < 10.0 + 1e-6);
        assert!((r.scheduled_s - 16.0 * 3600.0).abs() < 1e-6);
        // OEE: PBT excludes off and maintenance
        assert!((st.oee.planned_busy_s - (16.0 * 3600.0 - 1000.0)).abs() < 1e-6);
        assert!((st.oee.availability - t.busy / st.oee.planned_busy_s).abs() < 1e-12);
        assert!(
            st.oee.performance <= 1.0 && st.oee.performance > 1.0 - 10.0 / t.busy - 1e-9,
            "{}",
            st.oee.performance
        );
        assert!(r.products[0].good > 0 && r.products[1].good > 0);
    }

    #[test]
    fn scrap_rework_and_routing_split() {
        let mut a = StationConfig::new("a", det(10.0), 1);
        a.routes = vec![
            Route {
                to: Some("b".into()),
                p: 3.0,
                transport_s: 5.0,
            },
            Route {
                to: Some("c".into()),
                p: 1.0,
                transport_s: 0.0,
            },
        ];
        let mut b = StationConfig::new("b", det(1.0), 1).with_buffer(Some(0));
        b.scrap_p = 0.1;
        b.rework_p = 0.2;
        b.routes = vec![Route {
            to: None,
            p: 1.0,
            transport_s: 0.0,
        }];
        let c = StationConfig::new("c", det(1.0), 1);
        let l = LineConfig::serial("l", vec![a, b, c]);
        let r = simulate(&l, &SimOptions::new(2, 400_000.0, 0.0)).unwrap();
        let (rb, rc) = (&r.stations[1], &r.stations[2]);
        let first_visits_b = rb.produced - rb.rework;
        let share_b = first_visits_b as f64 / (first_visits_b + rc.produced) as f64;
        assert!((share_b - 0.75).abs() < 0.02, "{share_b}");
        assert!((rb.scrap as f64 / rb.produced as f64 - 0.1).abs() < 0.01);
        assert!((rb.rework as f64 / rb.produced as f64 - 0.2).abs() < 0.01);
        assert_eq!(
            r.kpis.good + r.kpis.scrap,
            r.stations[0].produced - (r.stations[0].produced - r.kpis.good - r.kpis.scrap)
        );
        assert_eq!(r.kpis.reworks, rb.rework);
    }

    #[test]
    fn orders_complete_in_sequence_and_material_shortage_starves() {
        let mut s = StationConfig::new("a", det(10.0), 1);
        s.consumes = vec![Consumption {
            component: "bolt".into(),
            per_unit: 2,
        }];
        let mut l = LineConfig::serial("l", vec![s]);
        l.sources[0].arrivals = Arrivals::Orders {
            orders: vec![
                Order {
                    id: "o1".into(),
                    product: "p".into(),
                    quantity: 10,
                    release_s: 0.0,
                    due_s: 50.0,
                    weight: 1.0,
                },
                Order {
                    id: "o2".into(),
                    product: "p".into(),
                    quantity: 5,
                    release_s: 0.0,
                    due_s: 1000.0,
                    weight: 1.0,
                },
            ],
        };
        l.components = vec![ComponentSupply {
            component: "bolt".into(),
            lots: vec![
                Lot {
                    id: "L1".into(),
                    quantity: 20,
                    arrival_s: 0.0,
                },
                Lot {
                    id: "L2".into(),
                    quantity: 10,
                    arrival_s: 500.0,
                },
            ],
        }];
        let r = simulate(
            &l,
            &SimOptions {
                trace: true,
                ..SimOptions::new(1, 2000.0, 0.0)
            },
        )
        .unwrap();
        assert_eq!(r.orders[0].completion_s, Some(100.0));
        assert_eq!(r.orders[1].completion_s, Some(550.0));
        assert!((r.orders[0].tardiness(2000.0) - 50.0).abs() < 1e-9);
        assert!((r.stations[0].time.no_material - 400.0).abs() < 1e-6, "{:?}", r.stations[0].time);
        let t = r.trace.unwrap();
        assert_eq!(t.units.len(), 15);
        let lots_of_last: Vec<u32> = t.lots_used.iter().filter(|x| x.0 == 14).map(|x| x.1).collect();
        assert_eq!(lots_of_last, vec![1]);
        assert_eq!(t.visits.len(), 15);
    }

    #[test]
    fn a_degraded_machine_slows_the_line_and_fails_more() {
        let mk = |h: Health| {
            let mut s = StationConfig::new("a", Dist::LogNormal { mean: 30.0, cv: 0.1 }, 1);
            s.failures = Some(FailureModel {
                clock: FailureClock::Calendar,
                mean_between: 8.0 * 3600.0,
                repair: Dist::Exponential { mean: 1800.0 },
            });
            s.machines[0].health = h;
            LineConfig::serial("l", vec![s])
        };
        let o = SimOptions::new(5, 30.0 * 86_400.0, 0.0);
        let good = simulate(&mk(Health::default()), &o).unwrap();
        let bad = simulate(&mk(Health::from_twin(Some(0.4), Some(0.9), 24.0 * 3600.0)), &o).unwrap();
        assert!(
            bad.stations[0].failures * 10 > good.stations[0].failures * 14,
            "{} {}",
            bad.stations[0].failures,
            good.stations[0].failures
        );
        assert!(bad.kpis.throughput_per_h < 0.85 * good.kpis.throughput_per_h);
        assert!(bad.stations[0].oee.performance < 0.9 && good.stations[0].oee.performance > 0.97);
    }

    #[test]
    fn a_run_can_start_from_the_current_state_of_the_line() {
        let mut a = StationConfig::new("a", det(10.0), 1);
        a.machines[0].down_for_s = Some(100.0);
        let mut b = StationConfig::new("b", det(5.0), 1).with_buffer(Some(2));
        b.initial_wip = vec![InitialUnits { product: "y".into(), count: 6 }];
        b.setup = Some(vec![vec![0.0, 30.0], vec![30.0, 0.0]]);
        b.machines[0].set_up_for = Some("y".into());
        let mut l = LineConfig::serial("l", vec![a, b]);
        l.products = vec!["x".into(), "y".into()];
        let r = simulate(
            &l,
            &SimOptions {
                trace: true,
                ..SimOptions::new(1, 200.0, 0.0)
            },
        )
        .unwrap();
        // a is down for 100 s; b works off its 6 waiting units (no changeover, already set up for y) in 30 s
        assert_eq!(r.stations[0].time.down, 100.0);
        assert_eq!(r.stations[1].changeovers, 1); // to x, when a's first unit arrives
        let t = r.trace.unwrap();
        assert_eq!(t.units.iter().filter(|u| u.product == 1).count(), 6);
        assert!(t.visits.iter().filter(|v| v.station == 1).take(6).all(|v| v.end_s <= 30.0 + 1e-9));
        assert!(r.sources[0].entered >= 6 + r.stations[0].produced);
    }

    #[test]
    fn equal_stations_shift_the_bottleneck_and_a_slower_one_takes_it() {
        let mk = |second: f64| {
            let st = |id: &str, m: f64| {
                StationConfig::new(id, Dist::Exponential { mean: m }, 1)
                    .with_buffer(Some(5))
                    .with_failures(FailureModel {
                        clock: FailureClock::Calendar,
                        mean_between: 3600.0,
                        repair: Dist::Exponential { mean: 300.0 },
                    })
            };
            LineConfig::serial("l", vec![st("a", 30.0), st("b", second)])
        };
        let r = simulate(&mk(30.0), &SimOptions::new(4, 20.0 * 86_400.0, 3600.0)).unwrap();
        let b = &r.bottleneck;
        assert!(b.total[0] > 0.3 && b.total[1] > 0.3, "{b:?}");
        assert!(b.shifting[0] > 0.02 && (b.shifting[0] - b.shifting[1]).abs() < 1e-9, "{b:?}");
        let r = simulate(&mk(36.0), &SimOptions::new(4, 20.0 * 86_400.0, 3600.0)).unwrap();
        assert_eq!(r.bottleneck.id.as_deref(), Some("b"));
        assert!(r.bottleneck.sole[1] > 2.0 * r.bottleneck.sole[0], "{:?}", r.bottleneck);
    }

    #[test]
    fn mean_p95_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(mean_p95(&mut v), (50.5, 95.0));
        assert_eq!(mean_p95(&mut []), (0.0, 0.0));
    }
}
