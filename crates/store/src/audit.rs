//! The audit log: who looked at or changed what, when, from where and why (Ley 21.719's
//! accountability). Its own collection, `audit_log`, which this crate only ever inserts
//! into and reads: there is no function here to update or delete an entry, and the
//! database role the services connect with (k8s/base/mongodb-init) grants no more.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::TryStreamExt;
use jiff::Timestamp;
use mongodb::IndexModel;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};

use crate::documents::{from_bson, to_bson};
use crate::{Store, StoreError};

/// How long an audit entry is kept: five years, the time within which Chile's Código Penal
/// (art. 94) lets a simple crime, such as an official's abuse of the data, be prosecuted;
/// past it the entry (which names permits, never a RUT) is erased by the database itself.
pub const AUDIT_RETENTION: std::time::Duration = std::time::Duration::from_secs(5 * 365 * 24 * 3600);

/// What an operator did. The stable codes are what the log, the API and filters show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Exported a page of every permit, with each holder's personal data (`/api/all`,
    /// *administración* only).
    ListPermits,
    /// Looked up a citizen's permits by their RUT.
    SearchByRut,
    /// Looked up a comuna's permits over some days.
    SearchByComuna,
    RevokePermit,
    PlaceHold,
    LiftHold,
    /// Issued a permit for a citizen at a counter.
    AssistedIssue,
    /// Read the audit log itself.
    ReadAudit,
    CreateOperatorToken,
    ListOperatorTokens,
    RevokeOperatorToken,
    /// A named operator's token refused: revoked, expired or with a wrong secret (one entry
    /// a minute per token at most, so a flood of them cannot fill the log).
    RefusedToken,
    /// Opened a permit's full record (and its audit trail) in the console.
    ReadPermit,
    /// Signed in to the console.
    SignIn,
    /// Published a comuna's change of Paso a Paso phase.
    PublishPhase,
    /// Signed in at the provider without an operator role: the console refused them (one
    /// entry a minute per identity at most).
    RefusedSignIn,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        AuditAction::ListPermits,
        AuditAction::SearchByRut,
        AuditAction::SearchByComuna,
        AuditAction::RevokePermit,
        AuditAction::PlaceHold,
        AuditAction::LiftHold,
        AuditAction::AssistedIssue,
        AuditAction::ReadAudit,
        AuditAction::CreateOperatorToken,
        AuditAction::ListOperatorTokens,
        AuditAction::RevokeOperatorToken,
        AuditAction::RefusedToken,
        AuditAction::ReadPermit,
        AuditAction::SignIn,
        AuditAction::RefusedSignIn,
        AuditAction::PublishPhase,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuditAction::ListPermits => "list_permits",
            AuditAction::SearchByRut => "search_by_rut",
            AuditAction::SearchByComuna => "search_by_comuna",
            AuditAction::RevokePermit => "revoke_permit",
            AuditAction::PlaceHold => "place_hold",
            AuditAction::LiftHold => "lift_hold",
            AuditAction::AssistedIssue => "assisted_issue",
            AuditAction::ReadAudit => "read_audit",
            AuditAction::CreateOperatorToken => "create_operator_token",
            AuditAction::ListOperatorTokens => "list_operator_tokens",
            AuditAction::RevokeOperatorToken => "revoke_operator_token",
            AuditAction::RefusedToken => "refused_token",
            AuditAction::ReadPermit => "read_permit",
            AuditAction::SignIn => "sign_in",
            AuditAction::RefusedSignIn => "refused_sign_in",
            AuditAction::PublishPhase => "publish_phase",
        }
    }

    pub fn parse(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// One entry: an action an operator asked for, recorded before it is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// Who: the operator's name, as their credential names them.
    pub operator: String,
    /// The role the action was allowed under.
    pub role: String,
    pub action: AuditAction,
    /// The permit acted on, where there is one.
    pub permit: Option<String>,
    /// The reason the operator gave, where the action asks for one.
    pub reason: Option<String>,
    /// From where: the client's address as the service saw it (the ingress's, in a cluster).
    pub client: Option<String>,
    /// What else identifies the action (the page asked for, the filter of a search).
    pub detail: Option<String>,
}

