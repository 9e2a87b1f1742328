//! `audit`: the permits a load run was told were issued, against what the issuer's
//! operator API lists since the run began: none lost, none issued twice (the judgement is
//! `load_record`'s, the same as the local fault suite's).

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use load_record::{Audit, Held, Record};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HOST};
use serde::Deserialize;

use crate::error::{Error, source_chain};
use crate::smoke::Entry;

/// Permits per page of `/api/all` (its maximum).
const PAGE: u32 = 100;

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
pub async fn list_since(
    http: &reqwest::Client,
    entry: &Entry,
    token: &str,
    since: Timestamp,
) -> Result<Vec<Listed>, Error> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("http://{}/api/all?limit={PAGE}", entry.address);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = http
            .get(&url)
            .header(HOST, &entry.issuer_host)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .map_err(|e| Error::Service(format!("no answer at {}: {}", entry.address, source_chain(&e))))?;
        let page: Page = match response.status() {
            StatusCode::OK => response
                .json()
                .await
                .map_err(|e| Error::Service(format!("/api/all answered something else than a page: {e}")))?,
            StatusCode::UNAUTHORIZED => return Err(Error::Service("refused the operator token".into())),
            StatusCode::NOT_FOUND => {
                return Err(Error::Service(
                    "no operator API here (its ADMIN_TOKEN is not set, or the host is wrong)".into(),
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

/// The operator token the issuers run with, read where their Deployment takes it from.
pub async fn operator_token(client: &Client, namespace: &str) -> Result<String, Error> {
    let deployment = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get_opt("issuer")
        .await?
        .ok_or_else(|| Error::Unhealthy(format!("deployment/issuer not found in {namespace}")))?;
    let reference = deployment
        .spec
        .and_then(|s| s.template.spec)
        .into_iter()
        .flat_map(|s| s.containers)
        .flat_map(|c| c.env.unwrap_or_default())
        .find(|e| e.name == "ADMIN_TOKEN")
        .and_then(|e| e.value_from?.secret_key_ref)
        .ok_or_else(|| Error::Unhealthy("deployment/issuer takes no ADMIN_TOKEN from a Secret".into()))?;
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(&reference.name)
        .await?
        .ok_or_else(|| Error::Unhealthy(format!("secret/{} not found", reference.name)))?;
    secret
        .data
        .and_then(|mut d| d.remove(&reference.key))
        .and_then(|bytes| String::from_utf8(bytes.0).ok())
        .ok_or_else(|| Error::Unhealthy(format!("secret/{} has no key {}", reference.name, reference.key)))
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
