//! Operators' sign-in to the console: the citizens' OpenID Connect flow (`sign_in`) on the
//! operators' host, with the role the provider's `OPERATOR_ROLE_CLAIM` gives. The session
//! is a cookie of its own (`operador`), encrypted under its own key, `SameSite=Strict`, so a
//! citizen's session never opens the console and no other site's page can post with it.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{Html, Redirect};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Key, SameSite};
use jiff::SignedDuration;
use permit_domain::{PrivacyKey, Role};
use permit_store::AuditAction;
use permit_web::PageError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::IssuerState;
use crate::audit::{self, Acting};
use crate::errors::Forbidden;
use crate::sign_in::{
    self, Callback, OperatorAuth, Provider, SignInError, UnreadableClaim, name_claim, removal, secure_cookie, words,
};

/// The console's session cookie; a working shift, after which the operator signs in
/// again (and roles withdrawn at the provider are read again).
const SESSION: &str = "operador";
const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(4);

/// How operators sign in, with what it needs at run time.
#[derive(Clone)]
pub struct Console {
    provider: Option<Arc<Provider>>,
    /// `OPERATORS_PUBLIC_URL`: "" when the console has no sign-in.
    home: String,
    role_claim: String,
    key: Key,
}

impl Console {
    pub fn new(auth: OperatorAuth, privacy: &PrivacyKey) -> Console {
        let (provider, home, role_claim) = match auth {
            OperatorAuth::None => (None, String::new(), String::new()),
            OperatorAuth::Oidc(settings) => {
                let settings = *settings;
                let provider = Arc::new(Provider::new(settings.oidc));
                (Some(provider), settings.home, settings.role_claim)
            }
        };
        Console {
            provider,
            home,
            role_claim,
            key: Key::from(&privacy.subkey("operator session cookie")),
        }
    }

    /// Whether operators can sign in here (`OPERATOR_AUTH=oidc`).
    pub fn available(&self) -> bool {
        self.provider.is_some()
    }

    pub fn home(&self) -> &str {
        &self.home
    }

    fn provider(&self) -> Result<&Provider, PageError> {
        self.provider
            .as_deref()
            .ok_or(PageError(permit_web::AppError::NotFound))
    }
}

/// The key of the console's cookies, apart from the citizens'.
#[derive(Clone)]
pub struct ConsoleKey(Key);

impl FromRef<IssuerState> for ConsoleKey {
    fn from_ref(state: &IssuerState) -> ConsoleKey {
        ConsoleKey(state.options.console.key.clone())
    }
}

impl From<ConsoleKey> for Key {
    fn from(key: ConsoleKey) -> Key {
        key.0
    }
}

type Jar = PrivateCookieJar<ConsoleKey>;

/// A signed-in operator: who the provider says they are, and their roles.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The provider's subject as a keyed digest: tells two people of one name apart in the
    /// audit log without writing an identifier there (a provider's subject may be a RUN).
    pub pseudonym: String,
    pub name: String,
    pub roles: Vec<Role>,
}

impl SignedIn {
    /// From userinfo claims: the subject, the name (ClaveÚnica's shape or text) and the
    /// role codes in `role_claim` (a list or space-separated text; unknown codes ignored).
    fn from_claims(
        claims: &Map<String, Value>,
        (name, role_claim): (&str, &str),
        privacy: &PrivacyKey,
    ) -> Result<SignedIn, UnreadableClaim> {
        let unreadable = |claim: &str, expected| UnreadableClaim {
            claim: claim.to_owned(),
            expected,
        };
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| (1..=255).contains(&s.len()))
            .ok_or_else(|| unreadable("sub", "subject"))?;
        let name = name_claim(claims, name).ok_or_else(|| unreadable(name, "name"))?;
        let mut roles: Vec<Role> = words(claims.get(role_claim))
            .iter()
            .filter_map(|code| Role::parse(code))
            .collect();
        roles.sort_by_key(|r| Role::ALL.iter().position(|a| a == r));
        roles.dedup();
        let mut pseudonym = privacy.digest("operator", subject);
        pseudonym.truncate(12);
        Ok(SignedIn {
            pseudonym,
            name: name.as_str().to_owned(),
            roles,
        })
    }

    /// Who the audit log says acted: the name, and the pseudonym.
    pub fn audit_name(&self) -> String {
        format!("{} ({})", self.name, self.pseudonym)
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The roles in words, for the console's header.
    pub fn role_list(&self) -> String {
        self.roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(", ")
    }
}

/// The session cookie's contents: the roles by their codes.
#[derive(Serialize, Deserialize)]
struct Session {
    pseudonym: String,
    name: String,
    roles: Vec<String>,
    until: i64,
}

impl Session {
    fn of(operator: &SignedIn, until: i64) -> Session {
        Session {
            pseudonym: operator.pseudonym.clone(),
            name: operator.name.clone(),
            roles: operator.roles.iter().map(|r| r.code().to_owned()).collect(),
            until,
        }
    }

    fn operator(self) -> SignedIn {
        SignedIn {
            pseudonym: self.pseudonym,
            name: self.name,
            roles: self.roles.iter().filter_map(|code| Role::parse(code)).collect(),
        }
    }
}

/// The operator signed in on a request with `headers`, if their session is valid.
pub fn signed_in(state: &IssuerState, headers: &HeaderMap) -> Option<SignedIn> {
    let jar = PrivateCookieJar::from_headers(headers, state.options.console.key.clone());
    jar.get(SESSION)
        .and_then(|cookie| serde_json::from_str::<Session>(cookie.value()).ok())
        .filter(|session| session.until > state.ctx.now().as_second())
        .map(Session::operator)
}

