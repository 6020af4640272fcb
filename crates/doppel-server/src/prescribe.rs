//! The prescriptive loop of the running twin: every `--plan-every-s` (and at once when predictions, orders or
//! inventory change) it builds the planning problem from the prediction engine's RUL distributions and the
//! business data, optimises it ([`doppel_plan`]), and turns the plan into **recommendations** (each with its
//! alternatives and their simulated consequences). The guardrail policy decides per action type and asset class:
//! *recommend* (a person approves or rejects through the API), *auto within limits* (executed at once through the
//! output adapters) or *off*.
//!
//! * Output adapters: commands to the plant over MQTT (`doppel/v1/command/{asset}`, acknowledged on
//!   `command_ack`), and a webhook that receives work orders (a CMMS).
//! * Approved maintenance becomes a **work order** (approved → scheduled → in progress → done); at its start the
//!   repair command goes to the plant, and the maintenance record naming the work order (MQTT or API) completes
//!   it. Completing it through the API also sends the repair command, so the plant (or simulator) renews the asset.
//! * Every approval, rejection, automatic action, command, rollback and work-order transition is appended to the
//!   hash-chained audit log (`{data_dir}/audit/audit.log`) with who or what decided, the prediction and the plan
//!   version that justified it.
//! * Executed actions can be rolled back: a derate is undone (load restored), a work order not yet done is
//!   cancelled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use doppel_ingest::command::{Command, CommandAction};
use doppel_model::time;
use doppel_plan::business::Business;
use doppel_plan::plan::{ActionKind, Alternative, Plan};
use doppel_plan::policy::{ActionType, Decision, Policy, Proposed};
use doppel_plan::workorder::{WoState, WorkOrder};
use doppel_plan::{AssetInput, PlanConfig, Problem, RulDist, SolveOptions};
use doppel_store::audit::{AuditInput, AuditLog, AuditRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::AppState;

const QUANTILES: usize = 40;

/// Planner settings of the server.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub config: PlanConfig,
    /// Time between re-optimisations (a change of orders or inventory triggers one at once).
    pub every: Duration,
    pub solve: SolveOptions,
    /// Hours of the assets' running time per hour of the planner's (wall) clock: 1 for a real plant; the demo's
    /// simulator at `--speed 30` runs 30 (RUL predictions are in running hours, plans in wall-clock hours).
    pub rul_scale: f64,
}

impl Default for PlanSettings {
    fn default() -> PlanSettings {
        PlanSettings {
            config: PlanConfig::default(),
            every: Duration::from_secs(60),
            solve: SolveOptions::default(),
            rul_scale: 1.0,
        }
    }
}

/// State of a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecState {
    /// Waiting for a person.
    Open,
    Approved,
    Rejected,
    /// Carried out automatically by the policy.
    Executed,
    /// A newer plan no longer proposes it.
    Superseded,
}

/// What the twin knew when it recommended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictionSnapshot {
    pub rul_median_h: Option<f64>,
    /// P(failure within the plan horizon) if nothing is done.
    pub risk_if_run_on: f64,
}

/// A proposed action with its alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub id: String,
    pub asset: String,
    pub line: String,
    pub class: String,
    pub action: ActionType,
    pub summary: String,
    pub derate: f64,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub crew: Option<String>,
    pub parts: Vec<String>,
    pub state: RecState,
    /// Why it needs a person (or which rule executed it).
    pub decision: String,
    pub plan_version: u64,
    pub created_ns: i64,
    pub updated_ns: i64,
    pub prediction: PredictionSnapshot,
    /// The alternatives considered for this asset, cheapest first, each simulated over the RUL scenarios.
    pub alternatives: Vec<Alternative>,
    pub work_order: Option<String>,
    pub executed_action: Option<String>,
    pub decided_by: Option<String>,
}

/// An action sent to the plant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutedAction {
    pub id: String,
    pub asset: String,
    /// `derate`, `repair` or `restore` (the rollback of a derate).
    pub kind: String,
    pub derate: Option<f64>,
    pub command_id: String,
    pub by: String,
    pub plan_version: u64,
    pub recommendation: Option<String>,
    pub work_order: Option<String>,
    pub ts_ns: i64,
    /// `sent`, `applied`, `rejected` (from the plant's acknowledgement), `no_adapter`, or `rolled_back`.
    pub status: String,
    pub detail: Option<String>,
}

/// The prescriptive state of the server.
pub struct Prescriber {
    pub business: Business,
    pub policy: Policy,
    pub settings: PlanSettings,
    version: u64,
    plan: Option<Arc<Plan>>,
    recs: Vec<Recommendation>,
    work_orders: Vec<WorkOrder>,
    actions: Vec<ExecutedAction>,
    next_id: u64,
    dirty: bool,
    commands: Option<UnboundedSender<Command>>,
    webhook: Option<Arc<doppel_ingest::webhook::Webhook>>,
    audit: Option<AuditLog>,
    last_error: Option<String>,
}

