"""Pure Helm repository index logic: parse ``index.yaml``, pick a chart version, locate its archive.

A version spec is resolved like a Git ref's semver range (:mod:`clew.source.semver`): an exact
version (``1.2.3``, ``v`` optional) is taken as written, anything else is a range and the highest
version satisfying it wins; an empty spec or ``*`` means the newest release (pre-releases only
when the range names one, as helm and npm do). A chart or version that is not there is
:class:`RefNotFound`, with the nearest names so the message says what is there.
"""

from __future__ import annotations

import difflib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from clew.source.errors import RefNotFound, SourceError
from clew.source.semver import Range, Version

__all__ = ["ChartVersion", "Index", "InvalidIndex", "archive_url"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InvalidIndex(SourceError):
    """The repository's index.yaml is not a Helm repository index."""

    retryable = False


@dataclass(frozen=True)
class ChartVersion:
    """One entry of the index. ``digest`` is the sha256 hex of the archive (may be empty: old
    indexes lack it, and then the archive cannot be verified against the index)."""

    name: str
    version: str
    urls: tuple[str, ...]
    digest: str = ""
    dependencies: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Index:
    """Chart name -> its versions, as the repository lists them."""

    entries: Mapping[str, tuple[ChartVersion, ...]]

    @classmethod
    def parse(cls, text: bytes | str, where: str = "index.yaml") -> Index:
        try:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise InvalidIndex(f"{where} is not YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise InvalidIndex(
                f"{where} has no 'entries' mapping", hint="is the URL a Helm chart repository?"
            )
        entries: dict[str, tuple[ChartVersion, ...]] = {}
        for name, versions in data["entries"].items():
            if not isinstance(versions, list):
                continue
            entries[str(name)] = tuple(
                _entry(str(name), item) for item in versions if isinstance(item, dict)
            )
        return cls(entries)

    def select(self, chart: str, spec: str) -> ChartVersion:
        """The version of ``chart`` that ``spec`` names (see the module's docstring)."""
        versions = self.entries.get(chart)
        if not versions:
            nearby = tuple(difflib.get_close_matches(chart, list(self.entries), n=5, cutoff=0.5))
            hint = "check the chart name"
            if nearby:
                hint += "; did you mean " + ", ".join(nearby) + "?"
            raise RefNotFound(f"chart {chart!r} is not in the repository", hint=hint, nearby=nearby)
        spec = spec.strip() or "*"
        exact = Version.parse(spec)
        if exact is not None:
            for entry in versions:
                if Version.parse(entry.version) == exact:
                    return entry
            raise _no_version(chart, spec, versions)
        wanted = Range.parse(spec)
        if wanted is None:
            raise RefNotFound(
                f"{spec!r} is neither a version nor a semver range",
                hint="give a version (1.2.3) or a range (^1.2, >=1.0 <2.0, 1.x)",
            )
        matching = [
            (v, e) for e in versions if (v := Version.parse(e.version)) and wanted.matches(v)
        ]
        if not matching:
            raise _no_version(chart, spec, versions)
        return max(matching, key=lambda pair: pair[0])[1]


def _entry(name: str, item: Mapping[str, Any]) -> ChartVersion:
    urls = item.get("urls")
    deps = item.get("dependencies")
    return ChartVersion(
        name=name,
        version=str(item.get("version", "")),
        urls=tuple(str(u) for u in urls) if isinstance(urls, list) else (),
        digest=str(item.get("digest") or "").removeprefix("sha256:").lower(),
        dependencies=tuple(d for d in deps if isinstance(d, dict))
        if isinstance(deps, list)
        else (),
    )


def _no_version(chart: str, spec: str, versions: tuple[ChartVersion, ...]) -> RefNotFound:
    releases = sorted(
        {v for e in versions if (v := Version.parse(e.version)) is not None}, reverse=True
    )
    nearby = tuple(str(v) for v in releases[:5])
    return RefNotFound(
        f"no version of chart {chart!r} satisfies {spec!r}",
        hint="newest versions: " + (", ".join(nearby) or "(none)"),
        nearby=nearby,
    )


def archive_url(repo_url: str, entry: ChartVersion) -> str:
    """The absolute URL of the entry's archive: its first URL, relative ones to the repository
    (``helm repo index`` writes ``podinfo-6.0.0.tgz`` by default)."""
    if not entry.urls:
        raise InvalidIndex(f"chart {entry.name} {entry.version} has no urls in the index")
    base = repo_url if repo_url.endswith("/") else repo_url + "/"
    return urllib.parse.urljoin(base, entry.urls[0])
