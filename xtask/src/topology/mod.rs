//! The PEP2 topology on one machine, without containers (`make local-up`): SecantusDB, R
//! issuer and R validator replicas on loopback ports, and nginx routing by Host header as
//! the Ingress does. Each part runs in its own process group with its pid in
//! .run/local/pids, so `down` stops exactly what `up` started, and `start`/`stop` act on
//! one part (the fault suite's kills and restarts) with the settings `up` saved.

pub mod identity;
pub mod monitoring;
pub mod run;
pub mod services;
pub mod usage;
pub mod with_db;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::console::step;
use crate::error::Error;
use crate::paths::{self, Paths};
use crate::process::{self, Spec};
use crate::{net, settings};
use services::{Replica, Service};

/// Replica N of the issuer listens on 18080 + N, of the validator on 18180 + N; admin ports
/// are 1000 higher.
const ISSUER_BASE: u16 = 18080;
/// nginx's own stand-in upstream, for the capacity benchmark's proxying ceiling.
const TRIVIAL_UPSTREAM_PORT: u16 = 18079;
const VALIDATOR_BASE: u16 = 18180;
/// The database's port when `LOCAL_DB_PORT` is not set.
pub const DEFAULT_DB_PORT: u16 = 27117;
/// The test identity provider's, with `CITIZEN_AUTH=oidc`.
const DEFAULT_IDENTITY_PORT: u16 = 18090;

/// What `up` was asked for, saved so a part started again runs exactly as the first did.
#[derive(Serialize, Deserialize)]
pub struct Topology {
    pub replicas: u16,
    /// nginx's address, e.g. 127.0.0.1:8080.
    pub listen: String,
    pub db_port: u16,
    /// `release` or `debug`: which build of the services runs.
    pub profile: String,
    /// `taskset -c` list every part is pinned to, e.g. `0` for the case study's one core.
    pub cpuset: Option<String>,
    /// The services' environment, secrets left out.
    pub env: Vec<(String, String)>,
    /// The operator token and the keys (the same token as `make run`'s: audits read through it).
    secrets: crate::secrets::Secrets,
    /// Where Prometheus listens, when MONITORING=1 asked for it.
    #[serde(default)]
    pub prometheus_port: Option<u16>,
    /// The test identity provider, when CITIZEN_AUTH=oidc asked citizens to sign in.
    #[serde(default)]
    identity: Option<identity::Identity>,
}

fn dir(paths: &Paths) -> PathBuf {
    paths.run_dir().join("local")
}

/// A part of the topology, in the order `up` starts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Db,
    Identity,
    Replica(Service, u16),
    Nginx,
    Prometheus,
}

impl Part {
    /// `db`, `nginx`, `prometheus`, `issuer-N` or `validator-N` (N from 1).
    pub fn parse(name: &str) -> Option<Part> {
        match name {
            "db" => Some(Part::Db),
            "identity" => Some(Part::Identity),
            "nginx" => Some(Part::Nginx),
            "prometheus" => Some(Part::Prometheus),
            _ => {
                let (service, n) = name.rsplit_once('-')?;
                let service = Service::BOTH.into_iter().find(|s| s.name() == service)?;
                Some(Part::Replica(service, n.parse().ok().filter(|n| *n > 0)?))
            }
        }
    }

    fn replica(self) -> Option<Replica> {
        match self {
            Part::Replica(service, n) => Some(replica(service, n)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Db => f.write_str("db"),
            Part::Identity => f.write_str("identity"),
            Part::Nginx => f.write_str("nginx"),
            Part::Prometheus => f.write_str("prometheus"),
            Part::Replica(service, n) => write!(f, "{}-{n}", service.name()),
        }
    }
}

fn pid_file(paths: &Paths, part: Part) -> PathBuf {
    dir(paths).join("pids").join(format!("{part}.pid"))
}

/// The parts with a recorded pid, in the order they were started.
fn recorded(paths: &Paths) -> Vec<(Part, u32)> {
    let Ok(entries) = std::fs::read_dir(dir(paths).join("pids")) else {
        return Vec::new();
    };
    let mut parts: Vec<(Part, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let part = Part::parse(entry.file_name().to_string_lossy().strip_suffix(".pid")?)?;
            Some((part, process::read_pid(&entry.path())?))
        })
        .collect();
    parts.sort();
    parts
}

