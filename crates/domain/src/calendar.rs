//! Dates and times as a person in Chile reads them.

use jiff::ZonedDateTime;
use jiff::civil::{Time, Weekday};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_spanish() {
        let at: ZonedDateTime = "2026-12-07T00:05:00-03:00[America/Santiago]".parse().unwrap();
        assert_eq!(day_and_time(&at), "lunes 7 de diciembre de 2026 a las 00:05");
    }
}
