//! The fault suite (`make fault-test`). Each scenario brings up a fresh local topology (4 + 4
//! replicas behind nginx), runs load/artillery/faults.yml (the `medium` or `stress` load, clients
//! retrying creates with their Idempotency-Key), injects its fault while the load runs,
//! then audits what clients were told against the database. Every event is logged with
//! its time in .run/faults/<scenario>-events.log.
//!
//!   kill      kill -9 one random replica every 10 s; it is started again 2 s later, as
//!             kubelet would
//!   rolling   SIGTERM each replica in turn and start it again once it exited
//!   database  the database stopped for 10 s, then started again on the same data
//!
//! With MONITORING=1 Prometheus scrapes the replicas with our rules, and each scenario's
//! event log ends with the alerts that went pending, fired and resolved during it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::console::step;
use crate::error::Error;
use crate::load;
use crate::load::artillery::{self, Artillery, Environment};
use crate::load::audit::{self, Checks};
use crate::net;
use crate::paths::Paths;
use crate::topology::services::Service;
use crate::topology::{self, Part, Topology};

const REPLICAS: u16 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Kill,
    Rolling,
    Database,
}

impl Scenario {
    pub fn parse(name: &str) -> Option<Scenario> {
        match name {
            "kill" => Some(Scenario::Kill),
            "rolling" => Some(Scenario::Rolling),
            "database" => Some(Scenario::Database),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Kill => "kill",
            Scenario::Rolling => "rolling",
            Scenario::Database => "database",
        }
    }

    /// What the audit demands beyond the checks every scenario must pass.
    fn checks(self) -> Checks {
        match self {
            Scenario::Kill => Checks::default(),
            Scenario::Rolling => Checks {
                no_errors: true,
                ..Checks::default()
            },
            Scenario::Database => Checks {
                outage: true,
                max_ms: Some(2000.0),
                ..Checks::default()
            },
        }
    }
}

/// Runs `scenarios` under `load` (`medium` or `stress`); true when every audit passed.
pub async fn fault(paths: &Paths, scenarios: &[Scenario], load: Environment) -> Result<bool, Error> {
    if ![Environment::Medium, Environment::Stress].contains(&load) {
        return Err(Error::Usage(format!("--load {}: medium or stress", load.name())));
    }

    crate::topology::services::build(paths, "release")?;
    let results = paths.run_dir().join("faults");
    std::fs::create_dir_all(&results).map_err(Error::io("creating .run/faults"))?;
    let mut failed = Vec::new();
    for &scenario in scenarios {
        // Files are named by scenario, and by load when it is not medium: kill-stress-events.log.
        let tag = match load {
            Environment::Medium => scenario.name().to_owned(),
            _ => format!("{}-{}", scenario.name(), load.name()),
        };
        if !run_scenario(paths, scenario, load, &results, &tag).await? {
            failed.push(tag);
        }
    }
    if failed.is_empty() {
        println!("all scenarios passed");
    } else {
        println!("failed: {}", failed.join(" "));
    }
    Ok(failed.is_empty())
}

