//! Product twins and traceability: the genealogy of every unit, and an in-memory index that answers
//! both directions of questions.
//!
//! The simulator (with [`crate::des::SimOptions::trace`]) writes a [`TraceLog`]: one [`UnitRecord`] per
//! serial number, one [`VisitRecord`] per processing step (station, machine asset, start and end, the
//! process variables measured then, the asset's health index and alarm state), the component lots each
//! unit consumed, its quality results, and the alarm intervals of each asset. [`TraceBuilder`] turns
//! one or more logs into a [`TraceIndex`]:
//!
//! * columnar arrays, visits ordered by unit then start time, with a CSR offset per unit: "everything
//!   about serial S" is a binary search on the sorted serials plus one contiguous slice — O(log n + k);
//! * per asset, the visit ids sorted by start time, and the longest visit of that asset: "units processed
//!   by asset A in [t0, t1)" is a binary search for the first visit starting after `t0 − longest` and a
//!   scan up to `t1` — O(log n + k + visits shorter than the longest that start in that margin);
//! * per asset, its merged alarm intervals: "units made while A was in alarm" is the range query over
//!   each interval;
//! * per lot, the sorted units that consumed it (CSR): "units that consumed lot L" is one slice.
//!
//! No query scans the whole data set. Times are i64 nanoseconds since the Unix epoch
//! (`start_ns + sim seconds × 10⁹`). Durable storage of genealogy is not this crate's business.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A unit as the simulator logs it (sim seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UnitRecord {
    pub serial: u64,
    pub product: u16,
    pub source: u16,
    /// When it entered the line (NaN: never did).
    pub entered_s: f64,
    /// When it left (NaN: still in the line at the end of the run).
    pub exit_s: f64,
    pub scrapped: bool,
}

/// One processing step of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct VisitRecord {
    pub serial: u64,
    pub station: u16,
    pub asset: u32,
    pub start_s: f64,
    pub end_s: f64,
    pub health: f32,
    pub alarm: bool,
    /// The station's process variables at the start, `conditions[cond_start..cond_start + cond_len]`.
    pub cond_start: u32,
    pub cond_len: u16,
}

/// A quality result of one unit, measured at `t_s`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityRecord {
    pub serial: u64,
    pub check: u16,
    pub value: f64,
    pub pass: bool,
    pub t_s: f64,
}

/// An asset was in alarm over `[start_s, end_s)`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AlarmRecord {
    pub asset: u32,
    pub start_s: f64,
    pub end_s: f64,
}

/// The simulator's genealogy output. Ids index the name tables.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceLog {
    pub start_ns: i64,
    pub products: Vec<String>,
    pub stations: Vec<String>,
    pub assets: Vec<String>,
    pub lots: Vec<String>,
    pub checks: Vec<String>,
    /// Process variable names per station.
    pub var_names: Vec<Vec<String>>,
    /// Indexed by `serial − serial_base`.
    pub units: Vec<UnitRecord>,
    /// Units that were already in the line when the run started (a run continued from a state,
    /// [`crate::des::Simulator::run_from`]): their records as of the end of this run (entry time negative:
    /// before this run). Their earlier visits are in the earlier runs' logs.
    #[serde(default)]
    pub continued: Vec<UnitRecord>,
    pub visits: Vec<VisitRecord>,
    pub conditions: Vec<f32>,
    /// (serial, lot)
    pub lots_used: Vec<(u64, u32)>,
    pub quality: Vec<QualityRecord>,
    pub alarms: Vec<AlarmRecord>,
}

/// One processing step in a genealogy answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    pub station: String,
    pub asset: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub health_index: f64,
    pub alarm: bool,
    /// (variable, value)
    pub conditions: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityResult {
    pub check: String,
    pub value: f64,
    pub pass: bool,
    pub at_ns: i64,
}

/// Everything about one serial number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitGenealogy {
    pub serial: u64,
    pub product: String,
    pub entered_ns: Option<i64>,
    pub exit_ns: Option<i64>,
    pub scrapped: bool,
    pub visits: Vec<Visit>,
    pub lots: Vec<String>,
    pub quality: Vec<QualityResult>,
}

fn to_ns(start_ns: i64, s: f64) -> i64 {
    if s.is_finite() {
        start_ns.saturating_add((s * 1e9).round() as i64)
    } else {
        i64::MIN
    }
}

struct Dict {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Dict {
    fn new() -> Dict {
        Dict {
            names: Vec::new(),
            index: HashMap::new(),
        }
    }
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }
}

