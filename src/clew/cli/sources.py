"""Where ``clew apply``, ``diff`` and ``render`` take their source from: a local directory, a Git
repository (``--repo``), an OCI artifact (``--repo oci://HOST/REPO [--version TAG|RANGE|DIGEST]``,
as ``flux push artifact`` or ``clew push artifact`` made it), or a chart in a Helm repository or
registry (``--helm-repo https://…|oci://… --chart NAME [--version RANGE]``), with the credentials
of the flags.

A chart's dependencies that are not vendored are downloaded before rendering: from
``--helm-repo`` with its credentials when they live there, from any other repository without
credentials. Caches live under clew's cache directory (``sources/``, ``helm/``), so a second run
downloads nothing that did not change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clew import source
from clew.cli.local_source import as_directory
from clew.cli.paths import cache_dir
from clew.model import ClewError, Snapshot

if TYPE_CHECKING:
    from clew import engine, render
    from clew.source.http import HttpAuth

__all__ = ["Charts", "LocalFetch", "RenderFlags", "credentials", "fetcher", "http_auth", "prepare"]


@dataclass(frozen=True)
class Charts:
    """The Helm flags: ``--helm-repo``, ``--chart``, ``--version``, ``--ca-file``."""

    repo: str | None = None
    chart: str | None = None
    version: str | None = None
    ca_file: Path | None = None


@dataclass(frozen=True)
class RenderFlags:
    """The render flags ``clew apply``, ``diff`` and ``render`` share."""

    namespace: str
    values: list[str] | None
    max_render_bytes: int
    max_objects: int
    age_key_file: Path | None = None
    substitute: list[str] | None = None
    jsonnet_tla: list[str] | None = None
    jsonnet_ext_var: list[str] | None = None
    release_name: str | None = None


@dataclass(frozen=True)
class LocalFetch:
    """The fetch of a local directory; :meth:`now` takes it without an event loop."""

    directory: Path
    path: str
    chart_repo: str | None = None
    auth: HttpAuth | None = None

    def now(self) -> Snapshot | None:
        """The snapshot, when nothing has to be downloaded for it (no chart to complete with
        its dependencies); None otherwise: await the fetch."""
        snapshot = source.local(self.directory, self.path)
        return None if (snapshot.path / "Chart.yaml").is_file() else snapshot

    async def __call__(self) -> Snapshot:
        snapshot = source.local(self.directory, self.path)
        return await _dependencies(snapshot, self.chart_repo, self.auth)


def prepare(
    src: Path | None,
    repo: str | None,
    ref: str,
    path: str,
    *,
    login: tuple[str | None, str, Path | None, Path | None],
    charts: Charts,
    flags: RenderFlags,
) -> tuple[engine.FetchSnapshot, render.RenderOptions]:
    """The fetch of the source the flags name and the render options with their inputs, as the
    three commands build them; ``login`` is --username, --password-env, --ssh-key,
    --known-hosts. Bad flags raise :class:`ClewError` (or ``OSError`` for unreadable files)."""
    from clew.cli.render_inputs import render_options, with_inputs

    fetch = fetcher(src, repo, ref, path, credentials(*login), charts)
    options = with_inputs(
        render_options(flags.namespace, flags.values, flags.max_render_bytes, flags.max_objects),
        age_key_file=flags.age_key_file,
        substitute=flags.substitute,
        jsonnet_tla=flags.jsonnet_tla,
        jsonnet_ext_var=flags.jsonnet_ext_var,
        release_name=flags.release_name,
    )
    return fetch, options


def credentials(
    username: str | None, password_env: str, ssh_key: Path | None, known_hosts: Path | None
) -> source.Credentials | None:
    if not (username or ssh_key or known_hosts):
        return None
    password = os.environ.get(password_env, "") if username else ""
    if username and not password:
        raise ClewError(
            f"--username given but ${password_env} is empty",
            hint=f"export {password_env}=<password or token>",
        )
    return source.Credentials(
        username=username or "",
        password=password,
        ssh_private_key=ssh_key.read_text() if ssh_key else "",
        known_hosts=known_hosts.read_text() if known_hosts else "",
    )


def http_auth(creds: source.Credentials | None, ca_file: Path | None) -> HttpAuth | None:
    """The HTTPS login of --username/--password-env and --ca-file, for charts and registries."""
    ca = ca_file.read_text() if ca_file else None
    if creds is None and ca is None:
        return None
    from clew.source.http import HttpAuth  # here: a local render needs no HTTP client

    user = creds.username if creds is not None else None
    password = creds.password if creds is not None else None
    return HttpAuth(username=user or None, password=password or None, ca_pem=ca)


def fetcher(
    src: Path | None,
    repo: str | None,
    ref: str,
    path: str,
    creds: source.Credentials | None,
    charts: Charts = Charts(),
) -> engine.FetchSnapshot:
    """The fetch of the one source the flags name; a usage error names the forms."""
    chart = charts.chart
    if chart and not charts.repo:
        raise ClewError("--chart needs --helm-repo", hint="clew apply --helm-repo URL --chart NAME")
    if sum(x is not None for x in (src, repo, chart)) != 1:
        raise ClewError(
            "give one source: a local directory, --repo, or --helm-repo with --chart",
            hint="clew apply ./manifests  or  clew apply --repo URL --ref main --path apps  or  "
            "clew apply --helm-repo URL --chart NAME --version '^1.2'",
        )
    oci = repo is not None and repo.startswith("oci://")
    if charts.version and not (chart or oci):
        raise ClewError(
            "--version is a chart's version or an OCI tag: it needs --chart or --repo oci://…"
            " (Git uses --ref)"
        )
    if oci and ref != "main":  # main: the flag's default, meaningless for a registry
        raise ClewError(
            "an OCI artifact has tags, not Git refs: use --version", hint=f"--version {ref}"
        )
    auth = http_auth(creds, charts.ca_file)
    if chart or oci:
        return _artifact(repo if oci else None, path, charts, auth)
    if src is not None:
        return LocalFetch(as_directory(src), path, charts.repo, auth)
    assert repo is not None
    cache = source.SnapshotCache(cache_dir() / "sources")
    git = source.GitSource(url=repo, ref=ref, credentials=creds)

    async def from_git() -> Snapshot:
        return await _dependencies(await cache.fetch(git, path), charts.repo, auth)

    return from_git


def _artifact(
    artifact: str | None, path: str, charts: Charts, auth: HttpAuth | None
) -> engine.FetchSnapshot:
    """A chart (Helm repository or registry) or an OCI artifact. Imported here: ``clew apply``
    of a directory never loads the HTTP and registry clients."""
    from clew.source.helmrepo import ChartSource, HelmRepoCache
    from clew.source.oci import OciCache, OciSource

    version, repo = charts.version or "", (charts.repo or "").rstrip("/")
    oci = OciCache(cache_dir() / "oci")
    if artifact is not None:
        wanted = OciSource(artifact, version, auth)

        async def from_artifact() -> Snapshot:
            return await oci.fetch(wanted, path)

        return from_artifact
    if repo.startswith("oci://"):
        pushed = OciSource(f"{repo}/{charts.chart}", version, auth)

        async def from_oci_chart() -> Snapshot:
            return await oci.fetch_chart(pushed, path)

        return from_oci_chart
    helm = HelmRepoCache(cache_dir() / "helm")
    chart = ChartSource(repo, charts.chart or "", version, auth)

    async def from_chart() -> Snapshot:
        return await helm.fetch(chart, path, max_age=0)  # a CLI run reads the index anew

    return from_chart


async def _dependencies(snapshot: Snapshot, repo: str | None, auth: HttpAuth | None) -> Snapshot:
    """A chart's non-vendored dependencies downloaded (:meth:`HelmRepoCache.with_dependencies`):
    from ``repo`` with ``auth``, from any other repository with the CA alone."""
    if not (snapshot.path / "Chart.yaml").is_file():
        return snapshot
    from clew.source.helmrepo import HelmRepoCache
    from clew.source.http import HttpAuth
    from clew.source.oci import chart_archive

    helm = HelmRepoCache(cache_dir() / "helm", oci_archive=chart_archive)
    fallback = HttpAuth(ca_pem=auth.ca_pem) if auth is not None and auth.ca_pem else None
    return await helm.with_dependencies(snapshot, {repo: auth} if repo else {}, fallback)
