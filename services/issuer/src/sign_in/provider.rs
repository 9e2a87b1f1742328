//! The relying party's side of OpenID Connect: discovery, the authorization request with
//! PKCE, `state` and `nonce`, the code exchange, the ID token's checks and the userinfo
//! request, with `openidconnect` doing the protocol and hyper over rustls the HTTP.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata};
use openidconnect::http;
use openidconnect::url::Url;
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::SignInError;
use super::settings::{ClaimNames, OidcSettings};

/// Each call to the provider: discovery, keys, token, userinfo.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery and keys are read again after this long, and at once when a token is signed
/// by a key we do not know (the provider rotated its keys).
const METADATA_TTL: Duration = Duration::from_secs(3600);

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// What the browser carries, encrypted, between the authorization request and the callback.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    nonce: String,
    verifier: String,
}

pub struct Provider {
    settings: OidcSettings,
    http: Http,
    metadata: RwLock<Option<(Arc<CoreProviderMetadata>, Timestamp)>>,
}

impl Provider {
    pub fn new(settings: OidcSettings) -> Provider {
        Provider {
            settings,
            http: Http::new(),
            metadata: RwLock::new(None),
        }
    }

    /// The authorization request to send the browser to, and what to keep until it returns.
    pub async fn begin(&self, redirect: &RedirectUrl) -> Result<(Url, Pending), SignInError> {
        let client = self.client(&*self.metadata(false).await?, redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(scope.clone());
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        };
        Ok((url, pending))
    }

    /// Where this provider's users' RUT and name are.
    pub fn claim_names(&self) -> &ClaimNames {
        &self.settings.claims
    }

    /// The callback's code exchanged, its ID token checked (signature, issuer, audience,
    /// expiry at `now`, nonce) and the user's claims read from userinfo for the token's
    /// subject.
    pub async fn finish(
        &self,
        redirect: &RedirectUrl,
        pending: Pending,
        code: String,
        now: Timestamp,
    ) -> Result<Map<String, Value>, SignInError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata, redirect);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| SignInError::Rejected("the provider publishes no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| match error {
                // The provider refused the code: used before, expired, or not for us.
                RequestTokenError::ServerResponse(response) => {
                    SignInError::Failed(format!("token endpoint: {}", response.error()))
                }
                RequestTokenError::Request(error) => SignInError::Unavailable(format!("token endpoint: {error}")),
                other => SignInError::Rejected(format!("token endpoint: {other}")),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| SignInError::Rejected("no ID token in the token response".into()))?;
        let nonce = Nonce::new(pending.nonce);
        let subject = match verify(&client, id_token, &nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps a key published since we read them: read them again, once.
                let fresh = self.metadata(true).await?;
                verify(&self.client(&fresh, redirect), id_token, &nonce, now)
            }
            checked => checked,
        }
        .map_err(|error| SignInError::Rejected(format!("ID token: {}", failed_check(&error))))?;
        let claims = self.userinfo(&metadata, response.access_token().secret()).await?;
        if claims.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
            return Err(SignInError::Rejected("userinfo is for another subject".into()));
        }
        Ok(claims)
    }

    /// ClaveÚnica answers userinfo to a POST with the access token as bearer (as OpenID
    /// Connect allows), in JSON; its `name` is an object, which openidconnect's standard
    /// claims cannot hold, so the claims are read as they come.
    async fn userinfo(
        &self,
        metadata: &CoreProviderMetadata,
        access_token: &str,
    ) -> Result<Map<String, Value>, SignInError> {
        let endpoint = metadata
            .userinfo_endpoint()
            .ok_or_else(|| SignInError::Rejected("the provider publishes no userinfo endpoint".into()))?;
        let request = http::Request::post(endpoint.url().as_str())
            .header(http::header::AUTHORIZATION, format!("Bearer {access_token}"))
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|error| SignInError::Rejected(format!("userinfo request: {error}")))?;
        let answer = self
            .http
            .send(request)
            .await
            .map_err(|error| SignInError::Unavailable(format!("userinfo: {error}")))?;
        if !answer.status().is_success() {
            return Err(SignInError::Rejected(format!("userinfo answered {}", answer.status())));
        }
        serde_json::from_slice(answer.body()).map_err(|error| SignInError::Rejected(format!("userinfo: {error}")))
    }

    fn client(&self, metadata: &CoreProviderMetadata, redirect: &RedirectUrl) -> Client {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            self.settings.client_id.clone(),
            Some(self.settings.client_secret.clone()),
        )
        .set_redirect_uri(redirect.clone())
    }

    /// The provider's discovery document and keys: cached, read again when stale or when
    /// `fresh` is asked. A failure leaves the cache as it was.
    async fn metadata(&self, fresh: bool) -> Result<Arc<CoreProviderMetadata>, SignInError> {
        let now = Timestamp::now();
        let cached = self.metadata.read().await.clone();
        if !fresh
            && let Some((metadata, read_at)) = cached
            && now.duration_since(read_at).unsigned_abs() < METADATA_TTL
        {
            return Ok(metadata);
        }
        let discover = || CoreProviderMetadata::discover_async(self.settings.issuer.clone(), &self.http);
        // Once more on failure: GETs, safe to repeat, and a pooled connection to a provider
        // that restarted fails the first request sent on it.
        let metadata = match discover().await {
            Ok(metadata) => metadata,
            Err(_) => discover()
                .await
                .map_err(|error| SignInError::Unavailable(format!("discovery: {error}")))?,
        };
        let metadata = Arc::new(metadata);
        *self.metadata.write().await = Some((metadata.clone(), now));
        Ok(metadata)
    }
}

