"""SOPS-encrypted dotenv and INI files that a Kustomization's ``secretGenerator`` reads.

kustomize reads generator inputs from files, so they must exist in cleartext while it runs, as
in Flux. clew never writes them to disk: when the snapshot holds encrypted ``.env`` or ``.ini``
files, it is copied into a private directory on the memory-backed ``/dev/shm``, those files are
decrypted there (MAC verified), kustomize builds the copy, and the copy is deleted when it
returns. Without ``/dev/shm`` such a tree is refused rather than decrypted onto a disk. A
snapshot this would copy is bounded by the render byte limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from clew.render.errors import DecryptionError
from clew.render.paths import SnapshotDir
from clew.render.sops import SopsKeys, decrypt_dotenv, decrypt_ini

__all__ = ["generator_inputs"]

_FORMATS = {".env": "dotenv", ".ini": "ini"}
_SHM = Path("/dev/shm")  # noqa: S108  # memory-backed; mkdtemp makes a private directory in it


def _encrypted(snapshot: SnapshotDir) -> list[tuple[str, Path, str]]:
    """The snapshot's dotenv and INI files that carry SOPS metadata, with their format."""
    found = []
    for file, path in snapshot.walk(".", snapshot.root, suffixes=set(_FORMATS)):
        text = snapshot.read_text(file, path)
        fmt = _FORMATS[path.suffix.lower()]
        if (fmt == "dotenv" and "\nsops_mac=" in f"\n{text}") or (
            fmt == "ini" and "[sops]" in text and "mac" in text
        ):
            found.append((file, path, fmt))
    return found


Redact = Callable[[str], str]


def _redactor(texts: list[str]) -> Redact:
    """Removes every decrypted value from a message: kustomize quotes the lines it cannot
    parse."""
    values: set[str] = set()
    for text in texts:
        for line in text.splitlines():
            _, sep, value = line.partition("=")
            if sep and len(value.strip()) >= 3 and not line.lstrip().startswith(("#", ";")):
                values.add(value.strip())
    ordered = sorted(values, key=len, reverse=True)  # a value inside a longer one goes second

    def redact(message: str) -> str:
        for value in ordered:
            message = message.replace(value, "<redacted>")
        return message

    return redact


@contextlib.contextmanager
def generator_inputs(
    snapshot: SnapshotDir, rel: str, keys: SopsKeys | None, max_bytes: int
) -> Iterator[tuple[Path, Path, Redact]]:
    """``(root, directory to build, redact)``: the snapshot itself, or a memory-backed copy of
    it with its encrypted dotenv and INI files decrypted (deleted on exit), and a function that
    takes their values out of a message."""
    encrypted = _encrypted(snapshot)
    if not encrypted:
        yield snapshot.root, snapshot.root / rel, lambda message: message
        return
    if not (_SHM.is_dir() and os.access(_SHM, os.W_OK)):
        raise DecryptionError(
            "decrypting SOPS generator inputs needs a memory-backed /dev/shm (clew never writes "
            "cleartext to disk)",
            file=encrypted[0][0],
        )
    files = snapshot.walk(".", snapshot.root)
    total = sum(snapshot.size(f, p) for f, p in files)
    if total > max_bytes:
        raise DecryptionError(
            f"the snapshot holds {total} bytes, more than the render limit ({max_bytes}) that "
            "may be copied to memory to decrypt SOPS generator inputs",
            file=encrypted[0][0],
        )
    plain = {
        file: (decrypt_dotenv if fmt == "dotenv" else decrypt_ini)(
            snapshot.read_text(file, path), keys or SopsKeys(), file
        )
        for file, path, fmt in encrypted
    }
    copy = Path(tempfile.mkdtemp(prefix="clew-kustomize-src-", dir=_SHM))
    try:
        for file, path in files:
            target = copy / file
            target.parent.mkdir(parents=True, exist_ok=True)
            if file in plain:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(plain[file])
            else:
                shutil.copyfile(path, target)
        yield copy, copy / rel, _redactor(list(plain.values()))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
