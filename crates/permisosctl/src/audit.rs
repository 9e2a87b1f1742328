//! `audit`: the permits a load run was told were issued, against what the issuer's
//! operator API (on operadores.<domain>) exports since the run began: none lost, none issued
//! twice (the judgement is `load_record`'s, the same as the local fault suite's). An export
//! is *administración*'s, each page recorded in the audit log with this tool's reason.

use http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use load_record::{Audit, Held, Record};
use serde::Deserialize;

use crate::error::Error;
use crate::operator_api::Operators;

/// Permits per page of `/api/all` (its maximum).
const PAGE: u32 = 100;

/// The reason every page of the export states in the audit log, URL-encoded: "Auditoría de
/// una prueba de carga (permisosctl audit)".
const REASON: &str = "Auditor%C3%ADa%20de%20una%20prueba%20de%20carga%20(permisosctl%20audit)";

/// `--since`: a time (RFC 3339) or how long ago (`30m`, `2h`).
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let ago: SignedDuration = text
        .parse()
        .map_err(|_| format!("{text:?} is neither a time such as 2026-11-30T10:00:00Z nor a span such as 30m"))?;
    now.checked_sub(ago.abs()).map_err(|e| e.to_string())
}

/// A permit as `/api/all` lists it (the fields the audit needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Listed {
    pub id: String,
    pub rut: String,
    /// RFC 3339.
    pub requested_at: String,
}

impl Listed {
    /// Whether it was requested at or after `since`; a time that does not parse counts
    /// as recent, so no permit is left out of the audit for it.
    fn since(&self, since: Timestamp) -> bool {
        self.requested_at.parse::<Timestamp>().ok().is_none_or(|at| at >= since)
    }
}

#[derive(Deserialize)]
struct Page {
    permits: Vec<Listed>,
    next_cursor: Option<String>,
}

/// The audit, for people: the counts, then each lost permit's id.
pub fn render(audit: &Audit, since: &Timestamp) -> String {
    format!(
        "{} permits acknowledged to the load run, {} listed by the issuer since {since}: {} lost, {} citizens with a duplicate\n{}",
        audit.acknowledged,
        audit.held,
        audit.lost.len(),
        audit.duplicated.len(),
        audit
            .lost
            .iter()
            .map(|id| format!("  lost: {id}\n"))
            .collect::<String>()
    )
}

/// The record against the permits listed (see `load_record::compare`).
pub fn compare(record: &Record, listed: &[Listed]) -> Audit {
    load_record::compare(record, listed.iter().map(|p| Held { id: &p.id, rut: &p.rut }))
}

/// Every permit requested at or after `since`, newest first, through the operator API.
pub async fn list_since(operators: &Operators, token: &str, since: Timestamp) -> Result<Vec<Listed>, Error> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/all?limit={PAGE}&reason={REASON}", operators.base());
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (status, body) = operators
            .get(&url, token)
            .await
            .map_err(|e| Error::Service(format!("no answer at {}: {e}", operators.base())))?;
        let page: Page = match status {
            StatusCode::OK => serde_json::from_slice(&body)
                .map_err(|e| Error::Service(format!("/api/all answered something else than a page: {e}")))?,
            StatusCode::UNAUTHORIZED => return Err(Error::Service("refused the operator token".into())),
            StatusCode::FORBIDDEN => {
                return Err(Error::Service(
                    "the operator token is not of the administración role (an export needs it)".into(),
                ));
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::Service(
                    "no operator API here (is this the operadores host of the entrance?)".into(),
                ));
            }
            other => return Err(Error::Service(format!("/api/all answered {other}"))),
        };
        let before = listed.len();
        listed.extend(page.permits.into_iter().take_while(|p| p.since(since)));
        let older_reached = listed.len() - before < PAGE as usize;
        match page.next_cursor {
            Some(next) if !older_reached => cursor = Some(next),
            _ => return Ok(listed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_time_or_a_span_ago() {
        let now: Timestamp = "2026-11-30T13:00:00Z".parse().unwrap();
        assert_eq!(parse_since("30m", now).unwrap().to_string(), "2026-11-30T12:30:00Z");
        assert_eq!(
            parse_since("2026-11-30T10:00:00Z", now).unwrap().to_string(),
            "2026-11-30T10:00:00Z"
        );
        assert!(parse_since("yesterday", now).is_err());
    }
}
