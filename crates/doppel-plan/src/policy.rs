//! Autonomy with guardrails: per action type and asset class, whether the twin only *recommends* (a person
//! approves or rejects), acts *automatically within limits*, or does nothing (*off*).
//!
//! Rules come from the business file (`[[guardrails]]`) or the API. The most specific rule wins (a rule naming
//! the class beats one for every class). Without any rule an action is recommended. Hard guardrails hold
//! whatever the rules say:
//! * an automatic derate never exceeds the rule's `max_derate` (default 20 %): a deeper one is carried out up to
//!   the limit and the rest needs approval;
//! * a line is never stopped without approval: an automatic maintenance must lie inside a planned downtime window
//!   of its line (or be on an asset that does not stop the line), and rules may demand windows for any action;
//! * an automatic action needs a plan whose failure risk justified it; "run on" is never an action.

use serde::{Deserialize, Serialize};

/// What the planner may do about an action type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Autonomy {
    /// Never proposed.
    Off,
    /// Proposed; a person approves or rejects.
    Recommend,
    /// Executed automatically when within the limits; otherwise proposed.
    Auto,
}

/// Action types a policy can govern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    Derate,
    Maintain,
    OrderParts,
    Reroute,
}

impl ActionType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ActionType::Derate => "derate",
            ActionType::Maintain => "maintain",
            ActionType::OrderParts => "order_parts",
            ActionType::Reroute => "reroute",
        }
    }
}

/// One guardrail rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub action: ActionType,
    /// Asset class the rule applies to; absent: every class.
    #[serde(default)]
    pub class: Option<String>,
    pub autonomy: Autonomy,
    /// Largest derate executed automatically (share of rated load).
    #[serde(default)]
    pub max_derate: Option<f64>,
    /// Automatic only inside a planned downtime window of the asset's line.
    #[serde(default)]
    pub only_in_windows: bool,
}

/// The facts about a proposed action that the guardrails check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposed<'a> {
    pub action: ActionType,
    pub class: &'a str,
    /// Derate share (derate actions).
    pub derate: f64,
    /// Whether the action stops a production line (maintenance of an asset in series).
    pub stops_line: bool,
    /// Whether the action falls inside a planned downtime window of its line.
    pub in_window: bool,
}

/// What to do with a proposed action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Execute now, without a person.
    Execute { rule: String },
    /// A derate deeper than the rule's automatic limit: execute the limit now, and ask a person about the rest.
    ExecuteLimited { rule: String, share: f64, reason: String },
    /// Ask a person; `reason` says why it is not automatic.
    Approve { reason: String },
    /// Not proposed at all (autonomy off).
    Suppress { rule: String },
}

const DEFAULT_MAX_DERATE: f64 = 0.2;

/// The rule set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

impl Policy {
    #[must_use]
    pub fn new(rules: Vec<Rule>) -> Policy {
        Policy { rules }
    }

