//! Billing periods: UTC calendar months.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::clock::rfc3339;

/// A month: its start (inclusive) and end (exclusive), as RFC 3339 strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `YYYY-MM`.
    pub name: String,
    pub start: String,
    pub end: String,
}

fn first_of(year: i32, month: Month) -> Option<OffsetDateTime> {
    let date = Date::from_calendar_date(year, month, 1).ok()?;
    Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_offset(UtcOffset::UTC))
}

fn build(year: i32, month: Month) -> Option<Period> {
    let start = first_of(year, month)?;
    let (ny, nm) = if month == Month::December { (year + 1, Month::January) } else { (year, month.next()) };
    let end = first_of(ny, nm)?;
    Some(Period { name: format!("{year:04}-{:02}", u8::from(month)), start: rfc3339(start), end: rfc3339(end) })
}

/// The month containing `t`.
pub fn containing(t: OffsetDateTime) -> Period {
    let t = t.to_offset(UtcOffset::UTC);
    build(t.year(), t.month()).unwrap_or(Period { name: String::new(), start: String::new(), end: String::new() })
}

/// The month named `YYYY-MM`, if it is one.
pub fn named(name: &str) -> Option<Period> {
    let (y, m) = name.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    build(y.parse().ok()?, month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_roll_over_years_and_parse_back() {
        let p = containing(datetime!(2026-12-31 23:59:59 UTC));
        assert_eq!(
            (p.name.as_str(), p.start.as_str(), p.end.as_str()),
            ("2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")
        );
        assert_eq!(named("2026-12"), Some(p));
        assert_eq!(containing(datetime!(2027-02-01 00:00:00 UTC)).name, "2027-02");
        for bad in ["2026-13", "2026-1", "26-01", "x", "2026-00"] {
            assert!(named(bad).is_none(), "{bad}");
        }
    }
}
