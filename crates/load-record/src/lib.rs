//! The record a load run leaves, one JSON line per answer (written by
//! `load/artillery/fault-hooks.js`), and the one audit of it: each permit acknowledged to a
//! citizen against the permits the system holds. `cargo xtask audit` (the local fault suite,
//! reading the database) and `permisosctl audit` (a cluster, reading the operator API) both
//! judge a run with `compare`, so "lost" and "issued twice" mean the same in both.

use std::collections::{BTreeMap, BTreeSet};

use permit_domain::Rut;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line of the record: an answer to a request, or a create the client gave up on.
#[derive(Debug, Deserialize)]
pub struct Answer {
    /// `create`, `create-gave-up`, `validation` or `page`.
    pub kind: String,
    pub status: Option<u16>,
    /// The permit's id, when the answer named one.
    pub id: Option<String>,
    /// The idempotency key of a create.
    pub key: Option<String>,
    /// 1 for a create's first try.
    pub attempt: Option<u32>,
    pub rut: Option<String>,
    /// How long the answer took.
    pub ms: Option<f64>,
    #[serde(rename = "retryAfter")]
    pub retry_after: Option<Value>,
}

impl Answer {
    /// A success or a redirect.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..400).contains(&s))
    }

    pub fn acknowledged(&self) -> bool {
        self.kind == "create" && self.status == Some(201)
    }
}

/// A whole record, and each acknowledged permit with its citizen's RUT (canonical).
#[derive(Debug, Default)]
pub struct Record {
    pub answers: Vec<Answer>,
    pub acknowledged: BTreeMap<String, String>,
}

impl Record {
    /// Parses the JSON lines of a record; the line number of the first bad one is named.
    pub fn parse(text: &str) -> Result<Record, String> {
        let mut record = Record::default();
        for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |problem: String| format!("line {}: {problem}", number + 1);
            let answer: Answer = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            if answer.acknowledged() {
                let (Some(id), Some(rut)) = (&answer.id, &answer.rut) else {
                    return Err(bad("an acknowledged create without id or rut".into()));
                };
                let rut = Rut::parse(rut).map_err(|_| bad(format!("{rut:?} is not a RUT")))?;
                record.acknowledged.insert(id.clone(), rut.canonical());
            }
            record.answers.push(answer);
        }
        Ok(record)
    }

    /// Every citizen the run asked for a permit for.
    pub fn citizens(&self) -> Vec<Rut> {
        let ruts: BTreeSet<String> = self
            .answers
            .iter()
            .filter(|a| a.kind == "create")
            .filter_map(|a| Rut::parse(a.rut.as_deref()?).ok())
            .map(|rut| rut.canonical())
            .collect();
        ruts.iter().filter_map(|rut| Rut::parse(rut).ok()).collect()
    }

    /// How many answers had each status.
    pub fn status_counts(&self) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for status in self.answers.iter().filter_map(|a| a.status) {
            *counts.entry(status.to_string()).or_default() += 1;
        }
        counts
    }

    /// One line for people: how many answers, how many not a success, by status.
    pub fn summary(&self) -> String {
        let failed = self.answers.iter().filter(|a| !a.ok()).count();
        format!(
            "{} answers recorded, {failed} not a success: {:?}",
            self.answers.len(),
            self.status_counts()
        )
    }
}

/// A permit the system holds: its id and its citizen's RUT as stored or listed.
pub struct Held<'a> {
    pub id: &'a str,
    pub rut: &'a str,
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
    /// Permits the system holds that the audit looked at.
    pub held: usize,
    /// Acknowledged to a citizen, absent from the system.
    pub lost: Vec<String>,
    /// Citizens holding more permits than they were acknowledged.
    pub duplicated: Vec<Duplicate>,
}

impl Audit {
    /// Nothing lost, nothing issued twice, and something to judge.
    pub fn passed(&self) -> bool {
        self.acknowledged > 0 && self.lost.is_empty() && self.duplicated.is_empty()
    }
}

/// The record against the permits held. Permits of citizens outside the record (other
/// traffic) are not judged.
pub fn compare<'a>(record: &Record, held: impl IntoIterator<Item = Held<'a>>) -> Audit {
    let held: Vec<Held> = held.into_iter().collect();
    let ids: BTreeSet<&str> = held.iter().map(|p| p.id).collect();
    let lost = record
        .acknowledged
        .keys()
        .filter(|id| !ids.contains(id.as_str()))
        .cloned()
        .collect();
    let mut told: BTreeMap<&str, usize> = BTreeMap::new();
    for rut in record.acknowledged.values() {
        *told.entry(rut).or_default() += 1;
    }
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for permit in &held {
        if let Ok(rut) = Rut::parse(permit.rut)
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
        held: held.len(),
        lost,
        duplicated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Held<'a>> {
        pairs.iter().map(|&(id, rut)| Held { id, rut }).collect()
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
        assert_eq!(record.answers.len(), 4);
        assert_eq!(record.citizens().len(), 3);
        let clean = compare(
            &record,
            held(&[("a", "12.345.678-5"), ("b", "11.111.111-1"), ("z", "9.999.999-3")]),
        );
        assert!(clean.passed(), "{clean:?}");
        let bad = compare(&record, held(&[("a", "12.345.678-5"), ("c", "12.345.678-5")]));
        assert_eq!(bad.lost, ["b"]);
        assert_eq!(bad.duplicated[0].rut, "12345678-5");
        assert_eq!((bad.duplicated[0].acknowledged, bad.duplicated[0].stored), (1, 2));
        assert!(!bad.passed());
        assert!(
            !compare(&Record::default(), []).passed(),
            "an empty record proves nothing"
        );
        assert_eq!(
            record.summary(),
            r#"4 answers recorded, 1 not a success: {"200": 1, "201": 2, "503": 1}"#
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
}