impl Topology {
    /// Settings from the environment (`REPLICAS`, `LISTEN`, `LOCAL_DB_PORT`, `PROFILE`,
    /// `CPUSET`, `MONITORING`, `PROMETHEUS_PORT`, `CITIZEN_AUTH`, `IDENTITY_PORT`), which
    /// `make local-up VAR=...` passes on. Citizens sign in only with `CITIZEN_AUTH=oidc`:
    /// the load tests ask in thousands of made-up names.
    pub fn from_env() -> Result<Topology, Error> {
        let replicas = settings::number("REPLICAS", 4, 1..=50)?;
        let listen = settings::or("LISTEN", "127.0.0.1:8080");
        let public_port = port_of(&listen)?;
        let db_port = settings::number("LOCAL_DB_PORT", DEFAULT_DB_PORT, 1..=u16::MAX)?;
        let profile = settings::or("PROFILE", "release");
        if profile != "release" && profile != "debug" {
            return Err(Error::Failed(format!("PROFILE={profile:?} is not release or debug")));
        }
        // Every variable passes on to the services; these are the topology's own defaults.
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        let mut default = |name: &str, value: String| {
            if settings::var(name).is_none() {
                env.push((name.to_owned(), value));
            }
        };
        default(
            "ISSUER_PUBLIC_URL",
            format!("http://formulario.localhost:{public_port}"),
        );
        default(
            "VALIDATOR_PUBLIC_URL",
            format!("http://validar.localhost:{public_port}"),
        );
        default(
            "OPERATORS_PUBLIC_URL",
            format!("http://operadores.localhost:{public_port}"),
        );
        default("SHUTDOWN_DRAIN_SECS", "1".into());
        // nginx is the trusted proxy. Load tests send every citizen from 127.0.0.1, so the
        // per-client limit on creates is off here unless asked for.
        default("TRUSTED_PROXIES", "127.0.0.1".into());
        default("CREATE_RATE_LIMIT", "off".into());
        let identity = match settings::var("CITIZEN_AUTH") {
            Some(mode) if mode.eq_ignore_ascii_case("oidc") => Some(identity::Identity::new(settings::number(
                "IDENTITY_PORT",
                DEFAULT_IDENTITY_PORT,
                1..=u16::MAX,
            )?)),
            _ => None,
        };
        env.retain(|(name, _)| name != "CITIZEN_AUTH");
        // Secrets are routed by `Secrets`, each to its service only.
        env.retain(|(name, _)| !crate::secrets::ROUTED.contains(&name.as_str()));
        env.retain(|(name, _)| name != "MONGODB_URI");
        env.push(("MONGODB_URI".into(), format!("mongodb://127.0.0.1:{db_port}")));
        Ok(Topology {
            secrets: crate::secrets::Secrets::load(&Paths::new().run_dir())?,
            replicas,
            listen,
            db_port,
            profile,
            cpuset: settings::var("CPUSET"),
            env,
            prometheus_port: match settings::var("MONITORING").as_deref() {
                None | Some("" | "0") => None,
                Some(_) => Some(settings::number("PROMETHEUS_PORT", 9090, 1..=u16::MAX)?),
            },
            identity,
        })
    }

    /// nginx's port.
    pub fn listen_port(&self) -> Result<u16, Error> {
        port_of(&self.listen)
    }