async fn run_scenario(
    paths: &Paths,
    scenario: Scenario,
    load: Environment,
    results: &Path,
    tag: &str,
) -> Result<bool, Error> {
    let events = Events::create(&results.join(format!("{tag}-events.log")))?;
    step(&format!("scenario {tag}: fresh topology"));
    let mut settings = Topology::from_env()?;
    settings.replicas = REPLICAS;
    settings.profile = "release".into();
    settings.env.push(("PERMIT_CURFEW".into(), "off".into()));
    let (db_port, listen_port, prometheus) = (settings.db_port, settings.listen_port()?, settings.prometheus_port);
    let _topology = topology::Fresh::up(paths, settings, false)?;
    let started = now();

    step(&format!(
        "scenario {tag}: artillery ({} phases) with the fault",
        load.name()
    ));
    let target = format!("http://127.0.0.1:{listen_port}");
    let mut load_run = artillery::Run {
        scenario: artillery::Scenario::Faults,
        environment: load,
        target: &target,
        issuer_host: "formulario.localhost",
        validator_host: "validar.localhost",
        citizens: 12_000,
        out: results,
        name: tag,
    }
    .start(paths)?;
    events.log("load started");
    // Only the database scenario checks signed validations; the others pass this.
    let mut signed_answered = true;
    let restarts = match scenario {
        Scenario::Kill => kill(&mut load_run, &events),
        Scenario::Rolling => rolling(paths, &mut load_run, &events).map(|()| Vec::new())?,
        Scenario::Database => {
            signed_answered = database(paths, &mut load_run, &events, results, tag, listen_port)?;
            Vec::new()
        }
    };
    let (_, load_run) = load_run.finish()?;
    events.log("load finished");
    let record = load_run.record.expect("the faults scenario records its answers");
    let report = load_run.report;
    for restart in restarts {
        let _ = restart.join();
    }
    count_failovers(paths, results, tag, &events)?;
    if let Some(port) = prometheus {
        // The rules see the last scrapes a few seconds after they happen.
        std::thread::sleep(Duration::from_secs(3));
        for line in crate::topology::monitoring::alert_timeline(port, started, now())? {
            events.log(&line);
        }
    }

    let events_log = results.join(format!("{tag}-events.log"));
    load::chart(
        paths,
        &report,
        &results.join(format!("{tag}.png")),
        &format!("make fault-test, scenario {tag}"),
        Some(&events_log),
    )?;

    step(&format!("scenario {tag}: audit"));
    let uri = format!("mongodb://127.0.0.1:{db_port}");
    let verdict = audit::audit(&record, &report, &uri, "permisos", &scenario.checks()).await?;
    println!("{}", verdict.json);
    std::fs::write(results.join(format!("{tag}-audit.json")), &verdict.json).map_err(Error::io("saving the audit"))?;
    let passed = verdict.passed && signed_answered;
    if !signed_answered {
        println!("scenario {tag}: signed validations failed while the database was away (events log)");
    }
    println!("scenario {tag}: {}", if passed { "PASSED" } else { "FAILED" });
    Ok(passed)
}

/// Sleeps `duration`, or less if the load ends first; true while it still runs.
fn sleep_while_running(load: &mut Artillery, duration: Duration) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if !load.running() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    load.running()
}

fn replicas() -> Vec<Part> {
    (1..=REPLICAS)
        .flat_map(|n| Service::BOTH.map(|service| Part::Replica(service, n)))
        .collect()
}

/// Every 10 s, kill -9 of a random replica; started again 2 s later without waiting for
/// it, as kubelet restarts a container.
fn kill(load: &mut Artillery, events: &Events) -> Vec<JoinHandle<()>> {
    let replicas = replicas();
    let mut restarts = Vec::new();
    while sleep_while_running(load, Duration::from_secs(10)) {
        let pick = getrandom::u32().unwrap_or(0) as usize % replicas.len();
        let part = replicas[pick];
        match topology::stop(&Paths::new(), part, true) {
            Ok(pid) => events.log(&format!("kill -9 {part} (pid {pid})")),
            Err(error) => events.log(&format!("could not kill {part}: {error}")),
        }
        std::thread::sleep(Duration::from_secs(2));
        events.log(&format!("restarting {part}"));
        restarts.push(std::thread::spawn(move || {
            let _ = topology::start(&Paths::new(), part);
        }));
    }
    restarts
}

/// After 20 s, SIGTERM to each replica in turn, started again once it exited and waited
/// for until ready, 2 s apart, round after round while the load runs.
fn rolling(paths: &Paths, load: &mut Artillery, events: &Events) -> Result<(), Error> {
    if !sleep_while_running(load, Duration::from_secs(20)) {
        return Ok(());
    }
    loop {
        for part in replicas() {
            if !load.running() {
                return Ok(());
            }
            let pid = topology::stop(paths, part, false)?;
            events.log(&format!("SIGTERM {part} (pid {pid}); exited"));
            let pid = topology::start(paths, part)?;
            events.log(&format!("{part} ready again (pid {pid})"));
            if !sleep_while_running(load, Duration::from_secs(2)) {
                return Ok(());
            }
        }
    }
}

