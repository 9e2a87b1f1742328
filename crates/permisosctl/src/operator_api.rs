//! The issuer's operator API on operadores.<domain>, as `audit` and `phases` reach it:
//! over HTTPS with the host's certificate checked (ring, Mozilla's roots compiled in, as the
//! issuer's OpenID Connect client), or over plain HTTP only to a loopback address unless
//! told `--insecure`, so a token is not sent in the clear across a network by accident.
//! Either way the URL names the host and the connection goes to the entrance's address.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use http::header::AUTHORIZATION;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use crate::error::{Error, source_chain};
use crate::smoke::Entry;

/// A client of the operators' entrance.
pub struct Operators {
    client: HyperClient<HttpsConnector<HttpConnector<Pinned>>, Full<Bytes>>,
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

    /// `https://operadores.<domain>[:port]`: where the paths go.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET url` with the token: the status and the body.
    pub async fn get(&self, url: &str, token: &str) -> Result<(StatusCode, Bytes), String> {
        self.send(http::Request::get(url), token, Bytes::new()).await
    }

    /// `POST path` of a JSON `body` with the token: the status and the answer's body.
    pub async fn post_json(&self, path: &str, token: &str, body: Vec<u8>) -> Result<(StatusCode, Bytes), String> {
        let request =
            http::Request::post(format!("{}{path}", self.base)).header(http::header::CONTENT_TYPE, "application/json");
        self.send(request, token, Bytes::from(body)).await
    }

    async fn send(
        &self,
        request: http::request::Builder,
        token: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let request = request
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(body))
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

#[cfg(test)]
mod tests {
    use super::*;

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
