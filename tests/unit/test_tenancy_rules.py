"""The tenancy rules as pure functions.

It proves that a namespace without the annotations is unrestricted; that rules which cannot be
read refuse everything; that either annotation restricts it (the own namespace always allowed,
unlisted cluster-scoped kinds refused, ``*`` widening); that objects are judged after namespace
defaulting and a refusal names them with their namespace or kind; that
``--default-service-account`` applies only where the Application names no account; that
``--no-cross-namespace-refs`` refuses dependsOn across namespaces and names them; and that
``--metrics-bind-address`` reads as controller-runtime's does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from clew.cli.controller import parse_bind_address
from clew.controller.api.spec import AppKey, AppSpec, DependencyRef, parse
from clew.controller.api.tenancy import (
    ALLOWED_CLUSTER_KINDS,
    ALLOWED_DESTINATIONS,
    Destinations,
    Tenancy,
)
from clew.model import ObjectRef


def obj(kind: str, name: str, namespace: str = "", api_version: str = "v1") -> ObjectRef:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return ObjectRef.from_object({"apiVersion": api_version, "kind": kind, "metadata": metadata})


def spec(**changes: Any) -> AppSpec:
    app = {
        "apiVersion": "clew.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "team-a"},
        "spec": {"source": {"repoURL": "https://git.example.com/shop.git"}},
    }
    return replace(parse(app), **changes)


def test_without_annotations_anything_goes() -> None:
    allowed = Destinations.of("team-a", {"other": "x"})
    assert not allowed.restricted
    assert allowed.check_destination("team-b") is None
    assert allowed.check_objects([obj("ConfigMap", "c", "team-b"), obj("Namespace", "n")]) is None


def test_allowed_destinations_restrict_namespaces_and_cluster_kinds() -> None:
    allowed = Destinations.of("team-a", {ALLOWED_DESTINATIONS: " team-a-preview , "})
    assert allowed.restricted
    assert allowed.check_destination("team-a") is None  # its own namespace always counts
    assert allowed.check_destination("team-a-preview") is None
    refusal = allowed.check_destination("team-b")
    assert refusal is not None
    assert refusal.reason == "DestinationNotAllowed"
    assert "destination namespace team-b is not allowed" in refusal.message
    assert "allowed: team-a, team-a-preview" in refusal.message
    # No cluster-scoped kind is listed: none is allowed.
    refusal = allowed.check_objects(
        [
            obj("ConfigMap", "ok", "team-a"),
            obj("ConfigMap", "theirs", "team-b"),
            obj("ClusterRole", "admin", api_version="rbac.authorization.k8s.io/v1"),
        ]
    )
    assert refusal is not None
    assert "ConfigMap/team-b/theirs (namespace team-b)" in refusal.message
    assert "(cluster-scoped ClusterRole)" in refusal.message
    assert "ConfigMap/team-a/ok" not in refusal.message
    assert "cluster-scoped kinds: none" in refusal.message
    assert allowed.admit([obj("ConfigMap", "ok", "team-a")]) is None


def test_cluster_kinds_by_kind_or_group_and_kind() -> None:
    allowed = Destinations.of(
        "team-a", {ALLOWED_CLUSTER_KINDS: "Namespace,rbac.authorization.k8s.io/ClusterRole"}
    )
    assert allowed.namespaces == frozenset({"team-a"})
    assert allowed.allows_cluster_kind("", "Namespace")
    assert allowed.allows_cluster_kind("rbac.authorization.k8s.io", "ClusterRole")
    assert not allowed.allows_cluster_kind("example.com", "ClusterRole")
    assert not allowed.allows_cluster_kind("", "PersistentVolume")


def test_a_namespace_object_must_be_an_allowed_namespace() -> None:
    allowed = Destinations.of(
        "team-a", {ALLOWED_DESTINATIONS: "team-a-preview", ALLOWED_CLUSTER_KINDS: "Namespace"}
    )
    assert allowed.check_objects([obj("Namespace", "team-a-preview")]) is None
    refusal = allowed.check_objects([obj("Namespace", "team-b")])
    assert refusal is not None
    assert "Namespace/team-b (namespace team-b)" in refusal.message


def test_a_star_widens_either_list() -> None:
    anywhere = Destinations.of("team-a", {ALLOWED_DESTINATIONS: "*"})
    assert anywhere.check_destination("team-z") is None
    assert anywhere.check_objects([obj("Namespace", "n")]) is not None
    assert not Destinations.of(
        "team-a", {ALLOWED_DESTINATIONS: "*", ALLOWED_CLUSTER_KINDS: "*"}
    ).restricted


def test_unreadable_rules_refuse_everything() -> None:
    allowed = Destinations.unreadable("team-a", 'namespaces "team-a" is forbidden')
    refusal = allowed.check_destination("team-a")
    assert refusal is not None
    assert refusal.reason == "DestinationNotAllowed"
    assert "cannot read Namespace team-a" in refusal.message
    assert "get on namespaces" in refusal.message
    assert allowed.check_objects([obj("ConfigMap", "c", "team-a")]) is not None


def test_a_long_refusal_names_five_and_counts_the_rest() -> None:
    allowed = Destinations.of("team-a", {ALLOWED_DESTINATIONS: ""})
    refusal = allowed.check_objects([obj("ConfigMap", f"c{i}", "team-b") for i in range(8)])
    assert refusal is not None
    assert "c4 " in refusal.message
    assert "c5 " not in refusal.message
    assert "and 3 more" in refusal.message


def test_default_service_account_only_where_none_is_named() -> None:
    tenancy = Tenancy(default_service_account="tenant")
    assert tenancy.service_account(spec()) == "tenant"
    assert tenancy.service_account(spec(service_account_name="deployer")) == "deployer"
    assert Tenancy().service_account(spec()) is None


def test_cross_namespace_dependencies_refused_only_when_disabled() -> None:
    deps = (DependencyRef("team-a", "db"), DependencyRef("team-b", "api"))
    assert Tenancy().check_refs(spec(depends_on=deps)) is None
    strict = Tenancy(no_cross_namespace_refs=True)
    refusal = strict.check_refs(spec(depends_on=deps))
    assert refusal is not None
    assert refusal.reason == "CrossNamespaceRef"
    assert "dependsOn team-b/api" in refusal.message
    assert "team-a/db" not in refusal.message
    assert strict.check_refs(spec(depends_on=deps[:1])) is None
    assert spec().key == AppKey("team-a", "shop")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8081", ("127.0.0.1", 8081)),
        (":8443", ("0.0.0.0", 8443)),
        ("[::1]:9000", ("::1", 9000)),
        ("0", ("127.0.0.1", None)),
    ],
)
def test_metrics_bind_address(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_bind_address(text) == expected


@pytest.mark.parametrize("text", ["8081", "localhost", "host:port", ":99999"])
def test_bad_metrics_bind_address(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind_address(text)
