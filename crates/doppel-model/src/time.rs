//! Timestamps: `i64` nanoseconds since the Unix epoch, UTC, everywhere inside doppel.

use chrono::{DateTime, SecondsFormat, Utc};

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub type Nanos = i64;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;

/// Parses an RFC 3339 timestamp (`2026-11-25T10:00:00.123Z`, any offset).
pub fn parse_rfc3339(s: &str) -> Option<Nanos> {
    DateTime::parse_from_rfc3339(s.trim()).ok()?.timestamp_nanos_opt()
}

/// Parses a time given as text by a user (query parameters, CLI flags): integer milliseconds
/// since the Unix epoch, or RFC 3339. `None` when it is neither or out of range.
pub fn parse_user_time(s: &str) -> Option<Nanos> {
    match s.trim().parse::<i64>() {
        Ok(ms) => ms.checked_mul(NANOS_PER_MILLI),
        Err(_) => parse_rfc3339(s),
    }
}

/// Formats as RFC 3339 UTC with the shortest exact sub-second precision.
pub fn format_rfc3339(ns: Nanos) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Wall-clock now.
pub fn now() -> Nanos {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = parse_rfc3339("2026-11-25T10:00:00.123+01:00").unwrap();
        assert_eq!(format_rfc3339(t), "2026-11-25T09:00:00.123Z");
        assert!(parse_rfc3339("yesterday").is_none());
        assert_eq!(parse_user_time("1500"), Some(1_500_000_000));
        assert_eq!(parse_user_time("2026-11-25T09:00:00.123Z"), Some(t));
        assert_eq!(parse_user_time(&i64::MAX.to_string()), None);
    }
}
