//! Energy: each station's electrical power as a function of its state and load, energy per good unit,
//! and cost under a time-of-use tariff.
//!
//! Power model (per machine): `P = P_state` in the non-productive states (off, maintenance, down,
//! changeover, blocked, starved / no material) and, while processing,
//! `P_busy(load) = P_idle + (P_rated − P_idle)·load`, linear in the load (the machine-tool model of
//! Gutowski, Dahmus & Thiriez, "Electrical energy requirements for manufacturing processes", CIRP LCE
//! 2006: a constant idle power for the machine's auxiliaries plus a part proportional to the process
//! rate). The load is the machine's speed relative to nominal (station speed factor × health speed
//! factor), so a degraded machine draws less power per second but runs longer per unit. Energy is exact
//! for the simulated state times: `E = Σ_states P_state·t_state + P_idle·t_busy + (P_rated − P_idle)·Σ load·dt`.
//!
//! Tariff: a price per kWh for each hour of a repeating period (24 h or a 168 h week), hour 0 = sim time 0
//! (Monday 00:00 local). The cost of a run uses its hourly state-time buckets ([`crate::des::SimOptions::bucket_s`]).

use serde::{Deserialize, Serialize};

use crate::LineError;
use crate::config::LineConfig;
use crate::results::{RunResult, StateTimes};

/// Electrical power of one machine by state, kW.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerModel {
    /// Not scheduled (standby or switched off).
    pub off_kw: f64,
    /// Powered, waiting for a unit (starved, no material).
    pub idle_kw: f64,
    /// Holding a finished unit; default: `idle_kw`.
    #[serde(default)]
    pub blocked_kw: Option<f64>,
    /// Processing at nominal load.
    pub busy_kw: f64,
    pub setup_kw: f64,
    pub down_kw: f64,
    pub maintenance_kw: f64,
}

impl PowerModel {
    /// A machine with rated power `busy_kw`, idling at `idle_kw`, standby 5 % of rated, changeover at idle,
    /// down and in maintenance at standby.
    pub fn simple(busy_kw: f64, idle_kw: f64) -> PowerModel {
        let standby = 0.05 * busy_kw;
        PowerModel {
            off_kw: standby,
            idle_kw,
            blocked_kw: None,
            busy_kw,
            setup_kw: idle_kw,
            down_kw: standby,
            maintenance_kw: standby,
        }
    }

    /// Power while processing at `load`, kW.
    pub fn busy_at(&self, load: f64) -> f64 {
        self.idle_kw + (self.busy_kw - self.idle_kw) * load
    }

    /// Energy over `t` (server-seconds per state) with `busy_load_s` = Σ busy seconds × load, kWh.
    pub fn energy_kwh(&self, t: &StateTimes, busy_load_s: f64) -> f64 {
        let kj = self.off_kw * t.off
            + self.maintenance_kw * t.maintenance
            + self.down_kw * t.down
            + self.setup_kw * t.setup
            + self.blocked_kw.unwrap_or(self.idle_kw) * t.blocked
            + self.idle_kw * (t.starved + t.no_material)
            + self.idle_kw * t.busy
            + (self.busy_kw - self.idle_kw) * busy_load_s;
        kj / 3600.0
    }

    pub fn validate(&self, field: &str) -> Result<(), LineError> {
        let all = [
            self.off_kw,
            self.idle_kw,
            self.blocked_kw.unwrap_or(0.0),
            self.busy_kw,
            self.setup_kw,
            self.down_kw,
            self.maintenance_kw,
        ];
        if all.iter().all(|x| x.is_finite() && *x >= 0.0) {
            Ok(())
        } else {
            Err(LineError::invalid(field, "powers must be finite and ≥ 0"))
        }
    }
}

/// A time-of-use tariff: price per kWh for each hour of a repeating period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tariff {
    /// Price per kWh (any currency) of hour `h mod len`.
    pub hourly: Vec<f64>,
}

impl Tariff {
    pub fn flat(price: f64) -> Tariff {
        Tariff { hourly: vec![price] }
    }

    /// A daily two-rate tariff: `peak` in `[peak_start_h, peak_end_h)`, `off_peak` otherwise.
    pub fn day_night(peak: f64, off_peak: f64, peak_start_h: usize, peak_end_h: usize) -> Tariff {
        Tariff {
            hourly: (0..24).map(|h| if h >= peak_start_h && h < peak_end_h { peak } else { off_peak }).collect(),
        }
    }

    /// Price at sim time `t_s`.
    pub fn price_at(&self, t_s: f64) -> f64 {
        if self.hourly.is_empty() {
            return 0.0;
        }
        let h = (t_s / 3600.0).floor().max(0.0) as usize;
        self.hourly[h % self.hourly.len()]
    }

    pub fn validate(&self) -> Result<(), LineError> {
        if !self.hourly.is_empty() && self.hourly.iter().all(|x| x.is_finite() && *x >= 0.0) {
            Ok(())
        } else {
            Err(LineError::invalid("tariff.hourly", "at least one price, all finite and ≥ 0"))
        }
    }
}

/// Energy and cost of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyReport {
    pub energy_kwh: f64,
    pub cost: f64,
    pub good: u64,
    pub kwh_per_good_unit: f64,
    pub cost_per_good_unit: f64,
    /// (station, kWh, cost)
    pub by_station: Vec<(String, f64, f64)>,
}

