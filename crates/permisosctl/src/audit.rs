//! `audit`: the permits a load run was told were issued, against what the issuer's
//! operator API lists since the run began: none lost, none issued twice.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use permit_domain::Rut;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HOST};
use serde::{Deserialize, Serialize};

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

/// One line of a load run's record (artillery/fault-hooks.js): an answer to a request.
#[derive(Deserialize)]
struct Answer {
    kind: String,
    status: Option<u16>,
    id: Option<String>,
    rut: Option<String>,
}

/// What a load run was told: each acknowledged permit and its citizen's RUT.
#[derive(Debug, Default)]
pub struct Record {
    pub acknowledged: BTreeMap<String, String>,
}

impl Record {
    /// Parses the JSON lines of a record; the line number of the first bad one is named.
    pub fn parse(text: &str) -> Result<Record, String> {
        let mut record = Record::default();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let answer: Answer = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1))?;
            if answer.kind == "create" && answer.status == Some(201) {
                let (Some(id), Some(rut)) = (answer.id, answer.rut) else {
                    return Err(format!("line {}: an acknowledged create without id or rut", number + 1));
                };
                let rut = Rut::parse(&rut).map_err(|_| format!("line {}: {rut:?} is not a RUT", number + 1))?;
                record.acknowledged.insert(id, rut.canonical());
            }
        }
        Ok(record)
    }
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

#[derive(Debug, Serialize)]
pub struct Duplicate {
    pub rut: String,
    pub acknowledged: usize,
    pub stored: usize,
}

#[derive(Debug, Serialize)]
pub struct Audit {
    pub acknowledged: usize,
    /// Permits the issuer lists since the start.
    pub listed: usize,
    /// Acknowledged to a citizen, absent from the issuer.
    pub lost: Vec<String>,
    /// Citizens holding more permits than they were acknowledged.
    pub duplicated: Vec<Duplicate>,
}

/// The audit, for people: the counts, then each lost permit's id.
pub fn render(audit: &Audit, since: &Timestamp) -> String {
    format!(
        "{} permits acknowledged to the load run, {} listed by the issuer since {since}: {} lost, {} citizens with a duplicate\n{}",
        audit.acknowledged,
        audit.listed,
        audit.lost.len(),
        audit.duplicated.len(),
        audit
            .lost
            .iter()
            .map(|id| format!("  lost: {id}\n"))
            .collect::<String>()
    )
}

impl Audit {
    pub fn passed(&self) -> bool {
        self.acknowledged > 0 && self.lost.is_empty() && self.duplicated.is_empty()
    }
}

/// The record against the permits listed. Permits of citizens outside the record (other
/// traffic) are not judged.
pub fn compare(record: &Record, listed: &[Listed]) -> Audit {
    let held: BTreeSet<&str> = listed.iter().map(|p| p.id.as_str()).collect();
    let lost = record
        .acknowledged
        .keys()
        .filter(|id| !held.contains(id.as_str()))
        .cloned()
        .collect();
    let mut told: BTreeMap<&str, usize> = BTreeMap::new();
    for rut in record.acknowledged.values() {
        *told.entry(rut).or_default() += 1;
    }
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for permit in listed {
        if let Ok(rut) = Rut::parse(&permit.rut)
            && told.contains_key(rut.canonical().as_str())
        {
            *stored.entry(rut.canonical()).or_default() += 1;
        }
    }
    let duplicated = stored
        .into_iter()
        .filter_map(|(rut, stored)| {
            let acknowledged = told[rut.as_str()];
            (stored > acknowledged).then_some(Duplicate {
                rut,
                acknowledged,
                stored,
            })
        })
        .collect();
    Audit {
        acknowledged: record.acknowledged.len(),
        listed: listed.len(),
        lost,
        duplicated,
    }
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

    fn listed(id: &str, rut: &str) -> Listed {
        Listed {
            id: id.into(),
            rut: rut.into(),
            requested_at: "2026-11-30T13:00:00Z".into(),
        }
    }

    #[test]
    fn lost_and_twice_issued_permits_are_found() {
        let record = Record::parse(concat!(
            r#"{"kind":"create","status":201,"id":"a","rut":"12345678-5"}"#,
            "\n",
            r#"{"kind":"create","status":201,"id":"b","rut":"11111111-1"}"#,
            "\n",
            r#"{"kind":"create","status":503,"key":"k","rut":"22222222-2"}"#,
            "\n",
            r#"{"kind":"validation","status":200,"id":"a"}"#,
        ))
        .unwrap();
        assert_eq!(record.acknowledged.len(), 2);
        let clean = compare(
            &record,
            &[
                listed("a", "12.345.678-5"),
                listed("b", "11.111.111-1"),
                listed("z", "9.999.999-3"),
            ],
        );
        assert!(clean.passed(), "{clean:?}");
        let bad = compare(&record, &[listed("a", "12.345.678-5"), listed("c", "12.345.678-5")]);
        assert_eq!(bad.lost, ["b"]);
        assert_eq!(bad.duplicated[0].rut, "12345678-5");
        assert_eq!((bad.duplicated[0].acknowledged, bad.duplicated[0].stored), (1, 2));
        assert!(!bad.passed());
        assert!(
            !compare(&Record::default(), &[]).passed(),
            "an empty record proves nothing"
        );
    }

    #[test]
    fn records_with_bad_lines_are_refused_with_the_line() {
        assert_eq!(
            Record::parse("{}\nnot json").unwrap_err().split(':').next(),
            Some("line 1")
        );
        assert!(
            Record::parse(r#"{"kind":"create","status":201,"id":"a","rut":"12345678-0"}"#)
                .unwrap_err()
                .contains("is not a RUT")
        );
    }

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
