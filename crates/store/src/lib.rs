//! Permits and weekly quotas in MongoDB, through the official driver.
//!
//! Driver errors are mapped here, once: E11000 on a quota counter means "quota reached",
//! an unreachable server means "unavailable".

mod audit;
mod documents;
mod error;
mod idempotency;
mod operators;
mod page;
mod phases;
mod plans;
mod retention;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use permit_domain::{Comuna, Permit, PermitId, QuotaClaim, QuotaReached, Refusal, Rut};

pub use crate::audit::{AUDIT_RETENTION, AuditAction, AuditCursor, AuditEntry, AuditFilter, AuditPage, BadAuditCursor};
use crate::documents::{PermitDocument, RevocationDocument, to_bson};
pub use crate::error::StoreError;
use crate::error::is_duplicate_key;
pub use crate::idempotency::KeyState;
pub use crate::operators::MOST_TOKENS;
pub use crate::page::{BadCursor, Cursor, Page};
pub use crate::phases::PhaseChange;
pub use crate::plans::QueryPlan;
pub use crate::retention::{LegalHold, MOST_LISTED};

/// How long the driver looks for a server before an operation fails as unavailable, so a
/// dead database is answered with 503 in about this long instead of a hang (under 2 s,
/// measured by the fault suite).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_millis(1500);

/// Told the name and duration of each database command, for metrics.
pub type CommandObserver = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// Conflicting first inserts of one quota counter are retried this many times.
const QUOTA_ATTEMPTS: usize = 5;

/// Waits before each try at giving back the quota of a permit that was not stored: about
/// 8 s in all, longer than a primary election, short enough to end soon after the citizen
/// was answered.
const RELEASE_BACKOFF: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
];

/// Quota give-backs in the background: how many are under way, how many gave up.
#[derive(Default)]
pub struct QuotaReleases {
    pending: AtomicU64,
    failed: AtomicU64,
}

impl QuotaReleases {
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Give-backs that failed every try: a quota counted for a permit that does not exist.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// One collection's size, as the server counts it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CollectionSize {
    pub name: &'static str,
    pub documents: i64,
    pub data_bytes: i64,
    pub storage_bytes: i64,
    pub index_bytes: i64,
}

#[derive(Clone)]
pub struct Store {
    database: Database,
    permits: Collection<PermitDocument>,
    quotas: Collection<Document>,
    keys: Collection<Document>,
    /// Counts by day, comuna and motive of the permits erased (`retention`).
    statistics: Collection<Document>,
    /// Every operator action (`audit`): inserted and read, never changed.
    audit: Collection<audit::AuditDocument>,
    /// Operators' API tokens (`operators`): ids and digests, never secrets.
    operator_tokens: Collection<operators::TokenDocument>,
    /// The Paso a Paso schedule as published (`phases`): inserted and read, never changed.
    phases: Collection<phases::PhaseDocument>,
    releases: Arc<QuotaReleases>,
}

impl Store {
    /// Connects lazily: no I/O happens until the first operation.
    pub async fn connect(uri: &str, database: &str, app_name: &str) -> Result<Store, StoreError> {
        Store::connect_observed(uri, database, app_name, None).await
    }

    /// As `connect`, reporting the name and duration of every command the driver runs.
    pub async fn connect_observed(
        uri: &str,
        database: &str,
        app_name: &str,
        observer: Option<CommandObserver>,
    ) -> Result<Store, StoreError> {
        if uri.trim_start().starts_with("mongodb+srv:") {
            return Err(StoreError::SrvUnsupported);
        }
        let mut options = ClientOptions::parse(uri).await.map_err(StoreError::Connection)?;
        options.app_name = Some(app_name.to_owned());
        if let Some(observer) = observer {
            options.command_event_handler = Some(EventHandler::callback(move |event| match event {
                CommandEvent::Succeeded(done) => observer(&done.command_name, done.duration),
                CommandEvent::Failed(failed) => observer(&failed.command_name, failed.duration),
                _ => {}
            }));
        }
        options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
        options.connect_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
        let client = Client::with_options(options).map_err(StoreError::Connection)?;
        let database = client.database(database);
        Ok(Store {
            permits: database.collection("permits"),
            quotas: database.collection("weekly_quotas"),
            keys: database.collection("idempotency_keys"),
            statistics: database.collection("permit_statistics"),
            audit: database.collection("audit_log"),
            operator_tokens: database.collection("operator_tokens"),
            phases: database.collection("phase_changes"),
            releases: Arc::default(),
            database,
        })
    }

