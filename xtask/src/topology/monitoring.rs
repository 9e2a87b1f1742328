//! Prometheus for the local topology (`make local-up MONITORING=1`), the rule files made
//! from the manifests for it and for promtool, and the alerts a run set off.
//!
//! The rules live once, in k8s/components/monitoring/prometheus-rule.yaml (a
//! PrometheusRule for the Prometheus Operator); a plain rule file is its `spec`. The
//! dashboard's queries live once, in monitoring/dashboards/permisos.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::console::step;
use crate::error::Error;
use crate::net;
use crate::paths::{self, Paths};
use crate::process::Spec;

const RULES: &str = "k8s/components/monitoring/prometheus-rule.yaml";
const DASHBOARD: &str = "monitoring/dashboards/permisos.json";

/// .run/monitoring, where the generated files go.
fn dir(paths: &Paths) -> PathBuf {
    paths.run_dir().join("monitoring")
}

/// The PrometheusRule's `spec` as a plain rule file: everything under its `spec:` line,
/// two spaces less indented.
fn rule_file_of(manifest: &str) -> Option<String> {
    let (_, spec) = manifest.split_once("\nspec:\n")?;
    Some(
        spec.lines()
            .map(|line| line.strip_prefix("  ").unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
}

/// Every panel's query, rows' panels included, with Grafana's `$__rate_interval` as the 5
/// minutes Prometheus would see, with its panel's title.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn collect(panels: &Value, queries: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    let title = panel["title"].as_str().unwrap_or("untitled").to_owned();
                    queries.push((title, expr.replace("$__rate_interval", "5m")));
                }
            }
            collect(&panel["panels"], queries);
        }
    }
    let mut queries = Vec::new();
    collect(&dashboard["panels"], &mut queries);
    queries
}

fn read(paths: &Paths, relative: &str) -> Result<String, Error> {
    std::fs::read_to_string(paths.root.join(relative)).map_err(Error::io(format!("reading {relative}")))
}

fn read_dashboard(paths: &Paths) -> Result<Value, Error> {
    serde_json::from_str(&read(paths, DASHBOARD)?).map_err(|e| Error::Failed(format!("{DASHBOARD}: {e}")))
}

/// Writes .run/monitoring/rules.yaml (the alerts and recording rules) and
/// dashboard-queries.yaml (each panel's query as a recording rule, so that promtool
/// checks that it parses); returns both paths.
pub fn write_rule_files(paths: &Paths) -> Result<(PathBuf, PathBuf), Error> {
    let rules = rule_file_of(&read(paths, RULES)?).ok_or_else(|| Error::Failed(format!("{RULES} has no `spec:`")))?;
    let queries: Vec<String> = dashboard_queries(&read_dashboard(paths)?)
        .into_iter()
        .enumerate()
        .map(|(n, (title, expr))| {
            let quoted = serde_json::to_string(&expr).expect("a string serialises");
            format!("      # {title}\n      - record: dashboard:panel_{n}\n        expr: {quoted}")
        })
        .collect();
    let out = dir(paths);
    std::fs::create_dir_all(&out).map_err(Error::io("creating .run/monitoring"))?;
    let (rules_path, queries_path) = (out.join("rules.yaml"), out.join("dashboard-queries.yaml"));
    std::fs::write(&rules_path, rules).map_err(Error::io("writing .run/monitoring/rules.yaml"))?;
    let text = format!("groups:\n  - name: dashboard\n    rules:\n{}\n", queries.join("\n"));
    std::fs::write(&queries_path, text).map_err(Error::io("writing .run/monitoring/dashboard-queries.yaml"))?;
    Ok((rules_path, queries_path))
}

/// Debian's Prometheus, on 127.0.0.1:`port`, scraping every replica's admin port each
/// second and evaluating our rules each second.
pub fn prometheus_spec(paths: &Paths, run: &Path, port: u16, replicas: &[(String, u16)]) -> Result<Spec, Error> {
    let binary = paths::installed(
        "prometheus",
        &[
            "/usr/bin/prometheus",
            "/usr/local/bin/prometheus",
            "/opt/homebrew/bin/prometheus",
        ],
        "`scripts/tools.sh prometheus` installs Debian's prometheus",
    )?;
    net::require_free(port, "PROMETHEUS_PORT")?;
    let (rules, _) = write_rule_files(paths)?;
    let mut jobs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (part, admin_port) in replicas {
        let job = part.rsplit_once('-').map_or(part.as_str(), |(service, _)| service);
        jobs.entry(job).or_default().push(format!("'127.0.0.1:{admin_port}'"));
    }
    let scrape: Vec<String> = jobs
        .iter()
        .map(|(job, targets)| {
            format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [{}]",
                targets.join(", ")
            )
        })
        .collect();
    let config = format!(
        "# Written by cargo xtask up (MONITORING=1).\nglobal:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\nscrape_configs:\n{}\n",
        rules.display(),
        scrape.join("\n")
    );
    let config_path = run.join("prometheus.yml");
    std::fs::write(&config_path, config).map_err(Error::io("writing .run/local/prometheus.yml"))?;
    Ok(Spec {
        name: "prometheus".into(),
        argv: vec![
            binary.display().to_string(),
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", run.join("prometheus-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        env: Vec::new(),
        log: run.join("prometheus.log"),
        cpuset: None,
        detached: true,
    })
}

