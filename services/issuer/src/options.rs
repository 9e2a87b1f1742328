//! What only the issuer reads from the environment, beside the shared `Config`.

use std::sync::Arc;

use permit_web::ConfigError;
use permit_web::config::Env;

use crate::admin::AdminToken;
use crate::client_limit::{ClientLimiter, Rate, TrustedProxies};

/// Per client and replica; generous enough for a household or a shared mobile address.
const DEFAULT_CREATE_RATE: Rate = Rate {
    count: 30,
    per: std::time::Duration::from_secs(60),
};

#[derive(Clone, Default)]
pub struct Options {
    /// `ADMIN_TOKEN`: without it the operator's endpoints do not exist.
    pub admin: Option<AdminToken>,
    /// `CREATE_RATE_LIMIT` (`30/60`, or `off`) with `TRUSTED_PROXIES`: permits a client may
    /// request per window, over the form and the API together.
    pub create_limit: Option<Arc<ClientLimiter>>,
}

impl Options {
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
        Ok(Options {
            admin: AdminToken::from_setting(env.optional("ADMIN_TOKEN"))?,
            create_limit: rate.map(|rate| Arc::new(ClientLimiter::new(rate, trusted))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &'static str)]) -> Result<Options, ConfigError> {
        let pairs = pairs.to_vec();
        Options::read(&Env(move |name: &str| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        }))
    }

    #[test]
    fn creates_are_limited_unless_switched_off() {
        assert!(read(&[]).unwrap().create_limit.is_some());
        assert!(read(&[("CREATE_RATE_LIMIT", "Off")]).unwrap().create_limit.is_none());
        assert!(read(&[]).unwrap().admin.is_none());
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("CREATE_RATE_LIMIT", "many"),
            ("TRUSTED_PROXIES", "10.0.0.0/99"),
            ("ADMIN_TOKEN", "short"),
        ] {
            assert_eq!(read(&[(variable, value)]).err().unwrap().variable, variable);
        }
    }
}