/// An error of a prescriptive API call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrescribeError {
    #[error("no {kind} '{id}'")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("audit log: {0}")]
    Audit(String),
}

impl Prescriber {
    #[must_use]
    pub fn new(business: Business, settings: PlanSettings) -> Prescriber {
        let policy = Policy::new(business.guardrails.clone());
        Prescriber {
            business,
            policy,
            settings,
            version: 0,
            plan: None,
            recs: Vec::new(),
            work_orders: Vec::new(),
            actions: Vec::new(),
            next_id: 1,
            dirty: true,
            commands: None,
            webhook: None,
            audit: None,
            last_error: None,
        }
    }

    /// Connects the output adapters and the audit log.
    pub fn connect(&mut self, commands: Option<UnboundedSender<Command>>, webhook: Option<doppel_ingest::webhook::Webhook>, audit: Option<AuditLog>) {
        self.commands = commands;
        self.webhook = webhook.map(Arc::new);
        self.audit = audit;
    }

    fn id(&mut self, prefix: &str) -> String {
        let id = format!("{prefix}-{}", self.next_id);
        self.next_id += 1;
        id
    }

    /// Appends to the audit log (a failure to write is returned: no unaudited action).
    fn audit(&mut self, ts_ns: i64, actor: &str, action: &str, subject: &str, detail: Value) -> Result<(), PrescribeError> {
        match &mut self.audit {
            Some(log) => log
                .append(AuditInput {
                    ts_ns,
                    actor: actor.to_string(),
                    action: action.to_string(),
                    subject: subject.to_string(),
                    detail,
                })
                .map(|_| ())
                .map_err(|e| PrescribeError::Audit(e.to_string())),
            None => Ok(()),
        }
    }

