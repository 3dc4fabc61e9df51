"""Member Leases of replicas gone for good are deleted, and do not delay a starting replica.

A replica's identity is its Pod name, which changes on every rollout, so every killed replica
leaves a held Lease behind and every stopped one a cleared Lease. Before, a starting replica
counted a held one as live for a whole lease duration (it had not yet seen it unchanged that
long) and kept every Lease forever. Here, on the real API server: a Lease renewed an hour ago
and a cleared one sit beside a live peer's; a starting replica agrees with the peer within a
round or two, well under its 30 s lease duration, and both dead Leases are deleted. The live
peer's Lease stays.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clew.cluster import Cluster
from clew.controller.runtime.leader import LEASE_API_VERSION
from clew.controller.runtime.sharding import SHARD_LABEL, VIEW_ANNOTATION, Shard
from clew.controller.runtime.shards import owner, view_digest
from clew.testing.waiting import until

pytestmark = pytest.mark.integration

DURATION = 30  # long, so that the old rule (wait a lease duration) could not pass in time


def member(name: str, namespace: str, holder: str, renewed: datetime) -> dict[str, Any]:
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": LEASE_API_VERSION,
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace, "labels": {SHARD_LABEL: "true"}},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": DURATION,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }


async def test_dead_member_leases_go_and_hold_no_one_up(
    kube_admin: Cluster, kube_namespace: str
) -> None:
    ns, now = kube_namespace, datetime.now(UTC)
    await kube_admin.create(member("clew-shard-killed", ns, "killed", now - timedelta(hours=1)))
    await kube_admin.create(member("clew-shard-stopped", ns, "", now - timedelta(minutes=1)))
    # A live peer that already publishes the view of the two live members.
    peer = member("clew-shard-peer", ns, "peer", now)
    peer["metadata"]["annotations"] = {VIEW_ANNOTATION: view_digest(["me", "peer"])}
    await kube_admin.create(peer)

    keys = [key for key in map(str, range(20)) if owner(key, ("me", "peer")) == "me"]
    agreed = asyncio.Event()

    def gained(key: str) -> None:  # called once every live member published our view
        if shard.members == ("me", "peer"):
            agreed.set()

    shard: Shard[str] = Shard(
        kube_admin,
        ns,
        "me",
        name=str,
        keys=lambda: keys,
        on_gained=gained,
        on_dropped=lambda key: None,
        timing=(float(DURATION), 20.0, 0.5),
    )

    async def idle() -> None:
        await asyncio.Event().wait()

    running = asyncio.create_task(shard.run(idle))
    try:
        await asyncio.wait_for(agreed.wait(), DURATION / 3)
        # The cleared Lease goes once it stayed unchanged a lease duration: wait that long.
        for name in ("clew-shard-killed", "clew-shard-stopped"):
            await until(kube_admin, LEASE_API_VERSION, "Lease", name, ns, _absent, DURATION * 2)
        assert await kube_admin.get(LEASE_API_VERSION, "Lease", "clew-shard-peer", ns)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def _absent(lease: dict[str, Any] | None) -> bool:
    return lease is None
