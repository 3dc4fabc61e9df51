"""An Application's artifact sources: charts from Helm repositories and OCI registries, their
dependencies, OCI artifacts, and Helm values from ConfigMaps and Secrets, read from the
Application's namespace.

Secret keys follow Flux's HelmRepository and OCIRepository conventions: ``username``/``password``
(HTTP Basic), ``token`` (a bearer token), ``ca.crt`` (or the older ``caFile``) for a private CA,
and ``.dockerconfigjson`` (a ``kubernetes.io/dockerconfigjson`` Secret) for registries. Values
never leave this module except inside :class:`clew.source.http.HttpAuth`, whose ``repr`` masks
them.

The caches (:class:`clew.source.helmrepo.HelmRepoCache`, :class:`clew.source.oci.OciCache`) are
one per snapshot cache root, so every Application of a controller shares index downloads,
archives and artifacts.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from clew.cluster import Cluster, ClusterError, NotFound
from clew.controller.api.spec import AppSpec, HelmSpec
from clew.controller.reconcile.credentials import _secret
from clew.model import ClewError, Snapshot, SourceError
from clew.source import SnapshotCache, oci
from clew.source.helmrepo import ChartSource, HelmRepoCache
from clew.source.http import HttpAuth
from clew.source.oci import OciCache, OciSource
from clew.source.ociclient import OciRef, auth_from_docker_config

__all__ = [
    "chart_cache",
    "helm_auth",
    "helm_values",
    "merge_values",
    "with_dependencies",
]

_caches: dict[Path, HelmRepoCache] = {}
_oci_caches: dict[Path, OciCache] = {}


def _version(wanted: str, revision: str, oci: bool) -> str:
    """What to fetch: the applied revision (``<version>@sha256:…``: delete hooks render what was
    applied), else what the spec names. From a registry the digest is exact."""
    if revision:
        tag, _, digest = revision.partition("@")
        return digest if oci and digest else tag
    return wanted


def chart_cache(snapshots: SnapshotCache) -> HelmRepoCache:
    """The chart cache inside ``snapshots``' directory (``<root>/helm``: the volume the
    controller was given), one per process and root."""
    root = snapshots.root / "helm"
    if root not in _caches:
        _caches[root] = HelmRepoCache(
            root, max_bytes=snapshots.max_bytes, oci_archive=oci.chart_archive
        )
    return _caches[root]


def oci_cache(snapshots: SnapshotCache) -> OciCache:
    """The OCI artifact cache inside ``snapshots``' directory (``<root>/oci``), one per process
    and root."""
    root = snapshots.root / "oci"
    if root not in _oci_caches:
        _oci_caches[root] = OciCache(root, max_bytes=snapshots.max_bytes)
    return _oci_caches[root]


async def helm_auth(
    cluster: Cluster, namespace: str, name: str | None, *, url: str = ""
) -> HttpAuth | None:
    """The credentials of Secret ``name``; for an ``oci://`` ``url``, a ``.dockerconfigjson``
    entry for its host wins over ``username``/``password``."""
    if not name:
        return None
    data = await _secret(cluster, namespace, name)
    ca = data.get("ca.crt") or data.get("caFile")
    if url.startswith("oci://") and data.get(".dockerconfigjson"):
        host = OciRef.parse(url).host
        found = auth_from_docker_config(data[".dockerconfigjson"], host, ca)
        if found is not None:
            return found
    return HttpAuth(
        username=data.get("username"),
        password=data.get("password"),
        token=data.get("token"),
        ca_pem=ca,
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
        except ClusterError as exc:  # forbidden, unreachable: a failed fetch, never a crash
            raise SourceError(f"render.helm.valuesFrom: {where} cannot be read: {exc}") from None
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


def artifact_fetcher(
    cluster: Cluster,
    spec: AppSpec,
    snapshots: SnapshotCache,
    *,
    revision: str = "",
    observe: Callable[[str, float], None] | None = None,
) -> Callable[[], Awaitable[Snapshot]]:
    """Fetch the Application's chart (Helm repository or ``oci://``) or OCI artifact:
    ``revision`` (``<version>@sha256:…``, what was applied) when given, else the version its
    spec names now. A Helm repository's index is read at most once per ``spec.interval``."""
    source_spec = spec.source
    charts, registry = chart_cache(snapshots), oci_cache(snapshots)

    async def get(auth: HttpAuth | None) -> Snapshot:
        url, path = source_spec.repo_url, source_spec.path
        version = _version(source_spec.version, revision, url.startswith("oci://"))
        if source_spec.kind == "oci":
            return await registry.fetch(OciSource(url, version, auth), path)
        name = source_spec.chart or ""
        if url.startswith("oci://"):
            chart_url = f"{url.rstrip('/')}/{name}"
            return await registry.fetch_chart(OciSource(chart_url, version, auth), path)
        chart = ChartSource(url, name, version, auth)
        return await charts.fetch(chart, path, max_age=spec.interval)

    async def fetch() -> Snapshot:
        auth = await helm_auth(
            cluster, spec.key.namespace, source_spec.secret_name, url=source_spec.repo_url
        )
        started = time.monotonic()
        try:
            snapshot = await get(auth)
        except ClewError:
            if observe is not None:
                observe("failed", started)
            raise
        if observe is not None:
            observe("succeeded", started)
        return snapshot

    return fetch
