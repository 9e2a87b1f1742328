//! The one way this project runs artillery: a scenario of `load/artillery/` with one of its
//! environments (the case study's phases), against a target with the two host names, over
//! synthetic citizens written beside the report; in the background, so a fault can be
//! injected meanwhile. `make load-test`, `make fault-test` and `make cluster-fault-test`
//! all start it here.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use permit_domain::Rut;

use crate::error::Error;
use crate::paths::Paths;
use crate::process;

/// A scenario file of `load/artillery/`.
#[derive(Clone, Copy)]
pub enum Scenario {
    /// The case study's experiment: the form, the API and checks, with ensure checks.
    Permisos,
    /// The same traffic, every answer recorded for the audit, creates retried as a client would.
    Faults,
}

impl Scenario {
    fn file(self) -> &'static str {
        match self {
            Scenario::Permisos => "load/artillery/permisos.yml",
            Scenario::Faults => "load/artillery/faults.yml",
        }
    }
}

/// The phases of a scenario (its `environments`): the case study's loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Smoke,
    Low,
    Medium,
    High,
    Stress,
}

impl Environment {
    pub fn name(self) -> &'static str {
        match self {
            Environment::Smoke => "smoke",
            Environment::Low => "low",
            Environment::Medium => "medium",
            Environment::High => "high",
            Environment::Stress => "stress",
        }
    }
}

/// Where and how hard.
pub struct Run<'a> {
    pub scenario: Scenario,
    pub environment: Environment,
    /// `http://<address>[:port]`, the entrance.
    pub target: &'a str,
    pub issuer_host: &'a str,
    pub validator_host: &'a str,
    pub citizens: u32,
    /// The folder of the run's files, each named `<name>-…`.
    pub out: &'a Path,
    pub name: &'a str,
}

/// An artillery run in flight, and where it writes.
pub struct Artillery {
    pub child: Child,
    pub report: PathBuf,
    pub log: PathBuf,
    /// The answers the fault hooks record, one JSON line each (`Faults` only).
    pub record: Option<PathBuf>,
}

impl Run<'_> {
    pub fn start(&self, paths: &Paths) -> Result<Artillery, Error> {
        let file = |suffix: &str| self.out.join(format!("{}-{suffix}", self.name));
        let (citizens, report, log, record) = (
            file("citizens.csv"),
            file("artillery.json"),
            file("artillery.log"),
            file("answers.jsonl"),
        );
        // A seed per minute: every run gets RUTs no earlier run of the week used.
        let seed = jiff::Timestamp::now().as_second().unsigned_abs() / 60;
        std::fs::write(&citizens, citizens_csv(seed, self.citizens)).map_err(Error::io("writing the citizens"))?;
        let record = match self.scenario {
            Scenario::Faults => {
                File::create(&record).map_err(Error::io("creating the answer record"))?;
                Some(record)
            }
            Scenario::Permisos => None,
        };
        let output = File::create(&log).map_err(Error::io("creating the artillery log"))?;
        let mut command = Command::new(paths.root.join("node_modules/.bin/artillery"));
        if let Some(record) = &record {
            command.env("FAULT_RECORD", record);
        }
        let child = command
            .args(["run", "--environment", self.environment.name(), "--output"])
            .arg(&report)
            .arg(self.scenario.file())
            .current_dir(&paths.root)
            .env("TARGET", self.target)
            .env("ISSUER_HOST", self.issuer_host)
            .env("VALIDATOR_HOST", self.validator_host)
            .env("CITIZENS", relative_to_scenarios(paths, &citizens)?)
            .env("ARTILLERY_DISABLE_TELEMETRY", "true")
            .env(
                "NODE_OPTIONS",
                format!(
                    "--require {}",
                    paths.root.join("load/artillery/no-telemetry.js").display()
                ),
            )
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(Error::io("cloning a log handle"))?)
            .stderr(output)
            .spawn()
            .map_err(Error::io("starting artillery (scripts/tools.sh node installs it)"))?;
        Ok(Artillery {
            child,
            report,
            log,
            record,
        })
    }
}

/// Artillery reads a payload relative to the scenario's folder, even an absolute path.
fn relative_to_scenarios(paths: &Paths, file: &Path) -> Result<PathBuf, Error> {
    let inside = file
        .strip_prefix(&paths.root)
        .map_err(|_| Error::Failed(format!("{} is outside the checkout", file.display())))?;
    Ok(Path::new("../..").join(inside))
}

