use std::process::ExitCode;
use std::sync::Arc;

use permit_web::metrics::Service;
use permit_web::startup::{self, StartupError};
use permit_web::{Config, Health, Metrics, serve, telemetry};
use validator::{Options, Revocations, Signed};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    startup::exit(run().await)
}

async fn run() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    let options = Options::from_env()?;
    startup::log_rules(&config);
    let metrics = Arc::new(Metrics::new(Service::Validator));
    let store = startup::store(&config, &metrics).await?;
    let health = Health::new(store.clone(), metrics.clone());
    startup::ensure_indexes_in_background(store.clone(), health.clone());
    let ctx = startup::context(&config, store, metrics);
    let keys: Vec<String> = options.keys.ids().map(|id| id.to_string()).collect();
    tracing::info!(?keys, refresh = ?options.revocation_refresh, "accepting signed permits");
    let revocations = Revocations::measured(&ctx.metrics);
    revocations.refresh_in_background(ctx.store.clone(), ctx.clock.clone(), options.revocation_refresh);
    let signed = Arc::new(Signed {
        keys: options.keys,
        revocations,
    });
    let router = validator::router(ctx, signed);
    let (public, admin_port) = startup::bind(&config).await?;
    serve::serve(public, router, admin_port, health, &config.runtime)
        .await
        .map_err(StartupError::Serve)
}