    /// Audit records, oldest first, from `since_seq` on.
    ///
    /// # Errors
    /// The audit log's read errors.
    pub fn audit_records(&self, since_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, PrescribeError> {
        match &self.audit {
            Some(log) => log.records(since_seq, limit).map_err(|e| PrescribeError::Audit(e.to_string())),
            None => Ok(Vec::new()),
        }
    }

    /// Marks the inputs as changed: the next planner tick re-optimises at once.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    #[must_use]
    pub fn plan(&self) -> Option<Arc<Plan>> {
        self.plan.clone()
    }

    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    #[must_use]
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    #[must_use]
    pub fn recommendations(&self) -> &[Recommendation] {
        &self.recs
    }

    #[must_use]
    pub fn work_orders(&self) -> &[WorkOrder] {
        &self.work_orders
    }

    #[must_use]
    pub fn actions(&self) -> &[ExecutedAction] {
        &self.actions
    }

    /// Replaces the business data (validated; relative times resolved against `now_ns`).
    ///
    /// # Errors
    /// [`PrescribeError::Invalid`] with every finding.
    pub fn set_business(&mut self, mut business: Business, now_ns: i64, actor: &str) -> Result<(), PrescribeError> {
        business.resolve_relative(now_ns);
        business.validate().map_err(|e| PrescribeError::Invalid(e.to_string()))?;
        self.audit(
            now_ns,
            actor,
            "business.update",
            "business",
            json!({"lines": business.lines.len(), "orders": business.orders.len(), "parts": business.parts.len(), "crews": business.crews.len(), "guardrails": business.guardrails}),
        )?;
        self.policy = Policy::new(business.guardrails.clone());
        self.business = business;
        self.dirty = true;
        Ok(())
    }

    fn send(&mut self, asset: &str, action: CommandAction, reason: String, now_ns: i64) -> (String, String) {
        let id = self.id("CMD");
        let status = match &self.commands {
            Some(tx) => {
                let cmd = Command {
                    asset: asset.to_string(),
                    id: id.clone(),
                    ts_ns: Some(now_ns),
                    action,
                    reason: Some(reason),
                };
                if tx.send(cmd).is_ok() { "sent" } else { "no_adapter" }
            }
            None => "no_adapter",
        };
        (id, status.to_string())
    }

    /// Applies a new plan: recommendations are created, updated or superseded; automatic actions run.
    pub fn apply_plan(&mut self, plan: Plan, now_ns: i64) {
        self.version += 1;
        let version = self.version;
        self.dirty = false;
        self.last_error = None;
        let mut wanted: Vec<(String, ActionType)> = Vec::new();
        for a in &plan.actions {
            let mut kinds = Vec::new();
            if a.derate > 0.0 {
                kinds.push(ActionType::Derate);
            }
            if a.kind == ActionKind::Maintain {
                kinds.push(ActionType::Maintain);
            }
            if a.order_parts || (a.kind == ActionKind::Maintain && plan.part_orders.iter().any(|o| a.parts.contains(&o.part))) {
                kinds.push(ActionType::OrderParts);
            }
            if a.kind == ActionKind::Maintain && plan.reroutes.iter().any(|r| r.line == a.line && Some(r.start_ns) == a.start_ns) {
                kinds.push(ActionType::Reroute);
            }
            for kind in kinds {
                wanted.push((a.asset.clone(), kind));
                self.recommend(&plan, a, kind, version, now_ns);
            }
        }
        let stale: Vec<usize> = (0..self.recs.len())
            .filter(|&i| self.recs[i].state == RecState::Open && !wanted.iter().any(|(a, k)| *a == self.recs[i].asset && *k == self.recs[i].action))
            .collect();
        for i in stale {
            self.recs[i].state = RecState::Superseded;
            self.recs[i].updated_ns = now_ns;
            self.close_proposed(i, WoState::Cancelled, "system", &format!("no longer proposed by plan v{version}"), now_ns);
        }
        self.plan = Some(Arc::new(plan));
    }

    fn recommend(&mut self, plan: &Plan, a: &doppel_plan::plan::AssetAction, kind: ActionType, version: u64, now_ns: i64) {
        let in_window = a.start_ns.is_some_and(|s| {
            let spans = self.business.windows_by_line();
            spans
                .get(a.line.as_str())
                .is_some_and(|v| v.iter().any(|w| w.start_ns <= s && a.end_ns.unwrap_or(s) <= w.end_ns))
        });
        let stops_line = self.business.class(&a.class).is_none_or(|c| c.stops_line);
        let summary = match kind {
            ActionType::Derate => format!(
                "derate {} by {:.0} %{}",
                a.asset,
                a.derate * 100.0,
                if a.kind == ActionKind::Maintain { " until its repair" } else { "" }
            ),
            ActionType::Maintain => format!(
                "repair {} at {} ({}, crew {})",
                a.asset,
                a.start_ns.map(time::format_rfc3339).unwrap_or_default(),
                if in_window {
                    "inside a planned downtime window"
                } else if stops_line {
                    "stops the line"
                } else {
                    "line keeps running"
                },
                a.crew.as_deref().unwrap_or("-")
            ),
            ActionType::OrderParts => format!(
                "order spare parts for {}: {}",
                a.asset,
                if a.parts.is_empty() {
                    "its repair kit".to_string()
                } else {
                    a.parts.join(", ")
                }
            ),
            ActionType::Reroute => match plan.reroutes.iter().find(|r| r.line == a.line && Some(r.start_ns) == a.start_ns) {
                Some(r) => format!(
                    "reroute {:.1} h of line {}'s production to {} while {} is repaired at {}",
                    r.hours,
                    r.line,
                    r.to.join(", "),
                    a.asset,
                    time::format_rfc3339(r.start_ns)
                ),
                None => format!("reroute line {} during the repair of {}", a.line, a.asset),
            },
        };
        let prediction = PredictionSnapshot {
            rul_median_h: a.rul_median_h,
            risk_if_run_on: a.risk_if_run_on,
        };
        // An open recommendation of the same asset and kind is updated with the new plan.
        if let Some(r) = self
            .recs
            .iter_mut()
            .find(|r| r.asset == a.asset && r.action == kind && r.state == RecState::Open)
        {
            r.summary = summary.clone();
            r.derate = a.derate;
            r.start_ns = a.start_ns;
            r.end_ns = a.end_ns;
            r.crew = a.crew.clone();
            r.parts = a.parts.clone();
            r.alternatives = a.alternatives.clone();
            r.prediction = prediction;
            r.plan_version = version;
            r.updated_ns = now_ns;
            let (w, start, end, crew) = (r.work_order.clone(), r.start_ns, r.end_ns, r.crew.clone());
            if let Some(wo) = w.and_then(|w| self.work_orders.iter_mut().find(|x| x.id == w && x.state == WoState::Proposed)) {
                wo.start_ns = start;
                wo.end_ns = end;
                wo.crew = crew;
                wo.plan_version = version;
            }
            return;
        }
        // Already carried out (or approved and under way): nothing new unless a deeper derate is proposed.
        let in_force = self
            .recs
            .iter()
            .filter(|r| r.asset == a.asset && r.action == kind && matches!(r.state, RecState::Approved | RecState::Executed))
            .map(|r| r.derate)
            .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))));
        if let Some(d) = in_force
            && !(kind == ActionType::Derate && a.derate > d + 1e-9)
        {
            return;
        }
        let decision = self.policy.decide(&Proposed {
            action: kind,
            class: &a.class,
            derate: a.derate,
            stops_line,
            in_window,
        });
        let id = self.id("REC");
        let mut rec = Recommendation {
            id: id.clone(),
            asset: a.asset.clone(),
            line: a.line.clone(),
            class: a.class.clone(),
            action: kind,
            summary,
            derate: a.derate,
            start_ns: a.start_ns,
            end_ns: a.end_ns,
            crew: a.crew.clone(),
            parts: a.parts.clone(),
            state: RecState::Open,
            decision: String::new(),
            plan_version: version,
            created_ns: now_ns,
            updated_ns: now_ns,
            prediction,
            alternatives: a.alternatives.clone(),
            work_order: None,
            executed_action: None,
            decided_by: None,
        };
        match decision {
            Decision::Suppress { rule } => {
                tracing::debug!(asset = %a.asset, action = kind.as_str(), rule, "suppressed by the guardrail policy");
                return;
            }
            Decision::Approve { reason } => rec.decision = reason,
            Decision::ExecuteLimited { rule, share, reason } if in_force.is_none_or(|d| share > d + 1e-9) => {
                // The limit now, automatically; the deeper derate stays open for a person.
                let mut limited = rec.clone();
                limited.id = self.id("REC");
                limited.derate = share;
                limited.summary = format!(
                    "derate {} by {:.0} % (automatic limit; {:.0} % proposed)",
                    a.asset,
                    share * 100.0,
                    a.derate * 100.0
                );
                limited.decision = format!("executed automatically under rule '{rule}', limited to {:.0} %", share * 100.0);
                let lid = limited.id.clone();
                self.recs.push(limited);
                if let Err(e) = self.carry_out(&lid, &format!("policy:{rule}"), "", now_ns) {
                    tracing::error!(error = %e, recommendation = %lid, "automatic action failed");
                }
                rec.decision = format!("{reason}: the limit is in force, the rest needs approval");
            }
            Decision::ExecuteLimited { reason, .. } => rec.decision = format!("{reason}: the limit is in force, the rest needs approval"),
            Decision::Execute { rule } => {
                rec.decision = format!("executed automatically under rule '{rule}'");
                let actor = format!("policy:{rule}");
                self.recs.push(rec);
                if let Err(e) = self.carry_out(&id, &actor, "", now_ns) {
                    tracing::error!(error = %e, recommendation = %id, "automatic action failed");
                }
                return;
            }
        }
        if kind == ActionType::Maintain {
            // The repair is visible as a proposed work order from the start.
            let wo = self.new_work_order(&rec, now_ns);
            rec.work_order = Some(wo.id.clone());
            self.work_orders.push(wo);
        }
        self.recs.push(rec);
    }

    fn new_work_order(&mut self, rec: &Recommendation, now_ns: i64) -> WorkOrder {
        WorkOrder {
            id: self.id("WO"),
            asset: rec.asset.clone(),
            line: rec.line.clone(),
            kind: "planned".into(),
            state: WoState::Proposed,
            crew: rec.crew.clone(),
            start_ns: rec.start_ns,
            end_ns: rec.end_ns,
            parts: rec.parts.clone(),
            plan_version: rec.plan_version,
            recommendation: Some(rec.id.clone()),
            created_ns: now_ns,
            history: Vec::new(),
        }
    }

    /// Closes the proposed work order of recommendation `i` (rejected or cancelled with it).
    fn close_proposed(&mut self, i: usize, to: WoState, actor: &str, note: &str, now_ns: i64) {
        let Some(w) = self.recs[i].work_order.clone() else { return };
        if let Some(wo) = self.work_orders.iter_mut().find(|x| x.id == w && x.state == WoState::Proposed) {
            let _ = wo.transition(to, now_ns, actor, note);
        }
    }

    fn rec_index(&self, id: &str) -> Result<usize, PrescribeError> {
        self.recs.iter().position(|r| r.id == id).ok_or_else(|| PrescribeError::NotFound {
            kind: "recommendation",
            id: id.to_string(),
        })
    }

    /// Carries out a recommendation (approved by `actor`, a person or a policy rule).
    fn carry_out(&mut self, id: &str, actor: &str, note: &str, now_ns: i64) -> Result<(), PrescribeError> {
        let i = self.rec_index(id)?;
        let rec = self.recs[i].clone();
        let automatic = actor.starts_with("policy:");
        let detail = json!({"recommendation": rec.id, "summary": rec.summary, "plan_version": rec.plan_version, "prediction": rec.prediction, "note": note, "alternatives": rec.alternatives.len()});
        self.audit(
            now_ns,
            actor,
            if automatic { "recommendation.execute" } else { "recommendation.approve" },
            &rec.asset,
            detail,
        )?;
        match rec.action {
            ActionType::Derate => {
                let (cmd, status) = self.send(&rec.asset, CommandAction::Derate { share: rec.derate }, rec.summary.clone(), now_ns);
                let aid = self.id("ACT");
                self.audit(
                    now_ns,
                    actor,
                    "command.derate",
                    &rec.asset,
                    json!({"action": aid, "command": cmd, "derate": rec.derate, "status": status, "plan_version": rec.plan_version}),
                )?;
                self.actions.push(ExecutedAction {
                    id: aid.clone(),
                    asset: rec.asset.clone(),
                    kind: "derate".into(),
                    derate: Some(rec.derate),
                    command_id: cmd,
                    by: actor.to_string(),
                    plan_version: rec.plan_version,
                    recommendation: Some(rec.id.clone()),
                    work_order: None,
                    ts_ns: now_ns,
                    status,
                    detail: None,
                });
                self.recs[i].executed_action = Some(aid);
            }
            ActionType::Maintain => {
                // The work order proposed with the recommendation, or a new one (automatic repairs).
                let existing = rec
                    .work_order
                    .as_ref()
                    .and_then(|w| self.work_orders.iter().position(|x| &x.id == w && x.state == WoState::Proposed));
                let mut wo = match existing {
                    Some(k) => self.work_orders.remove(k),
                    None => self.new_work_order(&rec, now_ns),
                };
                wo.crew = rec.crew.clone();
                wo.start_ns = rec.start_ns;
                wo.end_ns = rec.end_ns;
                wo.plan_version = rec.plan_version;
                let wid = wo.id.clone();
                wo.transition(WoState::Approved, now_ns, actor, note)
                    .map_err(|e| PrescribeError::Conflict(e.to_string()))?;
                wo.transition(WoState::Scheduled, now_ns, actor, "scheduled by the plan")
                    .map_err(|e| PrescribeError::Conflict(e.to_string()))?;
                self.audit(
                    now_ns,
                    actor,
                    "work_order.scheduled",
                    &rec.asset,
                    json!({"work_order": wid, "start_ns": wo.start_ns, "crew": wo.crew, "parts": wo.parts, "plan_version": rec.plan_version}),
                )?;
                self.post_webhook(&wo, "scheduled");
                self.work_orders.push(wo);
                self.recs[i].work_order = Some(wid);
            }
            ActionType::OrderParts => {
                let aid = self.id("ACT");
                self.audit(
                    now_ns,
                    actor,
                    "parts.order",
                    &rec.asset,
                    json!({"action": aid, "parts": rec.parts, "plan_version": rec.plan_version}),
                )?;
                self.actions.push(ExecutedAction {
                    id: aid.clone(),
                    asset: rec.asset.clone(),
                    kind: "order_parts".into(),
                    derate: None,
                    command_id: String::new(),
                    by: actor.to_string(),
                    plan_version: rec.plan_version,
                    recommendation: Some(rec.id.clone()),
                    work_order: None,
                    ts_ns: now_ns,
                    status: "ordered".into(),
                    detail: Some(rec.parts.join(", ")),
                });
                // The parts arrive after their lead time; until then the planner counts them as on order.
                for p in &rec.parts {
                    if let Some(part) = self.business.parts.iter_mut().find(|x| &x.id == p) {
                        part.on_hand += 1;
                    }
                }
                self.recs[i].executed_action = Some(aid);
                self.dirty = true;
            }
            ActionType::Reroute => {
                // Production planning (MES) moves the orders; the twin records the decision.
                let aid = self.id("ACT");
                self.audit(
                    now_ns,
                    actor,
                    "reroute.decide",
                    &rec.line,
                    json!({"action": aid, "summary": rec.summary, "plan_version": rec.plan_version}),
                )?;
                self.actions.push(ExecutedAction {
                    id: aid.clone(),
                    asset: rec.asset.clone(),
                    kind: "reroute".into(),
                    derate: None,
                    command_id: String::new(),
                    by: actor.to_string(),
                    plan_version: rec.plan_version,
                    recommendation: Some(rec.id.clone()),
                    work_order: rec.work_order.clone(),
                    ts_ns: now_ns,
                    status: "recorded".into(),
                    detail: Some(rec.summary.clone()),
                });
                self.recs[i].executed_action = Some(aid);
            }
        }
        let r = &mut self.recs[i];
        r.state = if automatic { RecState::Executed } else { RecState::Approved };
        r.decided_by = Some(actor.to_string());
        r.updated_ns = now_ns;
        Ok(())
    }

    fn post_webhook(&self, wo: &WorkOrder, event: &str) {
        let Some(hook) = self.webhook.clone() else { return };
        let body = json!({"event": event, "work_order": wo});
        let key = format!("{}-{event}", wo.id);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                match hook.post_json(&key, &body).await {
                    Ok(r) => tracing::info!(status = r.status, attempts = r.attempts, key, "work order sent to the webhook"),
                    Err(e) => tracing::warn!(error = %e, key, "work order webhook failed"),
                }
            });
        }
    }

    /// A person approves an open recommendation.
    ///
    /// # Errors
    /// Not found, not open, or the audit log cannot be written.
    pub fn approve(&mut self, id: &str, user: &str, note: &str, now_ns: i64) -> Result<Recommendation, PrescribeError> {
        let i = self.rec_index(id)?;
        if self.recs[i].state != RecState::Open {
            return Err(PrescribeError::Conflict(
                format!("recommendation {id} is {:?}, not open", self.recs[i].state).to_lowercase(),
            ));
        }
        self.carry_out(id, user, note, now_ns)?;
        Ok(self.recs[self.rec_index(id)?].clone())
    }

    /// A person rejects an open recommendation.
    ///
    /// # Errors
    /// Not found, not open, or the audit log cannot be written.
    pub fn reject(&mut self, id: &str, user: &str, note: &str, now_ns: i64) -> Result<Recommendation, PrescribeError> {
        let i = self.rec_index(id)?;
        if self.recs[i].state != RecState::Open {
            return Err(PrescribeError::Conflict(
                format!("recommendation {id} is {:?}, not open", self.recs[i].state).to_lowercase(),
            ));
        }
        let r = self.recs[i].clone();
        self.audit(
            now_ns,
            user,
            "recommendation.reject",
            &r.asset,
            json!({"recommendation": r.id, "summary": r.summary, "plan_version": r.plan_version, "note": note}),
        )?;
        self.close_proposed(i, WoState::Rejected, user, note, now_ns);
        let r = &mut self.recs[i];
        r.state = RecState::Rejected;
        r.decided_by = Some(user.to_string());
        r.updated_ns = now_ns;
        Ok(r.clone())
    }

    /// Undoes an executed action: a derate is reversed (load restored), a work order not done is cancelled.
    ///
    /// # Errors
    /// Not found, already rolled back, or the audit log cannot be written.
    pub fn rollback(&mut self, id: &str, user: &str, now_ns: i64) -> Result<ExecutedAction, PrescribeError> {
        let i = self.actions.iter().position(|a| a.id == id).ok_or_else(|| PrescribeError::NotFound {
            kind: "action",
            id: id.to_string(),
        })?;
        let a = self.actions[i].clone();
        if a.status == "rolled_back" {
            return Err(PrescribeError::Conflict(format!("action {id} is already rolled back")));
        }
        match a.kind.as_str() {
            "derate" => {
                let (cmd, status) = self.send(&a.asset, CommandAction::Derate { share: 0.0 }, format!("rollback of {id}"), now_ns);
                self.audit(
                    now_ns,
                    user,
                    "action.rollback",
                    &a.asset,
                    json!({"action": id, "command": cmd, "status": status, "restores": "normal load"}),
                )?;
            }
            "repair" | "order_parts" | "reroute" => {
                return Err(PrescribeError::Conflict(format!(
                    "action {id} ({}) cannot be undone; cancel its work order instead",
                    a.kind
                )));
            }
            _ => {}
        }
        self.actions[i].status = "rolled_back".into();
        if let Some(r) = a.recommendation.as_ref().and_then(|r| self.recs.iter_mut().find(|x| &x.id == r)) {
            r.state = RecState::Superseded;
            r.updated_ns = now_ns;
        }
        self.dirty = true;
        Ok(self.actions[i].clone())
    }

    /// Moves a work order (start, complete or cancel through the API).
    ///
    /// # Errors
    /// Not found, a transition the life cycle forbids, or the audit log cannot be written.
    pub fn work_order_to(&mut self, id: &str, to: WoState, user: &str, note: &str, now_ns: i64) -> Result<WorkOrder, PrescribeError> {
        let i = self.work_orders.iter().position(|w| w.id == id).ok_or_else(|| PrescribeError::NotFound {
            kind: "work order",
            id: id.to_string(),
        })?;
        if to == WoState::InProgress && self.work_orders[i].state == WoState::Scheduled {
            // Starting sends the repair command to the plant.
            self.start_work_order(i, user, now_ns)?;
            self.dirty = true;
            return Ok(self.work_orders[i].clone());
        }
        if to == WoState::Done && self.work_orders[i].state == WoState::Scheduled {
            self.start_work_order(i, user, now_ns)?;
        }
        let mut wo = self.work_orders[i].clone();
        wo.transition(to, now_ns, user, note).map_err(|e| PrescribeError::Conflict(e.to_string()))?;
        self.audit(
            now_ns,
            user,
            &format!("work_order.{}", to.as_str()),
            &wo.asset,
            json!({"work_order": id, "note": note}),
        )?;
        self.post_webhook(&wo, to.as_str());
        self.work_orders[i] = wo.clone();
        self.dirty = true;
        Ok(wo)
    }

    /// Starts a scheduled work order: in progress, and the repair command goes to the plant.
    fn start_work_order(&mut self, i: usize, actor: &str, now_ns: i64) -> Result<(), PrescribeError> {
        let mut wo = self.work_orders[i].clone();
        wo.transition(WoState::InProgress, now_ns, actor, "")
            .map_err(|e| PrescribeError::Conflict(e.to_string()))?;
        let (cmd, status) = self.send(
            &wo.asset,
            CommandAction::Repair {
                work_order: Some(wo.id.clone()),
            },
            format!("work order {}", wo.id),
            now_ns,
        );
        self.audit(
            now_ns,
            actor,
            "work_order.in_progress",
            &wo.asset,
            json!({"work_order": wo.id, "command": cmd, "status": status}),
        )?;
        let aid = self.id("ACT");
        self.actions.push(ExecutedAction {
            id: aid,
            asset: wo.asset.clone(),
            kind: "repair".into(),
            derate: None,
            command_id: cmd,
            by: actor.to_string(),
            plan_version: wo.plan_version,
            recommendation: wo.recommendation.clone(),
            work_order: Some(wo.id.clone()),
            ts_ns: now_ns,
            status,
            detail: None,
        });
        self.post_webhook(&wo, "in_progress");
        self.work_orders[i] = wo;
        Ok(())
    }

    /// Starts the scheduled work orders whose time has come.
    pub fn tick(&mut self, now_ns: i64) {
        let due: Vec<usize> = (0..self.work_orders.len())
            .filter(|&i| self.work_orders[i].state == WoState::Scheduled && self.work_orders[i].start_ns.is_none_or(|s| s <= now_ns))
            .collect();
        for i in due {
            if let Err(e) = self.start_work_order(i, "system", now_ns) {
                tracing::error!(error = %e, "cannot start a work order");
            }
        }
    }

    /// A completed maintenance was recorded for `asset` (MQTT or API): the work order it names (or the asset's
    /// work order in progress) is done, and derates of the asset end (a renewed asset runs at normal load).
    pub fn on_maintenance(&mut self, asset: &str, work_order: Option<&str>, renews: bool, now_ns: i64) {
        let i = self.work_orders.iter().position(|w| match work_order {
            Some(id) => w.id == id,
            None => w.asset == asset && w.state == WoState::InProgress,
        });
        if let Some(i) = i {
            if self.work_orders[i].state == WoState::Scheduled {
                let _ = self.start_work_order(i, "system", now_ns);
            }
            let mut wo = self.work_orders[i].clone();
            if wo.transition(WoState::Done, now_ns, "plant", "maintenance record received").is_ok() {
                let _ = self.audit(now_ns, "plant", "work_order.done", asset, json!({"work_order": wo.id}));
                self.post_webhook(&wo, "done");
                self.work_orders[i] = wo;
            }
        }
        if renews {
            let derated: Vec<usize> = (0..self.actions.len())
                .filter(|&k| self.actions[k].asset == asset && self.actions[k].kind == "derate" && self.actions[k].status != "rolled_back")
                .collect();
            if !derated.is_empty() {
                let (cmd, status) = self.send(
                    asset,
                    CommandAction::Derate { share: 0.0 },
                    "renewed by maintenance: normal load".into(),
                    now_ns,
                );
                let _ = self.audit(now_ns, "system", "command.restore_load", asset, json!({"command": cmd, "status": status}));
                for k in derated {
                    self.actions[k].status = "ended".into();
                }
            }
            let done: Vec<usize> = (0..self.recs.len())
                .filter(|&i| self.recs[i].asset == asset && matches!(self.recs[i].state, RecState::Open | RecState::Executed))
                .collect();
            for i in done {
                self.recs[i].state = RecState::Superseded;
                self.recs[i].updated_ns = now_ns;
                self.close_proposed(i, WoState::Cancelled, "plant", "the asset was maintained", now_ns);
            }
            self.dirty = true;
        }
    }

    /// The plant acknowledged a command.
    pub fn on_ack(&mut self, command_id: &str, applied: bool, detail: Option<String>) {
        if let Some(a) = self.actions.iter_mut().find(|a| a.command_id == command_id)
            && a.status == "sent"
        {
            a.status = if applied { "applied".into() } else { "rejected".into() };
            a.detail = detail;
        }
    }
}

