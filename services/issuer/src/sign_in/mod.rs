//! Citizen sign-in with OpenID Connect (ClaveÚnica): `/ingresar` sends the browser to the
//! provider, `/ingresar/vuelta` takes it back, `/salir` ends the session. The session is a
//! short-lived cookie, encrypted and authenticated (AES-GCM, axum-extra's private jar) under
//! a key derived from `PRIVACY_KEY`; it holds the identity's RUT and name, which the form
//! and the API use instead of anything typed. The flow itself (`start`, `returned`) also
//! signs operators in to their console (`console::session`), with a cookie of its own.

mod identity;
mod provider;
mod settings;

use std::sync::Arc;

use axum::extract::{FromRef, Query, State};
use axum::response::Redirect;
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use jiff::SignedDuration;
use openidconnect::RedirectUrl;
use permit_domain::PrivacyKey;
use permit_web::PageError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

pub use identity::Identity;
pub(crate) use identity::{UnreadableClaim, name_claim, words};
pub use settings::{CitizenAuth, ClaimNames, OidcSettings, OperatorAuth};

use crate::IssuerState;
use identity::Carried;
use provider::Pending;
pub(crate) use provider::Provider;

/// The session's cookie, and how long a sign-in lasts: long enough to fill the form.
const SESSION: &str = "sesion";
const SESSION_LIFETIME: SignedDuration = SignedDuration::from_mins(30);
/// The cookie kept between the authorization request and the callback.
const PENDING: &str = "ingreso";
const PENDING_LIFETIME: SignedDuration = SignedDuration::from_mins(10);
/// Where the provider sends the browser back, under the issuer's public address.
pub const CALLBACK_PATH: &str = "/ingresar/vuelta";

/// Why a citizen is not (or no longer) signed in. Mapped to answers in `errors`.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// A page or API call that needs a signed-in citizen, without one.
    #[error("no signed-in citizen")]
    Required,
    /// The callback does not belong to a sign-in this browser began (no or expired
    /// pending cookie, other `state`), or the provider refused it (an error answer, a code
    /// used twice or expired).
    #[error("sign-in not completed: {0}")]
    Failed(String),
    /// The provider's answer does not prove an identity: an ID token with a bad signature,
    /// issuer, audience, expiry or nonce, or userinfo we cannot read.
    #[error("identity not accepted: {0}")]
    Rejected(String),
    /// The provider did not answer.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

/// The sign-in mode with what it needs at run time.
#[derive(Clone)]
pub struct SignIn {
    provider: Option<Arc<Provider>>,
    key: Key,
}

impl SignIn {
    pub fn new(auth: CitizenAuth, privacy: &PrivacyKey) -> SignIn {
        let provider = match auth {
            CitizenAuth::None => None,
            CitizenAuth::Oidc(settings) => Some(Arc::new(Provider::new(*settings))),
        };
        SignIn {
            provider,
            key: Key::from(&privacy.subkey("session cookie")),
        }
    }

    /// Demonstration mode: permits in any name, and every page says so.
    pub fn demo(&self) -> bool {
        self.provider.is_none()
    }
}

impl FromRef<IssuerState> for Key {
    fn from_ref(state: &IssuerState) -> Key {
        state.options.sign_in.key.clone()
    }
}

/// The session cookie's contents.
#[derive(Serialize, Deserialize)]
struct Session {
    #[serde(flatten)]
    citizen: Carried,
    /// Unix seconds: after this the citizen signs in again.
    until: i64,
}

/// The pending sign-in cookie's contents.
#[derive(Serialize, Deserialize)]
struct Started {
    #[serde(flatten)]
    pending: Pending,
    until: i64,
}

/// The signed-in citizen, when sign-in is on: `Ok(None)` in demonstration mode, the
/// session's identity, or `Required` without a valid, unexpired session.
pub fn citizen(state: &IssuerState, jar: &PrivateCookieJar) -> Result<Option<Identity>, SignInError> {
    if state.options.sign_in.demo() {
        return Ok(None);
    }
    jar.get(SESSION)
        .and_then(|cookie| serde_json::from_str::<Session>(cookie.value()).ok())
        .filter(|session| session.until > state.ctx.now().as_second())
        .and_then(|session| session.citizen.identity())
        .map(Some)
        .ok_or(SignInError::Required)
}

/// A cookie only the issuer reads, sent over HTTPS when `home` is an https:// address.
pub(crate) fn secure_cookie(
    home: &str,
    (name, value): (&'static str, String),
    path: &'static str,
    lifetime: SignedDuration,
    same_site: SameSite,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(home.starts_with("https://"))
        .same_site(same_site)
        .max_age(cookie::time::Duration::seconds(lifetime.as_secs()))
        .build()
}

pub(crate) fn removal(name: &'static str, path: &'static str) -> Cookie<'static> {
    Cookie::build((name, "")).path(path).build()
}

fn redirect_url(home: &str) -> Result<RedirectUrl, SignInError> {
    RedirectUrl::new(format!("{home}{CALLBACK_PATH}"))
        .map_err(|error| SignInError::Rejected(format!("redirect URL: {error}")))
}

