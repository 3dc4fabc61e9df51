"""The Application CRD and its typed spec agree, without a cluster.

It proves that the CRD is exactly its golden copy (fixtures/controller/application-crd.yaml); that
the schema's defaults turn the minimal Application into application-defaulted.yaml, and that both
parse to the same AppSpec; that the full example parses field by field; that Go-style durations
are read as the schema reads them; and that every way to get a spec wrong raises InvalidSpec
naming the field, as the API server would. The integration test checks the same fixtures against
the real API server.

After an intended change to the CRD, regenerate the golden with
``CLEW_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_controller_spec.py`` and review the diff.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.controller import (
    API_VERSION,
    APPLICATION_CRD,
    CRD_NAME,
    KIND,
    AppKey,
    AppSpec,
    DependencyRef,
    HelmSpec,
    InvalidSpec,
    RenderKind,
    RenderSpec,
    RetrySpec,
    SourceSpec,
    parse,
    parse_duration,
)
from clew.model import ClewError

FIXTURES = Path(__file__).parent / "fixtures" / "controller"
GOLDEN = FIXTURES / "application-crd.yaml"
DELETE = object()


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text())
    return loaded


def schema() -> dict[str, Any]:
    found: dict[str, Any] = APPLICATION_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return found


# -- the CRD ------------------------------------------------------------------------------------


def test_crd_matches_its_golden_copy() -> None:
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        header = (
            "# clew.controller.api.crd.APPLICATION_CRD; regenerate: CLEW_UPDATE_GOLDEN=1 pytest.\n"
        )
        GOLDEN.write_text(header + yaml.safe_dump(APPLICATION_CRD, sort_keys=False, width=100))
    assert GOLDEN.is_file(), f"no {GOLDEN}: run with CLEW_UPDATE_GOLDEN=1"
    assert yaml.safe_load(GOLDEN.read_text()) == APPLICATION_CRD


def test_crd_names_scope_and_version() -> None:
    spec = APPLICATION_CRD["spec"]
    assert APPLICATION_CRD["metadata"]["name"] == CRD_NAME == "applications.clew.dev"
    assert (spec["group"], spec["scope"]) == ("clew.dev", "Namespaced")
    assert spec["names"] == {
        "kind": "Application",
        "listKind": "ApplicationList",
        "plural": "applications",
        "singular": "application",
        "shortNames": ["app"],
        "categories": ["clew"],
    }
    [version] = spec["versions"]
    assert f"{spec['group']}/{version['name']}" == API_VERSION
    assert (version["served"], version["storage"]) == (True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Ready", "Reason", "Revision", "Age"]
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Reason"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].reason'
    assert columns["Revision"] == {
        "name": "Revision",
        "type": "string",
        "jsonPath": ".status.lastAppliedRevision",
        "priority": 0,
    }
    assert columns["Age"]["type"] == "date"


def test_only_inline_helm_values_keep_unknown_fields() -> None:
    """Everything else is pruned by the server, so the controller never sees stray fields."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("x-kubernetes-preserve-unknown-fields"):
                found.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")

    walk(schema(), "")
    assert found == ["/properties/spec/properties/render/properties/helm/properties/values"]


def default(value: Any, node: dict[str, Any]) -> Any:
    """Structural defaulting as the API server does it: a missing (or null) property with a
    default gets a copy of it, then defaulting recurses into every present property."""
    if isinstance(value, dict) and "properties" in node:
        for key, prop in node["properties"].items():
            if value.get(key) is None and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        for key, child in value.items():
            if key in node["properties"]:
                default(child, node["properties"][key])
    elif isinstance(value, list) and "items" in node:
        for item in value:
            default(item, node["items"])
    return value


def test_schema_defaults_turn_the_minimal_application_into_the_defaulted_one() -> None:
    assert default(load("application-minimal.yaml"), schema()) == load("application-defaulted.yaml")


def test_every_default_in_the_schema_matches_its_own_pattern() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "default" in node and "pattern" in node:
                assert re.fullmatch(node["pattern"].strip("^$"), node["default"]), node
            if "default" in node and "enum" in node:
                assert node["default"] in node["enum"], node
            for value in node.values():
                walk(value)

    walk(schema())


# -- parsing ------------------------------------------------------------------------------------

MINIMAL = AppSpec(
    key=AppKey("team-a", "shop"),
    source=SourceSpec(repo_url="https://git.example.com/org/shop.git", ref="main", path="."),
    render=RenderSpec(RenderKind.AUTO, HelmSpec(release_name="shop")),
    destination_namespace="team-a",
    interval=300.0,
    timeout=300.0,
    prune=True,
    self_heal=True,
    wait=True,
    suspend=False,
    retry=RetrySpec(initial_delay=5.0, max_delay=300.0),
)


