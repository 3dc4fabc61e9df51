"""Ref specs resolve to the commit Flux would pick, from canned ``git ls-remote`` output.

Golden tables: one ls-remote listing (branches, lightweight and annotated tags with and without
``v``, pre-releases, a branch and a tag sharing a name, a pull ref) and, per spec, the commit and
ref it must give — or the error, with the nearby names it offers.
"""

from __future__ import annotations

import pytest

from clew.source.errors import RefNotFound
from clew.source.refs import RemoteRefs, Resolved, is_full_sha, ls_remote_args, pick


def sha(n: int) -> str:
    return f"{n:040x}"


# Annotated tags are listed twice: the tag object, then the commit it peels to ("^{}").
LS_REMOTE = "\n".join(
    f"{s}\t{ref}"
    for s, ref in [
        (sha(1), "HEAD"),
        (sha(1), "refs/heads/main"),
        (sha(2), "refs/heads/release-1.x"),
        (sha(3), "refs/heads/shared"),
        (sha(4), "refs/tags/shared"),
        (sha(5), "refs/tags/v1.0.0"),
        (sha(0xA6), "refs/tags/v1.2.0"),  # annotated: tag object a6 ...
        (sha(6), "refs/tags/v1.2.0^{}"),  # ... peels to commit 6
        (sha(7), "refs/tags/1.2.3"),  # no "v"
        (sha(8), "refs/tags/v1.3.0-rc.1"),
        (sha(9), "refs/tags/v1.10.0"),
        (sha(10), "refs/tags/v2.0.0"),
        (sha(11), "refs/tags/0.2.5"),
        (sha(12), "refs/tags/0.3.0"),
        (sha(13), "refs/tags/not-a-version"),
        (sha(14), "refs/pull/7/head"),
        ("deadbeefcafe" + "0" * 28, "refs/heads/topic"),
    ]
)


@pytest.fixture(scope="module")
def refs() -> RemoteRefs:
    return RemoteRefs.parse(LS_REMOTE)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # explicit refs and HEAD
        ("HEAD", Resolved(sha(1), "HEAD")),
        ("refs/heads/shared", Resolved(sha(3), "refs/heads/shared")),
        ("refs/tags/shared", Resolved(sha(4), "refs/tags/shared")),
        ("refs/pull/7/head", Resolved(sha(14), "refs/pull/7/head")),
        # branch before tag
        ("main", Resolved(sha(1), "refs/heads/main")),
        ("shared", Resolved(sha(3), "refs/heads/shared")),
        ("release-1.x", Resolved(sha(2), "refs/heads/release-1.x")),  # a branch, not a range
        # tags: annotated ones peel to the commit
        ("v1.2.0", Resolved(sha(6), "refs/tags/v1.2.0")),
        ("1.2.3", Resolved(sha(7), "refs/tags/1.2.3")),
        # commits: a full SHA as is, a short one when it is one ref's tip
        (sha(99), Resolved(sha(99), advertised=False)),
        (sha(5), Resolved(sha(5), advertised=True)),
        ("deadbeef", Resolved("deadbeefcafe" + "0" * 28)),
        # semver: highest matching tag, "v" optional on both sides, pre-releases only if named
        ("*", Resolved(sha(10), "refs/tags/v2.0.0")),
        (">=1.2 <2", Resolved(sha(9), "refs/tags/v1.10.0")),
        (">=1.2, <2", Resolved(sha(9), "refs/tags/v1.10.0")),
        ("^1.2", Resolved(sha(9), "refs/tags/v1.10.0")),
        ("~1.2", Resolved(sha(7), "refs/tags/1.2.3")),
        ("~1.2.0", Resolved(sha(7), "refs/tags/1.2.3")),
        ("1.x", Resolved(sha(9), "refs/tags/v1.10.0")),
        ("1.2.x", Resolved(sha(7), "refs/tags/1.2.3")),
        ("v1.0.0", Resolved(sha(5), "refs/tags/v1.0.0")),
        ("=1.0.0", Resolved(sha(5), "refs/tags/v1.0.0")),
        ("<1.2", Resolved(sha(5), "refs/tags/v1.0.0")),
        ("1.0 - 1.2", Resolved(sha(7), "refs/tags/1.2.3")),
        (">=1.3.0-rc.0 <1.4", Resolved(sha(8), "refs/tags/v1.3.0-rc.1")),
        ("^0.2", Resolved(sha(11), "refs/tags/0.2.5")),
        ("^0.2 || ^0.3", Resolved(sha(12), "refs/tags/0.3.0")),
        ("< 1", Resolved(sha(12), "refs/tags/0.3.0")),
    ],
)
def test_spec_resolves_like_flux(refs: RemoteRefs, spec: str, expected: Resolved) -> None:
    assert pick(refs, spec) == expected


@pytest.mark.parametrize(
    ("spec", "message", "nearby"),
    [
        ("mian", "no branch, tag or commit matches 'mian'", ("main",)),
        ("refs/heads/mian", "no branch, tag or commit matches 'refs/heads/mian'", ("main",)),
        ("relase-1.x", "matches 'relase-1.x'", ("release-1.x",)),
        (">=3", "no tag satisfies version range >=3", ("v2.0.0", "v1.10.0", "v1.3.0-rc.1")),
        ("abcdef1", "short commit SHA abcdef1 is not the tip", ()),
        ("", "empty ref", ()),
    ],
)
def test_unknown_spec_says_what_is_near(
    refs: RemoteRefs, spec: str, message: str, nearby: tuple[str, ...]
) -> None:
    with pytest.raises(RefNotFound) as caught:
        pick(refs, spec)
    assert message in caught.value.message
    assert caught.value.nearby[: len(nearby)] == nearby
    assert caught.value.hint


def test_ambiguous_short_sha_is_refused() -> None:
    listing = RemoteRefs.parse(f"abc1234{'1' * 33}\trefs/heads/a\nabc1234{'2' * 33}\trefs/heads/b")
    with pytest.raises(RefNotFound, match="matches 2 advertised commits"):
        pick(listing, "abc1234")


def test_same_version_under_two_names_is_picked_stably() -> None:
    listing = RemoteRefs.parse(f"{sha(1)}\trefs/tags/1.0.0\n{sha(2)}\trefs/tags/v1.0.0")
    assert pick(listing, "^1") == Resolved(sha(2), "refs/tags/v1.0.0")


def test_ls_remote_asks_for_branches_and_tags_by_prefix() -> None:
    assert ls_remote_args("main", "u") == ["--heads", "--tags", "--", "u"]
    assert ls_remote_args("refs/tags/v1", "u") == ["--heads", "--tags", "--", "u"]
    assert ls_remote_args("refs/pull/1/head", "u") == ["--", "u", "refs/pull/1/head"]
    assert ls_remote_args("HEAD", "-u") == ["--", "-u", "HEAD"]  # a URL is never an option


@pytest.mark.parametrize(
    ("text", "full"),
    [(sha(1), True), ("a" * 64, True), ("a" * 39, False), ("A" * 40, False), ("main", False)],
)
def test_full_sha(text: str, full: bool) -> None:
    assert is_full_sha(text) is full
