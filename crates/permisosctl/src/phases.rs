//! `phases`: the health ministry's table of Paso a Paso changes, as a CSV file, published
//! through the operator API (*administración*). Every line is checked first and nothing is
//! sent if one is wrong. Then one `POST /api/phases` per line, in order, stopping at the
//! first refusal and saying which lines were published and which were not. Loading the same
//! file again changes nothing: a change for the same comuna and instant replaces the one
//! published before (each publication is still audit-logged).

use http::StatusCode;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use permit_domain::{Comuna, Phase, effective};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::operator_api::Operators;

/// A week's table for every comuna is some 20 KiB; a file far larger is not one.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// Eight weeks of all 346 comunas, with room.
pub const MAX_LINES: usize = 5_000;
/// The header line, as the ministry's weekly table is transcribed: `hora` may be empty.
const HEADER: &str = "comuna,fase,desde,hora";

/// One line of the table, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its line number in the file, for every message about it.
    pub number: usize,
    pub comuna: Comuna,
    pub phase: Phase,
    pub day: Date,
    /// `None`: the ministry's 05:00.
    pub at: Option<Time>,
}

/// Every line of `text` checked against the catalogue and the clock (`now`, in `tz`): the
/// lines, or every problem, each naming its line.
pub fn parse(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Vec<Line>, Vec<String>> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line.trim()));
    let mut problems = Vec::new();
    match lines.next() {
        Some((_, header)) if header.trim_start_matches('\u{feff}').replace(' ', "") == HEADER => {}
        _ => return Err(vec![format!("line 1: the header must be {HEADER}")]),
    }
    let mut parsed: Vec<Line> = Vec::new();
    for (number, text) in lines.filter(|(_, line)| !line.is_empty()) {
        if parsed.len() + problems.len() == MAX_LINES {
            problems.push(format!("line {number}: more than {MAX_LINES} changes in one file"));
            break;
        }
        match parse_line(number, text, now, tz) {
            Ok(line) => match parsed
                .iter()
                .find(|l| l.comuna == line.comuna && effective(l.day, l.at, tz) == effective(line.day, line.at, tz))
            {
                Some(first) => problems.push(format!(
                    "line {number}: repeats line {}'s comuna and instant",
                    first.number
                )),
                None => parsed.push(line),
            },
            Err(problem) => problems.push(format!("line {number}: {problem}")),
        }
    }
    if parsed.is_empty() && problems.is_empty() {
        problems.push("the file has a header and no change".into());
    }
    if problems.is_empty() { Ok(parsed) } else { Err(problems) }
}

fn parse_line(number: usize, text: &str, now: Timestamp, tz: &TimeZone) -> Result<Line, String> {
    let fields: Vec<&str> = text.split(',').map(|f| f.trim().trim_matches('"').trim()).collect();
    let (comuna, phase, day, at) = match fields[..] {
        [comuna, phase, day] => (comuna, phase, day, ""),
        [comuna, phase, day, at] => (comuna, phase, day, at),
        _ => return Err(format!("{} fields where {HEADER} has 4", fields.len())),
    };
    let comuna = Comuna::parse(comuna).map_err(|_| format!("comuna {comuna:?} is not one of Chile's 346"))?;
    let phase = Phase::parse(phase).ok_or_else(|| {
        format!(
            "fase {phase:?} is not cuarentena, transicion, preparacion, apertura-inicial, apertura-avanzada or 1 to 5"
        )
    })?;
    let day: Date = day
        .parse()
        .map_err(|_| format!("desde {day:?} is not a day such as 2026-12-10"))?;
    let at = match at {
        "" => None,
        text => Some(Time::strptime("%H:%M", text).map_err(|_| format!("hora {text:?} is not a time such as 05:00"))?),
    };
    if effective(day, at, tz) <= now {
        return Err(format!(
            "{} would change {} in the past; a change is published before it takes effect",
            day,
            comuna.as_str()
        ));
    }
    Ok(Line {
        number,
        comuna,
        phase,
        day,
        at,
    })
}

/// What a load did.
#[derive(Debug, Serialize)]
pub struct Loaded {
    pub published: Vec<Published>,
    /// Lines not sent because an earlier one was refused (or all, in a dry run).
    pub not_sent: Vec<usize>,
    pub dry_run: bool,
}

/// A line the issuer published (or, in a dry run, would publish).
#[derive(Debug, Serialize)]
pub struct Published {
    pub line: usize,
    pub comuna: String,
    pub phase: String,
    /// From when, in words, in Chile (the issuer's); the day in a dry run.
    pub from: String,
    /// The phase in force just before, as the issuer knew it.
    pub previous: Option<String>,
}

/// The issuer's answer to a publication (the fields `phases` reports).
#[derive(Deserialize)]
struct Answer {
    from_local: String,
    previous: Option<String>,
}

/// What `lines` would publish, sending nothing.
pub fn dry_run(lines: &[Line]) -> Loaded {
    Loaded {
        published: lines
            .iter()
            .map(|line| Published {
                line: line.number,
                comuna: line.comuna.as_str().to_owned(),
                phase: line.phase.code().to_owned(),
                from: format!(
                    "{} {}",
                    line.day,
                    line.at.unwrap_or(permit_domain::EFFECTIVE_AT).strftime("%H:%M")
                ),
                previous: None,
            })
            .collect(),
        not_sent: lines.iter().map(|l| l.number).collect(),
        dry_run: true,
    }
}

