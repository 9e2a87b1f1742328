//! Operators' API tokens (`operator_tokens`): the id and the digest of each secret, never
//! the secret; whose, which role, until when, and whether revoked. A revoked token's record
//! stays, so the audit log's names keep their meaning.

use futures_util::TryStreamExt;
use jiff::Timestamp;
use mongodb::bson::{DateTime, doc};
use permit_domain::{Operator, OperatorAccount, Role};
use serde::{Deserialize, Serialize};

use crate::documents::{from_bson, to_bson};
use crate::{Store, StoreError, by_id, revoked_from};

/// The most tokens a listing returns: far more than a country's operators hold at once.
pub const MOST_TOKENS: i64 = 1000;

#[derive(Serialize, Deserialize)]
pub(crate) struct TokenDocument {
    #[serde(rename = "_id")]
    id: String,
    digest: String,
    name: String,
    role: String,
    created_at: DateTime,
    expires_at: DateTime,
    created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime>,
}

impl From<&OperatorAccount> for TokenDocument {
    fn from(a: &OperatorAccount) -> TokenDocument {
        TokenDocument {
            id: a.id.clone(),
            digest: a.digest.clone(),
            name: a.name.as_str().to_owned(),
            role: a.role.code().to_owned(),
            created_at: to_bson(a.created_at),
            expires_at: to_bson(a.expires_at),
            created_by: a.created_by.clone(),
            revoked_at: a.revoked_at.map(to_bson),
        }
    }
}

impl TryFrom<TokenDocument> for OperatorAccount {
    type Error = StoreError;

    fn try_from(d: TokenDocument) -> Result<OperatorAccount, StoreError> {
        let corrupt = |field: &'static str| StoreError::Corrupt {
            id: d.id.clone(),
            field,
        };
        Ok(OperatorAccount {
            name: Operator::parse(&d.name).map_err(|_| corrupt("name"))?,
            role: Role::parse(&d.role).ok_or_else(|| corrupt("role"))?,
            created_at: from_bson(d.created_at),
            expires_at: from_bson(d.expires_at),
            revoked_at: d.revoked_at.map(from_bson),
            id: d.id,
            digest: d.digest,
            created_by: d.created_by,
        })
    }
}

impl Store {
    pub async fn add_operator_token(&self, account: &OperatorAccount) -> Result<(), StoreError> {
        self.operator_tokens.insert_one(TokenDocument::from(account)).await?;
        Ok(())
    }

    /// The token with this id, whatever its state (the caller checks it admits the secret).
    pub async fn operator_token(&self, id: &str) -> Result<Option<OperatorAccount>, StoreError> {
        self.operator_tokens
            .find_one(by_id(id))
            .await?
            .map(OperatorAccount::try_from)
            .transpose()
    }

    /// Every token, newest first, at most `MOST_TOKENS`.
    pub async fn operator_tokens(&self) -> Result<Vec<OperatorAccount>, StoreError> {
        let documents: Vec<TokenDocument> = self
            .operator_tokens
            .find(doc! {})
            .sort(doc! { "created_at": -1 })
            .limit(MOST_TOKENS)
            .await?
            .try_collect()
            .await?;
        documents.into_iter().map(OperatorAccount::try_from).collect()
    }

    /// Revokes a token from `at`; revoking again keeps the first time. `None` if unknown.
    pub async fn revoke_operator_token(&self, id: &str, at: Timestamp) -> Result<Option<OperatorAccount>, StoreError> {
        self.operator_tokens
            .find_one_and_update(by_id(id), revoked_from(at))
            .return_document(mongodb::options::ReturnDocument::After)
            .await?
            .map(OperatorAccount::try_from)
            .transpose()
    }
}
