//! The two service binaries: building them, and the process that runs one.

use std::path::PathBuf;
use std::process::Command;

use crate::error::Error;
use crate::paths::Paths;
use crate::process::Spec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Issuer,
    Validator,
}

impl Service {
    pub const BOTH: [Service; 2] = [Service::Issuer, Service::Validator];

    pub fn name(self) -> &'static str {
        match self {
            Service::Issuer => "issuer",
            Service::Validator => "validator",
        }
    }
}

/// `cargo build` of both binaries; `release` for runs people use and measure, `debug` to
/// reuse what `cargo test` built.
pub fn build(paths: &Paths, profile: &str) -> Result<(), Error> {
    crate::console::step(&format!("building the services ({profile})"));
    let cargo_profile = if profile == "debug" { "dev" } else { profile };
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--locked",
            "--profile",
            cargo_profile,
            "--bin",
            "issuer",
            "--bin",
            "validator",
        ])
        .current_dir(&paths.root)
        .status()
        .map_err(Error::io("running cargo build"))?;
    if !status.success() {
        return Err(Error::Failed(format!("cargo build of the services failed ({status})")));
    }
    Ok(())
}

/// A replica's admin port (probes, metrics) is its public port plus this.
pub const ADMIN_OFFSET: u16 = 1000;
/// An issuer's operators' port is its public port plus this.
pub const OPERATOR_OFFSET: u16 = 2000;

/// One replica listening on `port`, its probes and metrics on `admin_port`, an issuer's
/// operator routes on `operator_port`, all on loopback.
pub struct Replica {
    pub service: Service,
    pub name: String,
    pub port: u16,
    pub admin_port: u16,
    pub operator_port: Option<u16>,
}

impl Replica {
    pub fn new(service: Service, name: String, port: u16) -> Replica {
        Replica {
            service,
            name,
            port,
            admin_port: port + ADMIN_OFFSET,
            operator_port: (service == Service::Issuer).then_some(port + OPERATOR_OFFSET),
        }
    }

    /// Every port it listens on.
    pub fn ports(&self) -> Vec<u16> {
        [Some(self.port), Some(self.admin_port), self.operator_port]
            .into_iter()
            .flatten()
            .collect()
    }

    pub fn spec(
        &self,
        binary: PathBuf,
        env: &[(String, String)],
        log: PathBuf,
        cpuset: Option<String>,
        detached: bool,
    ) -> Spec {
        let mut env = env.to_vec();
        env.push(("LISTEN_ADDR".into(), format!("127.0.0.1:{}", self.port)));
        env.push(("ADMIN_ADDR".into(), format!("127.0.0.1:{}", self.admin_port)));
        if let Some(port) = self.operator_port {
            env.push(("OPERATOR_ADDR".into(), format!("127.0.0.1:{port}")));
        }
        Spec {
            name: self.name.clone(),
            argv: vec![binary.display().to_string()],
            env,
            log,
            cpuset,
            detached,
        }
    }

    /// Ready when its `/readyz` says so: started, indexes created.
    pub fn ready(&self) -> bool {
        crate::net::http_status(self.admin_port, "/readyz") == Some(200)
    }
}
