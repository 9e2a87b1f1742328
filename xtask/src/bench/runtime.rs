//! `bench-runtime`: start-up time and memory of the two release binaries (docs/benchmarks.md,
//! "Runtime"). For each binary, N times: start it against a throw-away database, time from
//! spawn to the first 200 from /readyz, then read its idle RSS; on the last run, load it
//! with wrk for 10 s and read its peak RSS (VmHWM). Prints a Markdown table. Bounded, and
//! everything on 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::console::step;
use crate::error::Error;
use crate::net;
use crate::paths::Paths;
use crate::process;
use crate::topology::services;
use crate::topology::services::Service;
use crate::topology::with_db::ThrowawayDb;

const LOAD_SECONDS: u32 = 10;
const LOAD_CONNECTIONS: u32 = 64;

pub fn bench_runtime(paths: &Paths, runs: usize) -> Result<(), Error> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err(Error::Missing("wrk", "`scripts/tools.sh wrk` installs it"));
    }
    services::build(paths, "release")?;
    let db = ThrowawayDb::start(paths)?;
    step(&format!("measuring, {runs} runs each"));
    println!(
        "| binary | ready, median of {runs} (ms) | ready, max (ms) | idle RSS (MiB) | peak RSS under load (MiB) | load |"
    );
    println!("|---|---|---|---|---|---|");
    for service in Service::BOTH {
        let mut ready = Vec::new();
        let mut idle = Vec::new();
        let mut loaded = None;
        for run in 0..runs {
            let started = Started::start(
                paths,
                service,
                &db.uri,
                &format!("bench_runtime_{}_{run}", std::process::id()),
            )?;
            std::thread::sleep(Duration::from_secs(1));
            ready.push(started.ready_ms);
            idle.push(kib(started.child.id(), "VmRSS")?);
            if run + 1 == runs {
                loaded = Some(load(paths, &started, service, &db.uri, run)?);
            }
        }
        ready.sort_by(f64::total_cmp);
        idle.sort_unstable();
        let (label, requests_per_sec, peak) = loaded.expect("at least one run");
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | wrk {LOAD_CONNECTIONS} connections {LOAD_SECONDS} s on `GET {label}`: {requests_per_sec} req/s |",
            service.name(),
            ready[ready.len() / 2],
            ready[ready.len() - 1],
            idle[idle.len() / 2] as f64 / 1024.0,
            peak as f64 / 1024.0,
        );
    }
    Ok(())
}

/// wrk against the landing page (issuer) or a permit's check (validator, with a permit an
/// issuer made); the route, requests per second and the binary's peak RSS in KiB.
fn load(
    paths: &Paths,
    started: &Started,
    service: Service,
    uri: &str,
    run: usize,
) -> Result<(String, String, u64), Error> {
    let (label, path) = if service == Service::Issuer {
        ("/".to_owned(), "/".to_owned())
    } else {
        let issuer = Started::start(
            paths,
            Service::Issuer,
            uri,
            &format!("bench_runtime_{}_{run}", std::process::id()),
        )?;
        let body = br#"{"name":"Carga Prueba","rut":"12.345.678-5","motive":"compras","address":"Calle 1","comuna":"Santiago"}"#;
        let headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json")];
        let answer = net::fetch(
            issuer.port,
            "POST",
            "/api/create",
            &headers,
            body,
            Duration::from_secs(5),
        );
        let id = answer
            .and_then(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok())
            .and_then(|permit| permit["id"].as_str().map(str::to_owned))
            .ok_or_else(|| Error::Failed("the issuer issued no permit to check".into()))?;
        ("/validar/{id}".to_owned(), format!("/validar/{id}"))
    };
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{LOAD_CONNECTIONS}"), &format!("-d{LOAD_SECONDS}s")])
        .arg(format!("http://127.0.0.1:{}{path}", started.port))
        .output()
        .map_err(Error::io("running wrk"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let requests_per_sec = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .map(|n| n.trim().to_owned())
        .ok_or_else(|| Error::Failed(format!("wrk printed no rate:\n{text}")))?;
    Ok((label, requests_per_sec, kib(started.child.id(), "VmHWM")?))
}

/// A release binary started on free ports, ready.
struct Started {
    child: Child,
    port: u16,
    ready_ms: f64,
}

impl Started {
    fn start(paths: &Paths, service: Service, uri: &str, database: &str) -> Result<Started, Error> {
        let (port, admin, operators) = (net::free_port()?, net::free_port()?, net::free_port()?);
        let binary = service.name();
        let secrets = crate::secrets::Secrets::load(&paths.run_dir())?.env_for(service);
        let started = Instant::now();
        let mut child = Command::new(paths.binary("release", binary))
            .env_clear()
            .env("MONGODB_URI", uri)
            .env("MONGODB_DB", database)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("OPERATOR_ADDR", format!("127.0.0.1:{operators}"))
            .env("ISSUER_PUBLIC_URL", "http://formulario.localhost")
            .env("VALIDATOR_PUBLIC_URL", "http://validar.localhost")
            .env("PERMIT_CURFEW", "off")
            .env("PERMIT_WEEKLY_LIMIT", "off")
            .env("RUST_LOG", "warn")
            .env("SHUTDOWN_DRAIN_SECS", "0")
            .envs(secrets)
            .stdin(Stdio::null())
            .spawn()
            .map_err(Error::io(format!("starting {binary}")))?;
        while net::http_status(admin, "/readyz") != Some(200) {
            if !matches!(child.try_wait(), Ok(None)) || started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                return Err(Error::Failed(format!("{binary} did not become ready")));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(Started {
            child,
            port,
            ready_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        process::signal(self.child.id(), "TERM");
        let _ = self.child.wait();
    }
}

/// A `Vm...` field of /proc/<pid>/status, in KiB.
fn kib(pid: u32, field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(Error::io("reading /proc"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| Error::Failed(format!("no {field} for pid {pid}")))
}
