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

/// `OPERATOR_AUTH`: whether operators sign in to the console on `operadores.<domain>`.
#[derive(Clone, Debug)]
pub enum OperatorAuth {
    /// No console sign-in: operators use their API tokens only.
    None,
    /// Through the citizens' provider registration (`OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`,
    /// `OIDC_CLIENT_SECRET`, with the console's callback registered too), and a role claim.
    Oidc(Box<OperatorSettings>),
}

/// How operators sign in: the provider, the console's address and where their roles are.
#[derive(Clone, Debug)]
pub struct OperatorSettings {
    /// The provider, with `OPERATOR_SCOPES` (`run name roles`) as its scopes.
    pub oidc: OidcSettings,
    /// `OPERATORS_PUBLIC_URL`: the console's address, for its callback and its cookies.
    pub home: String,
    /// `OPERATOR_ROLE_CLAIM` (`roles`): a userinfo claim holding role codes (`consulta`,
    /// `revocacion`, `asistencia`, `administracion`), as a list or space-separated text.
    pub role_claim: String,
}

impl OperatorAuth {
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<OperatorAuth, ConfigError> {
        let mode = env.optional("OPERATOR_AUTH").unwrap_or_else(|| "none".into());
        match mode.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(OperatorAuth::None),
            "oidc" => {
                let mut oidc = OidcSettings::read(env)?;
                oidc.scopes = scopes(env.optional("OPERATOR_SCOPES"), "run name roles");
                let home =
                    permit_web::config::base_url("OPERATORS_PUBLIC_URL", &env.required("OPERATORS_PUBLIC_URL")?)?;
                let role_claim = claim_name(env, "OPERATOR_ROLE_CLAIM", "roles")?;
                Ok(OperatorAuth::Oidc(Box::new(OperatorSettings {
                    oidc,
                    home,
                    role_claim,
                })))
            }
            _ => Err(ConfigError {
                variable: "OPERATOR_AUTH",
                problem: format!("is {mode:?}; expected oidc or none"),
            }),
        }
    }
}

/// Scopes beside `openid`, from a space-separated setting.
fn scopes(setting: Option<String>, default: &str) -> Vec<Scope> {
    setting
        .unwrap_or_else(|| default.into())
        .split_whitespace()
        .filter(|scope| *scope != "openid")
        .map(|scope| Scope::new(scope.to_owned()))
        .collect()
}

/// A claim's name from `variable`, `default` when unset.
fn claim_name<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    variable: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let name = env.optional(variable).unwrap_or_else(|| default.into());
    let name = name.trim();
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(name.to_owned())
    } else {
        Err(ConfigError {
            variable,
            problem: format!("is {name:?}; expected a claim name (letters, digits, _)"),
        })
    }
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
        Ok(OidcSettings {
            issuer,
            client_id: ClientId::new(env.required("OIDC_CLIENT_ID")?.trim().to_owned()),
            client_secret: ClientSecret::new(env.required("OIDC_CLIENT_SECRET")?),
            scopes: scopes(env.optional("OIDC_SCOPES"), "run name"),
            claims: ClaimNames {
                rut: claim_name(env, "OIDC_RUT_CLAIM", "RolUnico")?,
                name: claim_name(env, "OIDC_NAME_CLAIM", "name")?,
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

    fn read_operators(pairs: &[(&'static str, &str)]) -> Result<OperatorAuth, ConfigError> {
        let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        OperatorAuth::read(&Env(move |name: &str| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        }))
    }

    #[test]
    fn operators_sign_in_through_the_same_provider_with_a_role_claim() {
        assert!(matches!(read_operators(&OIDC).unwrap(), OperatorAuth::None));
        let mut pairs = OIDC.to_vec();
        pairs.extend([
            ("OPERATOR_AUTH", "OIDC"),
            ("OPERATORS_PUBLIC_URL", "https://operadores.permisos.example/"),
        ]);
        let OperatorAuth::Oidc(settings) = read_operators(&pairs).unwrap() else {
            panic!("oidc expected")
        };
        assert_eq!(settings.home, "https://operadores.permisos.example");
        assert_eq!(settings.role_claim, "roles");
        assert_eq!(settings.oidc.client_id.as_str(), "permisos");
        let scopes: Vec<&str> = settings.oidc.scopes.iter().map(|s| s.as_str()).collect();
        assert_eq!(scopes, ["run", "name", "roles"]);
        for (variable, value) in [
            ("OPERATOR_AUTH", "token"),
            ("OPERATORS_PUBLIC_URL", "operadores.permisos.example"),
            ("OPERATOR_ROLE_CLAIM", "realm.roles"),
        ] {
            let mut bad = pairs.clone();
            bad.retain(|(k, _)| *k != variable);
            bad.push((variable, value));
            assert_eq!(read_operators(&bad).err().unwrap().variable, variable);
        }
        let without: Vec<_> = pairs
            .iter()
            .copied()
            .filter(|(k, _)| *k != "OPERATORS_PUBLIC_URL")
            .collect();
        assert_eq!(read_operators(&without).err().unwrap().variable, "OPERATORS_PUBLIC_URL");
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
