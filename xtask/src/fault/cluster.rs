//! `make cluster-fault-test`, the cluster twin of the local fault suite: faults.yml's
//! phases through the cluster's entrance (every answer recorded) while `permisosctl chaos`
//! deletes a Ready pod of the issuer, the validator or MongoDB every few seconds, then
//! `permisosctl audit`: every permit acknowledged to a citizen is listed by the issuer, none
//! was issued twice. Fails if the audit fails or a deleted pod was not replaced. Results in
//! .run/cluster-faults/.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use jiff::{SignedDuration, Timestamp};
use load_record::Record;
use serde::Deserialize;

use crate::console::step;
use crate::error::Error;
use crate::load::artillery::{self, Environment};
use crate::paths::Paths;

#[derive(clap::Args)]
pub struct Settings {
    /// Where to send the load (after `make kind-forward`: 127.0.0.1); default: the address
    /// the cluster publishes
    #[arg(long, env = "IP")]
    ip: Option<String>,
    /// The hosts are formulario.DOMAIN and validar.DOMAIN; default: those the cluster routes
    #[arg(long, env = "DOMAIN")]
    domain: Option<String>,
    #[arg(long, env = "LOAD", value_enum, default_value = "medium")]
    load: Environment,
    /// all, issuer, validator or mongodb
    #[arg(long, env = "CHAOS_TARGET", default_value = "all")]
    chaos_target: String,
    #[arg(long, env = "CHAOS_EVERY", default_value = "10s")]
    chaos_every: String,
    #[arg(long, env = "CHAOS_FOR", default_value = "2m")]
    chaos_for: String,
    #[arg(long, env = "NAMESPACE", default_value = "permisos")]
    namespace: String,
}

/// `permisosctl -o json hosts`, the fields used here.
#[derive(Deserialize, Default)]
struct Published {
    #[serde(default)]
    address: String,
    #[serde(default)]
    reachable: bool,
    #[serde(default)]
    hosts: Vec<String>,
}

