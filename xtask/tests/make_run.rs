//! The README's commands that start something, as a newcomer meets them in a fresh copy of
//! the repository (no .run/, no .venv): `make run`, its printed URLs used as a browser
//! would, a second `make run` refused while the first is up, then Ctrl-C to the terminal's
//! process group and nothing left behind; `make local-up`, used through nginx, then
//! `make local-down` and nothing left behind; and the xtask binary acting on the checkout
//! it runs in, not the one it was built in.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The ports `make run` uses by default: issuer, validator, their admin ports, SecantusDB,
/// the test identity provider.
const PORTS: [u16; 6] = [8081, 8082, 9081, 9082, 27017, 8083];

#[tokio::test]
#[ignore = "builds in release and installs SecantusDB into a fresh copy: `make test` runs it"]
async fn make_run_serves_both_sites_and_ctrl_c_stops_everything_it_started() {
    for port in PORTS {
        assert!(
            !listening(port),
            "port {port} is taken: stop what uses it (a `make run`?) before this test"
        );
    }
    let copy = fresh_copy("make-run");
    let mut first = MakeRun::start(&copy);
    let (issuer, validator) = first.printed_urls();

    let http = browser(&[&issuer, &validator]);
    let landing = http.get(format!("{issuer}/")).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    // Citizens sign in, at the test identity provider make run started.
    let refused = http
        .post(format!("{issuer}/api/create"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    sign_in(&http, &issuer).await;
    let permit = create_permit(&http, &issuer).await;
    assert_eq!(permit["rut"], "12.345.678-5", "the identity's RUT: {permit}");
    // The QR's signed link, verified with the key make run made, and the database link.
    for (field, path) in [("validation_url", "/v/"), ("lookup_url", "/validar/")] {
        let url = permit[field].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("{validator}{path}")), "{url}");
        let check = http.get(&url).send().await.unwrap();
        assert_eq!(check.status(), 200, "{url}");
        assert!(check.text().await.unwrap().contains("VIGENTE"), "{url}");
    }
    let key = std::fs::metadata(copy.join(".run/permit-signing-key.pem")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );

    let second = Command::new("make")
        .arg("run")
        .current_dir(&copy)
        .envs(MakeRun::env())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("`make run` is already running (pid "),
        "a second make run said: {said}"
    );

    first.interrupt();
    first.wait_until_gone();
    for port in PORTS {
        assert!(!listening(port), "port {port} is still in use after Ctrl-C");
    }
    std::fs::remove_dir_all(&copy).unwrap();
}

/// The local topology's entrance and the ports of its parts with `REPLICAS=2`: nginx, two
/// issuers (and their operators' ports), two validators, SecantusDB.
const LOCAL_PORTS: [u16; 8] = [8080, 18081, 18082, 20081, 20082, 18181, 18182, 27117];

