//! The one clock every time-dependent decision reads (key expiry, grace
//! periods, checkpoints, windows).
//!
//! Invariant: production reads the system clock; tests may pin time through a
//! clock file (a loopback-only, hidden server flag), so no test sleeps to wait
//! for time to pass.

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A source of the current UTC time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    file: Option<Arc<PathBuf>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { file: None }
    }

    /// Time read from `path` (RFC 3339) when it exists and parses, else the system clock.
    pub fn from_file(path: PathBuf) -> Self {
        Self { file: Some(Arc::new(path)) }
    }

    /// Now, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        if let Some(path) = &self.file
            && let Some(t) =
                std::fs::read_to_string(path.as_ref()).ok().and_then(|s| OffsetDateTime::parse(s.trim(), &Rfc3339).ok())
        {
            return t;
        }
        OffsetDateTime::now_utc()
    }

    /// Now as an RFC 3339 UTC string with second precision.
    pub fn now_rfc3339(&self) -> String {
        rfc3339(self.now())
    }
}

/// Format a time as RFC 3339 UTC with second precision (`2026-11-24T22:10:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parse an RFC 3339 time.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_file_pins_time_and_a_missing_one_falls_back() {
        let path = std::env::temp_dir().join(format!("tollgate-clock-{}", std::process::id()));
        std::fs::write(&path, "2030-01-02T03:04:05Z").expect("write");
        let clock = Clock::from_file(path.clone());
        assert_eq!(clock.now_rfc3339(), "2030-01-02T03:04:05Z");
        std::fs::remove_file(&path).expect("rm");
        assert!(clock.now().year() >= 2026);
    }
}
