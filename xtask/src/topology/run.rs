//! `make run`: SecantusDB with its data in .run/db, the test identity provider standing in
//! for ClaveÚnica (identity/provider.mjs; not with `CITIZEN_AUTH=none`), one issuer and one
//! validator built in release mode, all on 127.0.0.1, in the foreground until Ctrl-C stops
//! them all.

use std::process::Child;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};

use crate::console::step;
use crate::error::Error;
use crate::paths::Paths;
use crate::process::{self, Spec};
use crate::secrets;
use crate::topology::identity::{self, Identity};
use crate::topology::services::{self, OPERATOR_OFFSET, Replica, Service};
use crate::{net, settings};

struct Ports {
    issuer: u16,
    validator: u16,
    database: u16,
    identity: u16,
}

impl Ports {
    fn from_env() -> Result<Ports, Error> {
        // Room above each service's port for its admin and operators' ports.
        let public = 1..=u16::MAX - OPERATOR_OFFSET;
        Ok(Ports {
            issuer: settings::number("ISSUER_PORT", 8081, public.clone())?,
            validator: settings::number("VALIDATOR_PORT", 8082, public)?,
            database: settings::number("DB_PORT", 27017, 1..=u16::MAX)?,
            identity: settings::number("IDENTITY_PORT", 8083, 1..=u16::MAX)?,
        })
    }
}

/// A started part: its name, process and log.
struct Running {
    name: String,
    child: Child,
    log: std::path::PathBuf,
}

pub async fn run(paths: &Paths) -> Result<(), Error> {
    // Installed before anything starts: Ctrl-C during start-up still stops what started.
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::io("handling SIGINT"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::io("handling SIGTERM"))?;
    let dir = paths.run_dir();
    std::fs::create_dir_all(dir.join("db")).map_err(Error::io("creating .run/db"))?;
    let pid_file = dir.join("run.pid");
    if let Some(pid) = process::read_pid(&pid_file).filter(|pid| process::alive(*pid) && supervisor(*pid)) {
        return Err(Error::AlreadyRunning { pid });
    }
    let ports = Ports::from_env()?;
    net::require_free(ports.database, "DB_PORT")?;
    if sign_in() {
        net::require_free(ports.identity, "IDENTITY_PORT")?;
    }
    for (service, port, variable) in [
        (Service::Issuer, ports.issuer, "ISSUER_PORT"),
        (Service::Validator, ports.validator, "VALIDATOR_PORT"),
    ] {
        for port in Replica::new(service, service.name().into(), port).ports() {
            net::require_free(port, variable)?;
        }
    }
    let secantus = paths.secantus()?;
    services::build(paths, "release")?;
    process::write_pid(&pid_file, std::process::id())?;

    let mut running = Vec::new();
    let started = start_all(paths, &ports, &secantus, &mut running);
    let outcome = match started {
        Ok(links) => {
            print_welcome(&links);
            supervise(&mut running, &mut interrupt, &mut terminate).await
        }
        Err(error) => Err(error),
    };
    step("stopping");
    stop_all(&mut running);
    let _ = std::fs::remove_file(&pid_file);
    outcome
}

struct Links {
    issuer: String,
    validator: String,
    /// The issuer's operators' port: no ingress in front of it here.
    operators: String,
    /// The identity provider's address, when citizens sign in.
    identity: Option<String>,
}

/// Citizens sign in (`CITIZEN_AUTH=oidc`, the default here) unless told `none`.
fn sign_in() -> bool {
    !settings::or("CITIZEN_AUTH", "oidc").eq_ignore_ascii_case("none")
}

fn start_all(
    paths: &Paths,
    ports: &Ports,
    secantus: &crate::paths::Secantus,
    running: &mut Vec<Running>,
) -> Result<Links, Error> {
    let dir = paths.run_dir();
    step(&format!(
        "starting SecantusDB ({}) on 127.0.0.1:{} (data in .run/db)",
        secantus.label(),
        ports.database
    ));
    let database = Spec {
        name: "SecantusDB".into(),
        argv: secantus.command(ports.database, &dir.join("db")),
        env: Vec::new(),
        log: dir.join("db.log"),
        cpuset: None,
        detached: false,
    };
    start(running, &database, 30, || net::listening(ports.database))?;

    let secrets = secrets::Secrets::load(&dir)?;
    let mut links = Links {
        issuer: settings::or(
            "ISSUER_PUBLIC_URL",
            &format!("http://formulario.localhost:{}", ports.issuer),
        ),
        validator: settings::or(
            "VALIDATOR_PUBLIC_URL",
            &format!("http://validar.localhost:{}", ports.validator),
        ),
        operators: format!("http://127.0.0.1:{}", ports.issuer + OPERATOR_OFFSET),
        identity: None,
    };
    let mut env = vec![
        (
            "MONGODB_URI".to_owned(),
            settings::or("MONGODB_URI", &format!("mongodb://127.0.0.1:{}", ports.database)),
        ),
        ("ISSUER_PUBLIC_URL".to_owned(), links.issuer.clone()),
        ("VALIDATOR_PUBLIC_URL".to_owned(), links.validator.clone()),
        ("LOG_FORMAT".to_owned(), settings::or("LOG_FORMAT", "pretty")),
        // Nothing routes to these but a browser: no endpoints to withdraw before stopping.
        (
            "SHUTDOWN_DRAIN_SECS".to_owned(),
            settings::or("SHUTDOWN_DRAIN_SECS", "0"),
        ),
    ];
    if sign_in() {
        let identity = Identity::new(ports.identity);
        step(&format!(
            "starting the test identity provider (in place of ClaveÚnica) on {}",
            identity.issuer()
        ));
        let homes = [links.issuer.as_str(), links.operators.as_str()];
        let provider = identity.spec(paths, homes, dir.join("identity.log"), false);
        start(running, &provider, 30, || net::listening(ports.identity))?;
        env.extend(identity.issuer_env(&links.operators));
        links.identity = Some(identity.issuer());
    } else {
        env.push(("CITIZEN_AUTH".to_owned(), "none".to_owned()));
    }
    step("starting the issuer and the validator");
    for service in Service::BOTH {
        let port = match service {
            Service::Issuer => ports.issuer,
            Service::Validator => ports.validator,
        };
        let replica = Replica::new(service, service.name().into(), port);
        let mut env = env.clone();
        env.extend(secrets.env_for(service));
        let spec = replica.spec(
            paths.binary("release", service.name()),
            &env,
            dir.join(format!("{}.log", service.name())),
            None,
            false,
        );
        start(running, &spec, 60, || replica.ready())?;
    }
    Ok(links)
}

