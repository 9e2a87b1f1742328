//! What only the issuer reads from the environment, beside the shared `Config`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use permit_domain::PrivacyKey;
use permit_token::SigningKey;
use permit_web::ConfigError;
use permit_web::config::{DEFAULT_OPERATOR_PORT, Env};

use crate::admin::AdminToken;
use crate::client_limit::{Cells, ClientKey, ClientLimiter, Rate, TrustedProxies};
use crate::console::Console;
use crate::retention::Retention;
use crate::sign_in::{CitizenAuth, OperatorAuth, SignIn};

/// Per operator and replica: a page or a look-up a second on average, 120 at once (an
/// audit of a load run pages through thousands of permits).
const DEFAULT_OPERATOR_RATE: Rate = Rate {
    count: 120,
    per: std::time::Duration::from_secs(60),
};

/// Per client and replica; generous enough for a household or a shared mobile address.
const DEFAULT_CREATE_RATE: Rate = Rate {
    count: 30,
    per: std::time::Duration::from_secs(60),
};

#[derive(Clone)]
pub struct Options {
    /// `PERMIT_SIGNING_KEY` (required): the Ed25519 private key that signs every permit's
    /// token, PKCS#8 as PEM or as its DER in base64.
    pub signer: Arc<SigningKey>,
    /// `PRIVACY_KEY` (required, 32 or more printable characters): keys the RUT pseudonyms of
    /// the quota ledger and the holders' links to their own permits.
    pub privacy: PrivacyKey,
    /// `ADMIN_TOKEN`: the bootstrap credential, for the operators' tokens only (making the
    /// first named *administración* token); it reads and changes no permit.
    pub admin: Option<AdminToken>,
    /// `ASSISTANCE_TOKEN`: the counter's shared credential; without it only *asistencia* tokens issue at a counter.
    pub assistance: Option<AdminToken>,
    /// `CREATE_RATE_LIMIT` (`30/60`, or `off`) with `TRUSTED_PROXIES` and
    /// `CLIENT_IPV6_PREFIX` (64): permits a client may request per window, over the form and
    /// the API together.
    pub create_limit: Option<Arc<ClientLimiter>>,
    /// `CITIZEN_AUTH` (`none`) and the `OIDC_*` settings: who may ask for a permit in whose
    /// name (see `sign_in`).
    pub sign_in: SignIn,
    /// `PERSONAL_DATA_RETENTION_DAYS`, `RETENTION_SWEEP_SECONDS`: when expired permits are erased.
    pub retention: Retention,
    /// `OPERATOR_RATE_LIMIT` (`120/60`, or `off`): reads of personal data (pages of
    /// `/api/all`, look-ups by RUT, the audit log) one operator may make per window.
    pub operator_limit: Option<Arc<Cells<String>>>,
    /// `OPERATOR_AUTH` (`none`) with `OPERATORS_PUBLIC_URL`, `OPERATOR_SCOPES` and
    /// `OPERATOR_ROLE_CLAIM`: whether operators sign in to the console (see `console`).
    pub console: Console,
    /// `OPERATOR_ADDR` (`0.0.0.0:8081`): where the operators' routes listen, apart from the
    /// citizens' `LISTEN_ADDR`, so only the operators' entrance reaches them.
    pub operator_addr: SocketAddr,
    /// `PHASE_REFRESH_SECONDS` (30; 1–3600): how often each replica reads the Paso a Paso
    /// changes published (by any replica) since its last read.
    pub phase_refresh: Duration,
}

impl Options {
    /// Signing with `signer`, pseudonyms and links under `privacy`; no operator token, no
    /// per-client limit, no sign-in (demonstration mode), the operators' port a free
    /// loopback one.
    pub fn new(signer: Arc<SigningKey>, privacy: PrivacyKey) -> Options {
        Options {
            signer,
            sign_in: SignIn::new(CitizenAuth::None, &privacy),
            console: Console::new(OperatorAuth::None, &privacy),
            privacy,
            retention: Retention::default(),
            admin: None,
            assistance: None,
            create_limit: None,
            operator_limit: None,
            operator_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            phase_refresh: DEFAULT_PHASE_REFRESH,
        }
    }

