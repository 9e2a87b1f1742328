//! `audit`: the permits a load run was told were issued, against what the issuer's
//! operator API (on operadores.<domain>) exports since the run began: none lost, none issued
//! twice (the judgement is `load_record`'s, the same as the local fault suite's). An export
//! is *administración*'s, each page recorded in the audit log with this tool's reason.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use http::header::AUTHORIZATION;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use jiff::{SignedDuration, Timestamp};
use load_record::{Audit, Held, Record};
use serde::Deserialize;

use crate::error::{Error, source_chain};
use crate::smoke::Entry;

/// Permits per page of `/api/all` (its maximum).
const PAGE: u32 = 100;

/// The reason every page of the export states in the audit log, URL-encoded: "Auditoría de
/// una prueba de carga (permisosctl audit)".
const REASON: &str = "Auditor%C3%ADa%20de%20una%20prueba%20de%20carga%20(permisosctl%20audit)";

/// `--since`: a time (RFC 3339) or how long ago (`30m`, `2h`).
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let ago: SignedDuration = text
        .parse()
        .map_err(|_| format!("{text:?} is neither a time such as 2026-11-30T10:00:00Z nor a span such as 30m"))?;
    now.checked_sub(ago.abs()).map_err(|e| e.to_string())
}

/// A permit as `/api/all` lists it (the fields the audit needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Listed {
    pub id: String,
    pub rut: String,
    /// RFC 3339.
    pub requested_at: String,
}

impl Listed {
    /// Whether it was requested at or after `since`; a time that does not parse counts
    /// as recent, so no permit is left out of the audit for it.
    fn since(&self, since: Timestamp) -> bool {
        self.requested_at.parse::<Timestamp>().ok().is_none_or(|at| at >= since)
    }
}

#[derive(Deserialize)]
struct Page {
    permits: Vec<Listed>,
    next_cursor: Option<String>,
}

/// The audit, for people: the counts, then each lost permit's id.
pub fn render(audit: &Audit, since: &Timestamp) -> String {
    format!(
        "{} permits acknowledged to the load run, {} listed by the issuer since {since}: {} lost, {} citizens with a duplicate\n{}",
        audit.acknowledged,
        audit.held,
        audit.lost.len(),
        audit.duplicated.len(),
        audit
            .lost
            .iter()
            .map(|id| format!("  lost: {id}\n"))
            .collect::<String>()
    )
}

/// The record against the permits listed (see `load_record::compare`).
pub fn compare(record: &Record, listed: &[Listed]) -> Audit {
    load_record::compare(record, listed.iter().map(|p| Held { id: &p.id, rut: &p.rut }))
}

/// The operators' entrance as `audit` reaches it: over HTTPS with the host's certificate
/// checked (ring, Mozilla's roots compiled in, as the issuer's OpenID Connect client), or
/// over plain HTTP only to a loopback address unless told `--insecure`, so a token is not
/// sent in the clear across a network by accident. Either way the URL names the host and
/// the connection goes to the entrance's address.
pub struct Operators {
    client: HyperClient<HttpsConnector<HttpConnector<Pinned>>, Empty<Bytes>>,
    /// `https://operadores.<domain>[:port]`, or `http://` for loopback.
    base: String,
}

/// Answers any name with the entrance's address: the host named in the URL (and so in the
/// TLS handshake and the Host header) need not be in DNS.
#[derive(Clone)]
struct Pinned(SocketAddr);

impl tower::Service<Name> for Pinned {
    type Response = std::iter::Once<SocketAddr>;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<Self::Response>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(std::iter::once(self.0)))
    }
}

/// A page of 100 permits is some 50 KiB; anything far larger is not the issuer.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(15);

