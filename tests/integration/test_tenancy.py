"""Tenants cannot reach each other through the controller, on the real control plane.

The controller runs with the RBAC ``clew install`` grants (least privilege, not cluster-admin),
``--default-service-account tenant`` and ``--no-cross-namespace-refs``. Tenant A's namespace
allows only itself (``clew.dev/allowed-destinations``). It proves that A's attempts to reach
tenant B's namespace — through ``destination``, a Kustomize ``namespace:`` override, a
cluster-scoped object, a credentials Secret that exists only in B, and ``dependsOn`` on B's
Application — are each refused with a clear status naming what was refused, while A's own
Application in the same setup becomes Ready; that in a namespace without annotations the default
ServiceAccount, never the controller, is what the API server refuses; that a ``repoURL`` with a
password is refused by the API server pointing to the credentials Secret; that afterwards
nothing of B has changed, been added or been deleted; that deleting an Application whose
inventory names objects outside its (since narrowed) allowed destinations deletes none of them;
that Helm hooks are held to the same rules (a sync with a hook outside them writes nothing, a
deletion whose delete hook would land outside them deletes nothing, nor does one whose
inventory ConfigMap lies outside them);
and that the installed rights were enough for all the controller did itself (no "forbidden"
warning logged).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clew.cluster import Cluster, Invalid, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.controller.api.tenancy import ALLOWED_DESTINATIONS, Tenancy
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.installed import (
    install_rbac,
    service_account_token,
    token_kubeconfig,
    uninstall_rbac,
)
from clew.testing.operator import RunningController, install_crd, start_controller, stop_controller
from clew.testing.pytest_plugin import KubeCluster
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

RBAC = "rbac.authorization.k8s.io"


@dataclass
class Tenants:
    a: str  # restricted by annotation to itself and its preview namespace
    preview: str
    b: str  # the victim
    open: str  # no annotations: RBAC of the default account is the only fence
    url: str
    revision: str
    admin: Cluster


def manifest(kind: str, name: str, api_version: str = "v1", **fields: Any) -> str:
    lines = [f"apiVersion: {api_version}", f"kind: {kind}", "metadata:", f"  name: {name}"]
    return "\n".join(lines) + "\n" + "".join(f"{k}: {v}\n" for k, v in fields.items())


def hook(event: str, name: str, namespace: str) -> str:
    """A Helm hook as a plain manifest (clew runs hooks from any render, as Argo CD does)."""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"  annotations: {{helm.sh/hook: {event}}}\ndata: {{v: hook}}\n"
    )


def tree(victim: str, preview: str, own: str) -> dict[str, str]:
    return {
        "ok/cm.yaml": manifest("ConfigMap", "mine", data="{v: a}"),
        "spread/here.yaml": manifest("ConfigMap", "here", data="{v: a}"),
        "spread/there.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: there, namespace: {preview}}}\n"
            "data: {v: a}\n"
        ),
        "kustomized/kustomization.yaml": f"namespace: {victim}\nresources: [cm.yaml]\n",
        "kustomized/cm.yaml": manifest("ConfigMap", "b-data", data="{v: hijacked}"),
        "hooked/cm.yaml": manifest("ConfigMap", "mine", data="{v: a}"),
        "hooked/hook.yaml": hook("pre-install", "b-hook", victim),
        "leaving-hooked/cm.yaml": manifest("ConfigMap", "here", data="{v: a}"),
        "leaving-hooked/hook.yaml": hook("pre-delete", "goodbye", preview),
        "elsewhere/cm.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: elsewhere, namespace: {own}}}\n"
            "data: {v: a}\n"
        ),
        "cluster/crb.yaml": manifest(
            "ClusterRoleBinding",
            f"escalate-{victim}",
            f"{RBAC}/v1",
            roleRef=f"{{apiGroup: {RBAC}, kind: ClusterRole, name: cluster-admin}}",
            subjects="[{kind: ServiceAccount, name: tenant, namespace: a}]",
        ),
    }


async def create_namespace(admin: Cluster, name: str, annotations: dict[str, str]) -> None:
    await admin.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"clew.dev/test": "true"},
                "annotations": annotations,
            },
        }
    )


async def tenant_account(admin: Cluster, namespace: str) -> None:
    """ServiceAccount ``tenant``: admin of its own namespace, nothing else."""
    await admin.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "tenant", "namespace": namespace},
        }
    )
    await admin.create(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "tenant-admin", "namespace": namespace},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
        }
    )


async def git_secret(admin: Cluster, namespace: str, name: str, git: GitHttpServer) -> None:
    await admin.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {"username": "clew", "password": git.users["clew"]},
        }
    )


def application(namespace: str, name: str, url: str, path: str, **spec: Any) -> dict[str, Any]:
    source = {"repoURL": url, "path": path, "secretRef": {"name": "git"}}
    source.update(spec.pop("source", {}))
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": source, "interval": "1h", "wait": False, **spec},
    }


async def snapshot(admin: Cluster, namespace: str) -> dict[str, str]:
    """Every object of the kinds a tenant could touch in ``namespace``: name → resourceVersion."""
    out: dict[str, str] = {}
    for api_version, kind, plural in (
        ("v1", "ConfigMap", "configmaps"),
        ("v1", "Secret", "secrets"),
        ("v1", "ServiceAccount", "serviceaccounts"),
        (f"{RBAC}/v1", "RoleBinding", "rolebindings"),
        (API_VERSION, KIND, "applications"),
    ):
        group = api_version.rpartition("/")[0]
        base = f"/apis/{api_version}" if group else f"/api/{api_version}"
        listed = await admin.request("GET", f"{base}/namespaces/{namespace}/{plural}")
        for item in listed.get("items") or []:
            out[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


@pytest.fixture
async def tenants(
    kube_cluster: KubeCluster,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> AsyncIterator[Tenants]:
    await install_crd(kube_admin, kube_cluster.server)
    suffix = secrets.token_hex(3)
    a, b, free = f"tenant-a-{suffix}", f"tenant-b-{suffix}", f"tenant-c-{suffix}"
    preview = f"tenant-a-preview-{suffix}"
    await create_namespace(kube_admin, a, {ALLOWED_DESTINATIONS: preview})
    await create_namespace(kube_admin, preview, {})
    await create_namespace(kube_admin, b, {})
    await create_namespace(kube_admin, free, {})
    try:
        for namespace in (a, b, free):
            await tenant_account(kube_admin, namespace)
            await git_secret(kube_admin, namespace, "git", git_http)
        await kube_admin.create(  # A's account is admin of A's preview namespace too
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "tenant-a-admin", "namespace": preview},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": a}],
            }
        )
        await git_secret(kube_admin, b, "b-git", git_http)
        await kube_admin.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "b-data", "namespace": b},
                "data": {"v": "b"},
            }
        )
        url = git_http.repo_url(git_repo.name)
        await kube_admin.create(application(b, "b-app", url, "ok"))
        revision = git_repo.commit(tree(b, preview, a), "tenants")
        yield Tenants(a, preview, b, free, url, revision, kube_admin)
    finally:
        for namespace in (a, preview, b, free):
            with contextlib.suppress(NotFound):
                await kube_admin.delete("v1", "Namespace", namespace)


@pytest.fixture
async def controller(
    tenants: Tenants, kube_cluster: KubeCluster, kube_namespace: str, tmp_path: Path
) -> AsyncIterator[RunningController]:
    """A least-privilege controller (its ServiceAccount in ``kube_namespace``), watching A and the
    unannotated namespace: B's own Application is not reconciled, so B stays as the test made it."""
    admin = tenants.admin
    rbac = await install_rbac(admin, kube_namespace)
    token = await service_account_token(admin, kube_namespace)
    kubeconfig = token_kubeconfig(kube_cluster.admin_kubeconfig, token, tmp_path / "ctl.kubeconfig")
    tenancy = Tenancy(default_service_account="tenant", no_cross_namespace_refs=True)
    running: list[RunningController] = []
    try:
        async with Cluster.from_kubeconfig(kubeconfig) as as_controller:
            for namespace in (tenants.a, tenants.open):
                running.append(
                    await start_controller(
                        as_controller, tmp_path / namespace, namespace=namespace, tenancy=tenancy
                    )
                )
            yield running[0]
            for each in running:
                await stop_controller(each)
    finally:
        await uninstall_rbac(admin, rbac)