pub async fn cluster_fault(paths: &Paths, settings: &Settings) -> Result<bool, Error> {
    step("building permisosctl (crates/permisosctl)");
    let built = Command::new("cargo")
        .args(["build", "--release", "--locked", "--quiet", "-p", "permisosctl"])
        .current_dir(&paths.root)
        .status()
        .map_err(Error::io("running cargo build"))?;
    if !built.success() {
        return Err(Error::Failed(format!("building permisosctl failed ({built})")));
    }
    let ctl = |args: &[&str]| {
        let mut command = Command::new(paths.root.join("target/release/permisosctl"));
        command.args(["-n", &settings.namespace]).args(args);
        command
    };
    let out = paths.run_dir().join("cluster-faults");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(Error::io("creating .run/cluster-faults"))?;

    // Where to send the load: the entrance as the cluster publishes it, or IP/DOMAIN.
    let published = ctl(&["-o", "json", "hosts"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::io("running permisosctl hosts"))?;
    let found: Published = serde_json::from_slice(&published.stdout).unwrap_or_default();
    let address = settings.ip.clone().unwrap_or(found.address.clone());
    let host = |prefix: &str| match &settings.domain {
        Some(domain) => format!("{prefix}{domain}"),
        None => found
            .hosts
            .iter()
            .find(|h| h.starts_with(prefix))
            .cloned()
            .unwrap_or_default(),
    };
    let (issuer, validator) = (host("formulario."), host("validar."));
    if address.is_empty() || issuer.is_empty() || !(settings.ip.is_some() || found.reachable) {
        return Err(Error::Failed(format!(
            "no reachable entrance ({}); on Docker Desktop run `make kind-forward` and pass IP=127.0.0.1",
            String::from_utf8_lossy(&published.stdout).trim()
        )));
    }
    // A minute early: the audit lists permits by the issuer's clock, not ours.
    let since = Timestamp::now() - SignedDuration::from_mins(1);

    let every = &settings.chaos_every;
    step(&format!(
        "chaos: one Ready pod of {} deleted every {every} for {}",
        settings.chaos_target, settings.chaos_for
    ));
    let chaos_log: PathBuf = out.join("chaos.txt");
    let chaos_out = File::create(&chaos_log).map_err(Error::io("creating chaos.txt"))?;
    let mut chaos = ctl(&[
        "chaos",
        "--target",
        &settings.chaos_target,
        "--every",
        every,
        "--for",
        &settings.chaos_for,
    ])
    .stdout(chaos_out.try_clone().map_err(Error::io("cloning a log handle"))?)
    .stderr(chaos_out)
    .spawn()
    .map_err(Error::io("starting permisosctl chaos"))?;

    let target = format!("http://{address}");
    step(&format!(
        "load: the case study's {} phases through {target} ({issuer}, {validator})",
        settings.load.name()
    ));
    let run = artillery::Run {
        scenario: artillery::Scenario::Faults,
        environment: settings.load,
        target: &target,
        issuer_host: &issuer,
        validator_host: &validator,
        citizens: 12_000,
        out: &out,
        name: "cluster",
    }
    .start(paths)?;
    let (load_status, run) = run.finish()?;
    let chaos_status = chaos.wait().map_err(Error::io("waiting for permisosctl chaos"))?;
    print!("{}", std::fs::read_to_string(&chaos_log).unwrap_or_default());

    step(&format!(
        "audit: the answers against what the issuer lists since {since}"
    ));
    let record_file = run.record.expect("the faults scenario records its answers");
    let record = record_file.to_string_lossy().into_owned();
    let domain = issuer.trim_start_matches("formulario.");
    let token = audit_token(paths, &address, &format!("operadores.{domain}")).await?;
    // --insecure: kind's entrance is on this machine's Docker network and has no certificate.
    let audit_status = ctl(&[
        "audit",
        "--since",
        &since.to_string(),
        "--record",
        &record,
        "--ip",
        &address,
        "--domain",
        domain,
        "--insecure",
    ])
    .env("PERMISOS_TOKEN", token)
    .status()
    .map_err(Error::io("running permisosctl audit"))?;
    let text = std::fs::read_to_string(&record_file).map_err(Error::io("reading the answer record"))?;
    match Record::parse(&text) {
        Ok(record) => println!("{}", record.summary()),
        Err(problem) => println!("the answer record does not parse: {problem}"),
    }
    println!(
        "artillery: {load_status}; chaos: {chaos_status}; audit: {audit_status} (details in {})",
        out.display()
    );
    Ok(load_status.success() && chaos_status.success() && audit_status.success())
}

/// An *administración* token for the audit (an export), valid one day, made through the operators' entrance as
/// an administrator makes one: with the bootstrap `ADMIN_TOKEN` (from the environment, or
/// the overlay's operators.env that `make deploy` applied).
async fn audit_token(paths: &Paths, address: &str, operator_host: &str) -> Result<String, Error> {
    let bootstrap = match std::env::var("ADMIN_TOKEN") {
        Ok(token) if !token.is_empty() => token,
        _ => {
            let overlay = if std::env::var_os("GATEWAY").is_some() {
                "kind-gateway"
            } else {
                "kind"
            };
            let file = paths.root.join(format!("k8s/overlays/{overlay}/operators.env"));
            let text = std::fs::read_to_string(&file).map_err(Error::io(format!("reading {}", file.display())))?;
            text.lines()
                .find_map(|line| line.strip_prefix("ADMIN_TOKEN="))
                .map(str::to_owned)
                .ok_or_else(|| Error::Failed(format!("{} has no ADMIN_TOKEN", file.display())))?
        }
    };
    let answer = reqwest::Client::new()
        .post(format!("http://{address}/api/operators"))
        .header(reqwest::header::HOST, operator_host)
        .bearer_auth(bootstrap)
        .json(&serde_json::json!({"name": "make cluster-fault-test", "role": "administración", "days": 1}))
        .send()
        .await
        .map_err(|e| Error::Failed(format!("making an audit token at {operator_host}: {e}")))?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    body["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Failed(format!("{operator_host} made no audit token ({status}): {body}")))
}
