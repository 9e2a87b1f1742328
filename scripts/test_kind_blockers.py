"""Unit tests of kind_blockers.py (run by `make test`: python3 -m unittest)."""

import unittest
from datetime import datetime, timedelta, timezone

from kind_blockers import blockers

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def stamp(seconds_ago):
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def pod(name, waiting=None, init_waiting=None, owner="ReplicaSet", scheduled=None, restarts=0):
    status = {"containerStatuses": [], "initContainerStatuses": [], "conditions": []}
    if waiting:
        status["containerStatuses"].append(
            {"name": "app", "restartCount": restarts, "state": {"waiting": waiting}}
        )
    if init_waiting:
        status["initContainerStatuses"].append({"name": "keyfile", "state": {"waiting": init_waiting}})
    if scheduled:
        status["conditions"].append({"type": "PodScheduled", **scheduled})
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "permisos", "ownerReferences": [{"kind": owner}]},
        "status": status,
    }


def found(*items, logs=lambda *_: "panicked at main.rs\nexit 1"):
    return list(blockers(items, NOW, logs))


class Blockers(unittest.TestCase):
    def test_progressing_objects_block_nothing(self):
        self.assertEqual(
            found(
                pod("mongodb-0", waiting={"reason": "ContainerCreating"}),
                pod("mongodb-init-x", waiting={"reason": "CrashLoopBackOff"}, owner="Job"),
                pod("issuer-1", scheduled={"status": "False", "reason": "Unschedulable",
                                           "lastTransitionTime": stamp(10), "message": "0/4 nodes"}),
                {"kind": "Job", "metadata": {"name": "mongodb-init"}, "status": {"conditions": []}},
                {"kind": "Deployment", "metadata": {"name": "issuer"},
                 "status": {"conditions": [{"type": "Progressing", "status": "True",
                                            "reason": "ReplicaSetUpdated"}]}},
            ),
            [],
        )

    def test_images_that_cannot_arrive_are_named(self):
        lines = found(
            pod("issuer-1", waiting={"reason": "ErrImageNeverPull", "message": "image not present"}),
            pod("mongodb-1", init_waiting={"reason": "ImagePullBackOff", "message": "toomanyrequests"}),
        )
        self.assertEqual(len(lines), 2)
        self.assertIn("pod/issuer-1 (app): ErrImageNeverPull", lines[0])
        self.assertIn("kind load", lines[0])
        self.assertIn("pod/mongodb-1 (keyfile): ImagePullBackOff", lines[1])
        self.assertIn("toomanyrequests", lines[1])

    def test_a_crash_loop_shows_the_last_log_lines(self):
        (line,) = found(pod("validator-2", waiting={"reason": "CrashLoopBackOff"}, restarts=4))
        self.assertIn("CrashLoopBackOff, restarted 4 times", line)
        self.assertIn("    panicked at main.rs", line)

    def test_scheduling_is_given_a_minute(self):
        (line,) = found(pod("mongodb-2", scheduled={"status": "False", "reason": "Unschedulable",
                                                    "lastTransitionTime": stamp(61),
                                                    "message": "0/4 nodes are available: anti-affinity"}))
        self.assertEqual(line, "pod/mongodb-2: FailedScheduling: 0/4 nodes are available: anti-affinity")

    def test_failed_jobs_and_stuck_rollouts(self):
        lines = found(
            {"kind": "Job", "metadata": {"name": "mongodb-init"},
             "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                        "message": "Job has reached the specified backoff limit"}]}},
            {"kind": "Deployment", "metadata": {"name": "issuer"},
             "status": {"conditions": [{"type": "Progressing", "status": "False",
                                        "reason": "ProgressDeadlineExceeded",
                                        "message": "ReplicaSet issuer-abc has timed out progressing."}]}},
        )
        self.assertEqual(lines, [
            "job/mongodb-init: Failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
            "deployment/issuer: ProgressDeadlineExceeded: ReplicaSet issuer-abc has timed out progressing.",
        ])


if __name__ == "__main__":
    unittest.main()
