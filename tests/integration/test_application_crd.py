"""The Application CRD as the real API server serves it.

It proves that the CRD is accepted (its CEL rules compile) and becomes Established with the short
name, category and printer columns we defined; that the server defaults a minimal Application to
exactly fixtures/controller/application-defaulted.yaml and keeps every field of the full example;
that invalid Applications are rejected with ``Invalid`` naming the field, the same field
``clew.controller.parse`` names; that status is a subresource (status writes do not bump the
generation, spec writes do not touch status) and shows in the server's table output; that every
install manifest passes a server-side dry run in apply order; and that the real RBAC authorizer
gives the controller's ServiceAccount what it needs and nothing more.

The CRD is cluster-scoped and shared by the whole session: it is applied idempotently (server-side
apply) and never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.apply import wait_established
from clew.cluster import Cluster, Invalid, NotFound, UnknownKind
from clew.controller import API_VERSION, APPLICATION_CRD, CRD_NAME, KIND, InvalidSpec, parse
from clew.controller.api.install import manifests

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "unit" / "fixtures" / "controller"
CRD_API = "apiextensions.k8s.io/v1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
SHA = "3f2a9c1b" * 5


async def ensure_crd(cluster: Cluster) -> dict[str, Any]:
    """Apply the CRD (idempotent) and wait until it is Established and discovered."""
    await cluster.apply(APPLICATION_CRD, field_manager="clew-install", force=True)
    assert await wait_established(cluster, [CRD_NAME], timeout=60) == []
    # Established comes slightly before aggregated discovery lists the kind.
    deadline = time.monotonic() + 30
    while True:
        try:
            await cluster.discovery.resource(API_VERSION, KIND)
            break
        except UnknownKind:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    return await cluster.get(CRD_API, "CustomResourceDefinition", CRD_NAME)


@pytest.fixture
async def crd(kube_admin: Cluster) -> dict[str, Any]:
    return await ensure_crd(kube_admin)


def fixture(name: str, namespace: str) -> dict[str, Any]:
    app: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    app["metadata"]["namespace"] = namespace
    return app


async def test_crd_is_established_with_names_and_columns(crd: dict[str, Any]) -> None:
    accepted = crd["status"]["acceptedNames"]
    assert accepted["shortNames"] == ["app"]
    assert accepted["categories"] == ["clew"]
    assert (accepted["kind"], accepted["plural"]) == ("Application", "applications")
    [served] = crd["spec"]["versions"]
    [ours] = APPLICATION_CRD["spec"]["versions"]

    def columns(version: dict[str, Any]) -> list[tuple[str, str, str, int]]:
        return [
            (c["name"], c["type"], c["jsonPath"], c.get("priority", 0))
            for c in version["additionalPrinterColumns"]
        ]

    assert columns(served) == columns(ours)
    assert served["subresources"] == {"status": {}}


async def test_minimal_application_gets_every_default(
    crd: dict[str, Any], kube_admin: Cluster, kube_namespace: str
) -> None:
    minimal = fixture("application-minimal.yaml", kube_namespace)
    stored = await kube_admin.apply(minimal, field_manager="test")
    assert stored["spec"] == fixture("application-defaulted.yaml", kube_namespace)["spec"]
    assert parse(stored) == parse(minimal)


async def test_full_application_is_stored_as_written(
    crd: dict[str, Any], kube_admin: Cluster, kube_namespace: str
) -> None:
    full = fixture("application-full.yaml", kube_namespace)
    stored = await kube_admin.apply(full, field_manager="test")
    assert stored["spec"] == full["spec"]  # nothing pruned, inline helm values included
    assert parse(stored) == parse(full)


def invalid(path: str, value: Any) -> dict[str, Any]:
    """The minimal Application with one dotted path set (None removes it)."""
    app: dict[str, Any] = yaml.safe_load((FIXTURES / "application-minimal.yaml").read_text())
    *parents, last = path.split(".")
    node = app
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        del node[last]
    else:
        node[last] = value
    return app


# (path, value, the field the server names): patterns, enums, required fields and each CEL rule.
REJECTED = [
    ("spec.source.repoURL", None, "spec.source.repoURL"),
    ("spec.source.repoURL", "/srv/git/shop", "spec.source.repoURL"),
    ("spec.source.repoURL", "https://ci:hunter2@git.example.com/x.git", "spec.source.repoURL"),
    ("spec.interval", "5 minutes", "spec.interval"),
    ("spec.interval", "0s", "spec.interval"),
    ("spec.render.kind", "jsonnet", "spec.render.kind"),
    ("spec.render", {"kind": "plain", "helm": {"releaseName": "x"}}, "spec.render"),
    ("spec.source.path", "deploy/../../etc", "spec.source.path"),
    ("spec.retry", {"initialDelay": "10m"}, "spec.retry"),
    ("spec.pin", {"revision": "3f2a"}, "spec.pin.revision"),
    ("spec.serviceAccountName", "deploy.er", "spec.serviceAccountName"),
    ("spec.dependsOn", [{"name": "shop"}], "spec.dependsOn"),
    ("spec.dependsOn", [{"namespace": "infra"}], "spec.dependsOn[0].name"),
]


@pytest.mark.parametrize(("path", "value", "field"), REJECTED, ids=[c[2] for c in REJECTED])
async def test_invalid_application_is_rejected_naming_the_field(
    crd: dict[str, Any],
    kube_admin: Cluster,
    kube_namespace: str,
    path: str,
    value: Any,
    field: str,
) -> None:
    app = invalid(path, value)
    app["metadata"]["namespace"] = kube_namespace
    with pytest.raises(Invalid) as caught:
        await kube_admin.create(app)
    fields = [cause.get("field") for cause in caught.value.causes]
    assert field in fields, caught.value.causes
    # The parser names the same field (or one inside it), for files that never saw the server.
    with pytest.raises(InvalidSpec) as parsed:
        parse(app)
    assert parsed.value.field.startswith(field), (parsed.value.field, field)


async def test_status_is_a_subresource_shown_in_the_table(
    crd: dict[str, Any], kube_admin: Cluster, kube_namespace: str
) -> None:
    app = fixture("application-minimal.yaml", kube_namespace)
    name = app["metadata"]["name"]
    created = await kube_admin.apply(app, field_manager="test")
    assert created["metadata"]["generation"] == 1
    status = {
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Succeeded",
                "message": f"applied revision {SHA[:12]}",
                "observedGeneration": 1,
                "lastTransitionTime": "2026-11-26T10:00:00Z",
            }
        ],
        "lastAppliedRevision": SHA,
        "lastAttemptedRevision": SHA,
        "inventory": {"entries": 12},
        "resources": [
            {
                "group": "apps",
                "version": "v1",
                "kind": "Deployment",
                "namespace": "team",
                "name": "web",
                "health": "InProgress",
                "message": "Deployment rollout: 2 of 3 updated replicas",
                "sync": "Drifted",
            }
        ],
        "resourcesTotal": 12,
        "resourcesTruncated": False,
        "healthCounts": {"current": 11, "inProgress": 1, "failed": 0},
        "drift": {"detected": 0, "corrected": 3, "lastCorrected": "2026-11-26T10:00:00Z"},
        "history": [
            {
                "revision": SHA,
                "subject": "Scale web to 3",
                "author": "Ada <ada@example.com>",
                "time": "2026-11-26T10:00:00Z",
                "result": "Succeeded",
                "created": 0,
                "configured": 1,
                "deleted": 0,
            }
        ],
    }
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": app["metadata"], "status": status}
    written = await kube_admin.apply(body, field_manager="clew", subresource="status")
    assert written["status"] == status
    assert written["metadata"]["generation"] == 1

    # Through the main resource, status is ignored and spec changes bump the generation.
    app["spec"]["suspend"] = True
    app["status"] = {"lastAppliedRevision": "0" * 40}
    updated = await kube_admin.apply(app, field_manager="test")
    assert updated["status"] == status
    assert updated["metadata"]["generation"] == 2

    # A status merge patch, as a controller would send between stages.
    patched = await kube_admin.patch(
        API_VERSION,
        KIND,
        name,
        {"status": {"lastAttemptedRevision": "9c1b" * 10}},
        namespace=kube_namespace,
        subresource="status",
    )
    assert patched["status"]["lastAttemptedRevision"] == "9c1b" * 10

    table = await kube_admin.request(
        "GET", f"/apis/{API_VERSION}/namespaces/{kube_namespace}/applications", accept=TABLE
    )
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Reason",
        "Revision",
        "Age",
    ]
    [row] = table["rows"]
    assert row["cells"][:4] == [name, "True", "Succeeded", SHA]


async def test_status_rejects_a_malformed_condition(
    crd: dict[str, Any], kube_admin: Cluster, kube_namespace: str
) -> None:
    app = fixture("application-minimal.yaml", kube_namespace)
    await kube_admin.apply(app, field_manager="test")
    condition = {"type": "Ready", "status": "Maybe", "reason": "Succeeded", "message": ""}
    body = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": app["metadata"],
        "status": {"conditions": [condition]},
    }
    with pytest.raises(Invalid) as caught:
        await kube_admin.apply(body, field_manager="clew", subresource="status")
    fields = {cause.get("field") for cause in caught.value.causes}
    assert {"status.conditions[0].status", "status.conditions[0].lastTransitionTime"} <= fields


async def test_install_manifests_pass_a_server_side_dry_run(
    crd: dict[str, Any], kube_admin: Cluster, kube_namespace: str
) -> None:
    objects = manifests(namespace=kube_namespace)
    assert [o["kind"] for o in objects[:2]] == ["CustomResourceDefinition", "Namespace"]
    for obj in objects:
        stored = await kube_admin.apply(obj, field_manager="clew-install", dry_run=True)
        assert (stored["kind"], stored["metadata"]["name"]) == (
            obj["kind"],
            obj["metadata"]["name"],
        )
    # Dry runs persist nothing.
    with pytest.raises(NotFound):
        await kube_admin.get("apps/v1", "Deployment", "clew-controller", kube_namespace)


# -- RBAC, checked by the real authorizer ---------------------------------------------------------


def renamed(objects: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """The ServiceAccount and RBAC objects of an installation, cluster-scoped names made unique
    to this test (they outlive its namespace, so the test deletes them)."""
    kinds = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
    out = [obj for obj in objects if obj["kind"] in kinds]
    for obj in out:
        if obj["kind"].startswith("Cluster"):
            obj["metadata"]["name"] += f"-{suffix}"
        if obj["kind"] == "ClusterRoleBinding":
            obj["roleRef"]["name"] += f"-{suffix}"
    return out


async def allowed(cluster: Cluster, user: str, attributes: dict[str, str]) -> bool:
    review = await cluster.create(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": attributes},
        }
    )
    return bool(review["status"].get("allowed"))


async def until_allowed(cluster: Cluster, user: str, attributes: dict[str, str]) -> None:
    """The authorizer follows RBAC objects through a watch; wait until it has seen ours."""
    deadline = time.monotonic() + 30
    while not await allowed(cluster, user, attributes):
        assert time.monotonic() < deadline, f"never allowed: {attributes}"
        await asyncio.sleep(0.2)


OWN = [  # what the controller's own ClusterRole and Role must allow
    # ApplicationSets create the Applications they generate and, under policy `sync`, delete
    # those they own (the set's uid is checked first: docs/applicationsets.md).
    {"verb": "create", "group": "clew.dev", "resource": "applications", "namespace": "team-a"},
    {"verb": "delete", "group": "clew.dev", "resource": "applications", "namespace": "team-a"},
    {"verb": "watch", "group": "clew.dev", "resource": "applications"},
    {"verb": "patch", "group": "clew.dev", "resource": "applications", "namespace": "team-a"},
    {
        "verb": "patch",
        "group": "clew.dev",
        "resource": "applications",
        "subresource": "status",
        "namespace": "team-a",
    },
    {
        "verb": "update",
        "group": "clew.dev",
        "resource": "applications",
        "subresource": "finalizers",
        "namespace": "team-a",
    },
    {"verb": "get", "resource": "secrets", "namespace": "team-a"},
    # The ApplicationSet clusters generator lists cluster Secrets by label (never watches).
    {"verb": "list", "resource": "secrets", "namespace": "team-a"},
    {"verb": "get", "resource": "namespaces", "name": "team-a"},
    {"verb": "create", "resource": "events", "namespace": "team-a"},
    {"verb": "create", "group": "events.k8s.io", "resource": "events", "namespace": "team-a"},
    {"verb": "impersonate", "resource": "serviceaccounts", "namespace": "team-a", "name": "dep"},
]
NEVER = [  # not even with the apply role bound
    {"verb": "impersonate", "resource": "users", "name": "admin"},
    {"verb": "impersonate", "resource": "groups", "name": "system:masters"},
    {"verb": "escalate", "group": "rbac.authorization.k8s.io", "resource": "clusterroles"},
    {"verb": "bind", "group": "rbac.authorization.k8s.io", "resource": "clusterroles"},
    {"verb": "deletecollection", "resource": "secrets", "namespace": "team-a"},
    {"verb": "impersonate", "resource": "groups", "name": "system:serviceaccounts"},
]
APPLY = [  # only with the apply role bound (clew install --cluster-admin)
    {"verb": "watch", "resource": "secrets", "namespace": "team-a"},
    {"verb": "create", "resource": "configmaps", "namespace": "team-a"},
    {"verb": "patch", "group": "apps", "resource": "deployments", "namespace": "team-a"},
    {"verb": "delete", "group": "example.com", "resource": "widgets"},
    {"verb": "create", "resource": "secrets", "namespace": "team-a"},
    {"verb": "update", "group": "coordination.k8s.io", "resource": "leases", "namespace": "x"},
]


async def test_controller_rbac_is_enough_and_no_more(
    kube_admin: Cluster, kube_namespace: str
) -> None:
    own = renamed(manifests(namespace=kube_namespace), kube_namespace)
    [apply_binding] = [
        obj
        for obj in renamed(manifests(namespace=kube_namespace, cluster_admin=True), kube_namespace)
        if obj["kind"] == "ClusterRoleBinding" and "apply" in obj["metadata"]["name"]
    ]
    user = f"system:serviceaccount:{kube_namespace}:clew-controller"
    lease = {
        "verb": "update",
        "group": "coordination.k8s.io",
        "resource": "leases",
        "namespace": kube_namespace,
    }
    try:
        for obj in own:
            await kube_admin.apply(obj, field_manager="test")
        await until_allowed(kube_admin, user, lease)
        await until_allowed(kube_admin, user, OWN[0])
        for attributes in OWN:
            assert await allowed(kube_admin, user, attributes), attributes
        for attributes in NEVER + APPLY:
            assert not await allowed(kube_admin, user, attributes), attributes

        await kube_admin.apply(apply_binding, field_manager="test")
        await until_allowed(kube_admin, user, APPLY[0])
        for attributes in APPLY:
            assert await allowed(kube_admin, user, attributes), attributes
        for attributes in NEVER:
            assert not await allowed(kube_admin, user, attributes), attributes
    finally:
        for obj in [*own, apply_binding]:
            if obj["kind"].startswith("Cluster"):
                with contextlib.suppress(NotFound):
                    await kube_admin.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
