//! Idempotency keys of `POST /api/create`: a retried request with the same key and body
//! gets the permit the first one issued, and uses no second quota.
//!
//! A key is reserved with the permit id it will issue under and a short lease. Whoever
//! holds the lease issues the permit and marks the key done; a retry meanwhile is told the
//! request is in progress. If the holder dies, the lease runs out and the next retry takes
//! the key over — issuing under the same id, or finding the permit already stored.

use jiff::{SignedDuration, Timestamp};
use mongodb::bson::{DateTime, Document, doc};
use permit_domain::{Permit, PermitId};

use crate::documents::to_bson;
use crate::error::is_duplicate_key;
use crate::{Store, StoreError, by_id};

/// How long the holder of a key has to issue its permit before a retry may take over.
const LEASE: SignedDuration = SignedDuration::from_secs(10);
/// How long a key is remembered.
const REMEMBERED: SignedDuration = SignedDuration::from_hours(24);

/// What a key says about a request.
#[derive(Debug)]
pub enum KeyState {
    /// Issue the permit under this id, then `complete_key` (or `release_key` on failure).
    Reserved(PermitId),
    /// The permit this key already issued.
    Replay(Box<Permit>),
    /// Another request with this key is being answered now.
    InProgress,
    /// The key was used with a different request.
    KeyReused,
}

impl Store {
    pub async fn reserve_key(&self, key: &str, fingerprint: &str, now: Timestamp) -> Result<KeyState, StoreError> {
        let id = PermitId::generate();
        let reservation = doc! {
            "_id": key,
            "fingerprint": fingerprint,
            "permit_id": id.as_str(),
            "done": false,
            "lease_until": to_bson(now + LEASE),
            "expire_at": to_bson(now + REMEMBERED),
        };
        match self.keys.insert_one(reservation).await {
            Ok(_) => return Ok(KeyState::Reserved(id)),
            Err(error) if is_duplicate_key(&error) => {}
            Err(error) => return Err(error.into()),
        }
        // The key exists (or existed a moment ago and expired: then the caller retries).
        let Some(existing) = self.keys.find_one(by_id(key)).await? else {
            return Ok(KeyState::InProgress);
        };
        if existing.get_str("fingerprint").ok() != Some(fingerprint) {
            return Ok(KeyState::KeyReused);
        }
        let id = existing
            .get_str("permit_id")
            .ok()
            .and_then(|id| PermitId::parse(id).ok())
            .ok_or(StoreError::Corrupt {
                id: key.to_owned(),
                field: "permit_id",
            })?;
        if let Some(permit) = self.find(&id).await? {
            self.complete_key(key).await?;
            return Ok(KeyState::Replay(Box::new(permit)));
        }
        let lease_until = existing.get_datetime("lease_until").copied().unwrap_or(DateTime::MIN);
        if existing.get_bool("done").unwrap_or(false) || lease_until > to_bson(now) {
            return Ok(KeyState::InProgress);
        }
        let (filter, update) = taking_over(key, lease_until, now);
        let take_over = self.keys.update_one(filter, update).await?;
        Ok(if take_over.modified_count == 1 {
            KeyState::Reserved(id)
        } else {
            KeyState::InProgress
        })
    }

    /// The permit of this key is stored.
    pub async fn complete_key(&self, key: &str) -> Result<(), StoreError> {
        self.keys.update_one(by_id(key), done()).await?;
        Ok(())
    }

    /// The request failed without issuing; the key may be used again.
    pub async fn release_key(&self, key: &str) -> Result<(), StoreError> {
        self.keys.delete_one(unfinished(key)).await?;
        Ok(())
    }
}

// As in the crate's root: the filters and updates apart, for `plans`.

/// The key still held by the lease that ran out at `lease_until`, given a new one.
pub(crate) fn taking_over(key: &str, lease_until: DateTime, now: Timestamp) -> (Document, Document) {
    (
        doc! { "_id": key, "lease_until": lease_until },
        doc! { "$set": { "lease_until": to_bson(now + LEASE) } },
    )
}

pub(crate) fn done() -> Document {
    doc! { "$set": { "done": true } }
}

pub(crate) fn unfinished(key: &str) -> Document {
    doc! { "_id": key, "done": false }
}