/// Which entries to list: each field given narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub permit: Option<String>,
    pub operator: Option<String>,
    pub action: Option<AuditAction>,
    /// Only entries older than this one (the previous page's last).
    pub after: Option<AuditCursor>,
}

/// Where a page of the audit log ended: its last entry's time and id, so entries of the
/// same millisecond are neither repeated nor skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    at: DateTime,
    id: ObjectId,
}

/// A cursor text that this service did not hand out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit page cursor is not valid")]
pub struct BadAuditCursor;

impl AuditCursor {
    pub fn parse(text: &str) -> Result<AuditCursor, BadAuditCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadAuditCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadAuditCursor)?;
        let (millis, id) = text.split_once(':').ok_or(BadAuditCursor)?;
        let millis = millis.parse::<i64>().map_err(|_| BadAuditCursor)?;
        let id = ObjectId::parse_str(id).map_err(|_| BadAuditCursor)?;
        Ok(AuditCursor {
            at: DateTime::from_millis(millis),
            id,
        })
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.timestamp_millis(), self.id.to_hex()))
    }
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<AuditCursor>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AuditDocument {
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<ObjectId>,
    at: DateTime,
    operator: String,
    role: String,
    action: AuditAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    permit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl Store {
    /// Appends `entry`. The caller records before it acts, so an action whose entry could
    /// not be written is not carried out.
    pub async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let document = AuditDocument {
            id: None,
            at: to_bson(entry.at),
            operator: entry.operator.clone(),
            role: entry.role.clone(),
            action: entry.action,
            permit: entry.permit.clone(),
            reason: entry.reason.clone(),
            client: entry.client.clone(),
            detail: entry.detail.clone(),
        };
        self.audit.insert_one(document).await?;
        Ok(())
    }

    /// Entries matching `filter`, newest first, at most `limit` a page.
    pub async fn audit_trail(&self, filter: &AuditFilter, limit: u32) -> Result<AuditPage, StoreError> {
        let documents: Vec<AuditDocument> = self
            .audit
            .find(matching(filter))
            .sort(newest_first())
            .limit(i64::from(limit) + 1)
            .await?
            .try_collect()
            .await?;
        let more = documents.len() > limit as usize;
        let mut next = None;
        let mut entries = Vec::with_capacity(documents.len());
        for d in documents.into_iter().take(limit as usize) {
            next = d.id.map(|id| AuditCursor { at: d.at, id });
            entries.push(AuditEntry {
                at: from_bson(d.at),
                operator: d.operator,
                role: d.role,
                action: d.action,
                permit: d.permit,
                reason: d.reason,
                client: d.client,
                detail: d.detail,
            });
        }
        Ok(AuditPage {
            entries,
            next: next.filter(|_| more),
        })
    }

    /// The audit log's indexes: by time, and by permit or operator then time, the two
    /// questions an auditor asks ("who saw this permit", "what did this operator do"); and
    /// the one that lets the database erase an entry `AUDIT_RETENTION` after it was made.
    pub(crate) async fn ensure_audit_indexes(&self) -> Result<(), StoreError> {
        for keys in [
            newest_first(),
            doc! { "permit": 1, "at": -1, "_id": -1 },
            doc! { "operator": 1, "at": -1, "_id": -1 },
        ] {
            self.audit
                .create_index(IndexModel::builder().keys(keys).build())
                .await?;
        }
        let retention = IndexOptions::builder().expire_after(AUDIT_RETENTION).build();
        self.audit
            .create_index(IndexModel::builder().keys(doc! { "at": 1 }).options(retention).build())
            .await?;
        Ok(())
    }
}

/// The log's order, and the key of its main index: a page is a walk of it.
pub(crate) fn newest_first() -> Document {
    doc! { "at": -1, "_id": -1 }
}

pub(crate) fn matching(filter: &AuditFilter) -> Document {
    let mut query = Document::new();
    if let Some(permit) = &filter.permit {
        query.insert("permit", permit);
    }
    if let Some(operator) = &filter.operator {
        query.insert("operator", operator);
    }
    if let Some(action) = filter.action {
        query.insert("action", action.code());
    }
    match &filter.after {
        None => query,
        Some(cursor) => doc! { "$and": [query, { "$or": [
            { "at": { "$lt": cursor.at } },
            { "at": cursor.at, "_id": { "$lt": cursor.id } },
        ] }] },
    }
}
