//! The JSON API: a permit's status, as the page shows it.

use axum::Json;
use axum::extract::{Path, State};
use permit_web::openapi::{ErrorBody, MotiveView};
use permit_web::{AppError, Context};
use serde::Serialize;
use utoipa::ToSchema;

use crate::lookup::check;

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
    /// Initials only: `A** M**** R****`.
    name: String,
    /// Middle digits hidden: `12.***.***-5`.
    rut: String,
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
    let check = check(&ctx, &id).await?;
    Ok(Json(CheckView {
        id: check.id.to_string(),
        status: check.status.code(),
        status_label: check.status.label(),
        valid_from: ctx.rfc3339(check.valid_from),
        expires_at: ctx.rfc3339(check.expires_at),
        motive: MotiveView::of(check.motive),
        name: check.name,
        rut: check.rut,
    }))
}
