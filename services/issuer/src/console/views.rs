//! What the console's pages show, in words and local time (`lunes 7 de diciembre de 2026,
//! 15:56` in the rules' zone), where the API gives codes and RFC 3339.

use permit_domain::{OperatorAccount, Permit};
use permit_store::{AuditAction, AuditEntry};

use crate::IssuerState;

/// A permit's full record.
pub struct RecordView {
    pub id: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub name: String,
    pub rut: String,
    pub motive: &'static str,
    pub address: String,
    pub comuna: String,
    pub requested_at: String,
    pub valid_from: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub issued_by: Option<String>,
}

impl RecordView {
    pub fn of(state: &IssuerState, permit: &Permit) -> RecordView {
        let ctx = &state.ctx;
        let status = permit.status(ctx.now());
        RecordView {
            id: permit.id.to_string(),
            status: status.code(),
            status_label: status.label(),
            name: permit.name.as_str().to_owned(),
            rut: permit.rut.to_string(),
            motive: permit.motive.label(),
            address: permit.address.as_str().to_owned(),
            comuna: permit.comuna.as_str().to_owned(),
            requested_at: ctx.local(permit.requested_at),
            valid_from: ctx.local(permit.valid_from),
            expires_at: ctx.local(permit.expires_at),
            revoked_at: permit.revoked_at.map(|at| ctx.local(at)),
            issued_by: permit.issued_by.as_ref().map(|o| o.as_str().to_owned()),
        }
    }
}

/// One entry of a permit's audit trail.
pub struct TrailRow {
    pub at: String,
    pub operator: String,
    pub role: String,
    /// The stable code, as the API and filters name it.
    pub action: &'static str,
    pub label: &'static str,
    pub reason: Option<String>,
}

impl TrailRow {
    pub fn of(state: &IssuerState, entry: AuditEntry) -> TrailRow {
        TrailRow {
            at: state.ctx.local(entry.at),
            operator: entry.operator,
            role: entry.role,
            action: entry.action.code(),
            label: label(entry.action),
            reason: entry.reason,
        }
    }
}

/// What an action is, in Spanish.
fn label(action: AuditAction) -> &'static str {
    match action {
        AuditAction::ListPermits => "Listó permisos",
        AuditAction::SearchByRut => "Buscó por RUT",
        AuditAction::RevokePermit => "Revocó el permiso",
        AuditAction::PlaceHold => "Puso una retención judicial",
        AuditAction::LiftHold => "Levantó la retención judicial",
        AuditAction::AssistedIssue => "Emitió en oficina",
        AuditAction::ReadAudit => "Leyó el registro de auditoría",
        AuditAction::CreateOperatorToken => "Creó un token",
        AuditAction::ListOperatorTokens => "Listó los tokens",
        AuditAction::RevokeOperatorToken => "Revocó un token",
        AuditAction::RefusedToken => "Token rechazado",
        AuditAction::ReadPermit => "Abrió el registro del permiso",
        AuditAction::SignIn => "Ingresó a la consola",
        AuditAction::RefusedSignIn => "Ingreso rechazado: sin rol",
    }
}

/// An operator's token, without its secret.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

impl TokenRow {
    pub fn of(state: &IssuerState, account: &OperatorAccount) -> TokenRow {
        TokenRow {
            id: account.id.clone(),
            name: account.name.as_str().to_owned(),
            role: account.role.code(),
            expires_at: state.ctx.local(account.expires_at),
            revoked_at: account.revoked_at.map(|at| state.ctx.local(at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_own_label() {
        let mut labels: Vec<&str> = AuditAction::ALL.into_iter().map(label).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), AuditAction::ALL.len());
    }
}
