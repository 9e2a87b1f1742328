//! The command line: what each command takes, and how its result is shown.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::chaos::{self, Plan};
use crate::error::Error;
use crate::smoke::Entry;
use crate::wait::Target;
use crate::{audit, cluster, entrance, hosts, keys, operator_api, phases, smoke, status, wait};

const EXIT_CODES: &str = "Exit codes: 0 all well; 1 a check failed or something is unhealthy (each \
problem on its own line); 2 wrong usage, or the cluster or service could not be reached or \
refused (the reason is printed: no kubeconfig, API unreachable, forbidden).";

/// Operate the permisos system on Kubernetes: wait for it, check it, find it, try it,
/// break it on purpose and audit what it issued.
#[derive(Debug, Parser)]
#[command(name = "permisosctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The kubeconfig context to use (default: the current one; inside a pod, its
    /// service account). The kubeconfig is $KUBECONFIG or ~/.kube/config, as for kubectl.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The system's namespace.
    #[arg(long, short = 'n', global = true, default_value = "permisos")]
    pub namespace: String,
    /// `human` for people, `json` for scripts (one object on stdout, errors included).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Wait until MongoDB and its set-up Job, both services and the entrance's address are
    /// ready; stop at once, with the reason, when one of them cannot get there.
    Wait(WaitArgs),
    /// Every workload's replicas, pods per node, restarts, autoscalers, disruption
    /// budgets, MongoDB members and the entrance; one line per problem.
    Status,
    /// The /etc/hosts line for both hosts, from the cluster's Ingress or Gateway.
    Hosts,
    /// One citizen and one police check through the entrance, each step timed.
    Smoke(EntryArgs),
    /// Delete one random Ready pod at each tick, keeping every service serving and the
    /// replica set's majority; report how long each took to be replaced.
    Chaos(ChaosArgs),
    /// Compare the permits a load run was acknowledged with those the issuer lists
    /// since it began: lost or duplicated permits fail the audit.
    Audit(AuditArgs),
    /// Publish the health ministry's table of Paso a Paso changes, a CSV file with the
    /// header comuna,fase,desde,hora (hora empty: 05:00): every line checked first, nothing
    /// sent if one is wrong, then one publication per line in order.
    Phases(PhasesArgs),
    /// Permit signing keys for the manifests (no cluster needed).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new Ed25519 private key (PKCS#8 DER, base64, one line) for the issuer's
    /// PERMIT_SIGNING_KEY.
    New,
    /// Print a new PRIVACY_KEY for the issuer (32 random bytes, hex): the key of the RUT
    /// pseudonyms in the quota ledger and of the holders' links.
    Privacy,
    /// Print fresh secrets for an overlay, NAME=value lines (scripts/k8s-secrets.sh sorts
    /// them into database.env, issuer.env and operators.env): the operator token, MongoDB's users'
    /// passwords and replica-set key, a permit signing key and a privacy key, each random.
    SecretsEnv,
    /// Read a private key on stdin; print the JWK Set of its public key, plus the keys of
    /// each --keep set, for the validators' PERMIT_PUBLIC_KEYS.
    Public {
        /// A JWK Set whose keys stay accepted (the old key, during a rotation).
        #[arg(long, value_name = "JWKS_FILE")]
        keep: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// What to wait for: KIND/NAME (deployment, statefulset, daemonset, job) or
    /// `entrance`. Default: statefulset/mongodb job/mongodb-init deployment/issuer
    /// deployment/validator entrance.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<Target>,
    /// Give up after this long (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct EntryArgs {
    /// Where to send the requests, IP or IP:PORT (default: the entrance's LoadBalancer
    /// address; the local topology is 127.0.0.1:8080).
    #[arg(long, value_name = "IP[:PORT]")]
    pub ip: Option<String>,
    /// The hosts are formulario.DOMAIN, validar.DOMAIN and operadores.DOMAIN (default:
    /// the hosts the cluster routes; the local topology's domain is `localhost`).
    #[arg(long)]
    pub domain: Option<String>,
    /// Reach operadores.DOMAIN over HTTPS (default: when its Ingress has a certificate).
    #[arg(long)]
    pub https: bool,
}

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Whose pods are deleted (`all`: the issuer's, the validator's or MongoDB's, drawn
    /// at each tick).
    #[arg(long, value_enum)]
    pub target: chaos::Target,
    /// How often a pod is deleted.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub every: Duration,
    /// How long the run lasts (Ctrl-C stops it sooner).
    #[arg(long = "for", default_value = "2m", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long replacements may still take after the last deletion.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub settle: Duration,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The load run's start: a time (2026-11-30T10:00:00Z) or how long ago (30m).
    #[arg(long)]
    pub since: String,
    /// The answers the run recorded, one JSON object per line (load/artillery/fault-hooks.js).
    #[arg(long)]
    pub record: PathBuf,
    #[command(flatten)]
    pub operators: OperatorArgs,
}

