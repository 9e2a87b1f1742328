//! Issuing a permit: the one operation behind both the form and the JSON API. It speaks
//! in its own outcomes; the HTTP edge (`errors`) says what each means to a client.

use permit_domain::{FieldErrors, Operator, Permit, PermitForm, PermitId, PermitRequest, Refusal};
use permit_store::{KeyState, StoreError};

use crate::IssuerState;

/// Why a permit was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("invalid fields")]
    Invalid(FieldErrors),
    /// The rules refuse it: the curfew, a quota, or the comuna's phase.
    #[error(transparent)]
    Refused(Refusal),
    /// The same idempotency key (or form) is being answered right now.
    #[error("a request with this idempotency key is being answered")]
    InProgress,
    /// The idempotency key (or form) was used before for another request.
    #[error("idempotency key used with a different request")]
    KeyReused,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for IssueError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused(refusal) => IssueError::Refused(refusal),
            other => IssueError::Store(other),
        }
    }
}

/// Parses the request, applies the rules, counts the quota and stores the permit.
pub async fn issue(state: &IssuerState, form: &PermitForm) -> Result<Permit, IssueError> {
    let request = form.parse().map_err(IssueError::Invalid)?;
    issue_as(state, PermitId::generate(), request, None).await
}

/// As `issue`, by `operator` at a counter for the citizen in front of them: the same rules
/// and the citizen's own weekly quota, and the operator recorded in the permit.
pub async fn issue_assisted(state: &IssuerState, form: &PermitForm, operator: Operator) -> Result<Permit, IssueError> {
    let request = form.parse().map_err(IssueError::Invalid)?;
    issue_as(state, PermitId::generate(), request, Some(operator)).await
}

/// Where an idempotency key came from. Each source has its own namespace, and a client's
/// key is scoped to the citizen it asks for (by pseudonym: the stored key names no RUT), so
/// one client's key can never meet another's: not to replay their permit, nor to learn that
/// they used it.
pub enum IdempotencyKey {
    /// The form page's one-time token, made by us.
    Form(PermitId),
    /// An API client's `Idempotency-Key` header.
    Client(String),
}

impl IdempotencyKey {
    /// The key as stored, for `request`.
    fn scoped(&self, state: &IssuerState, request: &PermitRequest) -> String {
        match self {
            IdempotencyKey::Form(token) => format!("form:{token}"),
            IdempotencyKey::Client(key) => format!("api:{}:{key}", state.options.privacy.pseudonym(&request.rut)),
        }
    }
}

/// As `issue`, at most once per idempotency key: a retry with the same key and request
/// gets the same permit and uses no second quota.
pub async fn issue_once(state: &IssuerState, form: &PermitForm, key: &IdempotencyKey) -> Result<Permit, IssueError> {
    let request = form.parse().map_err(IssueError::Invalid)?;
    let key = key.scoped(state, &request);
    let fingerprint = fingerprint(state, &request);
    let (permit, _) = once(state, &key, &fingerprint, |id| issue_as(state, id, request, None)).await?;
    Ok(permit)
}

/// `issue` under an id reserved for `key` (stored scoped, with the request's
/// `fingerprint`), at most once: the permit, and whether it was issued before.
pub(crate) async fn once<F>(
    state: &IssuerState,
    key: &str,
    fingerprint: &str,
    issue: impl FnOnce(PermitId) -> F,
) -> Result<(Permit, bool), IssueError>
where
    F: std::future::Future<Output = Result<Permit, IssueError>>,
{
    let ctx = &state.ctx;
    match ctx.store.reserve_key(key, fingerprint, ctx.now()).await? {
        KeyState::Replay(permit) => Ok((*permit, true)),
        KeyState::InProgress => Err(IssueError::InProgress),
        KeyState::KeyReused => Err(IssueError::KeyReused),
        KeyState::Reserved(id) => {
            let issued = issue(id).await;
            match &issued {
                Ok(_) => ctx.store.complete_key(key).await?,
                // Refused before anything was stored: the key is free for a corrected request.
                Err(IssueError::Refused(_)) => ctx.store.release_key(key).await?,
                // The permit may or may not be stored (a write whose answer was lost). The
                // lease is kept: once it lapses, a retry finds the permit, or issues it under
                // the same id, so it cannot be issued twice.
                Err(error) => tracing::warn!(%error, "outcome unknown; the idempotency key stays leased"),
            }
            issued.map(|permit| (permit, false))
        }
    }
}

/// What makes two requests the same request: a keyed digest of their fields, so the
/// idempotency record can tell a retry from another request without holding either.
fn fingerprint(state: &IssuerState, request: &PermitRequest) -> String {
    let fields = [
        request.name.as_str(),
        &request.rut.canonical(),
        request.motive.code(),
        request.address.as_str(),
        request.comuna.as_str(),
    ]
    .join("\u{1f}");
    state.options.privacy.digest("request", &fields)
}

async fn issue_as(
    state: &IssuerState,
    id: PermitId,
    request: PermitRequest,
    issued_by: Option<Operator>,
) -> Result<Permit, IssueError> {
    let ctx = &state.ctx;
    let now = ctx.now();
    let refused = |refusal: Refusal| {
        ctx.metrics.permit_refused(refusal.code());
        IssueError::Refused(refusal)
    };
    // The policy version in force and the comuna's phase, from memory: no database read.
    let terms = state
        .phases
        .with(|schedule| {
            state
                .policies
                .decide(&ctx.rules, schedule, request.comuna, request.motive, now)
        })
        .map_err(refused)?;
    let window = ctx.rules.window(request.motive, &terms, now).map_err(refused)?;
    let holder = state.options.privacy.pseudonym(&request.rut);
    let claim = ctx.rules.quota_claim(&holder, request.motive, &terms, now);
    let permit = Permit {
        issued_by,
        issued_under: Some(terms.issued_under),
        ..Permit::issue_as(id, request, window)
    };
    store(state, permit, claim.as_ref()).await
}

/// Stores a decided permit, counting `claim` first if there is one; its refusal counted.
pub(crate) async fn store(
    state: &IssuerState,
    permit: Permit,
    claim: Option<&permit_domain::QuotaClaim>,
) -> Result<Permit, IssueError> {
    let ctx = &state.ctx;
    if let Err(error) = ctx.store.issue(&permit, claim).await {
        let error = IssueError::from(error);
        if let IssueError::Refused(refusal) = &error {
            ctx.metrics.permit_refused(refusal.code());
        }
        return Err(error);
    }
    ctx.metrics.permit_issued(permit.motive.code());
    // A permit's id is a handle on a person's movements: never in info-level logs.
    tracing::info!(motive = permit.motive.code(), "permit issued");
    Ok(permit)
}