/// Accumulates logs (e.g. one per simulated chunk) into compact columns; [`TraceBuilder::finish`] sorts and
/// indexes them.
pub struct TraceBuilder {
    products: Dict,
    stations: Dict,
    assets: Dict,
    lots: Dict,
    checks: Dict,
    vars: Dict,
    serial: Vec<u64>,
    product: Vec<u16>,
    entered: Vec<i64>,
    exit: Vec<i64>,
    scrapped: Vec<bool>,
    v_serial: Vec<u64>,
    v_station: Vec<u16>,
    v_asset: Vec<u32>,
    v_start: Vec<i64>,
    v_end: Vec<i64>,
    v_health: Vec<f32>,
    v_alarm: Vec<bool>,
    v_cond: Vec<u32>,
    v_cond_len: Vec<u16>,
    /// per station: the variable ids of its conditions
    station_vars: HashMap<u16, Vec<u32>>,
    cond: Vec<f32>,
    l_serial: Vec<u64>,
    l_lot: Vec<u32>,
    q: Vec<(u64, u16, f64, bool, i64)>,
    alarms: Vec<(u32, i64, i64)>,
}

impl Default for TraceBuilder {
    fn default() -> TraceBuilder {
        TraceBuilder::new()
    }
}

impl TraceBuilder {
    pub fn new() -> TraceBuilder {
        TraceBuilder {
            products: Dict::new(),
            stations: Dict::new(),
            assets: Dict::new(),
            lots: Dict::new(),
            checks: Dict::new(),
            vars: Dict::new(),
            serial: Vec::new(),
            product: Vec::new(),
            entered: Vec::new(),
            exit: Vec::new(),
            scrapped: Vec::new(),
            v_serial: Vec::new(),
            v_station: Vec::new(),
            v_asset: Vec::new(),
            v_start: Vec::new(),
            v_end: Vec::new(),
            v_health: Vec::new(),
            v_alarm: Vec::new(),
            v_cond: Vec::new(),
            v_cond_len: Vec::new(),
            station_vars: HashMap::new(),
            cond: Vec::new(),
            l_serial: Vec::new(),
            l_lot: Vec::new(),
            q: Vec::new(),
            alarms: Vec::new(),
        }
    }

    /// Adds one log. Serial numbers must be unique across logs (use [`crate::des::SimOptions::serial_base`]),
    /// except for units continued from an earlier log ([`TraceLog::continued`]): a unit's record added later
    /// replaces the earlier one, and its visits, lots and quality results from every log are kept.
    pub fn add(&mut self, log: &TraceLog) {
        let pmap: Vec<u16> = log.products.iter().map(|p| self.products.id(p) as u16).collect();
        let smap: Vec<u16> = log.stations.iter().map(|p| self.stations.id(p) as u16).collect();
        let amap: Vec<u32> = log.assets.iter().map(|p| self.assets.id(p)).collect();
        let lmap: Vec<u32> = log.lots.iter().map(|p| self.lots.id(p)).collect();
        let cmap: Vec<u16> = log.checks.iter().map(|p| self.checks.id(p) as u16).collect();
        for (s, names) in log.var_names.iter().enumerate() {
            let ids: Vec<u32> = names.iter().map(|n| self.vars.id(n)).collect();
            self.station_vars.entry(smap[s]).or_insert(ids);
        }
        let ns = |s: f64| to_ns(log.start_ns, s);
        for u in log.units.iter().chain(&log.continued) {
            self.serial.push(u.serial);
            self.product.push(pmap[u.product as usize]);
            self.entered.push(ns(u.entered_s));
            self.exit.push(ns(u.exit_s));
            self.scrapped.push(u.scrapped);
        }
        for v in &log.visits {
            self.v_serial.push(v.serial);
            self.v_station.push(smap[v.station as usize]);
            self.v_asset.push(amap[v.asset as usize]);
            self.v_start.push(ns(v.start_s));
            self.v_end.push(ns(v.end_s));
            self.v_health.push(v.health);
            self.v_alarm.push(v.alarm);
            self.v_cond.push(self.cond.len() as u32);
            self.v_cond_len.push(v.cond_len);
            self.cond
                .extend_from_slice(&log.conditions[v.cond_start as usize..v.cond_start as usize + v.cond_len as usize]);
        }
        for &(s, l) in &log.lots_used {
            self.l_serial.push(s);
            self.l_lot.push(lmap[l as usize]);
        }
        for q in &log.quality {
            self.q.push((q.serial, cmap[q.check as usize], q.value, q.pass, ns(q.t_s)));
        }
        for a in &log.alarms {
            self.alarms.push((amap[a.asset as usize], ns(a.start_s), ns(a.end_s)));
        }
    }

