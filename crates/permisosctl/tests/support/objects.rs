//! Objects shaped as a Kubernetes 1.34 API server returns them, built from k8s-openapi's
//! types: the system's workloads in the states the tests need.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, StatefulSet, StatefulSetSpec, StatefulSetStatus,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerSpec, HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus, MetricTarget,
    MetricValueStatus, ResourceMetricSource, ResourceMetricStatus,
};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, PodCondition, PodSpec,
    PodStatus, PodTemplateSpec,
};
use k8s_openapi::api::networking::v1::{
    Ingress, IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressRule, IngressSpec, IngressStatus,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::fake_api::NAMESPACE;

fn labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_owned(), app.to_owned())])
}

fn meta(name: &str, app: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NAMESPACE.into()),
        labels: Some(labels(app)),
        generation: Some(1),
        creation_timestamp: Some(Time(Timestamp::now())),
        ..ObjectMeta::default()
    }
}

fn selector(app: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels(app)),
        ..LabelSelector::default()
    }
}

fn condition_time() -> Option<Time> {
    Some(Time(Timestamp::now()))
}

fn pod_condition(kind: &str, ready: bool) -> PodCondition {
    PodCondition {
        type_: kind.into(),
        status: if ready { "True" } else { "False" }.into(),
        last_transition_time: condition_time(),
        ..PodCondition::default()
    }
}

/// A running pod of `app` on `node`, Ready or not.
pub fn pod(name: &str, app: &str, node: &str, ready: bool) -> Pod {
    Pod {
        metadata: meta(name, app),
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            containers: vec![Container {
                name: app.into(),
                image: Some(format!("permisos/{app}:c-0123456789abcdef")),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![
                pod_condition("PodScheduled", true),
                pod_condition("Initialized", true),
                pod_condition("ContainersReady", ready),
                pod_condition("Ready", ready),
            ]),
            container_statuses: Some(vec![ContainerStatus {
                name: app.into(),
                image: format!("permisos/{app}:c-0123456789abcdef"),
                image_id: String::new(),
                ready,
                restart_count: 0,
                started: Some(true),
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: condition_time(),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

/// A pod of `app` whose container waits for `reason` (e.g. `ImagePullBackOff`).
pub fn waiting_pod(name: &str, app: &str, reason: &str, message: &str, restarts: i32) -> Pod {
    let mut pod = pod(name, app, "permisos-worker", false);
    let status = pod.status.as_mut().unwrap();
    let container = &mut status.container_statuses.as_mut().unwrap()[0];
    container.restart_count = restarts;
    container.started = Some(false);
    container.state = Some(ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: Some(message.into()),
        }),
        ..ContainerState::default()
    });
    pod
}

/// A pod the scheduler has refused since `since`.
pub fn unschedulable_pod(name: &str, app: &str, since: Timestamp, message: &str) -> Pod {
    let mut pod = pod(name, app, "", false);
    pod.spec.as_mut().unwrap().node_name = None;
    pod.status = Some(PodStatus {
        phase: Some("Pending".into()),
        conditions: Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some(message.into()),
            last_transition_time: Some(Time(since)),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    pod
}

/// A pod of a Job's (owned by it, as the Job controller makes them).
pub fn job_pod(name: &str, job: &str, reason: &str) -> Pod {
    let mut pod = waiting_pod(name, job, reason, "back-off 40s restarting failed container", 3);
    pod.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.into(),
        uid: format!("uid-{job}"),
        controller: Some(true),
        ..OwnerReference::default()
    }]);
    pod
}

/// A Deployment of `app` wanting `replicas`, `available` of them available and updated.
pub fn deployment(app: &str, replicas: i32, available: i32) -> Deployment {
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(app)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: app.into(),
                image: Some(format!("permisos/{app}:c-0123456789abcdef")),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    };
    Deployment {
        metadata: meta(app, app),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: selector(app),
            template,
            ..DeploymentSpec::default()
        }),
        status: Some(DeploymentStatus {
            observed_generation: Some(1),
            replicas: Some(replicas),
            updated_replicas: Some(replicas),
            ready_replicas: Some(available),
            available_replicas: Some(available),
            conditions: Some(vec![DeploymentCondition {
                type_: "Progressing".into(),
                status: "True".into(),
                reason: Some("NewReplicaSetAvailable".into()),
                message: Some(format!("ReplicaSet \"{app}-7d9f8b6c5d\" has successfully progressed.")),
                last_transition_time: condition_time(),
                last_update_time: condition_time(),
            }]),
            ..DeploymentStatus::default()
        }),
    }
}

/// A Deployment whose rollout hit its progress deadline.
pub fn stalled_deployment(app: &str) -> Deployment {
    let mut deployment = deployment(app, 4, 3);
    let condition = &mut deployment.status.as_mut().unwrap().conditions.as_mut().unwrap()[0];
    condition.status = "False".into();
    condition.reason = Some("ProgressDeadlineExceeded".into());
    condition.message = Some(format!("ReplicaSet \"{app}-7d9f8b6c5d\" has timed out progressing."));
    deployment
}

