//! Production context of a line: what it is making (product, batch, work order) and how it runs
//! (operating mode). Set by MES-style context events; every change is stored as an event so a
//! later query can ask what was in force at any time.

use serde::{Deserialize, Deserializer, Serialize};

/// The context in force on a line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineContext {
    pub product: Option<String>,
    pub batch: Option<String>,
    pub work_order: Option<String>,
    /// Operating mode (e.g. "normal", "high_load", "cleaning", "planned_stop").
    pub mode: Option<String>,
}

/// A partial change of a line's context: an absent field keeps its value, `null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextUpdate {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub product: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub batch: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub work_order: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub mode: Option<Option<String>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl ContextUpdate {
    pub fn is_empty(&self) -> bool {
        self.product.is_none() && self.batch.is_none() && self.work_order.is_none() && self.mode.is_none()
    }

    /// The context after applying this update to `ctx`.
    pub fn apply(&self, ctx: &LineContext) -> LineContext {
        fn pick(update: &Option<Option<String>>, old: &Option<String>) -> Option<String> {
            match update {
                Some(v) => v.clone(),
                None => old.clone(),
            }
        }
        LineContext {
            product: pick(&self.product, &ctx.product),
            batch: pick(&self.batch, &ctx.batch),
            work_order: pick(&self.work_order, &ctx.work_order),
            mode: pick(&self.mode, &ctx.mode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_keeps_null_clears() {
        let ctx = LineContext {
            product: Some("p1".into()),
            batch: Some("b1".into()),
            work_order: None,
            mode: Some("normal".into()),
        };
        let u: ContextUpdate = serde_json_like(r#"{"batch": null, "work_order": "wo-7"}"#);
        let next = u.apply(&ctx);
        assert_eq!(next.product.as_deref(), Some("p1"));
        assert_eq!(next.batch, None);
        assert_eq!(next.work_order.as_deref(), Some("wo-7"));
    }

    // The model crate does not depend on serde_json; TOML inline tables have no null, so build by hand.
    fn serde_json_like(_: &str) -> ContextUpdate {
        ContextUpdate {
            product: None,
            batch: Some(None),
            work_order: Some(Some("wo-7".into())),
            mode: None,
        }
    }
}
