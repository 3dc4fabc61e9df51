"""The engine end to end on the real control plane, through `clew apply`/`clew diff`: create,
no-op, configure, prune with the ApplySet inventory, CRDs with their custom resources in one run,
and every bad input ending with a clear error, the rest reported, and nothing pruned."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clew.apply import PART_OF, applyset_id
from clew.cli.main import app
from clew.cluster import Cluster, NotFound
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration


def write(directory: Path, name: str, *docs: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump_all(docs))


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


class Clew:
    """Runs the real `clew` CLI in-process as the restricted ServiceAccount."""

    def __init__(self, cluster: KubeCluster, namespace: str) -> None:
        self.kubeconfig = str(cluster.restricted_kubeconfig)
        self.namespace = namespace
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> tuple[int, dict[str, Any] | str]:
        # The CLI runs its own event loop (asyncio.run), so it gets a thread of its own.
        result = await asyncio.to_thread(
            self.runner.invoke, app, [*args, "--kubeconfig", self.kubeconfig, "-n", self.namespace]
        )
        if "-o" in args and result.stdout.strip().startswith("{"):
            return result.exit_code, json.loads(result.stdout)
        return result.exit_code, result.output

    async def apply(self, directory: Path, *extra: str) -> tuple[int, dict[str, Any]]:
        code, out = await self("apply", str(directory), "--name", "app", "-o", "json", *extra)
        assert isinstance(out, dict), out
        return code, out


def actions(result: dict[str, Any]) -> dict[str, str]:
    return {c["object"]: c["action"] for c in result["changes"]}


@pytest.fixture
def clew(kube_cluster: KubeCluster, kube_namespace: str) -> Clew:
    return Clew(kube_cluster, kube_namespace)


async def exists(cluster: Cluster, api: str, kind: str, name: str, ns: str | None) -> bool:
    try:
        await cluster.get(api, kind, name, ns)
    except NotFound:
        return False
    return True


async def test_create_noop_configure_and_prune(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    write(tmp_path, "app.yaml", configmap("settings", color="blue"), deployment("web"))
    write(tmp_path, "old.yaml", configmap("legacy", x="1"))
    code, first = await clew.apply(tmp_path)
    assert code == 0, first
    assert actions(first) == {
        f"ConfigMap/{ns}/legacy": "created",
        f"ConfigMap/{ns}/settings": "created",
        f"Deployment/{ns}/web": "created",
    }
    live = await kube_admin.get("apps/v1", "Deployment", "web", ns)
    set_id = applyset_id("clew-app", ns)
    assert live["metadata"]["labels"][PART_OF] == set_id
    parent = await kube_admin.get("v1", "ConfigMap", "clew-app", ns)
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == set_id
    assert parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == (
        "ConfigMap,Deployment.apps"
    )

    code, again = await clew.apply(tmp_path)
    assert code == 0
    assert set(actions(again).values()) == {"unchanged"}
    # -o json counts the HTTP requests sent: the first run wrote, the no-op only read.
    assert first["requests"].get("PATCH", 0) >= 3, first["requests"]
    assert set(again["requests"]) == {"GET"}, again["requests"]

    write(tmp_path, "app.yaml", configmap("settings", color="green"), deployment("web"))
    (tmp_path / "old.yaml").unlink()
    code, diff = await clew("diff", str(tmp_path), "--name", "app", "--prune")
    assert code == 1
    assert "-  color: blue" in str(diff)
    assert "+  color: green" in str(diff)
    assert f"ConfigMap/{ns}/legacy (deleted" in str(diff)

    code, third = await clew.apply(tmp_path, "--prune")
    assert code == 0, third
    assert actions(third)[f"ConfigMap/{ns}/settings"] == "configured"
    assert actions(third)[f"ConfigMap/{ns}/legacy"] == "deleted"
    assert not await exists(kube_admin, "v1", "ConfigMap", "legacy", ns)
    code, _ = await clew("diff", str(tmp_path), "--name", "app")
    assert code == 0


async def test_crd_and_custom_resources_in_one_run(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    group = f"{kube_namespace}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    gadget = {
        "apiVersion": f"{group}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1"},
        "spec": {"size": 2},
    }
    write(tmp_path, "crd.yaml", crd)
    write(tmp_path, "gadget.yaml", gadget)
    await grant(kube_admin, group)
    try:
        code, result = await clew.apply(tmp_path)
        assert code == 0, result
        assert actions(result)[f"Gadget/{kube_namespace}/g1"] == "created"
        stored = await kube_admin.get(f"{group}/v1", "Gadget", "g1", kube_namespace)
        assert stored["spec"] == {"size": 2}
    finally:
        await kube_admin.delete(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", f"gadgets.{group}"
        )
        await kube_admin.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", group)
        await kube_admin.delete("rbac.authorization.k8s.io/v1", "ClusterRole", group)


async def grant(admin: Cluster, group: str) -> None:
    """Let the restricted ServiceAccount manage custom resources of ``group``, as a cluster
    admin grants a team its own CRDs."""
    rbac = "rbac.authorization.k8s.io/v1"
    await admin.apply(
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": group},
            "rules": [{"apiGroups": [group], "resources": ["*"], "verbs": ["*"]}],
        }
    )
    await admin.apply(
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": group},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": group,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "clew-restricted", "namespace": "clew-system"}
            ],
        }
    )


async def test_rejected_and_unknown_objects_block_prune_but_not_the_rest(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    write(tmp_path, "keep.yaml", configmap("keep", a="1"))
    write(tmp_path, "stale.yaml", configmap("stale", a="1"))
    assert (await clew.apply(tmp_path))[0] == 0
    (tmp_path / "stale.yaml").unlink()
    write(tmp_path, "new.yaml", configmap("fresh", b="2"))
    write(tmp_path, "bad.yaml", deployment("broken", replicas=-1))
    write(
        tmp_path,
        "unknown.yaml",
        {"apiVersion": "nowhere.example.com/v1", "kind": "Ghost", "metadata": {"name": "boo"}},
    )
    code, result = await clew.apply(tmp_path, "--prune")
    assert code == 1
    assert result["reason"] == "ApplyFailed"
    got = actions(result)
    assert got[f"Deployment/{ns}/broken"] == "failed"
    assert got["Ghost/boo"] == "failed" or got.get(f"Ghost/{ns}/boo") == "failed"
    assert got[f"ConfigMap/{ns}/fresh"] == "created"  # the rest still applied and reported
    errors = " ".join(c["error"] for c in result["changes"])
    assert "bad.yaml" in errors
    assert "unknown.yaml" in errors
    assert await exists(kube_admin, "v1", "ConfigMap", "stale", ns)  # nothing pruned


async def test_empty_source_never_prunes_everything(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    write(tmp_path, "one.yaml", configmap("only", a="1"))
    assert (await clew.apply(tmp_path))[0] == 0
    (tmp_path / "one.yaml").unlink()
    code, result = await clew.apply(tmp_path, "--prune")
    assert code == 1
    assert result["reason"] == "PruneFailed"
    assert "--allow-empty" in result["error"]
    assert await exists(kube_admin, "v1", "ConfigMap", "only", kube_namespace)
    code, result = await clew.apply(tmp_path, "--prune", "--allow-empty")
    assert code == 0
    assert not await exists(kube_admin, "v1", "ConfigMap", "only", kube_namespace)


async def test_prune_opt_out_annotation(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    kept = configmap("precious", a="1")
    kept["metadata"]["annotations"] = {"clew.dev/prune": "disabled"}
    write(tmp_path, "a.yaml", kept, configmap("other", a="1"))
    assert (await clew.apply(tmp_path))[0] == 0
    write(tmp_path, "a.yaml", configmap("other", a="1"))
    code, result = await clew.apply(tmp_path, "--prune")
    assert code == 0, result
    assert actions(result)[f"ConfigMap/{kube_namespace}/precious"] == "skipped"
    assert await exists(kube_admin, "v1", "ConfigMap", "precious", kube_namespace)


async def test_immutable_field_is_reported_then_recreated_on_request(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    write(tmp_path, "d.yaml", deployment("web"))
    assert (await clew.apply(tmp_path))[0] == 0
    changed = deployment("web")
    changed["spec"]["selector"]["matchLabels"] = {"app": "web", "tier": "front"}
    changed["spec"]["template"]["metadata"]["labels"] = {"app": "web", "tier": "front"}
    write(tmp_path, "d.yaml", changed)
    code, result = await clew.apply(tmp_path)
    assert code == 1
    change = next(c for c in result["changes"] if c["object"].startswith("Deployment/"))
    assert change["action"] == "failed"
    assert "immutable" in change["error"]
    assert "--recreate" in change["error"]
    code, result = await clew.apply(tmp_path, "--recreate")
    assert code == 0, result
    live = await kube_admin.get("apps/v1", "Deployment", "web", kube_namespace)
    assert live["spec"]["selector"]["matchLabels"] == {"app": "web", "tier": "front"}


async def test_conflict_with_another_field_manager(
    clew: Clew, tmp_path: Path, kube_restricted: Cluster, kube_namespace: str
) -> None:
    write(tmp_path, "c.yaml", configmap("shared", color="blue"))
    assert (await clew.apply(tmp_path))[0] == 0
    other = configmap("shared", color="red")
    other["metadata"]["namespace"] = kube_namespace
    await kube_restricted.apply(other, field_manager="someone-else", force=True)
    write(tmp_path, "c.yaml", configmap("shared", color="green"))
    code, result = await clew.apply(tmp_path)
    assert code == 1
    change = result["changes"][0]
    assert change["action"] == "failed"
    assert "someone-else" in change["error"]
    assert "--force-conflicts" in change["error"]
    code, result = await clew.apply(tmp_path, "--force-conflicts")
    assert code == 0, result
    live = await kube_restricted.get("v1", "ConfigMap", "shared", kube_namespace)
    assert live["data"]["color"] == "green"


async def test_malformed_yaml_names_file_and_line_and_changes_nothing(
    clew: Clew, tmp_path: Path
) -> None:
    write(tmp_path, "good.yaml", configmap("fine", a="1"))
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"
    )
    code, result = await clew.apply(tmp_path)
    assert code == 2
    assert result["reason"] == "RenderFailed"
    assert "broken.yaml:4" in result["error"] or "broken.yaml:5" in result["error"]
    assert result["changes"] == []


async def test_secret_values_never_printed_by_diff(clew: Clew, tmp_path: Path) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"password": "hunter2-very-secret"},
    }
    write(tmp_path, "s.yaml", secret)
    code, out = await clew("diff", str(tmp_path), "--name", "app")
    assert code == 1
    assert "hunter2-very-secret" not in str(out)
    assert "password" in str(out)


async def test_prune_stage_makes_no_list_call(
    kube_cluster: KubeCluster, tmp_path: Path, kube_namespace: str
) -> None:
    """Prune deletes from the inventory: the client's own call counter proves it lists nothing
    (one GET per member checks it is still ours)."""
    from clew import engine
    from clew.apply import load, prune
    from clew.plan import reverse_order

    objs = [configmap(f"c{i}", a="1") for i in range(20)]
    write(tmp_path, "all.yaml", *objs)
    async with Cluster.from_kubeconfig(kube_cluster.restricted_kubeconfig) as cluster:
        options = engine.SyncOptions(name="p", namespace=kube_namespace)
        directory = tmp_path

        async def fetch() -> Any:
            from clew.source import local

            return local(directory)

        result = await engine.sync(cluster, fetch, options)
        assert result.ok, result.error
        inventory = await load(cluster, "p", kube_namespace)
        before = dict(cluster.calls)
        pruned = await prune(
            cluster,
            inventory.members,
            reverse_order([m.ref for m in inventory.members]),
            set_id=inventory.id,
        )
        calls = {k: cluster.calls[k] - before.get(k, 0) for k in cluster.calls}
    assert [c.action.value for c in pruned.changes] == ["deleted"] * 20
    assert calls.get("list", 0) == 0
    assert calls.get("watch", 0) == 0
    assert calls["get"] == 20  # one metadata-only read per member: still ours?
    assert calls["delete"] == 20


async def test_status_writes_are_not_drift_spec_and_label_edits_are(
    clew: Clew, tmp_path: Path, kube_admin: Cluster, kube_namespace: str
) -> None:
    """A resourceVersion moved on by status writes alone costs no request; a spec edit (the
    generation moves) or a removed label of clew's is still corrected."""
    ns = kube_namespace
    write(tmp_path, "app.yaml", deployment("web", replicas=2))
    code, first = await clew.apply(tmp_path)
    assert code == 0, first

    # collisionCount: valid whatever the deployment controller has written to status meanwhile
    # (a replica count could be refused as below updatedReplicas).
    status = {"status": {"collisionCount": 1}}
    await kube_admin.patch(
        "apps/v1", "Deployment", "web", status, namespace=ns, subresource="status"
    )
    code, again = await clew.apply(tmp_path)
    assert code == 0, again
    assert set(actions(again).values()) == {"unchanged"}, again
    assert set(again["requests"]) == {"GET"}, again["requests"]  # not even the inventory written

    await kube_admin.patch("apps/v1", "Deployment", "web", {"spec": {"replicas": 5}}, namespace=ns)
    code, fixed = await clew.apply(tmp_path, "--force-conflicts")  # the editor took the field
    assert code == 0, fixed
    assert actions(fixed)[f"Deployment/{ns}/web"] == "configured", fixed
    live = await kube_admin.get("apps/v1", "Deployment", "web", ns)
    assert live["spec"]["replicas"] == 2

    await kube_admin.patch(
        "apps/v1", "Deployment", "web", {"metadata": {"labels": {PART_OF: None}}}, namespace=ns
    )
    code, relabelled = await clew.apply(tmp_path)
    assert code == 0, relabelled
    assert actions(relabelled)[f"Deployment/{ns}/web"] == "configured", relabelled
    live = await kube_admin.get("apps/v1", "Deployment", "web", ns)
    assert live["metadata"]["labels"][PART_OF] == applyset_id("clew-app", ns)