/// How a command reaches the operators' API: the entrance and a named token.
#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// A named operator token of the *administración* role (`pmt_…`, made with `POST
    /// /api/operators` on operadores.DOMAIN), sent only over HTTPS or to a loopback address.
    #[arg(long, env = "PERMISOS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Send the token over plain HTTP to an address that is not loopback (a kind cluster
    /// on this machine's Docker network, which has no certificate).
    #[arg(long)]
    pub insecure: bool,
    #[command(flatten)]
    pub entry: EntryArgs,
}

#[derive(Debug, Args)]
pub struct PhasesArgs {
    /// The table: comuna (name or código único territorial), fase (code or 1–5), desde
    /// (2026-12-10), hora (HH:MM, or empty for 05:00), one change per line.
    #[arg(long)]
    pub file: PathBuf,
    /// Check the file and show what would be published; send nothing (no token needed).
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub operators: OperatorArgs,
}

/// `90s`, `10m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s or 10m"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

fn print<T: Serialize>(output: Output, value: &T, human: impl FnOnce(&T) -> String) {
    match output {
        Output::Human => print!("{}", human(value)),
        Output::Json => println!("{}", serde_json::to_string_pretty(value).unwrap_or_default()),
    }
}

/// Where smoke and audit send their requests: the flags when both are given (no cluster
/// needed), otherwise what the cluster's entrance says; with the client when it took one,
/// so a caller that needs the cluster too does not connect twice.
async fn entry(cli: &Cli, args: &EntryArgs) -> Result<(Entry, Option<kube::Client>), Error> {
    if let (Some(ip), Some(domain)) = (&args.ip, &args.domain) {
        let entry = Entry {
            address: ip.clone(),
            issuer_host: format!("formulario.{domain}"),
            validator_host: format!("validar.{domain}"),
            operator_host: format!("operadores.{domain}"),
            operator_tls: args.https,
        };
        return Ok((entry, None));
    }
    let client = cluster::connect(cli.context.as_deref()).await?;
    let found = entrance::find(&client, &cli.namespace)
        .await?
        .ok_or_else(|| Error::Unhealthy(format!("no Ingress or HTTPRoute in {}", cli.namespace)))?;
    let address = args
        .ip
        .clone()
        .or(found.address.clone())
        .ok_or_else(|| Error::Unhealthy(format!("{} has no LoadBalancer address yet; pass --ip", found.via)))?;
    let host = |prefix: &str| match &args.domain {
        Some(domain) => Ok(format!("{prefix}{domain}")),
        None => found
            .host(prefix)
            .map(str::to_owned)
            .ok_or_else(|| Error::Unhealthy(format!("{} routes no {prefix}… host; pass --domain", found.via))),
    };
    let operator_host = host("operadores.")?;
    let entry = Entry {
        address,
        issuer_host: host("formulario.")?,
        validator_host: host("validar.")?,
        operator_tls: args.https || found.tls_hosts.contains(&operator_host),
        operator_host,
    };
    Ok((entry, Some(client)))
}

fn http() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Usage(format!("an HTTP client: {e}")))
}

