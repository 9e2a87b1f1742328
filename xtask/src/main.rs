//! The project's local supervisor (`cargo xtask`, behind the Makefile's targets): it starts
//! and stops SecantusDB, the services and nginx, waits for readiness, keeps pids and logs
//! under .run/, and writes and audits test data through permit-store.

mod bench;
mod console;
mod error;
mod fault;
mod load;
mod net;
mod paths;
mod process;
mod secrets;
mod seed;
mod settings;
mod topology;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::load::artillery::Environment;
use crate::load::peak_day;
use crate::paths::Paths;
use crate::topology::{Part, monitoring, run, usage, with_db};

/// The project's local supervisor and test-data tool (behind the Makefile's targets).
#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    after_help = "--uri defaults to the local topology's database, --db to permisos."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// SecantusDB, the issuer and the validator (release) in the foreground until Ctrl-C
    /// (make run); ISSUER_PORT, VALIDATOR_PORT and DB_PORT move them, admin ports are 1000 above
    Run,
    /// The local topology: SecantusDB, REPLICAS issuers and validators, nginx on LISTEN
    /// (make local-up; also LOCAL_DB_PORT, PROFILE, CPUSET)
    Up {
        /// Use the binaries already built
        #[arg(long)]
        no_build: bool,
    },
    /// Stop exactly what `up` started (make local-down)
    Down,
    /// Each part, its pid, whether it lives and is ready (make local-status)
    Status,
    /// Start one part again: db, prometheus, issuer-N or validator-N
    Start {
        #[arg(value_parser = part)]
        part: Part,
    },
    /// Stop one part, with SIGTERM (waiting for it) or SIGKILL
    Stop {
        #[arg(value_parser = part)]
        part: Part,
        #[arg(long)]
        kill: bool,
    },
    /// The fault suite: faults injected under artillery load into a fresh local topology
    /// each, every answer audited (make fault-test)
    Fault {
        /// Comma-separated: kill, rolling, database
        #[arg(long, default_value = "kill,rolling,database", value_parser = scenarios)]
        scenarios: Scenarios,
        /// medium or stress
        #[arg(long, value_enum, default_value = "medium")]
        load: Environment,
    },
    /// The case study's artillery experiment, summarised in its table and charted (make
    /// load-test); without --target against a fresh local topology, brought down after
    LoadTest {
        #[arg(long = "env", value_enum, default_value = "smoke")]
        environment: Environment,
        /// http://<address>: another entrance (the MetalLB IP); ISSUER_HOST and
        /// VALIDATOR_HOST name the hosts
        #[arg(long)]
        target: Option<String>,
        /// Use the binaries already built
        #[arg(long)]
        no_build: bool,
        /// Leave the local topology up after the run
        #[arg(long)]
        keep_up: bool,
    },
    /// The cluster twin of `fault`: faults.yml through the cluster's entrance while
    /// `permisosctl chaos` deletes pods, then `permisosctl audit` (make cluster-fault-test)
    ClusterFault(fault::cluster::Settings),
    /// Store an expired and a not-yet-valid permit; print their ids
    Seed {
        #[command(flatten)]
        database: Database,
    },
    /// Check a fault-suite run against the database
    Audit {
        record: PathBuf,
        report: PathBuf,
        #[command(flatten)]
        database: Database,
        #[arg(long)]
        no_errors: bool,
        #[arg(long)]
        outage: bool,
        #[arg(long)]
        max_ms: Option<f64>,
    },
    /// CPU time and peak memory of each kind of process of the topology
    Usage,
    /// Start-up time and memory of the release binaries (make bench-runtime)
    BenchRuntime {
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
    /// Write .run/monitoring/rules.yaml (the PrometheusRule's rules) and
    /// dashboard-queries.yaml (every dashboard panel's query), for promtool
    MonitoringRules,
    /// Run every dashboard query against the local Prometheus (MONITORING=1): which return data
    DashboardCheck,
    /// Print a fresh random token (43 URL-safe characters)
    Token,
    /// Chile's record day (1.29 M permit requests) replayed open-loop against the running
    /// local topology (make peak-day); .run/peak-day/result.json. It holds with no error
    /// and p99 under 250 ms
    PeakDay {
        /// Times faster than the day itself
        #[arg(long, default_value_t = 18.0, value_parser = positive)]
        speed: f64,
        /// The share of the day's volume
        #[arg(long, default_value_t = 1.0, value_parser = scale)]
        scale: f64,
        /// Hold with no error, whatever the latency
        #[arg(long)]
        errors_only: bool,
    },
    /// Permits stored through the running local topology up to each stop; at each, creates
    /// and checks by code probed open-loop, collection sizes and every query's plan (make
    /// data-growth); .run/data-growth/result.json. It holds with no probe error and no
    /// service query scanning or sorting the collection
    DataGrowth {
        #[arg(long, default_value = "10000,100000,1000000,1291970", value_parser = stops)]
        stops: Stops,
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=peak_day::growth::MOST_PROBE_SECONDS as u64))]
        probe_seconds: u64,
    },
    /// N distinct signed validation paths (/v/{token}) for the capacity benchmark, with this
    /// checkout's key; the Ed25519 cost on stderr
    SignedLinks {
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
    },
    /// A JWK Set and tokens signed with a fresh key, for the scanner's script test
    ScannerFixture,
    /// Run COMMAND against a fresh local topology (the settings of `up`), brought down after;
    /// its exit status is ours. COMMAND finds LOCAL_TOPOLOGY set to nginx's address
    WithTopology {
        /// Use the binaries already built
        #[arg(long)]
        no_build: bool,
        /// Store an expired and a not-yet-valid permit first, their ids in SEEDED_PERMITS
        #[arg(long)]
        seed: bool,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run COMMAND with MONGODB_URI set to a throw-away SecantusDB (unless MONGODB_URI is set
    /// already); its exit status is ours
    WithDb {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

/// `--uri` and `--db`, for the commands that read or write permits.
#[derive(clap::Args)]
struct Database {
    #[arg(long)]
    uri: Option<String>,
    #[arg(long, default_value = "permisos")]
    db: String,
}

impl Database {
    fn uri(&self) -> Result<String, Error> {
        let port = settings::number("LOCAL_DB_PORT", topology::DEFAULT_DB_PORT, 1..=u16::MAX)?;
        Ok(self.uri.clone().unwrap_or(format!("mongodb://127.0.0.1:{port}")))
    }
}

#[derive(Clone)]
struct Scenarios(Vec<fault::local::Scenario>);

#[derive(Clone)]
struct Stops(Vec<u64>);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match runtime.block_on(dispatch(cli.command)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs one command; `Ok(false)` when it ran and found a failure (an audit).
async fn dispatch(command: Command) -> Result<bool, Error> {
    let paths = Paths::new();
    match command {
        Command::Run => run::run(&paths).await?,
        Command::Up { no_build } => topology::up(&paths, topology::Topology::from_env()?, !no_build)?,
        Command::Down => topology::down(&paths),
        Command::Status => topology::status(&paths),
        Command::Start { part } => {
            let pid = topology::start(&paths, part)?;
            println!("{part} started (pid {pid})");
        }
        Command::Stop { part, kill } => {
            let pid = topology::stop(&paths, part, kill)?;
            println!("{part} stopped (pid {pid}{})", if kill { ", SIGKILL" } else { "" });
        }
        Command::Fault { scenarios, load } => return fault::local::fault(&paths, &scenarios.0, load).await,
        Command::LoadTest {
            environment,
            target,
            no_build,
            keep_up,
        } => {
            let test = load::LoadTest {
                environment,
                target,
                build: !no_build,
                keep_up,
            };
            return load::load_test(&paths, &test);
        }
        Command::ClusterFault(settings) => return fault::cluster::cluster_fault(&paths, &settings).await,
        Command::Seed { database } => println!("{}", seed::seed(&database.uri()?, &database.db).await?),
        Command::WithTopology {
            no_build,
            seed,
            command,
        } => {
            return topology::with_topology(&paths, !no_build, seed, &command).await;
        }
        Command::Audit {
            record,
            report,
            database,
            no_errors,
            outage,
            max_ms,
        } => {
            let checks = load::audit::Checks {
                no_errors,
                outage,
                max_ms,
            };
            let verdict = load::audit::audit(&record, &report, &database.uri()?, &database.db, &checks).await?;
            println!("{}", verdict.json);
            return Ok(verdict.passed);
        }
        Command::Usage => usage::usage(&paths)?,
        Command::BenchRuntime { runs } => bench::runtime::bench_runtime(&paths, runs as usize)?,
        Command::MonitoringRules => {
            let (rules, queries) = monitoring::write_rule_files(&paths)?;
            println!("{}\n{}", rules.display(), queries.display());
        }
        Command::DashboardCheck => {
            let port = settings::number("PROMETHEUS_PORT", 9090, 1..=u16::MAX)?;
            return monitoring::check_dashboard(&paths, port);
        }
        Command::Token => println!("{}", secrets::random_token()),
        Command::PeakDay {
            speed,
            scale,
            errors_only,
        } => {
            let settings = peak_day::Settings {
                speed,
                scale,
                port: topology::Topology::from_env()?.listen_port()?,
                latency_bound: !errors_only,
            };
            return peak_day::peak_day(&paths, &settings).await;
        }
        Command::DataGrowth { stops, probe_seconds } => {
            let settings = peak_day::growth::Settings {
                stops: stops.0,
                probe_seconds: probe_seconds as f64,
                port: topology::Topology::from_env()?.listen_port()?,
            };
            return peak_day::growth::data_growth(&paths, &settings).await;
        }
        Command::SignedLinks { count } => bench::signed_links::signed_links(&paths, count as usize)?,
        Command::ScannerFixture => bench::signed_links::scanner_fixture(),
        Command::WithDb { command } => return with_db::with_db(&paths, &command),
    }
    Ok(true)
}

fn part(name: &str) -> Result<Part, String> {
    Part::parse(name).ok_or_else(|| format!("no part {name:?}: db, nginx, prometheus, issuer-N or validator-N"))
}

/// `--scenarios`: names separated by commas or spaces.
fn scenarios(text: &str) -> Result<Scenarios, String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|name| !name.is_empty())
        .map(|name| {
            fault::local::Scenario::parse(name)
                .ok_or_else(|| format!("unknown scenario {name:?}: kill, rolling, database"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Scenarios)
}

fn positive(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0 && n.is_finite())
        .ok_or_else(|| format!("{text:?} is not a positive number"))
}

/// `--scale`: positive, and at most `MOST_SCALE` so every generated body stays a RUT.
fn scale(text: &str) -> Result<f64, String> {
    let scale = positive(text)?;
    if scale > peak_day::MOST_SCALE {
        return Err(format!("{scale} is over {}", peak_day::MOST_SCALE));
    }
    Ok(scale)
}

/// `--stops`: stored-permit counts, each positive, larger than the one before and at most
/// `MOST_STORED`.
fn stops(text: &str) -> Result<Stops, String> {
    let mut stops: Vec<u64> = Vec::new();
    for part in text.split(',') {
        match part.trim().parse::<u64>() {
            Ok(stop) if stop > stops.last().copied().unwrap_or(0) && stop <= peak_day::growth::MOST_STORED => {
                stops.push(stop)
            }
            _ => {
                return Err(format!(
                    "{text:?}: counts of permits, each larger than the one before, at most {}",
                    peak_day::growth::MOST_STORED
                ));
            }
        }
    }
    Ok(Stops(stops))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_are_taken_in_any_order_and_leftovers_refused() {
        let audit = parse("audit rec.jsonl --max-ms 2000 report.json --outage").unwrap();
        let Command::Audit {
            record,
            max_ms,
            outage,
            no_errors,
            ..
        } = audit.command
        else {
            panic!("an audit")
        };
        assert_eq!(
            (record.to_str(), max_ms, outage, no_errors),
            (Some("rec.jsonl"), Some(2000.0), true, false)
        );
        let with_db = parse("with-db cargo test --workspace -- --include-ignored").unwrap();
        let Command::WithDb { command } = with_db.command else {
            panic!("with-db")
        };
        assert_eq!(command, ["cargo", "test", "--workspace", "--", "--include-ignored"]);
        for wrong in [
            "stop issuer-1 --soon",
            "seed --uri",
            "with-db",
            "fault --scenarios kill,explode",
            "peak-day --scale 51",
            "peak-day --speed -1",
            "data-growth --probe-seconds 601",
        ] {
            assert!(parse(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn stops_must_grow() {
        assert_eq!(stops("10,200, 3000").unwrap().0, vec![10, 200, 3000]);
        for wrong in ["0,10", "10,10", "100,20", "10,", "diez", "10,80000001"] {
            assert!(stops(wrong).is_err(), "{wrong}");
        }
    }
}
