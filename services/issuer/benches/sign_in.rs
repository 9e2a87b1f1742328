//! What citizen sign-in (`CITIZEN_AUTH=oidc`) adds to issuing a permit, against the test
//! identity provider (identity/provider.mjs, panva's oidc-provider): `make bench-sign-in`.
//!
//! Two issuer binaries (this profile's build) on one database: one in demo mode, one
//! signing citizens in. It measures, one request at a time so nothing queues:
//! - a whole sign-in (`/ingresar`, the provider's login and consent pages, the callback that
//!   exchanges the code, checks the ID token and asks for userinfo): wall time, and the CPU
//!   the issuer and the provider spent on it;
//! - a create (`POST /api/create`) in either mode, the signed-in one carrying its session
//!   cookie: wall time and the issuer's CPU.
//!
//! CPU is read from `/proc/<pid>/stat` (all threads, user + system) before and after each
//! batch, so it counts the process's whole work for the batch (logging, the database
//! driver) and nothing of this client's.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use testkit::{IdentityProvider, ServiceProcess, fresh_database, mongodb_uri, rut};

const ISSUER_HOME: &str = "http://formulario.test";
/// How many of each; `cargo bench` passes `--bench`, anything else (`cargo test --benches`)
/// runs a few of each, to show the bench still works.
fn counts() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (200, 1000)
    } else {
        (3, 10)
    }
}

fn issuer(extra: &[(&str, String)]) -> ServiceProcess {
    let uri = mongodb_uri();
    let database = fresh_database();
    let mut env: Vec<(&str, &str)> = vec![
        ("MONGODB_URI", &uri),
        ("MONGODB_DB", &database),
        ("ISSUER_PUBLIC_URL", ISSUER_HOME),
        ("VALIDATOR_PUBLIC_URL", "http://validar.test"),
        // Every create here is the same citizen's, from the same client, at any hour.
        ("PERMIT_CURFEW", "off"),
        ("PERMIT_WEEKLY_LIMIT", "off"),
        ("CREATE_RATE_LIMIT", "off"),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    ServiceProcess::start(env!("CARGO_BIN_EXE_issuer"), &env)
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// One citizen's whole sign-in, in `browser`: afterwards it holds the session cookie.
async fn sign_in(issuer: &ServiceProcess, provider: &IdentityProvider, browser: &reqwest::Client) {
    let begun = browser
        .get(format!("{}/ingresar", issuer.public))
        .send()
        .await
        .expect("/ingresar");
    assert_eq!(
        begun.status(),
        StatusCode::SEE_OTHER,
        "/ingresar redirects to the provider"
    );
    let authorize = begun.headers()["location"].to_str().expect("a location").to_owned();
    let back = provider.sign_in(&authorize, "12345678-5").await;
    let path = back.strip_prefix(ISSUER_HOME).expect("the callback is the issuer's");
    let done = browser
        .get(format!("{}{path}", issuer.public))
        .send()
        .await
        .expect("the callback");
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "the callback signs the citizen in"
    );
}

async fn create(issuer: &ServiceProcess, browser: &reqwest::Client, n: u32) {
    let answer = browser
        .post(format!("{}/api/create", issuer.public))
        .json(&json!({
            "name": "Ana Rojas", "rut": rut(n).to_string(), "motive": "compras",
            "address": "Av. Grecia 1234", "comuna": "Ñuñoa",
        }))
        .send()
        .await
        .expect("a create");
    assert_eq!(
        answer.status(),
        StatusCode::CREATED,
        "{}",
        answer.text().await.unwrap_or_default()
    );
}

/// Median and 90th percentile, in milliseconds.
fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.9))
}

struct Row {
    what: &'static str,
    count: usize,
    wall: (f64, f64),
    issuer_cpu_ms: f64,
    provider_cpu_ms: Option<f64>,
}

impl Row {
    fn print(&self) {
        let provider = self.provider_cpu_ms.map_or("–".to_owned(), |ms| format!("{ms:.2}"));
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.3} | {provider} |",
            self.what, self.count, self.wall.0, self.wall.1, self.issuer_cpu_ms
        );
    }
}

async fn creates(what: &'static str, issuer: &ServiceProcess, browser: &reqwest::Client, count: usize) -> Row {
    // A few first, so connection pools and caches are warm before counting.
    for n in 0..20 {
        create(issuer, browser, n).await;
    }
    let cpu = issuer.cpu_seconds();
    let mut times = Vec::with_capacity(count);
    for n in 0..count as u32 {
        let started = Instant::now();
        create(issuer, browser, 100 + n).await;
        times.push(started.elapsed());
    }
    Row {
        what,
        count,
        wall: percentiles(times),
        issuer_cpu_ms: (issuer.cpu_seconds() - cpu) * 1e3 / count as f64,
        provider_cpu_ms: None,
    }
}

#[tokio::main]
async fn main() {
    let (sign_ins, creates_each) = counts();
    let provider = IdentityProvider::start(ISSUER_HOME);
    let demo = issuer(&[("CITIZEN_AUTH", "none".into())]);
    let signed = issuer(&provider.settings());
    demo.ready().await;
    signed.ready().await;

    // Warm: the first sign-in reads the provider's metadata and keys.
    sign_in(&signed, &provider, &browser()).await;
    let (issuer_cpu, provider_cpu) = (signed.cpu_seconds(), provider.cpu_seconds());
    let mut times = Vec::with_capacity(sign_ins);
    for _ in 0..sign_ins {
        let started = Instant::now();
        sign_in(&signed, &provider, &browser()).await;
        times.push(started.elapsed());
    }
    let sign_in_row = Row {
        what: "sign-in (`/ingresar` → provider → callback)",
        count: sign_ins,
        wall: percentiles(times),
        issuer_cpu_ms: (signed.cpu_seconds() - issuer_cpu) * 1e3 / sign_ins as f64,
        provider_cpu_ms: Some((provider.cpu_seconds() - provider_cpu) * 1e3 / sign_ins as f64),
    };

    let citizen = browser();
    sign_in(&signed, &provider, &citizen).await;
    let demo_row = creates("create, `CITIZEN_AUTH=none`", &demo, &browser(), creates_each).await;
    let signed_row = creates(
        "create, `CITIZEN_AUTH=oidc`, signed in",
        &signed,
        &citizen,
        creates_each,
    )
    .await;

    println!("| what | count | wall p50 (ms) | wall p90 (ms) | issuer CPU each (ms) | provider CPU each (ms) |");
    println!("|---|---|---|---|---|---|");
    for row in [sign_in_row, demo_row, signed_row] {
        row.print();
    }
}
