//! The start-up steps both binaries share.

use std::sync::Arc;
use std::time::Duration;

use permit_domain::SystemClock;
use permit_store::{CommandObserver, Store};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::context::Context;
use crate::health::Health;
use crate::metrics::Metrics;

/// Stops the process with a message naming the bad variable.
pub fn exit_on_config_error(error: ConfigError) -> ! {
    eprintln!("configuration error: {error}");
    tracing::error!(variable = error.variable, problem = %error.problem, "configuration error");
    std::process::exit(2)
}

pub fn config_or_exit() -> Config {
    Config::from_env().unwrap_or_else(|error| exit_on_config_error(error))
}

/// A client for the configured database whose command timings feed the metrics. No I/O yet.
pub async fn store_or_exit(config: &Config, metrics: &Arc<Metrics>) -> Store {
    let timings = metrics.clone();
    let observer: CommandObserver = Arc::new(move |operation, elapsed| timings.mongodb_operation(operation, elapsed));
    Store::connect_observed(
        &config.mongodb_uri,
        &config.mongodb_db,
        metrics.service(),
        Some(observer),
    )
    .await
    .unwrap_or_else(|_| {
        exit_on_config_error(ConfigError {
            variable: "MONGODB_URI",
            problem: "is not a valid connection string".into(),
        })
    })
}

/// Creates the indexes once the database answers, retrying meanwhile; the process serves
/// (and reports not ready) from the start, so Kubernetes does not restart it in a loop
/// while MongoDB comes up.
pub fn ensure_indexes_in_background(store: Store, health: Health) {
    tokio::spawn(async move {
        while let Err(error) = store.ensure_indexes().await {
            tracing::warn!(%error, "database not ready; retrying index creation in 2 s");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        health.indexes_ready();
    });
}

pub fn context(config: &Config, store: Store, metrics: Arc<Metrics>) -> Context {
    Context {
        store,
        clock: Arc::new(SystemClock),
        rules: Arc::new(config.rules.clone()),
        links: Arc::new(config.links.clone()),
        metrics,
        limits: config.runtime.limits,
    }
}

/// The public and the admin listeners.
pub async fn bind(config: &Config) -> std::io::Result<(TcpListener, TcpListener)> {
    let public = TcpListener::bind(config.listen_addr).await?;
    let admin = TcpListener::bind(config.runtime.admin_addr).await?;
    tracing::info!(addr = %public.local_addr()?, admin_addr = %admin.local_addr()?, "listening");
    Ok((public, admin))
}

/// One line saying which rules are in force and how to change them.
pub fn log_rules(config: &Config) {
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
