"""Charts from HTTP(S) Helm repositories, handed out as the same immutable snapshots as Git.

::

    charts = HelmRepoCache(Path("/var/cache/clew/helm"), interval=300)
    source = ChartSource("https://charts.example", "podinfo", "^6.0", HttpAuth("me", "pw"))
    snapshot = await charts.fetch(source)   # the chart's directory, dependencies in charts/

Sharing and caching, under ``root``, shared by every Application and process using it::

    index/<key>.yaml       a repository's index.yaml; <key> hashes the URL and the credentials
    archives/<sha256>.tgz  chart archives by content, verified against the index's digest
    snapshots/, meta/ ...  extracted charts (:class:`clew.source.store.SnapshotStore`)

The index is downloaded at most once per ``interval`` per repository and credentials (the file's
mtime says when, so processes share it too), however many Applications name it; concurrent
callers share one download. An archive is verified against the index's ``digest`` when it is
downloaded and again when it is used from the disk.

Dependencies: each one in Chart.yaml (or requirements.yaml) with an ``https://`` repository that
is not vendored in ``charts/`` is resolved from that repository's index (its version range picks
the highest match), verified the same way, and placed in ``charts/`` before the snapshot is
sealed; one from ``oci://`` is pulled from the registry (the highest tag in range); the source's
credentials are sent only to the source's own repository. A snapshot's
``revision`` is ``<version>@sha256:<archive digest>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clew.model import CommitInfo, Snapshot
from clew.source import http
from clew.source.archive import extract
from clew.source.cache import _shared
from clew.source.errors import SourceError
from clew.source.git import redact_url
from clew.source.helmindex import ChartVersion, Index, archive_url
from clew.source.http import HttpAuth
from clew.source.store import SnapshotStore, remove_tree
from clew.source.tree import check_path, relative_path

__all__ = ["ChartSource", "DigestMismatch", "HelmRepoCache", "extract_chart"]

MAX_INDEX_BYTES = 64 << 20  # bitnami's index is ~20 MiB
MAX_CHART_BYTES = 32 << 20
DEFAULT_INTERVAL = 300.0
DEFAULT_MAX_BYTES = 2 << 30


OciArchive = Callable[[str, str, HttpAuth | None], Awaitable[tuple[str, bytes]]]
"""(chart URL, version range, credentials) -> (tag, chart archive), for ``oci://`` dependencies."""


class DigestMismatch(SourceError):
    """An archive's sha256 is not the one its index (or manifest) names."""

    retryable = False


@dataclass(frozen=True)
class ChartSource:
    """A chart in a Helm repository: ``version`` is exact or a semver range."""

    repo_url: str
    chart: str
    version: str = "*"
    auth: HttpAuth | None = None


def _key(url: str, auth: HttpAuth | None) -> str:
    """Per URL *and* credentials: an index read with one tenant's password is not handed to
    another tenant without it."""
    digest = hashlib.sha256(url.encode())
    if auth is not None:
        digest.update(repr((auth.username, auth.password, auth.token, auth.ca_pem)).encode())
    return digest.hexdigest()[:32]