    /// Adds an alarm interval from outside the simulator (e.g. a live twin's alert history).
    pub fn add_alarm(&mut self, asset: &str, start_ns: i64, end_ns: i64) {
        let a = self.assets.id(asset);
        self.alarms.push((a, start_ns, end_ns));
    }

    /// Sorts and indexes. Each input column is dropped as soon as its sorted copy exists, so the peak
    /// memory is about one column above the final index.
    pub fn finish(self) -> TraceIndex {
        let TraceBuilder {
            products,
            stations,
            assets,
            lots,
            checks,
            vars,
            serial,
            product,
            entered,
            exit,
            scrapped,
            v_serial,
            v_station,
            v_asset,
            v_start,
            v_end,
            v_health,
            v_alarm,
            v_cond,
            v_cond_len,
            station_vars,
            cond,
            l_serial,
            l_lot,
            q,
            alarms,
        } = self;
        fn g<T: Copy>(perm: &[u32], v: Vec<T>) -> Vec<T> {
            let out = perm.iter().map(|&i| v[i as usize]).collect();
            drop(v);
            out
        }
        // units sorted by serial; of a serial added twice (a unit continued in a later log), the last record
        let mut uperm: Vec<u32> = (0..serial.len() as u32).collect();
        uperm.sort_unstable_by_key(|&i| (serial[i as usize], i));
        let mut keep = 0;
        for k in 0..uperm.len() {
            if k + 1 < uperm.len() && serial[uperm[k + 1] as usize] == serial[uperm[k] as usize] {
                continue;
            }
            uperm[keep] = uperm[k];
            keep += 1;
        }
        uperm.truncate(keep);
        let serial = g(&uperm, serial);
        let product = g(&uperm, product);
        let entered = g(&uperm, entered);
        let exit = g(&uperm, exit);
        let scrapped = g(&uperm, scrapped);
        drop(uperm);
        let nu = serial.len();
        let unit_of = |s: u64| serial.binary_search(&s).ok().map(|i| i as u32);
        // visits: by (unit, start)
        let v_unit: Vec<u32> = v_serial.iter().map(|&s| unit_of(s).unwrap_or(u32::MAX)).collect();
        drop(v_serial);
        let mut vperm: Vec<u32> = (0..v_unit.len() as u32).filter(|&i| v_unit[i as usize] != u32::MAX).collect();
        vperm.sort_unstable_by_key(|&i| (v_unit[i as usize], v_start[i as usize]));
        let mut unit_visits = vec![0u32; nu + 1];
        for &i in &vperm {
            unit_visits[v_unit[i as usize] as usize + 1] += 1;
        }
        drop(v_unit);
        for k in 0..nu {
            unit_visits[k + 1] += unit_visits[k];
        }
        let v_station = g(&vperm, v_station);
        let v_asset = g(&vperm, v_asset);
        let v_start = g(&vperm, v_start);
        let v_end = g(&vperm, v_end);
        let v_health = g(&vperm, v_health);
        let v_alarm = g(&vperm, v_alarm);
        let v_cond = g(&vperm, v_cond);
        let v_cond_len = g(&vperm, v_cond_len);
        drop(vperm);
        // per asset visits sorted by start
        let na = assets.names.len();
        let mut asset_off = vec![0u32; na + 1];
        for &a in &v_asset {
            asset_off[a as usize + 1] += 1;
        }
        for k in 0..na {
            asset_off[k + 1] += asset_off[k];
        }
        let mut fill = asset_off.clone();
        let mut asset_visits = vec![0u32; v_asset.len()];
        for (i, &a) in v_asset.iter().enumerate() {
            asset_visits[fill[a as usize] as usize] = i as u32;
            fill[a as usize] += 1;
        }
        let mut asset_longest = vec![0i64; na];
        for a in 0..na {
            let sl = &mut asset_visits[asset_off[a] as usize..asset_off[a + 1] as usize];
            sl.sort_unstable_by_key(|&i| v_start[i as usize]);
            asset_longest[a] = sl.iter().map(|&i| v_end[i as usize] - v_start[i as usize]).max().unwrap_or(0);
        }
        // lots
        let mut ul: Vec<(u32, u32)> = l_serial.iter().zip(&l_lot).filter_map(|(&s, &l)| unit_of(s).map(|u| (u, l))).collect();
        ul.sort_unstable();
        ul.dedup();
        let mut unit_lot_off = vec![0u32; nu + 1];
        for &(u, _) in &ul {
            unit_lot_off[u as usize + 1] += 1;
        }
        for k in 0..nu {
            unit_lot_off[k + 1] += unit_lot_off[k];
        }
        let unit_lots: Vec<u32> = ul.iter().map(|x| x.1).collect();
        let nl = lots.names.len();
        let mut lot_off = vec![0u32; nl + 1];
        for &(_, l) in &ul {
            lot_off[l as usize + 1] += 1;
        }
        for k in 0..nl {
            lot_off[k + 1] += lot_off[k];
        }
        let mut fill = lot_off.clone();
        let mut lot_units = vec![0u32; ul.len()];
        for &(u, l) in &ul {
            lot_units[fill[l as usize] as usize] = u;
            fill[l as usize] += 1;
        }
        drop(ul);
        // quality
        let mut q: Vec<(u32, u16, f64, bool, i64)> = q.iter().filter_map(|&(s, c, v, p, t)| unit_of(s).map(|u| (u, c, v, p, t))).collect();
        q.sort_by_key(|x| (x.0, x.1));
        let mut q_off = vec![0u32; nu + 1];
        for x in &q {
            q_off[x.0 as usize + 1] += 1;
        }
        for k in 0..nu {
            q_off[k + 1] += q_off[k];
        }
        // alarms merged per asset
        let mut al = alarms;
        al.sort_unstable();
        let mut alarm_off = vec![0u32; na + 1];
        let mut alarms: Vec<(i64, i64)> = Vec::new();
        let mut ai = 0;
        for a in 0..na {
            let first = alarms.len();
            while ai < al.len() && al[ai].0 as usize == a {
                let (_, s, e) = al[ai];
                let n = alarms.len();
                match alarms.last_mut() {
                    Some(l) if n > first && s <= l.1 => l.1 = l.1.max(e),
                    _ => alarms.push((s, e)),
                }
                ai += 1;
            }
            alarm_off[a + 1] = alarms.len() as u32;
        }
        TraceIndex {
            products: products.names,
            stations: stations.names,
            asset_dict: assets.index,
            assets: assets.names,
            lot_dict: lots.index,
            lots: lots.names,
            checks: checks.names,
            vars: vars.names,
            station_vars,
            serial,
            product,
            entered,
            exit,
            scrapped,
            unit_visits,
            v_station,
            v_asset,
            v_start,
            v_end,
            v_health,
            v_alarm,
            v_cond,
            v_cond_len,
            cond,
            asset_off,
            asset_visits,
            asset_longest,
            unit_lot_off,
            unit_lots,
            lot_off,
            lot_units,
            q_off,
            q_check: q.iter().map(|x| x.1).collect(),
            q_value: q.iter().map(|x| x.2).collect(),
            q_pass: q.iter().map(|x| x.3).collect(),
            q_time: q.iter().map(|x| x.4).collect(),
            alarm_off,
            alarms,
        }
    }
}

