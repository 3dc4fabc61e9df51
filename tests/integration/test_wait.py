"""The watcher follows real controllers on the local control plane to the end of a wait.

It proves that a Deployment is seen becoming CURRENT; that a failing Job ends a wait early as
FAILED while other objects are still in progress; that a Deployment whose pods never become ready
times out with a message naming it and why; that a ConfigMap is CURRENT at once; that deletion is
followed through TERMINATING to NOT_FOUND and a missing object is waited for until it appears;
and that an object the client may not read is reported UNKNOWN instead of waited on. Pods are
steered by the kubelet stand-in's annotations (see ``clew.testing.kubelet``). Synchronisation is
by the watcher's own ``on_change`` reports, never by sleeping.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from clew.cluster import Cluster
from clew.model import Health, HealthResult, ObjectRef
from clew.wait import wait_for

pytestmark = pytest.mark.integration


def deployment(
    name: str, namespace: str, replicas: int, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]},
            },
        },
    }


def configmap(name: str, namespace: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "data": {"color": "blue"},
    }


def ref(obj: dict[str, Any]) -> ObjectRef:
    return ObjectRef.from_object(obj)


class Recorder:
    """Collects ``on_change`` reports and lets a test await one object's given health."""

    def __init__(self) -> None:
        self.seen: list[tuple[ObjectRef, HealthResult]] = []
        self._changed = asyncio.Event()

    def __call__(self, changed: ObjectRef, result: HealthResult) -> None:
        self.seen.append((changed, result))
        self._changed.set()

    def healths(self, of: ObjectRef) -> list[Health]:
        return [r.health for changed, r in self.seen if changed == of]

    async def reached(self, of: ObjectRef, health: Health, seconds: float = 30) -> None:
        async with asyncio.timeout(seconds):
            while health not in self.healths(of):
                self._changed.clear()
                await self._changed.wait()


async def test_deployment_becomes_current(kube_restricted: Cluster, kube_namespace: str) -> None:
    web = deployment("web", kube_namespace, replicas=2)
    await kube_restricted.apply(web)
    result = await wait_for(kube_restricted, [web], timeout=60)
    assert not result.timed_out, result.summary()
    assert result.ok
    assert result.failed == []
    assert result.results[ref(web)] == HealthResult(Health.CURRENT, "2/2 replicas available")
    # The watcher's verdict agrees with the object as stored now.
    live = await kube_restricted.get("apps/v1", "Deployment", "web", kube_namespace)
    assert live["status"]["availableReplicas"] == 2
    assert live["status"]["observedGeneration"] == live["metadata"]["generation"]


async def test_failed_job_ends_the_wait_early(kube_admin: Cluster, kube_namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": kube_namespace},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {"kubelet.clew.dev/phase": "Failed"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "busybox"}],
                },
            },
        },
    }
    # Never ready: it would keep the wait going to the timeout if a failure did not end it.
    stuck = deployment("stuck", kube_namespace, 1, {"kubelet.clew.dev/ready": "false"})
    for obj in (job, stuck):
        await kube_admin.apply(obj)
    timeout = 90
    result = await wait_for(kube_admin, [job, stuck], timeout=timeout)
    assert not result.timed_out
    assert result.duration < timeout / 3
    assert result.failed == [ref(job)]
    assert result.results[ref(job)].health is Health.FAILED
    assert "Job failed: BackoffLimitExceeded" in result.results[ref(job)].message
    assert result.results[ref(stuck)].health is Health.IN_PROGRESS
    assert not result.ok
    # The stuck Deployment's watch was still open when the Job failed; nothing is left running.
    assert [t for t in asyncio.all_tasks() if not t.done()] == [asyncio.current_task()]


async def test_never_ready_deployment_times_out_naming_it(
    kube_admin: Cluster, kube_namespace: str
) -> None:
    web = deployment("web", kube_namespace, 2, {"kubelet.clew.dev/ready": "false"})
    settings = configmap("settings", kube_namespace)
    for obj in (web, settings):
        await kube_admin.apply(obj)
    timeout = 20
    result = await wait_for(kube_admin, [web, settings], timeout)
    assert result.timed_out
    assert timeout <= result.duration < timeout + 5
    assert result.failed == []
    assert result.pending == [ref(web)]
    assert result.results[ref(settings)].health is Health.CURRENT
    assert result.summary() == f"Deployment/{kube_namespace}/web: 0/2 replicas available"


async def test_configmap_is_current_at_once(kube_restricted: Cluster, kube_namespace: str) -> None:
    settings = configmap("settings", kube_namespace)
    await kube_restricted.apply(settings)
    result = await wait_for(kube_restricted, [settings], timeout=30)
    assert result.ok
    assert not result.timed_out
    assert result.duration < 5
    assert result.results == {ref(settings): HealthResult(Health.CURRENT, "no status to wait for")}


async def test_deletion_is_followed_to_not_found(
    kube_restricted: Cluster, kube_namespace: str
) -> None:
    # A finalizer holds the object in Terminating until the test lets go, so each step is seen.
    kept = configmap("kept", kube_namespace, finalizers=["clew.dev/test-hold"])
    await kube_restricted.apply(kept)
    never = configmap("never-created", kube_namespace)
    recorder = Recorder()
    wait = asyncio.create_task(
        wait_for(kube_restricted, [kept, never], 60, until=Health.NOT_FOUND, on_change=recorder)
    )
    await recorder.reached(ref(kept), Health.CURRENT)
    await kube_restricted.delete("v1", "ConfigMap", "kept", kube_namespace)
    await recorder.reached(ref(kept), Health.TERMINATING)
    assert not wait.done()
    await kube_restricted.patch(
        "v1", "ConfigMap", "kept", {"metadata": {"finalizers": None}}, namespace=kube_namespace
    )
    result = await wait
    assert not result.timed_out
    assert result.ok
    assert recorder.healths(ref(kept)) == [Health.CURRENT, Health.TERMINATING, Health.NOT_FOUND]
    assert recorder.healths(ref(never)) == [Health.NOT_FOUND]
    assert result.results[ref(kept)] == HealthResult(Health.NOT_FOUND, "not found")


async def test_missing_object_is_waited_for_until_it_appears(
    kube_restricted: Cluster, kube_namespace: str
) -> None:
    late = configmap("late", kube_namespace)
    recorder = Recorder()
    wait = asyncio.create_task(wait_for(kube_restricted, [late], 60, on_change=recorder))
    await recorder.reached(ref(late), Health.NOT_FOUND)
    assert not wait.done()
    await kube_restricted.apply(late)
    result = await wait
    assert result.ok
    assert recorder.healths(ref(late)) == [Health.NOT_FOUND, Health.CURRENT]


async def test_unreadable_object_is_unknown_not_waited_on(
    kube_restricted: Cluster, kube_namespace: str
) -> None:
    # The restricted account may not read ClusterRoles; waiting for one could never end well.
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "view"},
    }
    settings = configmap("settings", kube_namespace)
    await kube_restricted.apply(settings)
    result = await wait_for(kube_restricted, [role, settings], timeout=60)
    assert not result.timed_out
    assert result.duration < 10
    assert result.results[ref(role)].health is Health.UNKNOWN
    assert "forbidden" in result.results[ref(role)].message.lower()
    assert result.results[ref(settings)].health is Health.CURRENT
    assert not result.ok
