use axum::Json;
use axum::extract::{Path, State};
use permit_web::{AppError, Context};
use serde_json::{Value, json};

use crate::lookup::check;

pub async fn status(State(ctx): State<Context>, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
    let check = check(&ctx, &id).await?;
    Ok(Json(json!({
        "id": check.id.as_str(),
        "status": check.status.code(),
        "status_label": check.status.label(),
        "valid_from": ctx.rfc3339(check.valid_from),
        "expires_at": ctx.rfc3339(check.expires_at),
        "motive": { "code": check.motive_code, "label": check.motive_label },
        "name": check.name,
        "rut": check.rut,
    })))
}
