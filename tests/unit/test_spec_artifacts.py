"""The Application fields of artifact sources: a chart from an https:// or oci:// repository,
an OCI artifact, valuesFrom and dependency repositories parse with their defaults, and the
mistakes are refused naming the field; Helm's values merge (maps key by key, the rest replaced)."""

from __future__ import annotations

from typing import Any

import pytest

from clew.cli.apps_view import source_ref
from clew.controller.api.spec import HelmRepository, InvalidSpec, ValuesFrom, parse
from clew.controller.reconcile.artifacts import merge_values


def app(source: dict[str, Any], helm: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": source}
    if helm is not None:
        spec["render"] = {"helm": helm}
    return {
        "apiVersion": "clew.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "team"},
        "spec": spec,
    }


def test_source_kinds() -> None:
    git = parse(app({"repoURL": "https://git.example/app.git"})).source
    chart = parse(app({"repoURL": "https://charts.example", "chart": "podinfo"})).source
    oci_chart = parse(app({"repoURL": "oci://reg.example/charts", "chart": "podinfo"})).source
    artifact = parse(app({"repoURL": "oci://reg.example/app", "version": "^1.0"})).source
    assert (git.kind, chart.kind, oci_chart.kind, artifact.kind) == ("git", "helm", "helm", "oci")
    assert chart.version == ""  # the newest release
    assert artifact.version == "^1.0"


def test_values_from_and_repositories() -> None:
    helm = parse(
        app(
            {"repoURL": "https://git.example/app.git"},
            {
                "valuesFrom": [
                    {"kind": "ConfigMap", "name": "base"},
                    {"kind": "Secret", "name": "s", "valuesKey": "prod.yaml", "optional": True},
                ],
                "repositories": [{"url": "https://charts.example", "secretRef": {"name": "c"}}],
            },
        )
    ).render.helm
    assert helm.values_from == (
        ValuesFrom("ConfigMap", "base"),
        ValuesFrom("Secret", "s", "prod.yaml", optional=True),
    )
    assert helm.repositories == (HelmRepository("https://charts.example", "c"),)


@pytest.mark.parametrize(
    ("source", "helm", "field"),
    [
        ({"repoURL": "git@host:app.git", "chart": "x"}, None, "spec.source.repoURL"),
        ({"repoURL": "https://c.example", "chart": "-x"}, None, "spec.source.chart"),
        (
            {"repoURL": "oci://r.example/a", "verify": {"secretRef": {"name": "k"}}},
            None,
            "spec.source.verify",
        ),
        (
            {"repoURL": "https://g.example/a.git"},
            {"valuesFrom": [{"kind": "Pod", "name": "p"}]},
            "spec.render.helm.valuesFrom[0].kind",
        ),
        (
            {"repoURL": "https://g.example/a.git"},
            {"repositories": [{"url": "https://u:pw@charts.example"}]},
            "spec.render.helm.repositories[0].url",
        ),
    ],
)
def test_mistakes_name_the_field(
    source: dict[str, Any], helm: dict[str, Any] | None, field: str
) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(app(source, helm))
    assert caught.value.field == field


def test_merge_values() -> None:
    base = {"image": {"tag": "1", "repo": "r"}, "list": [1, 2], "keep": True}
    override = {"image": {"tag": "2"}, "list": [3], "new": {"a": 1}}
    assert merge_values(base, override) == {
        "image": {"tag": "2", "repo": "r"},
        "list": [3],
        "keep": True,
        "new": {"a": 1},
    }
    assert base["image"] == {"tag": "1", "repo": "r"}  # inputs untouched


def test_what_a_source_follows_in_tables() -> None:
    assert source_ref({"repoURL": "https://g/a.git", "ref": "v1"}) == "v1"
    assert source_ref({"repoURL": "https://c", "chart": "web", "version": "^1"}) == "web@^1"
    assert source_ref({"repoURL": "oci://r/c", "chart": "web"}) == "web@latest"
    assert source_ref({"repoURL": "oci://r/app", "ref": "main"}) == "latest"