/// The genealogy index (see the module docs for the layout and complexity of each query).
pub struct TraceIndex {
    products: Vec<String>,
    stations: Vec<String>,
    asset_dict: HashMap<String, u32>,
    assets: Vec<String>,
    lot_dict: HashMap<String, u32>,
    lots: Vec<String>,
    checks: Vec<String>,
    vars: Vec<String>,
    station_vars: HashMap<u16, Vec<u32>>,
    serial: Vec<u64>,
    product: Vec<u16>,
    entered: Vec<i64>,
    exit: Vec<i64>,
    scrapped: Vec<bool>,
    unit_visits: Vec<u32>,
    v_station: Vec<u16>,
    v_asset: Vec<u32>,
    v_start: Vec<i64>,
    v_end: Vec<i64>,
    v_health: Vec<f32>,
    v_alarm: Vec<bool>,
    v_cond: Vec<u32>,
    v_cond_len: Vec<u16>,
    cond: Vec<f32>,
    asset_off: Vec<u32>,
    asset_visits: Vec<u32>,
    asset_longest: Vec<i64>,
    unit_lot_off: Vec<u32>,
    unit_lots: Vec<u32>,
    lot_off: Vec<u32>,
    lot_units: Vec<u32>,
    q_off: Vec<u32>,
    q_check: Vec<u16>,
    q_value: Vec<f64>,
    q_pass: Vec<bool>,
    q_time: Vec<i64>,
    alarm_off: Vec<u32>,
    alarms: Vec<(i64, i64)>,
}