/// After 40 s, the database stopped for 10 s and started again. Meanwhile every replica's
/// readiness, the landing and form pages and signed validations (distinct genuine tokens)
/// through nginx are probed every 0.5 s; afterwards, how long until a permit could be
/// issued through nginx and until every replica was ready again. True when every signed
/// validation was answered 200.
fn database(
    paths: &Paths,
    load: &mut Artillery,
    events: &Events,
    results: &Path,
    tag: &str,
    listen_port: u16,
) -> Result<bool, Error> {
    let links = crate::bench::signed_links::links(paths, 2000)?;
    if !sleep_while_running(load, Duration::from_secs(40)) {
        return Ok(true);
    }
    let prober = Prober::start(listen_port, links);
    let pid = topology::stop(paths, Part::Db, false).or_else(|_| topology::stop(paths, Part::Db, true))?;
    let stopped = now();
    events.log(&format!("database stopped (pid {pid})"));
    std::thread::sleep(Duration::from_secs(10));
    let pid = topology::start(paths, Part::Db)?;
    let back = now();
    events.log(&format!("database started again (pid {pid})"));
    let body = br#"{"name": "Sonda Recuperacion", "rut": "11.111.111-1", "motive": "paseo-mascotas", "address": "Calle 1", "comuna": "Maipu"}"#;
    let key = format!("recovery-probe-{back}");
    let headers = [
        ("Host", "formulario.localhost"),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", key.as_str()),
    ];
    let issued = (0..600).any(|_| {
        let answer = net::fetch(
            listen_port,
            "POST",
            "/api/create",
            &headers,
            body,
            Duration::from_secs(5),
        );
        answer.is_some_and(|(status, _)| status == 201) || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    if issued {
        events.log(&format!(
            "a permit issued through nginx {:.1} s after the database returned",
            now() - back
        ));
    } else {
        events.log("no permit could be issued through nginx within 60 s of the database's return");
    }
    std::thread::sleep(Duration::from_secs(6));
    let probes = prober.stop();
    let lines: Vec<String> = probes
        .iter()
        .map(|(t, part, code)| format!("{t:.3} {part} {code}"))
        .collect();
    std::fs::write(results.join(format!("{tag}-readiness.log")), lines.join("\n"))
        .map_err(Error::io("saving the readiness probes"))?;
    for line in readiness_summary(&probes, stopped, back) {
        events.log(&line);
    }
    let signed: Vec<&(f64, String, u16)> = probes.iter().filter(|(_, part, _)| part.starts_with(SIGNED)).collect();
    let while_down = signed.iter().filter(|(t, _, _)| stopped <= *t && *t < back).count();
    let failed: Vec<String> = signed
        .iter()
        .filter(|(_, _, code)| *code != 200)
        .map(|(t, _, code)| format!("{code} at {:+.1} s", t - stopped))
        .collect();
    events.log(&format!(
        "signed validations through nginx: {} probes, {while_down} of them while the database was stopped; {} not answered 200{}",
        signed.len(),
        failed.len(),
        if failed.is_empty() { String::new() } else { format!(" ({})", failed.join(", ")) }
    ));
    Ok(!signed.is_empty() && failed.is_empty())
}

/// Seconds since the epoch, to the microsecond.
fn now() -> f64 {
    Timestamp::now().as_microsecond() as f64 / 1e6
}

/// What readiness and the pages said while the database was down (from 1 s in), and how
/// long after it returned every replica said ready and stayed so.
fn readiness_summary(probes: &[(f64, String, u16)], stopped: f64, back: f64) -> Vec<String> {
    let while_down = |pages: bool| -> Vec<u16> {
        probes
            .iter()
            .filter(|(t, part, _)| {
                stopped + 1.0 <= *t && *t < back && !part.starts_with(SIGNED) && part.starts_with(PAGE) == pages
            })
            .map(|(_, _, code)| *code)
            .collect()
    };
    let not_200 = |codes: &[u16]| codes.iter().filter(|code| **code != 200).count();
    let (ready, pages) = (while_down(false), while_down(true));
    let mut lines = vec![
        format!(
            "readiness while stopped (from 1 s in): {} of {} probes not ready",
            not_200(&ready),
            ready.len()
        ),
        format!(
            "landing and form pages through nginx while stopped: {} of {} answered 200",
            pages.len() - not_200(&pages),
            pages.len()
        ),
    ];
    let probes: Vec<&(f64, String, u16)> = probes
        .iter()
        .filter(|(_, part, _)| !part.starts_with(PAGE) && !part.starts_with(SIGNED))
        .collect();
    let mut ordered: Vec<&(f64, String, u16)> = probes.iter().copied().filter(|(t, _, _)| *t >= back).collect();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ready_at: std::collections::BTreeMap<&str, Option<f64>> =
        probes.iter().map(|(_, part, _)| (part.as_str(), None)).collect();
    for (t, part, code) in ordered {
        let entry = ready_at.entry(part.as_str()).or_default();
        match (*code == 200, *entry) {
            (true, None) => *entry = Some(*t),
            (false, _) => *entry = None,
            _ => {}
        }
    }
    let all_ready: Option<Vec<f64>> = ready_at.values().copied().collect();
    lines.push(match all_ready {
        Some(times) if !times.is_empty() => format!(
            "all {} replicas ready {:.1} s after the database returned",
            times.len(),
            times.iter().copied().fold(f64::MIN, f64::max) - back
        ),
        _ => "not every replica was ready again".into(),
    });
    lines
}

/// The prefix of the probes of pages through nginx, as against a replica's readiness.
const PAGE: &str = "page ";
/// The prefix of the probes of signed validation links through nginx.
const SIGNED: &str = "signed ";
/// Signed links checked in each round of probes.
const SIGNED_PER_ROUND: usize = 10;

/// Every replica's /readyz, the issuer's landing and form pages and a few signed links
/// through nginx, all at once every 0.5 s, as (time, replica, page or link, status or 0).
struct Prober {
    stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<(f64, String, u16)>>>,
    thread: JoinHandle<()>,
}

impl Prober {
    fn start(listen_port: u16, signed_links: Vec<String>) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let probes = Arc::new(Mutex::new(Vec::new()));
        let (stopping, kept) = (stop.clone(), probes.clone());
        let thread = std::thread::spawn(move || {
            let mut links = signed_links.into_iter().cycle();
            while !stopping.load(Ordering::Relaxed) {
                let readiness = topology::replica_admin_ports(REPLICAS)
                    .into_iter()
                    .map(|(part, port)| (part, port, "/readyz".to_owned(), "127.0.0.1"));
                let pages = ["/", "/nuevo"].into_iter().map(|path| {
                    (
                        format!("{PAGE}{path}"),
                        listen_port,
                        path.to_owned(),
                        "formulario.localhost",
                    )
                });
                let signed = links
                    .by_ref()
                    .take(SIGNED_PER_ROUND)
                    .enumerate()
                    .map(|(n, link)| (format!("{SIGNED}{n}"), listen_port, link, "validar.localhost"));
                let round: Vec<JoinHandle<()>> = readiness
                    .chain(pages)
                    .chain(signed)
                    .map(|(part, port, path, host)| {
                        let kept = kept.clone();
                        std::thread::spawn(move || {
                            let answer = net::fetch(port, "GET", &path, &[("Host", host)], b"", Duration::from_secs(2));
                            let code = answer.map_or(0, |(status, _)| status);
                            kept.lock().expect("probe lock").push((now(), part, code));
                        })
                    })
                    .collect();
                std::thread::sleep(Duration::from_millis(500));
                for probe in round {
                    let _ = probe.join();
                }
            }
        });
        Prober { stop, probes, thread }
    }

    fn stop(self) -> Vec<(f64, String, u16)> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        std::mem::take(&mut *self.probes.lock().expect("probe lock"))
    }
}

