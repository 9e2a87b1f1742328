//! Dates and times as a person in Chile reads them.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

use crate::error::{FieldError, FieldErrors};

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "lunes",
        Weekday::Tuesday => "martes",
        Weekday::Wednesday => "miércoles",
        Weekday::Thursday => "jueves",
        Weekday::Friday => "viernes",
        Weekday::Saturday => "sábado",
        Weekday::Sunday => "domingo",
    }
}

/// `21:15`
pub fn time_of_day(at: Time) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

/// `lunes 7 de diciembre a las 00:00`
pub fn day_and_time(at: &ZonedDateTime) -> String {
    format!("{} a las {}", day(at), time_of_day(at.time()))
}

/// `lunes 7 de diciembre de 2026`
pub fn day(at: &ZonedDateTime) -> String {
    let month = MONTHS[usize::try_from(at.month() - 1).unwrap_or(0)];
    format!("{} {} de {month} de {}", weekday(at.weekday()), at.day(), at.year())
}

/// Whole days in Chile, first to last, both included: what an operator searches permits
/// by. At most `DayRange::MOST_DAYS`, so a look-up by comuna stays a look-up by a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    first: Date,
    last: Date,
}

impl DayRange {
    /// A month at most, the span a judicial request usually names.
    pub const MOST_DAYS: i32 = 31;

    /// `from` and `to` as `2026-12-01`; each named in the errors when wrong.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<DayRange, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut date = |name: &'static str, text: Option<&str>| match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => {
                errors.insert(name, FieldError::Required);
                None
            }
            Some(text) => text
                .parse::<Date>()
                .map_err(|_| errors.insert(name, FieldError::Invalid("debe ser una fecha como 2026-12-01")))
                .ok(),
        };
        let (first, last) = (date("from", from), date("to", to));
        let (Some(first), Some(last)) = (first, last) else {
            return Err(errors);
        };
        let days = first.until(last).map(|span| span.get_days()).unwrap_or(i32::MAX);
        if days < 0 {
            errors.insert(
                "to",
                FieldError::Invalid("debe ser igual o posterior a la fecha de inicio"),
            );
        } else if days >= DayRange::MOST_DAYS {
            errors.insert(
                "to",
                FieldError::Invalid("el período puede abarcar como máximo 31 días"),
            );
        }
        if errors.is_empty() {
            Ok(DayRange { first, last })
        } else {
            Err(errors)
        }
    }

    pub fn first(&self) -> Date {
        self.first
    }

    pub fn last(&self) -> Date {
        self.last
    }

    /// From the first day's start to the start of the day after the last, in `tz` (a day
    /// that begins at 01:00 because the clocks moved begins then).
    pub fn instants(&self, tz: &TimeZone) -> (Timestamp, Timestamp) {
        let start = |day: Date| {
            day.to_zoned_datetime(tz.clone())
                .map(|at| at.timestamp())
                .unwrap_or(Timestamp::MAX)
        };
        let after = self.last.tomorrow().map(start).unwrap_or(Timestamp::MAX);
        (start(self.first), after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_range_is_whole_local_days_of_a_month_at_most() {
        let tz = TimeZone::get("America/Santiago").unwrap();
        let range = DayRange::parse(Some("2026-12-01"), Some(" 2026-12-07 ")).unwrap();
        let (from, until) = range.instants(&tz);
        assert_eq!(from.to_string(), "2026-12-01T03:00:00Z");
        assert_eq!(until.to_string(), "2026-12-08T03:00:00Z");
        // 6 September 2026: Chile's clocks go from 00:00 to 01:00 (UTC−4 to UTC−3).
        let (from, until) = DayRange::parse(Some("2026-09-06"), Some("2026-09-06"))
            .unwrap()
            .instants(&tz);
        assert_eq!(
            (from.to_string(), until.to_string()),
            ("2026-09-06T04:00:00Z".into(), "2026-09-07T03:00:00Z".into())
        );
        assert!(
            DayRange::parse(Some("2026-12-01"), Some("2026-12-31")).is_ok(),
            "31 days"
        );

        let errors = DayRange::parse(Some("2026-12-01"), Some("2027-01-01")).unwrap_err();
        assert!(matches!(errors.get("to"), Some(FieldError::Invalid(_))), "32 days");
        let errors = DayRange::parse(Some("2026-12-07"), Some("2026-12-01")).unwrap_err();
        assert!(errors.contains_key("to"), "backwards");
        let errors = DayRange::parse(None, Some("7/12/2026")).unwrap_err();
        assert_eq!(errors.get("from"), Some(&FieldError::Required));
        assert!(matches!(errors.get("to"), Some(FieldError::Invalid(_))));
        assert!(DayRange::parse(Some("-009999-01-01"), Some("9999-12-31")).is_err());
    }

    #[test]
    fn formats_in_spanish() {
        let at: ZonedDateTime = "2026-12-07T00:05:00-03:00[America/Santiago]".parse().unwrap();
        assert_eq!(day_and_time(&at), "lunes 7 de diciembre de 2026 a las 00:05");
    }
}
