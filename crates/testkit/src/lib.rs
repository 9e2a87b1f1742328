//! Shared by the test suites: where the database is, a fresh database name per test, a
//! clock the test sets, valid citizens, contexts and servers on free ports, a service's
//! router served as a test app (wired as its binary wires it), the service binaries run as processes, bodies of answers
//! read in one call, answers checked against an OpenAPI document, a signing key, and the
//! OpenID Connect test provider with its citizens.

mod app;
pub mod identity;
mod process;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use permit_domain::{Clock, Motive, PermitForm, PolicyVersion, PrivacyKey, Refusal, Rules, Rut, Terms, Window};
use permit_store::Store;
use permit_token::{KeySet, SigningKey};
use permit_web::config::Env;
use permit_web::metrics::Service;
use permit_web::{App, Config, Context};

pub use app::TestApp;
pub use identity::IdentityProvider;
pub use process::ServiceProcess;
pub use testkit_macros::db_test;

/// The MongoDB-wire server under test, from `MONGODB_URI` (`make test` starts one).
pub fn mongodb_uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| {
        panic!(
            "MONGODB_URI is not set: run the tests with `make test`, which starts a local \
             SecantusDB, or point MONGODB_URI at a MongoDB server"
        )
    })
}

/// One signing key per test process, so an issuer and a validator in one test agree.
pub fn signing_key() -> Arc<SigningKey> {
    static KEY: LazyLock<Arc<SigningKey>> =
        LazyLock::new(|| Arc::new(SigningKey::parse(&signing_key_pem()).expect("a generated key parses")));
    KEY.clone()
}

/// `signing_key` as the issuer's `PERMIT_SIGNING_KEY` holds it.
pub fn signing_key_pem() -> String {
    static PEM: LazyLock<String> = LazyLock::new(SigningKey::generate_pem);
    PEM.clone()
}

/// One privacy key per test process, as the issuer's `PRIVACY_KEY` holds it, so two
/// issuers in one test count one citizen's quota alike.
pub fn privacy_key_text() -> String {
    static TEXT: LazyLock<String> = LazyLock::new(|| format!("test-privacy-key-{}", fresh_database()));
    TEXT.clone()
}

/// `privacy_key_text`, parsed.
pub fn privacy_key() -> PrivacyKey {
    PrivacyKey::parse(&privacy_key_text()).expect("a long printable key")
}

/// The public half of `signing_key`, as a validator is configured with it.
pub fn key_set() -> KeySet {
    KeySet::new([signing_key().public_key().clone()])
}

/// A database name no other test uses, so tests run in parallel without cleaning up.
pub fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = Timestamp::now().as_nanosecond() % 1_000_000_000_000;
    format!("test_{}_{nanos}_{n}", std::process::id())
}

/// A clock that stands still until the test moves it.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// Starts at a Santiago local time such as `2026-11-30T10:00`.
    pub fn at_santiago(local: &str) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(santiago(local))))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().expect("clock lock") = at;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock lock")
    }
}

/// The instant of a Santiago local time such as `2026-11-30T10:00`.
pub fn santiago(local: &str) -> Timestamp {
    let zoned: ZonedDateTime = format!("{local}[America/Santiago]")
        .parse()
        .expect("a local date and time");
    zoned.timestamp()
}

/// What `rules` alone give `motive`, as for a comuna outside the Paso a Paso plan: the
/// terms most tests issue under, recorded as policy version `test`.
pub fn terms(rules: &Rules, motive: Motive) -> Terms {
    rules.terms(motive, PolicyVersion::parse("test").expect("a valid version"))
}

/// The window `rules` alone give a permit for `motive` asked for at `now` (see `terms`).
pub fn window(rules: &Rules, motive: Motive, now: Timestamp) -> Result<Window, Refusal> {
    rules.window(motive, &terms(rules, motive), now)
}

/// A valid RUT that differs for every `n`.
pub fn rut(n: u32) -> Rut {
    Rut::from_body(10_000_000 + n).expect("a body in range")
}

/// A complete, valid request for the citizen with RUT number `n`.
pub fn citizen(n: u32, motive: &str) -> PermitForm {
    PermitForm {
        name: "Juana Pérez Soto".into(),
        rut: rut(n).to_string(),
        motive: motive.into(),
        address: "Av. Grecia 1234, depto. 5".into(),
        comuna: "Ñuñoa".into(),
    }
}

