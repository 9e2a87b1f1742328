//! The monitoring component as `make kind-up MONITORING=1` deploys it: PodMonitors that
//! find the services' admin ports, and rules whose every alert says what to do.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::RoleBinding;
use manifests::{Manifests, PodMonitor, PrometheusRule, root};

/// The kind overlay with the monitoring component, as scripts/kind.sh adds it.
fn with_monitoring() -> Manifests {
    Manifests::render_deploy_overlay(
        "resources:\n  - ../../k8s/overlays/kind\ncomponents:\n  - ../../k8s/components/monitoring\n",
    )
}

#[test]
fn pod_monitors_scrape_the_admin_port_of_both_services() {
    let m = with_monitoring();
    let monitors: Vec<PodMonitor> = m.all("PodMonitor");
    let deployments = m.all::<Deployment>("Deployment");
    let mut scraped = BTreeSet::new();
    for monitor in &monitors {
        assert_eq!(monitor.api_version, "monitoring.coreos.com/v1");
        assert_eq!(monitor.metadata.namespace.as_deref(), Some("permisos"));
        let selector = &monitor.spec.selector.match_labels;
        let targets: Vec<&Deployment> = deployments
            .iter()
            .filter(|d| {
                let labels = d
                    .spec
                    .as_ref()
                    .unwrap()
                    .template
                    .metadata
                    .as_ref()
                    .unwrap()
                    .labels
                    .clone()
                    .unwrap();
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect();
        assert_eq!(
            targets.len(),
            1,
            "{} selects one Deployment's pods",
            monitor.metadata.name
        );
        let pod = targets[0].spec.clone().unwrap().template.spec.unwrap();
        for endpoint in &monitor.spec.pod_metrics_endpoints {
            assert!(
                pod.containers[0]
                    .ports
                    .iter()
                    .flatten()
                    .any(|p| p.name.as_deref() == Some(endpoint.port.as_str())),
                "port {} is declared",
                endpoint.port
            );
            assert_eq!(endpoint.path.as_deref(), Some(permit_web::health::METRICS));
        }
        scraped.insert(targets[0].metadata.name.clone().unwrap());
    }
    assert_eq!(scraped, BTreeSet::from(["issuer".to_owned(), "validator".to_owned()]));
    let binding = m
        .all::<RoleBinding>("RoleBinding")
        .pop()
        .expect("read access for Prometheus");
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("prometheus-k8s", Some("monitoring"))
    );
}

/// GitHub's anchor for a Markdown heading: lower case, spaces to dashes, most punctuation gone.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_has_a_summary_a_description_a_severity_and_a_runbook_of_its_own() {
    let rule: PrometheusRule = with_monitoring().all("PrometheusRule").pop().unwrap();
    assert_eq!(rule.metadata.namespace.as_deref(), Some("permisos"));
    let runbooks = std::fs::read_to_string(root().join("docs/runbooks.md")).unwrap();
    let anchors: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| anchor(h.trim_start_matches('#')))
        .collect();
    let alerts: Vec<_> = rule
        .spec
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| r.alert.is_some())
        .collect();
    assert!(alerts.len() >= 10, "SLO burn alerts and cause alerts");
    for alert in alerts {
        let name = alert.alert.as_deref().unwrap();
        for key in ["summary", "description", "runbook"] {
            assert!(alert.annotations.contains_key(key), "{name} has no {key}");
        }
        assert!(
            ["critical", "warning"].contains(&alert.labels["severity"].as_str()),
            "{name}"
        );
        let runbook = &alert.annotations["runbook"];
        let target = runbook
            .strip_prefix("docs/runbooks.md#")
            .expect("a section of docs/runbooks.md");
        assert_eq!(
            target,
            name.to_lowercase(),
            "{name}: its runbook is the section named after it"
        );
        assert!(anchors.contains(target), "docs/runbooks.md has no section {runbook}");
    }
}

#[test]
fn the_dashboard_is_grafana_json_whose_panels_all_query_prometheus() {
    let text = std::fs::read_to_string(root().join("monitoring/dashboards/permisos.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["uid"], "permisos");
    let panels = dashboard["panels"].as_array().unwrap();
    let queries: Vec<&serde_json::Value> = panels
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| p["targets"].as_array().unwrap())
        .collect();
    assert!(queries.len() >= 15);
    assert!(
        queries
            .iter()
            .all(|q| q["expr"].as_str().is_some_and(|e| !e.is_empty()))
    );
    for wanted in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "permits_issued_total",
        "permits_refused_total",
        "slo:error_ratio:1h",
        "mongodb_operation_duration_seconds_bucket",
        "http_requests_shed_total",
        "http_requests_in_flight",
        "kube_deployment_status_replicas_ready",
        "kube_pod_container_status_restarts_total",
    ] {
        assert!(text.contains(wanted), "a panel shows {wanted}");
    }
}
