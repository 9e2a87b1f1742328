//! Configuration from the environment, read once at start; a bad value stops start-up
//! with a message naming the variable.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use permit_domain::{Curfew, Rules};

const MONGODB_URI: &str = "MONGODB_URI";
const ISSUER_PUBLIC_URL: &str = "ISSUER_PUBLIC_URL";
const VALIDATOR_PUBLIC_URL: &str = "VALIDATOR_PUBLIC_URL";
/// Variables without a default: start-up stops when one is missing.
pub const REQUIRED_VARIABLES: [&str; 3] = [MONGODB_URI, ISSUER_PUBLIC_URL, VALIDATOR_PUBLIC_URL];
/// The public port when `LISTEN_ADDR` is not set.
pub const DEFAULT_PUBLIC_PORT: u16 = 8080;
/// The probes and metrics port when `ADMIN_ADDR` is not set.
pub const DEFAULT_ADMIN_PORT: u16 = 9090;
/// The issuer's operators' port when `OPERATOR_ADDR` is not set.
pub const DEFAULT_OPERATOR_PORT: u16 = 8081;

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// A setting that may hold a password: `{:?}` prints its name only, so no log line or
/// panic message can carry it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What both services read.
#[derive(Debug, Clone)]
pub struct Config {
    /// May carry the database user's password.
    pub mongodb_uri: Secret,
    pub mongodb_db: String,
    pub listen_addr: SocketAddr,
    pub links: Links,
    pub rules: Rules,
    pub runtime: Runtime,
}

/// How the process behaves under Kubernetes: ports, shutdown and overload protection.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Probes and metrics, kept off the public port and so off the Ingress.
    pub admin_addr: SocketAddr,
    /// After SIGTERM, how long to keep serving while readiness reports 503.
    pub shutdown_drain: Duration,
    /// Then, how long requests in flight may take to finish.
    pub shutdown_timeout: Duration,
    pub limits: Limits,
    pub connections: Connections,
}

/// What holds a connection before it is a request: slow or endless headers from a client
/// cannot hold memory or connections without bound.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    /// A connection whose request head has not all arrived by then is closed. Longer than
    /// the ingress keeps an idle connection to a pod (20 s), so it is always the ingress
    /// that closes an idle one and never races a request sent on it.
    pub header_read_timeout: Duration,
    /// Connections open at once, the ingress's own included; more wait to be accepted.
    pub max_connections: usize,
    /// A request head (request line and headers) larger than this is answered 431.
    pub max_header_bytes: usize,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Requests served at once; more are shed with 503 instead of queueing without bound.
    pub max_concurrent_requests: usize,
    /// Sent as HSTS when the service is reached over TLS; `None` sends nothing.
    pub hsts_max_age: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 16 * 1024,
            max_concurrent_requests: 256,
            hsts_max_age: None,
        }
    }
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
            issuer: base_url(ISSUER_PUBLIC_URL, issuer)?,
            validator: base_url(VALIDATOR_PUBLIC_URL, validator)?,
        })
    }

    pub fn issuer_home(&self) -> &str {
        &self.issuer
    }

    pub fn validator_home(&self) -> &str {
        &self.validator
    }

    /// The permit's public page: what a checkpoint sees of it, nothing more.
    pub fn permit_page(&self, id: &permit_domain::PermitId) -> String {
        format!("{}/permiso/{id}", self.issuer)
    }

    /// The holder's own page, opened by the secret only the holder was given.
    pub fn holder_page(&self, id: &permit_domain::PermitId, secret: &str) -> String {
        format!("{}/permiso/{id}?clave={secret}", self.issuer)
    }

    /// The link that asks the database: always the current status.
    pub fn validation_page(&self, id: &permit_domain::PermitId) -> String {
        format!("{}/validar/{id}", self.validator)
    }

    /// The link that carries the signed permit: checked without the database.
    pub fn signed_validation_page(&self, token: &str) -> String {
        format!("{}/v/{token}", self.validator)
    }
}