fn provider(state: &IssuerState) -> Result<&Provider, PageError> {
    // Without sign-in there is nothing to sign in to: the routes do not exist.
    state
        .options
        .sign_in
        .provider
        .as_deref()
        .ok_or(PageError(permit_web::AppError::NotFound))
}

/// To `provider`, for a site at `home`, with a fresh `state`, `nonce` and PKCE verifier
/// kept in an encrypted cookie for the way back.
pub(crate) async fn start<K>(
    provider: &Provider,
    home: &str,
    jar: PrivateCookieJar<K>,
    now: jiff::Timestamp,
) -> Result<(PrivateCookieJar<K>, Redirect), SignInError> {
    let (url, pending) = provider
        .begin(&redirect_url(home)?)
        .await
        .inspect_err(|error| tracing::warn!(%error, "sign-in not begun"))?;
    let started = Started {
        pending,
        until: (now + PENDING_LIFETIME).as_second(),
    };
    let value = serde_json::to_string(&started).expect("strings serialize");
    let cookie = secure_cookie(home, (PENDING, value), "/ingresar", PENDING_LIFETIME, SameSite::Lax);
    Ok((jar.add(cookie), Redirect::to(url.as_str())))
}

/// The way back from `provider` to the site at `home`: the pending sign-in is used up
/// whatever happens; a valid answer gives the user's claims.
pub(crate) async fn returned<K>(
    provider: &Provider,
    home: &str,
    jar: PrivateCookieJar<K>,
    callback: Callback,
    now: jiff::Timestamp,
) -> (PrivateCookieJar<K>, Result<Map<String, Value>, SignInError>) {
    let started = jar
        .get(PENDING)
        .and_then(|cookie| serde_json::from_str::<Started>(cookie.value()).ok());
    let jar = jar.remove(removal(PENDING, "/ingresar"));
    let claims = complete(provider, home, started, callback, now).await;
    if let Err(error) = &claims {
        tracing::warn!(%error, "sign-in failed");
    }
    (jar, claims)
}

/// `GET /ingresar`: the citizen to the provider.
pub async fn begin(
    State(state): State<IssuerState>,
    jar: PrivateCookieJar,
) -> Result<(PrivateCookieJar, Redirect), PageError> {
    let provider = provider(&state)?;
    Ok(start(provider, state.ctx.links.issuer_home(), jar, state.ctx.now()).await?)
}

/// What the provider appends to the callback: a code and our `state`, or an error.
#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /ingresar/vuelta`: a valid answer becomes a session and the citizen goes on to
/// the form.
pub async fn finish(
    State(state): State<IssuerState>,
    jar: PrivateCookieJar,
    Query(callback): Query<Callback>,
) -> Result<(PrivateCookieJar, Redirect), (PrivateCookieJar, PageError)> {
    let provider = match provider(&state) {
        Ok(provider) => provider,
        Err(error) => return Err((jar, error)),
    };
    let home = state.ctx.links.issuer_home();
    let (jar, claims) = returned(provider, home, jar, callback, state.ctx.now()).await;
    let identity = claims.and_then(|claims| {
        Identity::from_claims(&claims, provider.claim_names()).map_err(|error| {
            tracing::warn!(%error, "sign-in failed");
            SignInError::Rejected(error.to_string())
        })
    });
    match identity {
        Ok(identity) => {
            let session = Session {
                citizen: Carried::from(&identity),
                until: (state.ctx.now() + SESSION_LIFETIME).as_second(),
            };
            let value = serde_json::to_string(&session).expect("strings serialize");
            tracing::info!("citizen signed in");
            let cookie = secure_cookie(home, (SESSION, value), "/", SESSION_LIFETIME, SameSite::Lax);
            Ok((jar.add(cookie), Redirect::to("/nuevo")))
        }
        Err(error) => Err((jar, error.into())),
    }
}

async fn complete(
    provider: &Provider,
    home: &str,
    started: Option<Started>,
    callback: Callback,
    now: jiff::Timestamp,
) -> Result<Map<String, Value>, SignInError> {
    let started = started
        .filter(|started| started.until > now.as_second())
        .ok_or_else(|| SignInError::Failed("no pending sign-in in this browser, or it expired".into()))?;
    let answered = callback.state.unwrap_or_default();
    if !bool::from(answered.as_bytes().ct_eq(started.pending.state.as_bytes())) {
        return Err(SignInError::Failed("state does not match".into()));
    }
    if let Some(error) = callback.error {
        // Mostly `access_denied`: the citizen cancelled at the provider.
        return Err(SignInError::Failed(format!("the provider answered {error:.40}")));
    }
    let code = callback.code.ok_or_else(|| SignInError::Failed("no code".into()))?;
    provider.finish(&redirect_url(home)?, started.pending, code, now).await
}

/// `POST /salir`: the session cookie removed. (The provider's own session is the
/// provider's: ClaveÚnica's has its own logout.)
pub async fn sign_out(jar: PrivateCookieJar) -> (PrivateCookieJar, Redirect) {
    (jar.remove(removal(SESSION, "/")), Redirect::to("/"))
}