/// MongoDB's StatefulSet with `ready` of its three members Ready.
pub fn mongodb(ready: i32) -> StatefulSet {
    StatefulSet {
        metadata: meta("mongodb", "mongodb"),
        spec: Some(StatefulSetSpec {
            replicas: Some(3),
            selector: selector("mongodb"),
            service_name: Some("mongodb".into()),
            template: PodTemplateSpec::default(),
            ..StatefulSetSpec::default()
        }),
        status: Some(StatefulSetStatus {
            observed_generation: Some(1),
            replicas: 3,
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            current_replicas: Some(3),
            updated_replicas: Some(3),
            current_revision: Some("mongodb-6b8f9c7d5".into()),
            update_revision: Some("mongodb-6b8f9c7d5".into()),
            ..StatefulSetStatus::default()
        }),
    }
}

fn job_condition(kind: &str, reason: &str, message: &str) -> JobCondition {
    JobCondition {
        type_: kind.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: condition_time(),
        last_transition_time: condition_time(),
    }
}

/// The replica set's set-up Job: running, complete or failed.
pub fn init_job(outcome: Option<bool>) -> Job {
    let conditions = match outcome {
        None => None,
        Some(true) => Some(vec![
            job_condition(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
            job_condition(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
        ]),
        Some(false) => Some(vec![
            job_condition(
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ),
            job_condition(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ),
        ]),
    };
    Job {
        metadata: meta("mongodb-init", "mongodb-init"),
        spec: Some(JobSpec {
            backoff_limit: Some(6),
            selector: Some(selector("mongodb-init")),
            template: PodTemplateSpec::default(),
            ..JobSpec::default()
        }),
        status: Some(JobStatus {
            active: Some(i32::from(outcome.is_none())),
            succeeded: Some(i32::from(outcome == Some(true))),
            failed: Some(if outcome == Some(false) { 7 } else { 0 }),
            conditions,
            ..JobStatus::default()
        }),
    }
}

/// The Ingress of both hosts, with the address ingress-nginx published, if any.
pub fn ingress(address: Option<&str>) -> Ingress {
    Ingress {
        metadata: meta("permisos", "permisos-ingress"),
        spec: Some(IngressSpec {
            ingress_class_name: Some("nginx".into()),
            rules: Some(
                ["formulario.permisos.test", "validar.permisos.test"]
                    .map(|host| IngressRule {
                        host: Some(host.into()),
                        http: None,
                    })
                    .to_vec(),
            ),
            ..IngressSpec::default()
        }),
        status: Some(IngressStatus {
            load_balancer: Some(IngressLoadBalancerStatus {
                ingress: address.map(|ip| {
                    vec![IngressLoadBalancerIngress {
                        ip: Some(ip.into()),
                        ..Default::default()
                    }]
                }),
            }),
        }),
    }
}

/// An HPA on CPU at 70 %, reading `cpu` (None: metrics-server gives none).
pub fn hpa(app: &str, cpu: Option<i32>) -> HorizontalPodAutoscaler {
    let conditions = vec![HorizontalPodAutoscalerCondition {
        type_: "ScalingActive".into(),
        status: if cpu.is_some() { "True" } else { "False" }.into(),
        reason: Some(
            if cpu.is_some() {
                "ValidMetricFound"
            } else {
                "FailedGetResourceMetric"
            }
            .into(),
        ),
        message: Some(if cpu.is_some() {
            "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)".into()
        } else {
            "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API".into()
        }),
        // A failure to read metrics has lasted ten minutes: not the first minute's lack.
        last_transition_time: Some(Time(
            Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_mins(10),
        )),
    }];
    HorizontalPodAutoscaler {
        metadata: meta(app, app),
        spec: Some(HorizontalPodAutoscalerSpec {
            min_replicas: Some(4),
            max_replicas: 10,
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: app.into(),
            },
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(70),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        status: Some(HorizontalPodAutoscalerStatus {
            current_replicas: Some(4),
            desired_replicas: 4,
            current_metrics: cpu.map(|cpu| {
                vec![MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus {
                        name: "cpu".into(),
                        current: MetricValueStatus {
                            average_utilization: Some(cpu),
                            ..MetricValueStatus::default()
                        },
                    }),
                    ..MetricStatus::default()
                }]
            }),
            conditions: Some(conditions),
            ..HorizontalPodAutoscalerStatus::default()
        }),
    }
}

/// A PDB keeping all but one of `app`'s pods, with `healthy` of `expected` healthy.
pub fn pdb(app: &str, healthy: i32, expected: i32) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(app, app),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(app)),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: Some(PodDisruptionBudgetStatus {
            current_healthy: healthy,
            desired_healthy: expected - 1,
            disruptions_allowed: (healthy - (expected - 1)).max(0),
            expected_pods: expected,
            observed_generation: Some(1),
            ..PodDisruptionBudgetStatus::default()
        }),
    }
}