/// An instant query's or a range query's `data.result`, from the local Prometheus.
pub fn query(port: u16, path_and_query: &str) -> Result<Vec<Value>, Error> {
    let (status, body) = net::fetch(
        port,
        "GET",
        path_and_query,
        &[("Host", "127.0.0.1")],
        b"",
        std::time::Duration::from_secs(10),
    )
    .ok_or_else(|| Error::Failed(format!("Prometheus on 127.0.0.1:{port} does not answer")))?;
    let answer: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::Failed(format!("Prometheus answered {status} with no JSON: {e}")))?;
    if answer["status"] != "success" {
        return Err(Error::Failed(format!("Prometheus answered {status}: {answer}")));
    }
    Ok(answer["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Each alert's course between `from` and `to` (seconds since the epoch), from the ALERTS
/// series: one line per alert, state and unbroken stretch in that state (the end of a
/// `firing` stretch is when it resolved).
pub fn alert_timeline(port: u16, from: f64, to: f64) -> Result<Vec<String>, Error> {
    let path = format!(
        "/api/v1/query_range?query={}&start={from:.3}&end={to:.3}&step=1",
        encode("ALERTS")
    );
    let mut lines = Vec::new();
    for series in query(port, &path)? {
        let metric = series["metric"].as_object().cloned().unwrap_or_default();
        let name = metric.get("alertname").and_then(Value::as_str).unwrap_or("?");
        let state = metric.get("alertstate").and_then(Value::as_str).unwrap_or("?");
        let labels: Vec<String> = metric
            .iter()
            .filter(|(key, _)| !["__name__", "alertname", "alertstate", "severity"].contains(&key.as_str()))
            .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or("")))
            .collect();
        let times: Vec<f64> = series["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v[0].as_f64())
            .collect();
        for (first, last) in spans(&times) {
            let line = format!(
                "alert {name}{{{}}} {state} {}-{}",
                labels.join(","),
                clock(first),
                clock(last + 1.0)
            );
            lines.push((first, line));
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

/// The unbroken runs of a series sampled each second: (first, last) second of each.
fn spans(times: &[f64]) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for &t in times {
        match spans.last_mut() {
            Some((_, last)) if t - *last <= 1.5 => *last = t,
            _ => spans.push((t, t)),
        }
    }
    spans
}

/// `HH:MM:SS` in UTC, as the event logs write times.
fn clock(seconds: f64) -> String {
    jiff::Timestamp::from_second(seconds as i64)
        .map(|t| t.strftime("%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Runs each dashboard query against the local Prometheus: which return data. Panels of
/// Kubernetes objects (kube-state-metrics) have none locally and are named as such.
pub fn check_dashboard(paths: &Paths, port: u16) -> Result<bool, Error> {
    step(&format!(
        "the dashboard's queries against Prometheus on 127.0.0.1:{port}"
    ));
    let mut empty = Vec::new();
    for (title, expr) in dashboard_queries(&read_dashboard(paths)?) {
        let results = query(port, &format!("/api/v1/query?query={}", encode(&expr)))?;
        let kubernetes_only = expr.contains("kube_");
        let verdict = match (results.is_empty(), kubernetes_only) {
            (false, _) => "data",
            (true, true) => "no data (Kubernetes objects: kind only)",
            (true, false) => {
                empty.push(title.clone());
                "NO DATA"
            }
        };
        println!("  {verdict:<40} {title}: {expr}");
    }
    if !empty.is_empty() {
        println!("panels without data: {}", empty.join(", "));
    }
    Ok(empty.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_file_is_the_spec_dedented() {
        let manifest = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n    - name: a\n      rules: []\n";
        assert_eq!(
            rule_file_of(manifest).as_deref(),
            Some("groups:\n  - name: a\n    rules: []\n")
        );
        assert_eq!(rule_file_of("kind: PrometheusRule\n"), None);
    }

    #[test]
    fn queries_come_from_every_panel_rows_included() {
        let dashboard = serde_json::json!({"panels": [
            {"title": "A", "targets": [{"expr": "sum(rate(x[$__rate_interval]))"}]},
            {"title": "Row", "type": "row", "panels": [{"title": "B", "targets": [{"expr": "up"}, {"refId": "no expr"}]}]}
        ]});
        assert_eq!(
            dashboard_queries(&dashboard),
            [
                ("A".to_owned(), "sum(rate(x[5m]))".to_owned()),
                ("B".to_owned(), "up".to_owned())
            ]
        );
    }

    #[test]
    fn an_alert_that_came_back_is_two_stretches() {
        assert_eq!(spans(&[10.0, 11.0, 12.0, 40.0, 41.0]), [(10.0, 12.0), (40.0, 41.0)]);
        assert_eq!(spans(&[]), []);
    }

    #[test]
    fn parameters_are_percent_encoded() {
        assert_eq!(encode("sum(up{job=\"a b\"})"), "sum%28up%7Bjob%3D%22a%20b%22%7D%29");
    }
}