/// The configuration a test service runs on: `database` on the server under test, both
/// ports free loopback ports, test links, and `rules`; read as a binary reads its own.
pub fn config(database: &str, rules: Rules) -> Config {
    config_at(&mongodb_uri(), database, rules)
}

/// What `App::bind` reads of a configuration (both ports free loopback ports, the
/// runtime's defaults), for a context built already: no database is named.
pub(crate) fn listening() -> Config {
    config_at("mongodb://127.0.0.1:1", "unused", Rules::default())
}

fn config_at(uri: &str, database: &str, rules: Rules) -> Config {
    let variables = [
        ("MONGODB_URI", uri),
        ("MONGODB_DB", database),
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("ADMIN_ADDR", "127.0.0.1:0"),
        ("ISSUER_PUBLIC_URL", "http://formulario.test"),
        ("VALIDATOR_PUBLIC_URL", "http://validar.test"),
    ];
    let read = Env(|name: &str| variables.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()));
    Config {
        rules,
        ..read.config().expect("the test configuration is valid")
    }
}

/// A context over a fresh database, with the given clock and rules and local links.
pub async fn context(clock: &ManualClock, rules: Rules) -> Context {
    context_on(&fresh_database(), clock, rules).await
}

/// A context over `database` with a client of its own, as another replica would have, built
/// as a binary builds its own; its indexes exist before it is returned.
pub async fn context_on(database: &str, clock: &ManualClock, rules: Rules) -> Context {
    let ctx = App::context(&config(database, rules), Service::Test, Arc::new(clock.clone()))
        .await
        .expect("a valid MONGODB_URI");
    ctx.store.ensure_indexes().await.expect("indexes on the test database");
    ctx
}

/// A context whose database server is gone: its port was free a moment ago and nothing
/// listens there.
pub async fn dead_context(clock: &ManualClock, rules: Rules) -> Context {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = config_at(&format!("mongodb://127.0.0.1:{port}"), "gone", rules);
    App::context(&config, Service::Test, Arc::new(clock.clone()))
        .await
        .expect("a valid URI")
}

/// A store whose server is gone (see `dead_context`).
pub async fn dead_store() -> Store {
    dead_context(&ManualClock::at_santiago("2026-11-30T10:00"), Rules::default())
        .await
        .store
}

/// Serves `router` on a free loopback port, as the binary serves it (the same connection
/// limits, the peer's address on each request); returns its base URL.
pub async fn spawn(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(permit_web::serve::serve_connections(
        listener,
        router,
        permit_web::Connections::default(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

/// Checks an answer against the component schema `schema` of an OpenAPI document: the same
/// properties, every required one present, and each enumerated value among those listed.
pub fn assert_fits_schema(doc: &serde_json::Value, schema: &str, answer: &serde_json::Value) {
    let schema_doc = &doc["components"]["schemas"][schema];
    let properties = schema_doc["properties"].as_object().expect("a schema with properties");
    let answer = answer.as_object().expect("a JSON object");
    let mut declared: Vec<&String> = properties.keys().collect();
    let mut sent: Vec<&String> = answer.keys().collect();
    declared.sort();
    sent.sort();
    assert_eq!(
        declared, sent,
        "{schema}: the answer's fields are not the documented ones"
    );
    for required in schema_doc["required"].as_array().into_iter().flatten() {
        let field = required.as_str().unwrap();
        assert!(!answer[field].is_null(), "{schema}.{field} is required but missing");
    }
    for (field, property) in properties {
        if let Some(values) = property["enum"].as_array() {
            assert!(
                values.contains(&answer[field]),
                "{schema}.{field} = {} is not listed",
                answer[field]
            );
        }
    }
}

/// Sends `request` and reads the answer's body as JSON, whatever its status.
pub async fn body_json(request: reqwest::RequestBuilder) -> serde_json::Value {
    let answer = request.send().await.expect("an answer");
    answer.json().await.expect("a JSON body")
}

/// Sends `request` and reads the answer's body as text, whatever its status.
pub async fn body_text(request: reqwest::RequestBuilder) -> String {
    let answer = request.send().await.expect("an answer");
    answer.text().await.expect("a text body")
}