def test_minimal_and_server_defaulted_applications_parse_the_same() -> None:
    assert parse(load("application-minimal.yaml")) == MINIMAL
    assert parse(load("application-defaulted.yaml")) == MINIMAL


def test_full_application_parses_every_field() -> None:
    assert parse(load("application-full.yaml")) == AppSpec(
        key=AppKey("team-a", "shop"),
        source=SourceSpec(
            repo_url="git@git.example.com:org/shop.git",
            ref=">=1.2 <2",
            path="deploy/prod",
            secret_name="shop-git",
            verify_secret_name="shop-signers",
        ),
        render=RenderSpec(
            RenderKind.HELM,
            HelmSpec(
                release_name="shop-prod",
                values_files=("values.yaml", "values-prod.yaml"),
                values={"replicas": 3, "image": {"tag": "1.4.2"}},
            ),
        ),
        destination_namespace="shop",
        interval=5400.0,
        timeout=90.0,
        prune=False,
        self_heal=False,
        wait=False,
        suspend=True,
        retry=RetrySpec(initial_delay=0.5, max_delay=5400.0),
        depends_on=(DependencyRef("infra", "platform"), DependencyRef("team-a", "database")),
        service_account_name="shop-deployer",
        pin_revision="3f2a9c1b" * 5,
        adopt=True,
    )


def test_nulls_count_as_absent_and_the_namespace_can_come_from_the_caller() -> None:
    app = load("application-minimal.yaml")
    del app["metadata"]["namespace"]
    app["spec"].update(prune=None, retry=None, render={"kind": None}, dependsOn=None)
    spec = parse(app, namespace="team-a")
    assert spec == MINIMAL
    assert parse(app).key == AppKey("default", "shop")


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/org/shop.git",
        "http://127.0.0.1:8080/shop.git",
        "ssh://git@git.example.com:2222/org/shop.git",
        "git@github.com:org/shop.git",
        "git.example.com:org/shop.git",
        "file:///srv/git/shop.git",
        "https://ci@git.example.com/org/shop.git",  # a user name alone is no secret
        "https://git.example.com/org/shop.git?ref=a:b@c",  # ':' and '@' after the host
    ],
)
def test_repository_urls_the_fetcher_understands_are_accepted(url: str) -> None:
    app = load("application-minimal.yaml")
    app["spec"]["source"]["repoURL"] = url
    assert parse(app).source.repo_url == url