/// Runs the command. In JSON mode stdout holds one object: the command's report (also
/// when it found problems), or `{"error": …}` when there is none.
pub async fn run(cli: Cli) -> Result<(), Error> {
    match dispatch(&cli).await {
        Ok(None) => Ok(()),
        Ok(Some(finding)) => Err(finding),
        Err(error) => {
            if cli.output == Output::Json {
                let json = serde_json::json!({"error": error.to_string(), "exit": error.exit_code()});
                println!("{json}");
            }
            Err(error)
        }
    }
}

/// The finding after a printed report, if any; `Err` when no report could be made.
async fn dispatch(cli: &Cli) -> Result<Option<Error>, Error> {
    match &cli.command {
        Command::Wait(args) => wait_until_ready(cli, args).await,
        Command::Status => {
            let client = cluster::connect(cli.context.as_deref()).await?;
            let report = status::read(&client, &cli.namespace).await?;
            print(cli.output, &report, status::render);
            Ok(match report.problems.len() {
                0 => None,
                n => Some(Error::Unhealthy(format!("{n} problem(s) in {}", cli.namespace))),
            })
        }
        Command::Hosts => {
            let client = cluster::connect(cli.context.as_deref()).await?;
            let found = hosts::hosts(entrance::find(&client, &cli.namespace).await?).await?;
            print(cli.output, &found, hosts::render);
            Ok(None)
        }
        Command::Smoke(args) => {
            let (entry, _) = entry(cli, args).await?;
            let result = smoke::smoke(&http()?, &entry).await;
            print(cli.output, &result, smoke::render);
            Ok(result
                .failed()
                .map(|step| Error::Unhealthy(format!("smoke failed at \"{}\": {}", step.name, step.detail))))
        }
        Command::Chaos(args) => delete_pods(cli, args).await,
        Command::Keys(KeysCommand::New) => {
            println!("{}", keys::new_key());
            Ok(None)
        }
        Command::Keys(KeysCommand::Privacy) => {
            println!("{}", keys::privacy_key());
            Ok(None)
        }
        Command::Keys(KeysCommand::SecretsEnv) => {
            print!("{}", keys::secrets_env());
            Ok(None)
        }
        Command::Keys(KeysCommand::Public { keep }) => {
            println!("{}", keys::public(&read_stdin()?, &read_kept(keep)?)?);
            Ok(None)
        }
        Command::Audit(args) => audit_run(cli, args).await,
        Command::Phases(args) => load_phases(cli, args).await,
    }
}

/// The operators' API and the token `command` sends it, or why not.
async fn reach_operators(
    cli: &Cli,
    command: &str,
    args: &OperatorArgs,
) -> Result<(operator_api::Operators, String), Error> {
    let token = args.token.clone().ok_or_else(|| {
        Error::Usage(format!(
            "{command} needs a named operator token of the administración role: --token pmt_… or PERMISOS_TOKEN \
             (an administración operator makes one with POST /api/operators on operadores.<domain>)"
        ))
    })?;
    let (entry, _) = entry(cli, &args.entry).await?;
    Ok((operator_api::Operators::reach(&entry, args.insecure)?, token))
}

/// `phases`: the table checked, then published line by line (or only shown, `--dry-run`).
async fn load_phases(cli: &Cli, args: &PhasesArgs) -> Result<Option<Error>, Error> {
    let file = args.file.display();
    let size = std::fs::metadata(&args.file)
        .map_err(|e| Error::Usage(format!("--file {file}: {e}")))?
        .len();
    if size > phases::MAX_BYTES {
        return Err(Error::Usage(format!(
            "--file {file}: {size} bytes; a table is at most {} (1 MiB)",
            phases::MAX_BYTES
        )));
    }
    let text = std::fs::read_to_string(&args.file).map_err(|e| Error::Usage(format!("--file {file}: {e}")))?;
    let santiago = permit_domain::Rules::default().time_zone;
    let lines = phases::parse(&text, jiff::Timestamp::now(), &santiago)
        .map_err(|problems| Error::Usage(format!("--file {file}, nothing sent:\n  {}", problems.join("\n  "))))?;
    if args.dry_run {
        print(cli.output, &phases::dry_run(&lines), phases::render);
        return Ok(None);
    }
    let (operators, token) = reach_operators(cli, "phases", &args.operators).await?;
    match phases::load(&operators, &token, &lines).await {
        Ok(loaded) => {
            print(cli.output, &loaded, phases::render);
            Ok(None)
        }
        // The lines published before the refusal are reported, then the refusal.
        Err((loaded, error)) => {
            print(cli.output, &loaded, phases::render);
            Ok(Some(error))
        }
    }
}

