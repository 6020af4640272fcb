//! Bottleneck detection by the **active-period method** (Roser, Nakano & Tanaka, "Shifting bottleneck
//! detection", Proc. Winter Simulation Conference 2002; and "A practical bottleneck detection method",
//! WSC 2001).
//!
//! A station is *active* while it is not waiting: processing, changing over, down or in maintenance. It is
//! *inactive* while any of its machines is starved, blocked or waiting for material (or the line is not
//! scheduled). At any instant the station whose *current* uninterrupted active period is the longest is
//! the momentary bottleneck: it is the one that constrains the others longest. When the bottleneck
//! passes from station A to station B, the time where A's and B's active periods overlap is a *shifting
//! bottleneck* period for both; the rest of a station's bottleneck time is *sole* bottleneck time.
//! A station's bottleneck share = (sole + shifting) ÷ analysed time; the line's bottleneck is the
//! station with the largest share. Roser et al. also rank by the mean active period duration (the
//! *average* active period method); both are reported.

use serde::{Deserialize, Serialize};

/// Bottleneck shares per station.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Bottleneck {
    /// Index of the station with the largest total share, if any station was active.
    pub station: Option<usize>,
    pub id: Option<String>,
    /// Sole bottleneck share of the analysed time, per station.
    pub sole: Vec<f64>,
    /// Shifting bottleneck share, per station.
    pub shifting: Vec<f64>,
    /// sole + shifting.
    pub total: Vec<f64>,
    /// Mean duration of the station's active periods, seconds.
    pub mean_active_s: Vec<f64>,
}

fn intersect_len(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if hi > lo {
            s += hi - lo;
        }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    s
}

fn merge(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(v.len());
    for x in v {
        match out.last_mut() {
            Some(l) if x.0 <= l.1 => l.1 = l.1.max(x.1),
            _ => out.push(x),
        }
    }
    out
}

/// The active-period method over `periods[station]` (sorted, disjoint active periods), analysed within
/// `[t0, t1]`; shares are of `analysed_s` (the scheduled time in the window). Periods are clipped to the
/// window but their *durations* (which decide the bottleneck) are the full ones.
pub fn active_period_method(periods: &[Vec<(f64, f64)>], t0: f64, t1: f64, analysed_s: f64, ids: &[String]) -> Bottleneck {
    let n = periods.len();
    // events: (time, is_start, station, interval)
    let mut ev: Vec<(f64, bool, usize, usize)> = Vec::new();
    for (k, p) in periods.iter().enumerate() {
        for (i, &(a, b)) in p.iter().enumerate() {
            let (a2, b2) = (a.max(t0), b.min(t1));
            if b2 > a2 {
                ev.push((a2, true, k, i));
                ev.push((b2, false, k, i));
            }
        }
    }
    ev.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let dur = |k: usize, i: usize| periods[k][i].1 - periods[k][i].0;
    let mut cur: Vec<Option<usize>> = vec![None; n];
    // merged momentary-bottleneck segments (start, end, station, interval)
    let mut segs: Vec<(f64, f64, usize, usize)> = Vec::new();
    let mut e = 0;
    while e < ev.len() {
        let t = ev[e].0;
        while e < ev.len() && ev[e].0 == t {
            let (_, start, k, i) = ev[e];
            cur[k] = if start { Some(i) } else { None };
            e += 1;
        }
        let Some(&(t_next, ..)) = ev.get(e) else { break };
        let best = (0..n)
            .filter_map(|k| cur[k].map(|i| (k, i)))
            .max_by(|a, b| dur(a.0, a.1).total_cmp(&dur(b.0, b.1)).then(b.0.cmp(&a.0)));
        if let Some((k, i)) = best {
            match segs.last_mut() {
                Some(l) if l.2 == k && l.3 == i && l.1 == t => l.1 = t_next,
                _ => segs.push((t, t_next, k, i)),
            }
        }
    }
    let mut shifting: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    for w in segs.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.2 != b.2 && a.1 == b.0 {
            let (ia, ib) = (periods[a.2][a.3], periods[b.2][b.3]);
            let lo = ia.0.max(ib.0).max(t0);
            let hi = ia.1.min(ib.1).min(t1);
            if hi > lo {
                shifting[a.2].push((lo, hi));
                shifting[b.2].push((lo, hi));
            }
        }
    }
    let mut own: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    for s in &segs {
        own[s.2].push((s.0, s.1));
    }
    let d = if analysed_s > 0.0 { analysed_s } else { 1.0 };
    let mut sole = vec![0.0; n];
    let mut shift = vec![0.0; n];
    for k in 0..n {
        let sh = merge(std::mem::take(&mut shifting[k]));
        let own_k = merge(std::mem::take(&mut own[k]));
        let own_len: f64 = own_k.iter().map(|x| x.1 - x.0).sum();
        let sh_len: f64 = sh.iter().map(|x| x.1 - x.0).sum();
        sole[k] = (own_len - intersect_len(&own_k, &sh)).max(0.0) / d;
        shift[k] = sh_len / d;
    }
    let total: Vec<f64> = (0..n).map(|k| sole[k] + shift[k]).collect();
    let mean_active_s = periods
        .iter()
        .map(|p| {
            let inside: Vec<f64> = p.iter().filter(|x| x.1 > t0 && x.0 < t1).map(|x| x.1 - x.0).collect();
            if inside.is_empty() {
                0.0
            } else {
                inside.iter().sum::<f64>() / inside.len() as f64
            }
        })
        .collect();
    let station = (0..n)
        .filter(|&k| total[k] > 0.0)
        .max_by(|&a, &b| total[a].total_cmp(&total[b]).then(b.cmp(&a)));
    Bottleneck {
        station,
        id: station.and_then(|k| ids.get(k).cloned()),
        sole,
        shifting: shift,
        total,
        mean_active_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roser_style_example() {
        // A: active [0,10), [12,14); B: [5,20). At t in [0,5) only A → A (dur 10). [5,10): A dur 10 vs B dur 15 → B.
        // So the bottleneck passes A→B at t=5 with overlap [5,10) of A's [0,10) and B's [5,20): shifting for both.
        let p = vec![vec![(0.0, 10.0), (12.0, 14.0)], vec![(5.0, 20.0)]];
        let ids = vec!["a".to_string(), "b".to_string()];
        let b = active_period_method(&p, 0.0, 20.0, 20.0, &ids);
        assert!((b.sole[0] - 5.0 / 20.0).abs() < 1e-12, "{b:?}");
        assert!((b.shifting[0] - 5.0 / 20.0).abs() < 1e-12);
        assert!((b.shifting[1] - 5.0 / 20.0).abs() < 1e-12);
        // B is bottleneck over [5,20) = 15 s of which [5,10) shifting → sole 10.
        assert!((b.sole[1] - 10.0 / 20.0).abs() < 1e-12);
        assert_eq!(b.station, Some(1));
        assert_eq!(b.id.as_deref(), Some("b"));
        assert!((b.mean_active_s[0] - 6.0).abs() < 1e-12);
    }

    #[test]
    fn no_activity_no_bottleneck_and_window_clips() {
        let b = active_period_method(&[vec![], vec![]], 0.0, 10.0, 10.0, &[]);
        assert_eq!(b.station, None);
        let p = vec![vec![(0.0, 100.0)], vec![(50.0, 60.0)]];
        let b = active_period_method(&p, 40.0, 70.0, 30.0, &[]);
        assert!((b.sole[0] - 1.0).abs() < 1e-12);
        assert_eq!(b.total[1], 0.0);
    }
}
