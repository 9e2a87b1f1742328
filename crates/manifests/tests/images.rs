//! The two images as their pods run them. Each container is started with exactly the
//! security settings, limits, ports and environment its Deployment in the rendered kind
//! overlay gives it (secrets and the database address replaced by test values), on the
//! host's network against the test database; then: the probes answer on the manifest's
//! ports and paths, a permit is issued through the issuer's container and checked through
//! the validator's (its signed link and its code), the process runs as the manifest's user
//! with no capability, nothing is written to the image, and `docker stop` drains (readiness
//! 503, then exit 0 within the grace period). And what the next features need at run
//! time: the image's CA bundle verifies a real certificate chain, and `America/Santiago`
//! resolves.
//!
//! Needs a Docker engine and the images `scripts/images.sh build` made (tags in
//! .run/kind-images.env): `make test` runs it after building them, and skips its tests
//! (named `pod_image_…`) in the workspace's run before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, HTTPGetAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manifests::{Manifests, root};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::{Value, json};

/// A real server chain (cloudflare-dns.com, issued by DigiCert TLS Hybrid ECC SHA384 2020
/// CA1 under DigiCert Global Root CA), valid on 2022-09-18; from rustls/webpki's tests.
const CHAIN_LEAF: &[u8] = include_bytes!("fixtures/cloudflare-dns.ee.der");
const CHAIN_INTERMEDIATE: &[u8] = include_bytes!("fixtures/cloudflare-dns.inter.der");
const CHAIN_VALID_AT: u64 = 1_663_495_771;