impl Operators {
    pub fn reach(entry: &Entry, insecure: bool) -> Result<Operators, Error> {
        let (scheme, default_port) = if entry.operator_tls {
            ("https", 443)
        } else {
            ("http", 80)
        };
        let addr = socket_addr(&entry.address, default_port)
            .ok_or_else(|| Error::Usage(format!("--ip {:?} is not an IP or IP:PORT", entry.address)))?;
        if !entry.operator_tls && !insecure && !addr.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "refusing to send the operator token over plain HTTP to {}: pass --https if {} has a \
                 certificate, or --insecure for a cluster on this machine's own network",
                entry.address, entry.operator_host
            )));
        }
        let mut http = HttpConnector::new_with_resolver(Pinned(addr));
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| Error::Usage(format!("TLS: {e}")))?;
        let connector = if entry.operator_tls {
            connector.https_only()
        } else {
            connector.https_or_http()
        };
        let connector = connector.enable_http1().wrap_connector(http);
        let port = if addr.port() == default_port {
            String::new()
        } else {
            format!(":{}", addr.port())
        };
        Ok(Operators {
            client: HyperClient::builder(TokioExecutor::new()).build(connector),
            base: format!("{scheme}://{}{port}", entry.operator_host),
        })
    }

    /// `GET url` with the token: the status and the body.
    async fn get(&self, url: &str, token: &str) -> Result<(StatusCode, Bytes), String> {
        let request = http::Request::get(url)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let answer = self.client.request(request).await.map_err(|e| source_chain(&e))?;
            let status = answer.status();
            let body = Limited::new(answer.into_body(), MAX_PAGE_BYTES)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
    }
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT`, a bare IPv6 address or `localhost[:PORT]`.
fn socket_addr(address: &str, default_port: u16) -> Option<SocketAddr> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return Some(addr);
    }
    if let Ok(ip) = address.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, default_port));
    }
    let (host, port) = match address.split_once(':') {
        Some((host, port)) => (host, port.parse().ok()?),
        None => (address, default_port),
    };
    (host == "localhost").then(|| SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Every permit requested at or after `since`, newest first, through the operator API.
pub async fn list_since(operators: &Operators, token: &str, since: Timestamp) -> Result<Vec<Listed>, Error> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/all?limit={PAGE}&reason={REASON}", operators.base);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (status, body) = operators
            .get(&url, token)
            .await
            .map_err(|e| Error::Service(format!("no answer at {}: {e}", operators.base)))?;
        let page: Page = match status {
            StatusCode::OK => serde_json::from_slice(&body)
                .map_err(|e| Error::Service(format!("/api/all answered something else than a page: {e}")))?,
            StatusCode::UNAUTHORIZED => return Err(Error::Service("refused the operator token".into())),
            StatusCode::FORBIDDEN => {
                return Err(Error::Service(
                    "the operator token is not of the administración role (an export needs it)".into(),
                ));
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::Service(
                    "no operator API here (is this the operadores host of the entrance?)".into(),
                ));
            }
            other => return Err(Error::Service(format!("/api/all answered {other}"))),
        };
        let before = listed.len();
        listed.extend(page.permits.into_iter().take_while(|p| p.since(since)));
        let older_reached = listed.len() - before < PAGE as usize;
        match page.next_cursor {
            Some(next) if !older_reached => cursor = Some(next),
            _ => return Ok(listed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_time_or_a_span_ago() {
        let now: Timestamp = "2026-11-30T13:00:00Z".parse().unwrap();
        assert_eq!(parse_since("30m", now).unwrap().to_string(), "2026-11-30T12:30:00Z");
        assert_eq!(
            parse_since("2026-11-30T10:00:00Z", now).unwrap().to_string(),
            "2026-11-30T10:00:00Z"
        );
        assert!(parse_since("yesterday", now).is_err());
    }

    fn entry(address: &str, tls: bool) -> Entry {
        Entry {
            address: address.into(),
            issuer_host: "formulario.permisos.test".into(),
            validator_host: "validar.permisos.test".into(),
            operator_host: "operadores.permisos.test".into(),
            operator_tls: tls,
        }
    }

    #[test]
    fn the_token_goes_in_the_clear_only_to_loopback_or_when_told() {
        for address in ["127.0.0.1", "127.0.0.1:8080", "[::1]:8080", "::1", "localhost:8080"] {
            let reached = Operators::reach(&entry(address, false), false).unwrap();
            assert!(reached.base.starts_with("http://operadores.permisos.test"), "{address}");
        }
        assert_eq!(socket_addr("localhost:8080", 80), Some(([127, 0, 0, 1], 8080).into()));
        assert_eq!(socket_addr("::1", 80), Some("[::1]:80".parse().unwrap()));
        for address in ["172.18.255.200", "10.0.0.1:80"] {
            let refused = Operators::reach(&entry(address, false), false).err().unwrap();
            assert!(
                refused
                    .to_string()
                    .contains("refusing to send the operator token over plain HTTP"),
                "{refused}"
            );
            assert!(Operators::reach(&entry(address, false), true).is_ok());
        }
        let tls = Operators::reach(&entry("172.18.255.200", true), false).unwrap();
        assert_eq!(tls.base, "https://operadores.permisos.test");
        let tls = Operators::reach(&entry("172.18.255.200:8443", true), false).unwrap();
        assert_eq!(tls.base, "https://operadores.permisos.test:8443");
        assert!(Operators::reach(&entry("permisos.example.cl", true), false).is_err());
    }
}
