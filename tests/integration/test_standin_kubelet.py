"""The kubelet stand-in survives a Pod the API server will not let it bind.

A Pod still unbound when its namespace starts terminating gets 403 on its binding
(NamespaceLifecycle refuses new content). The stand-in used to let that error end its watch
loop, and every later Pod of the session stayed Pending: Deployments in unrelated tests then
never became available. The namespace here is held in Terminating by a finalizer, so the refusal
is real and not a race.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clew.cluster import Cluster, Forbidden, NotFound
from clew.testing.kubelet import Kubelet
from clew.testing.waiting import until

pytestmark = pytest.mark.integration

HOLD = "clew.dev/test-hold"


@pytest.fixture
async def terminating(kube_admin: Cluster, kube_namespace: str) -> AsyncIterator[str]:
    """``kube_namespace``, deleted but kept Terminating until the test ends."""
    ns = kube_namespace
    hold = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hold", "namespace": ns, "finalizers": [HOLD]},
    }
    await kube_admin.create(hold)
    await kube_admin.delete("v1", "Namespace", ns)
    await until(kube_admin, "v1", "Namespace", ns, None, _terminating, 30)
    try:
        yield ns
    finally:
        with contextlib.suppress(NotFound):
            await kube_admin.patch(
                "v1", "ConfigMap", "hold", {"metadata": {"finalizers": None}}, namespace=ns
            )


def _terminating(namespace: dict[str, Any] | None) -> bool:
    return bool(namespace) and (namespace or {}).get("status", {}).get("phase") == "Terminating"


def unbound_pod(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "late", "namespace": namespace, "uid": "0"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }


async def test_a_refused_binding_is_logged_and_the_node_goes_on(
    kube_admin: Cluster, terminating: str, caplog: pytest.LogCaptureFixture
) -> None:
    kubelet = Kubelet(kube_admin, "clew-node")
    pod = unbound_pod(terminating)
    with pytest.raises(Forbidden, match="being terminated"):
        await kubelet.handle(pod)  # the refusal the watch loop meets
    await kubelet.handle_one(pod)  # what the watch loop calls: it goes on
    assert f"pod {terminating}/late" in caplog.text
