use std::process::ExitCode;
use std::sync::Arc;

use permit_web::startup::{self, StartupError};
use permit_web::{Config, Health, Metrics, serve, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    startup::exit(run().await)
}

async fn run() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    startup::log_rules(&config);
    let metrics = Arc::new(Metrics::new("validator"));
    let store = startup::store(&config, &metrics).await?;
    let health = Health::new(store.clone(), metrics.clone());
    startup::ensure_indexes_in_background(store.clone(), health.clone());
    let router = validator::router(startup::context(&config, store, metrics));
    let (public, admin_port) = startup::bind(&config).await?;
    serve::serve(public, router, admin_port, health, &config.runtime)
        .await
        .map_err(StartupError::Serve)
}
