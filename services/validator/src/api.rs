//! The JSON API: a permit's status, as the page shows it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use permit_web::openapi::{ErrorBody, MotiveView};
use permit_web::{AppError, Context};
use serde::Serialize;
use utoipa::ToSchema;

use crate::errors::NotGenuine;
use crate::lookup::{Check, check};
use crate::signed::{self, Signed};

/// What a check shows: the status now, name and RUT partly masked, no address.
#[derive(Serialize, ToSchema)]
pub struct CheckView {
    #[schema(example = "q6V7pTz0S3mXcW1bN8eYkA")]
    id: String,
    /// At the time of the answer.
    status: &'static str,
    /// The status as a police officer reads it, e.g. `VIGENTE`.
    status_label: &'static str,
    #[schema(format = DateTime)]
    valid_from: String,
    #[schema(format = DateTime)]
    expires_at: String,
    motive: MotiveView,
    /// Initials only: `A. M. R.`.
    name: String,
    /// The last three digits and the check digit: `**.***.678-5`.
    rut: String,
    /// The version of the rules it was issued under; null for a permit from before permits
    /// recorded it.
    #[schema(example = "2021-04-05")]
    policy: Option<String>,
    /// Its comuna's Paso a Paso phase then, by code; null outside the plan.
    #[schema(example = "cuarentena")]
    phase: Option<&'static str>,
}

/// A permit's status now.
#[utoipa::path(
    get,
    path = "/api/{id}",
    tag = "checks",
    params(("id" = String, Path, description = "The permit's code, as in its validation link.")),
    responses(
        (status = 200, description = "The permit exists; `status` says whether it is valid now.", body = CheckView),
        (status = 404, description = "No permit with this code, or not a code at all (`not_found`).", body = ErrorBody),
    ),
)]
pub async fn status(State(ctx): State<Context>, Path(id): Path<String>) -> Result<Json<CheckView>, AppError> {
    let check = check(&ctx, &id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(CheckView::of(&ctx, check)))
}

impl CheckView {
    fn of(ctx: &Context, check: Check) -> CheckView {
        CheckView {
            id: check.id.to_string(),
            status: check.status.code(),
            status_label: check.status.label(),
            valid_from: ctx.rfc3339(check.valid_from),
            expires_at: ctx.rfc3339(check.expires_at),
            motive: MotiveView::of(check.motive),
            name: check.name,
            rut: check.rut,
            policy: check.issued_under.as_ref().map(|u| u.policy.to_string()),
            phase: check.issued_under.as_ref().and_then(|u| u.phase).map(|p| p.code()),
        }
    }
}

/// A signed permit's status, read from the token itself: no database read.
#[derive(Serialize, ToSchema)]
pub struct SignedCheckView {
    #[serde(flatten)]
    check: CheckView,
    /// The id of the public key that verified the signature (`kid` in the JWK Set).
    #[schema(example = "3q2-7wAAAAA")]
    key_id: String,
    /// When this validator last read the revocation list: a permit revoked after this
    /// still reads as valid here. `null` if it has not read it since it started.
    #[schema(format = DateTime)]
    revocations_checked_at: Option<String>,
}

/// A signed permit's status now, from its token (the part of `/v/{token}` after `/v/`).
#[utoipa::path(
    get,
    path = "/api/v/{token}",
    tag = "checks",
    params(("token" = String, Path, description = "The signed permit, as in its QR code's link: base64url COSE_Sign1.")),
    responses(
        (status = 200, description = "A genuine permit; `status` says whether it is valid now.", body = SignedCheckView),
        (status = 400, description = "Not a genuine permit (`invalid_token`).", body = ErrorBody),
    ),
)]
pub async fn signed_status(
    State(ctx): State<Context>,
    State(signed): State<Arc<Signed>>,
    Path(token): Path<String>,
) -> Result<Json<SignedCheckView>, AppError> {
    let checked = signed::check(&ctx, &signed, &token).map_err(NotGenuine)?;
    Ok(Json(SignedCheckView {
        key_id: checked.key_id.to_string(),
        revocations_checked_at: checked.revocations_as_of.map(|at| ctx.rfc3339(at)),
        check: CheckView::of(&ctx, checked.check),
    }))
}

/// The public keys that verify signed permits, as a JWK Set (RFC 7517, OKP/Ed25519).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "checks",
    responses((status = 200, description = "`{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\", \"x\", ...}]}`", content_type = "application/jwk-set+json")),
)]
pub async fn public_keys(State(signed): State<Arc<Signed>>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            // Scanners refresh their copy about this often; a rotation publishes the new key
            // well before the issuer uses it (README).
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        signed.keys.to_json(),
    )
}