def refused(reason: str, *parts: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready") or {}
        message = ready.get("message", "")
        return ready.get("reason") == reason and all(p in message for p in parts)

    return check


async def settle(t: Tenants, namespace: str, name: str, predicate: Any) -> dict[str, Any]:
    app = await until(t.admin, API_VERSION, KIND, name, namespace, predicate, 60)
    assert app is not None
    return app


def ready(app: dict[str, Any] | None) -> bool:
    return (condition(app, "Ready") or {}).get("status") == "True"


async def narrow_to_itself(t: Tenants) -> None:
    """The admin narrows A's allowed destinations to A alone (its preview namespace drops out)."""
    patch = {"metadata": {"annotations": {ALLOWED_DESTINATIONS: t.a}}}
    await t.admin.patch("v1", "Namespace", t.a, patch)


async def let_go(t: Tenants, name: str) -> None:
    """Drop a held Application's finalizer without pruning, so the namespaces can be deleted."""
    release = {"metadata": {"finalizers": None}}
    await t.admin.patch(API_VERSION, KIND, name, release, namespace=t.a)
    await until(t.admin, API_VERSION, KIND, name, t.a, lambda obj: obj is None, 60)


async def test_tenant_a_cannot_reach_tenant_b(
    tenants: Tenants, controller: RunningController, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="clew")
    t = tenants
    before = await snapshot(t.admin, t.b)
    create = t.admin.create
    await create(application(t.a, "own", t.url, "ok"))
    await create(application(t.a, "by-destination", t.url, "ok", destination={"namespace": t.b}))
    await create(application(t.a, "by-kustomize", t.url, "kustomized"))
    await create(application(t.a, "by-cluster-object", t.url, "cluster"))
    await create(
        application(t.a, "by-secret", t.url, "ok", source={"secretRef": {"name": "b-git"}})
    )
    await create(
        application(
            t.a, "by-depends-on", t.url, "ok", dependsOn=[{"name": "b-app", "namespace": t.b}]
        )
    )
    await create(application(t.open, "unannotated", t.url, "ok", destination={"namespace": t.b}))

    own = await settle(t, t.a, "own", ready)
    assert own["status"]["lastAppliedRevision"] == t.revision
    mine = await t.admin.get("v1", "ConfigMap", "mine", t.a)
    assert mine["data"] == {"v": "a"}

    await settle(
        t,
        t.a,
        "by-destination",
        refused("DestinationNotAllowed", f"destination namespace {t.b} is not allowed"),
    )
    await settle(
        t,
        t.a,
        "by-kustomize",
        refused(
            "DestinationNotAllowed", "refused before applying anything", f"ConfigMap/{t.b}/b-data"
        ),
    )
    await settle(
        t,
        t.a,
        "by-cluster-object",
        refused("DestinationNotAllowed", f"ClusterRoleBinding/escalate-{t.b} (cluster-scoped"),
    )
    # secretRef has no namespace: the name is looked up in A, where it does not exist.
    await settle(t, t.a, "by-secret", refused("FetchFailed", f"Secret {t.a}/b-git not found"))
    await settle(
        t,
        t.a,
        "by-depends-on",
        refused("CrossNamespaceRef", f"dependsOn {t.b}/b-app", "--no-cross-namespace-refs"),
    )
    # No annotation: the default account applies, and the API server refuses it, not the controller.
    await settle(
        t,
        t.open,
        "unannotated",
        refused("ApplyFailed", "forbidden", f"system:serviceaccount:{t.open}:tenant"),
    )

    with pytest.raises(NotFound):
        await t.admin.get(f"{RBAC}/v1", "ClusterRoleBinding", f"escalate-{t.b}")
    assert await snapshot(t.admin, t.b) == before  # nothing of B changed, added or deleted
    b_data = await t.admin.get("v1", "ConfigMap", "b-data", t.b)
    assert b_data["data"] == {"v": "b"}
    assert "clew.dev" not in str(b_data["metadata"].get("labels") or {})
    # The installed rights were enough for everything the controller did itself: informers,
    # drift watches as the accounts, audit trails, Events (refusals are status, not warnings).
    assert any(r.getMessage().startswith("reconciled: ") for r in caplog.records)  # captured
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "forbidden" in w.lower()], warnings


