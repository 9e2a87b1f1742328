//! Load through the entrance: the one artillery runner (`artillery`), the case study's
//! experiment with it (`load_test`), the audit of a recorded run (`audit`), and Chile's
//! record day replayed open-loop (`peak_day`).

pub mod artillery;
pub mod audit;
pub mod peak_day;

use std::path::Path;
use std::process::Command;

use crate::console::step;
use crate::error::Error;
use crate::paths::Paths;
use crate::settings;
use crate::topology::{self, Topology, monitoring, usage};
use artillery::Environment;

/// What `make load-test` asks for.
pub struct LoadTest {
    pub environment: Environment,
    /// Another entrance; without it, a fresh local topology (curfew off, so it works at any
    /// hour) that is brought down after, unless `keep_up`.
    pub target: Option<String>,
    pub build: bool,
    pub keep_up: bool,
}

/// The case study's artillery experiment, summarised in the case study's own table and
/// charted beside its report; false when artillery's ensure checks (or, with MONITORING=1,
/// a dashboard query) failed.
pub fn load_test(paths: &Paths, test: &LoadTest) -> Result<bool, Error> {
    let environment = test.environment.name();
    let (target, local) = match &test.target {
        Some(target) => (target.clone(), None),
        None => {
            let mut settings = Topology::from_env()?;
            settings.env.push(("PERMIT_CURFEW".into(), "off".into()));
            let (port, monitored) = (settings.listen_port()?, settings.prometheus_port);
            let up = topology::Fresh::up(paths, settings, test.build)?;
            (format!("http://127.0.0.1:{port}"), Some((up, monitored)))
        }
    };
    let out = paths.run_dir().join("load");
    std::fs::create_dir_all(&out).map_err(Error::io("creating .run/load"))?;
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let name = format!("{environment}-{stamp}");
    step(&format!(
        "running artillery, environment {environment}, against {target}"
    ));
    let run = artillery::Run {
        scenario: artillery::Scenario::Permisos,
        environment: test.environment,
        target: &target,
        issuer_host: &settings::or("ISSUER_HOST", "formulario.localhost"),
        validator_host: &settings::or("VALIDATOR_HOST", "validar.localhost"),
        citizens: 10_000,
        out: &out,
        name: &name,
    }
    .start(paths)?;
    let (status, run) = run.finish()?;
    let log = std::fs::read_to_string(&run.log).unwrap_or_default();
    let checks: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("ok:") || l.starts_with("fail:"))
        .collect();
    if checks.is_empty() {
        println!("{}", crate::process::tail(&run.log, 20));
    } else {
        println!("{}", checks.join("\n"));
    }
    let shown = run.report.strip_prefix(&paths.root).unwrap_or(&run.report);
    step(&format!("summary (report: {})", shown.display()));
    external(
        Command::new("python3")
            .arg(paths.root.join("load/artillery/summarize.py"))
            .arg(&run.report)
            .arg(environment),
        "load/artillery/summarize.py",
    )?;
    chart(
        paths,
        &run.report,
        &out.join(format!("{name}.png")),
        &format!("make load-test ENV={environment} against {target} ({stamp})"),
        None,
    )?;
    let mut passed = status.success();
    if let Some((topology, monitored)) = local {
        println!();
        usage::usage(paths)?;
        // MONITORING=1: every dashboard panel's query, answered by the run's own metrics.
        if let Some(port) = monitored {
            passed &= monitoring::check_dashboard(paths, port)?;
        }
        if test.keep_up {
            topology.keep();
        }
    }
    Ok(passed)
}

/// A run's chart (load/charts.py, matplotlib in .venv) at `out`, with the events of a
/// fault scenario marked when given.
pub fn chart(paths: &Paths, report: &Path, out: &Path, title: &str, events: Option<&Path>) -> Result<(), Error> {
    let mut command = Command::new(paths.root.join(".venv/bin/python"));
    command.arg(paths.root.join("load/charts.py")).arg(report).arg(out);
    if let Some(events) = events {
        command.arg("--events").arg(events);
    }
    command.arg("--title").arg(title);
    external(
        &mut command,
        "load/charts.py (scripts/tools.sh charts installs matplotlib)",
    )
}

fn external(command: &mut Command, what: &str) -> Result<(), Error> {
    let status = command.status().map_err(Error::io(format!("running {what}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!("{what} failed ({status})")))
    }
}