class HelmRepoCache:
    def __init__(
        self,
        root: Path,
        *,
        interval: float = DEFAULT_INTERVAL,
        timeout: float = http.DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
        oci_archive: OciArchive | None = None,
    ) -> None:
        self.root = Path(root)
        self.interval = interval
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._clock = clock
        self._oci_archive = oci_archive  # clew.source.oci.chart_archive: oci:// dependencies
        (self.root / "index").mkdir(parents=True, exist_ok=True)
        (self.root / "archives").mkdir(parents=True, exist_ok=True)
        self._store = SnapshotStore(self.root)
        self._indexes: dict[str, tuple[float, Index]] = {}
        self._tasks: dict[Any, asyncio.Task[Any]] = {}
        self.index_downloads = 0  # for tests and metrics: real index.yaml GETs by this cache

    # -- public ------------------------------------------------------------------------------

    async def index(
        self, url: str, auth: HttpAuth | None, *, max_age: float | None = None
    ) -> Index:
        """The repository's index, downloaded only when the copy is older than ``max_age``
        (default: the cache's interval)."""
        url = url.rstrip("/")
        key = _key(url, auth)
        age = self.interval if max_age is None else max_age
        now = self._clock()
        held = self._indexes.get(key)
        if held is not None and now - held[0] < age:
            return held[1]
        path = self.root / "index" / f"{key}.yaml"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime is not None and now - mtime < age:
            parsed = await asyncio.to_thread(_parse_file, path, url)
            self._indexes[key] = (mtime, parsed)
            return parsed
        return await _shared(
            self._tasks, ("index", key), lambda: self._download_index(url, auth, key)
        )

    async def resolve(self, source: ChartSource, *, max_age: float | None = None) -> ChartVersion:
        """The chart version ``source.version`` names now."""
        index = await self.index(source.repo_url, source.auth, max_age=max_age)
        return index.select(source.chart, source.version)

    async def fetch(
        self, source: ChartSource, path: str = ".", *, max_age: float | None = None
    ) -> Snapshot:
        """The chart's directory as a snapshot (``root`` is the chart, with its Chart.yaml)."""
        relative_path(path)
        entry = await self.resolve(source, max_age=max_age)
        archive = await self.archive(source.repo_url, entry, source.auth)
        digest = hashlib.sha256(archive).hexdigest()
        sha = f"helm-{digest}"
        async with self._store.lock(sha):
            stored = self._store.load(sha)
            if stored is None:
                stored = await self._install(sha, archive, entry, source)
        self._store.touch(sha)
        await asyncio.to_thread(self._store.evict, self.max_bytes, keep={sha})
        return Snapshot(
            root=stored.root,
            path=check_path(stored.root, path),
            source=f"{redact_url(source.repo_url.rstrip('/'))}/{source.chart}",
            ref=source.version,
            revision=f"{entry.version}@sha256:{digest}",
            digest=stored.digest,
        )

    async def archive(self, repo_url: str, entry: ChartVersion, auth: HttpAuth | None) -> bytes:
        """The entry's archive, from the disk when its digest is known and present, verified."""
        if entry.digest:
            cached = self.root / "archives" / f"{entry.digest}.tgz"
            try:
                data = await asyncio.to_thread(cached.read_bytes)
            except OSError:
                pass
            else:
                if hashlib.sha256(data).hexdigest() == entry.digest:
                    return data
        url = archive_url(repo_url.rstrip("/"), entry)
        same_repo = url.startswith(repo_url.rstrip("/") + "/")
        key = ("archive", url, entry.digest)
        return await _shared(
            self._tasks,
            key,
            lambda: self._download_archive(url, entry, auth if same_repo else _ca_only(auth)),
        )

    # -- downloads ---------------------------------------------------------------------------

    async def _download_index(self, url: str, auth: HttpAuth | None, key: str) -> Index:
        response = await asyncio.to_thread(
            http.request,
            f"{url}/index.yaml",
            auth,
            max_bytes=MAX_INDEX_BYTES,
            timeout=self.timeout,
            what="Helm repository index",
        )
        self.index_downloads += 1
        parsed = await asyncio.to_thread(
            Index.parse, response.body, f"{redact_url(url)}/index.yaml"
        )
        path = self.root / "index" / f"{key}.yaml"
        _write_atomic(path, response.body)
        self._indexes[key] = (self._clock(), parsed)
        return parsed

    async def _download_archive(
        self, url: str, entry: ChartVersion, auth: HttpAuth | None
    ) -> bytes:
        response = await asyncio.to_thread(
            http.request,
            url,
            auth,
            max_bytes=MAX_CHART_BYTES,
            timeout=self.timeout,
            what=f"chart {entry.name} {entry.version}",
        )
        actual = hashlib.sha256(response.body).hexdigest()
        if entry.digest and actual != entry.digest:
            raise DigestMismatch(
                f"chart {entry.name} {entry.version} from {redact_url(url)} has digest "
                f"sha256:{actual}, the index says sha256:{entry.digest}",
                hint="the archive changed after it was indexed, or was altered in transit",
            )
        _write_atomic(self.root / "archives" / f"{actual}.tgz", response.body)
        return response.body

    async def _install(
        self, sha: str, archive: bytes, entry: ChartVersion, source: ChartSource
    ) -> Any:
        work = self._store.work_dir(sha)
        try:
            chart = await asyncio.to_thread(extract_chart, archive, work / "unpacked", entry.name)
            await self._vendor_dependencies(chart, source)
            info = CommitInfo(
                sha=sha, author="", email="", subject=f"{entry.name} {entry.version}", time=""
            )
            tree = work / "tree"
            chart.rename(tree)
            return await asyncio.to_thread(self._store.install, sha, tree, b"", info)
        finally:
            await asyncio.to_thread(remove_tree, work)

    async def _vendor_dependencies(self, chart: Path, source: ChartSource) -> None:
        repos = {source.repo_url.rstrip("/"): source.auth}
        for dep, data in await self._dependencies(chart, repos, _ca_only(source.auth)):
            (chart / "charts").mkdir(exist_ok=True)
            (chart / "charts" / f"{dep.name}-{dep.version}.tgz").write_bytes(data)

    async def _dependencies(
        self, chart: Path, repos: Mapping[str, HttpAuth | None], fallback: HttpAuth | None
    ) -> list[tuple[ChartVersion, bytes]]:
        """Each dependency of ``chart`` that is missing from ``charts/`` and lives in an HTTP(S)
        repository or (given ``oci_archive``) a registry, resolved and downloaded: ``repos`` (URL
        -> credentials) are the configured repositories; any other is read with ``fallback`` (no
        credentials, at most a CA)."""
        found = []
        for dep in await asyncio.to_thread(_declared_dependencies, chart):
            name = str(dep.get("name") or "")
            repo = str(dep.get("repository") or "").rstrip("/")
            oci = repo.startswith("oci://") and self._oci_archive is not None
            if not name or not (oci or repo.startswith(("https://", "http://"))):
                continue  # vendored (file://, empty) or an @alias: helm checks charts/ itself
            if _vendored(chart / "charts", name):
                continue
            auth = repos.get(repo, fallback)
            if oci and self._oci_archive is not None:
                tag, data = await self._oci_archive(
                    f"{repo}/{name}", str(dep.get("version") or ""), auth
                )
                found.append((ChartVersion(name, tag.replace("_", "+"), ()), data))
                continue
            index = await self.index(repo, auth)
            entry = index.select(name, str(dep.get("version") or "*"))
            found.append((entry, await self.archive(repo, entry, auth)))
        return found

    async def with_dependencies(
        self,
        snapshot: Snapshot,
        repos: Mapping[str, HttpAuth | None] | None = None,
        fallback: HttpAuth | None = None,
    ) -> Snapshot:
        """``snapshot`` itself, or, when its path is a chart with dependencies to download, a
        new snapshot: the same tree (hard links) with them in the chart's ``charts/``. Keyed by
        the tree's digest and every dependency's digest, so a new dependency release makes a
        new snapshot and an unchanged one costs nothing."""
        chart = snapshot.path
        if not (chart / "Chart.yaml").is_file():
            return snapshot
        repos = {url.rstrip("/"): auth for url, auth in (repos or {}).items()}
        deps = await self._dependencies(chart, repos, fallback)
        if not deps:
            return snapshot
        rel = snapshot.path.relative_to(snapshot.root).as_posix()
        key = hashlib.sha256(f"{snapshot.digest}\0{rel}".encode())
        for entry, data in deps:
            key.update(f"\0{entry.name}-{entry.version}\0".encode() + hashlib.sha256(data).digest())
        sha = f"deps-{key.hexdigest()}"
        async with self._store.lock(sha):
            stored = self._store.load(sha)
            if stored is None:
                work = self._store.work_dir(sha)
                try:
                    tree = work / "tree"
                    await asyncio.to_thread(_link_tree, snapshot.root, tree)
                    charts = tree / rel / "charts"
                    charts.mkdir(exist_ok=True)
                    for entry, data in deps:
                        (charts / f"{entry.name}-{entry.version}.tgz").write_bytes(data)
                    info = snapshot.commit or CommitInfo(
                        sha=sha, author="", email="", subject="", time=""
                    )
                    stored = await asyncio.to_thread(self._store.install, sha, tree, b"", info)
                finally:
                    await asyncio.to_thread(remove_tree, work)
        self._store.touch(sha)
        await asyncio.to_thread(self._store.evict, self.max_bytes, keep={sha})
        return Snapshot(
            root=stored.root,
            path=stored.root / rel,
            source=snapshot.source,
            ref=snapshot.ref,
            revision=snapshot.revision,
            digest=stored.digest,
            commit=snapshot.commit,
        )


