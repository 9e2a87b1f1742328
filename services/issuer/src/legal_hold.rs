//! The operator's legal hold: a court or prosecutor orders a permit kept, and retention
//! skips it until the hold is lifted.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use permit_domain::PermitId;
use permit_store::{AuditAction, LegalHold};
use permit_web::AppError;
use permit_web::openapi::ErrorBody;
use serde::Serialize;
use utoipa::ToSchema;

use crate::IssuerState;
use crate::audit::Acting;
use crate::json_body::{HoldRequest, hold_reason};

/// A permit's hold, as placed or lifted.
#[derive(Serialize, ToSchema)]
pub struct HoldView {
    id: String,
    /// Whether the permit is now kept from erasure.
    held: bool,
    /// Why, when held.
    reason: Option<String>,
}

/// Keeps a permit from erasure until the hold is lifted.
#[utoipa::path(
    post,
    path = "/api/permits/{id}/hold",
    tag = "operator",
    params(("id" = String, Path, description = "The permit's code.")),
    request_body = HoldRequest,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Held; a second hold replaces the first's reason.", body = HoldView),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such permit (`not_found`).", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "`reason` missing or wrong (`invalid_fields`).", body = ErrorBody),
    ),
)]
pub async fn place(
    State(state): State<IssuerState>,
    acting: Acting,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<HoldView>, AppError> {
    let id = PermitId::parse(&id).map_err(|_| AppError::NotFound)?;
    let reason = hold_reason(&headers, &body)?;
    acting
        .record(&state, AuditAction::PlaceHold, Some(&id), Some(&reason), None)
        .await?;
    let hold = LegalHold {
        reason: reason.clone(),
        since: state.ctx.now(),
    };
    state.ctx.store.hold(&id, &hold).await?.ok_or(AppError::NotFound)?;
    Ok(Json(HoldView {
        id: id.to_string(),
        held: true,
        reason: Some(reason),
    }))
}

/// Lifts a permit's legal hold: retention erases it when its time has come.
#[utoipa::path(
    delete,
    path = "/api/permits/{id}/hold",
    tag = "operator",
    params(("id" = String, Path, description = "The permit's code.")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Not held (lifting twice is harmless).", body = HoldView),
        (status = 401, description = "No valid named operator token (`unauthorized`); the bootstrap `ADMIN_TOKEN` opens only `/api/operators`.", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 404, description = "No such permit (`not_found`).", body = ErrorBody),
    ),
)]
pub async fn lift(
    State(state): State<IssuerState>,
    acting: Acting,
    Path(id): Path<String>,
) -> Result<Json<HoldView>, AppError> {
    let id = PermitId::parse(&id).map_err(|_| AppError::NotFound)?;
    acting
        .record(&state, AuditAction::LiftHold, Some(&id), None, None)
        .await?;
    state.ctx.store.release_hold(&id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(HoldView {
        id: id.to_string(),
        held: false,
        reason: None,
    }))
}
