//! The Paso a Paso schedule as published (`phase_changes`): one document per change, each
//! with who published it and when; only inserted and read, like the audit log, so the
//! schedule a permit was decided under can always be told. A correction is a newer
//! publication for the same comuna and instant.

use futures_util::TryStreamExt;
use jiff::Timestamp;
use mongodb::IndexModel;
use mongodb::bson::{DateTime, doc};
use permit_domain::{Comuna, Phase};
use serde::{Deserialize, Serialize};

use crate::documents::{from_bson, to_bson};
use crate::{Store, StoreError};

/// One published change: from `from`, `comuna` is in `phase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseChange {
    pub comuna: Comuna,
    pub from: Timestamp,
    pub phase: Phase,
    pub published_at: Timestamp,
    /// The operator, as the audit log names them.
    pub published_by: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct PhaseDocument {
    /// The comuna's código único territorial.
    comuna: String,
    from: DateTime,
    phase: String,
    published_at: DateTime,
    published_by: String,
}

impl From<&PhaseChange> for PhaseDocument {
    fn from(c: &PhaseChange) -> PhaseDocument {
        PhaseDocument {
            comuna: c.comuna.code().to_owned(),
            from: to_bson(c.from),
            phase: c.phase.code().to_owned(),
            published_at: to_bson(c.published_at),
            published_by: c.published_by.clone(),
        }
    }
}

impl TryFrom<PhaseDocument> for PhaseChange {
    type Error = StoreError;

    fn try_from(d: PhaseDocument) -> Result<PhaseChange, StoreError> {
        let corrupt = |field: &'static str| StoreError::Corrupt {
            id: format!("{} {}", d.comuna, d.from),
            field,
        };
        Ok(PhaseChange {
            comuna: Comuna::parse(&d.comuna).map_err(|_| corrupt("comuna"))?,
            phase: Phase::parse(&d.phase).ok_or_else(|| corrupt("phase"))?,
            from: from_bson(d.from),
            published_at: from_bson(d.published_at),
            published_by: d.published_by,
        })
    }
}

impl Store {
    pub async fn publish_phase(&self, change: &PhaseChange) -> Result<(), StoreError> {
        self.phases.insert_one(PhaseDocument::from(change)).await?;
        Ok(())
    }

    /// Every change published at or after `since` (all, without it), in the order they
    /// were published: applied in that order, a correction wins. At `since` itself too, so
    /// a change published in the same millisecond as the last one read is not missed
    /// (applying one twice changes nothing).
    pub async fn phase_changes(&self, since: Option<Timestamp>) -> Result<Vec<PhaseChange>, StoreError> {
        let filter = match since {
            Some(since) => doc! { "published_at": { "$gte": to_bson(since) } },
            None => doc! {},
        };
        let documents: Vec<PhaseDocument> = self
            .phases
            .find(filter)
            .sort(doc! { "published_at": 1 })
            .await?
            .try_collect()
            .await?;
        documents.into_iter().map(PhaseChange::try_from).collect()
    }

    pub(crate) async fn ensure_phase_indexes(&self) -> Result<(), StoreError> {
        self.phases
            .create_index(IndexModel::builder().keys(doc! { "published_at": 1 }).build())
            .await?;
        Ok(())
    }
}