/// The ID token's checks at `now` (the service's clock), giving its subject.
fn verify(
    client: &Client,
    token: &CoreIdToken,
    nonce: &Nonce,
    now: Timestamp,
) -> Result<String, ClaimsVerificationError> {
    let at = chrono::DateTime::from_timestamp(now.as_second(), 0).unwrap_or_default();
    let verifier = client.id_token_verifier().set_time_fn(move || at);
    token
        .claims(&verifier, nonce)
        .map(|claims| claims.subject().to_string())
}

/// Which check an ID token failed, for the log: the error's own text can quote claims.
fn failed_check(error: &ClaimsVerificationError) -> &'static str {
    match error {
        ClaimsVerificationError::Expired(_) => "expired",
        ClaimsVerificationError::InvalidAudience(_) => "audience",
        ClaimsVerificationError::InvalidIssuer(_) => "issuer",
        ClaimsVerificationError::InvalidNonce(_) => "nonce",
        ClaimsVerificationError::SignatureVerification(_) => "signature",
        ClaimsVerificationError::Unsupported(_) => "unsupported algorithm",
        _ => "claims",
    }
}

/// The HTTP client for the provider: hyper over rustls (ring, Mozilla's roots compiled
/// in, so no CA file in the image is needed), HTTP/1.1, no redirects followed (OpenID
/// Connect needs none, and following them would make the issuer a request forwarder),
/// every exchange bounded in time and size.
struct Http(HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>);

/// A provider's answer larger than this is refused (discovery and keys are a few KiB).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("no answer within {PROVIDER_TIMEOUT:?}")]
    Timeout,
    #[error("{0}")]
    Transport(String),
}

