//! One wiring for both services, as their binaries and their tests run them: configuration
//! → metrics and store → context → health and listeners → router → serving until a
//! shutdown signal, then draining. The issuer has a third port, for its operators' routes:
//! what is not bound to the citizens' port cannot be reached through their entrance.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use permit_domain::{Clock, SystemClock};
use permit_store::{CommandObserver, Store};
use tokio::net::TcpListener;

use crate::config::{Config, Runtime};
use crate::context::Context;
use crate::health::Health;
use crate::metrics::{Metrics, Service};
use crate::serve;
use crate::startup::StartupError;

/// A service ready to serve: its handlers' context, its health, and its ports bound.
pub struct App {
    ctx: Context,
    health: Health,
    runtime: Runtime,
    public: TcpListener,
    admin: TcpListener,
    operators: Option<TcpListener>,
}

/// What a service serves: the routes of its public port and, for the issuer, those of its
/// operators' port.
pub struct Routers {
    pub public: Router,
    pub operators: Option<Router>,
}

impl From<Router> for Routers {
    fn from(public: Router) -> Routers {
        Routers {
            public,
            operators: None,
        }
    }
}

/// Where an `App` listens, as bound (port 0 becomes a real port).
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    pub operators: Option<SocketAddr>,
}

impl App {
    /// What a binary starts with: the configuration from the environment, the system clock.
    pub async fn from_env(service: Service) -> Result<App, StartupError> {
        let config = Config::from_env()?;
        log_rules(&config);
        let ctx = App::context(&config, service, Arc::new(SystemClock)).await?;
        App::bind(ctx, &config).await
    }

    /// The context over the configured database, whose command timings feed `service`'s
    /// metrics. No I/O yet, except the DNS look-up of a `mongodb+srv` address.
    pub async fn context(config: &Config, service: Service, clock: Arc<dyn Clock>) -> Result<Context, StartupError> {
        let metrics = Arc::new(Metrics::new(service));
        let timings = metrics.clone();
        let observer: CommandObserver =
            Arc::new(move |operation, elapsed| timings.mongodb_operation(operation, elapsed));
        let store = Store::connect_observed(
            config.mongodb_uri.expose(),
            &config.mongodb_db,
            metrics.service(),
            Some(observer),
        )
        .await
        .map_err(StartupError::Database)?;
        Ok(Context {
            store,
            clock,
            rules: Arc::new(config.rules.clone()),
            links: Arc::new(config.links.clone()),
            metrics,
            limits: config.runtime.limits,
        })
    }

    /// Binds the public and admin ports of `config` and starts creating the indexes.
    pub async fn bind(ctx: Context, config: &Config) -> Result<App, StartupError> {
        let public = listen("LISTEN_ADDR", config.listen_addr).await?;
        let admin = listen("ADMIN_ADDR", config.runtime.admin_addr).await?;
        let health = Health::new(ctx.store.clone(), ctx.metrics.clone());
        ensure_indexes_in_background(ctx.store.clone(), health.clone());
        Ok(App {
            ctx,
            health,
            runtime: config.runtime.clone(),
            public,
            admin,
            operators: None,
        })
    }

    /// Binds the operators' port (the issuer's `OPERATOR_ADDR`), served with
    /// `Routers::operators`.
    pub async fn with_operator_port(self, addr: SocketAddr) -> Result<App, StartupError> {
        let operators = Some(listen("OPERATOR_ADDR", addr).await?);
        Ok(App { operators, ..self })
    }

    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn local_addrs(&self) -> Result<Addresses, StartupError> {
        let local = |listener: &TcpListener| listener.local_addr().map_err(StartupError::Serve);
        Ok(Addresses {
            public: local(&self.public)?,
            admin: local(&self.admin)?,
            operators: self.operators.as_ref().map(local).transpose()?,
        })
    }

    /// Serves `routers` and the probes until `shutdown` completes, then drains (see
    /// `serve`). The operators' routes need the operators' port, and that port its routes.
    pub async fn serve(
        self,
        routers: impl Into<Routers>,
        shutdown: impl Future<Output = &'static str>,
    ) -> Result<(), StartupError> {
        let addresses = self.local_addrs()?;
        let routers = routers.into();
        let mut ports = vec![(self.public, routers.public)];
        match (self.operators, routers.operators) {
            (Some(listener), Some(router)) => ports.push((listener, router)),
            (None, None) => {}
            _ => return Err(StartupError::OperatorPort),
        }
        tracing::info!(
            addr = %addresses.public,
            admin_addr = %addresses.admin,
            operator_addr = addresses.operators.map(|a| a.to_string()),
            "listening"
        );
        serve::serve(ports, self.admin, self.health, &self.runtime, shutdown)
            .await
            .map_err(StartupError::Serve)
    }
}

/// Creates the indexes once the database answers, retrying meanwhile; the process serves
/// (and reports not ready) from the start, so Kubernetes does not restart it in a loop
/// while MongoDB comes up.
fn ensure_indexes_in_background(store: Store, health: Health) {
    tokio::spawn(async move {
        while let Err(error) = store.ensure_indexes().await {
            tracing::warn!(%error, "database not ready; retrying index creation in 2 s");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        health.indexes_ready();
    });
}

async fn listen(variable: &'static str, addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).await.map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => StartupError::AddressInUse { variable, addr },
        _ => StartupError::Listen { variable, addr, source },
    })
}

/// One line saying which rules are in force and how to change them.
fn log_rules(config: &Config) {
    let rules = &config.rules;
    tracing::info!(
        start_delay_minutes = rules.start_delay.as_mins(),
        weekly_limit = rules.weekly_limit.map_or("off".to_owned(), |n| n.to_string()),
        curfew = rules
            .curfew
            .map_or("off".to_owned(), |c| format!("{}-{}", c.start, c.end)),
        time_zone = rules.time_zone.iana_name().unwrap_or("custom"),
        "permit rules in force (PERMIT_START_DELAY_MINUTES, PERMIT_WEEKLY_LIMIT, PERMIT_CURFEW=off to change)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_in_use_is_named_with_its_variable() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = listen("ADMIN_ADDR", addr).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "ADMIN_ADDR={addr} is already in use: stop what listens there, or set ADMIN_ADDR to another address"
            )
        );
        assert_eq!(error.exit_code(), std::process::ExitCode::FAILURE);
    }
}
