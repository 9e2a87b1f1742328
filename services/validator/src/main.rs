use std::sync::Arc;

use permit_domain::SystemClock;
use permit_web::{Context, serve, startup, telemetry};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    telemetry::init();
    let config = startup::config_or_exit();
    startup::log_rules(&config);
    let store = startup::store_or_exit(&config, "validator").await;
    let ctx = Context::new(store, Arc::new(SystemClock), config.rules, config.links);
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "validator listening");
    serve::serve(listener, validator::router(ctx)).await
}