impl Http {
    fn new() -> Http {
        let tls = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .expect("ring offers TLS 1.2 and 1.3")
            // Plain HTTP only where the settings allow it: a loopback provider.
            .https_or_http()
            .enable_http1()
            .build();
        Http(HyperClient::builder(TokioExecutor::new()).build(tls))
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let answer = self
                .0
                .request(request)
                .await
                .map_err(|e| HttpError::Transport(e.to_string()))?;
            let (parts, body) = answer.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| HttpError::Transport(e.to_string()))?
                .to_bytes();
            Ok(HttpResponse::from_parts(parts, body.to_vec()))
        };
        tokio::time::timeout(PROVIDER_TIMEOUT, exchange)
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign_in::{CitizenAuth, Identity};
    use openidconnect::core::CoreTokenResponse;
    use permit_web::config::Env;
    use testkit::IdentityProvider;

    const HOME: &str = "http://formulario.test";

    fn relying_party(provider: &IdentityProvider) -> Provider {
        let settings = provider.settings();
        let auth = CitizenAuth::read(&Env(|name: &str| {
            settings.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        }));
        let Ok(CitizenAuth::Oidc(settings)) = auth else {
            panic!("the test provider's settings are OIDC settings")
        };
        Provider::new(*settings)
    }

    fn redirect() -> RedirectUrl {
        RedirectUrl::new(format!("{HOME}/ingresar/vuelta")).unwrap()
    }

    /// A sign-in at the provider, up to the code on the way back.
    async fn code(rp: &Provider, provider: &IdentityProvider) -> (Pending, String) {
        let (url, pending) = rp.begin(&redirect()).await.unwrap();
        let back = Url::parse(&provider.sign_in(url.as_str(), "12345678-5").await).unwrap();
        let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        (pending, code)
    }

    /// The token response for a code, exchanged as `finish` exchanges it.
    async fn tokens(rp: &Provider, pending: &Pending, code: String) -> CoreTokenResponse {
        let metadata = rp.metadata(false).await.unwrap();
        rp.client(&metadata, &redirect())
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&rp.http)
            .await
            .unwrap()
    }

    #[testkit::db_test]
    async fn a_token_for_another_sign_in_or_past_its_expiry_is_refused() {
        let provider = IdentityProvider::start(HOME);
        let rp = relying_party(&provider);
        let (pending, code) = code(&rp, &provider).await;
        let response = tokens(&rp, &pending, code).await;
        let token = response.id_token().unwrap();
        let client = rp.client(&rp.metadata(false).await.unwrap(), &redirect());
        let nonce = Nonce::new(pending.nonce.clone());
        let now = Timestamp::now();
        assert!(verify(&client, token, &nonce, now).is_ok());
        // Another sign-in's nonce: a token injected from someone else's login.
        let other = Nonce::new_random();
        assert!(matches!(
            verify(&client, token, &other, now),
            Err(ClaimsVerificationError::InvalidNonce(_))
        ));
        // An hour and a minute later the provider's one-hour token has expired.
        let later = now + jiff::SignedDuration::from_mins(61);
        assert!(matches!(
            verify(&client, token, &nonce, later),
            Err(ClaimsVerificationError::Expired(_))
        ));
    }

    #[testkit::db_test]
    async fn a_token_signed_by_a_key_the_provider_does_not_publish_is_refused() {
        let first = IdentityProvider::start(HOME);
        let port = first.port();
        let rp = relying_party(&first);
        let (pending, code) = code(&rp, &first).await;
        let response = tokens(&rp, &pending, code).await;
        // The same issuer, restarted with another key: the first key is no longer its.
        drop(first);
        let _second = IdentityProvider::start_on(port, HOME);
        let fresh = rp.metadata(true).await.unwrap();
        let nonce = Nonce::new(pending.nonce.clone());
        let checked = verify(
            &rp.client(&fresh, &redirect()),
            response.id_token().unwrap(),
            &nonce,
            Timestamp::now(),
        );
        assert!(
            matches!(checked, Err(ClaimsVerificationError::SignatureVerification(_))),
            "{checked:?}"
        );
    }

    #[testkit::db_test]
    async fn after_the_provider_rotates_its_keys_sign_in_reads_them_again() {
        let first = IdentityProvider::start(HOME);
        let port = first.port();
        let rp = relying_party(&first);
        rp.metadata(false).await.unwrap();
        drop(first);
        // The cached keys are the old ones; the new token is signed by a new key.
        let second = IdentityProvider::start_on(port, HOME);
        let (pending, code) = code(&rp, &second).await;
        let claims = rp.finish(&redirect(), pending, code, Timestamp::now()).await.unwrap();
        let identity = Identity::from_claims(&claims, rp.claim_names()).unwrap();
        assert_eq!(identity.rut.canonical(), "12345678-5");
        assert_eq!(identity.name.as_str(), "María José González Pérez");
    }
}
