//! `smoke` and `audit` as an operator runs them, the binary against the real services:
//! the issuer and the validator on one address that routes by Host header, as the
//! entrance (and the local topology's nginx) does. Exit codes are the documented ones.

use std::process::Output;

use axum::Router;
use axum::extract::Request;
use issuer::{AdminToken, Options};
use jiff::SignedDuration;
use permit_domain::Rules;
use serde_json::Value;
use testkit::{ManualClock, db_test};
use tower::ServiceExt;

const TOKEN: &str = "an-operator-token-of-at-least-32-characters";
/// A named *administración* operator's token, stored in each system's database: what
/// `audit` uses (an export).
const ADMINISTRACION: &str = "pmt_administTst_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

struct System {
    address: String,
    clock: ManualClock,
    http: reqwest::Client,
}

/// Both services over one database, behind one address: `validar.*` to the validator,
/// `operadores.*` to the issuer's operators' routes, anything else to its citizens'.
async fn system(at: &str) -> System {
    let clock = ManualClock::at_santiago(at);
    let ctx = testkit::context(&clock, Rules::default()).await;
    let token = permit_domain::OperatorToken::parse(ADMINISTRACION).unwrap();
    let auditor = permit_domain::OperatorAccount {
        id: token.id().to_owned(),
        digest: token.digest(),
        name: permit_domain::Operator::parse("Auditora de prueba").unwrap(),
        role: permit_domain::Role::Administracion,
        created_at: ctx.now(),
        expires_at: ctx.now() + SignedDuration::from_hours(24 * 365),
        created_by: "tests".into(),
        revoked_at: None,
    };
    ctx.store.add_operator_token(&auditor).await.unwrap();
    let options = Options {
        admin: AdminToken::from_setting(Some(TOKEN.into())).unwrap(),
        ..Options::new(testkit::signing_key(), testkit::privacy_key())
    };
    let issuer = issuer::router(ctx.clone(), options);
    let (citizens, operators) = (issuer.public, issuer.operators.expect("the operators' routes"));
    let signed = validator::Signed {
        keys: testkit::key_set(),
        revocations: validator::Revocations::default(),
    };
    let validator = validator::router(ctx, std::sync::Arc::new(signed));
    let front = Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let host = request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if host.starts_with("validar.") {
            validator.clone().oneshot(request)
        } else if host.starts_with("operadores.") {
            operators.clone().oneshot(request)
        } else {
            citizens.clone().oneshot(request)
        }
    }));
    let url = testkit::spawn(front).await;
    System {
        address: url.trim_start_matches("http://").to_owned(),
        clock,
        http: reqwest::Client::new(),
    }
}

impl System {
    async fn permisosctl(&self, args: &[&str]) -> Output {
        permisosctl(args, "/nonexistent").await
    }

    /// A permit for citizen `n`, created through the entrance: its id and RUT.
    async fn create(&self, n: u32) -> (String, String) {
        let citizen = testkit::citizen(n, "compras");
        let answer: Value = self
            .http
            .post(format!("http://{}/api/create", self.address))
            .header("host", "formulario.localhost")
            .json(&citizen)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (answer["id"].as_str().expect("a permit").to_owned(), citizen.rut)
    }

    fn record(&self, created: &[(String, String)]) -> ScratchFile {
        let lines: String = created
            .iter()
            .map(|(id, rut)| {
                format!("{{\"kind\":\"create\",\"status\":201,\"id\":\"{id}\",\"rut\":\"{rut}\",\"ms\":3.1}}\n")
            })
            .collect();
        ScratchFile::with(&lines)
    }

    async fn audit(&self, record: &ScratchFile, extra: &[&str]) -> Output {
        let mut args = vec![
            "audit",
            "--since",
            "2026-11-30T12:00:00Z",
            "--ip",
            &self.address,
            "--domain",
            "localhost",
            "--record",
        ];
        args.push(record.as_str());
        args.extend(extra);
        self.permisosctl(&args).await
    }
}

/// The binary run with `args`, no operator token and the kubeconfig at `kubeconfig`.
async fn permisosctl(args: &[&str], kubeconfig: &str) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_permisosctl"));
    command
        .args(args)
        .env_remove("PERMISOS_TOKEN")
        .env("KUBECONFIG", kubeconfig);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// A file in the temporary directory (a record, a kubeconfig), removed when dropped.
