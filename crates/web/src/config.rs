//! Configuration from the environment, read once at start; a bad value stops start-up
//! with a message naming the variable.

use std::net::SocketAddr;
use std::str::FromStr;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use permit_domain::{Curfew, Rules};

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// What both services read.
#[derive(Debug, Clone)]
pub struct Config {
    pub mongodb_uri: String,
    pub mongodb_db: String,
    pub listen_addr: SocketAddr,
    pub links: Links,
    pub rules: Rules,
}

/// The public base URLs of the two services, as citizens and police reach them.
#[derive(Debug, Clone)]
pub struct Links {
    issuer: String,
    validator: String,
}

impl Links {
    pub fn new(issuer: &str, validator: &str) -> Result<Links, ConfigError> {
        Ok(Links {
            issuer: base_url("ISSUER_PUBLIC_URL", issuer)?,
            validator: base_url("VALIDATOR_PUBLIC_URL", validator)?,
        })
    }

    pub fn issuer_home(&self) -> &str {
        &self.issuer
    }

    pub fn validator_home(&self) -> &str {
        &self.validator
    }

    pub fn permit_page(&self, id: &permit_domain::PermitId) -> String {
        format!("{}/permiso/{id}", self.issuer)
    }

    pub fn validation_page(&self, id: &permit_domain::PermitId) -> String {
        format!("{}/validar/{id}", self.validator)
    }
}

fn base_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ', '"', '<', '>', '\'']) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError {
            variable,
            problem: format!("{value:?} is not a base URL such as https://validar.example.cl"),
        }),
    }
}

/// Reads variables from a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn required(&self, variable: &'static str) -> Result<String, ConfigError> {
        self.optional(variable).ok_or_else(|| ConfigError {
            variable,
            problem: "is required but not set".into(),
        })
    }

    pub fn optional(&self, variable: &'static str) -> Option<String> {
        (self.0)(variable).filter(|v| !v.trim().is_empty())
    }

    /// A value parsed with `FromStr`, or `default` when unset.
    pub fn parsed<T: FromStr>(&self, variable: &'static str, default: T, expected: &str) -> Result<T, ConfigError> {
        match self.optional(variable) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| ConfigError {
                variable,
                problem: format!("{text:?} is not {expected}"),
            }),
        }
    }

    /// A rule that `off` switches off.
    fn switchable<T>(
        &self,
        variable: &'static str,
        default: Option<T>,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.optional(variable) {
            None => Ok(default),
            Some(text) if text.trim().eq_ignore_ascii_case("off") => Ok(None),
            Some(text) => parse(text.trim()).map(Some).ok_or_else(|| ConfigError {
                variable,
                problem: format!("{text:?} is not {expected} or \"off\""),
            }),
        }
    }

    pub fn config(&self) -> Result<Config, ConfigError> {
        Ok(Config {
            mongodb_uri: self.required("MONGODB_URI")?,
            mongodb_db: self.optional("MONGODB_DB").unwrap_or_else(|| "permisos".into()),
            listen_addr: self.parsed(
                "LISTEN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 8080)),
                "an address such as 0.0.0.0:8080",
            )?,
            links: Links::new(
                &self.required("ISSUER_PUBLIC_URL")?,
                &self.required("VALIDATOR_PUBLIC_URL")?,
            )?,
            rules: self.rules()?,
        })
    }

    fn rules(&self) -> Result<Rules, ConfigError> {
        let defaults = Rules::default();
        let delay = self.parsed(
            "PERMIT_START_DELAY_MINUTES",
            defaults.start_delay.as_mins(),
            "a whole number of minutes",
        )?;
        if !(0..=24 * 60).contains(&delay) {
            return Err(ConfigError {
                variable: "PERMIT_START_DELAY_MINUTES",
                problem: "must be between 0 and 1440".into(),
            });
        }
        let time_zone = match self.optional("PERMIT_TIME_ZONE") {
            None => defaults.time_zone,
            Some(name) => TimeZone::get(name.trim()).map_err(|_| ConfigError {
                variable: "PERMIT_TIME_ZONE",
                problem: format!("{name:?} is not an IANA time zone such as America/Santiago"),
            })?,
        };
        Ok(Rules {
            start_delay: SignedDuration::from_mins(delay),
            weekly_limit: self.switchable(
                "PERMIT_WEEKLY_LIMIT",
                defaults.weekly_limit,
                |t| t.parse().ok().filter(|n| *n > 0),
                "a positive whole number",
            )?,
            curfew: self.switchable(
                "PERMIT_CURFEW",
                defaults.curfew,
                Curfew::parse,
                "hours such as 22:00-05:00",
            )?,
            time_zone,
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Env(|name| std::env::var(name).ok()).config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env(move |name: &str| map.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 3] = [
        ("MONGODB_URI", "mongodb://db:27017"),
        ("ISSUER_PUBLIC_URL", "http://formulario.localhost:8080/"),
        ("VALIDATOR_PUBLIC_URL", "https://validar.example.cl"),
    ];

    #[test]
    fn defaults_are_the_2020_rules() {
        let config = env(&MINIMAL).config().unwrap();
        assert_eq!(config.mongodb_db, "permisos");
        assert_eq!(config.listen_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.rules.start_delay.as_mins(), 15);
        assert_eq!(config.rules.weekly_limit, Some(2));
        assert_eq!(config.rules.curfew, Some(Curfew::DEFAULT));
        assert_eq!(config.links.issuer_home(), "http://formulario.localhost:8080");
    }

    #[test]
    fn every_rule_can_be_switched_off() {
        let mut pairs = MINIMAL.to_vec();
        pairs.extend([
            ("PERMIT_CURFEW", "off"),
            ("PERMIT_WEEKLY_LIMIT", "OFF"),
            ("PERMIT_START_DELAY_MINUTES", "0"),
        ]);
        let rules = env(&pairs).config().unwrap().rules;
        assert_eq!(
            (rules.curfew, rules.weekly_limit, rules.start_delay.as_mins()),
            (None, None, 0)
        );
    }

    #[test]
    fn a_missing_or_bad_value_names_its_variable() {
        let missing = env(&MINIMAL[1..]).config().unwrap_err();
        assert_eq!(missing.variable, "MONGODB_URI");
        for (variable, value) in [
            ("LISTEN_ADDR", "localhost"),
            ("PERMIT_CURFEW", "late"),
            ("PERMIT_WEEKLY_LIMIT", "0"),
            ("PERMIT_START_DELAY_MINUTES", "-5"),
            ("PERMIT_TIME_ZONE", "Mars/Olympus"),
            ("VALIDATOR_PUBLIC_URL", "validar.example.cl"),
        ] {
            let mut pairs = MINIMAL.to_vec();
            pairs.push((variable, value));
            let error = env(&pairs).config().unwrap_err();
            assert_eq!(error.variable, variable, "{error}");
        }
    }
}