fn docker() -> Command {
    Command::new(std::env::var("DOCKER").unwrap_or_else(|_| "/usr/bin/docker".into()))
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("the docker client runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `permisos/<service>:<tag>` as scripts/images.sh tagged it.
fn image(service: &str) -> String {
    let tags = std::fs::read_to_string(root().join(".run/kind-images.env"))
        .expect(".run/kind-images.env: build the images first (scripts/images.sh build)");
    let tag = tags
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{service}=")))
        .unwrap_or_else(|| panic!("no {service} tag in .run/kind-images.env"));
    format!("permisos/{service}:{tag}")
}

/// The container a Deployment runs, and what the pod around it says.
struct Pod {
    container: Container,
    user: i64,
    group: i64,
    grace_seconds: i64,
}

impl Pod {
    fn of(manifests: &Manifests, name: &str) -> Pod {
        let deployment = manifests
            .all::<Deployment>("Deployment")
            .into_iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no Deployment {name}"));
        let spec = deployment.spec.unwrap().template.spec.unwrap();
        let security = spec.security_context.expect("a pod securityContext");
        Pod {
            container: spec.containers.into_iter().find(|c| c.name == name).unwrap(),
            user: security.run_as_user.expect("runAsUser"),
            group: security.run_as_group.expect("runAsGroup"),
            grace_seconds: spec
                .termination_grace_period_seconds
                .expect("terminationGracePeriodSeconds"),
        }
    }

    fn port(&self, name: &str) -> u16 {
        let port = self
            .container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{}: no port {name}", self.container.name));
        u16::try_from(port.container_port).unwrap()
    }

    /// Where an HTTP probe asks, on the loopback address.
    fn probe(&self, probe: Option<&k8s_openapi::api::core::v1::Probe>) -> String {
        let HTTPGetAction { path, port, .. } = probe.and_then(|p| p.http_get.clone()).expect("an HTTP probe");
        let port = match port {
            IntOrString::String(name) => self.port(&name),
            IntOrString::Int(n) => u16::try_from(n).unwrap(),
        };
        format!("http://127.0.0.1:{port}{}", path.expect("a probe path"))
    }

    /// The container's environment as the kubelet would set it: the ConfigMap, then `env`
    /// in order (`$(NAME)` expanded), secrets and key sets from `values`; then `overrides`.
    fn env(
        &self,
        config: &BTreeMap<String, String>,
        values: &BTreeMap<&str, String>,
        overrides: &[(&str, String)],
    ) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = Vec::new();
        let from_config = self
            .container
            .env_from
            .iter()
            .flatten()
            .any(|e| e.config_map_ref.is_some());
        if from_config {
            env.extend(config.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for var in self.container.env.iter().flatten() {
            let value = match (&var.value, &var.value_from) {
                (Some(value), _) => env
                    .iter()
                    .fold(value.clone(), |text, (k, v)| text.replace(&format!("$({k})"), v)),
                (None, Some(from)) => {
                    let key = from
                        .secret_key_ref
                        .as_ref()
                        .map(|s| s.key.clone())
                        .or_else(|| from.config_map_key_ref.as_ref().map(|c| c.key.clone()))
                        .expect("a secret or ConfigMap key");
                    values
                        .get(key.as_str())
                        .unwrap_or_else(|| panic!("no test value for {key}"))
                        .clone()
                }
                (None, None) => String::new(),
            };
            env.retain(|(k, _)| *k != var.name);
            env.push((var.name.clone(), value));
        }
        for (name, value) in overrides {
            env.retain(|(k, _)| k != name);
            env.push(((*name).to_owned(), value.clone()));
        }
        env
    }

    /// `docker run` with the pod's settings: its user, a read-only root, every capability
    /// dropped, no privilege escalation, the memory and CPU limits, the grace period.
    fn start(&self, image: &str, name: &str, env: &[(String, String)]) -> Running {
        let context = self
            .container
            .security_context
            .as_ref()
            .expect("a container securityContext");
        assert_eq!(context.read_only_root_filesystem, Some(true));
        assert_eq!(context.allow_privilege_escalation, Some(false));
        let dropped = context
            .capabilities
            .as_ref()
            .and_then(|c| c.drop.clone())
            .unwrap_or_default();
        assert_eq!(dropped, ["ALL"]);
        let limits = self
            .container
            .resources
            .as_ref()
            .and_then(|r| r.limits.clone())
            .expect("limits");
        let memory = limits["memory"].0.replace("Mi", "m");
        let mut command = docker();
        command
            .args(["run", "--detach", "--name", name, "--network", "host", "--read-only"])
            .args(["--user", &format!("{}:{}", self.user, self.group)])
            .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"])
            .args(["--memory", &memory, "--cpus", &limits["cpu"].0])
            .args(["--stop-timeout", &self.grace_seconds.to_string()]);
        // Values travel in the client's environment, not on its command line.
        for (key, value) in env {
            command.arg("--env").arg(key).env(key, value);
        }
        run(command.arg(image));
        Running { name: name.to_owned() }
    }
}

/// A container this test started; removed when dropped.
struct Running {
    name: String,
}

impl Running {
    fn inspect(&self, format: &str) -> String {
        text(run(docker().args(["inspect", "--format", format, &self.name])))
    }

    fn logs(&self) -> String {
        let output = docker().args(["logs", &self.name]).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// What the kernel says of the container's process.
    fn process_status(&self) -> BTreeMap<String, String> {
        let pid = self.inspect("{{.State.Pid}}");
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "--force", &self.name]).output();
    }
}

async fn status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

async fn wait_for(http: &reqwest::Client, url: &str, wanted: u16, within: Duration, running: &Running) {
    let deadline = Instant::now() + within;
    while status(http, url).await != Some(wanted) {
        assert!(
            Instant::now() < deadline,
            "{url} never answered {wanted}; the container's log:\n{}",
            running.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pod's checks that do not depend on the service: the probes answer where the
/// manifest says, the process is the manifest's user with no capability and no way to
/// gain one, and nothing was written to the image.
async fn probes_and_process(http: &reqwest::Client, pod: &Pod, running: &Running) {
    let liveness = pod.probe(pod.container.liveness_probe.as_ref());
    let startup = pod.container.startup_probe.as_ref().unwrap();
    let allowed = startup.period_seconds.unwrap() * startup.failure_threshold.unwrap();
    wait_for(http, &liveness, 200, Duration::from_secs(allowed as u64), running).await;
    let readiness = pod.probe(pod.container.readiness_probe.as_ref());
    wait_for(http, &readiness, 200, Duration::from_secs(30), running).await;
    let process = running.process_status();
    let uid = pod.user.to_string();
    assert!(
        process["Uid"].split_whitespace().all(|id| id == uid),
        "{:?}",
        process["Uid"]
    );
    assert!(
        process["Gid"].split_whitespace().all(|id| id == pod.group.to_string()),
        "{:?}",
        process["Gid"]
    );
    for set in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(process[set], "0000000000000000", "{set}");
    }
    assert_eq!(process["NoNewPrivs"], "1");
    assert_eq!(
        text(run(docker().args(["diff", &running.name]))),
        "",
        "files written to the image"
    );
}

/// `docker stop` as the kubelet's SIGTERM: readiness turns 503 while the process drains,
/// then it exits 0 within the grace period.
async fn stops_cleanly(http: &reqwest::Client, pod: &Pod, running: &Running) {
    let readiness = pod.probe(pod.container.readiness_probe.as_ref());
    let started = Instant::now();
    let mut stop = docker();
    stop.args(["stop", &running.name]);
    let stopping = std::thread::spawn(move || stop.output().unwrap());
    wait_for(http, &readiness, 503, Duration::from_secs(5), running).await;
    let stopped = stopping.join().unwrap();
    assert!(stopped.status.success());
    assert!(started.elapsed() < Duration::from_secs(pod.grace_seconds as u64));
    assert_eq!(running.inspect("{{.State.ExitCode}}"), "0", "{}", running.logs());
    assert_eq!(running.inspect("{{.State.OOMKilled}}"), "false");
}

#[tokio::test]
#[ignore = "needs a Docker engine and the images of scripts/images.sh build: `make test` runs it"]
async fn pod_image_runs_as_its_pod_and_the_two_issue_and_check_a_permit() {
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI: the test database on this host");
    let manifests = Manifests::render_overlay("kind");
    let config = manifests.services_config();
    let key = permit_token::SigningKey::generate_pem();
    let public = permit_token::KeySet::new([permit_token::SigningKey::parse(&key).unwrap().public_key().clone()]);
    let values = BTreeMap::from([
        ("ADMIN_TOKEN", "image-test-operator-token-0123456789abcdef".to_owned()),
        ("MONGO_APP_USERNAME", "unused".to_owned()),
        ("MONGO_APP_PASSWORD", "unused".to_owned()),
        ("MONGO_READER_USERNAME", "unused".to_owned()),
        ("MONGO_READER_PASSWORD", "unused".to_owned()),
        ("PERMIT_SIGNING_KEY", key),
        ("PRIVACY_KEY", "image-test-privacy-key-0123456789abcdef".to_owned()),
        ("jwks.json", public.to_json()),
    ]);
    let database = format!("images_{}", std::process::id());
    let http = reqwest::Client::new();

    let issuer = Pod::of(&manifests, "issuer");
    let (http_port, admin_port) = (issuer.port("http"), issuer.port("admin"));
    for port in [http_port, admin_port, issuer.port("operators")] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is taken: the containers listen on the manifest's ports"
        );
    }
    // The manifest's ports on the loopback address: the host's network is shared. The
    // curfew off, so the test passes at any hour.
    let overrides = |pod: &Pod| {
        vec![
            ("PERMIT_CURFEW", "off".to_owned()),
            ("MONGODB_URI", uri.clone()),
            ("MONGODB_DB", database.clone()),
            ("LISTEN_ADDR", format!("127.0.0.1:{}", pod.port("http"))),
            ("ADMIN_ADDR", format!("127.0.0.1:{}", pod.port("admin"))),
        ]
    };
    let mut issuer_overrides = overrides(&issuer);
    issuer_overrides.push(("OPERATOR_ADDR", format!("127.0.0.1:{}", issuer.port("operators"))));
    let running = issuer.start(
        &image("issuer"),
        &format!("image-test-issuer-{}", std::process::id()),
        &issuer.env(&config, &values, &issuer_overrides),
    );
    probes_and_process(&http, &issuer, &running).await;
    let created = http
        .post(format!("http://127.0.0.1:{http_port}/api/create"))
        .json(&json!({"name": "Juana Pérez Soto", "rut": "12.345.678-5", "motive": "compras", "address": "Av. Grecia 1234", "comuna": "Ñuñoa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", running.logs());
    let permit: Value = created.json().await.unwrap();
    // Santiago's summer time, from the zone database the binary carries.
    assert!(permit["valid_from"].as_str().unwrap().ends_with("-03:00"), "{permit}");
    stops_cleanly(&http, &issuer, &running).await;
    drop(running);

    let validator = Pod::of(&manifests, "validator");
    let running = validator.start(
        &image("validator"),
        &format!("image-test-validator-{}", std::process::id()),
        &validator.env(&config, &values, &overrides(&validator)),
    );
    probes_and_process(&http, &validator, &running).await;
    let base = format!("http://127.0.0.1:{}", validator.port("http"));
    let token = permit["validation_url"]
        .as_str()
        .unwrap()
        .rsplit_once("/v/")
        .unwrap()
        .1
        .to_owned();
    let id = permit["id"].as_str().unwrap();
    for path in [format!("/api/v/{token}"), format!("/api/{id}")] {
        let check = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(check.status(), 200, "{path}: {}", running.logs());
        let check: Value = check.json().await.unwrap();
        assert_eq!(check["status"], "not_yet_valid", "{path}: {check}");
    }
    // One character of its middle changed, to another one (every bit of it counts there).
    let middle = token.len() / 2;
    let other = if &token[middle..=middle] == "A" { "B" } else { "A" };
    let forged = format!("{base}/api/v/{}{other}{}", &token[..middle], &token[middle + 1..]);
    assert_eq!(status(&http, &forged).await, Some(400));
    stops_cleanly(&http, &validator, &running).await;
}

/// A file of an image, copied out of a container made (not started) from it.
fn copy_out(image: &str, path: &str, into: &Path) {
    let name = format!("image-test-copy-{}", std::process::id());
    run(docker().args(["create", "--name", &name, image]));
    let copied = docker()
        .args(["cp", &format!("{name}:{path}")])
        .arg(into)
        .output()
        .unwrap();
    let _ = docker().args(["rm", &name]).output();
    assert!(
        copied.status.success(),
        "{path} is not in {image}: {}",
        String::from_utf8_lossy(&copied.stderr)
    );
}

#[test]
#[ignore = "needs a Docker engine and the images of scripts/images.sh build: `make test` runs it"]
fn pod_image_verifies_a_real_certificate_chain_and_holds_santiagos_zone() {
    let scratch = std::env::temp_dir().join(format!("image-test-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    for service in ["issuer", "validator"] {
        let image = image(service);
        let bundle: PathBuf = scratch.join(format!("{service}-ca-certificates.crt"));
        copy_out(&image, "/etc/ssl/certs/ca-certificates.crt", &bundle);
        let roots: Vec<CertificateDer> = CertificateDer::pem_file_iter(&bundle)
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        assert!(roots.len() > 100, "{image}: {} roots", roots.len());
        let anchors: Vec<_> = roots
            .iter()
            .filter_map(|root| webpki::anchor_from_trusted_cert(root).ok())
            .collect();
        let leaf = CertificateDer::from(CHAIN_LEAF);
        let leaf = webpki::EndEntityCert::try_from(&leaf).unwrap();
        let verify = |anchors: &[rustls_pki_types::TrustAnchor]| {
            leaf.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                anchors,
                &[CertificateDer::from(CHAIN_INTERMEDIATE)],
                UnixTime::since_unix_epoch(Duration::from_secs(CHAIN_VALID_AT)),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map(|_| ())
        };
        assert_eq!(
            verify(&anchors),
            Ok(()),
            "{image}: its CA bundle does not verify the chain"
        );
        assert!(verify(&[]).is_err(), "the chain verifies against nothing");
        // The zone's rules as files too, for anything that reads /usr/share/zoneinfo.
        let zone = scratch.join(format!("{service}-Santiago"));
        copy_out(&image, "/usr/share/zoneinfo/America/Santiago", &zone);
        assert!(std::fs::read(&zone).unwrap().starts_with(b"TZif"));
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
