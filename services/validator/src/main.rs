use std::process::ExitCode;
use std::sync::Arc;

use permit_web::metrics::Service;
use permit_web::startup::{self, StartupError};
use permit_web::{App, serve, telemetry};
use validator::{Options, Revocations, Signed};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    startup::exit(run().await)
}

async fn run() -> Result<(), StartupError> {
    let app = App::from_env(Service::Validator).await?;
    let options = Options::from_env()?;
    let ctx = app.ctx().clone();
    let keys: Vec<String> = options.keys.ids().map(|id| id.to_string()).collect();
    tracing::info!(?keys, refresh = ?options.revocation_refresh, "accepting signed permits");
    let revocations = Revocations::measured(&ctx.metrics);
    revocations.refresh_in_background(ctx.store.clone(), ctx.clock.clone(), options.revocation_refresh);
    let signed = Arc::new(Signed {
        keys: options.keys,
        revocations,
    });
    app.serve(validator::router(ctx, signed), serve::shutdown_requested())
        .await
}
