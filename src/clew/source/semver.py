"""Semantic versions (2.0.0) and npm-style ranges, to pick the highest tag satisfying a ref.

Ranges: comparators ``= != < <= > >=``, partial versions (``1.2`` = ``>=1.2.0 <1.3.0``), wildcards
(``1.x``, ``1.2.*``, ``*``), ``~1.4`` (patch updates), ``^1.2`` (no major change; ``^0.2`` no
minor change), hyphen ranges (``1.2 - 1.4``); a space or a comma means AND, ``||`` means OR.
A leading ``v`` is allowed everywhere.

Pre-releases follow npm: a version like ``1.3.0-rc.1`` satisfies a range only when a comparator
of the same AND-set names a pre-release of the same ``major.minor.patch`` (so ``>=1.3.0-rc.0``
admits ``1.3.0-rc.1`` but never ``1.4.0-beta``). Build metadata is ignored for ordering.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Range", "Version"]

_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION = re.compile(
    rf"^[vV]?(\d+)\.(\d+)\.(\d+)(?:-({_IDENT}))?(?:\+({_IDENT}))?$",
)
_PARTIAL = re.compile(
    rf"^[vV]?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-({_IDENT}))?(?:\+({_IDENT}))?$",
)
_COMPARATOR = re.compile(r"^(<=|>=|!=|~>|[<>=~^])?(.+)$")
_HYPHEN = re.compile(r"(\S+)\s+-\s+(\S+)")


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """A full ``X.Y.Z[-pre][+build]`` with an optional ``v``; None for anything else."""
        m = _VERSION.match(text.strip())
        if m is None:
            return None
        major, minor, patch, pre, build = m.groups()
        return cls(
            int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), build or ""
        )

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[tuple[int, int, int], int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its pre-releases; numeric identifiers sort before alphanumerics.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.core, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text + (f"+{self.build}" if self.build else "")


@dataclass(frozen=True)
class _Comparator:
    op: str  # one of = != < <= > >=
    version: Version

    def matches(self, v: Version) -> bool:
        c = self.version
        return {
            "=": v == c,
            "!=": v != c,
            "<": v < c,
            "<=": v <= c,
            ">": v > c,
            ">=": v >= c,
        }[self.op]


@dataclass(frozen=True)
class Range:
    """A parsed range: OR of AND-sets of comparators. ``str(range)`` is the original text."""

    text: str
    sets: tuple[tuple[_Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range | None:
        """The range, or None when `text` is not a version range at all (e.g. a branch name)."""
        sets = []
        for alternative in text.split("||"):
            alternative = re.sub(r"(<=|>=|!=|~>|[<>=~^])\s+", r"\1", alternative.strip())
            alternative = _HYPHEN.sub(lambda m: _hyphen(m[1], m[2]), alternative)
            comparators: list[_Comparator] = []
            for token in re.split(r"[\s,]+", alternative.strip()):
                expanded = _expand(token) if token else None
                if expanded is None:
                    return None
                comparators += expanded
            sets.append(tuple(comparators))
        return cls(text, tuple(sets))

    def matches(self, v: Version) -> bool:
        return any(self._set_matches(comparators, v) for comparators in self.sets)

    @staticmethod
    def _set_matches(comparators: tuple[_Comparator, ...], v: Version) -> bool:
        if not all(c.matches(v) for c in comparators):
            return False
        if not v.prerelease:
            return True
        return any(c.version.prerelease and c.version.core == v.core for c in comparators)

    def __str__(self) -> str:
        return self.text


def _hyphen(low: str, high: str) -> str:
    # "1.2 - 1.4" is ">=1.2.0 <1.5.0": a partial upper bound includes all of its versions.
    return f">={low} <={high}"


_Partial = tuple[int | None, int | None, int | None, tuple[str, ...]]


def _partial(text: str) -> _Partial | None:
    m = _PARTIAL.match(text)
    if m is None:
        return None
    parts: list[int | None] = []
    for group in m.groups()[:3]:
        # A wildcard or a missing part makes every later part a wildcard too.
        if group is None or group in "xX*" or (parts and parts[-1] is None):
            parts.append(None)
        else:
            parts.append(int(group))
    pre = tuple(m[4].split(".")) if m[4] else ()
    if pre and parts[2] is None:
        return None  # "1.2-rc.1" names no single version
    return parts[0], parts[1], parts[2], pre


def _expand(token: str) -> list[_Comparator] | None:
    m = _COMPARATOR.match(token)
    if m is None:
        return None
    op, rest = m[1] or "", m[2]
    parsed = _partial(rest)
    if parsed is None:
        return None
    major, minor, patch, pre = parsed
    low = Version(major or 0, minor or 0, patch or 0, pre)

    def ge(v: Version) -> _Comparator:
        return _Comparator(">=", v)

    def lt(v: Version) -> _Comparator:
        return _Comparator("<", v)

    if major is None:  # "*", "x", ">=*"...: anything but, as always, pre-releases
        return [ge(Version(0, 0, 0))] if op in ("", "=", ">=", "<=", "~", "~>", "^") else None
    next_minor = Version(major, (minor or 0) + 1, 0)
    next_major = Version(major + 1, 0, 0)
    if op in ("~", "~>"):
        return [ge(low), lt(next_minor if minor is not None else next_major)]
    if op == "^":
        if major > 0 or minor is None:
            return [ge(low), lt(next_major)]
        if minor > 0 or patch is None:
            return [ge(low), lt(next_minor)]
        return [ge(low), lt(Version(0, 0, patch + 1))]
    upper = next_major if minor is None else next_minor  # end of a partial version's span
    if patch is not None:
        return [_Comparator(op or "=", low)]
    if op in ("", "="):
        return [ge(low), lt(upper)]
    if op == ">":
        return [ge(upper)]
    if op == ">=":
        return [ge(low)]
    if op == "<":
        return [lt(low)]
    if op == "<=":
        return [lt(upper)]
    return None  # "!=1.2": not meaningful for a partial version
