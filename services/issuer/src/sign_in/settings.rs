//! How citizens prove who they are, as read from the environment.

use openidconnect::{ClientId, ClientSecret, IssuerUrl, Scope};
use permit_web::ConfigError;
use permit_web::config::Env;

/// `CITIZEN_AUTH`: `oidc` (the production overlay's) or `none`.
#[derive(Clone, Debug)]
pub enum CitizenAuth {
    /// Anyone may ask in any name: the case study's load tests and demos. Every page says
    /// so ("modo demostración").
    None,
    /// The RUT and name come from the identity provider, never from the form.
    Oidc(Box<OidcSettings>),
}

/// The relying party's registration at the provider, and where its claims are.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `OIDC_ISSUER_URL`: discovery is read from `{issuer}/.well-known/openid-configuration`.
    pub issuer: IssuerUrl,
    /// `OIDC_CLIENT_ID`.
    pub client_id: ClientId,
    /// `OIDC_CLIENT_SECRET` (a Secret on Kubernetes); its `Debug` is redacted.
    pub client_secret: ClientSecret,
    /// `OIDC_SCOPES`, beside `openid`: ClaveÚnica's `run name` by default.
    pub scopes: Vec<Scope>,
    pub claims: ClaimNames,
}

/// Which userinfo claims hold the RUT and the name. Each may have ClaveÚnica's shape
/// (`RolUnico {numero, DV}`, `name {nombres, apellidos}`) or be plain text.
#[derive(Clone, Debug)]
pub struct ClaimNames {
    /// `OIDC_RUT_CLAIM` (`RolUnico`).
    pub rut: String,
    /// `OIDC_NAME_CLAIM` (`name`).
    pub name: String,
}

impl CitizenAuth {
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<CitizenAuth, ConfigError> {
        let mode = env.optional("CITIZEN_AUTH").unwrap_or_else(|| "none".into());
        match mode.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(CitizenAuth::None),
            "oidc" => Ok(CitizenAuth::Oidc(Box::new(OidcSettings::read(env)?))),
            _ => Err(ConfigError {
                variable: "CITIZEN_AUTH",
                problem: format!("is {mode:?}; expected oidc or none"),
            }),
        }
    }
}

impl OidcSettings {
    fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<OidcSettings, ConfigError> {
        let issuer = env.required("OIDC_ISSUER_URL")?;
        let issuer = IssuerUrl::new(issuer.trim().to_owned()).map_err(|error| ConfigError {
            variable: "OIDC_ISSUER_URL",
            problem: format!("is not a URL ({error})"),
        })?;
        // Tokens and the client secret cross this connection: TLS, but to a provider on this
        // machine (the tests', `make run`'s).
        let loopback = matches!(issuer.url().host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if issuer.url().scheme() != "https" && !loopback {
            return Err(ConfigError {
                variable: "OIDC_ISSUER_URL",
                problem: "must be an https:// URL (http only for a provider on 127.0.0.1)".into(),
            });
        }
        let scopes = env
            .optional("OIDC_SCOPES")
            .unwrap_or_else(|| "run name".into())
            .split_whitespace()
            .filter(|scope| *scope != "openid")
            .map(|scope| Scope::new(scope.to_owned()))
            .collect();
        let claim = |variable, default: &str| {
            let name = env.optional(variable).unwrap_or_else(|| default.into());
            let name = name.trim();
            if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Ok(name.to_owned())
            } else {
                Err(ConfigError {
                    variable,
                    problem: format!("is {name:?}; expected a claim name (letters, digits, _)"),
                })
            }
        };
        Ok(OidcSettings {
            issuer,
            client_id: ClientId::new(env.required("OIDC_CLIENT_ID")?.trim().to_owned()),
            client_secret: ClientSecret::new(env.required("OIDC_CLIENT_SECRET")?),
            scopes,
            claims: ClaimNames {
                rut: claim("OIDC_RUT_CLAIM", "RolUnico")?,
                name: claim("OIDC_NAME_CLAIM", "name")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &str)]) -> Result<CitizenAuth, ConfigError> {
        let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        CitizenAuth::read(&Env(move |name: &str| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        }))
    }

    const OIDC: [(&str, &str); 4] = [
        ("CITIZEN_AUTH", "oidc"),
        ("OIDC_ISSUER_URL", "https://accounts.claveunica.gob.cl/openid"),
        ("OIDC_CLIENT_ID", "permisos"),
        ("OIDC_CLIENT_SECRET", "the-client-secret"),
    ];

    #[test]
    fn without_a_setting_it_is_the_demonstration_mode() {
        assert!(matches!(read(&[]).unwrap(), CitizenAuth::None));
    }

    #[test]
    fn oidc_defaults_to_claveunicas_scopes_and_claims_and_never_prints_the_secret() {
        let CitizenAuth::Oidc(settings) = read(&OIDC).unwrap() else {
            panic!("oidc expected")
        };
        let scopes: Vec<&str> = settings.scopes.iter().map(|s| s.as_str()).collect();
        assert_eq!(scopes, ["run", "name"]);
        assert_eq!(
            (settings.claims.rut.as_str(), settings.claims.name.as_str()),
            ("RolUnico", "name")
        );
        assert!(!format!("{settings:?}").contains("the-client-secret"));
    }

    #[test]
    fn bad_or_missing_values_name_their_variable() {
        assert_eq!(
            read(&[("CITIZEN_AUTH", "password")]).err().unwrap().variable,
            "CITIZEN_AUTH"
        );
        for missing in ["OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"] {
            let pairs: Vec<_> = OIDC.into_iter().filter(|(k, _)| *k != missing).collect();
            assert_eq!(read(&pairs).err().unwrap().variable, missing);
        }
        for (variable, value) in [
            ("OIDC_ISSUER_URL", "not a url"),
            ("OIDC_ISSUER_URL", "http://accounts.claveunica.gob.cl/openid"),
            ("OIDC_RUT_CLAIM", "a.b"),
        ] {
            let mut pairs = OIDC.to_vec();
            pairs.push((variable, value));
            pairs.retain(|(k, v)| *k != variable || *v == value);
            assert_eq!(read(&pairs).err().unwrap().variable, variable);
        }
    }
}
