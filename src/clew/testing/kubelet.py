"""A stand-in for the kubelet, so Pods become Running and Ready without containers.

It registers one Node, renews its Lease, binds every unscheduled Pod to that Node (there is no
scheduler), reports bound Pods as started, and finishes Pods that are being deleted. Workload
controllers in kube-controller-manager then do the rest for real: Deployments become Available,
Jobs complete, ReplicaSets scale.

Annotations on a Pod steer it, so health rules can be tested against real objects:

- ``kubelet.clew.dev/phase``: ``Pending`` (never started), ``Failed`` (exit code 1) or
  ``Succeeded``; the default is ``Running``, or ``Succeeded`` for restartPolicy Never/OnFailure.
- ``kubelet.clew.dev/ready: "false"``: running but never Ready.

Run it as ``python -m clew.testing.kubelet --kubeconfig FILE --node NAME``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import signal
from typing import Any

from clew.cluster import Cluster, ClusterError, Conflict, Gone, NotFound, PermanentError

log = logging.getLogger("clew.kubelet")

PHASE_ANNOTATION = "kubelet.clew.dev/phase"
READY_ANNOTATION = "kubelet.clew.dev/ready"
MANAGER = "clew-kubelet"
LEASE_SECONDS = 40


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_ip(uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return f"10.244.{digest[0]}.{max(1, digest[1] % 255)}"


def desired_phase(pod: dict[str, Any]) -> str:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if phase := annotations.get(PHASE_ANNOTATION):
        return str(phase)
    restart = (pod.get("spec") or {}).get("restartPolicy", "Always")
    return "Running" if restart == "Always" else "Succeeded"


def pod_status(pod: dict[str, Any]) -> dict[str, Any]:
    """The status a kubelet would report for ``pod`` once its containers ran as asked."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    phase = desired_phase(pod)
    annotations = meta.get("annotations") or {}
    now = _now()
    running = phase == "Running"
    ready = running and annotations.get(READY_ANNOTATION, "true") != "false"

    def state(name: str, image: str) -> dict[str, Any]:
        if running:
            container_state: dict[str, Any] = {"running": {"startedAt": now}}
        elif phase == "Pending":
            container_state = {"waiting": {"reason": "ContainerCreating"}}
        else:
            code = 0 if phase == "Succeeded" else 1
            container_state = {
                "terminated": {
                    "exitCode": code,
                    "reason": "Completed" if code == 0 else "Error",
                    "startedAt": now,
                    "finishedAt": now,
                }
            }
        return {
            "name": name,
            "image": image,
            "imageID": f"clew://{image}",
            "containerID": f"clew://{meta.get('uid', '')}/{name}",
            "ready": ready,
            "started": running,
            "restartCount": 0,
            "state": container_state,
        }

    def condition(kind: str, ok: bool) -> dict[str, Any]:
        return {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": now}

    ip = pod_ip(str(meta.get("uid", "")))
    return {
        "phase": phase,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [
            condition("PodScheduled", True),
            condition("Initialized", phase != "Pending"),
            condition("ContainersReady", ready),
            condition("Ready", ready),
        ],
        "initContainerStatuses": [
            {**state(c["name"], c.get("image", "")), "ready": True, "started": False}
            | {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            for c in spec.get("initContainers") or []
        ],
        "containerStatuses": [
            state(c["name"], c.get("image", "")) for c in spec.get("containers") or []
        ],
    }


class Kubelet:
    def __init__(self, cluster: Cluster, node: str) -> None:
        self.cluster = cluster
        self.node = node

    async def register(self) -> None:
        labels = {
            "kubernetes.io/hostname": self.node,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "clew-kubelet",
        }
        await self.cluster.apply(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node, "labels": labels}},
            field_manager=MANAGER,
            force=True,
        )
        await self.report_node()

    async def report_node(self) -> None:
        now = _now()
        capacity = {"cpu": "32", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti"}
        status = {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.node},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "clew stand-in kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "clew",
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "clew://0",
                "osImage": "clew",
                "kernelVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
        await self.cluster.patch("v1", "Node", self.node, {"status": status}, subresource="status")

    async def heartbeat(self) -> None:
        while True:
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.node, "namespace": "kube-node-lease"},
                "spec": {
                    "holderIdentity": self.node,
                    "leaseDurationSeconds": LEASE_SECONDS,
                    "renewTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                },
            }
            with contextlib.suppress(ClusterError):
                await self.cluster.apply(lease, field_manager=MANAGER, force=True)
                await self.report_node()
            await asyncio.sleep(LEASE_SECONDS / 4)

    async def handle(self, pod: dict[str, Any]) -> None:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        name, namespace = meta["name"], meta["namespace"]
        node = spec.get("nodeName")
        if meta.get("deletionTimestamp"):
            if node in (None, self.node):
                # The containers are "stopped": finish the deletion as the kubelet would.
                with contextlib.suppress(NotFound, Conflict):
                    await self.cluster.delete(
                        "v1", "Pod", name, namespace, grace_period=0, uid=meta.get("uid")
                    )
            return
        if not node:
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node},
            }
            with contextlib.suppress(NotFound, Conflict):
                await self.cluster.request(
                    "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body=binding
                )
            return
        if node != self.node:
            return
        status = pod.get("status") or {}
        if status.get("containerStatuses") and status.get("phase") == desired_phase(pod):
            return
        with contextlib.suppress(NotFound, Conflict):
            await self.cluster.patch(
                "v1",
                "Pod",
                name,
                {"status": pod_status(pod)},
                namespace=namespace,
                subresource="status",
            )

    async def handle_one(self, pod: dict[str, Any]) -> None:
        """:meth:`handle`, where one Pod's refusal never stops the node. A Pod left unbound in
        a namespace being deleted gets 403 on its binding; had that ended the watch loop, every
        later Pod of the session would stay Pending."""
        try:
            await self.handle(pod)
        except PermanentError as exc:
            meta = pod.get("metadata") or {}
            log.warning("pod %s/%s: %s", meta.get("namespace"), meta.get("name"), exc)

    async def run_pods(self) -> None:
        """List then watch every Pod; re-list when the watch expires (410) or breaks."""
        while True:
            try:
                pods, version = await self.cluster.list_objects("v1", "Pod")
                for pod in pods:
                    await self.handle_one(pod)
                while True:
                    async for event in self.cluster.watch("v1", "Pod", resource_version=version):
                        version = event.object["metadata"].get("resourceVersion", version)
                        if event.type in ("ADDED", "MODIFIED"):
                            await self.handle_one(event.object)
            except Gone:
                continue
            except ClusterError as exc:  # retryable or not: a node never gives up its Pods
                log.warning("pod watch interrupted, re-listing: %s", exc)
                await asyncio.sleep(1)

    async def run(self) -> None:
        await self.register()
        log.info("node %s registered", self.node)
        await asyncio.gather(self.heartbeat(), self.run_pods())


async def _main(kubeconfig: str, node: str) -> None:
    async with Cluster.from_kubeconfig(kubeconfig) as cluster:
        task = asyncio.create_task(Kubelet(cluster, node).run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node", default="clew-node")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request drowns the log
    asyncio.run(_main(args.kubeconfig, args.node))


if __name__ == "__main__":
    main()