/// `wait`: progress on stderr for people, the outcome on stdout.
async fn wait_until_ready(cli: &Cli, args: &WaitArgs) -> Result<Option<Error>, Error> {
    let client = cluster::connect(cli.context.as_deref()).await?;
    let targets = if args.targets.is_empty() {
        Target::system()
    } else {
        args.targets.clone()
    };
    let human = cli.output == Output::Human;
    let done = wait::wait(
        &client,
        &cli.namespace,
        &targets,
        args.timeout,
        Duration::from_secs(2),
        |elapsed, standing| {
            if human {
                eprintln!("{}", wait::render_progress(elapsed, standing));
            }
        },
    )
    .await?;
    print(cli.output, &done, wait::render);
    Ok(None)
}

/// `chaos`: each deletion on stderr for people, the summary on stdout.
async fn delete_pods(cli: &Cli, args: &ChaosArgs) -> Result<Option<Error>, Error> {
    let client = cluster::connect(cli.context.as_deref()).await?;
    let plan = Plan {
        target: args.target,
        every: args.every,
        duration: args.duration,
        settle: args.settle,
    };
    let stop = || async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let human = cli.output == Output::Human;
    let report = chaos::chaos(&client, &cli.namespace, &plan, stop, |line| {
        if human {
            eprintln!("{line}");
        }
    })
    .await?;
    print(cli.output, &report, |r| format!("{}\n", chaos::summary(r)));
    Ok(match report.unreplaced().len() {
        0 => None,
        n => Some(Error::Unhealthy(format!(
            "{n} deleted pod(s) not replaced within the settle time"
        ))),
    })
}

/// `audit`: the run's record against what the issuer lists, read with a named operator
/// token through the operators' entrance.
async fn audit_run(cli: &Cli, args: &AuditArgs) -> Result<Option<Error>, Error> {
    let text = std::fs::read_to_string(&args.record)
        .map_err(|e| Error::Usage(format!("--record {}: {e}", args.record.display())))?;
    let record = load_record::Record::parse(&text)
        .map_err(|e| Error::Usage(format!("--record {}: {e}", args.record.display())))?;
    let since =
        audit::parse_since(&args.since, jiff::Timestamp::now()).map_err(|e| Error::Usage(format!("--since: {e}")))?;
    let (operators, token) = reach_operators(cli, "audit", &args.operators).await?;
    let listed = audit::list_since(&operators, &token, since).await?;
    let result = audit::compare(&record, &listed);
    print(cli.output, &result, |a| audit::render(a, &since));
    Ok(if result.passed() {
        None
    } else if result.acknowledged == 0 {
        Some(Error::Unhealthy(
            "the record holds no acknowledged permit; nothing was audited".into(),
        ))
    } else {
        Some(Error::Unhealthy("permits lost or duplicated".into()))
    })
}

/// `keys public`: the private key, on standard input.
fn read_stdin() -> Result<String, Error> {
    let mut private = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut private)
        .map_err(|e| Error::Usage(format!("reading the private key on stdin: {e}")))?;
    Ok(private)
}

/// `keys public --keep`: each kept JWK Set with the path it came from.
fn read_kept(keep: &[PathBuf]) -> Result<Vec<(String, String)>, Error> {
    keep.iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|e| Error::Usage(format!("--keep {}: {e}", path.display())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("m").is_err());
    }
}
