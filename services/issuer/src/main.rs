use std::sync::Arc;

use issuer::Options;
use permit_web::startup::{self, exit_on_config_error};
use permit_web::{Health, Metrics, serve, telemetry};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    telemetry::init();
    let config = startup::config_or_exit();
    let options = Options::from_env().unwrap_or_else(|e| exit_on_config_error(e));
    startup::log_rules(&config);
    match &options.create_limit {
        Some(limiter) => limiter.log(),
        None => tracing::info!("no per-client limit on permit requests (CREATE_RATE_LIMIT=off)"),
    }
    let metrics = Arc::new(Metrics::new("issuer"));
    let store = startup::store_or_exit(&config, &metrics).await;
    let health = Health::new(store.clone(), metrics.clone());
    startup::ensure_indexes_in_background(store.clone(), health.clone());
    let router = issuer::router(startup::context(&config, store, metrics), options);
    let (public, admin_port) = startup::bind(&config).await?;
    serve::serve(public, router, admin_port, health, &config.runtime).await
}
