//! The decisions, as pure functions over the API's own types: is this rollout done, and if
//! not, can it still finish or is it stuck, and why. Everything that talks to a cluster
//! calls these; the tests call them directly.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

/// Waiting reasons no retry will cure, and what they mean to an operator.
const FATAL_WAITING: [(&str, &str); 6] = [
    (
        "ErrImageNeverPull",
        "the image is not on the node (was it loaded with `kind load`?)",
    ),
    ("InvalidImageName", "the image name is not valid"),
    (
        "CreateContainerConfigError",
        "a ConfigMap or Secret key it needs is missing",
    ),
    ("CreateContainerError", "the container could not be created"),
    ("ImagePullBackOff", "the image could not be pulled"),
    ("ErrImagePull", "the image could not be pulled"),
];

/// A pod the scheduler has refused for this long will not be placed by waiting.
pub const UNSCHEDULABLE_SECONDS: i64 = 60;

/// Something that keeps an object from ever becoming ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// `kind/name`, as kubectl spells it.
    pub object: String,
    /// The API's own reason, e.g. `ImagePullBackOff`.
    pub reason: String,
    pub detail: String,
    /// For a crash loop: the pod and container whose previous log explains it.
    #[serde(skip)]
    pub log_of: Option<(String, String)>,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.reason)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Whether a workload has reached what was asked of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Done,
    /// Still on its way; says where it stands, e.g. `2 of 3 ready`.
    Pending(String),
}

fn condition<'a>(conditions: Option<&'a Vec<impl HasCondition>>, kind: &str) -> Option<&'a dyn HasCondition> {
    conditions?
        .iter()
        .find(|c| c.kind() == kind)
        .map(|c| c as &dyn HasCondition)
}

/// The fields every workload condition type shares.
pub trait HasCondition {
    fn kind(&self) -> &str;
    fn status(&self) -> &str;
    fn reason(&self) -> &str;
    fn message(&self) -> &str;
    fn since(&self) -> Option<Timestamp>;
}

macro_rules! has_condition {
    ($($ty:ty),*) => {$(
        impl HasCondition for $ty {
            fn kind(&self) -> &str { &self.type_ }
            fn status(&self) -> &str { &self.status }
            fn reason(&self) -> &str { self.reason.as_deref().unwrap_or("") }
            fn message(&self) -> &str { self.message.as_deref().unwrap_or("") }
            fn since(&self) -> Option<Timestamp> { self.last_transition_time.as_ref().map(|t| t.0) }
        }
    )*};
}
has_condition!(
    k8s_openapi::api::core::v1::PodCondition,
    k8s_openapi::api::batch::v1::JobCondition,
    k8s_openapi::api::apps::v1::DeploymentCondition
);

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

/// What keeps `pod` from running, as of `now`. A crash loop in a Job's pod is left to the
/// Job's own back-off limit, which ends in its `Failed` condition.
pub fn pod_blockers(pod: &Pod, now: Timestamp) -> Vec<Blocker> {
    let name = format!("pod/{}", name_of(&pod.metadata));
    let owned_by_job = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.kind == "Job");
    let mut found = Vec::new();
    let Some(status) = &pod.status else {
        return found;
    };
    if let Some(scheduled) = condition(status.conditions.as_ref(), "PodScheduled")
        && scheduled.status() == "False"
        && scheduled.reason() == "Unschedulable"
    {
        let since = scheduled.since().unwrap_or(now);
        if now.as_second() - since.as_second() >= UNSCHEDULABLE_SECONDS {
            found.push(Blocker {
                object: name.clone(),
                reason: "FailedScheduling".into(),
                detail: scheduled.message().to_owned(),
                log_of: None,
            });
        }
    }
    let containers: Vec<&ContainerStatus> = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .collect();
    for container in containers {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or("");
        let object = format!("{name} ({})", container.name);
        if let Some((_, meaning)) = FATAL_WAITING.iter().find(|(r, _)| *r == reason) {
            let message = waiting.message.as_deref().unwrap_or("");
            found.push(Blocker {
                object,
                reason: reason.to_owned(),
                detail: [*meaning, message]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(": "),
                log_of: None,
            });
        } else if reason == "CrashLoopBackOff" && !owned_by_job {
            found.push(Blocker {
                object,
                reason: reason.to_owned(),
                detail: format!("restarted {} times", container.restart_count),
                log_of: Some((name_of(&pod.metadata).to_owned(), container.name.clone())),
            });
        }
    }
    found
}

