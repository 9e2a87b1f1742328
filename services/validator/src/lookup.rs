//! What a check of a permit shows: its status now and only what a checkpoint needs.

use permit_domain::{Motive, PermitId, Status};
use permit_store::StoreError;
use permit_web::Context;

/// A permit as seen by whoever checks it: name and RUT partly masked, no address.
pub struct Check {
    pub id: PermitId,
    pub status: Status,
    pub name: String,
    pub rut: String,
    pub motive: Motive,
    pub valid_from: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub issued_under: Option<permit_domain::IssuedUnder>,
}

/// The permit with code `id`, as a check shows it; `None` for an unknown or malformed id
/// alike ("not found"). Only the database can fail.
pub async fn check(ctx: &Context, id: &str) -> Result<Option<Check>, StoreError> {
    let found = match PermitId::parse(id) {
        Ok(id) => ctx.store.find(&id).await?,
        Err(_) => None,
    };
    let Some(permit) = found else {
        ctx.metrics.permit_checked("not_found");
        return Ok(None);
    };
    let status = permit.status(ctx.now());
    ctx.metrics.permit_checked(status.code());
    tracing::info!(status = status.code(), "permit checked");
    Ok(Some(Check {
        id: permit.id,
        status,
        name: permit.name.masked(),
        rut: permit.rut.masked(),
        motive: permit.motive,
        valid_from: permit.valid_from,
        expires_at: permit.expires_at,
        issued_under: permit.issued_under,
    }))
}
