//! `status`: where every workload of the system stands, and one line per problem.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use serde::Serialize;

use crate::assess::{self, Rollout};
use crate::entrance::{self, Entrance};
use crate::error::Error;
use crate::snapshot::{self, Snapshot};

/// An HPA has no CPU reading for its first minute or so (metrics-server scrapes every
/// 15 s, the HPA syncs every 15 s); only a lack that outlasts this is a problem.
const METRICS_GRACE_SECONDS: i64 = 120;

#[derive(Debug, Serialize)]
pub struct Report {
    pub workloads: Vec<Workload>,
    pub autoscalers: Vec<Autoscaler>,
    pub budgets: Vec<Budget>,
    pub members: Vec<Member>,
    pub entrance: Option<Entrance>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Workload {
    /// `deployment/issuer`, `statefulset/mongodb`, `job/mongodb-init`.
    pub name: String,
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    /// Container restarts over its current pods.
    pub restarts: i32,
    /// Its pods per node: is it spread?
    pub nodes: BTreeMap<String, usize>,
}

impl Workload {
    fn of(name: String, desired: i32, [ready, updated, available]: [Option<i32>; 3], pods: &[&Pod]) -> Workload {
        Workload {
            name,
            desired,
            ready: ready.unwrap_or(0),
            updated: updated.unwrap_or(0),
            available: available.unwrap_or(0),
            restarts: restarts(pods),
            nodes: per_node(pods),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Autoscaler {
    pub name: String,
    pub replicas: i32,
    pub min: i32,
    pub max: i32,
    /// Average CPU use, in percent of the request, as the HPA last read it.
    pub cpu: Option<i32>,
    pub cpu_target: Option<i32>,
}

#[derive(Debug, Serialize)]
pub struct Budget {
    pub name: String,
    pub allowed_disruptions: i32,
    pub healthy: i32,
    pub desired_healthy: i32,
}

/// A pod of a StatefulSet: a MongoDB member.
#[derive(Debug, Serialize)]
pub struct Member {
    pub pod: String,
    pub ready: bool,
    pub node: Option<String>,
}

fn pods_of<'a>(pods: &'a [Pod], selector: Option<&LabelSelector>) -> Vec<&'a Pod> {
    pods.iter().filter(|p| snapshot::selects(selector, p)).collect()
}

fn restarts(pods: &[&Pod]) -> i32 {
    pods.iter()
        .flat_map(|p| p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()))
        .map(|c| c.restart_count)
        .sum()
}

fn per_node(pods: &[&Pod]) -> BTreeMap<String, usize> {
    let mut nodes = BTreeMap::new();
    for pod in pods.iter().filter(|p| assess::pod_ready(p)) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        *nodes.entry(node).or_default() += 1;
    }
    nodes
}