/// `GET /ingresar` on the operators' host.
pub async fn begin(State(state): State<IssuerState>, jar: Jar) -> Result<(Jar, Redirect), PageError> {
    let console = &state.options.console;
    Ok(sign_in::start(console.provider()?, console.home(), jar, state.ctx.now()).await?)
}

/// The page the way back lands on. The session cookie is `SameSite=Strict`, and a browser
/// sends none on a redirect chain that began at the provider's site, so this page, ours,
/// moves on to the console (a refresh, and a link without it).
#[derive(Template)]
#[template(path = "console/signed_in.html")]
struct Landed {
    operator: Option<SignedIn>,
}

/// `GET /ingresar/vuelta` on the operators' host: an identity with an operator role
/// becomes a session (recorded as `sign_in`); one without is refused and recorded as
/// `refused_sign_in`, at most once a minute per identity.
pub async fn finish(
    State(state): State<IssuerState>,
    jar: Jar,
    Query(callback): Query<Callback>,
    request: Request,
) -> Result<(Jar, Html<String>), (Jar, PageError)> {
    let console = &state.options.console;
    let provider = match console.provider() {
        Ok(provider) => provider,
        Err(error) => return Err((jar, error)),
    };
    let (jar, claims) = sign_in::returned(provider, console.home(), jar, callback, state.ctx.now()).await;
    let operator = claims.and_then(|claims| {
        let names = (provider.claim_names().name.as_str(), console.role_claim.as_str());
        SignedIn::from_claims(&claims, names, &state.options.privacy)
            .map_err(|error| SignInError::Rejected(error.to_string()))
    });
    let operator = match operator {
        Ok(operator) => operator,
        Err(error) => return Err((jar, error.into())),
    };
    let peer = audit::peer(&request);
    let Some(role) = operator.roles.first() else {
        tracing::warn!(target: "audit", "console sign-in without an operator role refused");
        if state.refusals.admit(format!("oidc {}", operator.pseudonym)).is_ok() {
            let acting = Acting::of(peer, request.headers(), &operator.audit_name(), "ninguno", false);
            if let Err(error) = acting
                .record(&state, AuditAction::RefusedSignIn, None, None, None)
                .await
            {
                tracing::warn!(%error, "the refused sign-in's audit entry was not stored");
            }
        }
        return Err((jar, PageError(Forbidden.into())));
    };
    let acting = Acting::of(peer, request.headers(), &operator.audit_name(), role.code(), false);
    let detail = Some(format!("roles {}", operator.role_list()));
    if let Err(error) = acting.record(&state, AuditAction::SignIn, None, None, detail).await {
        return Err((jar, PageError(error)));
    }
    let session = Session::of(&operator, (state.ctx.now() + SESSION_LIFETIME).as_second());
    let value = serde_json::to_string(&session).expect("strings serialize");
    let cookie = secure_cookie(
        console.home(),
        (SESSION, value),
        "/",
        SESSION_LIFETIME,
        SameSite::Strict,
    );
    match (Landed { operator: None }).render() {
        Ok(page) => Ok((jar.add(cookie), Html(page))),
        Err(error) => Err((jar, error.into())),
    }
}

/// `POST /salir` on the operators' host.
pub async fn sign_out(jar: Jar) -> (Jar, Redirect) {
    (jar.remove(removal(SESSION, "/")), Redirect::to("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privacy() -> PrivacyKey {
        PrivacyKey::parse(&"p".repeat(32)).unwrap()
    }

    fn claims(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn roles_come_from_their_claim_as_a_list_or_text_and_unknown_ones_are_ignored() {
        let listed = SignedIn::from_claims(
            &claims(serde_json::json!({
                "sub": "op-1",
                "name": {"nombres": ["Carla"], "apellidos": ["Vidal"]},
                "roles": ["revocación", "consulta", "superusuario", "consulta"],
            })),
            ("name", "roles"),
            &privacy(),
        )
        .unwrap();
        assert_eq!(listed.roles, [Role::Consulta, Role::Revocacion]);
        let pseudonym = &privacy().digest("operator", "op-1")[..12];
        assert_eq!(listed.audit_name(), format!("Carla Vidal ({pseudonym})"));
        let text = SignedIn::from_claims(
            &claims(serde_json::json!({"sub": "op-2", "name": "Pedro Lagos", "grupos": "administracion"})),
            ("name", "grupos"),
            &privacy(),
        )
        .unwrap();
        assert_eq!(text.roles, [Role::Administracion]);
        // A citizen: no role claim at all, so no role.
        let citizen = SignedIn::from_claims(
            &claims(serde_json::json!({"sub": "cu-1", "name": "Juan Soto"})),
            ("name", "roles"),
            &privacy(),
        )
        .unwrap();
        assert!(citizen.roles.is_empty());
        let nameless = SignedIn::from_claims(
            &claims(serde_json::json!({"sub": "x", "roles": "consulta"})),
            ("name", "roles"),
            &privacy(),
        );
        assert_eq!(nameless.unwrap_err().claim, "name");
        let subjectless = SignedIn::from_claims(
            &claims(serde_json::json!({"name": "Juan Soto"})),
            ("name", "roles"),
            &privacy(),
        );
        assert_eq!(subjectless.unwrap_err().claim, "sub");
    }
}
