"""The apply stages wait for a CRD to be Established only when a later stage applies one of its
custom resources (or when asked to wait for all, as the engine does when Helm hooks follow):
a set of CRDs alone costs no LIST and no WATCH of CRDs, and a CRD with its custom resources in
the same run still works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from clew import apply
from clew.cluster import Cluster
from clew.model import Action

CRD_API = "apiextensions.k8s.io/v1"


def _crd(group: str) -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": CRD_API,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"sprockets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "sprockets", "singular": "sprocket", "kind": "Sprocket"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }


@pytest.fixture
async def group(kube_admin: Cluster, kube_namespace: str) -> AsyncIterator[str]:
    name = f"{kube_namespace}.example.com"
    yield name
    await kube_admin.delete(CRD_API, "CustomResourceDefinition", f"sprockets.{name}")


async def test_a_crd_nothing_uses_is_not_waited_for(kube_admin: Cluster, group: str) -> None:
    kube_admin.calls.clear()
    done = await apply.apply_stages(kube_admin, [[apply.ApplyItem(_crd(group))]])
    assert [c.action for c in done.changes] == [Action.CREATED]
    assert kube_admin.calls["list"] == kube_admin.calls["watch"] == 0


async def test_asked_to_wait_for_all_it_waits(kube_admin: Cluster, group: str) -> None:
    kube_admin.calls.clear()
    options = apply.ApplyOptions(establish_all=True)
    done = await apply.apply_stages(kube_admin, [[apply.ApplyItem(_crd(group))]], options)
    assert [c.action for c in done.changes] == [Action.CREATED]
    assert kube_admin.calls["list"] >= 1  # read the CRDs' conditions


async def test_custom_resources_in_a_later_stage_wait_for_their_crd(
    kube_admin: Cluster, group: str, kube_namespace: str
) -> None:
    sprocket = {
        "apiVersion": f"{group}/v1",
        "kind": "Sprocket",
        "metadata": {"name": "s1", "namespace": kube_namespace},
        "spec": {"teeth": 12},
    }
    kube_admin.calls.clear()
    stages = [[apply.ApplyItem(_crd(group))], [apply.ApplyItem(sprocket)]]
    done = await apply.apply_stages(kube_admin, stages)
    assert [c.action for c in done.changes] == [Action.CREATED, Action.CREATED]
    assert kube_admin.calls["list"] >= 1
    stored = await kube_admin.get(f"{group}/v1", "Sprocket", "s1", kube_namespace)
    assert stored["spec"] == {"teeth": 12}
