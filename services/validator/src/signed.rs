//! Signed permits, checked without a database read: the signature against the configured
//! public keys, the validity window against the clock, and revocation against a list kept
//! in memory and read again in the background.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use permit_domain::{Clock, PermitId};
use permit_store::{Store, StoreError};
use permit_token::{KeyId, KeySet, Rejection};
use permit_web::{Context, Metrics};
use prometheus::IntGauge;

use crate::lookup::Check;

/// The public keys and the revocation list, shared by every request.
pub struct Signed {
    pub keys: KeySet,
    pub revocations: Revocations,
}

/// A signed permit that checked out, with how fresh the revocation list it was checked against is.
pub struct SignedCheck {
    pub check: Check,
    pub key_id: KeyId,
    /// When the revocation list was last read; `None` if it never was (database down since start).
    pub revocations_as_of: Option<Timestamp>,
}

/// Verifies `token` and reads its status at the context's clock. No I/O.
pub fn check(ctx: &Context, signed: &Signed, token: &str) -> Result<SignedCheck, Rejection> {
    let verified = signed.keys.verify(token).inspect_err(|rejection| {
        ctx.metrics.permit_checked("invalid");
        tracing::info!(reason = rejection.code(), "signed permit refused");
    })?;
    let claims = verified.claims;
    let (revoked_at, revocations_as_of) = signed.revocations.lookup(&claims.id);
    let status = claims.status(ctx.now(), revoked_at);
    ctx.metrics.permit_checked(status.code());
    tracing::info!(status = status.code(), key = %verified.key_id, "signed permit checked");
    Ok(SignedCheck {
        check: Check {
            id: claims.id,
            status,
            name: claims.name,
            rut: claims.rut,
            motive: claims.motive,
            valid_from: claims.valid_from,
            expires_at: claims.expires_at,
            issued_under: claims.issued_under,
        },
        key_id: verified.key_id,
        revocations_as_of,
    })
}

/// Revoked permits that have not expired, by id, as last read from the database.
#[derive(Clone)]
pub struct Revocations {
    list: Arc<RwLock<RevocationList>>,
    /// `permit_revocations_refreshed_timestamp_seconds`: when the list was last read.
    refreshed: IntGauge,
}

#[derive(Default)]
struct RevocationList {
    revoked: HashMap<PermitId, Timestamp>,
    as_of: Option<Timestamp>,
}

/// An empty list, its age not exposed (tests).
impl Default for Revocations {
    fn default() -> Revocations {
        let refreshed = IntGauge::new(
            "permit_revocations_refreshed_timestamp_seconds",
            "When this validator last read the revocation list (Unix seconds; 0: never)",
        )
        .expect("valid metric");
        Revocations {
            list: Arc::default(),
            refreshed,
        }
    }
}

impl Revocations {
    /// An empty list whose age `metrics` exposes, so an alert can tell when it goes stale.
    pub fn measured(metrics: &Metrics) -> Revocations {
        let revocations = Revocations::default();
        metrics.register(Box::new(revocations.refreshed.clone()));
        revocations
    }

    /// When `id` was revoked, if it was, and when the list was read.
    pub fn lookup(&self, id: &PermitId) -> (Option<Timestamp>, Option<Timestamp>) {
        let list = self.list.read().expect("the revocation list's lock is never poisoned");
        (list.revoked.get(id).copied(), list.as_of)
    }

    /// Reads the list again; on failure the last one is kept, and its age shows.
    pub async fn refresh(&self, store: &Store, now: Timestamp) -> Result<usize, StoreError> {
        let revoked: HashMap<_, _> = store.revocations(now).await?.into_iter().collect();
        let count = revoked.len();
        *self.list.write().expect("the revocation list's lock is never poisoned") = RevocationList {
            revoked,
            as_of: Some(now),
        };
        self.refreshed.set(now.as_second());
        Ok(count)
    }

    /// Refreshes at once, then every `every`, for as long as the process runs.
    pub fn refresh_in_background(&self, store: Store, clock: Arc<dyn Clock>, every: Duration) {
        let revocations = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                match revocations.refresh(&store, clock.now()).await {
                    Ok(count) if failing => {
                        failing = false;
                        tracing::info!(count, "revocation list read again");
                    }
                    Ok(_) => {}
                    // Logged once per outage, not on every tick.
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "revocation list not refreshed; the last one stays in use");
                    }
                    Err(_) => {}
                }
            }
        });
    }
}