impl Artillery {
    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the end; a run that wrote no report is an error showing its log's end.
    pub fn finish(mut self) -> Result<(ExitStatus, Artillery), Error> {
        let status = self.child.wait().map_err(Error::io("waiting for artillery"))?;
        if !self.report.exists() {
            return Err(Error::Failed(format!(
                "artillery wrote no report ({status}); the end of its log ({}):\n{}",
                self.log.display(),
                process::tail(&self.log, 20)
            )));
        }
        Ok((status, self))
    }
}

const FIRST: [&str; 18] = [
    "Juan",
    "María",
    "José",
    "Francisca",
    "Luis",
    "Catalina",
    "Carlos",
    "Valentina",
    "Jorge",
    "Camila",
    "Pedro",
    "Javiera",
    "Diego",
    "Fernanda",
    "Andrés",
    "Constanza",
    "Felipe",
    "Ignacia",
];
const LAST: [&str; 18] = [
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Pérez",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Rodríguez",
    "López",
    "Fuentes",
    "Hernández",
    "Torres",
    "Araya",
    "Flores",
];
const STREETS: [&str; 10] = [
    "Av. Grecia",
    "Av. Vicuña Mackenna",
    "Los Aromos",
    "Pasaje Las Lilas",
    "Av. Matta",
    "Santa Rosa",
    "Gran Avenida",
    "Av. Recoleta",
    "Independencia",
    "Av. Pajaritos",
];
const COMUNAS: [&str; 12] = [
    "Santiago",
    "Ñuñoa",
    "Maipú",
    "Puente Alto",
    "La Florida",
    "Recoleta",
    "Independencia",
    "San Miguel",
    "Estación Central",
    "Peñalolén",
    "Quilicura",
    "Pudahuel",
];
/// Motives of the catalogue (crates/domain/src/motive.rs) without a cap of their own.
const MOTIVES: [&str; 8] = [
    "compras",
    "atencion-medica",
    "servicios-basicos",
    "banco",
    "paseo-mascotas",
    "funeral",
    "asistencia-terceros",
    "citacion-judicial",
];
const FIRST_BODY: u64 = 5_000_000;
const BODIES: u64 = 90_000_000;

/// `count` synthetic citizens as artillery's payload (a header, then name, RUT, motive,
/// address, comuna): valid RUTs, real motives, plausible addresses. The same seed and count
/// always give the same file, and seeds give disjoint RUT ranges (`seed * count` onwards),
/// so runs with different seeds never share a RUT and never meet the weekly limit.
pub fn citizens_csv(seed: u64, count: u32) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut csv = String::from("name,rut,motive,address,comuna\n");
    for i in 0..u64::from(count) {
        let body = FIRST_BODY + (seed.wrapping_mul(u64::from(count)) + i) % BODIES;
        let rut = u32::try_from(body)
            .ok()
            .and_then(Rut::from_body)
            .expect("bodies stay under 95 million");
        let name = format!(
            "{} {} {}",
            rng.choice(FIRST).unwrap(),
            rng.choice(LAST).unwrap(),
            rng.choice(LAST).unwrap()
        );
        let address = format!("{} {}", rng.choice(STREETS).unwrap(), rng.u32(1..=9999));
        let (motive, comuna) = (rng.choice(MOTIVES).unwrap(), rng.choice(COMUNAS).unwrap());
        csv.push_str(&format!("{name},{rut},{motive},{address},{comuna}\n"));
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citizens_are_valid_repeatable_and_disjoint_between_seeds() {
        let first = citizens_csv(7, 500);
        assert_eq!(first, citizens_csv(7, 500));
        let ruts = |csv: &str| -> Vec<String> {
            csv.lines()
                .skip(1)
                .map(|line| line.split(',').nth(1).unwrap().to_owned())
                .collect()
        };
        let (a, b) = (ruts(&first), ruts(&citizens_csv(8, 500)));
        assert_eq!(a.len(), 500);
        for rut in &a {
            assert!(Rut::parse(rut).is_ok(), "{rut}");
            assert!(!b.contains(rut), "{rut} in two seeds' runs");
        }
        for line in first.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 5, "{line}");
            assert!(MOTIVES.contains(&fields[2]), "{line}");
        }
    }
}