/// A Job that has given up.
pub fn job_blocker(job: &Job) -> Option<Blocker> {
    let failed = condition(job.status.as_ref()?.conditions.as_ref(), "Failed")?;
    (failed.status() == "True").then(|| Blocker {
        object: format!("job/{}", name_of(&job.metadata)),
        reason: "Failed".into(),
        detail: [failed.reason(), failed.message()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(": "),
        log_of: None,
    })
}

/// A Deployment whose controller has stopped trying.
pub fn deployment_blocker(deployment: &Deployment) -> Option<Blocker> {
    let progressing = condition(deployment.status.as_ref()?.conditions.as_ref(), "Progressing")?;
    (progressing.reason() == "ProgressDeadlineExceeded").then(|| Blocker {
        object: format!("deployment/{}", name_of(&deployment.metadata)),
        reason: "ProgressDeadlineExceeded".into(),
        detail: progressing.message().to_owned(),
        log_of: None,
    })
}

/// Why a workload is not judged yet: its controller has not reported on it (`observed`
/// is `None` without a status) or not on its latest spec.
fn unobserved(observed: Option<Option<i64>>, generation: Option<i64>) -> Option<Rollout> {
    match observed {
        None => Some(Rollout::Pending("not yet seen by its controller".into())),
        Some(seen) if seen.unwrap_or(0) < generation.unwrap_or(0) => Some(Rollout::Pending(
            "its controller has not seen the latest spec yet".into(),
        )),
        Some(_) => None,
    }
}

/// kubectl's `rollout status` for a Deployment: the controller has seen the latest spec,
/// every replica runs it, no old one is left, and all are available.
pub fn deployment_rollout(deployment: &Deployment) -> Rollout {
    if let Some(pending) = unobserved(
        deployment.status.as_ref().map(|s| s.observed_generation),
        deployment.metadata.generation,
    ) {
        return pending;
    }
    let status = deployment.status.clone().unwrap_or_default();
    let wanted = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        Rollout::Pending(format!("{updated} of {wanted} replicas updated"))
    } else if total > updated {
        Rollout::Pending(format!("{} old replicas still running", total - updated))
    } else if available < updated {
        Rollout::Pending(format!("{available} of {updated} updated replicas available"))
    } else {
        Rollout::Done
    }
}

/// kubectl's `rollout status` for a StatefulSet (rolling updates): every replica ready and
/// on the current revision.
pub fn statefulset_rollout(set: &StatefulSet) -> Rollout {
    if let Some(pending) = unobserved(
        set.status.as_ref().map(|s| s.observed_generation),
        set.metadata.generation,
    ) {
        return pending;
    }
    let status = set.status.clone().unwrap_or_default();
    let wanted = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if ready < wanted {
        Rollout::Pending(format!("{ready} of {wanted} members ready"))
    } else if updated < wanted || status.update_revision != status.current_revision {
        Rollout::Pending(format!("{updated} of {wanted} members on the new revision"))
    } else {
        Rollout::Done
    }
}

/// kubectl's `rollout status` for a DaemonSet: one updated, available pod per node.
pub fn daemonset_rollout(set: &DaemonSet) -> Rollout {
    if let Some(pending) = unobserved(
        set.status.as_ref().map(|s| s.observed_generation),
        set.metadata.generation,
    ) {
        return pending;
    }
    let status = set.status.clone().unwrap_or_default();
    let wanted = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if updated < wanted {
        Rollout::Pending(format!("{updated} of {wanted} pods updated"))
    } else if available < wanted {
        Rollout::Pending(format!("{available} of {wanted} pods available"))
    } else {
        Rollout::Done
    }
}