/// A base URL (`https://host[:port]`, no path), trimmed of a final `/`; else the problem names `variable`.
pub fn base_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
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

    /// A setting that `off` switches off; `default` when unset.
    pub fn switchable<T>(
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
            mongodb_uri: Secret::new(self.required(MONGODB_URI)?),
            mongodb_db: self.optional("MONGODB_DB").unwrap_or_else(|| "permisos".into()),
            listen_addr: self.parsed(
                "LISTEN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], DEFAULT_PUBLIC_PORT)),
                "an address such as 0.0.0.0:8080",
            )?,
            links: Links::new(
                &self.required(ISSUER_PUBLIC_URL)?,
                &self.required(VALIDATOR_PUBLIC_URL)?,
            )?,
            rules: self.rules()?,
            runtime: self.runtime()?,
        })
    }

    fn runtime(&self) -> Result<Runtime, ConfigError> {
        let defaults = Limits::default();
        let connections = Connections::default();
        let seconds = |variable, default: Duration| {
            self.parsed(variable, default.as_secs(), "a whole number of seconds")
                .map(Duration::from_secs)
        };
        let positive = |variable, default: usize| match self.parsed(variable, default, "a positive whole number")? {
            0 => Err(ConfigError {
                variable,
                problem: "must be greater than 0".into(),
            }),
            n => Ok(n),
        };
        Ok(Runtime {
            admin_addr: self.parsed(
                "ADMIN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], DEFAULT_ADMIN_PORT)),
                "an address such as 0.0.0.0:9090",
            )?,
            shutdown_drain: seconds("SHUTDOWN_DRAIN_SECS", Duration::from_secs(5))?,
            shutdown_timeout: seconds("SHUTDOWN_TIMEOUT_SECS", Duration::from_secs(10))?,
            limits: Limits {
                request_timeout: Duration::from_secs(positive("REQUEST_TIMEOUT_SECS", 10)? as u64),
                max_body_bytes: positive("MAX_BODY_BYTES", defaults.max_body_bytes)?,
                max_concurrent_requests: positive("MAX_CONCURRENT_REQUESTS", defaults.max_concurrent_requests)?,
                hsts_max_age: self
                    .optional("HSTS_MAX_AGE_SECS")
                    .map(|_| positive("HSTS_MAX_AGE_SECS", 1))
                    .transpose()?
                    .map(|n| n as u64),
            },
            connections: Connections {
                header_read_timeout: Duration::from_secs(positive(
                    "HEADER_READ_TIMEOUT_SECS",
                    connections.header_read_timeout.as_secs() as usize,
                )? as u64),
                max_connections: positive("MAX_CONNECTIONS", connections.max_connections)?,
                max_header_bytes: match positive("MAX_HEADER_BYTES", connections.max_header_bytes)? {
                    ..1024 => {
                        return Err(ConfigError {
                            variable: "MAX_HEADER_BYTES",
                            problem: "must be at least 1024".into(),
                        });
                    }
                    n => n,
                },
            },
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
        assert_eq!(config.runtime.admin_addr.to_string(), "0.0.0.0:9090");
        assert_eq!(config.runtime.shutdown_drain, Duration::from_secs(5));
        assert_eq!(config.runtime.limits.max_body_bytes, 16 * 1024);
        assert_eq!(config.runtime.limits.hsts_max_age, None);
        assert_eq!(config.runtime.connections.header_read_timeout, Duration::from_secs(30));
        assert_eq!(config.runtime.connections.max_connections, 1024);
    }

    #[test]
    fn the_configuration_never_prints_the_database_password() {
        let mut pairs = MINIMAL.to_vec();
        pairs[0] = ("MONGODB_URI", "mongodb://permisos:s3cr3t-pw@db:27017/?replicaSet=rs0");
        let config = env(&pairs).config().unwrap();
        let printed = format!("{config:?} {config:#?}");
        assert!(!printed.contains("s3cr3t-pw"), "{printed}");
        assert!(printed.contains("validar.example.cl"), "the rest still prints");
        assert_eq!(config.mongodb_uri.expose(), pairs[0].1);
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
            ("ADMIN_ADDR", "9090"),
            ("MAX_CONCURRENT_REQUESTS", "0"),
            ("SHUTDOWN_DRAIN_SECS", "soon"),
            ("HSTS_MAX_AGE_SECS", "0"),
            ("HEADER_READ_TIMEOUT_SECS", "0"),
            ("MAX_CONNECTIONS", "many"),
            ("MAX_HEADER_BYTES", "100"),
        ] {
            let mut pairs = MINIMAL.to_vec();
            pairs.push((variable, value));
            let error = env(&pairs).config().unwrap_err();
            assert_eq!(error.variable, variable, "{error}");
        }
    }
}
