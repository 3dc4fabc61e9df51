"""Pure ref resolution: from ``git ls-remote`` output and a ref spec to one commit SHA.

A spec is tried in this order, the first match wins (Flux's order for one string):

1. ``refs/...``: that exact ref (``refs/heads/x``, ``refs/tags/x``, ``refs/pull/1/head``...);
   ``HEAD``: the remote's default branch.
2. a branch of that name, 3. a tag of that name (annotated tags give the peeled commit),
4. a commit SHA: a full one (40 or 64 hex) is used as is, without asking the server (so the
   cache can reuse a snapshot with no network at all); a short one (7+ hex) only when it is the
   tip of exactly one advertised ref, since a shallow fetch cannot look up an arbitrary prefix,
5. a semver range (:mod:`clew.source.semver`): the highest tag satisfying it, ``v`` optional.

Anything else is :class:`RefNotFound`, with the closest branch and tag names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from clew.source.errors import RefNotFound
from clew.source.semver import Range, Version

__all__ = ["RemoteRefs", "Resolved", "is_full_sha", "ls_remote_args", "pick"]

_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{7,63}$")
_HEADS, _TAGS = "refs/heads/", "refs/tags/"


def is_full_sha(spec: str) -> bool:
    return bool(_FULL_SHA.match(spec))


def ls_remote_args(spec: str, url: str) -> list[str]:
    """Arguments after ``git ls-remote`` that list every ref `spec` could mean on `url`.

    Branches and tags are asked for by prefix: with protocol v2 the server then sends nothing
    else, which matters on hosts that keep thousands of ``refs/pull/*``.
    """
    if spec == "HEAD" or (spec.startswith("refs/") and not spec.startswith((_HEADS, _TAGS))):
        return ["--", url, spec]
    return ["--heads", "--tags", "--", url]


@dataclass(frozen=True)
class Resolved:
    """What a spec resolved to: the commit, and the full ref name that led there (or "")."""

    sha: str
    ref: str = ""
    advertised: bool = True  # the server listed it; False for a full SHA taken on trust


@dataclass(frozen=True)
class RemoteRefs:
    """Ref name -> commit SHA, annotated tags already peeled to their commit."""

    refs: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> RemoteRefs:
        direct: dict[str, str] = {}
        peeled: dict[str, str] = {}
        for line in text.splitlines():
            sha, _, name = line.strip().partition("\t")
            if not name:
                continue
            if name.endswith("^{}"):
                peeled[name[:-3]] = sha
            else:
                direct[name] = sha
        return cls({name: peeled.get(name, sha) for name, sha in direct.items()})

    def names(self, prefix: str) -> list[str]:
        return sorted(name[len(prefix) :] for name in self.refs if name.startswith(prefix))


def pick(refs: RemoteRefs, spec: str) -> Resolved:
    """Resolve `spec` against `refs` (see the module docstring for the order)."""
    spec = spec.strip()
    if not spec:
        raise RefNotFound("empty ref", hint="give a branch, tag, semver range or commit SHA")
    if spec == "HEAD" or spec.startswith("refs/"):
        if spec in refs.refs:
            return Resolved(refs.refs[spec], spec)
        raise _not_found(refs, spec, spec.removeprefix(_HEADS).removeprefix(_TAGS))
    for prefix in (_HEADS, _TAGS):
        if prefix + spec in refs.refs:
            return Resolved(refs.refs[prefix + spec], prefix + spec)
    if is_full_sha(spec):
        return Resolved(spec, advertised=spec in refs.refs.values())
    if _SHORT_SHA.match(spec):
        tips = {sha for sha in refs.refs.values() if sha.startswith(spec)}
        if len(tips) == 1:
            return Resolved(tips.pop())
        if len(tips) > 1:
            raise RefNotFound(
                f"short commit SHA {spec} matches {len(tips)} advertised commits",
                hint="give more characters of the SHA, or all 40",
            )
    version_range = Range.parse(spec)
    if version_range is not None:
        return _highest_tag(refs, version_range)
    if _SHORT_SHA.match(spec):
        raise RefNotFound(
            f"short commit SHA {spec} is not the tip of any branch or tag",
            hint="give the full 40-character SHA: a short one only works for a branch or tag tip",
        )
    raise _not_found(refs, spec, spec)


def _highest_tag(refs: RemoteRefs, version_range: Range) -> Resolved:
    candidates: list[tuple[Version, str]] = []
    for name in refs.names(_TAGS):
        version = Version.parse(name)
        if version is not None and version_range.matches(version):
            candidates.append((version, name))
    if not candidates:
        releases = sorted(
            ((v, n) for n in refs.names(_TAGS) if (v := Version.parse(n)) is not None),
            reverse=True,
        )
        nearby = tuple(name for _, name in releases[:5])
        raise RefNotFound(
            f"no tag satisfies version range {version_range}",
            hint="check the range; highest tags: " + (", ".join(nearby) or "(no semver tags)"),
            nearby=nearby,
        )
    # Same version under two names (v1.2.0 and 1.2.0): the larger name, so the choice is stable.
    _, name = max(candidates)
    return Resolved(refs.refs[_TAGS + name], _TAGS + name)


def _not_found(refs: RemoteRefs, spec: str, short: str) -> RefNotFound:
    names = sorted({*refs.names(_HEADS), *refs.names(_TAGS)})
    nearby = tuple(difflib.get_close_matches(short, names, n=5, cutoff=0.6))
    hint = "check the ref name"
    if nearby:
        hint += "; did you mean " + ", ".join(nearby) + "?"
    return RefNotFound(f"no branch, tag or commit matches {spec!r}", hint=hint, nearby=nearby)
