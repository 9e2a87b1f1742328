//! Who may use an operator route: named operators' tokens with a role each, and the two
//! shared tokens kept for bootstrap and the counter (`ADMIN_TOKEN`, `ASSISTANCE_TOKEN`);
//! the guard in front of every operator route.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use permit_domain::{OperatorToken, Role};
use permit_store::AuditAction;
use permit_web::{AppError, ConfigError};
use subtle::ConstantTimeEq;

use crate::IssuerState;
use crate::audit::{self, Acting};
use crate::errors::{Forbidden, Unauthorized};

/// Long enough that guessing it over HTTP is hopeless.
const MIN_LENGTH: usize = 32;

#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// From `ADMIN_TOKEN`; unset, only a named *administración* token manages tokens.
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
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// Which credentials a group of operator routes admits: operator tokens of these roles
/// (`pmt_…`, named, from `operator_tokens`), and which of the shared bootstrap tokens.
#[derive(Debug, Clone, Copy)]
pub struct Admits {
    pub roles: &'static [Role],
    /// `ADMIN_TOKEN`: the bootstrap credential, recorded as such in the audit log; only the
    /// operators' tokens admit it.
    pub admin_token: bool,
    /// `ASSISTANCE_TOKEN`: the counter's shared credential.
    pub assistance_token: bool,
    /// Counted against the operator's `OPERATOR_RATE_LIMIT`: the routes that read personal
    /// data, so paging through it is never a bulk export at the system's speed.
    pub limited: bool,
}

impl Admits {
    /// Named operators' tokens of `roles`, and no shared credential.
    pub fn named(roles: &'static [Role]) -> Admits {
        Admits {
            roles,
            admin_token: false,
            assistance_token: false,
            limited: false,
        }
    }

    /// Also the bootstrap `ADMIN_TOKEN` (the operators' tokens only).
    pub fn or_bootstrap_token(self) -> Admits {
        Admits {
            admin_token: true,
            ..self
        }
    }

    /// Also the counter's `ASSISTANCE_TOKEN`.
    pub fn or_counter_token(self) -> Admits {
        Admits {
            assistance_token: true,
            ..self
        }
    }

    /// Reads personal data: counted against `OPERATOR_RATE_LIMIT`.
    pub fn reading_personal_data(self) -> Admits {
        Admits { limited: true, ..self }
    }

    /// One more request by `operator` on these routes: refused over the operator's rate
    /// when they read personal data.
    pub fn count(&self, state: &IssuerState, operator: &str) -> Result<(), AppError> {
        match state.options.operator_limit.as_ref().filter(|_| self.limited) {
            Some(limit) => Ok(limit.admit(operator.to_owned())?),
            None => Ok(()),
        }
    }
}

/// The route layer of every operator sub-router: the credential must be one `admits`
/// names, else 401 (none, unknown, revoked or expired) or 403 (a token of another role).
/// What it admits acts as `Acting`, which the handlers record in the audit log.
pub async fn guard(State((state, admits)): State<(IssuerState, Admits)>, mut request: Request, next: Next) -> Response {
    let peer = audit::peer(&request);
    let authorised = authorise(&state, admits, request.headers(), peer)
        .await
        .and_then(|found| admits.count(&state, &found.0).map(|()| found));
    match authorised {
        Ok((operator, role, shared)) => {
            Acting::set(&mut request, &operator, role, shared);
            next.run(request).await
        }
        Err(refused) => refused.into_response(),
    }
}

async fn authorise(
    state: &IssuerState,
    admits: Admits,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Result<(String, &'static str, bool), AppError> {
    let presented = bearer(headers);
    if let Some(token) = OperatorToken::parse(presented) {
        let now = state.ctx.now();
        let account = state.ctx.store.operator_token(token.id()).await?;
        let Some(account) = account else {
            // A token id never handed out: nobody to name, so a log line only.
            tracing::warn!(target: "audit", token = token.id(), "unknown operator token refused");
            return Err(Unauthorized.into());
        };
        if !account.admits(&token, now) {
            let why = if account.revoked_at.is_some() {
                "revoked"
            } else if now >= account.expires_at {
                "expired"
            } else {
                "wrong secret"
            };
            tracing::warn!(target: "audit", token = token.id(), why, "operator token refused");
            // Recorded under the token's holder, at most once a minute per token, so
            // refusals cannot fill the log; the request is refused whatever happens here.
            if state.refusals.admit(token.id().to_owned()).is_ok() {
                let acting = Acting::of(peer, headers, account.name.as_str(), account.role.code(), false);
                let detail = Some(format!("token {}: {why}", token.id()));
                if let Err(error) = acting
                    .record(state, AuditAction::RefusedToken, None, None, detail)
                    .await
                {
                    tracing::warn!(%error, "the refused token's audit entry was not stored");
                }
            }
            return Err(Unauthorized.into());
        }
        if !admits.roles.contains(&account.role) {
            return Err(Forbidden.into());
        }
        return Ok((account.name.as_str().to_owned(), account.role.code(), false));
    }
    let shared = [
        (admits.admin_token, &state.options.admin, "ADMIN_TOKEN", "operador"),
        (
            admits.assistance_token,
            &state.options.assistance,
            "ASSISTANCE_TOKEN",
            "asistencia",
        ),
    ];
    for (admitted, token, credential, role) in shared {
        if admitted && token.as_ref().is_some_and(|t| t.matches(presented)) {
            return Ok((credential.to_owned(), role, true));
        }
    }
    Err(Unauthorized.into())
}

/// The `Authorization: Bearer` value, or "" without one.
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
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
        assert!(!token.matches(bearer(&headers)));
        headers.insert(AUTHORIZATION, format!("Bearer {}", "a".repeat(31)).parse().unwrap());
        assert!(!token.matches(bearer(&headers)));
        headers.insert(AUTHORIZATION, format!("Bearer {}", "a".repeat(32)).parse().unwrap());
        assert!(token.matches(bearer(&headers)));
    }
}