#[tokio::test]
#[ignore = "builds in release and installs SecantusDB and nginx for a fresh copy: `make test` runs it"]
async fn make_local_up_in_a_fresh_copy_serves_through_nginx_and_local_down_stops_it() {
    for port in LOCAL_PORTS {
        assert!(!listening(port), "port {port} is taken: make local-down first");
    }
    let copy = fresh_copy("local-up");
    let topology = LocalTopology { copy: copy.clone() };
    let up = make(&copy, "local-up");
    assert!(up.status.success(), "make local-up failed:\n{}", up.said());
    for port in LOCAL_PORTS {
        assert!(listening(port), "nothing listens on {port} after make local-up");
    }
    let (issuer, validator) = ("http://formulario.localhost:8080", "http://validar.localhost:8080");
    let http = browser(&[issuer, validator]);
    let permit = create_permit(&http, issuer).await;
    let signed = permit["validation_url"].as_str().unwrap().to_owned();
    assert!(signed.starts_with(&format!("{validator}/v/")), "{signed}");
    let check = http.get(&signed).send().await.unwrap();
    assert_eq!(check.status(), 200);
    operator_routes_only_through_operadores(&copy, &permit).await;
    // Files holding the signing key or the operator token: the owner's only.
    for secret in [
        ".run/permit-signing-key.pem",
        ".run/admin-token",
        ".run/local/topology.json",
    ] {
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(copy.join(secret)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{secret} is {:o}", mode & 0o777);
    }
    let status = make(&copy, "local-status");
    assert!(status.status.success(), "{}", status.said());

    let down = make(&copy, "local-down");
    assert!(down.status.success(), "make local-down failed:\n{}", down.said());
    for port in LOCAL_PORTS {
        assert!(!listening(port), "port {port} is still in use after make local-down");
    }
    drop(topology);
    std::fs::remove_dir_all(&copy).unwrap();
}

#[test]
fn xtask_acts_on_the_checkout_it_runs_in_not_the_one_it_was_built_in() {
    // A checkout elsewhere: xtask finds it by its xtask/Cargo.toml.
    let other = std::env::temp_dir().join(format!("permisos-other-checkout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&other);
    std::fs::create_dir_all(other.join("xtask/src")).unwrap();
    std::fs::write(other.join("xtask/Cargo.toml"), "[package]\nname = \"xtask\"\n").unwrap();
    for (how, manifest_dir) in [
        ("run from its folder", None),
        ("run by cargo", Some(other.join("xtask"))),
    ] {
        let _ = std::fs::remove_dir_all(other.join(".run"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .args(["signed-links", "--count", "1"])
            .current_dir(other.join("xtask/src"))
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("PERMIT_SIGNING_KEY")
            .env_remove("PERMIT_PUBLIC_KEYS");
        if let Some(dir) = &manifest_dir {
            command.env("CARGO_MANIFEST_DIR", dir).current_dir(std::env::temp_dir());
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            other.join(".run/permit-signing-key.pem").is_file(),
            "{how}: the key was not made in the checkout xtask ran in"
        );
    }
    std::fs::remove_dir_all(&other).unwrap();
}

/// A permit requested through the issuer at `issuer`, as the API answers it (201).
/// Signed in as RUN 12345678-5 (identity/citizens.json): `http` keeps the session.
async fn sign_in(http: &reqwest::Client, issuer: &str) {
    let begun = http.get(format!("{issuer}/ingresar")).send().await.unwrap();
    assert_eq!(begun.status(), 303);
    let authorize = begun.headers()["location"].to_str().unwrap().to_owned();
    let back = testkit::identity::sign_in_at(http, &authorize, "12345678-5").await;
    let done = http.get(&back).send().await.unwrap();
    assert_eq!(done.status(), 303, "{}", done.text().await.unwrap());
}

async fn create_permit(http: &reqwest::Client, issuer: &str) -> serde_json::Value {
    let created = http
        .post(format!("{issuer}/api/create"))
        .json(&serde_json::json!({
            "name": "Carla Núñez Vidal", "rut": "12.345.678-5", "motive": "compras",
            "address": "Av. Matta 1020", "comuna": "Santiago"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    created.json().await.unwrap()
}

/// `make TARGET` in `copy`, as a newcomer runs it, to its end.
fn make(copy: &Path, target: &str) -> Output {
    Command::new("make")
        .arg(target)
        .current_dir(copy)
        .envs(MakeRun::env())
        .env("REPLICAS", "2")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

trait Said {
    fn said(&self) -> String;
}

impl Said for Output {
    fn said(&self) -> String {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

/// Brings a local topology down however the test ends.
struct LocalTopology {
    copy: PathBuf,
}

impl Drop for LocalTopology {
    fn drop(&mut self) {
        let _ = make(&self.copy, "local-down");
    }
}

/// Every file git knows of (committed or not, ignored ones left out), copied as a clone
/// would hold it, plus the working tree's changes.
fn fresh_copy(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let copy = std::env::temp_dir().join(format!("permisos-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(listed.status.success(), "git ls-files");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let relative = Path::new(std::str::from_utf8(file).unwrap());
        let source = root.join(relative);
        if !source.is_file() {
            continue;
        }
        let target = copy.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
    }
    copy
}

struct MakeRun {
    child: Child,
    lines: mpsc::Receiver<String>,
    said: Vec<String>,
}

impl MakeRun {
    /// Settings a newcomer may give: the curfew off and no start delay, so the permit is
    /// VIGENTE at any hour. The copy's build is kept in a folder of this checkout's target,
    /// so the next run reuses it and it never overwrites this checkout's own release build.
    fn env() -> Vec<(&'static str, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target = root.join("target").join("make-run").display().to_string();
        vec![
            ("PERMIT_CURFEW", "off".into()),
            ("PERMIT_START_DELAY_MINUTES", "0".into()),
            ("CARGO_TARGET_DIR", target),
        ]
    }

    /// `make run` in the foreground of a terminal of its own: a new process group.
    fn start(copy: &Path) -> MakeRun {
        let mut child = Command::new("make")
            .arg("run")
            .current_dir(copy)
            .envs(MakeRun::env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let errors = send.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            for line in text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev() {
                let _ = errors.send(format!("stderr: {line}"));
            }
        });
        MakeRun {
            child,
            lines,
            said: Vec::new(),
        }
    }

    /// The two URLs it prints once everything is ready (after a release build: minutes).
    fn printed_urls(&mut self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(20 * 60);
        let (mut issuer, mut validator) = (None, None);
        while Instant::now() < deadline {
            let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) else {
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("make run exited ({status}) before serving:\n{}", self.said.join("\n"));
                }
                continue;
            };
            let url = |label: &str| {
                line.trim()
                    .strip_prefix(label)
                    .map(|rest| rest.trim().trim_end_matches('/').to_owned())
            };
            issuer = issuer.or_else(|| url("Solicitar un permiso:"));
            validator = validator.or_else(|| url("Validar un permiso:"));
            let ready = line.contains("Ctrl-C stops everything");
            self.said.push(line);
            if let (true, Some(issuer), Some(validator)) = (ready, &issuer, &validator) {
                return (issuer.clone(), validator.clone());
            }
        }
        panic!("make run printed no URLs within 20 minutes:\n{}", self.said.join("\n"));
    }

    /// Ctrl-C: SIGINT to every process of the terminal's foreground group.
    fn interrupt(&self) {
        let group = format!("-{}", self.child.id());
        assert!(
            Command::new("kill")
                .args(["-INT", "--", &group])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for make and for every process of its group, at most 30 s.
    fn wait_until_gone(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let make_done = self.child.try_wait().unwrap().is_some();
            let left = group_members(self.child.id());
            if make_done && left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "30 s after Ctrl-C, still running: make {}, group members {left:?}",
                if make_done { "exited" } else { "running" }
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MakeRun {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// The live processes whose process group is `group`, from /proc.
fn group_members(group: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        if fields.first() != Some(&"Z") && fields.get(2) == Some(&group.to_string().as_str()) {
            members.push(pid);
        }
    }
    members
}

/// Every operation of the operators' OpenAPI document, asked through the citizens' host
/// with the bootstrap token, is not found; through operadores.localhost it makes a named
/// *consulta* operator, whose token lists the permits.
async fn operator_routes_only_through_operadores(copy: &Path, permit: &serde_json::Value) {
    let (citizens, operators) = ("http://formulario.localhost:8080", "http://operadores.localhost:8080");
    let http = browser(&[citizens, operators]);
    let token = std::fs::read_to_string(copy.join(".run/admin-token")).unwrap();
    let token = token.trim();
    let doc = testkit::body_json(http.get(format!("{operators}/api/openapi.json"))).await;
    let id = permit["id"].as_str().unwrap();
    let mut asked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = format!("{citizens}{}", path.replace("{id}", id));
            let answer = http
                .request(method.clone(), &url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 404, "{method} {path} through the citizens' host");
            asked += 1;
        }
    }
    assert!(asked >= 10, "{doc}");
    let made = testkit::body_json(
        http.post(format!("{operators}/api/operators"))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": "Auditora de prueba", "role": "administración"})),
    )
    .await;
    let exporter = made["token"].as_str().expect("a named token");
    let listed = http
        .get(format!("{operators}/api/all?reason=Prueba%20de%20make%20run"))
        .bearer_auth(exporter)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
}

/// A client that reaches `*.localhost` on the loopback address, as browsers do.
/// Keeps cookies and follows no redirects, so a test sees them.
fn browser(urls: &[&str]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none());
    for url in urls {
        let authority = url.trim_start_matches("http://");
        let (host, port) = authority.split_once(':').expect("a URL with a port");
        builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap())));
    }
    builder.build().unwrap()
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok()
}
