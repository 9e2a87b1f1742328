//! An issuer killed at the worst moment: the permit is stored, the answer never reaches the
//! issuer, and the process dies. The client's retry with its Idempotency-Key, answered by
//! another replica, must give that same permit and use no second quota.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use testkit::{ServiceProcess, citizen, db_test, fresh_database, mongodb_uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::TOKEN;

/// A TCP relay to the database that, once the insert of a permit has gone through it,
/// passes no more answers back: the database stores the permit, the issuer never hears so.
struct SwallowingRelay {
    uri: String,
    insert_seen: Arc<Notify>,
}

impl SwallowingRelay {
    /// In front of the server of `uri`; the relay's own URI keeps its credentials and options.
    async fn start(uri: &str) -> SwallowingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (target, relayed) = redirect(uri, &addr.to_string());
        let swallowing = Arc::new(AtomicBool::new(false));
        let insert_seen = Arc::new(Notify::new());
        let seen = insert_seen.clone();
        tokio::spawn(async move {
            while let Ok((issuer_side, _)) = listener.accept().await {
                let database_side = TcpStream::connect(&target).await.unwrap();
                let (from_issuer, to_issuer) = issuer_side.into_split();
                let (from_database, to_database) = database_side.into_split();
                tokio::spawn(requests(from_issuer, to_database, swallowing.clone(), seen.clone()));
                tokio::spawn(answers(from_database, to_issuer, swallowing.clone()));
            }
        });
        SwallowingRelay {
            uri: relayed,
            insert_seen,
        }
    }
}

/// Whether `bytes` hold an insert into `permits`: the BSON element `insert: "permits"`.
fn inserts_a_permit(bytes: &[u8]) -> bool {
    // Type 0x02 (string), the key, the string's length (4 bytes), the string.
    bytes
        .windows(20)
        .any(|w| w.starts_with(b"\x02insert\x00") && &w[12..] == b"permits\x00")
}

async fn requests(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    swallowing: Arc<AtomicBool>,
    seen: Arc<Notify>,
) {
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            return;
        }
        // Set before the insert is passed on, so its answer is swallowed for certain.
        if inserts_a_permit(&buffer[..n]) {
            swallowing.store(true, Ordering::SeqCst);
            seen.notify_one();
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

async fn answers(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    swallowing: Arc<AtomicBool>,
) {
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            return;
        }
        if !swallowing.load(Ordering::SeqCst) && to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

fn issuer(uri: &str, database: &str) -> ServiceProcess {
    ServiceProcess::start(
        env!("CARGO_BIN_EXE_issuer"),
        &[
            ("MONGODB_URI", uri),
            ("MONGODB_DB", database),
            ("ISSUER_PUBLIC_URL", "http://formulario.test"),
            ("VALIDATOR_PUBLIC_URL", "http://validar.test"),
            ("PERMIT_CURFEW", "off"),
            ("ADMIN_TOKEN", TOKEN),
        ],
    )
}

/// `MONGODB_URI` split into the first server's `host:port`, and a URI with the same
/// credentials and options for another address, connecting to it directly.
fn redirect(uri: &str, to: &str) -> (String, String) {
    let rest = uri.trim_start_matches("mongodb://");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (credentials, hosts) = authority.rsplit_once('@').map_or(("", authority), |(c, h)| (c, h));
    let host = hosts.split(',').next().unwrap();
    let target = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:27017")
    };
    let credentials = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    let tail = if tail.is_empty() {
        "/".to_owned()
    } else {
        tail.to_owned()
    };
    let separator = if tail.contains('?') { '&' } else { '?' };
    (
        target,
        format!("mongodb://{credentials}{to}{tail}{separator}directConnection=true"),
    )
}

#[db_test(flavor = "multi_thread")]
async fn a_create_whose_answer_died_with_its_issuer_is_replayed_by_another_without_a_second_quota() {
    let uri = mongodb_uri();
    let database = fresh_database();
    let relay = SwallowingRelay::start(&uri).await;
    let doomed = issuer(&relay.uri, &database);
    doomed.ready().await;

    let http = reqwest::Client::new();
    let citizen = citizen(50, "compras");
    let create = |url: String, key: &'static str| {
        http.post(format!("{url}/api/create"))
            .header("Idempotency-Key", key)
            .json(&citizen)
            .timeout(Duration::from_secs(10))
            .send()
    };
    let first = tokio::spawn(create(doomed.public.clone(), "crash-1"));
    tokio::time::timeout(Duration::from_secs(10), relay.insert_seen.notified())
        .await
        .expect("the permit insert went to the database");
    // Long enough for the database to apply it; the issuer waits for an answer that never comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    doomed.signal("KILL");
    assert!(first.await.unwrap().is_err(), "the client never got an answer");

    let survivor = issuer(&uri, &database);
    survivor.ready().await;
    let retried = create(survivor.public.clone(), "crash-1").await.unwrap();
    assert_eq!(retried.status(), StatusCode::CREATED);
    let retried: Value = retried.json().await.unwrap();

    // A named consulta operator, made as an administrator makes one, lists what was stored.
    let operators = survivor.operators.clone().unwrap();
    let made: Value = testkit::body_json(
        http.post(format!("{operators}/api/operators"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"name": "Auditora de prueba", "role": "administración"})),
    )
    .await;
    let exporter = made["token"].as_str().expect("a token").to_owned();
    let export = format!("{operators}/api/all?reason=Prueba%20de%20recuperaci%C3%B3n");
    let all: Value = testkit::body_json(http.get(export).bearer_auth(exporter)).await;
    let stored: Vec<&str> = all["permits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        stored,
        [retried["id"].as_str().unwrap()],
        "one permit, the one stored before the crash"
    );

    // The weekly limit is 2: the crashed create and its retry used one.
    let second = create(survivor.public.clone(), "crash-2").await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    let third = create(survivor.public.clone(), "crash-3").await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn the_relay_keeps_credentials_and_options_and_connects_directly() {
    assert_eq!(
        redirect("mongodb://127.0.0.1:27999", "127.0.0.1:5"),
        (
            "127.0.0.1:27999".into(),
            "mongodb://127.0.0.1:5/?directConnection=true".into()
        )
    );
    assert_eq!(
        redirect("mongodb://u:p@db-0:1,db-1:1/x?replicaSet=rs0", "r:5"),
        (
            "db-0:1".into(),
            "mongodb://u:p@r:5/x?replicaSet=rs0&directConnection=true".into()
        )
    );
    assert_eq!(redirect("mongodb://db/?w=majority", "r:5").0, "db:27017");
    assert!(inserts_a_permit(b"..\x02insert\x00\x08\x00\x00\x00permits\x00.."));
    assert!(!inserts_a_permit(
        b"..\x02insert\x00\x11\x00\x00\x00idempotency_keys\x00"
    ));
}
