use std::sync::Arc;

use permit_web::startup;
use permit_web::{Health, Metrics, serve, telemetry};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    telemetry::init();
    let config = startup::config_or_exit();
    startup::log_rules(&config);
    let metrics = Arc::new(Metrics::new("validator"));
    let store = startup::store_or_exit(&config, &metrics).await;
    let health = Health::new(store.clone(), metrics.clone());
    startup::ensure_indexes_in_background(store.clone(), health.clone());
    let router = validator::router(startup::context(&config, store, metrics));
    let (public, admin_port) = startup::bind(&config).await?;
    serve::serve(public, router, admin_port, health, &config.runtime).await
}
