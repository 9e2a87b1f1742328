//! How the server carries out each query the services run (`explain`), for the benchmarks:
//! a query that reads the whole collection, or sorts it in memory, costs more the more
//! permits there are. The commands are built by the same functions as the queries.

use jiff::Timestamp;
use mongodb::bson::{Bson, DateTime, Document, doc};
use permit_domain::{Permit, QuotaClaim};

use crate::audit::{self, AuditFilter};
use crate::idempotency::{done, taking_over, unfinished};
use crate::page::{Cursor, newest_first};
use crate::{
    Store, StoreError, by_id, counting, held_by, in_comuna, revocation_fields, revoked_from, uncounting,
    unexpired_revocations, whole_number,
};

/// The page size of the admin API's default page, for its two queries.
const PAGE: i64 = 50;

/// One query the services run and how the server carried it out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryPlan {
    /// Who runs it, and when.
    pub query: &'static str,
    /// False for the audit's query, which only an operator runs.
    pub by_a_service: bool,
    /// The winning plan's stages, outermost first, each scan with the index it walks.
    pub stages: Vec<String>,
    pub keys_examined: i64,
    pub documents_examined: i64,
}

impl QueryPlan {
    /// Whether answering reads the whole collection or sorts in memory.
    pub fn grows_with_the_collection(&self) -> bool {
        self.stages.iter().any(|stage| stage == "COLLSCAN" || stage == "SORT")
    }
}

