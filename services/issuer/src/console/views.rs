//! What the console's pages show, in words and local time (`lunes 7 de diciembre de 2026,
//! 15:56` in the rules' zone), where the API gives codes and RFC 3339; a permit's record is
//! the holder's page's (`pages::RecordView`).

use permit_domain::OperatorAccount;
use permit_store::{AuditAction, AuditEntry};

use crate::IssuerState;

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
        AuditAction::ListPermits => "Exportó permisos",
        AuditAction::SearchByRut => "Buscó por RUT",
        AuditAction::SearchByComuna => "Buscó por comuna y fechas",
        AuditAction::PublishPhase => "Publicó un cambio de fase",
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
