//! In-memory write buffer: per-series append vectors indexed by dense series id.

use std::time::Instant;

use crate::{Event, Sample};

/// One buffered point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MemPoint {
    pub ts: i64,
    pub value: f64,
    pub context: u32,
}

/// Append-only buffer of samples and events in WAL order.
#[derive(Debug)]
pub(crate) struct Memtable {
    /// `series[id]` holds that series' points in WAL (write) order.
    pub series: Vec<Vec<MemPoint>>,
    pub samples: usize,
    pub events: Vec<Event>,
    pub created: Instant,
}

impl Memtable {
    pub fn new() -> Self {
        Memtable {
            series: Vec::new(),
            samples: 0,
            events: Vec::new(),
            created: Instant::now(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0 && self.events.is_empty()
    }

    pub fn insert(&mut self, samples: &[Sample]) {
        if self.is_empty() {
            self.created = Instant::now();
        }
        for s in samples {
            let i = s.series.0 as usize;
            if i >= self.series.len() {
                self.series.resize_with(i + 1, Vec::new);
            }
            self.series[i].push(MemPoint {
                ts: s.ts,
                value: s.value,
                context: s.context,
            });
        }
        self.samples += samples.len();
    }

    pub fn insert_events(&mut self, events: &[Event]) {
        if self.is_empty() {
            self.created = Instant::now();
        }
        self.events.extend_from_slice(events);
    }

    /// Appends this series' points with `start <= ts < end`, in write order.
    pub fn collect(&self, series: u32, start: i64, end: i64, out: &mut Vec<MemPoint>) {
        if let Some(v) = self.series.get(series as usize) {
            out.extend(v.iter().filter(|p| p.ts >= start && p.ts < end));
        }
    }

    /// Latest point (max ts, later write wins on ties).
    pub fn latest(&self, series: u32) -> Option<MemPoint> {
        let v = self.series.get(series as usize)?;
        let mut best: Option<MemPoint> = None;
        for p in v {
            if best.is_none_or(|b| p.ts >= b.ts) {
                best = Some(*p);
            }
        }
        best
    }
}

/// Sorts by ts (stable, so write order is kept among equal timestamps) and keeps the
/// last point of every timestamp: "later write wins".
pub(crate) fn sort_dedup_last(points: &mut Vec<MemPoint>) {
    let strictly_sorted = points.windows(2).all(|w| w[0].ts < w[1].ts);
    if strictly_sorted {
        return;
    }
    points.sort_by_key(|p| p.ts);
    let mut w = 0usize;
    for r in 0..points.len() {
        if w > 0 && points[w - 1].ts == points[r].ts {
            points[w - 1] = points[r];
        } else {
            points[w] = points[r];
            w += 1;
        }
    }
    points.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_last_write() {
        let p = |ts, value| MemPoint { ts, value, context: 0 };
        let mut v = vec![p(3, 1.0), p(1, 2.0), p(3, 3.0), p(2, 4.0), p(1, 5.0)];
        sort_dedup_last(&mut v);
        assert_eq!(v, vec![p(1, 5.0), p(2, 4.0), p(3, 3.0)]);
    }
}