impl Store {
    /// The plan of every query the services run but the two inserts (a permit, an
    /// idempotency key: `explain` does not take inserts; each adds one entry to each index
    /// of its collection), with `permit` a stored permit, `claim` a week it counts against
    /// and `key` an idempotency key.
    pub async fn query_plans(
        &self,
        permit: &Permit,
        claim: &QuotaClaim,
        key: &str,
        now: Timestamp,
    ) -> Result<Vec<QueryPlan>, StoreError> {
        let id = permit.id.as_str();
        let week_before = now - jiff::SignedDuration::from_hours(7 * 24);
        let (count_filter, count_update) = counting(claim);
        let (take_over_filter, take_over_update) = taking_over(key, DateTime::from_millis(0), now);
        let queries = [
            (
                "a permit by its code: validator /validar, issuer /permiso, replayed requests",
                doc! { "find": "permits", "filter": by_id(id), "limit": 1, "singleBatch": true },
            ),
            (
                "the newest permits, first page (admin API)",
                doc! { "find": "permits", "filter": {}, "sort": newest_first(), "limit": PAGE + 1 },
            ),
            (
                "the newest permits, a later page (admin API)",
                doc! {
                    "find": "permits", "filter": Cursor::after(permit).filter(),
                    "sort": newest_first(), "limit": PAGE + 1,
                },
            ),
            (
                "a comuna's permits over a week, first page (operators' search)",
                doc! {
                    "find": "permits", "filter": in_comuna(&permit.comuna, week_before, now),
                    "sort": newest_first(), "limit": PAGE + 1,
                },
            ),
            (
                "a comuna's permits over a week, a later page (operators' search)",
                doc! {
                    "find": "permits",
                    "filter": Cursor::after(permit).narrow(in_comuna(&permit.comuna, week_before, now)),
                    "sort": newest_first(), "limit": PAGE + 1,
                },
            ),
            (
                "unexpired revocations (each validator, every 30 s)",
                doc! {
                    "find": "permits", "filter": unexpired_revocations(now),
                    "projection": revocation_fields(),
                },
            ),
            (
                "revoke a permit (admin API)",
                doc! {
                    "findAndModify": "permits", "query": by_id(id),
                    "update": revoked_from(now), "new": true,
                },
            ),
            (
                "count a permit against its week (issuer, every create)",
                doc! {
                    "update": "weekly_quotas",
                    "updates": [{ "q": count_filter, "u": count_update, "upsert": true }],
                },
            ),
            (
                "a week's counter (issuer, when the count is refused)",
                doc! { "find": "weekly_quotas", "filter": by_id(&claim.key), "limit": 1, "singleBatch": true },
            ),
            (
                "give a week's count back (issuer, when the permit was not stored)",
                doc! {
                    "update": "weekly_quotas",
                    "updates": [{ "q": by_id(&claim.key), "u": uncounting(claim) }],
                },
            ),
            (
                "an idempotency key (issuer, on a retried create)",
                doc! { "find": "idempotency_keys", "filter": by_id(key), "limit": 1, "singleBatch": true },
            ),
            (
                "take over an abandoned idempotency key (issuer)",
                doc! {
                    "update": "idempotency_keys",
                    "updates": [{ "q": take_over_filter, "u": take_over_update }],
                },
            ),
            (
                "mark an idempotency key done (issuer)",
                doc! { "update": "idempotency_keys", "updates": [{ "q": by_id(key), "u": done() }] },
            ),
            (
                "free an idempotency key after a failure (issuer)",
                doc! { "delete": "idempotency_keys", "deletes": [{ "q": unfinished(key), "limit": 1 }] },
            ),
            (
                "a citizen's own permits (issuer, their rights page)",
                doc! {
                    "find": "permits",
                    "filter": { "rut": permit.rut.canonical() },
                    "sort": { "requested_at": -1 },
                    "limit": crate::MOST_LISTED,
                },
            ),
            (
                "the next expired permit to erase (issuer, retention)",
                // findAndModify's query is planned as this find is.
                doc! {
                    "find": "permits",
                    "filter": crate::retention::erasable(now, None),
                    "hint": crate::retention::BY_EXPIRY.clone(),
                    "limit": 1,
                },
            ),
            (
                "the audit log, newest first (admin API)",
                doc! {
                    "find": "audit_log", "filter": audit::matching(&AuditFilter::default()),
                    "sort": audit::newest_first(), "limit": PAGE + 1,
                },
            ),
            (
                "a permit's audit trail (admin API)",
                doc! {
                    "find": "audit_log",
                    "filter": audit::matching(&AuditFilter { permit: Some(id.to_owned()), ..AuditFilter::default() }),
                    "sort": audit::newest_first(), "limit": PAGE + 1,
                },
            ),
            (
                "the permits of some RUTs (audit, `cargo xtask audit`; no service)",
                doc! { "find": "permits", "filter": held_by(std::slice::from_ref(&permit.rut)) },
            ),
        ];
        let count = queries.len();
        let mut plans = Vec::with_capacity(count);
        for (index, (query, command)) in queries.into_iter().enumerate() {
            let reply = self
                .database
                .run_command(doc! { "explain": command, "verbosity": "executionStats" })
                .await?;
            // The audit's query comes last.
            let by_a_service = index + 1 < count;
            plans.push(plan_of(query, by_a_service, &reply));
        }
        Ok(plans)
    }
}

fn plan_of(query: &'static str, by_a_service: bool, reply: &Document) -> QueryPlan {
    let mut stages = Vec::new();
    let mut node = reply
        .get_document("queryPlanner")
        .and_then(|planner| planner.get_document("winningPlan"))
        .ok();
    while let Some(stage) = node {
        let name = stage.get_str("stage").unwrap_or("?");
        stages.push(match stage.get_str("indexName") {
            Ok(index) => format!("{name} {index}"),
            Err(_) => name.to_owned(),
        });
        node = stage.get_document("inputStage").ok().or_else(|| {
            stage
                .get_array("inputStages")
                .ok()
                .and_then(|all| all.first())
                .and_then(Bson::as_document)
        });
    }
    let stats = reply.get_document("executionStats").ok();
    let number = |field: &str| whole_number(stats.and_then(|s| s.get(field)));
    QueryPlan {
        query,
        by_a_service,
        stages,
        keys_examined: number("totalKeysExamined"),
        documents_examined: number("totalDocsExamined"),
    }
}
