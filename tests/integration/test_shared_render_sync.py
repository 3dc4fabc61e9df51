"""Syncs of unchanged files share the parse cache's objects and the plan's memos (issue 16,
crds22; issue 14, S3), and every change is still seen, on the real API server:

- a second sync of the same files plans the very same desired objects (no copy, no new
  fingerprint) and applies nothing;
- a changed file is parsed again: its object is applied with the new content, the rest stays
  unchanged;
- another inventory (another Application and namespace) rendering the same files gets its own
  namespace and labels, not the first one's memoised copies;
- a change made by hand on the cluster is applied over: the memos are of Git's side only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from clew import engine, source
from clew.apply import PART_OF
from clew.cluster import Cluster
from clew.model import Action, Snapshot

pytestmark = pytest.mark.integration


def write(directory: Path, **colors: str) -> None:
    for name, color in colors.items():
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        (directory / f"{name}.yaml").write_text(yaml.safe_dump({**obj, "data": {"c": color}}))


async def sync(cluster: Cluster, directory: Path, name: str, ns: str) -> engine.SyncResult:
    async def fetch() -> Snapshot:
        return source.local(directory, ".")

    # force: a hand change takes the field over, and Git must win it back
    options = engine.SyncOptions(name=name, namespace=ns, force=True)
    result = await engine.sync(cluster, fetch, options)
    assert result.ok, result.error
    return result


async def color(cluster: Cluster, ns: str, name: str) -> str:
    return str((await cluster.get("v1", "ConfigMap", name, ns))["data"]["c"])


@pytest.fixture
async def other_namespace(kube_admin: Cluster, kube_namespace: str) -> AsyncIterator[str]:
    name = f"{kube_namespace}-b"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await kube_admin.apply(body, field_manager="test")
    yield name
    await kube_admin.delete("v1", "Namespace", name)


async def test_unchanged_files_share_objects_and_a_changed_file_is_applied(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    write(tmp_path, a="blue", b="blue")
    first = await sync(kube_admin, tmp_path, "shared", ns)
    assert engine.count(first.changes()) == {"created": 2}

    noop = await sync(kube_admin, tmp_path, "shared", ns)
    assert engine.count(noop.changes()) == {"unchanged": 2}
    assert all(a.obj is b.obj for a, b in zip(noop.desired, first.desired, strict=True))

    write(tmp_path, b="green")
    changed = await sync(kube_admin, tmp_path, "shared", ns)
    assert engine.count(changed.changes()) == {"configured": 1, "unchanged": 1}
    assert [c.ref.name for c in changed.changes().changes if c.action is Action.CONFIGURED] == ["b"]
    assert (await color(kube_admin, ns, "a"), await color(kube_admin, ns, "b")) == (
        "blue",
        "green",
    )
    assert changed.desired[0].obj is first.desired[0].obj  # "a" still shared
    assert changed.desired[1].obj["data"] == {"c": "green"}


async def test_another_inventory_gets_its_own_copies(
    kube_admin: Cluster, kube_namespace: str, other_namespace: str, tmp_path: Path
) -> None:
    write(tmp_path, a="blue")
    one = await sync(kube_admin, tmp_path, "one", kube_namespace)
    two = await sync(kube_admin, tmp_path, "two", other_namespace)
    assert engine.count(two.changes()) == {"created": 1}
    (mine,), (theirs,) = one.desired, two.desired
    assert mine.ref.namespace == kube_namespace
    assert theirs.ref.namespace == other_namespace
    assert mine.obj["metadata"]["labels"][PART_OF] != theirs.obj["metadata"]["labels"][PART_OF]
    live = await kube_admin.get("v1", "ConfigMap", "a", other_namespace)
    assert live["metadata"]["labels"][PART_OF] == theirs.obj["metadata"]["labels"][PART_OF]
    again = await sync(kube_admin, tmp_path, "one", kube_namespace)
    assert engine.count(again.changes()) == {"unchanged": 1}
    assert again.desired[0].obj is mine.obj


async def test_a_hand_change_is_applied_over(
    kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    ns = kube_namespace
    write(tmp_path, a="blue")
    await sync(kube_admin, tmp_path, "healed", ns)
    await kube_admin.patch("v1", "ConfigMap", "a", {"data": {"c": "red"}}, namespace=ns)
    assert await color(kube_admin, ns, "a") == "red"
    healed = await sync(kube_admin, tmp_path, "healed", ns)
    assert engine.count(healed.changes()) == {"configured": 1}
    assert await color(kube_admin, ns, "a") == "blue"
