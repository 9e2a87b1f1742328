use std::sync::Arc;

use issuer::AdminToken;
use permit_domain::SystemClock;
use permit_web::{Context, serve, startup, telemetry};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    telemetry::init();
    let config = startup::config_or_exit();
    let admin = AdminToken::from_setting(std::env::var("ADMIN_TOKEN").ok()).unwrap_or_else(|error| {
        eprintln!("configuration error: {error}");
        std::process::exit(2)
    });
    startup::log_rules(&config);
    let store = startup::store_or_exit(&config, "issuer").await;
    let ctx = Context::new(store, Arc::new(SystemClock), config.rules, config.links);
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, admin_api = admin.is_some(), "issuer listening");
    serve::serve(listener, issuer::router(ctx, admin)).await
}
