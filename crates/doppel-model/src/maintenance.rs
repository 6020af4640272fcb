//! Completed maintenance on an asset, as a CMMS reports it. A repair or replacement renews the asset's
//! degrading components: the predictive models start a new life (a new trajectory) for it from that time.

use serde::{Deserialize, Serialize};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceKind {
    /// A failed asset was repaired (corrective maintenance).
    Repair,
    /// A component was replaced before failure (preventive maintenance).
    Replace,
    /// Inspection, lubrication or adjustment that does not renew the asset.
    Service,
}

impl MaintenanceKind {
    /// Whether this maintenance renews the asset (starts a new life for the models).
    #[must_use]
    pub fn renews(self) -> bool {
        matches!(self, MaintenanceKind::Repair | MaintenanceKind::Replace)
    }
}

/// One completed maintenance action on an asset (JSON body of `doppel/v1/maintenance/{asset}` and of
/// `POST /api/assets/{asset}/maintenance`, without the `ts` field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceRecord {
    pub kind: MaintenanceKind,
    /// The component worked on (e.g. "de_bearing"), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The CMMS work order, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_order: Option<String>,
    /// Free text (what was found, what was done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
