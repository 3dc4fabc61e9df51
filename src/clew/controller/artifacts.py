"""An Application's artifact sources: charts from Helm repositories, their dependencies, and Helm
values from ConfigMaps and Secrets, read from the Application's namespace.

Secret keys follow Flux's HelmRepository conventions: ``username``/``password`` (HTTP Basic),
``token`` (a bearer token), ``ca.crt`` (or the older ``caFile``) for a private CA. Values never
leave this module except inside :class:`clew.source.http.HttpAuth`, whose ``repr`` masks them.

The chart cache (:class:`clew.source.helmrepo.HelmRepoCache`) is one per snapshot cache root, so
every Application of a controller shares index downloads and archives.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from clew.cluster import Cluster, NotFound
from clew.controller.credentials import _secret
from clew.controller.spec import AppSpec, HelmSpec
from clew.model import ClewError, Snapshot, SourceError
from clew.source import SnapshotCache
from clew.source.helmrepo import ChartSource, HelmRepoCache
from clew.source.http import HttpAuth

__all__ = [
    "chart_cache",
    "chart_fetcher",
    "helm_auth",
    "helm_values",
    "merge_values",
    "with_dependencies",
]

_caches: dict[Path, HelmRepoCache] = {}


def chart_cache(snapshots: SnapshotCache) -> HelmRepoCache:
    """The chart cache beside ``snapshots`` (``<root>-helm``), one per process and root."""
    root = snapshots.root.with_name(snapshots.root.name + "-helm")
    if root not in _caches:
        _caches[root] = HelmRepoCache(root, max_bytes=snapshots.max_bytes)
    return _caches[root]


async def helm_auth(cluster: Cluster, namespace: str, name: str | None) -> HttpAuth | None:
    if not name:
        return None
    data = await _secret(cluster, namespace, name)
    return HttpAuth(
        username=data.get("username"),
        password=data.get("password"),
        token=data.get("token"),
        ca_pem=data.get("ca.crt") or data.get("caFile"),
    )


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of two values documents: maps merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_values(out[key], value)
        else:
            out[key] = value
    return out


async def helm_values(cluster: Cluster, namespace: str, helm: HelmSpec) -> dict[str, Any]:
    """``valuesFrom`` in order, then the inline ``values`` on top (what helm receives after the
    values files). A missing object or key fails, unless marked optional."""
    merged: dict[str, Any] = {}
    for ref in helm.values_from:
        where = f"{ref.kind} {namespace}/{ref.name}"
        try:
            obj = await cluster.get("v1", ref.kind, ref.name, namespace)
        except NotFound:
            if ref.optional:
                continue
            raise SourceError(
                f"render.helm.valuesFrom: {where} not found",
                hint="create it, or mark the reference optional",
            ) from None
        if ref.kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        else:
            data = dict(obj.get("data") or {})
        if ref.key not in data:
            if ref.optional:
                continue
            raise SourceError(
                f"render.helm.valuesFrom: {where} has no key {ref.key!r}",
                hint="set valuesKey to the key that holds the values",
            )
        try:
            doc = yaml.safe_load(data[ref.key]) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" (line {mark.line + 1})" if mark is not None else ""
            raise SourceError(
                f"render.helm.valuesFrom: {where} key {ref.key!r} is not YAML{line}"
            ) from None
        if not isinstance(doc, Mapping):
            raise SourceError(f"render.helm.valuesFrom: {where} key {ref.key!r} is not a mapping")
        merged = merge_values(merged, doc)
    return merge_values(merged, helm.values)


async def with_dependencies(
    cluster: Cluster, spec: AppSpec, charts: HelmRepoCache, snapshot: Snapshot
) -> Snapshot:
    """The snapshot with the chart's missing dependencies downloaded from the configured
    repositories (``render.helm.repositories``; any other repository anonymously)."""
    if spec.render.kind.value not in ("auto", "helm"):
        return snapshot
    repos: dict[str, HttpAuth | None] = {}
    for repo in spec.render.helm.repositories:
        repos[repo.url] = await helm_auth(cluster, spec.key.namespace, repo.secret_name)
    return await charts.with_dependencies(snapshot, repos)


def chart_fetcher(
    cluster: Cluster,
    spec: AppSpec,
    charts: HelmRepoCache,
    *,
    revision: str = "",
    observe: Callable[[str, float], None] | None = None,
) -> Callable[[], Awaitable[Snapshot]]:
    """Fetch the Application's chart: ``revision`` (``<version>@sha256:…``, what was applied)
    when given, else the version its spec names now; the index is read at most once per
    ``spec.interval``."""
    source_spec = spec.source

    async def fetch() -> Snapshot:
        auth = await helm_auth(cluster, spec.key.namespace, source_spec.secret_name)
        version = revision.split("@", 1)[0] if revision else source_spec.version
        chart = ChartSource(source_spec.repo_url, source_spec.chart or "", version, auth)
        started = time.monotonic()
        try:
            snapshot = await charts.fetch(chart, source_spec.path, max_age=spec.interval)
        except ClewError:
            if observe is not None:
                observe("failed", started)
            raise
        if observe is not None:
            observe("succeeded", started)
        return snapshot

    return fetch
