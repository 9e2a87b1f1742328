#!/usr/bin/env python3
"""What keeps the objects of a namespace from ever becoming ready, so a wait can stop at
once with the reason instead of burning its whole timeout.

usage: kubectl get pods,jobs,deployments,statefulsets -o json | kind_blockers.py
Prints one line per blocker and exits 1 if there is any; prints nothing and exits 0 when
everything can still progress (it may simply be slow: an image being pulled, a volume
being bound). For a container in CrashLoopBackOff it adds the last lines of its log.
"""

import json
import subprocess
import sys
from datetime import datetime, timezone

# Waiting reasons no retry will cure.
FATAL_WAITING = {
    "ErrImageNeverPull": "the image is not in the node (was it loaded with `kind load`?)",
    "InvalidImageName": "the image name is not valid",
    "CreateContainerConfigError": "a ConfigMap or Secret key it needs is missing",
    "CreateContainerError": "the container could not be created",
    "ImagePullBackOff": "the image could not be pulled",
    "ErrImagePull": "the image could not be pulled",
}
# A pod the scheduler has refused for this long will not be placed by waiting.
UNSCHEDULABLE_SECONDS = 60


def age(timestamp, now):
    if not timestamp:
        return 0.0
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (now - then).total_seconds()


def condition(obj, kind):
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def log_tail(namespace, pod, container):
    try:
        return subprocess.run(
            ["kubectl", "-n", namespace, "logs", pod, "-c", container, "--previous", "--tail", "10"],
            capture_output=True, text=True, timeout=20, check=False,
        ).stdout.rstrip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def pod_blockers(pod, now, logs):
    meta, status = pod["metadata"], pod.get("status", {})
    name = f"pod/{meta['name']}"
    owned_by_job = any(o.get("kind") == "Job" for o in meta.get("ownerReferences", []))
    scheduled = condition(pod, "PodScheduled")
    if (
        scheduled
        and scheduled["status"] == "False"
        and scheduled.get("reason") == "Unschedulable"
        and age(scheduled.get("lastTransitionTime"), now) >= UNSCHEDULABLE_SECONDS
    ):
        yield f"{name}: FailedScheduling: {scheduled.get('message', '')}"
    containers = status.get("initContainerStatuses", []) + status.get("containerStatuses", [])
    for container in containers:
        waiting = container.get("state", {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        what = f"{name} ({container['name']})"
        if reason in FATAL_WAITING:
            yield f"{what}: {reason}: {FATAL_WAITING[reason]}: {waiting.get('message', '')}".rstrip(": ")
        elif reason == "CrashLoopBackOff" and not owned_by_job:
            tail = logs(meta["namespace"], meta["name"], container["name"])
            last = "\n".join(f"    {line}" for line in tail.splitlines())
            yield f"{what}: CrashLoopBackOff, restarted {container.get('restartCount', 0)} times" + (
                f"; its last log lines:\n{last}" if last else ""
            )


def workload_blockers(obj):
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind == "Job":
        failed = condition(obj, "Failed")
        if failed and failed["status"] == "True":
            yield f"job/{name}: Failed: {failed.get('reason', '')}: {failed.get('message', '')}"
    elif kind == "Deployment":
        progressing = condition(obj, "Progressing")
        if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
            yield f"deployment/{name}: ProgressDeadlineExceeded: {progressing.get('message', '')}"


def blockers(items, now, logs=log_tail):
    for obj in items:
        if obj["kind"] == "Pod":
            yield from pod_blockers(obj, now, logs)
        else:
            yield from workload_blockers(obj)


if __name__ == "__main__":
    found = list(blockers(json.load(sys.stdin)["items"], datetime.now(timezone.utc)))
    for line in found:
        print(line)
    sys.exit(1 if found else 0)