/// Starts `spec`, keeps it in `running`, and waits for it to be `ready`.
fn start(running: &mut Vec<Running>, spec: &Spec, seconds: u64, ready: impl Fn() -> bool) -> Result<(), Error> {
    let child = process::spawn(spec)?;
    running.push(Running {
        name: spec.name.clone(),
        child,
        log: spec.log.clone(),
    });
    let last = running.last_mut().expect("just pushed");
    net::wait_ready(&spec.name, &spec.log, seconds, ready, || {
        matches!(last.child.try_wait(), Ok(None))
    })
}

/// Whether `pid` runs this supervisor, not another program that got the pid of one that
/// died without removing its pid file. Without /proc (macOS) it is taken to.
fn supervisor(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).map_or(true, |line| {
        line.split(|b| *b == 0)
            .next()
            .is_some_and(|program| program.ends_with(b"xtask"))
    })
}

fn print_welcome(links: &Links) {
    println!(
        "\nRunning. Open in a browser:\n  Solicitar un permiso:  {issuer}/\n  Validar un permiso:    {validator}/\n\n\
         {sign_in}\n\
         {console}\n\
         Operator API:  make yourself a named token with the bootstrap one, then use that:\n               \
         curl -H \"Authorization: Bearer $(cat .run/admin-token)\" --json '{{\"name\":\"Tu nombre\",\"role\":\"consulta\"}}' {operators}/api/operators\n\
         Logs:          .run/issuer.log  .run/validator.log  .run/db.log  .run/identity.log\n\
         Rules:         PERMIT_CURFEW={curfew}  PERMIT_WEEKLY_LIMIT={limit}  PERMIT_START_DELAY_MINUTES={delay}",
        issuer = links.issuer,
        validator = links.validator,
        operators = links.operators,
        sign_in = match &links.identity {
            Some(identity) => format!(
                "Sign-in:       at the test identity provider ({identity}), as with ClaveÚnica:\n               \
                 {}. CITIZEN_AUTH=none: no sign-in.",
                identity::CITIZENS
            ),
            None => "Sign-in:       off (CITIZEN_AUTH=none): permits in any name, every page says so.".to_owned(),
        },
        console = match &links.identity {
            Some(_) => format!(
                "Console:       {}/ for operators, who sign in there too:\n               {}.",
                links.operators,
                identity::OPERATORS
            ),
            None => format!(
                "Console:       {}/ (no sign-in with CITIZEN_AUTH=none)",
                links.operators
            ),
        },
        curfew = settings::or("PERMIT_CURFEW", "22:00-05:00"),
        limit = settings::or("PERMIT_WEEKLY_LIMIT", "2"),
        delay = settings::or("PERMIT_START_DELAY_MINUTES", "15"),
    );
    let santiago = jiff::Timestamp::now().in_tz("America/Santiago");
    if let Ok(now) = santiago
        && settings::var("PERMIT_CURFEW").is_none()
        && (now.hour() >= 19 || now.hour() < 5)
    {
        println!(
            "\nNote: it is {} in Santiago. Permits that would reach the curfew (22:00-05:00) are\n\
             refused, as in 2020. To try the system now:  PERMIT_CURFEW=off make run",
            now.strftime("%H:%M")
        );
    }
    println!("\nCtrl-C stops everything.");
}

/// Until Ctrl-C, SIGTERM, or a part stopping by itself (an error, with its log).
async fn supervise(
    running: &mut [Running],
    interrupt: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
) -> Result<(), Error> {
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                for part in running.iter_mut() {
                    if let Ok(Some(status)) = part.child.try_wait() {
                        return Err(Error::Failed(format!(
                            "{} stopped by itself ({status}); the end of its log ({}):\n{}",
                            part.name,
                            part.log.display(),
                            process::tail(&part.log, 20)
                        )));
                    }
                }
            }
        }
    }
}

/// Every part asked to stop at once, each given 15 s to finish before it is killed.
fn stop_all(running: &mut [Running]) {
    for part in running.iter_mut() {
        if let Ok(None) = part.child.try_wait() {
            process::signal(part.child.id(), "TERM");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for part in running.iter_mut() {
        while matches!(part.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = part.child.try_wait() {
            let _ = part.child.kill();
        }
        let _ = part.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_taken_over_by_another_program_is_not_a_running_make_run() {
        let mut other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        assert!(!supervisor(other.id()));
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