/// Publishes `lines` in order with the *administración* `token`; stops at the first one the
/// issuer refuses, the error saying which lines were published before it.
pub async fn load(operators: &Operators, token: &str, lines: &[Line]) -> Result<Loaded, (Loaded, Error)> {
    let mut loaded = Loaded {
        published: Vec::new(),
        not_sent: Vec::new(),
        dry_run: false,
    };
    for (at, line) in lines.iter().enumerate() {
        let body = serde_json::json!({
            "comuna": line.comuna.code(),
            "phase": line.phase.code(),
            "from": line.day.to_string(),
            "at": line.at.map(|t| t.strftime("%H:%M").to_string()).unwrap_or_default(),
        });
        let refused = |loaded: Loaded, why: String| {
            let not_sent = lines[at..].iter().map(|l| l.number).collect();
            (
                Loaded { not_sent, ..loaded },
                Error::Service(format!("line {}: {why}", line.number)),
            )
        };
        let (status, answer) = match operators
            .post_json("/api/phases", token, body.to_string().into_bytes())
            .await
        {
            Ok(answered) => answered,
            Err(e) => return Err(refused(loaded, format!("no answer at {}: {e}", operators.base()))),
        };
        let answer: Answer = match status {
            StatusCode::CREATED => match serde_json::from_slice(&answer) {
                Ok(answer) => answer,
                Err(e) => return Err(refused(loaded, format!("/api/phases answered something else: {e}"))),
            },
            StatusCode::UNAUTHORIZED => return Err(refused(loaded, "the operator token was refused".into())),
            StatusCode::FORBIDDEN => {
                return Err(refused(
                    loaded,
                    "the operator token is not of the administración role (publishing needs it)".into(),
                ));
            }
            other => {
                let why = String::from_utf8_lossy(&answer).chars().take(500).collect::<String>();
                return Err(refused(loaded, format!("refused with {other}: {why}")));
            }
        };
        loaded.published.push(Published {
            line: line.number,
            comuna: line.comuna.as_str().to_owned(),
            phase: line.phase.code().to_owned(),
            from: answer.from_local,
            previous: answer.previous,
        });
    }
    Ok(loaded)
}

/// For people: a line per change published, then what was not sent.
pub fn render(loaded: &Loaded) -> String {
    let mut text: String = loaded
        .published
        .iter()
        .map(|p| {
            let was = match (&p.previous, loaded.dry_run) {
                (_, true) => String::new(),
                (Some(previous), false) => format!(" (was {previous})"),
                (None, false) => " (was outside the plan)".into(),
            };
            format!("line {}: {} to {} from {}{was}\n", p.line, p.comuna, p.phase, p.from)
        })
        .collect();
    if loaded.dry_run {
        text.push_str(&format!(
            "dry run: {} lines checked, none sent\n",
            loaded.not_sent.len()
        ));
    } else if !loaded.not_sent.is_empty() {
        let lines: Vec<String> = loaded.not_sent.iter().map(usize::to_string).collect();
        text.push_str(&format!("not sent: lines {}\n", lines.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn santiago() -> TimeZone {
        TimeZone::get("America/Santiago").unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-30T13:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_table_reads_by_name_or_code_with_the_hour_optional() {
        let table = "comuna,fase,desde,hora\nÑuñoa,transicion,2026-12-03,\n13101,1,2026-12-03,12:00\n\n\"Maipú\", preparacion ,2026-12-10\n";
        let lines = parse(table, now(), &santiago()).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0].comuna.as_str(), lines[0].phase, lines[0].at),
            ("Ñuñoa", Phase::Transicion, None)
        );
        assert_eq!(lines[1].comuna.as_str(), "Santiago");
        assert_eq!(lines[1].at, Some(Time::constant(12, 0, 0, 0)));
        assert_eq!((lines[2].number, lines[2].comuna.as_str()), (5, "Maipú"));
    }

    #[test]
    fn every_wrong_line_is_named_and_nothing_passes() {
        let table = "comuna,fase,desde,hora\n\
                     Gotham,1,2026-12-03,\n\
                     Ñuñoa,6,2026-12-03,\n\
                     Ñuñoa,1,mañana,\n\
                     Ñuñoa,1,2026-12-03,5am\n\
                     Ñuñoa,1,2026-11-29,\n\
                     Ñuñoa,1,2026-12-03\n\
                     nunoa,2,2026-12-03,05:00\n\
                     Ñuñoa,1\n";
        let problems = parse(table, now(), &santiago()).unwrap_err();
        let expected = [
            "line 2: comuna \"Gotham\"",
            "line 3: fase \"6\"",
            "line 4: desde \"mañana\"",
            "line 5: hora \"5am\"",
            "line 6: 2026-11-29 would change Ñuñoa in the past",
            "line 8: repeats line 7's comuna and instant",
            "line 9: 2 fields",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, start) in problems.iter().zip(expected) {
            assert!(problem.starts_with(start), "{problem} / {start}");
        }
        assert_eq!(
            parse("comuna;fase;desde\n", now(), &santiago()).unwrap_err(),
            ["line 1: the header must be comuna,fase,desde,hora"]
        );
        assert_eq!(
            parse("comuna,fase,desde,hora\n", now(), &santiago()).unwrap_err(),
            ["the file has a header and no change"]
        );
    }

    #[test]
    fn a_file_longer_than_the_limit_is_refused() {
        let mut table = String::from("comuna,fase,desde,hora\n");
        for week in 0..20 {
            let day = Date::constant(2027, 1, 4) + jiff::Span::new().weeks(week);
            for comuna in Comuna::all() {
                table.push_str(&format!("{},1,{day},\n", comuna.code()));
            }
        }
        let problems = parse(&table, now(), &santiago()).unwrap_err();
        assert_eq!(
            problems,
            [format!("line {}: more than 5000 changes in one file", MAX_LINES + 2)]
        );
    }
}
