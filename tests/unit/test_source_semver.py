"""Semver parsing, ordering and npm-style ranges, as golden tables (range, version, satisfied)."""

from __future__ import annotations

import pytest

from clew.source.semver import Range, Version


def v(text: str) -> Version:
    parsed = Version.parse(text)
    assert parsed is not None, text
    return parsed


def test_precedence_follows_semver_2() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted(ordered, key=v) == ordered
    assert v("1.0.0+build.5") == v("v1.0.0")  # build metadata does not order


@pytest.mark.parametrize("text", ["1.2", "1", "v1.2.3.4", "1.2.3-", "latest", "01.2.x", ""])
def test_tags_must_be_full_versions(text: str) -> None:
    assert Version.parse(text) is None


@pytest.mark.parametrize(
    ("spec", "version", "satisfied"),
    [
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "1.2.4", False),
        ("!=1.2.3", "1.2.4", True),
        ("1.2", "1.2.9", True),
        ("1.2", "1.3.0", False),
        ("1", "1.99.0", True),
        ("1", "2.0.0", False),
        (">1.2", "1.2.9", False),
        (">1.2", "1.3.0", True),
        ("<=1.2", "1.2.9", True),
        ("<=1.2", "1.3.0", False),
        ("~1.4", "1.4.7", True),
        ("~1.4", "1.5.0", False),
        ("~1.4.2", "1.4.1", False),
        ("~1", "1.9.0", True),
        ("^1.2", "1.9.0", True),
        ("^1.2", "2.0.0", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.3", True),
        ("^0.0.3", "0.0.4", False),
        ("1.x", "1.0.0", True),
        ("1.2.*", "1.2.0", True),
        ("1.2.*", "1.3.0", False),
        ("1.2 - 1.4", "1.4.9", True),
        ("1.2 - 1.4", "1.5.0", False),
        ("1.2.3 - 1.4.0", "1.4.1", False),
        (">= 1.0, < 2.0", "1.5.0", True),
        ("<1 || >=3", "2.0.0", False),
        ("<1 || >=3", "3.1.0", True),
        # pre-releases: only when a comparator of the same set names one for that version
        ("*", "2.0.0-rc.1", False),
        ("^1.2", "1.3.0-rc.1", False),
        (">=1.3.0-rc.0", "1.3.0-rc.1", True),
        (">=1.3.0-rc.0", "1.4.0-rc.1", False),
        ("~1.3.0-beta", "1.3.0-rc.1", True),
        ("1.3.0-rc.1", "1.3.0-rc.1", True),
    ],
)
def test_range_golden(spec: str, version: str, satisfied: bool) -> None:
    parsed = Range.parse(spec)
    assert parsed is not None, spec
    assert parsed.matches(v(version)) is satisfied


@pytest.mark.parametrize(
    "spec", ["main", "release-1.x", "feature/x", ">=", "1.2-rc.1", "!=1.2", "^", "1.2 -", "~>"]
)
def test_not_a_range(spec: str) -> None:
    assert Range.parse(spec) is None