/// The planning inputs from the prediction engine: every predicted asset whose class the business data knows,
/// with its RUL quantiles and, when the model does not flag it yet, the model's warning leads (assets without a
/// model or a step yet are left out).
#[must_use]
pub fn inputs(state: &AppState, business: &Business, rul_scale: f64) -> Vec<AssetInput> {
    let k = if rul_scale.is_finite() && rul_scale > 0.0 { 1.0 / rul_scale } else { 1.0 };
    let probs: Vec<f64> = (0..QUANTILES).map(|k| (k as f64 + 0.5) / QUANTILES as f64).collect();
    let engine = state.predict.lock();
    let mut out = Vec::new();
    for (i, a) in state.plant.assets.iter().enumerate() {
        if business.class(&a.type_id).is_none() || business.line(&a.line).is_none() || !engine.has_model(i) {
            continue;
        }
        let Some(o) = engine.rul_outlook(i, &probs) else { continue };
        let rul = RulDist::from_samples(o.quantiles_h.into_iter().map(|h| h * k), Some(o.cap_h * k));
        // Not flagged yet: the plan may count on the model flagging a coming failure in time (its warning leads).
        let rul = if o.flagged {
            rul
        } else {
            rul.with_warning(o.warning_leads_h.into_iter().map(|h| h * k))
        };
        out.push(AssetInput {
            id: a.id.clone(),
            line: a.line.clone(),
            class: a.type_id.clone(),
            rul,
        });
    }
    out
}