async def test_prune_outside_the_allowed_destinations_is_refused(
    tenants: Tenants, controller: RunningController, git_repo: Repo
) -> None:
    t = tenants
    await t.admin.create(application(t.a, "spread", t.url, "spread"))
    await settle(t, t.a, "spread", ready)
    there = await t.admin.get("v1", "ConfigMap", "there", t.preview)
    # The admin narrows A to itself; then Git drops the object in the preview namespace.
    await narrow_to_itself(t)
    git_repo.commit({"spread/there.yaml": None}, "drop there")
    request = {"metadata": {"annotations": {"clew.dev/reconcile-requested-at": "now"}}}
    await t.admin.patch(API_VERSION, KIND, "spread", request, namespace=t.a)
    await settle(
        t,
        t.a,
        "spread",
        refused("DestinationNotAllowed", f"ConfigMap/{t.preview}/there (namespace {t.preview})"),
    )
    kept = await t.admin.get("v1", "ConfigMap", "there", t.preview)
    assert kept["metadata"]["uid"] == there["metadata"]["uid"]


async def test_deletion_prunes_nothing_outside_the_allowed_destinations(
    tenants: Tenants, controller: RunningController
) -> None:
    t = tenants
    await t.admin.create(application(t.a, "leaving", t.url, "spread", prune=True))
    await settle(t, t.a, "leaving", ready)
    there = await t.admin.get("v1", "ConfigMap", "there", t.preview)
    here = await t.admin.get("v1", "ConfigMap", "here", t.a)
    # The admin narrows A to itself; then the Application is deleted: its finalizer must not
    # delete what its inventory names in the preview namespace, nor anything else.
    await narrow_to_itself(t)
    await t.admin.delete(API_VERSION, KIND, "leaving", t.a)
    app = await settle(
        t,
        t.a,
        "leaving",
        refused(
            "DestinationNotAllowed",
            "not deleting anything",
            f"ConfigMap/{t.preview}/there (namespace {t.preview})",
        ),
    )
    assert app["metadata"].get("deletionTimestamp")
    assert "clew.dev/finalizer" in app["metadata"]["finalizers"]  # held until a human decides
    kept = await t.admin.get("v1", "ConfigMap", "there", t.preview)
    assert kept["metadata"]["uid"] == there["metadata"]["uid"]
    still = await t.admin.get("v1", "ConfigMap", "here", t.a)
    assert still["metadata"]["uid"] == here["metadata"]["uid"]
    await let_go(t, "leaving")


