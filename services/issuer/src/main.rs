use std::process::ExitCode;

use issuer::Options;
use permit_web::metrics::Service;
use permit_web::startup::{self, StartupError};
use permit_web::{App, serve, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    startup::exit(run().await)
}

async fn run() -> Result<(), StartupError> {
    let app = App::from_env(Service::Issuer).await?;
    let options = Options::from_env()?;
    let app = app.with_operator_port(options.operator_addr).await?;
    match &options.create_limit {
        Some(limiter) => limiter.log(),
        None => tracing::info!("no per-client limit on permit requests (CREATE_RATE_LIMIT=off)"),
    }
    match &options.operator_limit {
        Some(limit) => tracing::info!(
            operator_rate_limit = %limit.rate(),
            "per-operator limit on reads of personal data (OPERATOR_RATE_LIMIT=off to switch off)"
        ),
        None => tracing::warn!("no per-operator limit on reads of personal data (OPERATOR_RATE_LIMIT=off)"),
    }
    let ctx = app.ctx().clone();
    options
        .retention
        .sweep_in_background(ctx.store.clone(), ctx.clock.clone());
    app.serve(issuer::router(ctx, options), serve::shutdown_requested())
        .await
}