struct ScratchFile(std::path::PathBuf);

impl ScratchFile {
    fn with(text: &str) -> ScratchFile {
        let path = std::env::temp_dir().join(format!("permisosctl-test-{}", testkit::fresh_database()));
        std::fs::write(&path, text).unwrap();
        ScratchFile(path)
    }

    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[db_test]
async fn smoke_walks_a_citizen_and_a_police_check_through_one_address() {
    let system = system("2026-11-30T10:00").await;
    let out = system
        .permisosctl(&["smoke", "--ip", &system.address, "--domain", "localhost"])
        .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let steps: Vec<&str> = stdout.lines().collect();
    assert_eq!(steps.len(), 6, "{stdout}");
    for (line, step) in steps.iter().zip([
        "landing page",
        "form page",
        "create a permit",
        "permit page with its QR",
        "validation page",
        "validation JSON",
    ]) {
        assert!(line.starts_with(&format!("ok   {step}")), "{line}");
        assert!(line.contains(" ms "), "{line}");
    }
    let json = system
        .permisosctl(&[
            "smoke",
            "--ip",
            &system.address,
            "--domain",
            "localhost",
            "--output",
            "json",
        ])
        .await;
    let answer: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(answer["steps"].as_array().unwrap().len(), 6);
    assert_eq!(answer["permit"].as_str().unwrap().len(), 22);
}

#[db_test]
async fn smoke_names_the_first_step_that_fails() {
    let system = system("2026-11-30T23:30").await;
    let out = system
        .permisosctl(&["smoke", "--ip", &system.address, "--domain", "localhost"])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("smoke failed at \"create a permit\": refused by the curfew"),
        "{stderr}"
    );
    let unreachable = system
        .permisosctl(&["smoke", "--ip", "127.0.0.1:9", "--domain", "localhost"])
        .await;
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(text(&unreachable.stderr).contains("smoke failed at \"landing page\": no answer"));
}

