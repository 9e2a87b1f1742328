//! `hosts`: the `/etc/hosts` line for both hosts, from the cluster's own objects.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;

use crate::entrance::Entrance;
use crate::error::Error;

#[derive(Debug, Serialize)]
pub struct Hosts {
    pub address: String,
    /// Whether the site answers from this machine at the address (Docker Desktop does not
    /// route the kind network to the host; there the entrance is reached through a
    /// port-forward).
    pub reachable: bool,
    pub hosts: Vec<String>,
    /// The line to add to `/etc/hosts` on this machine.
    pub line: String,
}

/// The line for `entrance`, checked against whether its landing page answers from here.
pub async fn hosts(entrance: Option<Entrance>) -> Result<Hosts, Error> {
    let entrance = entrance.ok_or_else(|| Error::Unhealthy("no Ingress or HTTPRoute in the namespace".into()))?;
    let address = entrance.address.clone().ok_or_else(|| {
        Error::Unhealthy(format!(
            "{} has no LoadBalancer address yet (is MetalLB running?)",
            entrance.via
        ))
    })?;
    if entrance.hosts.is_empty() {
        return Err(Error::Unhealthy(format!("{} routes no host", entrance.via)));
    }
    let landing = entrance.host("formulario.").unwrap_or(&entrance.hosts[0]);
    let reachable = answers(&address, landing).await;
    let shown = if reachable { address.as_str() } else { "127.0.0.1" };
    Ok(Hosts {
        line: format!("{shown} {}", entrance.hosts.join(" ")),
        address,
        reachable,
        hosts: entrance.hosts,
    })
}

/// Whether `host`'s landing page answers 200 at `address`: an answer from the site
/// itself, not just an open port (a proxy on the way may accept any connection).
async fn answers(address: &str, host: &str) -> bool {
    let Ok(http) = reqwest::Client::builder().timeout(Duration::from_secs(3)).build() else {
        return false;
    };
    let answer = http
        .get(format!("http://{address}/"))
        .header(reqwest::header::HOST, host)
        .send()
        .await;
    answer.is_ok_and(|r| r.status() == StatusCode::OK)
}

/// What an operator does with it: the line, and how to try and load the system from here.
pub fn render(hosts: &Hosts) -> String {
    let issuer = hosts
        .hosts
        .iter()
        .find(|h| h.starts_with("formulario."))
        .map_or("", String::as_str);
    let validator = hosts
        .hosts
        .iter()
        .find(|h| h.starts_with("validar."))
        .map_or("", String::as_str);
    let pages = hosts
        .hosts
        .iter()
        .map(|h| format!("http://{h}/"))
        .collect::<Vec<_>>()
        .join(" and ");
    if hosts.reachable {
        format!(
            "The system answers on {address}. Add to /etc/hosts:\n  {line}\nthen open {pages}.\n\
             Try it:  make smoke\n\
             Load it: make load-test ENV=low TARGET=http://{address} ISSUER_HOST={issuer} VALIDATOR_HOST={validator}\n",
            address = hosts.address,
            line = hosts.line,
        )
    } else {
        format!(
            "This machine cannot reach {address} (Docker Desktop on macOS and Windows does not route the\n\
             kind network to the host). In another terminal run\n  make kind-forward\n\
             (a port-forward to the entrance on 127.0.0.1:80; on macOS through sudo, which binding\n\
             port 80 on 127.0.0.1 needs there), and add to /etc/hosts:\n  {line}\nthen open {pages}.\n\
             Try it:  make smoke IP=127.0.0.1\n\
             Load it (a port-forward carries far less than the IP would; keep it small):\n  \
             make load-test ENV=smoke TARGET=http://127.0.0.1 ISSUER_HOST={issuer} VALIDATOR_HOST={validator}\n",
            address = hosts.address,
            line = hosts.line,
        )
    }
}
