//! Personal data kept only as long as its purpose needs (Ley 21.719): a citizen's own
//! permits for the rights page, the erasure of expired permits (counted first into
//! statistics that name nobody), and the legal hold that keeps a permit from erasure.

use futures_util::TryStreamExt;
use jiff::Timestamp;
use mongodb::bson::{Document, doc};
use permit_domain::{Permit, PermitId, Rut};

use crate::documents::{PermitDocument, to_bson};
use crate::{Store, StoreError, by_id};

/// The most permits a citizen's page lists: a year of two a week, with room.
pub const MOST_LISTED: i64 = 200;

/// The index erasure walks, named in its queries: a planner that weighs it against a
/// collection scan on a small collection would otherwise read every permit.
pub(crate) static BY_EXPIRY: std::sync::LazyLock<Document> = std::sync::LazyLock::new(|| doc! { "expires_at": 1 });

/// A legal hold on a permit: why, and when it was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub reason: String,
    pub since: Timestamp,
}

impl Store {
    /// The permits held by `rut`, newest first (at most `MOST_LISTED`); served by the
    /// `{rut, requested_at}` index.
    pub async fn permits_held_by(&self, rut: &Rut) -> Result<Vec<Permit>, StoreError> {
        let documents: Vec<PermitDocument> = self
            .permits
            .find(doc! { "rut": rut.canonical() })
            .sort(doc! { "requested_at": -1 })
            .limit(MOST_LISTED)
            .await?
            .try_collect()
            .await?;
        documents.into_iter().map(Permit::try_from).collect()
    }

    /// Erases, at most `batch` at a time, the permits that expired before `before` and are
    /// under no legal hold (only `holder`'s, when given): each is first counted into
    /// `permit_statistics` (day, comuna, motive: no name, RUT, address or id), then deleted.
    /// Returns how many were erased. A crash between the two leaves a permit counted once
    /// too few, never a person's data kept.
    pub async fn erase_expired(&self, before: Timestamp, batch: u32, holder: Option<&Rut>) -> Result<u64, StoreError> {
        let filter = erasable(before, holder);
        let mut erased = 0;
        while erased < u64::from(batch) {
            let next = self
                .permits
                .find_one_and_delete(filter.clone())
                .hint(mongodb::options::Hint::Keys(BY_EXPIRY.clone()));
            let Some(permit) = next.await? else {
                break;
            };
            let (key, fields) = statistic(&permit);
            self.statistics
                .update_one(
                    doc! { "_id": key },
                    doc! { "$setOnInsert": fields, "$inc": { "permits": 1_i64 } },
                )
                .upsert(true)
                .await?;
            erased += 1;
        }
        Ok(erased)
    }

    /// Places a legal hold on a permit (a court's or prosecutor's order): it is not erased
    /// while the hold stands. `None` if the permit is unknown. A second hold replaces the first.
    pub async fn hold(&self, id: &PermitId, hold: &LegalHold) -> Result<Option<()>, StoreError> {
        let update = doc! { "$set": { "legal_hold": { "reason": &hold.reason, "since": to_bson(hold.since) } } };
        let matched = self.permits.update_one(by_id(id.as_str()), update).await?.matched_count;
        Ok((matched == 1).then_some(()))
    }

    /// Lifts a permit's legal hold. `None` if the permit is unknown.
    pub async fn release_hold(&self, id: &PermitId) -> Result<Option<()>, StoreError> {
        let update = doc! { "$unset": { "legal_hold": "" } };
        let matched = self.permits.update_one(by_id(id.as_str()), update).await?.matched_count;
        Ok((matched == 1).then_some(()))
    }

    /// The anonymous statistics erasure leaves: `(day, comuna, motive, permits)`, by day.
    pub async fn statistics(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        let rows: Vec<Document> = self
            .statistics
            .find(doc! {})
            .sort(doc! { "day": 1, "comuna": 1, "motive": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let text = |field| row.get_str(field).unwrap_or_default().to_owned();
                let permits = row
                    .get_i64("permits")
                    .or_else(|_| row.get_i32("permits").map(i64::from));
                (text("day"), text("comuna"), text("motive"), permits.unwrap_or(0))
            })
            .collect())
    }
}

pub(crate) fn erasable(before: Timestamp, holder: Option<&Rut>) -> Document {
    let mut filter = doc! { "expires_at": { "$lt": to_bson(before) }, "legal_hold": { "$exists": false } };
    if let Some(rut) = holder {
        filter.insert("rut", rut.canonical());
    }
    filter
}

/// The statistic a permit adds to: the UTC day its validity began, its comuna and motive.
fn statistic(permit: &PermitDocument) -> (String, Document) {
    let day = jiff::Timestamp::from_millisecond(permit.valid_from.timestamp_millis())
        .map(|at| at.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let key = format!("{day}|{}|{}", permit.comuna, permit.motive);
    (
        key,
        doc! { "day": day, "comuna": &permit.comuna, "motive": &permit.motive },
    )
}
