//! Work orders: planned maintenance as a CMMS sees it, with its life cycle
//!
//! ```text
//! proposed ──approve──▶ approved ──schedule──▶ scheduled ──start──▶ in_progress ──complete──▶ done
//!    │                     │                      │                     │
//!    └──reject──▶ rejected └──────cancel──────────┴──────cancel─────────┘──▶ cancelled
//! ```
//!
//! Every transition is checked ([`WorkOrder::transition`]) and recorded with who made it and when.

use serde::{Deserialize, Serialize};

use crate::PlanError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WoState {
    Proposed,
    Approved,
    Scheduled,
    InProgress,
    Done,
    Rejected,
    Cancelled,
}

impl WoState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WoState::Proposed => "proposed",
            WoState::Approved => "approved",
            WoState::Scheduled => "scheduled",
            WoState::InProgress => "in_progress",
            WoState::Done => "done",
            WoState::Rejected => "rejected",
            WoState::Cancelled => "cancelled",
        }
    }

    /// Whether the order is finished (no further transition).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, WoState::Done | WoState::Rejected | WoState::Cancelled)
    }

    /// Whether `self → to` is allowed.
    #[must_use]
    pub fn can_go(self, to: WoState) -> bool {
        use WoState::*;
        matches!(
            (self, to),
            (Proposed, Approved | Rejected | Cancelled)
                | (Approved, Scheduled | Cancelled)
                | (Scheduled, InProgress | Cancelled)
                | (InProgress, Done | Cancelled)
        )
    }
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub ts_ns: i64,
    pub from: WoState,
    pub to: WoState,
    pub actor: String,
    #[serde(default)]
    pub note: String,
}

/// A maintenance work order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: String,
    pub asset: String,
    pub line: String,
    /// "planned" (from the plan) or "corrective" (after a failure).
    pub kind: String,
    pub state: WoState,
    pub crew: Option<String>,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub parts: Vec<String>,
    /// Plan version and recommendation that justified the order.
    pub plan_version: u64,
    pub recommendation: Option<String>,
    pub created_ns: i64,
    pub history: Vec<Transition>,
}

impl WorkOrder {
    /// Moves to `to`, recording who did it.
    ///
    /// # Errors
    /// [`PlanError::State`] naming the current and requested state when the transition is not allowed.
    pub fn transition(&mut self, to: WoState, ts_ns: i64, actor: &str, note: &str) -> Result<(), PlanError> {
        if !self.state.can_go(to) {
            return Err(PlanError::State(format!(
                "work order {} is {} and cannot become {}",
                self.id,
                self.state.as_str(),
                to.as_str()
            )));
        }
        self.history.push(Transition {
            ts_ns,
            from: self.state,
            to,
            actor: actor.to_string(),
            note: note.to_string(),
        });
        self.state = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wo() -> WorkOrder {
        WorkOrder {
            id: "WO-1".into(),
            asset: "m1".into(),
            line: "L1".into(),
            kind: "planned".into(),
            state: WoState::Proposed,
            crew: Some("day".into()),
            start_ns: Some(10),
            end_ns: Some(20),
            parts: vec![],
            plan_version: 3,
            recommendation: Some("R-1".into()),
            created_ns: 0,
            history: vec![],
        }
    }

    #[test]
    fn the_life_cycle_is_enforced_and_recorded() {
        let mut w = wo();
        assert!(w.transition(WoState::Done, 1, "alice", "").is_err());
        for (to, t) in [(WoState::Approved, 1), (WoState::Scheduled, 2), (WoState::InProgress, 3), (WoState::Done, 4)] {
            w.transition(to, t, "alice", "").unwrap();
        }
        assert_eq!(w.history.len(), 4);
        assert!(w.state.is_final());
        let e = w.transition(WoState::Cancelled, 5, "bob", "").unwrap_err().to_string();
        assert!(e.contains("is done and cannot become cancelled"), "{e}");
    }
}
