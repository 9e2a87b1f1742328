use std::process::ExitCode;
use std::sync::Arc;

use issuer::Options;
use permit_web::metrics::Service;
use permit_web::startup::{self, StartupError};
use permit_web::{Config, Health, Metrics, serve, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    startup::exit(run().await)
}

async fn run() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    let options = Options::from_env()?;
    startup::log_rules(&config);
    match &options.create_limit {
        Some(limiter) => limiter.log(),
        None => tracing::info!("no per-client limit on permit requests (CREATE_RATE_LIMIT=off)"),
    }
    let metrics = Arc::new(Metrics::new(Service::Issuer));
    let store = startup::store(&config, &metrics).await?;
    let health = Health::new(store.clone(), metrics.clone());
    startup::ensure_indexes_in_background(store.clone(), health.clone());
    let router = issuer::router(startup::context(&config, store, metrics), options);
    let (public, admin_port) = startup::bind(&config).await?;
    serve::serve(public, router, admin_port, health, &config.runtime)
        .await
        .map_err(StartupError::Serve)
}
