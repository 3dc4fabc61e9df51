"""Helm repository index logic without a server: parsing helm's index.yaml (golden fixture),
version selection like the Git semver refs (exact, ranges, pre-releases only when asked), the
errors that name what is there, and archive URLs relative to the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.source import RefNotFound
from clew.source.helmindex import Index, InvalidIndex, archive_url

FIXTURES = Path(__file__).parent / "fixtures" / "helm"


@pytest.fixture(scope="module")
def index() -> Index:
    return Index.parse((FIXTURES / "index-typical.yaml").read_bytes())


@pytest.mark.parametrize(
    ("spec", "version"),
    [
        ("6.4.0", "6.4.0"),
        ("v6.4.0", "6.4.0"),
        ("^6.0", "6.4.1"),
        ("~6.4.0", "6.4.1"),
        ("<6.4.1", "6.4.0"),
        ("5.x", "5.2.0"),
        ("*", "6.4.1"),  # the newest release, not the release candidate
        ("", "6.4.1"),
        (">=6.5.0-rc.0", "6.5.0-rc.1"),  # a pre-release when the range names one
        ("6.5.0-rc.1", "6.5.0-rc.1"),
        ("5.0 - 6.4.0", "6.4.0"),
    ],
)
def test_select(index: Index, spec: str, version: str) -> None:
    assert index.select("podinfo", spec).version == version


def test_entry_fields(index: Index) -> None:
    entry = index.select("podinfo", "6.4.1")
    assert entry.digest == "2" * 64  # "sha256:" prefix dropped
    assert entry.urls == ("podinfo-6.4.1.tgz",)
    assert index.select("redis", "*").digest == ""  # an old index without digests


def test_missing_version_names_the_newest(index: Index) -> None:
    with pytest.raises(RefNotFound) as caught:
        index.select("podinfo", "^7.0")
    assert "no version of chart 'podinfo' satisfies '^7.0'" in str(caught.value)
    assert caught.value.nearby == ("6.5.0-rc.1", "6.4.1", "6.4.0", "5.2.0")


def test_missing_chart_suggests_a_close_name(index: Index) -> None:
    with pytest.raises(RefNotFound) as caught:
        index.select("podinf", "*")
    assert caught.value.nearby == ("podinfo",)


def test_a_spec_that_is_no_version_is_refused(index: Index) -> None:
    with pytest.raises(RefNotFound, match="neither a version nor a semver range"):
        index.select("podinfo", "latest")


def test_archive_urls(index: Index) -> None:
    def url(version: str, repo: str = "https://charts.example/stable") -> str:
        return archive_url(repo, index.select("podinfo", version))

    assert url("6.4.1") == "https://charts.example/stable/podinfo-6.4.1.tgz"
    assert url("6.4.1", "https://charts.example/stable/") == url("6.4.1")
    assert url("6.4.0") == "https://cdn.example/podinfo-6.4.0.tgz"
    assert url("5.2.0") == "https://charts.example/stable/charts/podinfo-5.2.0.tgz"


@pytest.mark.parametrize("text", ["", "entries: []\n", "[1, 2]\n", "a: [\n", "<html></html>"])
def test_not_an_index(text: str) -> None:
    with pytest.raises(InvalidIndex):
        Index.parse(text)
