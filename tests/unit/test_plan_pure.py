"""Plan's pure parts: normalisation drops server-owned fields, diffs are golden and readable,
Secret values never appear in a diff, and the apply order puts definitions first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from clew.model import Manifest, ObjectRef
from clew.plan import normalize, reverse_order, stage_of, stages, unified_diff
from clew.plan.order import Stage

FIXTURES = Path(__file__).parent / "fixtures" / "plan"
REF = ObjectRef("apps", "Deployment", "shop", "web")


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((FIXTURES / name).read_text()))


def golden(name: str, actual: str) -> None:
    path = FIXTURES / name
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        path.write_text(actual)
    assert actual == path.read_text(), f"{name} differs; CLEW_UPDATE_GOLDEN=1 rewrites it"


def test_normalize_drops_server_fields() -> None:
    live = normalize(load("deployment-live.yaml"))
    assert live is not None
    assert "status" not in live
    assert set(live["metadata"]) == {"name", "namespace", "labels"}
    assert normalize(None) is None


def test_normalize_equal_when_only_server_fields_differ() -> None:
    live, dry = load("deployment-live.yaml"), load("deployment-live.yaml")
    dry["metadata"]["resourceVersion"] = "9999"
    dry["metadata"]["managedFields"] = []
    dry["status"] = {"replicas": 0}
    assert normalize(live) == normalize(dry)


def test_deployment_diff_is_golden() -> None:
    diff = unified_diff(REF, load("deployment-live.yaml"), load("deployment-dryrun.yaml"))
    assert "-  replicas: 2" in diff
    assert "+  replicas: 3" in diff
    assert "resourceVersion" not in diff
    assert "managedFields" not in diff
    golden("deployment.diff", diff)


def test_no_diff_when_equal() -> None:
    live = load("deployment-live.yaml")
    assert unified_diff(REF, live, live) == ""


def test_secret_values_are_masked() -> None:
    secret_ref = ObjectRef("", "Secret", "shop", "db")
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="},
    }
    desired = {**live, "data": {"user": "YWRtaW4=", "password": "czNjcjN0", "token": "dG9r"}}
    diff = unified_diff(secret_ref, live, desired)
    for secret in ("YWRtaW4=", "aHVudGVyMg==", "czNjcjN0", "dG9r"):
        assert secret not in diff
    assert "password" in diff  # which keys changed is still visible
    assert "+  token: '*** (masked, new value)'" in diff
    created = unified_diff(secret_ref, None, desired)
    assert "czNjcjN0" not in created
    assert created.startswith("--- /dev/null")


def _m(kind: str, name: str, group: str = "", namespace: str = "") -> Manifest:
    api = f"{group}/v1" if group else "v1"
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return Manifest({"apiVersion": api, "kind": kind, "metadata": meta}, f"{name}.yaml#0")


def test_stages_put_definitions_first() -> None:
    manifests = [
        _m("Deployment", "web", "apps", "shop"),
        _m("Widget", "w", "example.com", "shop"),
        _m("Namespace", "shop"),
        _m("ClusterRole", "reader", "rbac.authorization.k8s.io"),
        _m("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io"),
        _m("ConfigMap", "settings", namespace="shop"),
    ]
    grouped = stages(manifests)
    assert [[m.ref.kind for m in stage] for stage in grouped] == [
        ["Namespace", "CustomResourceDefinition"],
        ["ClusterRole"],
        ["ConfigMap", "Deployment", "Widget"],
    ]
    assert stage_of(ObjectRef("", "Namespace", "", "x")) is Stage.DEFINITIONS
    order = reverse_order([m.ref for m in manifests])
    assert order[0].kind == "Widget"
    assert [r.kind for r in order[-2:]] == ["CustomResourceDefinition", "Namespace"]


def test_waves_apply_referenced_kinds_first_and_nothing_else_in_between() -> None:
    from clew.plan import waves

    manifests = [
        _m("RoleBinding", "rb", "rbac.authorization.k8s.io", "shop"),
        _m("Role", "r", "rbac.authorization.k8s.io", "shop"),
        _m("Deployment", "web", "apps", "shop"),
        _m("ConfigMap", "settings", namespace="shop"),
        _m("Namespace", "shop"),
        _m("CustomResourceDefinition", "w.example.com", "apiextensions.k8s.io"),
        _m("Widget", "w", "example.com", "shop"),
    ]
    assert [sorted(m.ref.kind for m in wave) for wave in waves(manifests)] == [
        ["CustomResourceDefinition", "Namespace"],
        ["ConfigMap", "Role"],
        ["Deployment", "RoleBinding", "Widget"],
    ]
