"""Writing OCI images byte for byte reproducibly: layers as tars of a directory, the image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/…``) and one tarball of that layout, which
``ctr images import``, ``podman load`` and ``skopeo copy oci-archive:`` read.

Everything that would vary between two builds of the same files is fixed here: entries are
sorted, every mtime is clamped to ``SOURCE_DATE_EPOCH``, owners are numeric with no names, gzip
carries no name or time, and the image config has a fixed ``created`` and no history.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# containerd names an imported image by this annotation; podman and skopeo by the OCI one.
CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Layer:
    """A compressed layer blob: ``digest`` and ``size`` of the gzip, ``diff_id`` and
    ``uncompressed`` of the tar inside it."""

    path: Path
    digest: str
    diff_id: str
    size: int
    uncompressed: int


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes what passes through to ``sink``."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hash.update(view)
        self.sink.write(view)
        self.size += len(view)
        return len(view)


def _entries(root: Path, include: Callable[[str], bool]) -> list[tuple[Path, str]]:
    """(path, name in the archive) for every entry under ``root`` that ``include`` accepts,
    parents before children, in byte order of the names (not the file system's order)."""
    found: list[tuple[Path, str]] = []

    def visit(directory: Path) -> None:
        for name in sorted(os.listdir(directory), key=os.fsencode):
            path = directory / name
            arcname = path.relative_to(root).as_posix()
            if not include(arcname):
                continue
            found.append((path, arcname))
            if path.is_dir() and not path.is_symlink():
                visit(path)

    visit(root)
    return found


def write_layer(
    root: Path, out: Path, epoch: int, include: Callable[[str], bool] = lambda _: True
) -> Layer:
    """Tar the tree under ``root`` (the entries ``include`` accepts) into a gzip layer at ``out``.
    Hard links stay hard links; sockets are left out."""
    with out.open("wb") as raw:
        compressed_hash = _Hashing(raw)
        # Level 6 (gzip's default) is half the time of Python's default 9, 1-2% larger.
        gzipped = gzip.GzipFile(
            filename="", mode="wb", fileobj=compressed_hash, mtime=0, compresslevel=6
        )
        with gzipped as gz:
            plain_hash = _Hashing(gz)  # type: ignore[arg-type]
            with tarfile.open(fileobj=plain_hash, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path, arcname in _entries(root, include):
                    _add(tar, path, arcname, epoch)
    return Layer(
        out,
        "sha256:" + compressed_hash.hash.hexdigest(),
        "sha256:" + plain_hash.hash.hexdigest(),
        compressed_hash.size,
        plain_hash.size,
    )


def _add(tar: tarfile.TarFile, path: Path, arcname: str, epoch: int) -> None:
    mode = path.lstat().st_mode
    if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
        return
    info = tar.gettarinfo(str(path), arcname)
    info.mtime = min(int(info.mtime), epoch)
    info.uname = info.gname = ""
    if info.isreg():
        with path.open("rb") as data:
            tar.addfile(info, data)
    else:
        tar.addfile(info)


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_layout(
    layout: Path, layers: list[Layer], container: dict[str, Any], epoch: int, name: str
) -> str:
    """Write an OCI image layout at ``layout`` (layer blobs are hard-linked in, or copied) and
    return the manifest digest, which names the image."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        target = blobs / layer.digest.removeprefix("sha256:")
        if not target.exists():
            try:
                os.link(layer.path, target)
            except OSError:
                shutil.copyfile(layer.path, target)
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": container,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, **_blob(layout, _canonical(config))},
        "layers": [
            {"mediaType": MEDIA_LAYER, "digest": layer.digest, "size": layer.size}
            for layer in layers
        ],
    }
    described = {"mediaType": MEDIA_MANIFEST, **_blob(layout, _canonical(manifest))}
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                **described,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {CONTAINERD_NAME: name, OCI_REF_NAME: name},
            }
        ],
    }
    (layout / "index.json").write_bytes(_canonical(index))
    (layout / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))
    return str(described["digest"])


def write_archive(layout: Path, out: Path, epoch: int) -> None:
    """One uncompressed tar of the layout (the layers inside are compressed already)."""
    with (
        out.open("wb") as raw,
        tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path, arcname in _entries(layout, lambda _: True):
            info = tar.gettarinfo(str(path), arcname)
            info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
            info.mode = 0o755 if info.isdir() else 0o644
            if info.isreg():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
