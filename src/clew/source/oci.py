"""OCI artifacts as sources: manifests packaged the way ``flux push artifact`` does, and Helm
charts pushed with ``helm push``, handed out as the same immutable snapshots as Git.

::

    oci = OciCache(Path("/var/cache/clew/oci"))
    snapshot = await oci.fetch(OciSource("oci://ghcr.io/team/app", "^1.2", auth), "deploy")
    chart = await oci.fetch_chart(OciSource("oci://ghcr.io/team/charts/podinfo", "6.x", auth))
    digest = await push(OciSource("oci://ghcr.io/team/app", "v1.2.0", auth), Path("deploy"),
                        origin="https://git.example/app", revision="main@sha1:…")

Media types are Flux's (fluxcd/pkg ``oci/constants.go``), so either tool reads the other's
artifacts: config ``application/vnd.cncf.flux.config.v1+json``, one layer
``application/vnd.cncf.flux.content.v1.tar+gzip`` (a tar.gz of the directory), annotations
``org.opencontainers.image.{created,source,revision}``. Charts are Helm's
(``application/vnd.cncf.helm.chart.content.v1.tar+gzip``).

``version`` is a tag, a semver range over the tags (the highest match), or ``sha256:<digest>``;
empty means ``latest``. A snapshot's ``revision`` is ``<tag>@sha256:<manifest digest>``, as Flux
writes it. Blobs are verified against their digests; a snapshot is keyed by the manifest digest,
so a tag moved to new content gives a new snapshot, and a cached one is not downloaded again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clew.model import CommitInfo, Snapshot
from clew.source.archive import extract, pack
from clew.source.errors import RefNotFound, SourceError
from clew.source.helmrepo import extract_chart
from clew.source.http import HttpAuth
from clew.source.ociclient import OCI_MANIFEST, OciRef, RegistryClient
from clew.source.semver import Range, Version
from clew.source.store import SnapshotStore, remove_tree
from clew.source.tree import check_path, relative_path

__all__ = [
    "FLUX_CONFIG",
    "FLUX_CONTENT",
    "HELM_CHART",
    "OciCache",
    "OciSource",
    "chart_archive",
    "pick_tag",
    "push",
]

FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_LAYER_BYTES = 64 << 20


@dataclass(frozen=True)
class OciSource:
    url: str  # oci://host/repository
    version: str = ""  # tag, semver range over tags, or sha256:<digest>; "" is latest
    auth: HttpAuth | None = None


def pick_tag(tags: list[str], spec: str) -> str:
    """The tag ``spec`` names: itself when it exists, else the highest semver tag in range."""
    spec = spec.strip() or "latest"
    if spec in tags:
        return spec
    versions = [(v, t) for t in tags if (v := Version.parse(t.replace("_", "+"))) is not None]
    exact = Version.parse(spec)
    wanted = Range.parse(spec) if exact is None else None
    matching = [
        (v, t)
        for v, t in versions
        if (v == exact if exact is not None else wanted and wanted.matches(v))
    ]
    if matching:
        return max(matching)[1]
    nearby = tuple(t for _, t in sorted(versions, reverse=True)[:5]) or tuple(sorted(tags)[:5])
    raise RefNotFound(
        f"no tag matches {spec!r}",
        hint="tags there: " + (", ".join(nearby) or "(none)"),
        nearby=nearby,
    )


class OciCache:
    def __init__(self, root: Path, *, timeout: float = 60.0, max_bytes: int = 2 << 30) -> None:
        self.root = Path(root)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._store = SnapshotStore(self.root)

    async def resolve(self, source: OciSource) -> tuple[str, str]:
        """(tag or digest, manifest digest) that ``source.version`` names now."""
        ref = OciRef.parse(source.url)
        client = RegistryClient(ref.host, source.auth, timeout=self.timeout)
        wanted = source.version or ref.reference
        return await asyncio.to_thread(_resolve, client, ref, wanted)

    async def fetch(self, source: OciSource, path: str = ".") -> Snapshot:
        """A Flux-style artifact's files as a snapshot; ``path`` is the directory inside."""
        return await self._fetch(source, path, chart=False)

    async def fetch_chart(self, source: OciSource, path: str = ".") -> Snapshot:
        """A chart pushed with ``helm push``: the chart's directory as the snapshot."""
        return await self._fetch(source, path, chart=True)

    async def _fetch(self, source: OciSource, path: str, *, chart: bool) -> Snapshot:
        relative_path(path)
        ref = OciRef.parse(source.url)
        client = RegistryClient(ref.host, source.auth, timeout=self.timeout)
        wanted = source.version or ref.reference
        tag, digest = await asyncio.to_thread(_resolve, client, ref, wanted)
        sha = "oci-" + digest.removeprefix("sha256:")
        async with self._store.lock(sha):
            stored = self._store.load(sha)
            if stored is None:
                stored = await self._install(client, ref, tag, digest, sha, chart=chart)
        self._store.touch(sha)
        await asyncio.to_thread(self._store.evict, self.max_bytes, keep={sha})
        return Snapshot(
            root=stored.root,
            path=check_path(stored.root, path),
            source=str(ref),
            ref=wanted or "latest",
            revision=digest if tag == digest else f"{tag}@{digest}",
            digest=stored.digest,
        )

    async def _install(
        self, client: RegistryClient, ref: OciRef, tag: str, digest: str, sha: str, *, chart: bool
    ) -> Any:
        manifest, data = await asyncio.to_thread(_layer, client, ref, tag, digest, chart=chart)
        work = self._store.work_dir(sha)
        try:
            if chart:
                tree = await asyncio.to_thread(
                    extract_chart, data, work / "unpacked", ref.repository
                )
            else:
                tree = work / "tree"
                await asyncio.to_thread(extract, data, tree, f"{ref}:{tag}")
            annotations = manifest.get("annotations") or {}
            info = CommitInfo(
                sha=sha,
                author="",
                email="",
                subject=str(annotations.get("org.opencontainers.image.revision") or tag),
                time=str(annotations.get("org.opencontainers.image.created") or ""),
            )
            return await asyncio.to_thread(self._store.install, sha, tree, b"", info)
        finally:
            await asyncio.to_thread(remove_tree, work)