    fn load(paths: &Paths) -> Result<Topology, Error> {
        let path = dir(paths).join("topology.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|_| Error::Failed("the local topology is not up: make local-up starts it".into()))?;
        serde_json::from_str(&text).map_err(|e| Error::Failed(format!("{}: {e}", path.display())))
    }

    fn replicas(&self) -> Vec<Replica> {
        all_replicas(self.replicas)
    }
}

fn port_of(listen: &str) -> Result<u16, Error> {
    listen
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .ok_or_else(|| Error::Failed(format!("LISTEN={listen:?} is not an address such as 127.0.0.1:8080")))
}

/// Each replica of a topology of `replicas` and its admin port.
pub fn replica_admin_ports(replicas: u16) -> Vec<(String, u16)> {
    all_replicas(replicas)
        .into_iter()
        .map(|r| (r.name, r.admin_port))
        .collect()
}

fn all_replicas(replicas: u16) -> Vec<Replica> {
    (1..=replicas)
        .flat_map(|n| Service::BOTH.map(|service| replica(service, n)))
        .collect()
}

fn replica(service: Service, n: u16) -> Replica {
    Replica::new(service, format!("{}-{n}", service.name()), service_base(service) + n)
}

pub fn up(paths: &Paths, topology: Topology, build: bool) -> Result<(), Error> {
    if recorded(paths).iter().any(|(_, pid)| process::alive(*pid)) {
        println!("The local topology is already up (pids in .run/local/pids); make local-down stops it.");
        return Ok(());
    }
    let secantus = paths.secantus()?;
    let nginx = nginx()?;
    if build {
        services::build(paths, &topology.profile)?;
    }
    let run = dir(paths);
    let _ = std::fs::remove_dir_all(&run);
    for sub in ["pids", "db", "nginx-tmp"] {
        std::fs::create_dir_all(run.join(sub)).map_err(Error::io(format!("creating .run/local/{sub}")))?;
    }
    // It holds every part's environment, the signing key and the operator token included.
    let saved = serde_json::to_string_pretty(&topology).expect("settings serialise");
    crate::secrets::write_private(&run.join("topology.json"), saved.as_bytes())?;
    let started = start_everything(paths, &topology, &nginx, secantus.label());
    if let Err(error) = started {
        down(paths);
        return Err(error);
    }
    println!(
        "\nLocal topology up: {n} issuers, {n} validators, nginx on {listen}{pinned}.\n  {issuer}/\n  {validator}/\n  \
         http://operadores.localhost:{port}/api/openapi.json (the operators' entrance)\n\
         Logs and pids: .run/local    Status: make local-status    Stop: make local-down",
        n = topology.replicas,
        listen = topology.listen,
        pinned = topology
            .cpuset
            .as_ref()
            .map(|c| format!(", all on CPU {c}"))
            .unwrap_or_default(),
        issuer = setting(&topology, "ISSUER_PUBLIC_URL"),
        validator = setting(&topology, "VALIDATOR_PUBLIC_URL"),
        port = topology.listen_port()?,
    );
    if let Some(port) = topology.prometheus_port {
        println!("Prometheus, with our rules and alerts: http://127.0.0.1:{port}/alerts");
    }
    Ok(())
}

impl Topology {
    /// The services' environment as `service` gets it, with its secrets.
    fn env_for(&self, service: Service) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(self.secrets.env_for(service));
        if service == Service::Issuer {
            match &self.identity {
                Some(identity) => env.extend(identity.issuer_env(setting(self, "OPERATORS_PUBLIC_URL"))),
                None => env.push(("CITIZEN_AUTH".into(), "none".into())),
            }
        }
        env
    }
}

fn setting<'a>(topology: &'a Topology, name: &str) -> &'a str {
    topology
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn start_everything(paths: &Paths, topology: &Topology, nginx: &Path, database: &str) -> Result<(), Error> {
    net::require_free(topology.db_port, "LOCAL_DB_PORT")?;
    step(&format!(
        "starting SecantusDB ({database}) on 127.0.0.1:{}",
        topology.db_port
    ));
    start_part(paths, topology, Part::Db)?;
    if let Some(identity) = &topology.identity {
        net::require_free(identity.port, "IDENTITY_PORT")?;
        step(&format!("starting the test identity provider on {}", identity.issuer()));
        start_part(paths, topology, Part::Identity)?;
    }
    for replica in topology.replicas() {
        let operators = replica
            .operator_port
            .map(|port| format!(", operators {port}"))
            .unwrap_or_default();
        step(&format!(
            "starting {} on 127.0.0.1:{} (admin {}{operators})",
            replica.name, replica.port, replica.admin_port
        ));
        start_part(
            paths,
            topology,
            Part::Replica(replica.service, replica.port - service_base(replica.service)),
        )?;
    }
    step(&format!("starting nginx on {}", topology.listen));
    start_nginx(paths, topology, nginx)?;
    if let Some(port) = topology.prometheus_port {
        step(&format!("starting Prometheus on 127.0.0.1:{port}, with our rules"));
        start_part(paths, topology, Part::Prometheus)?;
    }
    Ok(())
}