    /// Creates the indexes the queries rely on; safe to run on every start, from every replica.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.permits
            .create_index(IndexModel::builder().keys(page::newest_first()).build())
            .await?;
        // Sparse: only revoked permits have the field, so the validators' revocation list
        // reads a handful of entries, however many permits there are.
        self.permits
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "revoked_at": 1 })
                    .options(IndexOptions::builder().sparse(true).build())
                    .build(),
            )
            .await?;
        // An operator's search by comuna and days, newest first.
        self.permits
            .create_index(IndexModel::builder().keys(page::in_comuna_newest_first()).build())
            .await?;
        // A citizen's own permits (the rights page), and the erasure of expired ones.
        self.permits
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "rut": 1, "requested_at": -1 })
                    .build(),
            )
            .await?;
        self.permits
            .create_index(IndexModel::builder().keys(retention::BY_EXPIRY.clone()).build())
            .await?;
        // Quota counters and idempotency keys go when their `expire_at` passes.
        for collection in [&self.quotas, &self.keys] {
            let expire_at_the_time_stored = IndexOptions::builder().expire_after(Duration::ZERO).build();
            collection
                .create_index(
                    IndexModel::builder()
                        .keys(doc! { "expire_at": 1 })
                        .options(expire_at_the_time_stored)
                        .build(),
                )
                .await?;
        }
        self.ensure_audit_indexes().await?;
        self.ensure_phase_indexes().await?;
        Ok(())
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.database.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// Stores a new permit, first counting it against the weekly quota when `quota` is given.
    /// The count is atomic in the database, so replicas racing cannot exceed the limit.
    pub async fn issue(&self, permit: &Permit, quota: Option<&QuotaClaim>) -> Result<(), StoreError> {
        if let Some(claim) = quota {
            self.claim(claim).await?;
        }
        let inserted = self.permits.insert_one(PermitDocument::from(permit)).await;
        if let (Err(error), Some(claim)) = (&inserted, quota) {
            tracing::warn!(%error, "permit not stored; giving its quota back");
            // In the background: the client is answered at once, not after a second wait on
            // a database that may be the reason the insert failed.
            self.releases.pending.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(self.clone().release_with_retries(claim.clone()));
        }
        inserted?;
        Ok(())
    }

    /// The background give-backs of this store's quotas, for metrics.
    pub fn quota_releases(&self) -> &QuotaReleases {
        &self.releases
    }

    async fn release_with_retries(self, claim: QuotaClaim) {
        let mut outcome = Ok(());
        for wait in RELEASE_BACKOFF {
            tokio::time::sleep(wait).await;
            outcome = self.release(&claim).await;
            if outcome.is_ok() {
                break;
            }
        }
        if let Err(error) = outcome {
            self.releases.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                %error,
                tries = RELEASE_BACKOFF.len(),
                "could not give back the quota of a permit that was not stored"
            );
        }
        self.releases.pending.fetch_sub(1, Ordering::Relaxed);
    }

    pub async fn find(&self, id: &PermitId) -> Result<Option<Permit>, StoreError> {
        self.permits
            .find_one(by_id(id.as_str()))
            .await?
            .map(Permit::try_from)
            .transpose()
    }

    /// Every permit held by one of `ruts`, for audits; served by the `rut` index.
    pub async fn permits_of(&self, ruts: &[Rut]) -> Result<Vec<Permit>, StoreError> {
        let documents: Vec<PermitDocument> = self.permits.find(held_by(ruts)).await?.try_collect().await?;
        documents.into_iter().map(Permit::try_from).collect()
    }

    /// Newest first, at most `limit`, after `cursor` when given.
    pub async fn list(&self, limit: u32, cursor: Option<&Cursor>) -> Result<Page, StoreError> {
        self.page_of(Document::new(), limit, cursor).await
    }

    /// The permits of `comuna` requested from `from` until (not including) `until`, newest
    /// first, at most `limit`, after `cursor` when given.
    pub async fn list_in_comuna(
        &self,
        comuna: &Comuna,
        (from, until): (jiff::Timestamp, jiff::Timestamp),
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page, StoreError> {
        self.page_of(in_comuna(comuna, from, until), limit, cursor).await
    }

    /// A page of the permits `filter` matches, newest first.
    async fn page_of(&self, filter: Document, limit: u32, cursor: Option<&Cursor>) -> Result<Page, StoreError> {
        let filter = match cursor {
            None => filter,
            Some(cursor) => cursor.narrow(filter),
        };
        let documents: Vec<PermitDocument> = self
            .permits
            .find(filter)
            .sort(page::newest_first())
            .limit(i64::from(limit) + 1)
            .await?
            .try_collect()
            .await?;
        let mut permits = documents
            .into_iter()
            .map(Permit::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let more = permits.len() > limit as usize;
        permits.truncate(limit as usize);
        let next = more.then(|| permits.last().map(Cursor::after)).flatten();
        Ok(Page { permits, next })
    }

    /// Marks a permit revoked from `at`; revoking again keeps the first time. `None` if unknown.
    pub async fn revoke(&self, id: &PermitId, at: jiff::Timestamp) -> Result<Option<Permit>, StoreError> {
        self.permits
            .find_one_and_update(by_id(id.as_str()), revoked_from(at))
            .return_document(ReturnDocument::After)
            .await?
            .map(Permit::try_from)
            .transpose()
    }

    /// The revoked permits that have not expired yet, with when each was (or will be)
    /// revoked: what a validator must know to refuse a signed permit. Served by the sparse
    /// `revoked_at` index.
    pub async fn revocations(&self, now: jiff::Timestamp) -> Result<Vec<(PermitId, jiff::Timestamp)>, StoreError> {
        let documents: Vec<RevocationDocument> = self
            .permits
            .clone_with_type()
            .find(unexpired_revocations(now))
            .projection(revocation_fields())
            .await?
            .try_collect()
            .await?;
        documents.into_iter().map(RevocationDocument::parse).collect()
    }

    /// Documents, data and index bytes of each collection, as the server counts them
    /// (`collStats`), for the benchmarks.
    pub async fn sizes(&self) -> Result<Vec<CollectionSize>, StoreError> {
        let mut sizes = Vec::new();
        for name in ["permits", "weekly_quotas", "idempotency_keys"] {
            let stats = self.database.run_command(doc! { "collStats": name }).await?;
            let number = |field: &str| {
                stats
                    .get(field)
                    .and_then(|value| {
                        value
                            .as_i64()
                            .or_else(|| value.as_i32().map(i64::from))
                            .or(value.as_f64().map(|f| f as i64))
                    })
                    .unwrap_or(0)
            };
            sizes.push(CollectionSize {
                name,
                documents: number("count"),
                data_bytes: number("size"),
                storage_bytes: number("storageSize"),
                index_bytes: number("totalIndexSize"),
            });
        }
        Ok(sizes)
    }

    /// One conditional upsert per attempt: it increments the (RUT, week) counter only while
    /// both the weekly limit and the motive's own cap have room. When the condition fails
    /// on an existing counter the upsert collides with it (E11000); the counter then tells
    /// whether it is full or whether another replica just created it, in which case we retry.
    async fn claim(&self, claim: &QuotaClaim) -> Result<(), StoreError> {
        let (filter, update) = counting(claim);
        for _ in 0..QUOTA_ATTEMPTS {
            match self
                .quotas
                .update_one(filter.clone(), update.clone())
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if is_duplicate_key(&error) => {
                    if let Some(refusal) = self.full(claim).await? {
                        return Err(StoreError::Refused(refusal));
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Unavailable(mongodb::error::Error::custom(
            "quota counter kept changing under contention",
        )))
    }

    /// The refusal to give if the counter has no room left for this claim.
    async fn full(&self, claim: &QuotaClaim) -> Result<Option<Refusal>, StoreError> {
        let counter = self.quotas.find_one(by_id(&claim.key)).await?.unwrap_or_default();
        let total = whole_number(counter.get("total"));
        let for_motive = counter
            .get_document("motives")
            .map_or(0, |m| whole_number(m.get(claim.motive.code())));
        let on_weekends = whole_number(counter.get("weekend"));
        let full = |cap: Option<u32>, count: i64| cap.is_some_and(|cap| count >= i64::from(cap));
        Ok(if total >= i64::from(claim.limit) {
            Some(claim.refusal(QuotaReached::WeeklyLimit))
        } else if full(claim.motive_cap, for_motive) {
            Some(claim.refusal(QuotaReached::MotiveCap))
        } else if full(claim.weekend_cap, on_weekends) {
            Some(claim.refusal(QuotaReached::WeekendCap))
        } else {
            None
        })
    }

    async fn release(&self, claim: &QuotaClaim) -> Result<(), StoreError> {
        self.quotas.update_one(by_id(&claim.key), uncounting(claim)).await?;
        Ok(())
    }
}

// The filters and updates of the queries above, apart so that `plans` explains the very
// ones that run.

fn by_id(id: &str) -> Document {
    doc! { "_id": id }
}

/// The permits of `comuna` requested in `[from, until)`.
fn in_comuna(comuna: &Comuna, from: jiff::Timestamp, until: jiff::Timestamp) -> Document {
    doc! {
        "comuna": comuna.as_str(),
        "requested_at": { "$gte": to_bson(from), "$lt": to_bson(until) },
    }
}

fn held_by(ruts: &[Rut]) -> Document {
    let ruts: Vec<String> = ruts.iter().map(Rut::canonical).collect();
    doc! { "rut": { "$in": ruts } }
}

fn revoked_from(at: jiff::Timestamp) -> Document {
    doc! { "$min": { "revoked_at": to_bson(at) } }
}

fn unexpired_revocations(now: jiff::Timestamp) -> Document {
    doc! {
        "revoked_at": { "$exists": true },
        "expires_at": { "$gt": to_bson(now) },
    }
}

fn revocation_fields() -> Document {
    doc! { "_id": 1, "revoked_at": 1 }
}

/// The conditional upsert that counts `claim` against its week (see `Store::claim`).
fn counting(claim: &QuotaClaim) -> (Document, Document) {
    let motive_count = format!("motives.{}", claim.motive.code());
    let mut filter = doc! { "_id": &claim.key, "total": { "$lt": i64::from(claim.limit) } };
    // `$not $gte` also matches a counter that has no such count yet.
    if let Some(cap) = claim.motive_cap {
        filter.insert(&motive_count, doc! { "$not": { "$gte": i64::from(cap) } });
    }
    let mut counts = doc! { "total": 1_i64, &motive_count: 1_i64 };
    if let Some(cap) = claim.weekend_cap {
        filter.insert("weekend", doc! { "$not": { "$gte": i64::from(cap) } });
        counts.insert("weekend", 1_i64);
    }
    // Kept a day past the week so a clock skew between replicas cannot reset it early.
    let expire_at = to_bson(claim.week.ends.timestamp() + jiff::SignedDuration::from_hours(24));
    let update = doc! {
        "$inc": counts,
        "$setOnInsert": { "expire_at": expire_at },
    };
    (filter, update)
}

fn uncounting(claim: &QuotaClaim) -> Document {
    let motive_count = format!("motives.{}", claim.motive.code());
    let mut counts = doc! { "total": -1_i64, motive_count: -1_i64 };
    if claim.weekend_cap.is_some() {
        counts.insert("weekend", -1_i64);
    }
    doc! { "$inc": counts }
}

/// Counters are written as 64-bit integers, but a server may hand back any numeric type.
fn whole_number(value: Option<&Bson>) -> i64 {
    match value {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}