async def push(
    source: OciSource,
    directory: Path,
    *,
    origin: str = "",
    revision: str = "",
    timeout: float = 60.0,
) -> str:
    """Push ``directory`` as a Flux artifact tagged ``source.version`` (or the URL's tag);
    returns the manifest's digest."""
    ref = OciRef.parse(source.url)
    tag = source.version or ref.reference or "latest"
    if tag.startswith("sha256:"):
        raise SourceError("push needs a tag, not a digest")
    client = RegistryClient(ref.host, source.auth, timeout=timeout)
    layer = await asyncio.to_thread(pack, directory)
    return await asyncio.to_thread(_push, client, ref.repository, tag, layer, origin, revision)


async def chart_archive(
    url: str, version: str, auth: HttpAuth | None, *, timeout: float = 60.0
) -> tuple[str, bytes]:
    """(tag, archive) of the chart at ``url`` (``oci://host/path/name``) that ``version`` names:
    what a chart's ``oci://`` dependency needs in its ``charts/``."""
    ref = OciRef.parse(url)
    client = RegistryClient(ref.host, auth, timeout=timeout)
    tag, digest = await asyncio.to_thread(_resolve, client, ref, version)
    _, data = await asyncio.to_thread(_layer, client, ref, tag, digest, chart=True)
    return tag, data


def _layer(
    client: RegistryClient, ref: OciRef, tag: str, digest: str, *, chart: bool
) -> tuple[dict[str, Any], bytes]:
    """The manifest, and the content of its chart or Flux content layer (digest verified)."""
    _, manifest = client.manifest(ref.repository, digest)
    wanted = HELM_CHART if chart else FLUX_CONTENT
    layers = [x for x in manifest.get("layers") or [] if isinstance(x, dict)]
    layer = next((x for x in layers if x.get("mediaType") == wanted), None)
    if layer is None:
        kinds = ", ".join(str(x.get("mediaType")) for x in layers) or "none"
        what = "a Helm chart" if chart else "a Flux artifact (flux push artifact)"
        raise SourceError(
            f"{ref}:{tag} is not {what}: its layers are {kinds}",
            hint=f"expected a layer of media type {wanted}",
        )
    if int(layer.get("size") or 0) > MAX_LAYER_BYTES:
        raise SourceError(f"{ref}:{tag}: the layer is larger than {MAX_LAYER_BYTES} bytes")
    data = client.blob(ref.repository, str(layer.get("digest")), max_bytes=MAX_LAYER_BYTES)
    return manifest, data


def _resolve(client: RegistryClient, ref: OciRef, wanted: str) -> tuple[str, str]:
    if wanted.startswith("sha256:"):
        digest, _ = client.manifest(ref.repository, wanted)
        return digest, digest
    tag = wanted if wanted and Range.parse(wanted) is None and Version.parse(wanted) is None else ""
    if not tag:
        tag = pick_tag(client.tags(ref.repository), wanted)
    digest, _ = client.manifest(ref.repository, tag)
    return tag, digest


def _push(
    client: RegistryClient, repository: str, tag: str, layer: bytes, origin: str, revision: str
) -> str:
    config = b"{}"
    annotations = {
        "org.opencontainers.image.created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    }
    if origin:
        annotations["org.opencontainers.image.source"] = origin
    if revision:
        annotations["org.opencontainers.image.revision"] = revision
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": FLUX_CONFIG,
            "digest": client.push_blob(repository, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": FLUX_CONTENT,
                "digest": client.push_blob(repository, layer),
                "size": len(layer),
            }
        ],
        "annotations": annotations,
    }
    return client.push_manifest(repository, tag, manifest)