/// Starts one part (not nginx, which `start_nginx` starts) and waits until it is ready.
fn start_part(paths: &Paths, topology: &Topology, part: Part) -> Result<(), Error> {
    let run = dir(paths);
    let log = run.join(format!("{part}.log"));
    let (spec, ready): (Spec, Box<dyn Fn() -> bool>) = if part == Part::Prometheus {
        let port = topology
            .prometheus_port
            .ok_or_else(|| Error::Usage("this topology has no Prometheus: MONITORING=1 make local-up".into()))?;
        let spec = monitoring::prometheus_spec(paths, &run, port, &replica_admin_ports(topology.replicas))?;
        (spec, Box::new(move || net::http_status(port, "/-/ready") == Some(200)))
    } else if part == Part::Db {
        let secantus = paths.secantus()?;
        let port = topology.db_port;
        let spec = Spec {
            name: part.to_string(),
            argv: secantus.command(port, &run.join("db")),
            env: Vec::new(),
            log,
            cpuset: topology.cpuset.clone(),
            detached: true,
        };
        (spec, Box::new(move || net::listening(port)))
    } else if part == Part::Identity {
        let identity = topology.identity.as_ref().ok_or_else(|| {
            Error::Usage("this topology has no identity provider: CITIZEN_AUTH=oidc make local-up".into())
        })?;
        let port = identity.port;
        let homes = ["ISSUER_PUBLIC_URL", "OPERATORS_PUBLIC_URL"].map(|home| setting(topology, home));
        let spec = identity.spec(paths, homes, log, true);
        (spec, Box::new(move || net::listening(port)))
    } else {
        let replica = part
            .replica()
            .filter(|r| r.port - service_base(r.service) <= topology.replicas)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no part {part} in this topology: db, prometheus, issuer-N or validator-N up to {}",
                    topology.replicas
                ))
            })?;
        for port in replica.ports() {
            net::require_free(port, "the replica's port")?;
        }
        let spec = replica.spec(
            paths.binary(&topology.profile, replica.service.name()),
            &topology.env_for(replica.service),
            log,
            topology.cpuset.clone(),
            true,
        );
        (spec, Box::new(move || replica.ready()))
    };
    let mut child = process::spawn(&spec)?;
    process::write_pid(&pid_file(paths, part), child.id())?;
    net::wait_ready(&part.to_string(), &spec.log, 30, ready, || {
        matches!(child.try_wait(), Ok(None))
    })
}

fn service_base(service: Service) -> u16 {
    match service {
        Service::Issuer => ISSUER_BASE,
        Service::Validator => VALIDATOR_BASE,
    }
}

fn nginx() -> Result<PathBuf, Error> {
    paths::installed(
        "nginx",
        &[
            "/usr/sbin/nginx",
            "/usr/local/sbin/nginx",
            "/opt/homebrew/bin/nginx",
            "/usr/local/bin/nginx",
        ],
        "`scripts/tools.sh nginx` installs Debian's nginx-light",
    )
}

fn start_nginx(paths: &Paths, topology: &Topology, nginx: &Path) -> Result<(), Error> {
    let run = dir(paths);
    let template = std::fs::read_to_string(paths.root.join("ingress/local/nginx.conf.template"))
        .map_err(Error::io("reading ingress/local/nginx.conf.template"))?;
    let upstream = |service: Service, port: fn(&Replica) -> Option<u16>| {
        topology
            .replicas()
            .iter()
            .filter(|r| r.service == service)
            .filter_map(port)
            .map(|port| format!("        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let config = template
        .replace("@RUN@", &run.display().to_string())
        .replace("@LISTEN@", &topology.listen)
        .replace("@ISSUERS@", &upstream(Service::Issuer, |r| Some(r.port)))
        .replace("@OPERATORS@", &upstream(Service::Issuer, |r| r.operator_port))
        .replace("@VALIDATORS@", &upstream(Service::Validator, |r| Some(r.port)))
        .replace("@TRIVIAL@", &format!("127.0.0.1:{TRIVIAL_UPSTREAM_PORT}"));
    let conf = run.join("nginx.conf");
    std::fs::write(&conf, config).map_err(Error::io("writing .run/local/nginx.conf"))?;
    let mut argv: Vec<String> = Vec::new();
    if let Some(cpus) = &topology.cpuset {
        argv.extend(["taskset".into(), "-c".into(), cpus.clone()]);
    }
    argv.extend([
        nginx.display().to_string(),
        "-p".into(),
        run.display().to_string(),
        "-c".into(),
        conf.display().to_string(),
    ]);
    // nginx puts itself in the background and writes its master's pid.
    let output = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(Error::io("starting nginx"))?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "nginx did not start: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let pid_path = run.join("nginx.pid");
    let pid_seen = (0..100).find_map(|_| {
        let pid = process::read_pid(&pid_path);
        if pid.is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        pid
    });
    let pid = pid_seen.ok_or_else(|| Error::Failed("nginx wrote no pid file within 5 s".into()))?;
    process::write_pid(&pid_file(paths, Part::Nginx), pid)
}

/// A topology a command brought up for itself, from nothing: dropping it brings it down,
/// so a command that fails half-way leaves nothing running.
pub struct Fresh<'a> {
    paths: &'a Paths,
}

impl Fresh<'_> {
    pub fn up(paths: &Paths, topology: Topology, build: bool) -> Result<Fresh<'_>, Error> {
        down(paths);
        up(paths, topology, build)?;
        Ok(Fresh { paths })
    }

    /// Leaves it running for the operator (`make local-down` stops it).
    pub fn keep(self) {
        println!("The topology stays up: make local-down stops it.");
        std::mem::forget(self);
    }
}