impl TraceIndex {
    /// Builds the index of one log.
    pub fn from_log(log: &TraceLog) -> TraceIndex {
        let mut b = TraceBuilder::new();
        b.add(log);
        b.finish()
    }

    pub fn units(&self) -> usize {
        self.serial.len()
    }

    /// The serial numbers indexed, sorted.
    pub fn serials(&self) -> &[u64] {
        &self.serial
    }

    /// The earliest entry and the latest exit or visit end indexed (ns), if any unit is.
    pub fn time_span(&self) -> Option<(i64, i64)> {
        let lo = self.entered.iter().chain(&self.v_start).copied().filter(|&t| t != i64::MIN).min()?;
        let hi = self.exit.iter().chain(&self.v_end).copied().filter(|&t| t != i64::MIN).max()?;
        Some((lo, hi))
    }

    pub fn visits(&self) -> usize {
        self.v_station.len()
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.serial.len() * (8 + 2 + 8 + 8 + 1 + 4 + 4 + 4)
            + self.v_station.len() * (2 + 4 + 8 + 8 + 4 + 1 + 4 + 2 + 4)
            + self.cond.len() * 4
            + self.unit_lots.len() * 8
            + self.q_value.len() * 19
            + self.alarms.len() * 16
    }

    /// Everything about serial `serial`.
    pub fn unit(&self, serial: u64) -> Option<UnitGenealogy> {
        let u = self.serial.binary_search(&serial).ok()?;
        let opt = |x: i64| (x != i64::MIN).then_some(x);
        let visits = (self.unit_visits[u]..self.unit_visits[u + 1])
            .map(|v| {
                let v = v as usize;
                let c0 = self.v_cond[v] as usize;
                let names = self.station_vars.get(&self.v_station[v]);
                let conditions = (0..self.v_cond_len[v] as usize)
                    .map(|k| {
                        let name = names.and_then(|n| n.get(k)).map(|&i| self.vars[i as usize].clone()).unwrap_or_default();
                        (name, f64::from(self.cond[c0 + k]))
                    })
                    .collect();
                Visit {
                    station: self.stations[self.v_station[v] as usize].clone(),
                    asset: self.assets[self.v_asset[v] as usize].clone(),
                    start_ns: self.v_start[v],
                    end_ns: self.v_end[v],
                    health_index: f64::from(self.v_health[v]),
                    alarm: self.v_alarm[v],
                    conditions,
                }
            })
            .collect();
        let lots = (self.unit_lot_off[u]..self.unit_lot_off[u + 1])
            .map(|i| self.lots[self.unit_lots[i as usize] as usize].clone())
            .collect();
        let quality = (self.q_off[u]..self.q_off[u + 1])
            .map(|i| {
                let i = i as usize;
                QualityResult {
                    check: self.checks[self.q_check[i] as usize].clone(),
                    value: self.q_value[i],
                    pass: self.q_pass[i],
                    at_ns: self.q_time[i],
                }
            })
            .collect();
        Some(UnitGenealogy {
            serial,
            product: self.products[self.product[u] as usize].clone(),
            entered_ns: opt(self.entered[u]),
            exit_ns: opt(self.exit[u]),
            scrapped: self.scrapped[u],
            visits,
            lots,
            quality,
        })
    }

    fn by_asset_into(&self, a: usize, t0: i64, t1: i64, out: &mut Vec<u64>) {
        let sl = &self.asset_visits[self.asset_off[a] as usize..self.asset_off[a + 1] as usize];
        let from = t0.saturating_sub(self.asset_longest[a]);
        let first = sl.partition_point(|&v| self.v_start[v as usize] < from);
        for &v in &sl[first..] {
            let v = v as usize;
            if self.v_start[v] >= t1 {
                break;
            }
            if self.v_end[v] > t0 {
                out.push(self.serial[self.unit_of_visit(v)]);
            }
        }
    }

    fn unit_of_visit(&self, v: usize) -> usize {
        self.unit_visits.partition_point(|&o| o as usize <= v) - 1
    }