/// A Job is done when its `Complete` condition is true.
pub fn job_rollout(job: &Job) -> Rollout {
    let complete = job
        .status
        .as_ref()
        .and_then(|s| condition(s.conditions.as_ref(), "Complete"))
        .is_some_and(|c| c.status() == "True");
    if complete {
        Rollout::Done
    } else {
        Rollout::Pending("not complete yet".into())
    }
}

/// Whether the pod's `Ready` condition is true and it is not being deleted.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| condition(s.conditions.as_ref(), "Ready"))
            .is_some_and(|c| c.status() == "True")
}

/// The smallest number of members that still makes a majority of `members`.
pub fn majority(members: i32) -> i32 {
    members / 2 + 1
}

/// Whether one more pod of a workload with `ready` Ready pods may be deleted. Stateless
/// services keep at least one serving; a replica set keeps a majority of its `members`,
/// so it can still elect a primary and acknowledge majority writes.
pub fn may_delete_one(ready: i32, members: Option<i32>) -> Result<(), String> {
    if ready < 2 {
        return Err(format!(
            "only {ready} Ready pod(s); deleting one would leave none serving"
        ));
    }
    if let Some(members) = members
        && ready - 1 < majority(members)
    {
        return Err(format!(
            "{ready} of {members} members Ready; deleting one would leave less than a majority ({})",
            majority(members)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value, owner: Option<&str>) -> Pod {
        let owners = owner.map(|kind| json!([{"apiVersion": "batch/v1", "kind": kind, "name": "x", "uid": "u"}]));
        serde_json::from_value(json!({
            "metadata": {"name": "issuer-1", "namespace": "permisos", "ownerReferences": owners},
            "status": status,
        }))
        .unwrap()
    }

    fn waiting(reason: &str) -> serde_json::Value {
        json!({"containerStatuses": [{
            "name": "issuer", "image": "i", "imageID": "", "ready": false, "restartCount": 7,
            "state": {"waiting": {"reason": reason, "message": "back-off pulling"}}
        }]})
    }

    fn now() -> Timestamp {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn images_that_cannot_be_pulled_block() {
        for reason in ["ImagePullBackOff", "ErrImageNeverPull", "ErrImagePull"] {
            let found = pod_blockers(&pod(waiting(reason), None), now());
            assert_eq!(found.len(), 1, "{reason}");
            assert_eq!(found[0].object, "pod/issuer-1 (issuer)");
            assert_eq!(found[0].reason, reason);
            assert!(found[0].detail.ends_with("back-off pulling"), "{}", found[0].detail);
        }
    }

    #[test]
    fn a_slow_start_does_not_block() {
        for reason in ["ContainerCreating", "PodInitializing"] {
            assert!(pod_blockers(&pod(waiting(reason), None), now()).is_empty());
        }
        assert!(pod_blockers(&pod(json!({}), None), now()).is_empty());
    }

    #[test]
    fn crash_loops_block_with_their_log_except_in_jobs() {
        let found = pod_blockers(&pod(waiting("CrashLoopBackOff"), None), now());
        assert_eq!(found[0].reason, "CrashLoopBackOff");
        assert_eq!(found[0].detail, "restarted 7 times");
        assert_eq!(found[0].log_of, Some(("issuer-1".into(), "issuer".into())));
        assert!(pod_blockers(&pod(waiting("CrashLoopBackOff"), Some("Job")), now()).is_empty());
    }

    #[test]
    fn unschedulable_blocks_only_after_a_minute() {
        let at = |since: &str| {
            pod(
                json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/4 nodes are available: 4 Insufficient memory.", "lastTransitionTime": since}]}),
                None,
            )
        };
        assert!(pod_blockers(&at("2026-11-30T11:59:30Z"), now()).is_empty());
        let found = pod_blockers(&at("2026-11-30T11:58:59Z"), now());
        assert_eq!(found[0].reason, "FailedScheduling");
        assert_eq!(found[0].detail, "0/4 nodes are available: 4 Insufficient memory.");
    }

    #[test]
    fn failed_jobs_and_stalled_deployments_block() {
        let job: Job = serde_json::from_value(json!({"metadata": {"name": "mongodb-init"}, "status": {"conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}}))
        .unwrap();
        assert_eq!(
            job_blocker(&job).unwrap().to_string(),
            "job/mongodb-init: Failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
        );
        let deployment: Deployment = serde_json::from_value(json!({"metadata": {"name": "issuer"}, "status": {"conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"issuer-x\" has timed out progressing."}]}}))
        .unwrap();
        assert_eq!(
            deployment_blocker(&deployment).unwrap().reason,
            "ProgressDeadlineExceeded"
        );
        let progressing: Deployment =
            serde_json::from_value(json!({"metadata": {"name": "issuer"}, "status": {"conditions": [
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}}))
            .unwrap();
        assert_eq!(deployment_blocker(&progressing), None);
    }

    fn deployment(generation: i64, observed: i64, status: serde_json::Value) -> Deployment {
        let mut status = status;
        status["observedGeneration"] = json!(observed);
        serde_json::from_value(json!({"metadata": {"name": "issuer", "generation": generation},
            "spec": {"replicas": 4, "selector": {}, "template": {}}, "status": status}))
        .unwrap()
    }

    #[test]
    fn a_deployment_is_rolled_out_when_every_replica_is_new_and_available() {
        let done = json!({"replicas": 4, "updatedReplicas": 4, "availableReplicas": 4});
        assert_eq!(deployment_rollout(&deployment(2, 2, done.clone())), Rollout::Done);
        assert_eq!(
            deployment_rollout(&deployment(3, 2, done)),
            Rollout::Pending("its controller has not seen the latest spec yet".into())
        );
        assert_eq!(
            deployment_rollout(&deployment(
                2,
                2,
                json!({"replicas": 5, "updatedReplicas": 4, "availableReplicas": 4})
            )),
            Rollout::Pending("1 old replicas still running".into())
        );
        assert_eq!(
            deployment_rollout(&deployment(
                2,
                2,
                json!({"replicas": 4, "updatedReplicas": 4, "availableReplicas": 3})
            )),
            Rollout::Pending("3 of 4 updated replicas available".into())
        );
    }

    #[test]
    fn a_statefulset_is_rolled_out_when_every_member_is_ready_on_the_current_revision() {
        let set = |ready: i32, current: &str| -> StatefulSet {
            serde_json::from_value(json!({"metadata": {"name": "mongodb", "generation": 1},
                "spec": {"replicas": 3, "selector": {}, "serviceName": "mongodb", "template": {}},
                "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": ready, "updatedReplicas": 3,
                    "currentRevision": current, "updateRevision": "mongodb-2"}}))
            .unwrap()
        };
        assert_eq!(statefulset_rollout(&set(3, "mongodb-2")), Rollout::Done);
        assert_eq!(
            statefulset_rollout(&set(2, "mongodb-2")),
            Rollout::Pending("2 of 3 members ready".into())
        );
        assert!(matches!(statefulset_rollout(&set(3, "mongodb-1")), Rollout::Pending(_)));
    }

    #[test]
    fn deleting_keeps_one_serving_and_a_majority_of_members() {
        assert!(may_delete_one(2, None).is_ok());
        assert!(may_delete_one(1, None).is_err());
        assert!(may_delete_one(3, Some(3)).is_ok());
        assert_eq!(
            may_delete_one(2, Some(3)).unwrap_err(),
            "2 of 3 members Ready; deleting one would leave less than a majority (2)"
        );
        assert!(may_delete_one(4, Some(5)).is_ok());
        assert!(may_delete_one(3, Some(5)).is_err());
    }
}
