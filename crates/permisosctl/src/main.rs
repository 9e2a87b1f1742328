use std::process::ExitCode;

use clap::Parser;
use permisosctl::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("permisosctl: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