    /// Checks the rules for problems (each named by index).
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(m) = r.max_derate
                && !(m.is_finite() && (0.0..1.0).contains(&m))
            {
                v.push(format!("guardrails[{i}].max_derate = {m}: must be in [0, 1)"));
            }
            if r.max_derate.is_some() && r.action != ActionType::Derate {
                v.push(format!("guardrails[{i}].max_derate: only derate rules have a derate limit"));
            }
        }
        v
    }

    /// The rule governing `action` on `class` (the most specific one; the last of equals).
    #[must_use]
    pub fn rule(&self, action: ActionType, class: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .filter(|r| r.action == action && r.class.as_deref().is_none_or(|c| c == class))
            .max_by_key(|r| r.class.is_some())
    }

    /// Decides what happens to a proposed action.
    #[must_use]
    pub fn decide(&self, p: &Proposed<'_>) -> Decision {
        let Some(rule) = self.rule(p.action, p.class) else {
            return Decision::Approve {
                reason: format!("no guardrail rule for {} on {}: recommend by default", p.action.as_str(), p.class),
            };
        };
        let name = format!("{}{}", p.action.as_str(), rule.class.as_ref().map(|c| format!(" on {c}")).unwrap_or_default());
        match rule.autonomy {
            Autonomy::Off => Decision::Suppress { rule: name },
            Autonomy::Recommend => Decision::Approve {
                reason: format!("rule '{name}' asks for approval"),
            },
            Autonomy::Auto => {
                if p.action == ActionType::Derate {
                    let limit = rule.max_derate.unwrap_or(DEFAULT_MAX_DERATE);
                    if p.derate > limit + 1e-9 {
                        let reason = format!(
                            "derate {:.0} % exceeds the automatic limit {:.0} % of rule '{name}'",
                            p.derate * 100.0,
                            limit * 100.0
                        );
                        if limit > 0.0 && (p.in_window || !rule.only_in_windows) {
                            return Decision::ExecuteLimited {
                                rule: name,
                                share: limit,
                                reason,
                            };
                        }
                        return Decision::Approve { reason };
                    }
                }
                if p.action == ActionType::Maintain && p.stops_line && !p.in_window {
                    return Decision::Approve {
                        reason: "stopping a production line outside a planned downtime window always needs approval".into(),
                    };
                }
                if rule.only_in_windows && !p.in_window {
                    return Decision::Approve {
                        reason: format!("rule '{name}' acts automatically only inside planned downtime windows"),
                    };
                }
                Decision::Execute { rule: name }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: ActionType, class: Option<&str>, autonomy: Autonomy) -> Rule {
        Rule {
            action,
            class: class.map(str::to_string),
            autonomy,
            max_derate: None,
            only_in_windows: false,
        }
    }

    fn proposed(action: ActionType, derate: f64, stops_line: bool, in_window: bool) -> Proposed<'static> {
        Proposed {
            action,
            class: "induction_motor",
            derate,
            stops_line,
            in_window,
        }
    }

    #[test]
    fn derates_are_automatic_only_within_the_limit() {
        let mut r = rule(ActionType::Derate, None, Autonomy::Auto);
        r.max_derate = Some(0.2);
        let p = Policy::new(vec![r]);
        assert!(matches!(p.decide(&proposed(ActionType::Derate, 0.2, false, false)), Decision::Execute { .. }));
        let Decision::ExecuteLimited { reason, share, .. } = p.decide(&proposed(ActionType::Derate, 0.3, false, false)) else {
            panic!()
        };
        assert!(reason.contains("30 %") && reason.contains("20 %") && (share - 0.2).abs() < 1e-12, "{reason}");
        let zero = Policy::new(vec![Rule {
            max_derate: Some(0.0),
            ..rule(ActionType::Derate, None, Autonomy::Auto)
        }]);
        assert!(matches!(
            zero.decide(&proposed(ActionType::Derate, 0.1, false, false)),
            Decision::Approve { .. }
        ));
    }

    #[test]
    fn a_line_is_never_stopped_without_approval() {
        let p = Policy::new(vec![rule(ActionType::Maintain, None, Autonomy::Auto)]);
        assert!(matches!(p.decide(&proposed(ActionType::Maintain, 0.0, true, false)), Decision::Approve { .. }));
        assert!(matches!(p.decide(&proposed(ActionType::Maintain, 0.0, true, true)), Decision::Execute { .. }));
        assert!(matches!(p.decide(&proposed(ActionType::Maintain, 0.0, false, false)), Decision::Execute { .. }));
    }

    #[test]
    fn the_most_specific_rule_wins_and_the_default_is_to_recommend() {
        let p = Policy::new(vec![
            rule(ActionType::Derate, Some("induction_motor"), Autonomy::Off),
            rule(ActionType::Derate, None, Autonomy::Auto),
        ]);
        assert!(matches!(p.decide(&proposed(ActionType::Derate, 0.1, false, false)), Decision::Suppress { .. }));
        let other = Proposed {
            class: "centrifugal_pump",
            ..proposed(ActionType::Derate, 0.1, false, false)
        };
        assert!(matches!(p.decide(&other), Decision::Execute { .. }));
        assert!(matches!(Policy::default().decide(&other), Decision::Approve { .. }));
        let bad = Policy::new(vec![Rule {
            max_derate: Some(1.5),
            ..rule(ActionType::Derate, None, Autonomy::Auto)
        }]);
        assert_eq!(bad.problems().len(), 1);
    }
}