    /// Serials of the units processed by `asset` at some time in `[t0_ns, t1_ns)` (sorted, unique).
    pub fn units_by_asset(&self, asset: &str, t0_ns: i64, t1_ns: i64) -> Vec<u64> {
        let Some(&a) = self.asset_dict.get(asset) else { return Vec::new() };
        let mut out = Vec::new();
        self.by_asset_into(a as usize, t0_ns, t1_ns, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The merged alarm intervals of `asset`.
    pub fn alarm_intervals(&self, asset: &str) -> &[(i64, i64)] {
        match self.asset_dict.get(asset) {
            Some(&a) => &self.alarms[self.alarm_off[a as usize] as usize..self.alarm_off[a as usize + 1] as usize],
            None => &[],
        }
    }

    /// Serials of the units processed by `asset` while it was in alarm (sorted, unique).
    pub fn units_in_alarm(&self, asset: &str) -> Vec<u64> {
        let Some(&a) = self.asset_dict.get(asset) else { return Vec::new() };
        let mut out = Vec::new();
        for &(s, e) in self.alarm_intervals(asset) {
            self.by_asset_into(a as usize, s, e, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Serials of the units that consumed `lot` (sorted).
    pub fn units_with_lot(&self, lot: &str) -> Vec<u64> {
        let Some(&l) = self.lot_dict.get(lot) else { return Vec::new() };
        let mut out: Vec<u64> = self.lot_units[self.lot_off[l as usize] as usize..self.lot_off[l as usize + 1] as usize]
            .iter()
            .map(|&u| self.serial[u as usize])
            .collect();
        out.sort_unstable();
        out
    }

    /// (measurement time, value, pass) of quality check `check` for every unit, in time order — the quality
    /// series for [`crate::rootcause`]. O(quality results).
    pub fn quality_series(&self, check: &str) -> Vec<(i64, f64, bool)> {
        let Some(c) = self.checks.iter().position(|x| x == check) else {
            return Vec::new();
        };
        let mut out: Vec<(i64, f64, bool)> = (0..self.q_check.len())
            .filter(|&i| self.q_check[i] as usize == c)
            .map(|i| (self.q_time[i], self.q_value[i], self.q_pass[i]))
            .collect();
        out.sort_by_key(|x| x.0);
        out
    }

    /// (time of the visit start, value) of process variable `var` at `station`, in time order — the
    /// upstream series for [`crate::rootcause`]. O(visits of the station's assets).
    pub fn variable_series(&self, station: &str, var: &str) -> Vec<(i64, f64)> {
        let Some(si) = self.stations.iter().position(|s| s == station) else {
            return Vec::new();
        };
        let Some(vi) = self
            .station_vars
            .get(&(si as u16))
            .and_then(|v| v.iter().position(|&x| self.vars[x as usize] == var))
        else {
            return Vec::new();
        };
        let mut out: Vec<(i64, f64)> = (0..self.v_station.len())
            .filter(|&v| self.v_station[v] as usize == si && (self.v_cond_len[v] as usize) > vi)
            .map(|v| (self.v_start[v], f64::from(self.cond[self.v_cond[v] as usize + vi])))
            .collect();
        out.sort_by_key(|x| x.0);
        out
    }
}

/// The benchmark line of the traceability target (`doppel bench trace`): cut (10 s, consuming one bar per unit
/// from lots of `lot_size`) → mill with two parallel machines (18 s, spindle temperature and load measured on
/// every unit, alarm above 47 °C) → wash (8 s, bath temperature) → inspect (6 s, a diameter that depends on
/// the spindle temperature; ±12 µm). `lots` lots named `BAR-{tag}-{k:05}` are on hand at the start.
pub fn reference_line(lots: u64, lot_size: u64, tag: &str) -> crate::config::LineConfig {
    use crate::config::{ComponentSupply, Consumption, Effect, LineConfig, Lot, ProcessVar, QualityCheck, StationConfig};
    use crate::dist::Dist;
    let var = |name: &str, mean: f64, sd: f64, tau_s: f64, alarm_above: Option<f64>| ProcessVar {
        name: name.into(),
        mean,
        sd,
        tau_s,
        drifts: vec![],
        alarm_above,
        alarm_below: None,
    };
    let mut cut = StationConfig::new("cut", Dist::LogNormal { mean: 10.0, cv: 0.1 }, 1);
    cut.consumes = vec![Consumption {
        component: "bar".into(),
        per_unit: 1,
    }];
    let mut mill = StationConfig::new("mill", Dist::LogNormal { mean: 18.0, cv: 0.15 }, 2).with_buffer(Some(6));
    mill.process_vars = vec![var("spindle_temp", 42.0, 2.0, 1800.0, Some(47.0)), var("spindle_load", 60.0, 5.0, 0.0, None)];
    let mut wash = StationConfig::new("wash", Dist::Deterministic { value: 8.0 }, 1).with_buffer(Some(6));
    wash.process_vars = vec![var("bath_temp", 55.0, 0.5, 3600.0, None)];
    let inspect = StationConfig::new("inspect", Dist::Deterministic { value: 6.0 }, 1).with_buffer(Some(6));
    let mut l = LineConfig::serial("bench", vec![cut, mill, wash, inspect]);
    l.components = vec![ComponentSupply {
        component: "bar".into(),
        lots: (0..lots)
            .map(|k| Lot {
                id: format!("BAR-{tag}-{k:05}"),
                quantity: lot_size,
                arrival_s: 0.0,
            })
            .collect(),
    }];
    l.quality = vec![QualityCheck {
        name: "diameter".into(),
        at: "inspect".into(),
        nominal: 0.0,
        noise_sd: 3.0,
        lower: -12.0,
        upper: 12.0,
        effects: vec![Effect {
            station: "mill".into(),
            var: "spindle_temp".into(),
            coef: 1.5,
        }],
        on_fail: Default::default(),
    }];
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_line_is_valid_and_paced_by_its_cut() {
        let l = reference_line(10, 100, "t");
        l.validate().unwrap();
        let r = crate::simulate(&l, &crate::SimOptions::new(1, 3600.0, 0.0)).unwrap();
        assert!(r.kpis.good + r.kpis.scrap > 300 && r.kpis.good + r.kpis.scrap < 370, "{:?}", r.kpis);
    }

    fn log() -> TraceLog {
        TraceLog {
            start_ns: 1_000_000_000_000,
            products: vec!["p".into()],
            stations: vec!["s1".into(), "s2".into()],
            assets: vec!["a1".into(), "a2".into()],
            lots: vec!["L1".into(), "L2".into()],
            checks: vec!["dim".into()],
            var_names: vec![vec!["temp".into()], vec![]],
            units: (0..3)
                .map(|k| UnitRecord {
                    serial: k,
                    product: 0,
                    source: 0,
                    entered_s: k as f64 * 10.0,
                    exit_s: k as f64 * 10.0 + 25.0,
                    scrapped: k == 2,
                })
                .collect(),
            continued: Vec::new(),
            visits: (0..3u64)
                .flat_map(|k| {
                    let t = k as f64 * 10.0;
                    [
                        VisitRecord {
                            serial: k,
                            station: 1,
                            asset: 1,
                            start_s: t + 15.0,
                            end_s: t + 25.0,
                            health: 0.9,
                            alarm: false,
                            cond_start: 0,
                            cond_len: 0,
                        },
                        VisitRecord {
                            serial: k,
                            station: 0,
                            asset: 0,
                            start_s: t,
                            end_s: t + 10.0,
                            health: 1.0,
                            alarm: k == 1,
                            cond_start: k as u32,
                            cond_len: 1,
                        },
                    ]
                })
                .collect(),
            conditions: vec![60.0, 75.0, 61.0],
            lots_used: vec![(0, 0), (1, 0), (2, 1)],
            quality: vec![
                QualityRecord {
                    serial: 0,
                    check: 0,
                    value: 1.0,
                    pass: true,
                    t_s: 25.0,
                },
                QualityRecord {
                    serial: 1,
                    check: 0,
                    value: 1.2,
                    pass: true,
                    t_s: 35.0,
                },
                QualityRecord {
                    serial: 2,
                    check: 0,
                    value: 2.0,
                    pass: false,
                    t_s: 45.0,
                },
            ],
            alarms: vec![AlarmRecord {
                asset: 0,
                start_s: 10.0,
                end_s: 20.0,
            }],
        }
    }

    #[test]
    fn queries_both_ways() {
        let ix = TraceIndex::from_log(&log());
        assert_eq!((ix.units(), ix.visits()), (3, 6));
        let g = ix.unit(1).unwrap();
        assert_eq!(g.visits.len(), 2);
        assert_eq!(g.visits[0].station, "s1");
        assert_eq!(g.visits[0].start_ns, 1_000_000_000_000 + 10_000_000_000);
        assert_eq!(g.visits[0].conditions, vec![("temp".to_string(), 75.0)]);
        assert!(g.visits[0].alarm);
        assert_eq!(g.lots, vec!["L1".to_string()]);
        assert_eq!(g.quality[0].check, "dim");
        assert_eq!(g.quality[0].at_ns, 1_000_000_000_000 + 35_000_000_000);
        assert_eq!(ix.quality_series("dim").iter().map(|x| x.2).collect::<Vec<_>>(), vec![true, true, false]);
        assert!(ix.quality_series("nope").is_empty());
        assert!(ix.unit(2).unwrap().scrapped);
        assert!(ix.unit(99).is_none());
        let t = |s: f64| 1_000_000_000_000 + (s * 1e9) as i64;
        assert_eq!(ix.units_by_asset("a1", t(5.0), t(15.0)), vec![0, 1]);
        assert_eq!(ix.units_by_asset("a1", t(10.0), t(10.5)), vec![1]);
        assert_eq!(ix.units_by_asset("a2", t(0.0), t(100.0)), vec![0, 1, 2]);
        assert!(ix.units_by_asset("zz", 0, i64::MAX).is_empty());
        assert_eq!(ix.units_in_alarm("a1"), vec![1]);
        assert_eq!(ix.units_with_lot("L1"), vec![0, 1]);
        assert_eq!(ix.units_with_lot("L2"), vec![2]);
        assert_eq!(ix.variable_series("s1", "temp").iter().map(|x| x.1).collect::<Vec<_>>(), vec![60.0, 75.0, 61.0]);
        assert!(ix.memory_bytes() > 0);
    }

    #[test]
    fn several_logs_merge_by_name_and_external_alarms_count() {
        let mut b = TraceBuilder::new();
        let a = log();
        let mut c = log();
        for u in &mut c.units {
            u.serial += 100;
        }
        for v in &mut c.visits {
            v.serial += 100;
        }
        for l in &mut c.lots_used {
            l.0 += 100;
        }
        for q in &mut c.quality {
            q.serial += 100;
        }
        c.start_ns += 1_000_000_000_000;
        c.assets.reverse(); // ids differ, names the same
        for v in &mut c.visits {
            v.asset = 1 - v.asset;
        }
        c.alarms.clear();
        b.add(&a);
        b.add(&c);
        b.add_alarm("a2", c.start_ns, c.start_ns + 16_000_000_000);
        let ix = b.finish();
        assert_eq!(ix.units(), 6);
        assert_eq!(ix.units_with_lot("L1"), vec![0, 1, 100, 101]);
        assert_eq!(ix.unit(101).unwrap().visits[0].asset, "a1");
        assert_eq!(ix.units_in_alarm("a2"), vec![100]);
    }

    #[test]
    fn a_unit_continued_in_a_later_log_keeps_one_record_and_all_its_visits() {
        let first = log();
        // serial 2 was still in the line at the end of the first log; the second log finishes it
        let mut a = first.clone();
        a.units[2].exit_s = f64::NAN;
        a.units[2].scrapped = false;
        a.visits.retain(|v| !(v.serial == 2 && v.station == 1));
        a.quality.retain(|q| q.serial != 2);
        let b = TraceLog {
            start_ns: first.start_ns + 40_000_000_000,
            continued: vec![UnitRecord {
                serial: 2,
                product: 0,
                source: 0,
                entered_s: -20.0,
                exit_s: 5.0,
                scrapped: true,
            }],
            visits: vec![VisitRecord {
                serial: 2,
                station: 1,
                asset: 1,
                start_s: -5.0,
                end_s: 5.0,
                health: 0.9,
                ..VisitRecord::default()
            }],
            ..first.clone()
        };
        let b = TraceLog {
            units: Vec::new(),
            lots_used: Vec::new(),
            quality: Vec::new(),
            alarms: Vec::new(),
            ..b
        };
        let mut builder = TraceBuilder::new();
        builder.add(&a);
        builder.add(&b);
        let ix = builder.finish();
        assert_eq!(ix.units(), 3);
        assert_eq!(ix.serials(), &[0, 1, 2]);
        let g = ix.unit(2).unwrap();
        assert!(g.scrapped);
        assert_eq!(g.entered_ns, Some(first.start_ns + 20_000_000_000));
        assert_eq!(g.exit_ns, Some(first.start_ns + 45_000_000_000));
        assert_eq!(g.visits.iter().map(|v| v.station.as_str()).collect::<Vec<_>>(), vec!["s1", "s2"]);
        assert_eq!(g.visits[1].start_ns, first.start_ns + 35_000_000_000);
        assert_eq!(ix.time_span(), Some((first.start_ns, first.start_ns + 45_000_000_000)));
    }
}