async def test_a_hook_outside_the_allowed_destinations_is_refused(
    tenants: Tenants, controller: RunningController
) -> None:
    t = tenants
    before = await snapshot(t.admin, t.b)
    await t.admin.create(application(t.a, "hooked", t.url, "hooked"))
    await settle(t, t.a, "hooked", refused("DestinationNotAllowed", f"ConfigMap/{t.b}/b-hook"))
    with pytest.raises(NotFound):  # refused before the first write: not even A's own object
        await t.admin.get("v1", "ConfigMap", "mine", t.a)
    assert await snapshot(t.admin, t.b) == before


async def test_deletion_runs_no_delete_hook_outside_the_allowed_destinations(
    tenants: Tenants, controller: RunningController
) -> None:
    t = tenants
    await t.admin.create(application(t.a, "leaving-hooked", t.url, "leaving-hooked", prune=True))
    await settle(t, t.a, "leaving-hooked", ready)
    here = await t.admin.get("v1", "ConfigMap", "here", t.a)
    # The admin narrows A to itself; the pre-delete hook would be written in the preview namespace.
    await narrow_to_itself(t)
    await t.admin.delete(API_VERSION, KIND, "leaving-hooked", t.a)
    await settle(
        t,
        t.a,
        "leaving-hooked",
        refused("DestinationNotAllowed", "not deleting anything", f"ConfigMap/{t.preview}/goodbye"),
    )
    with pytest.raises(NotFound):
        await t.admin.get("v1", "ConfigMap", "goodbye", t.preview)
    still = await t.admin.get("v1", "ConfigMap", "here", t.a)
    assert still["metadata"]["uid"] == here["metadata"]["uid"]
    await let_go(t, "leaving-hooked")


async def test_deletion_keeps_an_inventory_outside_the_allowed_destinations(
    tenants: Tenants, controller: RunningController
) -> None:
    t = tenants
    # Destination: the preview namespace (the inventory lives there); the object names A.
    app = application(
        t.a, "moved", t.url, "elsewhere", prune=True, destination={"namespace": t.preview}
    )
    await t.admin.create(app)
    await settle(t, t.a, "moved", ready)
    inventory = await t.admin.get("v1", "ConfigMap", f"clew-{t.a}.moved", t.preview)
    await narrow_to_itself(t)
    await t.admin.delete(API_VERSION, KIND, "moved", t.a)
    await settle(
        t,
        t.a,
        "moved",
        refused(
            "DestinationNotAllowed",
            "not deleting anything",
            f"ConfigMap/{t.preview}/clew-{t.a}.moved",
        ),
    )
    kept = await t.admin.get("v1", "ConfigMap", f"clew-{t.a}.moved", t.preview)
    assert kept["metadata"]["uid"] == inventory["metadata"]["uid"]
    await t.admin.get("v1", "ConfigMap", "elsewhere", t.a)  # and its member too
    await let_go(t, "moved")


async def test_a_secret_ref_cannot_name_another_namespace(
    tenants: Tenants, controller: RunningController
) -> None:
    t = tenants
    app = application(
        t.a, "sneaky", t.url, "ok", source={"secretRef": {"name": "b-git", "namespace": t.b}}
    )
    stored = await t.admin.create(app)
    # Pruned by the structural schema (unknown field): the name can only mean A's own Secret.
    assert stored["spec"]["source"]["secretRef"] == {"name": "b-git"}
    await settle(t, t.a, "sneaky", refused("FetchFailed", f"Secret {t.a}/b-git not found"))


async def test_a_password_in_the_repo_url_is_refused_by_the_api_server(tenants: Tenants) -> None:
    t = tenants
    app = application(t.a, "leaky", "https://ci:hunter2@git.example.com/shop.git", "ok")
    with pytest.raises(Invalid) as caught:
        await t.admin.create(app)
    message = str(caught.value)
    assert "must not carry a password" in message
    assert "spec.source.secretRef" in message
    with pytest.raises(NotFound):
        await t.admin.get(API_VERSION, KIND, "leaky", t.a)
