//! What only the validator reads from the environment, beside the shared `Config`.

use std::time::Duration;

use permit_token::KeySet;
use permit_web::ConfigError;
use permit_web::config::Env;

/// How stale the revocation list may get while the database answers: a revoked permit may
/// still read as valid through its signed link for about this long.
const DEFAULT_REVOCATION_REFRESH: u64 = 30;

pub struct Options {
    /// `PERMIT_PUBLIC_KEYS` (required): the JWK Set of the issuer's public keys, every key
    /// whose permits are still accepted (two during a rotation).
    pub keys: KeySet,
    /// `PERMIT_REVOCATION_REFRESH_SECONDS`: how often the revocation list is read again.
    pub revocation_refresh: Duration,
}

impl Options {
    pub fn from_env() -> Result<Options, ConfigError> {
        Options::read(&Env(|name| std::env::var(name).ok()))
    }

    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Options, ConfigError> {
        let keys = KeySet::parse(&env.required("PERMIT_PUBLIC_KEYS")?).map_err(|error| ConfigError {
            variable: "PERMIT_PUBLIC_KEYS",
            problem: error.to_string(),
        })?;
        let seconds = env.parsed(
            "PERMIT_REVOCATION_REFRESH_SECONDS",
            DEFAULT_REVOCATION_REFRESH,
            "a whole number of seconds",
        )?;
        if !(1..=3600).contains(&seconds) {
            return Err(ConfigError {
                variable: "PERMIT_REVOCATION_REFRESH_SECONDS",
                problem: format!("{seconds} is not between 1 and 3600"),
            });
        }
        Ok(Options {
            keys,
            revocation_refresh: Duration::from_secs(seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use permit_token::SigningKey;

    use super::*;

    fn read(pairs: &[(&'static str, &str)]) -> Result<Options, ConfigError> {
        let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Options::read(&Env(move |name: &str| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        }))
    }

    fn jwks() -> String {
        let key = SigningKey::parse(&SigningKey::generate_pem()).unwrap();
        KeySet::new([key.public_key().clone()]).to_json()
    }

    #[test]
    fn keys_are_required_and_the_refresh_has_a_default() {
        assert_eq!(read(&[]).err().unwrap().variable, "PERMIT_PUBLIC_KEYS");
        let options = read(&[("PERMIT_PUBLIC_KEYS", &jwks())]).unwrap();
        assert_eq!(options.revocation_refresh, Duration::from_secs(30));
        assert_eq!(options.keys.ids().count(), 1);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let jwks = jwks();
        for (variable, value) in [
            ("PERMIT_PUBLIC_KEYS", r#"{"keys":[]}"#),
            ("PERMIT_PUBLIC_KEYS", "not json"),
            ("PERMIT_REVOCATION_REFRESH_SECONDS", "0"),
            ("PERMIT_REVOCATION_REFRESH_SECONDS", "often"),
        ] {
            let mut pairs = vec![("PERMIT_PUBLIC_KEYS", jwks.as_str())];
            pairs.retain(|(k, _)| *k != variable);
            pairs.push((variable, value));
            assert_eq!(read(&pairs).err().unwrap().variable, variable, "{value}");
        }
    }
}
