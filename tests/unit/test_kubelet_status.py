"""The kubelet stand-in reports the status a real kubelet would, as a pure function of the Pod:
running and ready by default, completed for run-to-completion Pods, steered by annotations."""

from __future__ import annotations

from typing import Any

from clew.testing.kubelet import PHASE_ANNOTATION, READY_ANNOTATION, pod_ip, pod_status


def pod(restart: str = "Always", **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "n", "uid": "u-1", "annotations": annotations},
        "spec": {
            "restartPolicy": restart,
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}],
        },
    }


def conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_default_pod_runs_and_is_ready() -> None:
    status = pod_status(pod())
    assert status["phase"] == "Running"
    assert conditions(status) == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert [c["name"] for c in status["containerStatuses"]] == ["a", "b"]
    assert all(c["ready"] and "running" in c["state"] for c in status["containerStatuses"])
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert status["podIP"] == pod_ip("u-1")


def test_run_to_completion_pods_succeed() -> None:
    status = pod_status(pod(restart="Never"))
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert conditions(status)["Ready"] == "False"


def test_annotations_steer_failure_and_readiness() -> None:
    failed = pod_status(pod(**{PHASE_ANNOTATION: "Failed"}))
    assert failed["phase"] == "Failed"
    assert failed["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    unready = pod_status(pod(**{READY_ANNOTATION: "false"}))
    assert unready["phase"] == "Running"
    assert conditions(unready)["Ready"] == "False"
    pending = pod_status(pod(**{PHASE_ANNOTATION: "Pending"}))
    assert "waiting" in pending["containerStatuses"][0]["state"]


def test_pod_ips_are_stable_and_distinct() -> None:
    assert pod_ip("a") == pod_ip("a")
    assert pod_ip("a") != pod_ip("b")
    assert pod_ip("a").startswith("10.244.")