fn name(meta: &kube::api::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

/// The report on `snapshot`, its HPAs and PDBs, as of `now`.
pub fn report(
    snapshot: &Snapshot,
    autoscalers: &[HorizontalPodAutoscaler],
    budgets: &[PodDisruptionBudget],
    now: Timestamp,
) -> Report {
    let mut problems = Vec::new();
    let mut workloads = Vec::new();
    let mut members = Vec::new();
    let nodes_in_use = snapshot
        .pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    for deployment in &snapshot.deployments {
        let pods = pods_of(&snapshot.pods, deployment.spec.as_ref().map(|s| &s.selector));
        let status = deployment.status.clone().unwrap_or_default();
        let workload = Workload::of(
            format!("deployment/{}", name(&deployment.metadata)),
            deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            [
                status.ready_replicas,
                status.updated_replicas,
                status.available_replicas,
            ],
            &pods,
        );
        if let Rollout::Pending(detail) = assess::deployment_rollout(deployment) {
            problems.push(format!("{}: {detail}", workload.name));
        }
        if let [(node, count)] = workload.nodes.iter().collect::<Vec<_>>()[..]
            && *count >= 2
            && nodes_in_use >= 2
        {
            problems.push(format!(
                "{}: all {count} ready pods on node {node}; one node failing takes them all",
                workload.name
            ));
        }
        problems.extend(assess::deployment_blocker(deployment).map(|b| b.to_string()));
        workloads.push(workload);
    }
    for set in &snapshot.statefulsets {
        let pods = pods_of(&snapshot.pods, set.spec.as_ref().map(|s| &s.selector));
        let status = set.status.clone().unwrap_or_default();
        let workload = Workload::of(
            format!("statefulset/{}", name(&set.metadata)),
            set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            [
                status.ready_replicas,
                status.updated_replicas,
                status.available_replicas,
            ],
            &pods,
        );
        if let Rollout::Pending(detail) = assess::statefulset_rollout(set) {
            problems.push(format!("{}: {detail}", workload.name));
        }
        members.extend(pods.iter().map(|pod| Member {
            pod: name(&pod.metadata).to_owned(),
            ready: assess::pod_ready(pod),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        }));
        workloads.push(workload);
    }
    for job in &snapshot.jobs {
        let status = job.status.clone().unwrap_or_default();
        let done = assess::job_rollout(job) == Rollout::Done;
        workloads.push(Workload {
            name: format!("job/{}", name(&job.metadata)),
            desired: job.spec.as_ref().and_then(|s| s.completions).unwrap_or(1),
            // A Job's pods are done rather than ready: its succeeded pods fill the columns.
            ready: status.succeeded.unwrap_or(0),
            updated: status.succeeded.unwrap_or(0),
            available: status.succeeded.unwrap_or(0),
            restarts: status.failed.unwrap_or(0),
            nodes: BTreeMap::new(),
        });
        match assess::job_blocker(job) {
            Some(blocker) => problems.push(blocker.to_string()),
            None if !done => problems.push(format!("job/{}: not complete yet", name(&job.metadata))),
            None => {}
        }
    }
    for pod in &snapshot.pods {
        problems.extend(assess::pod_blockers(pod, now).iter().map(ToString::to_string));
    }
    let autoscalers = autoscalers
        .iter()
        .map(|hpa| {
            let hpa_name = format!("hpa/{}", name(&hpa.metadata));
            let status = hpa.status.clone().unwrap_or_default();
            for condition in status.conditions.iter().flatten() {
                let lasting = condition
                    .last_transition_time
                    .as_ref()
                    .is_none_or(|since| now.as_second() - since.0.as_second() >= METRICS_GRACE_SECONDS);
                if matches!(condition.type_.as_str(), "ScalingActive" | "AbleToScale")
                    && condition.status == "False"
                    && lasting
                {
                    problems.push(format!(
                        "{hpa_name}: cannot scale: {}: {}",
                        condition.reason.as_deref().unwrap_or(""),
                        condition.message.as_deref().unwrap_or("")
                    ));
                }
            }
            let cpu =
                |metrics: Option<Vec<_>>, pick: fn(&k8s_openapi::api::autoscaling::v2::MetricStatus) -> Option<i32>| {
                    metrics.iter().flatten().find_map(pick)
                };
            Autoscaler {
                name: hpa_name,
                replicas: status.current_replicas.unwrap_or(0),
                min: hpa.spec.as_ref().and_then(|s| s.min_replicas).unwrap_or(1),
                max: hpa.spec.as_ref().map_or(0, |s| s.max_replicas),
                cpu: cpu(status.current_metrics, |m| {
                    m.resource
                        .as_ref()
                        .filter(|r| r.name == "cpu")?
                        .current
                        .average_utilization
                }),
                cpu_target: hpa.spec.iter().flat_map(|s| s.metrics.iter().flatten()).find_map(|m| {
                    m.resource
                        .as_ref()
                        .filter(|r| r.name == "cpu")?
                        .target
                        .average_utilization
                }),
            }
        })
        .collect();
    let budgets = budgets
        .iter()
        .map(|pdb| {
            let status = pdb.status.clone().unwrap_or_default();
            let budget = Budget {
                name: format!("pdb/{}", name(&pdb.metadata)),
                allowed_disruptions: status.disruptions_allowed,
                healthy: status.current_healthy,
                desired_healthy: status.desired_healthy,
            };
            // With pods down the workload's own line says so; with all of them healthy and
            // still no disruption allowed, the budget itself is wrong.
            if budget.allowed_disruptions == 0 && status.expected_pods > 0 && budget.healthy >= status.expected_pods {
                problems.push(format!(
                    "{}: allows no disruption with all {} pods healthy; a node drain would stall",
                    budget.name, budget.healthy
                ));
            }
            budget
        })
        .collect();
    let entrance = entrance::entrance(&snapshot.ingresses, &snapshot.routes, &snapshot.gateways);
    match &entrance {
        None => problems.push("entrance: no Ingress or HTTPRoute in the namespace".into()),
        Some(found) if found.address.is_none() => {
            problems.push(format!(
                "entrance: {} has no LoadBalancer address (is MetalLB running?)",
                found.via
            ));
        }
        Some(_) => {}
    }
    Report {
        workloads,
        autoscalers,
        budgets,
        members,
        entrance,
        problems,
    }
}

/// Everything `status` needs, read now.
pub async fn read(client: &Client, namespace: &str) -> Result<Report, Error> {
    let snapshot = Snapshot::list(client, namespace).await?;
    let autoscalers: Vec<HorizontalPodAutoscaler> = snapshot::list(client, namespace).await?;
    let budgets: Vec<PodDisruptionBudget> = snapshot::list(client, namespace).await?;
    Ok(report(&snapshot, &autoscalers, &budgets, Timestamp::now()))
}

/// The report as an operator reads it.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>7} {:>5} {:>7} {:>9} {:>8}  PODS PER NODE",
        "WORKLOAD", "DESIRED", "READY", "UPDATED", "AVAILABLE", "RESTARTS"
    );
    for w in &report.workloads {
        let nodes: Vec<String> = w.nodes.iter().map(|(node, n)| format!("{node}:{n}")).collect();
        let _ = writeln!(
            out,
            "{:<24} {:>7} {:>5} {:>7} {:>9} {:>8}  {}",
            w.name,
            w.desired,
            w.ready,
            w.updated,
            w.available,
            w.restarts,
            nodes.join(" ")
        );
    }
    if !report.members.is_empty() {
        let members: Vec<String> = report
            .members
            .iter()
            .map(|m| format!("{} {}", m.pod, if m.ready { "Ready" } else { "not ready" }))
            .collect();
        let _ = writeln!(out, "\nMongoDB members: {}", members.join(", "));
    }
    for hpa in &report.autoscalers {
        let percent = |v: Option<i32>| v.map_or("<unknown>".to_owned(), |v| format!("{v}%"));
        let _ = writeln!(
            out,
            "{}: {} replicas ({}–{}), CPU {} of target {}",
            hpa.name,
            hpa.replicas,
            hpa.min,
            hpa.max,
            percent(hpa.cpu),
            percent(hpa.cpu_target)
        );
    }
    for pdb in &report.budgets {
        let _ = writeln!(
            out,
            "{}: {} disruption(s) allowed ({} healthy, {} needed)",
            pdb.name, pdb.allowed_disruptions, pdb.healthy, pdb.desired_healthy
        );
    }
    if let Some(entrance) = &report.entrance {
        let _ = writeln!(
            out,
            "\nEntrance: {} at {}, hosts {}",
            entrance.via,
            entrance.address.as_deref().unwrap_or("<no address yet>"),
            entrance.hosts.join(" ")
        );
    }
    if report.problems.is_empty() {
        out.push_str("\nNo problems.\n");
    } else {
        let _ = writeln!(out, "\n{} problem(s):", report.problems.len());
        for problem in &report.problems {
            let _ = writeln!(out, "  {problem}");
        }
    }
    out
}
