//! The operator's bearer token, and the guard in front of every operator route.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use permit_web::{AppError, ConfigError};
use subtle::ConstantTimeEq;

use crate::IssuerState;
use crate::audit::Acting;
use crate::errors::Unauthorized;

/// Long enough that guessing it over HTTP is hopeless.
const MIN_LENGTH: usize = 32;

#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// From `ADMIN_TOKEN`; unset means the admin endpoints do not exist.
    pub fn from_setting(value: Option<String>) -> Result<Option<AdminToken>, ConfigError> {
        AdminToken::from_variable("ADMIN_TOKEN", value)
    }

    /// From `variable` (`ADMIN_TOKEN`, `ASSISTANCE_TOKEN`): one role's bearer token.
    pub fn from_variable(variable: &'static str, value: Option<String>) -> Result<Option<AdminToken>, ConfigError> {
        match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(token) if token.len() >= MIN_LENGTH && token.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(Some(AdminToken(token)))
            }
            Some(_) => Err(ConfigError {
                variable,
                problem: format!("must be at least {MIN_LENGTH} printable characters without spaces"),
            }),
        }
    }

    /// Compared in constant time so response timing does not reveal the token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Unauthorized> {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if bool::from(presented.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(Unauthorized)
        }
    }
}

/// The route layer of the operator's sub-router: its routes exist only with `ADMIN_TOKEN`
/// set, and answer only to it.
pub async fn operator_only(State(state): State<IssuerState>, request: Request, next: Next) -> Response {
    only(state.options.admin.as_ref(), ("ADMIN_TOKEN", "operador"), request, next).await
}

/// The route layer of assisted issuance: its own role's token (`ASSISTANCE_TOKEN`), so the
/// counter's staff cannot list or revoke, and the operators cannot issue in others' names.
pub async fn assistance_only(State(state): State<IssuerState>, request: Request, next: Next) -> Response {
    only(
        state.options.assistance.as_ref(),
        ("ASSISTANCE_TOKEN", "asistencia"),
        request,
        next,
    )
    .await
}

/// Passes a request bearing `token` on, as `Acting` under `(credential, role)`.
async fn only(
    token: Option<&AdminToken>,
    (credential, role): (&str, &'static str),
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = token else {
        return AppError::NotFound.into_response();
    };
    match token.check(request.headers()) {
        Ok(()) => {
            Acting::set(&mut request, credential, role);
            next.run(request).await
        }
        Err(refused) => AppError::from(refused).into_response(),
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused_at_start_up() {
        assert_eq!(
            AdminToken::from_setting(Some("short".into())).unwrap_err().variable,
            "ADMIN_TOKEN"
        );
        assert!(AdminToken::from_setting(Some("   ".into())).unwrap().is_none());
        assert!(AdminToken::from_setting(None).unwrap().is_none());
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = AdminToken::from_setting(Some("a".repeat(32))).unwrap().unwrap();
        let mut headers = HeaderMap::new();
        assert!(token.check(&headers).is_err());
        headers.insert(AUTHORIZATION, format!("Bearer {}", "a".repeat(31)).parse().unwrap());
        assert!(token.check(&headers).is_err());
        headers.insert(AUTHORIZATION, format!("Bearer {}", "a".repeat(32)).parse().unwrap());
        assert!(token.check(&headers).is_ok());
    }
}
