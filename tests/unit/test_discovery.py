"""Aggregated discovery documents (captured from the real v1.36 API server) map each
apiVersion/kind to its plural, scope and URL."""

from __future__ import annotations

import json
from pathlib import Path

from clew.cluster.discovery import parse_aggregated

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "discovery-aggregated.json").read_text())


def test_core_and_group_kinds_are_found() -> None:
    resources = {**parse_aggregated(FIXTURE["api"]), **parse_aggregated(FIXTURE["apis"])}
    pod = resources[("v1", "Pod")]
    assert (pod.plural, pod.namespaced, pod.group) == ("pods", True, "")
    assert "status" in pod.subresources
    deployment = resources[("apps/v1", "Deployment")]
    assert deployment.plural == "deployments"
    assert "scale" in deployment.subresources
    crd = resources[("apiextensions.k8s.io/v1", "CustomResourceDefinition")]
    assert crd.namespaced is False


def test_paths_follow_scope() -> None:
    resources = {**parse_aggregated(FIXTURE["api"]), **parse_aggregated(FIXTURE["apis"])}
    assert resources[("v1", "Pod")].path("ns", "p") == "/api/v1/namespaces/ns/pods/p"
    assert resources[("v1", "Pod")].path() == "/api/v1/pods"
    assert resources[("v1", "Namespace")].path("ignored", "x") == "/api/v1/namespaces/x"
    role = resources[("rbac.authorization.k8s.io/v1", "ClusterRole")]
    assert role.path(None, "admin") == "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin"


def test_unknown_kind_is_absent() -> None:
    resources = parse_aggregated(FIXTURE["apis"])
    assert ("apps/v1", "Widget") not in resources
    assert ("apps/v1beta1", "Deployment") not in resources
