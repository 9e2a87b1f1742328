//! The issuer's own errors as HTTP answers: status, stable code, Spanish message and
//! `Retry-After`, mapped once, here. The shared ones are `permit_web::AppError`'s.

use axum::http::StatusCode;
use permit_domain::Refusal;
use permit_web::{AppError, ServiceError};

use crate::issue::IssueError;
use crate::sign_in::SignInError;

/// The per-client rate limit refused a request.
#[derive(Debug)]
pub struct RateLimited {
    pub retry_after_secs: u64,
}

/// An operator route asked without the right token.
#[derive(Debug)]
pub struct Unauthorized;

/// A valid operator token whose role the route does not admit.
#[derive(Debug)]
pub struct Forbidden;

/// A form posted from another site.
#[derive(Debug)]
pub struct CrossSite;

fn described(
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
    detail: impl ToString,
) -> AppError {
    AppError::Service(ServiceError {
        status,
        code,
        message,
        retry_after_secs,
        challenge: None,
        detail: detail.to_string(),
    })
}

impl From<IssueError> for AppError {
    fn from(error: IssueError) -> AppError {
        match error {
            IssueError::Invalid(fields) => AppError::Invalid(fields),
            IssueError::Store(error) => AppError::Store(error),
            IssueError::Refused(refusal) => {
                let status = match refusal {
                    Refusal::Curfew { .. }
                    | Refusal::NeverOutsideCurfew { .. }
                    | Refusal::NotNeeded { .. }
                    | Refusal::MotiveNotOffered { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    Refusal::WeeklyLimit { .. } | Refusal::WeekendCap { .. } => StatusCode::TOO_MANY_REQUESTS,
                };
                let code = refusal.code();
                let retry = refusal.retry_after().map(|d| d.as_secs().max(1).unsigned_abs());
                described(status, code, refusal.to_string(), retry, code)
            }
            // Also what a citizen reads who sends the form again while the first submit is
            // still being answered, so it speaks of their request, not of keys.
            IssueError::InProgress => described(
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                "Tu solicitud anterior todavía se está procesando. Inténtalo de nuevo en unos segundos.".into(),
                Some(1),
                &error,
            ),
            IssueError::KeyReused => described(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Esta clave de idempotencia ya se usó con otra solicitud.".into(),
                None,
                &error,
            ),
        }
    }
}

impl From<SignInError> for AppError {
    fn from(error: SignInError) -> AppError {
        let (status, code, message, retry) = match &error {
            SignInError::Required => (
                StatusCode::UNAUTHORIZED,
                "sign_in_required",
                "Para solicitar un permiso primero ingresa con tu ClaveÚnica: el permiso se emite a tu nombre.",
                None,
            ),
            SignInError::Failed(_) => (
                StatusCode::BAD_REQUEST,
                "sign_in_failed",
                "No se pudo completar el ingreso: la solicitud expiró, se canceló o no corresponde a este navegador. Vuelve a ingresar.",
                None,
            ),
            SignInError::Rejected(_) => (
                StatusCode::BAD_GATEWAY,
                "identity_rejected",
                "No se pudo verificar la identidad que entregó ClaveÚnica. Vuelve a ingresar; si se repite, inténtalo más tarde.",
                None,
            ),
            SignInError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
                "ClaveÚnica no responde en este momento. Inténtalo de nuevo en unos minutos.",
                Some(30),
            ),
        };
        described(status, code, message.into(), retry, &error)
    }
}

impl From<RateLimited> for AppError {
    fn from(RateLimited { retry_after_secs }: RateLimited) -> AppError {
        let unit = if retry_after_secs == 1 { "segundo" } else { "segundos" };
        described(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "Se enviaron demasiadas solicitudes desde tu conexión. Espera {retry_after_secs} {unit} y vuelve a intentarlo."
            ),
            Some(retry_after_secs),
            "client over its rate limit",
        )
    }
}

impl From<Forbidden> for AppError {
    fn from(_: Forbidden) -> AppError {
        described(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Tu rol no permite esta acción.".into(),
            None,
            "operator token of another role",
        )
    }
}

impl From<Unauthorized> for AppError {
    fn from(_: Unauthorized) -> AppError {
        AppError::Service(ServiceError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "Se requiere un token de operador válido.".into(),
            retry_after_secs: None,
            challenge: Some("Bearer"),
            detail: "missing or wrong admin token".into(),
        })
    }
}

impl From<CrossSite> for AppError {
    fn from(_: CrossSite) -> AppError {
        described(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "El formulario se envió desde otro sitio. Ábrelo aquí y envíalo de nuevo.".into(),
            None,
            "form posted from another site",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use permit_domain::FieldErrors;

    /// The shared errors and the issuer's own: every answer either service can give.
    #[test]
    fn every_error_has_a_documented_code_and_a_spanish_message_without_details() {
        let readme = include_str!("../../../README.md");
        let errors: Vec<AppError> = vec![
            AppError::Invalid(FieldErrors::new()),
            AppError::Malformed("expected value at line 1".into()),
            AppError::UnsupportedMediaType,
            AppError::PayloadTooLarge,
            AppError::NotFound,
            AppError::MethodNotAllowed,
            AppError::Overloaded,
            AppError::TimedOut,
            AppError::Internal("connection pool poisoned".into()),
            IssueError::InProgress.into(),
            IssueError::KeyReused.into(),
            RateLimited { retry_after_secs: 1 }.into(),
            RateLimited { retry_after_secs: 7 }.into(),
            Unauthorized.into(),
            Forbidden.into(),
            CrossSite.into(),
            SignInError::Required.into(),
            SignInError::Failed("state does not match".into()).into(),
            SignInError::Rejected("ID token: nonce".into()).into(),
            SignInError::Unavailable("discovery: connection refused".into()).into(),
        ];
        let mut codes: Vec<&str> = errors.iter().map(AppError::code).collect();
        for error in &errors {
            let row = format!("| {} | `{}` |", error.status().as_u16(), error.code());
            assert!(readme.contains(&row), "README's error table lacks {row}");
            let message = error.message();
            assert!(message.ends_with('.'), "{message}");
            assert_ne!(message, error.to_string(), "the message is not the internal text");
            assert!(!message.contains("line 1") && !message.contains("pool"), "{message}");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len() - 1, "codes are unique (two rate limits)");
    }
}
