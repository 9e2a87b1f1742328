//! Issuing a permit: the one operation behind both the form and the JSON API.

use permit_domain::{Permit, PermitForm};
use permit_web::{AppError, Context};

/// Parses the request, applies the rules, counts the quota and stores the permit.
pub async fn issue(ctx: &Context, form: &PermitForm) -> Result<Permit, AppError> {
    let request = form.parse().map_err(AppError::Invalid)?;
    let now = ctx.now();
    let window = ctx.rules.window(request.motive, now)?;
    let claim = ctx.rules.quota_claim(&request.rut, request.motive, now);
    let permit = Permit::issue(request, window);
    ctx.store.issue(&permit, claim.as_ref()).await?;
    tracing::info!(permit = %permit.id, motive = permit.motive.code(), "permit issued");
    Ok(permit)
}
