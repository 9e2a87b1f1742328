//! Audits one fault-suite run: what the clients were told against what the database holds.
//!
//! Reads the answers the hooks recorded (`load_record`), artillery's report (for errors
//! that never got an answer) and, through permit-store, the permits of every citizen in the
//! run; lost and twice-issued permits are judged by `load_record::compare`, as
//! `permisosctl audit` judges a cluster's. Prints one JSON object and fails when a check the scenario asks for fails:
//! always nothing acknowledged lost, no citizen with two permits, no create given up, no
//! answer missing, every 503 with Retry-After; `no_errors`: every answer a success;
//! `outage`: validations may fail, but only with 503 (a database outage); `max_ms`: every
//! answer within that time.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use load_record::{Answer, Held, Record};
use permit_store::Store;
use serde_json::{Value, json};

use crate::error::Error;

#[derive(Default)]
pub struct Checks {
    pub no_errors: bool,
    pub outage: bool,
    pub max_ms: Option<f64>,
}

/// The outcome of an audit: whether every check passed, and the figures as JSON.
pub struct Verdict {
    pub passed: bool,
    pub json: String,
}

pub async fn audit(record: &Path, report: &Path, uri: &str, database: &str, checks: &Checks) -> Result<Verdict, Error> {
    let text = std::fs::read_to_string(record).map_err(Error::io(format!("reading {}", record.display())))?;
    let record = Record::parse(&text).map_err(|e| Error::Failed(format!("{}: {e}", record.display())))?;
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(report).map_err(Error::io(format!("reading {}", report.display())))?,
    )
    .map_err(|e| Error::Failed(format!("{}: {e}", report.display())))?;
    let answers = &record.answers;

    let creates: Vec<&Answer> = answers.iter().filter(|a| a.kind == "create").collect();
    let keys_ok: HashSet<&str> = creates
        .iter()
        .filter(|a| a.acknowledged())
        .filter_map(|a| a.key.as_deref())
        .collect();
    let first_failed: HashSet<&str> = creates
        .iter()
        .filter(|a| a.attempt == Some(1) && !a.acknowledged())
        .filter_map(|a| a.key.as_deref())
        .collect();

    let store = Store::connect(uri, database, "xtask-audit").await?;
    let held = store.permits_of(&record.citizens()).await?;
    let held: Vec<(String, String)> = held.iter().map(|p| (p.id.to_string(), p.rut.canonical())).collect();
    let judged = load_record::compare(&record, held.iter().map(|(id, rut)| Held { id, rut }));

    let counters = &report["aggregate"]["counters"];
    let unanswered: BTreeMap<&String, &Value> = counters
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.starts_with("errors."))
        .collect();
    let failed = |kind: &str| answers.iter().filter(|a| a.kind == kind && !a.ok()).count();
    let mut timings: Vec<f64> = answers.iter().filter_map(|a| a.ms).collect();
    timings.sort_by(f64::total_cmp);
    let (lost, duplicates) = (judged.lost.len(), judged.duplicated.len());
    let gave_up = answers.iter().filter(|a| a.kind == "create-gave-up").count();
    let validations_failed = failed("validation");
    let no_retry_after = answers
        .iter()
        .filter(|a| a.status == Some(503) && a.retry_after.as_ref().is_none_or(|v| v.is_null() || v == ""))
        .count();
    let failures_not_503 = answers
        .iter()
        .filter(|a| a.kind != "create-gave-up" && a.status.is_some_and(|s| s >= 400 && s != 503))
        .count();
    let vusers_failed = counters["vusers.failed"].as_u64().unwrap_or(0);
    let max_ms = timings.last().copied();
    let p99_ms = (!timings.is_empty()).then(|| timings[(timings.len() * 99 / 100).min(timings.len() - 1)]);

    let mut verdicts = vec![
        ("lost", lost == 0),
        ("duplicates", duplicates == 0),
        ("creates_gave_up", gave_up == 0),
        ("validations_failed", checks.outage || validations_failed == 0),
        ("unanswered", unanswered.is_empty() && vusers_failed == 0),
        ("no_retry_after", no_retry_after == 0),
        ("acknowledged", judged.acknowledged > 0),
    ];
    if checks.outage {
        verdicts.push(("failures_not_503", failures_not_503 == 0));
    }
    if checks.no_errors {
        verdicts.push(("no_errors", failed("page") == 0 && first_failed.is_empty()));
    }
    if let Some(limit) = checks.max_ms {
        verdicts.push(("max_ms", max_ms.is_some_and(|ms| ms <= limit)));
    }
    let failed_checks: Vec<&str> = verdicts.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
    let result = json!({
        "answers": answers.len(),
        "status_counts": record.status_counts(),
        "acknowledged": judged.acknowledged,
        "lost": lost,
        "duplicates": duplicates,
        "creates": creates.iter().filter_map(|a| a.key.as_deref()).collect::<HashSet<_>>().len(),
        "creates_failed_first_try": first_failed.len(),
        "creates_retried_ok": first_failed.intersection(&keys_ok).count(),
        "creates_gave_up": gave_up,
        "validations": answers.iter().filter(|a| a.kind == "validation").count(),
        "validations_failed": validations_failed,
        "pages_failed": failed("page"),
        "no_retry_after": no_retry_after,
        "failures_not_503": failures_not_503,
        "unanswered": unanswered,
        "vusers_failed": vusers_failed,
        "max_ms": max_ms,
        "p99_ms": p99_ms,
        "failed": failed_checks,
    });
    Ok(Verdict {
        passed: failed_checks.is_empty(),
        json: serde_json::to_string_pretty(&result).expect("JSON"),
    })
}
