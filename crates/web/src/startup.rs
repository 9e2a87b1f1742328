//! The start-up steps both binaries share.

use std::time::Duration;

use permit_store::Store;

use crate::config::{Config, ConfigError};

/// Reads the configuration or exits with a message naming the bad variable.
pub fn config_or_exit() -> Config {
    Config::from_env().unwrap_or_else(|error: ConfigError| {
        eprintln!("configuration error: {error}");
        tracing::error!(variable = error.variable, problem = %error.problem, "configuration error");
        std::process::exit(2)
    })
}

/// Connects and makes sure the indexes exist, retrying while the database is not up yet
/// (in Kubernetes the pods may start before MongoDB is ready).
pub async fn store_or_exit(config: &Config, service: &str) -> Store {
    let store = Store::connect(&config.mongodb_uri, &config.mongodb_db, service)
        .await
        .unwrap_or_else(|error| {
            eprintln!("configuration error: MONGODB_URI: {error}");
            std::process::exit(2)
        });
    while let Err(error) = store.ensure_indexes().await {
        tracing::warn!(%error, "database not ready; retrying in 2 s");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    store
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