def test_keys_print_hash_and_sort() -> None:
    key = AppKey("team-a", "shop")
    assert str(key) == "team-a/shop"
    assert {key: 1}[AppKey("team-a", "shop")] == 1
    assert sorted([AppKey("b", "a"), AppKey("a", "z")]) == [AppKey("a", "z"), AppKey("b", "a")]
    assert AppKey.of(load("application-minimal.yaml")) == key
    assert DependencyRef("infra", "platform").key == AppKey("infra", "platform")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("500ms", 0.5),
        ("1m30s500ms", 90.5),
        ("0s", 0.0),
        ("90m", 5400.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "5", "5 minutes", "-1s", "1d", "1h 30m", "5m\n", ".5s", "1us", "5M"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def changed(path: str, value: Any) -> dict[str, Any]:
    """The minimal Application with one dotted path set (``DELETE`` removes it)."""
    app = load("application-minimal.yaml")
    *parents, last = path.split(".")
    node = app
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return app


# (path to change, new value, the field InvalidSpec must name, a fragment of its message)
INVALID = [
    ("apiVersion", "clew.dev/v1", "apiVersion", "must be 'clew.dev/v1alpha1'"),
    ("kind", "App", "kind", "must be 'Application'"),
    ("metadata", DELETE, "metadata", "required"),
    ("metadata.name", DELETE, "metadata.name", "required"),
    ("spec", DELETE, "spec", "required"),
    ("spec", ["source"], "spec", "must be a mapping, not a list"),
    ("spec.selfheal", True, "spec.selfheal", "unknown field"),
    ("spec.source", DELETE, "spec.source", "required"),
    ("spec.source.repoURL", DELETE, "spec.source.repoURL", "required"),
    ("spec.source.repoURL", "", "spec.source.repoURL", "must not be empty"),
    ("spec.source.repoURL", 42, "spec.source.repoURL", "must be a string"),
    ("spec.source.repoURL", "/srv/git/shop", "spec.source.repoURL", "does not match"),
    ("spec.source.repoURL", "-uhack:x", "spec.source.repoURL", "does not match"),
    ("spec.source.repoURL", "https://x/ y", "spec.source.repoURL", "does not match"),
    ("spec.source.repoUrl", "https://x/y", "spec.source.repoUrl", "unknown field"),
    ("spec.source.ref", "", "spec.source.ref", "must not be empty"),
    ("spec.source.ref", 1.2, "spec.source.ref", "must be a string, not float"),
    ("spec.source.path", "/etc", "spec.source.path", "relative path"),
    ("spec.source.path", "..", "spec.source.path", "relative path"),
    ("spec.source.path", "deploy/../../up", "spec.source.path", "relative path"),
    ("spec.source.secretRef", {}, "spec.source.secretRef.name", "required"),
    ("spec.source.secretRef", {"name": "Shop_Git"}, "spec.source.secretRef.name", "match"),
    ("spec.source.verify", {}, "spec.source.verify.secretRef", "required"),
    ("spec.render.kind", "jsonnet", "spec.render.kind", "not one of: auto, plain, kustomize"),
    ("spec.render", {"kind": "plain", "helm": {}}, "spec.render.helm", "need kind helm"),
    ("spec.render.helm", {"valuesFiles": "v.yaml"}, "spec.render.helm.valuesFiles", "a list"),
    (
        "spec.render.helm",
        {"valuesFiles": ["ok.yaml", "../v.yaml"]},
        "spec.render.helm.valuesFiles[1]",
        "relative path",
    ),
    ("spec.render.helm", {"values": [1]}, "spec.render.helm.values", "must be a mapping"),
    ("spec.render.helm", {"releaseName": "r" * 54}, "spec.render.helm.releaseName", "at most 53"),
    ("spec.destination.namespace", "Team_A", "spec.destination.namespace", "does not match"),
    ("spec.interval", "5 minutes", "spec.interval", "is not a duration"),
    ("spec.interval", 300, "spec.interval", "must be a string, not int"),
    ("spec.interval", "0s", "spec.interval", "longer than zero"),
    ("spec.timeout", "1d", "spec.timeout", "is not a duration"),
    ("spec.retry.initialDelay", "10m", "spec.retry", "initialDelay must not be longer"),
    ("spec.retry.maxDelay", "soon", "spec.retry.maxDelay", "is not a duration"),
    ("spec.prune", "yes", "spec.prune", "must be true or false"),
    ("spec.selfHeal", 1, "spec.selfHeal", "must be true or false"),
    ("spec.dependsOn", "platform", "spec.dependsOn", "must be a list"),
    ("spec.dependsOn", ["platform"], "spec.dependsOn[0]", "must be a mapping"),
    ("spec.dependsOn", [{"namespace": "infra"}], "spec.dependsOn[0].name", "required"),
    ("spec.dependsOn", [{"name": "shop"}], "spec.dependsOn[0]", "cannot depend on itself"),
    (
        "spec.dependsOn",
        [{"name": "db"}, {"name": "shop", "namespace": "team-a"}],
        "spec.dependsOn[1]",
        "cannot depend on itself",
    ),
    ("spec.dependsOn", [{"name": f"a{i}"} for i in range(65)], "spec.dependsOn", "at most 64"),
    ("spec.serviceAccountName", "deploy.er", "spec.serviceAccountName", "does not match"),
    (
        "spec.source.repoURL",
        "https://ci:hunter2@git.example.com/shop.git",
        "spec.source.repoURL",
        "must not carry a password (user:password@): put the credentials in a Secret",
    ),
    (
        "spec.source.repoURL",
        "ssh://git:x@git.example.com:22/shop.git",
        "spec.source.repoURL",
        "spec.source.secretRef",
    ),
    ("spec.pin", {}, "spec.pin.revision", "required"),
    ("spec.pin.revision", "3f2a", "spec.pin.revision", "does not match"),
    ("spec.pin.revision", "3F2A9C1B" * 5, "spec.pin.revision", "does not match"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "message"), INVALID, ids=[f"{c[0]}={c[1]!r}"[:60] for c in INVALID]
)
def test_invalid_spec_names_the_field(path: str, value: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(changed(path, value))
    assert caught.value.field == field
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ClewError)


def test_a_non_mapping_is_not_an_application() -> None:
    with pytest.raises(InvalidSpec, match="must be a mapping"):
        parse([API_VERSION, KIND])  # type: ignore[arg-type]