/// Optimises once with the current inputs and applies the plan.
pub async fn replan(state: &Arc<AppState>) -> Result<u64, String> {
    let (business, settings) = {
        let p = state.prescribe.lock();
        (p.business.clone(), p.settings.clone())
    };
    if business.lines.is_empty() || business.classes.is_empty() {
        return Err("no business data (lines and classes): load a business file or PUT /api/business".into());
    }
    let assets = inputs(state, &business, settings.rul_scale);
    let now = time::now();
    let result = tokio::task::spawn_blocking(move || -> Result<Plan, String> {
        let problem = Problem::new(now, settings.config, business, assets).map_err(|e| e.to_string())?;
        let solved = doppel_plan::solve(&problem, settings.solve);
        Ok(doppel_plan::make_plan(&problem, &solved))
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut p = state.prescribe.lock();
    match result {
        Ok(plan) => {
            let n = plan.actions.len();
            p.apply_plan(plan, now);
            tracing::debug!(version = p.version(), assets = n, "plan updated");
            let v = p.version();
            drop(p);
            let _ = state.live.send(Arc::from(json!({"type": "plan", "version": v}).to_string()));
            Ok(v)
        }
        Err(e) => {
            p.last_error = Some(e.clone());
            Err(e)
        }
    }
}

/// The planner task: re-optimises every `every` (sooner when inputs changed) and starts due work orders.
pub async fn run(state: Arc<AppState>) {
    let mut last = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (every, dirty) = {
            let mut p = state.prescribe.lock();
            p.tick(time::now());
            (p.settings.every, p.dirty)
        };
        if last.elapsed() >= every || (dirty && last.elapsed() >= Duration::from_secs(1)) {
            last = std::time::Instant::now();
            if let Err(e) = replan(&state).await {
                tracing::debug!(error = %e, "no plan");
            }
        }
    }
}

/// Counts of recommendations by state (for health and the UI).
#[must_use]
pub fn summary(p: &Prescriber) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for r in &p.recs {
        let k = match r.state {
            RecState::Open => "open",
            RecState::Approved => "approved",
            RecState::Rejected => "rejected",
            RecState::Executed => "executed",
            RecState::Superseded => "superseded",
        };
        *m.entry(k).or_default() += 1;
    }
    m
}

