//! Assisted issuance: the real system's fallback for a citizen without internet or
//! ClaveÚnica. At a police station an operator checks their ID card and issues the permit
//! in that name, with the same rules and the citizen's own weekly quota; the operator is
//! recorded in the permit. Role *asistencia* (a named token), or the counter's shared
//! `ASSISTANCE_TOKEN`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use permit_domain::Rut;
use permit_store::AuditAction;
use permit_web::AppError;
use permit_web::openapi::ErrorBody;

use crate::IssuerState;
use crate::api::{PermitView, Viewer};
use crate::audit::Acting;
use crate::issue::issue_assisted;
use crate::json_body::{AssistedPermit, assisted_permit};

/// Issues a permit for the citizen at the counter, who showed their ID card; the answer
/// carries their holder link to print or send them.
#[utoipa::path(
    post,
    path = "/api/assisted",
    tag = "assistance",
    request_body = AssistedPermit,
    security(("assistance_token" = [])),
    responses(
        (status = 201, description = "Issued, with the operator recorded.", body = PermitView),
        (status = 401, description = "No valid *asistencia* token, nor `ASSISTANCE_TOKEN` (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "An operator token of another role (`forbidden`).", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "A field wrong (`invalid_fields`), or the rules refuse it.", body = ErrorBody),
        (status = 429, description = "The citizen used their permits of the week (`weekly_limit_reached`).", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<IssuerState>,
    acting: Acting,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<PermitView>), AppError> {
    let (form, operator) = assisted_permit(&headers, &body)?;
    // Recorded under the token's holder (with a shared token, the name the staff gave),
    // the citizen by a keyed digest of their RUT (an auditor holding the RUT can find the
    // entry). A RUT that does not parse is refused by the issue below, so nothing is
    // issued unrecorded.
    if let Ok(rut) = Rut::parse(&form.rut) {
        let citizen = state.options.privacy.digest("audit", &rut.canonical());
        let detail = format!(
            "citizen {citizen}, credential {}, stated by {}",
            acting.operator,
            operator.as_str()
        );
        acting
            .as_named(operator.as_str())
            .record(&state, AuditAction::AssistedIssue, None, None, Some(detail))
            .await?;
    }
    let permit = issue_assisted(&state, &form, operator).await?;
    tracing::info!(motive = permit.motive.code(), "permit issued at a counter");
    Ok((
        StatusCode::CREATED,
        Json(PermitView::of(&state, &permit, Viewer::Holder)),
    ))
}