/// Energy and tariff cost of `run` (simulated from `config` with buckets whose width divides an hour).
pub fn energy_report(config: &LineConfig, run: &RunResult, tariff: &Tariff) -> Result<EnergyReport, LineError> {
    tariff.validate()?;
    let b = run
        .buckets
        .as_ref()
        .ok_or_else(|| LineError::invalid("options.bucket_s", "the run needs state-time buckets for a tariff"))?;
    if !(b.width_s <= 3600.0 && (3600.0 / b.width_s).fract().abs() < 1e-9) {
        return Err(LineError::invalid("options.bucket_s", "bucket width must divide one hour"));
    }
    let mut by_station = Vec::new();
    let (mut e_tot, mut c_tot) = (0.0, 0.0);
    for (i, s) in config.stations.iter().enumerate() {
        let Some(pm) = s.power else { continue };
        pm.validate(&format!("stations.{}.power", s.id))?;
        let (mut e, mut c) = (0.0, 0.0);
        for (k, t) in b.time[i].iter().enumerate() {
            let ek = pm.energy_kwh(t, b.busy_load[i][k]);
            e += ek;
            c += ek * tariff.price_at((k as f64 + 0.5) * b.width_s);
        }
        e_tot += e;
        c_tot += c;
        by_station.push((s.id.clone(), e, c));
    }
    let good = run.kpis.good;
    let per = |x: f64| if good > 0 { x / good as f64 } else { 0.0 };
    Ok(EnergyReport {
        energy_kwh: e_tot,
        cost: c_tot,
        good,
        kwh_per_good_unit: per(e_tot),
        cost_per_good_unit: per(c_tot),
        by_station,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Calendar, StationConfig};
    use crate::des::{SimOptions, simulate};
    use crate::dist::Dist;

    #[test]
    fn power_model_energy_is_state_weighted() {
        let pm = PowerModel {
            off_kw: 1.0,
            idle_kw: 2.0,
            blocked_kw: Some(3.0),
            busy_kw: 10.0,
            setup_kw: 4.0,
            down_kw: 0.5,
            maintenance_kw: 0.0,
        };
        let t = StateTimes {
            off: 3600.0,
            busy: 3600.0,
            blocked: 3600.0,
            setup: 1800.0,
            down: 7200.0,
            starved: 1800.0,
            ..StateTimes::default()
        };
        // busy at load 0.5 for the hour: 2 + 8·0.5 = 6 kWh
        let e = pm.energy_kwh(&t, 1800.0);
        assert!((e - (1.0 + 6.0 + 3.0 + 2.0 + 1.0 + 1.0)).abs() < 1e-12, "{e}");
        assert_eq!(pm.busy_at(1.0), 10.0);
        assert!(PowerModel::simple(10.0, 2.0).validate("p").is_ok());
        let tf = Tariff::day_night(0.3, 0.1, 6, 22);
        assert_eq!(tf.price_at(5.0 * 3600.0), 0.1);
        assert_eq!(tf.price_at(30.0 * 3600.0), 0.3);
        assert!(Tariff { hourly: vec![] }.validate().is_err());
    }

    #[test]
    fn tariff_cost_follows_the_shift() {
        let mut s = StationConfig::new("a", Dist::Deterministic { value: 60.0 }, 1);
        s.power = Some(PowerModel::simple(10.0, 2.0));
        let mut day = crate::config::LineConfig::serial("l", vec![s]);
        day.calendar = Some(Calendar::daily(7, 8.0, 16.0));
        let mut night = day.clone();
        night.calendar = Some(Calendar::daily(7, 22.0, 30.0));
        let o = SimOptions {
            bucket_s: Some(3600.0),
            ..SimOptions::new(1, 7.0 * 86_400.0, 0.0)
        };
        let tf = Tariff::day_night(0.30, 0.10, 6, 22);
        let rd = simulate(&day, &o).unwrap();
        let rn = simulate(&night, &o).unwrap();
        let ed = energy_report(&day, &rd, &tf).unwrap();
        let en = energy_report(&night, &rn, &tf).unwrap();
        assert_eq!(rd.kpis.good, rn.kpis.good);
        assert!((ed.energy_kwh - en.energy_kwh).abs() < 1e-6);
        // 8 h × 10 kW busy + 16 h × 0.5 kW standby per day
        assert!((ed.energy_kwh - 7.0 * (80.0 + 8.0)).abs() < 1e-6, "{}", ed.energy_kwh);
        assert!((rd.kpis.energy_kwh - ed.energy_kwh).abs() < 1e-9);
        // day: 80 kWh at 0.30 + standby; night: 80 at 0.10
        assert!(
            en.cost_per_good_unit < 0.5 * ed.cost_per_good_unit,
            "{} {}",
            en.cost_per_good_unit,
            ed.cost_per_good_unit
        );
        assert!((ed.kwh_per_good_unit - ed.energy_kwh / rd.kpis.good as f64).abs() < 1e-12);
        let no_buckets = simulate(&day, &SimOptions::new(1, 3600.0, 0.0)).unwrap();
        assert!(energy_report(&day, &no_buckets, &tf).is_err());
    }
}
