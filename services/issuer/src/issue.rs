//! Issuing a permit: the one operation behind both the form and the JSON API.

use permit_domain::{Permit, PermitForm, Refusal};
use permit_web::{AppError, Context};

/// Parses the request, applies the rules, counts the quota and stores the permit.
pub async fn issue(ctx: &Context, form: &PermitForm) -> Result<Permit, AppError> {
    let request = form.parse().map_err(AppError::Invalid)?;
    let now = ctx.now();
    let window = ctx.rules.window(request.motive, now)?;
    let claim = ctx.rules.quota_claim(&request.rut, request.motive, now);
    let permit = Permit::issue(request, window);
    if let Err(error) = ctx.store.issue(&permit, claim.as_ref()).await {
        let error = AppError::from(error);
        if let AppError::Refused(Refusal::WeeklyLimit { .. }) = error {
            ctx.metrics.quota_rejected();
        }
        return Err(error);
    }
    ctx.metrics.permit_issued(permit.motive.code());
    tracing::info!(permit = %permit.id, motive = permit.motive.code(), "permit issued");
    Ok(permit)
}
