"""Ownership cannot be steered, on the real control plane through `clew apply` (push path) and the
engine's `delete_all` (what the operator's finalizer runs):

- an inventory ConfigMap edited to list an object of another namespace or of another inventory
  (uids copied too) deletes neither, on prune nor on delete; both are reported skipped;
- an object deleted and re-created under the same name (new uid, same labels) is not pruned,
  while a member of an inventory written without uids is still pruned by its label;
- two inventories rendering one object: the second fails for that object naming the first, the
  first's object is untouched, and pruning or deleting the second deletes nothing of the first;
  `--adopt` takes it over, after which the first cannot prune it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew import engine
from clew.apply import OWNER_ANNOTATION, PART_OF, applyset_id, load, save
from clew.cli.main import app
from clew.cluster import Cluster, NotFound
from clew.model import ObjectRef
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def write(directory: Path, *docs: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs))
    return directory


class Clew:
    """The real `clew` CLI in-process, as the restricted ServiceAccount, with JSON output."""

    def __init__(self, cluster: KubeCluster, namespace: str) -> None:
        self.kubeconfig = str(cluster.restricted_kubeconfig)
        self.namespace = namespace
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> tuple[int, str]:
        argv = [*args, "--kubeconfig", self.kubeconfig, "-n", self.namespace]
        # Wide enough that rich does not fold the summary table's reasons.
        result = await asyncio.to_thread(self.runner.invoke, app, argv, env={"COLUMNS": "400"})
        return result.exit_code, result.output

    async def apply(self, directory: Path, name: str, *extra: str) -> tuple[int, dict[str, Any]]:
        code, out = await self("apply", str(directory), "--name", name, "-o", "json", *extra)
        assert out.strip().startswith("{"), out
        return code, json.loads(out)


def changes(result: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["object"]: c for c in result["changes"]}


@pytest.fixture
def clew(kube_cluster: KubeCluster, kube_namespace: str) -> Clew:
    return Clew(kube_cluster, kube_namespace)


@pytest.fixture
async def other_namespace(kube_admin: Cluster) -> AsyncIterator[str]:
    name = f"t-other-{secrets.token_hex(3)}"
    await kube_admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        await kube_admin.delete("v1", "Namespace", name)


async def uid_of(cluster: Cluster, name: str, ns: str) -> str:
    return str((await cluster.get("v1", "ConfigMap", name, ns))["metadata"]["uid"])


async def exists(cluster: Cluster, name: str, ns: str) -> bool:
    try:
        await cluster.get("v1", "ConfigMap", name, ns)
    except NotFound:
        return False
    return True


async def smuggle(cluster: Cluster, inventory: str, ns: str, *victims: tuple[str, str]) -> None:
    """Edit inventory ``inventory`` as a tenant could: list ``victims`` with their real uids."""
    inv = await load(cluster, inventory, ns)
    template = inv.members[0]
    extra = [
        dataclasses.replace(
            template,
            ref=ObjectRef("", "ConfigMap", victim_ns, name),
            uid=await uid_of(cluster, name, victim_ns),
        )
        for name, victim_ns in victims
    ]
    await save(cluster, inv, [*inv.members, *extra])


async def test_edited_inventory_deletes_nothing_it_does_not_own(
    clew: Clew,
    tmp_path: Path,
    kube_admin: Cluster,
    kube_restricted: Cluster,
    kube_namespace: str,
    other_namespace: str,
) -> None:
    ns = kube_namespace
    await kube_admin.create(configmap("victim", k="precious"), namespace=other_namespace)
    code, _ = await clew.apply(write(tmp_path / "b", configmap("b-data", k="1")), "b")
    assert code == 0
    code, _ = await clew.apply(write(tmp_path / "a", configmap("a-data", k="1")), "a")
    assert code == 0
    await smuggle(kube_admin, "a", ns, ("victim", other_namespace), ("b-data", ns))

    # What a person sees: the diff promises no deletion, the dry run's summary says why.
    code, diff = await clew("diff", str(tmp_path / "a"), "--name", "a", "--prune")
    assert code == 0, diff
    assert "victim" not in diff
    code, text = await clew("apply", str(tmp_path / "a"), "--name", "a", "--prune", "--dry-run")
    assert code == 0, text
    assert "not labelled as a member of this inventory" in " ".join(text.split())

    code, result = await clew.apply(tmp_path / "a", "a", "--prune")
    assert code == 0, result
    seen = changes(result)
    victim, theirs = seen[f"ConfigMap/{other_namespace}/victim"], seen[f"ConfigMap/{ns}/b-data"]
    assert victim["action"] == "skipped"
    assert "not labelled as a member of this inventory" in victim["reason"]
    assert theirs["action"] == "skipped"
    assert f"inventory ConfigMap {ns}/clew-b" in theirs["reason"]
    assert await exists(kube_admin, "victim", other_namespace)
    assert await exists(kube_admin, "b-data", ns)
    # Reported once, then forgotten: the inventory lists only what is really a's.
    assert (await load(kube_admin, "a", ns)).refs() == {ObjectRef("", "ConfigMap", ns, "a-data")}

    # The finalizer's path: delete_all with the same edit deletes a's own object only.
    await smuggle(kube_admin, "a", ns, ("victim", other_namespace), ("b-data", ns))
    pruned = await engine.delete_all(kube_restricted, "a", ns)
    assert {str(c.ref): c.action.value for c in pruned.changes} == {
        f"ConfigMap/{ns}/a-data": "deleted",
        f"ConfigMap/{other_namespace}/victim": "skipped",
        f"ConfigMap/{ns}/b-data": "skipped",
    }
    assert not await exists(kube_admin, "a-data", ns)
    assert await exists(kube_admin, "victim", other_namespace)
    assert await exists(kube_admin, "b-data", ns)
    assert not await exists(kube_admin, "clew-a", ns)  # the inventory went with its objects


async def test_recreated_object_is_not_pruned_legacy_member_still_is(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    src = write(
        tmp_path / "a", configmap("keep", k="1"), configmap("x", k="1"), configmap("legacy", k="1")
    )
    code, _ = await clew.apply(src, "a")
    assert code == 0
    inventory = await load(kube_admin, "a", ns)
    recorded = {m.ref.name: m.uid for m in inventory.members}
    assert recorded["x"] == await uid_of(kube_admin, "x", ns)  # the apply's uid is recorded

    # x is deleted and re-created by someone else, labels and all: another object now.
    old = await kube_admin.get("v1", "ConfigMap", "x", ns)
    await kube_admin.delete("v1", "ConfigMap", "x", ns)
    meta = old["metadata"]
    await kube_admin.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": meta["labels"], "annotations": meta["annotations"]},
            "data": {"k": "theirs"},
        },
        namespace=ns,
    )
    new_uid = await uid_of(kube_admin, "x", ns)
    assert new_uid != recorded["x"]
    # The legacy record loses its uid, as in an inventory written by an older clew.
    await save(
        kube_admin,
        inventory,
        [
            dataclasses.replace(m, uid="") if m.ref.name == "legacy" else m
            for m in inventory.members
        ],
    )

    code, result = await clew.apply(write(src, configmap("keep", k="1")), "a", "--prune")
    assert code == 0, result
    seen = changes(result)
    assert seen[f"ConfigMap/{ns}/x"]["action"] == "skipped"
    assert "re-created since clew applied it" in seen[f"ConfigMap/{ns}/x"]["reason"]
    assert seen[f"ConfigMap/{ns}/legacy"]["action"] == "deleted"  # label-only check for legacy rows
    assert await uid_of(kube_admin, "x", ns) == new_uid
    assert not await exists(kube_admin, "legacy", ns)


async def test_second_inventory_conflicts_and_only_adopt_takes_over(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_restricted: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    dir_a = write(tmp_path / "a", configmap("shared", owner="a"), configmap("only-a", k="1"))
    dir_b = write(tmp_path / "b", configmap("shared", owner="b"), configmap("only-b", k="1"))
    code, _ = await clew.apply(dir_a, "a")
    assert code == 0
    shared_uid = await uid_of(kube_admin, "shared", ns)

    code, diff = await clew("diff", str(dir_b), "--name", "b")
    assert code == 2
    # The plan already names the owner (rich may wrap the line).
    assert f"inventory ConfigMap {ns}/clew-a" in " ".join(diff.split())

    code, result = await clew.apply(dir_b, "b", "--prune")
    assert code == 1
    assert result["reason"] == "ApplyFailed"
    shared = changes(result)[f"ConfigMap/{ns}/shared"]
    assert shared["action"] == "failed"
    assert f"owned by another inventory ConfigMap {ns}/clew-a" in shared["error"]
    assert "--adopt" in shared["error"]
    assert changes(result)[f"ConfigMap/{ns}/only-b"]["action"] == "created"  # the rest goes on
    live = await kube_admin.get("v1", "ConfigMap", "shared", ns)
    assert live["data"] == {"owner": "a"}
    assert live["metadata"]["labels"][PART_OF] == applyset_id("clew-a", ns)
    assert live["metadata"]["annotations"][OWNER_ANNOTATION] == f"{ns}/clew-a"
    assert ObjectRef("", "ConfigMap", ns, "shared") not in (await load(kube_admin, "b", ns)).refs()

    # Pruning b, then deleting b, deletes nothing of a.
    code, result = await clew.apply(write(dir_b, configmap("only-b", k="1")), "b", "--prune")
    assert code == 0, result
    await engine.delete_all(kube_restricted, "b", ns)
    assert not await exists(kube_admin, "only-b", ns)
    assert await uid_of(kube_admin, "shared", ns) == shared_uid
    assert await exists(kube_admin, "only-a", ns)

    # --adopt takes it over; from then on a reports the conflict and cannot prune it.
    write(dir_b, configmap("shared", owner="b"), configmap("only-b", k="1"))
    code, result = await clew.apply(dir_b, "b", "--adopt")
    assert code == 0, result
    live = await kube_admin.get("v1", "ConfigMap", "shared", ns)
    assert live["data"] == {"owner": "b"}
    assert live["metadata"]["labels"][PART_OF] == applyset_id("clew-b", ns)
    code, result = await clew.apply(dir_a, "a")
    assert code == 1
    assert f"inventory ConfigMap {ns}/clew-b" in changes(result)[f"ConfigMap/{ns}/shared"]["error"]
    code, result = await clew.apply(write(dir_a, configmap("only-a", k="1")), "a", "--prune")
    assert code == 0, result
    kept = changes(result)[f"ConfigMap/{ns}/shared"]
    assert kept["action"] == "skipped"
    assert f"belongs to another inventory ConfigMap {ns}/clew-b" in kept["reason"]
    assert (await kube_admin.get("v1", "ConfigMap", "shared", ns))["data"] == {"owner": "b"}


async def test_ownership_checks_cost_no_request_on_the_no_op_path(
    kube_cluster: KubeCluster, tmp_path: Path, kube_namespace: str
) -> None:
    """Objects the plan's LIST already shows as ours are never looked up again: a first sync
    adds one LIST per kind in its namespace (looking for other owners), a no-op sync adds nothing,
    and pruning what that LIST showed costs one DELETE per object."""
    from clew.source import local

    objs = [configmap(f"c{i}", k="1") for i in range(30)]
    objs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
    src = write(tmp_path / "src", *objs)

    async def fetch() -> Any:
        return local(src)

    async with Cluster.from_kubeconfig(kube_cluster.restricted_kubeconfig) as cluster:
        options = engine.SyncOptions(name="cost", namespace=kube_namespace)
        await cluster.discovery.refresh()
        runs = []
        for step in range(3):
            if step == 2:  # ten ConfigMaps leave Git, and are pruned
                write(src, *objs[10:])
                options = dataclasses.replace(options, prune=True)
            before = dict(cluster.calls)
            result = await engine.sync(cluster, fetch, options)
            assert result.ok, result.error
            runs.append(
                {k: n - before.get(k, 0) for k, n in cluster.calls.items() if n - before.get(k, 0)}
            )
    first, again, pruning = runs
    assert first["list"] == 4  # ours per kind (2) + other owners per kind and namespace (2)
    assert again == {"get": 1, "list": 2}  # the inventory, and ours per kind: nothing more
    # Prune: the plan's LIST already showed the ten as ours, so one DELETE each and no GET.
    assert pruning == {"get": 1, "list": 2, "delete": 10, "apply": 1}  # apply: the inventory


async def test_prune_trusts_the_plans_list_only_until_the_object_changes(
    kube_cluster: KubeCluster, tmp_path: Path, kube_namespace: str, kube_admin: Cluster
) -> None:
    """A member the sync's LIST showed as ours costs one DELETE, preconditioned on the version
    the LIST saw; a change since (here: adopted by another inventory, or merely edited) makes the
    DELETE fail, and the live object is judged again."""
    from clew.apply import prune
    from clew.plan import live_metadata, reverse_order
    from clew.source import local

    ns = kube_namespace
    src = write(tmp_path / "src", *[configmap(f"c{i}", k="1") for i in range(12)])

    async def fetch() -> Any:
        return local(src)

    async with Cluster.from_kubeconfig(kube_cluster.restricted_kubeconfig) as cluster:
        result = await engine.sync(cluster, fetch, engine.SyncOptions(name="p", namespace=ns))
        assert result.ok, result.error
        inventory = await load(cluster, "p", ns)
        known = await live_metadata(
            cluster, result.desired, label_selector=f"{PART_OF}={inventory.id}"
        )
        # After the "plan": c0 is adopted by another inventory, c1 gets an unrelated edit.
        taken = {PART_OF: applyset_id("clew-other", ns)}
        await kube_admin.patch(
            "v1", "ConfigMap", "c0", {"metadata": {"labels": taken}}, namespace=ns
        )
        await kube_admin.patch("v1", "ConfigMap", "c1", {"data": {"k": "2"}}, namespace=ns)
        before = dict(cluster.calls)
        pruned = await prune(
            cluster,
            inventory.members,
            reverse_order([m.ref for m in inventory.members]),
            set_id=inventory.id,
            known=known,
        )
        calls = {k: cluster.calls[k] - before.get(k, 0) for k in cluster.calls}
    actions = {c.ref.name: c.action.value for c in pruned.changes}
    assert actions.pop("c0") == "skipped"
    assert set(actions.values()) == {"deleted"}
    assert await exists(kube_admin, "c0", ns)
    assert not await exists(kube_admin, "c1", ns)  # looked at again: still ours, so deleted
    assert calls.get("list", 0) == 0
    assert calls["get"] == 2  # only the two that changed since the LIST
    assert calls["delete"] == 12 + 1  # one each, and c1's second, uid-preconditioned attempt


async def test_conflicts_across_many_namespaces_cost_one_list(
    kube_cluster: KubeCluster, tmp_path: Path, kube_admin: Cluster
) -> None:
    """A kind spread over more namespaces than PER_NAMESPACE_MAX is looked up with one LIST
    across namespaces; every conflict in it is still found and named."""
    from clew.apply import PER_NAMESPACE_MAX
    from clew.source import local

    names = [f"t-spread-{secrets.token_hex(3)}" for _ in range(PER_NAMESPACE_MAX + 1)]
    for name in names:
        await kube_admin.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    try:
        docs = [configmap("x", k="1") | {"metadata": {"name": "x", "namespace": n}} for n in names]
        src = write(tmp_path / "src", *docs)

        async def fetch() -> Any:
            return local(src)

        async with Cluster.from_kubeconfig(kube_cluster.restricted_kubeconfig) as cluster:
            first = engine.SyncOptions(name="b", namespace=names[0])
            assert (await engine.sync(cluster, fetch, first)).ok
            before = dict(cluster.calls)
            result = await engine.sync(cluster, fetch, dataclasses.replace(first, name="a"))
            lists = cluster.calls["list"] - before.get("list", 0)
        failed = {str(c.ref): c.error for c in result.changes().failed}
        assert set(failed) == {f"ConfigMap/{n}/x" for n in names}
        assert all(f"inventory ConfigMap {names[0]}/clew-b" in e for e in failed.values())
        assert lists == 2  # ours, and other owners', each across namespaces
    finally:
        for name in names:
            await kube_admin.delete("v1", "Namespace", name)