impl Drop for Fresh<'_> {
    fn drop(&mut self) {
        down(self.paths);
    }
}

/// Runs `command` against a fresh topology (the settings of `up`, from the environment),
/// brought down after whatever happens; its exit status is ours. The command finds
/// `LOCAL_TOPOLOGY` set to nginx's address and, with `seed`, the permits a browser cannot
/// create in `SEEDED_PERMITS`.
pub async fn with_topology(paths: &Paths, build: bool, seed: bool, command: &[String]) -> Result<bool, Error> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Usage("with-topology needs a command".into()));
    };
    let settings = Topology::from_env()?;
    let (listen, db_port) = (settings.listen.clone(), settings.db_port);
    let _up = Fresh::up(paths, settings, build)?;
    let mut command = std::process::Command::new(program);
    command.args(args).env("LOCAL_TOPOLOGY", &listen);
    if seed {
        step("seeding an expired and a not-yet-valid permit");
        let seeded = crate::seed::seed(&format!("mongodb://127.0.0.1:{db_port}"), "permisos").await?;
        command.env("SEEDED_PERMITS", seeded);
    }
    let status = command.status().map_err(Error::io(format!("running {program}")))?;
    Ok(status.success())
}

/// Stops every recorded part: all asked at once (replicas drain for SHUTDOWN_DRAIN_SECS),
/// then each given 15 s before it is killed.
pub fn down(paths: &Paths) {
    let parts = recorded(paths);
    if parts.is_empty() {
        println!("The local topology is not up.");
        return;
    }
    for (name, pid) in &parts {
        if process::signal(*pid, "TERM") {
            step(&format!("stopping {name} (pid {pid})"));
        }
    }
    for (name, pid) in &parts {
        if !process::wait_gone(*pid, Duration::from_secs(15)) {
            process::signal(*pid, "KILL");
            process::wait_gone(*pid, Duration::from_secs(5));
        }
        let _ = std::fs::remove_file(pid_file(paths, *name));
    }
    println!("Stopped.");
}

/// Each recorded part, its pid, whether it lives and, for replicas, what `/readyz` says.
pub fn status(paths: &Paths) {
    let parts = recorded(paths);
    if parts.is_empty() {
        println!("The local topology is not up.");
        return;
    }
    println!("{:<14} {:<8} {:<6} READY", "PART", "PID", "ALIVE");
    for (name, pid) in parts {
        let alive = if process::alive(pid) { "yes" } else { "no" };
        let ready = name
            .replica()
            .map(|r| net::http_status(r.admin_port, "/readyz").map_or("-".into(), |s| s.to_string()))
            .unwrap_or_else(|| "-".into());
        println!("{:<14} {pid:<8} {alive:<6} {ready}", name.to_string());
    }
}

/// Starts one part again with the saved settings, as kubelet restarts a container, and
/// waits until it is ready; its pid.
pub fn start(paths: &Paths, part: Part) -> Result<u32, Error> {
    let topology = Topology::load(paths)?;
    if let Some(pid) = process::read_pid(&pid_file(paths, part)).filter(|pid| process::alive(*pid)) {
        return Err(Error::Failed(format!("{part} is already running (pid {pid})")));
    }
    start_part(paths, &topology, part)?;
    Ok(process::read_pid(&pid_file(paths, part)).unwrap_or_default())
}

/// Stops one part: SIGTERM and a wait for it to exit, or SIGKILL with `kill`; its pid.
pub fn stop(paths: &Paths, part: Part, kill: bool) -> Result<u32, Error> {
    let path = pid_file(paths, part);
    let pid = process::read_pid(&path)
        .filter(|pid| process::alive(*pid))
        .ok_or_else(|| Error::Failed(format!("{part} is not running")))?;
    if kill {
        process::signal(pid, "KILL");
    } else {
        process::signal(pid, "TERM");
    }
    if !process::wait_gone(pid, Duration::from_secs(15)) {
        return Err(Error::Failed(format!("{part} (pid {pid}) did not exit within 15 s")));
    }
    let _ = std::fs::remove_file(path);
    Ok(pid)
}