def _link_tree(src: Path, dest: Path) -> None:
    """A writable copy of a read-only tree: hard links where the file system allows (files are
    never written through them), else copies."""

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dest, symlinks=True, copy_function=link)
    for directory, _, _ in os.walk(dest):
        os.chmod(directory, 0o700)  # sealed read-only by the store's install


def _ca_only(auth: HttpAuth | None) -> HttpAuth | None:
    return HttpAuth(ca_pem=auth.ca_pem) if auth is not None and auth.ca_pem else None


def _parse_file(path: Path, url: str) -> Index:
    return Index.parse(path.read_bytes(), f"{redact_url(url)}/index.yaml")


def _declared_dependencies(chart: Path) -> list[dict[str, Any]]:
    deps: Any = None
    for name in ("Chart.yaml", "requirements.yaml"):
        file = chart / name
        if deps is None and file.is_file():
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
            deps = data.get("dependencies") if isinstance(data, dict) else None
    return [d for d in deps if isinstance(d, dict)] if isinstance(deps, list) else []


def _vendored(charts: Path, name: str) -> bool:
    if not charts.is_dir():
        return False
    for entry in charts.iterdir():
        if entry.name == name or (
            entry.name.startswith(f"{name}-") and entry.name.endswith(".tgz")
        ):
            return True
    return False


def extract_chart(archive: bytes, dest: Path, name: str) -> Path:
    """Unpack a chart archive into ``dest`` and return the chart's directory."""
    extract(archive, dest, f"chart {name}")
    tops = [p for p in dest.iterdir() if p.is_dir() and (p / "Chart.yaml").is_file()]
    if len(tops) != 1:
        raise SourceError(
            f"chart {name}: the archive holds no single chart directory with a Chart.yaml"
        )
    return tops[0]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