/// The MQTT output adapter: publishes the planner's commands (QoS 1) on its own connection and feeds the plant's
/// acknowledgements (`doppel/v1/command_ack/+`) back into the executed actions.
pub async fn run_command_adapter(state: Arc<AppState>, url: String, client_id: String, mut rx: tokio::sync::mpsc::UnboundedReceiver<Command>) {
    use doppel_ingest::command::{AckStatus, COMMAND_ACK_FILTER, parse_command_ack, publish_command};
    use rumqttc::{AsyncClient, Event, Packet, QoS};
    let opts = match doppel_ingest::mqtt::ClientSettings::new(&url, client_id).options(true) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "command adapter: bad MQTT settings");
            return;
        }
    };
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    let subscriber = client.clone();
    let acks = state.clone();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Err(e) = subscriber.try_subscribe(COMMAND_ACK_FILTER, QoS::AtLeastOnce) {
                        tracing::warn!(error = %e, "cannot subscribe to command acknowledgements");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => match parse_command_ack(&p.topic, &p.payload) {
                    Ok(ack) => acks.prescribe.lock().on_ack(&ack.id, ack.status == AckStatus::Applied, ack.detail),
                    Err(e) => tracing::warn!(error = %e, topic = %p.topic, "unreadable command acknowledgement"),
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT command adapter connection error; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    while let Some(cmd) = rx.recv().await {
        if let Err(e) = publish_command(&client, &cmd).await {
            tracing::error!(error = %e, command = %cmd.id, asset = %cmd.asset, "cannot publish a command");
            state.prescribe.lock().on_ack(&cmd.id, false, Some(format!("not published: {e}")));
        } else {
            tracing::info!(command = %cmd.id, asset = %cmd.asset, action = cmd.action.name(), "command published");
        }
    }
}