/// Counts what nginx passed from a failed replica to another, and how many were POSTs
/// (only those never sent are resent).
fn count_failovers(paths: &Paths, results: &Path, tag: &str, events: &Events) -> Result<(), Error> {
    let kept: PathBuf = results.join(format!("{tag}-nginx-error.log"));
    std::fs::copy(paths.run_dir().join("local/nginx-error.log"), &kept)
        .map_err(Error::io("keeping nginx's error log"))?;
    let log = std::fs::read_to_string(&kept).map_err(Error::io("reading nginx's error log"))?;
    let failovers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("[error]") && (l.contains("connect() failed") || l.contains("prematurely closed")))
        .collect();
    let posts = failovers.iter().filter(|l| l.contains("request: \"POST")).count();
    events.log(&format!(
        "nginx passed {} failed attempts on a replica to another one, {posts} of them POSTs",
        failovers.len()
    ));
    Ok(())
}

/// The scenario's event log: each line with its UTC time, also printed.
struct Events(Mutex<File>);

impl Events {
    fn create(path: &Path) -> Result<Events, Error> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(Error::io(format!("creating {}", path.display())))?;
        Ok(Events(Mutex::new(file)))
    }

    fn log(&self, what: &str) {
        let line = format!("{} {what}", Timestamp::now().strftime("%H:%M:%S%.3f"));
        println!("{line}");
        let _ = writeln!(self.0.lock().expect("event log lock"), "{line}");
    }
}
