//! Line context history: which product / batch / work order / mode was in force on a line at any
//! time. Each change gets a context id; samples are tagged with the id in force at their timestamp.
//! The history is rebuilt from the stored `context` events at start-up.

use std::collections::HashMap;

use doppel_model::{ContextUpdate, LineContext};
use serde::{Deserialize, Serialize};

/// Event kind under which context changes are stored.
pub const CONTEXT_EVENT: &str = "context";

/// Payload of a stored context event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextRecord {
    pub line: String,
    pub context_id: u32,
    pub context: LineContext,
    pub update: ContextUpdate,
}

#[derive(Default)]
struct LineHistory {
    /// Sorted by (ts, id).
    entries: Vec<(i64, u32, LineContext)>,
}

/// Per-line context histories.
#[derive(Default)]
pub struct ContextTracker {
    lines: HashMap<String, LineHistory>,
    by_id: HashMap<u32, (String, LineContext)>,
    next_id: u32,
}

impl ContextTracker {
    pub fn new() -> ContextTracker {
        ContextTracker {
            next_id: 1,
            ..Default::default()
        }
    }

    /// Context id and context in force on `line` at `ts` (id 0 and the empty context before any change).
    pub fn at(&self, line: &str, ts: i64) -> (u32, Option<&LineContext>) {
        let Some(h) = self.lines.get(line) else { return (0, None) };
        let idx = h.entries.partition_point(|(t, _, _)| *t <= ts);
        if idx == 0 {
            (0, None)
        } else {
            (h.entries[idx - 1].1, Some(&h.entries[idx - 1].2))
        }
    }

    pub fn by_id(&self, id: u32) -> Option<&(String, LineContext)> {
        self.by_id.get(&id)
    }

    /// The latest context of a line (by timestamp) and when it took effect.
    pub fn current(&self, line: &str) -> Option<(i64, &LineContext)> {
        self.lines.get(line).and_then(|h| h.entries.last()).map(|(ts, _, c)| (*ts, c))
    }

    /// Computes the record for an update at `ts` without applying it (the caller stores it first).
    /// The update applies to the context in force at `ts`; a late update does not rewrite later entries.
    pub fn prepare(&self, line: &str, ts: i64, update: ContextUpdate) -> ContextRecord {
        let base = self.at(line, ts).1.cloned().unwrap_or_default();
        ContextRecord {
            line: line.to_string(),
            context_id: self.next_id,
            context: update.apply(&base),
            update,
        }
    }

    /// Applies a record (after it is durable, or when replaying stored events).
    pub fn apply(&mut self, ts: i64, rec: &ContextRecord) {
        let h = self.lines.entry(rec.line.clone()).or_default();
        let idx = h.entries.partition_point(|(t, id, _)| (*t, *id) <= (ts, rec.context_id));
        h.entries.insert(idx, (ts, rec.context_id, rec.context.clone()));
        self.by_id.insert(rec.context_id, (rec.line.clone(), rec.context.clone()));
        self.next_id = self.next_id.max(rec.context_id + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(product: &str) -> ContextUpdate {
        ContextUpdate {
            product: Some(Some(product.into())),
            ..Default::default()
        }
    }

    #[test]
    fn as_of_lookup() {
        let mut t = ContextTracker::new();
        assert_eq!(t.at("l1", 5).0, 0);
        let r1 = t.prepare("l1", 10, set("a"));
        t.apply(10, &r1);
        let r2 = t.prepare(
            "l1",
            20,
            ContextUpdate {
                batch: Some(Some("b7".into())),
                ..Default::default()
            },
        );
        t.apply(20, &r2);
        assert_eq!(t.at("l1", 9).0, 0);
        assert_eq!(t.at("l1", 10).1.unwrap().product.as_deref(), Some("a"));
        let c = t.at("l1", 25).1.unwrap();
        assert_eq!((c.product.as_deref(), c.batch.as_deref()), (Some("a"), Some("b7")));
        // A late update lands in its place in history.
        let r3 = t.prepare("l1", 15, set("z"));
        t.apply(15, &r3);
        assert_eq!(t.at("l1", 16).1.unwrap().product.as_deref(), Some("z"));
        assert_eq!(t.at("l1", 21).1.unwrap().product.as_deref(), Some("a"));
        assert_eq!(t.by_id(r3.context_id).unwrap().0, "l1");
        assert_eq!(t.at("l2", 100).0, 0);
    }
}
