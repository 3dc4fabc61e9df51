"""Unpacking and packing the tar.gz archives of artifact sources (chart archives, OCI layers).

Unpacking treats the archive as untrusted: only regular files and directories are taken (no
links, devices or FIFOs), every path must stay inside the destination, and the unpacked size is
capped. Packing is reproducible: sorted entries, fixed times and owners, no gzip name or time, so
the same directory gives the same digest.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from clew.source.errors import SourceError

__all__ = ["MAX_UNPACKED_BYTES", "extract", "pack"]

MAX_UNPACKED_BYTES = 256 << 20
_SKIPPED = {".git"}


def extract(archive: bytes, dest: Path, what: str, *, max_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """Unpack ``archive`` (tar, optionally gzip) into the new directory ``dest``."""
    dest.mkdir(parents=True)
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.name.startswith("/") or ".." in parts:
                    raise SourceError(f"{what}: archive entry {member.name!r} escapes it")
                if not parts or parts == (".",):
                    continue
                if member.isdir():
                    (dest / member.name).mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    continue  # links and devices: manifests and charts have no use for them
                total += member.size
                if total > max_bytes:
                    raise SourceError(f"{what} unpacks to more than {max_bytes} bytes")
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                with target.open("wb") as out:
                    shutil.copyfileobj(extracted, out)
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"{what}: not a valid tar.gz archive: {exc}") from None


def pack(directory: Path) -> bytes:
    """The files under ``directory`` as a reproducible tar.gz, paths relative to it (``.git``
    left out, symlinks refused: the reader would drop them anyway)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(_files(directory)):
            rel = path.relative_to(directory).as_posix()
            if path.is_symlink():
                raise SourceError(f"{rel} is a symlink: an artifact holds regular files only")
            info = tarfile.TarInfo(rel)
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()


def _files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED)
        found += [Path(root) / f for f in files]
    return found
