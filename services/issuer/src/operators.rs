//! Operators' API tokens, managed by the *administración* role: made (the token shown
//! once, in the answer), listed (never a secret or its digest) and revoked. Each is
//! recorded in the audit log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::SignedDuration;
use permit_domain::{Operator, OperatorAccount, OperatorToken, Role};
use permit_store::AuditAction;
use permit_web::AppError;
use permit_web::openapi::ErrorBody;
use serde::Serialize;
use utoipa::ToSchema;

use crate::IssuerState;
use crate::audit::Acting;
use crate::json_body::{TokenRequest, token_request};

/// A token's record, as operators see it.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    /// The token's public id: names it here, in revocations and in the audit log.
    id: String,
    name: String,
    role: String,
    /// RFC 3339, UTC.
    created_at: String,
    expires_at: String,
    created_by: String,
    revoked_at: Option<String>,
}

impl From<&OperatorAccount> for TokenView {
    fn from(a: &OperatorAccount) -> TokenView {
        TokenView {
            id: a.id.clone(),
            name: a.name.as_str().to_owned(),
            role: a.role.code().to_owned(),
            created_at: a.created_at.to_string(),
            expires_at: a.expires_at.to_string(),
            created_by: a.created_by.clone(),
            revoked_at: a.revoked_at.map(|at| at.to_string()),
        }
    }
}

/// A new token: its record, and the token itself, shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    record: TokenView,
    /// `pmt_…`: the bearer token. Not stored, not shown again.
    token: String,
}

/// Every operator token.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    tokens: Vec<TokenView>,
}

/// Makes a token for a named operator, with one role, for some days.
#[utoipa::path(
    post,
    path = "/api/operators",
    tag = "operator",
    request_body = TokenRequest,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Made; the token is in this answer only.", body = NewToken),
        (status = 401, description = "No valid operator token (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "A token of another role (`forbidden`).", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "`name`, `role` or `days` wrong (`invalid_fields`).", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<IssuerState>,
    acting: Acting,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<NewToken>), AppError> {
    let (name, role, days) = token_request(&headers, &body)?;
    let (account, token) = make(&state, &acting, name, role, days).await?;
    let made = NewToken {
        record: TokenView::from(&account),
        token,
    };
    Ok((StatusCode::CREATED, Json(made)))
}

/// A token made for `name` with `role` for `days`, recorded: its record, and the token
/// (`pmt_…`), which is stored nowhere.
pub async fn make(
    state: &IssuerState,
    acting: &Acting,
    name: Operator,
    role: Role,
    days: u64,
) -> Result<(OperatorAccount, String), AppError> {
    let token = OperatorToken::generate();
    let now = state.ctx.now();
    let account = OperatorAccount {
        id: token.id().to_owned(),
        digest: token.digest(),
        name,
        role,
        created_at: now,
        expires_at: now + SignedDuration::from_hours(24 * days as i64),
        created_by: acting.operator.clone(),
        revoked_at: None,
    };
    let detail = format!(
        "token {} for {} ({role}, {days} days)",
        account.id,
        account.name.as_str()
    );
    acting
        .record(state, AuditAction::CreateOperatorToken, None, None, Some(detail))
        .await?;
    state.ctx.store.add_operator_token(&account).await?;
    Ok((account, token.reveal()))
}

/// Every token, newest first: who holds which role until when, and which were revoked.
#[utoipa::path(
    get,
    path = "/api/operators",
    tag = "operator",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The tokens, no secrets.", body = TokenList),
        (status = 401, description = "No valid operator token (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "A token of another role (`forbidden`).", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<IssuerState>, acting: Acting) -> Result<Json<TokenList>, AppError> {
    let tokens = all(&state, &acting).await?;
    Ok(Json(TokenList {
        tokens: tokens.iter().map(TokenView::from).collect(),
    }))
}

/// Every token, the listing recorded.
pub async fn all(state: &IssuerState, acting: &Acting) -> Result<Vec<OperatorAccount>, AppError> {
    acting
        .record(state, AuditAction::ListOperatorTokens, None, None, None)
        .await?;
    Ok(state.ctx.store.operator_tokens().await?)
}

/// Revokes a token from now on: it opens nothing more. Revoking again keeps the first time.
#[utoipa::path(
    delete,
    path = "/api/operators/{id}",
    tag = "operator",
    params(("id" = String, Path, description = "The token's public id.")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Revoked.", body = TokenView),
        (status = 401, description = "No valid operator token (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "A token of another role (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such token (`not_found`).", body = ErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<IssuerState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(TokenView::from(&withdraw(&state, &acting, &id).await?)))
}

/// The token `id` revoked, recorded; 404 for no such token.
pub async fn withdraw(state: &IssuerState, acting: &Acting, id: &str) -> Result<OperatorAccount, AppError> {
    if id.len() != 11 {
        return Err(AppError::NotFound);
    }
    acting
        .record(
            state,
            AuditAction::RevokeOperatorToken,
            None,
            None,
            Some(format!("token {id}")),
        )
        .await?;
    let revoked = state
        .ctx
        .store
        .revoke_operator_token(id, state.ctx.now())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(revoked)
}