#[db_test]
async fn audit_passes_a_faithful_record_and_finds_lost_and_duplicated_permits() {
    // 08:00 in Santiago is 11:00Z, an hour before the audit's --since.
    let system = system("2026-11-30T08:00").await;
    let (before, _) = system.create(1).await;
    system.clock.advance(SignedDuration::from_hours(2));
    let mut created = Vec::new();
    for n in 2..5 {
        created.push(system.create(n).await);
    }
    let faithful = system.record(&created);
    let out = system
        .audit(&faithful, &["--token", ADMINISTRACION, "--output", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["acknowledged"], 3);
    assert_eq!(
        answer["held"], 3,
        "the permit from before --since is not listed: {before}"
    );

    let mut lost = created.clone();
    lost.push(("q6V7pTz0S3mXcW1bN8eYkA".into(), testkit::rut(9).to_string()));
    let out = system.audit(&system.record(&lost), &["--token", ADMINISTRACION]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("1 lost"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("lost: q6V7pTz0S3mXcW1bN8eYkA"));

    // A second permit for citizen 2 that the run was never told of: issued twice.
    system.clock.advance(SignedDuration::from_mins(5));
    let (_, rut) = system.create(2).await;
    assert_eq!(rut, created[0].1);
    let out = system
        .audit(&faithful, &["--token", ADMINISTRACION, "--output", "json"])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["duplicated"][0]["stored"], 2);
    assert_eq!(answer["duplicated"][0]["acknowledged"], 1);
}

#[db_test]
async fn audit_refusals_exit_2_with_the_reason() {
    let system = system("2026-11-30T10:00").await;
    let created = vec![system.create(1).await];
    let record = system.record(&created);
    let out = system
        .audit(&record, &["--token", "not-the-operators-token-but-long-enough"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the issuer: refused the operator token"),
        "{}",
        text(&out.stderr)
    );
    let out = system.audit(&record, &[]).await;
    assert_eq!(out.status.code(), Some(2), "no token");
    assert!(
        text(&out.stderr).contains("audit needs a named operator token of the administración role"),
        "{}",
        text(&out.stderr)
    );
    let bad = ScratchFile::with("{\"kind\": \"create\", \"status\": 201}\n");
    let out = system.audit(&bad, &["--token", ADMINISTRACION]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("line 1: an acknowledged create without id or rut"));
}

#[db_test]
async fn without_a_cluster_each_command_says_why_and_exits_2() {
    let system = system("2026-11-30T10:00").await;
    for command in [
        &["status"][..],
        &["wait", "--timeout", "5s"],
        &["hosts"],
        &["chaos", "--target", "issuer"],
    ] {
        let out = system.permisosctl(command).await;
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        assert!(
            text(&out.stderr).starts_with("permisosctl: no cluster to talk to:"),
            "{}",
            text(&out.stderr)
        );
    }
    // A kubeconfig whose server is not listening: the URL and the connection's error.
    let kubeconfig = ScratchFile::with(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {server: \"https://127.0.0.1:9\"}\n\
         users:\n- name: someone\n  user: {token: t}\ncontexts:\n- name: gone\n  context: {cluster: gone, user: someone}\n\
         current-context: gone\n",
    );
    let out = permisosctl(&["status", "--output", "json"], kubeconfig.as_str()).await;
    assert_eq!(out.status.code(), Some(2));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot reach the Kubernetes API: https://127.0.0.1:9/"),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
    assert_eq!(answer["exit"], 2);
    let out = permisosctl(&["--context", "nope", "hosts"], kubeconfig.as_str()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no cluster to talk to"),
        "{}",
        text(&out.stderr)
    );
    let out = system.permisosctl(&["wait", "pod/x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"pod\" is not one of deployment, statefulset, daemonset, job"));
}

#[db_test]
async fn phases_publishes_the_ministrys_table_line_by_line_and_again_changes_nothing() {
    let system = system("2026-11-30T10:00").await;
    let fases = || async {
        let page = system
            .http
            .get(format!("http://{}/fases", system.address))
            .header("host", "formulario.localhost")
            .send()
            .await
            .unwrap();
        page.text().await.unwrap()
    };
    // Dates ahead of both the machine's clock and the system's.
    let table = ScratchFile::with("comuna,fase,desde,hora\nÑuñoa,transicion,2030-01-10,\n13101,1,2030-01-10,12:00\n");
    let load = |extra: &'static [&'static str]| {
        let file = table.as_str().to_owned();
        let address = system.address.clone();
        async move {
            let mut args = vec!["phases", "--file", &file, "--ip", &address, "--domain", "localhost"];
            args.extend(extra);
            permisosctl(&args, "/nonexistent").await
        }
    };

    let dry = load(&["--dry-run"]).await;
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("line 3: Santiago to cuarentena from 2030-01-10 12:00"));
    assert!(text(&dry.stdout).ends_with("dry run: 2 lines checked, none sent\n"));
    assert!(!fases().await.contains("Ñuñoa"), "a dry run sends nothing");

    let missing = load(&[]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("needs a named operator token"));

    for _ in 0..2 {
        let out = load(&["--token", ADMINISTRACION]).await;
        assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(
                "line 2: Ñuñoa to transicion from jueves 10 de enero de 2030 a las 05:00 (was outside the plan)\n"
            ),
            "{stdout}"
        );
        assert!(stdout.contains("line 3: Santiago to cuarentena from jueves 10 de enero de 2030 a las 12:00"));
    }
    let page = fases().await;
    assert!(
        page.contains("Desde el jueves 10 de enero de 2030 a las 05:00: 2 · Transición"),
        "{page}"
    );
    assert_eq!(
        page.matches("<th scope=\"row\">").count(),
        2,
        "the same file twice: the same two comunas"
    );

    let wrong = ScratchFile::with("comuna,fase,desde,hora\nMaipú,2,2030-01-10,\nGotham,2,2030-01-10,\n");
    let file = wrong.as_str().to_owned();
    let out = system
        .permisosctl(&[
            "phases",
            "--file",
            &file,
            "--ip",
            &system.address,
            "--domain",
            "localhost",
            "--token",
            ADMINISTRACION,
        ])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nothing sent:\n  line 3: comuna \"Gotham\""),
        "{}",
        text(&out.stderr)
    );
    assert!(!fases().await.contains("Maipú"), "not even the good line");
}
