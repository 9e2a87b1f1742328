//! The project's local supervisor (`cargo xtask`, behind the Makefile's targets): it starts
//! and stops SecantusDB, the services and nginx, waits for readiness, keeps pids and logs
//! under .run/, and writes and audits test data through permit-store.

mod audit;
mod bench;
mod error;
mod fault;
mod keys;
mod monitoring;
mod net;
mod paths;
mod peak_day;
mod process;
mod run;
mod seed;
mod services;
mod settings;
mod signed_links;
mod topology;
mod usage;
mod with_db;

use std::path::Path;
use std::process::ExitCode;

use base64::Engine;

use crate::error::Error;
use crate::paths::Paths;

const USAGE: &str = "usage: cargo xtask COMMAND

  run                      SecantusDB, the issuer and the validator (release) in the
                           foreground until Ctrl-C (make run); ISSUER_PORT, VALIDATOR_PORT
                           and DB_PORT move them, admin ports are 1000 above
  up [--no-build]          the local topology: SecantusDB, REPLICAS issuers and validators,
                           nginx on LISTEN (make local-up; also LOCAL_DB_PORT, PROFILE, CPUSET)
  down                     stop exactly what `up` started (make local-down)
  status                   each part, its pid, whether it lives and is ready (make local-status)
  start PART               start one part again: db, prometheus, issuer-N or validator-N
  stop PART [--kill]       stop one part, with SIGTERM (waiting for it) or SIGKILL
  fault [--scenarios kill,rolling,database] [--load medium|stress]
                           the fault suite: faults injected under artillery load into a
                           fresh local topology each, every answer audited (make fault-test)
  seed [--uri U] [--db D]  store an expired and a not-yet-valid permit; print their ids
  audit RECORD REPORT [--uri U] [--db D] [--no-errors] [--outage] [--max-ms N]
                           check a fault-suite run against the database
  usage                    CPU time and peak memory of each kind of process of the topology
  bench-runtime [--runs N] start-up time and memory of the release binaries (make bench-runtime)
  monitoring-rules         write .run/monitoring/rules.yaml (the PrometheusRule's rules) and
                           dashboard-queries.yaml (every dashboard panel's query), for promtool
  dashboard-check          run every dashboard query against the local Prometheus
                           (MONITORING=1): which return data
  token                    print a fresh random token (43 URL-safe characters)
  peak-day [--speed S] [--scale F] [--errors-only]
                           Chile's record day (1.29 M permit requests) replayed open-loop
                           against the running local topology, S times faster, F of its
                           volume (make peak-day); .run/peak-day/result.json. It holds with
                           no error and p99 under 250 ms (--errors-only: no error)
  data-growth [--stops 10000,100000,1000000,1291970] [--probe-seconds S]
                           permits stored through the running local topology up to each
                           stop; at each, creates and checks by code probed open-loop,
                           collection sizes and every query's plan (make data-growth);
                           .run/data-growth/result.json. It holds with no probe error and
                           no service query scanning or sorting the collection
  signed-links [--count N] N distinct signed validation paths (/v/{token}) for the capacity
                           benchmark, with this checkout's key; the Ed25519 cost on stderr
  scanner-fixture          a JWK Set and tokens signed with a fresh key, for the scanner's
                           script test
  with-db COMMAND...       run COMMAND with MONGODB_URI set to a throw-away SecantusDB
                           (unless MONGODB_URI is set already); its exit status is ours

--uri defaults to the local topology's database, --db to permisos.";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match runtime.block_on(dispatch(&arguments)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs one command; `Ok(false)` when it ran and found a failure (an audit).
async fn dispatch(arguments: &[String]) -> Result<bool, Error> {
    let paths = Paths::new();
    if arguments.first().is_some_and(|a| a == "with-db") {
        return with_db::with_db(&paths, &arguments[1..]);
    }
    let mut args = Arguments::new(arguments);
    let command = args
        .positional()
        .ok_or_else(|| Error::Usage("no command given".into()))?;
    let outcome = match command.as_str() {
        "run" => {
            args.done()?;
            run::run(&paths).await?;
            true
        }
        "up" => {
            let build = !args.flag("--no-build");
            args.done()?;
            topology::up(&paths, topology::Topology::from_env()?, build)?;
            true
        }
        "down" => {
            args.done()?;
            topology::down(&paths);
            true
        }
        "status" => {
            args.done()?;
            topology::status(&paths);
            true
        }
        "start" | "stop" => {
            let part = args
                .positional()
                .ok_or_else(|| Error::Usage(format!("{command} needs a PART")))?;
            let kill = command == "stop" && args.flag("--kill");
            args.done()?;
            if command == "start" {
                let pid = topology::start(&paths, &part)?;
                println!("{part} started (pid {pid})");
            } else {
                let pid = topology::stop(&paths, &part, kill)?;
                println!("{part} stopped (pid {pid}{})", if kill { ", SIGKILL" } else { "" });
            }
            true
        }
        "fault" => {
            let names = args
                .value("--scenarios")?
                .unwrap_or_else(|| "kill,rolling,database".into());
            let scenarios = names
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|name| !name.is_empty())
                .map(|name| {
                    fault::Scenario::parse(name.trim())
                        .ok_or_else(|| Error::Usage(format!("unknown scenario {name:?}: kill, rolling, database")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let load = args.value("--load")?.unwrap_or_else(|| "medium".into());
            args.done()?;
            fault::fault(&paths, &scenarios, &load).await?
        }
        "seed" => {
            let (uri, database) = database(&mut args)?;
            args.done()?;
            seed::seed(&uri, &database).await?;
            true
        }
        "audit" => {
            let usage = || Error::Usage("audit needs RECORD and REPORT".into());
            let record = args.positional().ok_or_else(usage)?;
            let report = args.positional().ok_or_else(usage)?;
            let (uri, database) = database(&mut args)?;
            let checks = audit::Checks {
                no_errors: args.flag("--no-errors"),
                outage: args.flag("--outage"),
                max_ms: args
                    .value("--max-ms")?
                    .map(|ms| {
                        ms.parse()
                            .map_err(|_| Error::Usage(format!("--max-ms {ms:?} is not a number")))
                    })
                    .transpose()?,
            };
            args.done()?;
            let verdict = audit::audit(Path::new(&record), Path::new(&report), &uri, &database, &checks).await?;
            println!("{}", verdict.json);
            verdict.passed
        }
        "usage" => {
            args.done()?;
            usage::usage(&paths)?;
            true
        }
        "bench-runtime" => {
            let runs = args.positive("--runs", 10)?;
            args.done()?;
            bench::bench_runtime(&paths, runs)?;
            true
        }
        "monitoring-rules" => {
            args.done()?;
            let (rules, queries) = monitoring::write_rule_files(&paths)?;
            println!("{}\n{}", rules.display(), queries.display());
            true
        }
        "dashboard-check" => {
            args.done()?;
            let port = settings::number("PROMETHEUS_PORT", 9090, 1..=u16::MAX)?;
            monitoring::check_dashboard(&paths, port)?
        }
        "peak-day" => {
            let number = |name: &str, text: Option<String>, default: f64| {
                text.map_or(Ok(default), |t| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|n| *n > 0.0 && n.is_finite())
                        .ok_or_else(|| Error::Usage(format!("{name} {t:?} is not a positive number")))
                })
            };
            let speed = number("--speed", args.value("--speed")?, 18.0)?;
            let scale = number("--scale", args.value("--scale")?, 1.0)?;
            if scale > peak_day::MOST_SCALE {
                return Err(Error::Usage(format!(
                    "--scale {scale} is over {}",
                    peak_day::MOST_SCALE
                )));
            }
            let latency_bound = !args.flag("--errors-only");
            args.done()?;
            let port = topology::Topology::from_env()?.listen_port()?;
            let settings = peak_day::Settings {
                speed,
                scale,
                port,
                latency_bound,
            };
            peak_day::peak_day(&paths, &settings).await?
        }
        "data-growth" => {
            let stops = match args.value("--stops")? {
                Some(text) => stops(&text)?,
                None => vec![10_000, 100_000, 1_000_000, 1_291_970],
            };
            let probe_seconds = args.positive("--probe-seconds", 15)?;
            if probe_seconds > peak_day::growth::MOST_PROBE_SECONDS {
                return Err(Error::Usage(format!(
                    "--probe-seconds {probe_seconds} is over {}",
                    peak_day::growth::MOST_PROBE_SECONDS
                )));
            }
            args.done()?;
            let settings = peak_day::growth::Settings {
                stops,
                probe_seconds: probe_seconds as f64,
                port: topology::Topology::from_env()?.listen_port()?,
            };
            peak_day::growth::data_growth(&paths, &settings).await?
        }
        "signed-links" => {
            let count = args.positive("--count", 10_000)?;
            args.done()?;
            signed_links::signed_links(&paths, count)?;
            true
        }
        "scanner-fixture" => {
            args.done()?;
            signed_links::scanner_fixture();
            true
        }
        "token" => {
            args.done()?;
            println!("{}", random_token());
            true
        }
        other => return Err(Error::Usage(format!("unknown command {other:?}"))),
    };
    Ok(outcome)
}

/// `--stops`: stored-permit counts, each positive, larger than the one before and at most
/// `MOST_STORED`.
fn stops(text: &str) -> Result<Vec<u64>, Error> {
    let mut stops: Vec<u64> = Vec::new();
    for part in text.split(',') {
        match part.trim().parse::<u64>() {
            Ok(stop) if stop > stops.last().copied().unwrap_or(0) && stop <= peak_day::growth::MOST_STORED => {
                stops.push(stop)
            }
            _ => {
                return Err(Error::Usage(format!(
                    "--stops {text:?}: counts of permits, each larger than the one before, at most {}",
                    peak_day::growth::MOST_STORED
                )));
            }
        }
    }
    Ok(stops)
}

fn database(args: &mut Arguments) -> Result<(String, String), Error> {
    let port = settings::number("LOCAL_DB_PORT", topology::DEFAULT_DB_PORT, 1..=u16::MAX)?;
    let uri = args.value("--uri")?.unwrap_or(format!("mongodb://127.0.0.1:{port}"));
    let database = args.value("--db")?.unwrap_or_else(|| "permisos".into());
    Ok((uri, database))
}

/// The command line, taken apart as commands ask for their pieces; `done` refuses leftovers.
struct Arguments {
    rest: Vec<String>,
}

impl Arguments {
    fn new(arguments: &[String]) -> Arguments {
        Arguments {
            rest: arguments.to_vec(),
        }
    }

    fn positional(&mut self) -> Option<String> {
        let at = self.rest.iter().position(|a| !a.starts_with("--"))?;
        Some(self.rest.remove(at))
    }

    fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, Error> {
        let Some(at) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if at + 1 >= self.rest.len() {
            return Err(Error::Usage(format!("{name} needs a value")));
        }
        let value = self.rest.remove(at + 1);
        self.rest.remove(at);
        Ok(Some(value))
    }

    /// `name`'s value, a positive whole number, or `default`.
    fn positive(&mut self, name: &str, default: usize) -> Result<usize, Error> {
        match self.value(name)? {
            None => Ok(default),
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::Usage(format!("{name} {n:?} is not a positive number"))),
        }
    }

    fn done(&self) -> Result<(), Error> {
        match self.rest.first() {
            None => Ok(()),
            Some(extra) => Err(Error::Usage(format!("unexpected argument {extra:?}"))),
        }
    }
}

/// A step of a long task, as the scripts print them.
pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// 32 random bytes, URL-safe base64: an operator token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Arguments {
        Arguments::new(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn arguments_are_taken_in_any_order_and_leftovers_refused() {
        let mut a = args("audit rec.jsonl --max-ms 2000 report.json --outage");
        assert_eq!(a.positional().as_deref(), Some("audit"));
        assert_eq!(a.value("--max-ms").unwrap().as_deref(), Some("2000"));
        assert!(a.flag("--outage"));
        assert!(!a.flag("--no-errors"));
        assert_eq!(a.positional().as_deref(), Some("rec.jsonl"));
        assert_eq!(a.positional().as_deref(), Some("report.json"));
        assert!(a.done().is_ok());
        let mut b = args("stop issuer-1 --soon");
        b.positional();
        b.positional();
        assert!(b.done().unwrap_err().to_string().contains("\"--soon\""));
        assert!(args("seed --uri").value("--uri").is_err());
    }

    #[test]
    fn stops_must_grow() {
        assert_eq!(stops("10,200, 3000").unwrap(), vec![10, 200, 3000]);
        for wrong in ["0,10", "10,10", "100,20", "10,", "diez", "10,80000001"] {
            assert!(stops(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