    pub fn from_env() -> Result<Options, ConfigError> {
        Options::read(&Env(|name| std::env::var(name).ok()))
    }

    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Options, ConfigError> {
        let rate = env.switchable(
            "CREATE_RATE_LIMIT",
            Some(DEFAULT_CREATE_RATE),
            Rate::parse,
            "requests/seconds such as 30/60",
        )?;
        let trusted = TrustedProxies::parse("TRUSTED_PROXIES", &env.optional("TRUSTED_PROXIES").unwrap_or_default())?;
        let key = ClientKey::parse("CLIENT_IPV6_PREFIX", env.optional("CLIENT_IPV6_PREFIX").as_deref())?;
        let signer = SigningKey::parse(&env.required("PERMIT_SIGNING_KEY")?).map_err(|error| ConfigError {
            variable: "PERMIT_SIGNING_KEY",
            problem: error.to_string(),
        })?;
        let privacy = PrivacyKey::parse(&env.required("PRIVACY_KEY")?).map_err(|weak| ConfigError {
            variable: "PRIVACY_KEY",
            problem: weak.to_string(),
        })?;
        let auth = CitizenAuth::read(env)?;
        if matches!(auth, CitizenAuth::None) {
            tracing::warn!("CITIZEN_AUTH=none: permits are issued in any name typed, without identity verification");
        }
        tracing::info!(key_id = %signer.public_key().id(), "signing permits");
        Ok(Options {
            signer: Arc::new(signer),
            sign_in: SignIn::new(auth, &privacy),
            console: Console::new(OperatorAuth::read(env)?, &privacy),
            privacy,
            retention: Retention::read(env)?,
            admin: AdminToken::from_setting(env.optional("ADMIN_TOKEN"))?,
            assistance: AdminToken::from_variable("ASSISTANCE_TOKEN", env.optional("ASSISTANCE_TOKEN"))?,
            create_limit: rate.map(|rate| Arc::new(ClientLimiter::new(rate, trusted, key))),
            operator_limit: env
                .switchable(
                    "OPERATOR_RATE_LIMIT",
                    Some(DEFAULT_OPERATOR_RATE),
                    Rate::parse,
                    "requests/seconds such as 120/60",
                )?
                .map(|rate| Arc::new(Cells::new(rate))),
            operator_addr: env.parsed(
                "OPERATOR_ADDR",
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_OPERATOR_PORT)),
                "an address such as 0.0.0.0:8081",
            )?,
            phase_refresh: phase_refresh(env)?,
        })
    }
}

/// `PHASE_REFRESH_SECONDS`, 1–3600.
fn phase_refresh<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Duration, ConfigError> {
    let seconds: u64 = env.parsed(
        "PHASE_REFRESH_SECONDS",
        DEFAULT_PHASE_REFRESH.as_secs(),
        "a whole number of seconds",
    )?;
    if !(1..=3600).contains(&seconds) {
        return Err(ConfigError {
            variable: "PHASE_REFRESH_SECONDS",
            problem: "is not between 1 and 3600".into(),
        });
    }
    Ok(Duration::from_secs(seconds))
}

/// How often a replica reads the published phase changes by default.
const DEFAULT_PHASE_REFRESH: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &str)]) -> Result<Options, ConfigError> {
        let key = SigningKey::generate_pem();
        let mut pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        for (variable, value) in [("PERMIT_SIGNING_KEY", key), ("PRIVACY_KEY", "p".repeat(32))] {
            if !pairs.iter().any(|(k, _)| *k == variable) {
                pairs.push((variable, value));
            }
        }
        Options::read(&Env(move |name: &str| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        }))
    }

    #[test]
    fn the_phase_schedule_is_read_every_30_seconds_unless_told() {
        assert_eq!(read(&[]).unwrap().phase_refresh, Duration::from_secs(30));
        let every_minute = read(&[("PHASE_REFRESH_SECONDS", "60")]).unwrap();
        assert_eq!(every_minute.phase_refresh, Duration::from_secs(60));
    }

    #[test]
    fn creates_are_limited_unless_switched_off() {
        assert!(read(&[]).unwrap().create_limit.is_some());
        assert!(read(&[("CREATE_RATE_LIMIT", "Off")]).unwrap().create_limit.is_none());
        assert!(read(&[]).unwrap().admin.is_none());
        assert_eq!(read(&[]).unwrap().operator_limit.unwrap().rate(), DEFAULT_OPERATOR_RATE);
        assert!(
            read(&[("OPERATOR_RATE_LIMIT", "off")])
                .unwrap()
                .operator_limit
                .is_none()
        );
    }

    #[test]
    fn the_signing_key_is_required_and_its_problem_never_shows_the_value() {
        let missing = Options::read(&Env(|_: &str| None)).err().unwrap();
        assert_eq!(missing.variable, "PERMIT_SIGNING_KEY");
        let secret = "c2VjcmV0LWtleS1tYXRlcmlhbA==";
        let bad = read(&[("PERMIT_SIGNING_KEY", secret)]).err().unwrap();
        assert_eq!(bad.variable, "PERMIT_SIGNING_KEY");
        assert!(!bad.to_string().contains(secret), "{bad}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("CREATE_RATE_LIMIT", "many"),
            ("TRUSTED_PROXIES", "10.0.0.0/99"),
            ("CLIENT_IPV6_PREFIX", "8"),
            ("ADMIN_TOKEN", "short"),
            ("ASSISTANCE_TOKEN", "short"),
            ("OPERATOR_ADDR", "8081"),
            ("PHASE_REFRESH_SECONDS", "0"),
            ("PHASE_REFRESH_SECONDS", "3601"),
            ("PHASE_REFRESH_SECONDS", "30s"),
            ("OPERATOR_AUTH", "password"),
            ("OPERATOR_RATE_LIMIT", "lots"),
            ("PERMIT_SIGNING_KEY", "MC4CAQAwBQYDK2VwBCIE"),
            ("PRIVACY_KEY", "short"),
            ("PRIVACY_KEY", ""),
        ] {
            assert_eq!(read(&[(variable, value)]).err().unwrap().variable, variable);
        }
    }
}
