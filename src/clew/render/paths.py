"""The only way the render stage reaches files: through a snapshot root that nothing escapes.

Every path is checked twice. Lexically, a ``..`` that climbs above the root is refused before the
file system is touched. Then the real path (every symlink followed) must still lie inside the root:
a symlink, to a file or a directory, that leaves the snapshot is refused even when it is never
read, so what a commit renders cannot depend on the machine that renders it. A file name that is
not UTF-8 is refused where it would be read, named with its bytes escaped (``bad\\xff.yaml``):
object origins, messages and statuses are text.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Collection
from pathlib import Path

from clew.render.errors import InvalidManifestError, UnsafeSourceError

MAX_FILE_BYTES = 10 * 1024 * 1024
"""A manifest file larger than this is refused: no sane manifest is, and a generated blob this big
would make every plan slow."""


def escaped(path: str) -> str:
    """``path`` printable: bytes that are not UTF-8 (held as surrogates) shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _check_name(rel: str) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidManifestError(
            "the file name is not UTF-8",
            file=escaped(rel),
            hint="rename it: clew reads manifests by UTF-8 names only",
        ) from None


_ESCAPE_HINT = "a snapshot must be self-contained: copy the file into the repository instead"


class SnapshotDir:
    """A snapshot root; paths handed out are real (symlink-free) and inside it."""

    def __init__(self, root: Path | str) -> None:
        try:
            self.root = Path(root).resolve(strict=True)
        except OSError as exc:
            raise InvalidManifestError(f"the snapshot root {root} cannot be read: {exc}") from None
        if not self.root.is_dir():
            raise InvalidManifestError(f"the snapshot root {root} is not a directory")

    def contains(self, real: Path) -> bool:
        return real == self.root or real.is_relative_to(self.root)

    def relative(self, real: Path) -> str:
        """``real`` (inside the root) as a POSIX path relative to it; ``.`` for the root."""
        return real.relative_to(self.root).as_posix() or "."

    def resolve(
        self, path: str, *, base: str = ".", what: str = "path", referrer: str = ""
    ) -> tuple[str, Path]:
        """``path`` (relative to ``base``, itself relative to the root) as ``(normalised relative
        path, real path)``. Refuses absolute paths, ``..`` above the root and symlinks leaving it,
        naming ``referrer`` (the file that holds ``path``) in the error. The target need not
        exist."""
        if posixpath.isabs(path) or os.path.isabs(path):
            raise UnsafeSourceError(
                f"{what} {path!r} is absolute; paths are relative to the snapshot root",
                file=referrer,
            )
        joined = posixpath.join(base, path)
        rel = posixpath.normpath(joined)
        if rel == ".." or rel.startswith("../"):
            raise UnsafeSourceError(f"{what} {path!r} leaves the snapshot", file=referrer)
        # realpath on the path as written: the OS resolves a symlink before a following "..".
        real = Path(os.path.realpath(self.root / joined))
        if not self.contains(real):
            raise UnsafeSourceError(
                f"{what} {path!r} resolves to {escaped(str(real))}, outside the snapshot "
                "(through a symlink)",
                file=referrer,
                hint=_ESCAPE_HINT,
            )
        return rel, real

    def walk(
        self,
        rel_dir: str,
        real_dir: Path,
        *,
        suffixes: Collection[str] | None = None,
        include_hidden: bool = False,
        other: list[str] | None = None,
    ) -> list[tuple[str, Path]]:
        """Every regular file under a directory as ``(relative path, real path)``, sorted by the
        relative path. Symlinks are followed when they stay inside the root and refused when they
        leave it; a symlink loop is an error. ``suffixes`` (lower case, with the dot) filters file
        names; hidden entries (``.git``, ``.github``) are skipped unless ``include_hidden``. Files
        that ``suffixes`` leaves out are appended to ``other`` when given (names escaped)."""
        found: list[tuple[str, Path]] = []

        def visit(rel: str, real: Path, ancestors: frozenset[Path]) -> None:
            try:
                with os.scandir(real) as entries:
                    names = sorted(e.name for e in entries)
            except OSError as exc:
                raise InvalidManifestError(
                    f"cannot list the directory: {exc.strerror}", file=escaped(rel)
                ) from None
            for name in names:
                if name.startswith(".") and not include_hidden:
                    continue
                child_rel = name if rel == "." else f"{rel}/{name}"
                child = real / name
                wanted = suffixes is None or Path(name).suffix.lower() in suffixes
                if child.is_symlink():
                    target = Path(os.path.realpath(child))
                    if not self.contains(target):
                        raise UnsafeSourceError(
                            f"symlink to {escaped(str(target))}, outside the snapshot",
                            file=escaped(child_rel),
                            hint=_ESCAPE_HINT,
                        )
                    child = target
                    if not child.exists() and wanted:
                        raise InvalidManifestError("broken symlink", file=escaped(child_rel))
                if child.is_dir():
                    if child in ancestors:
                        raise UnsafeSourceError("symlink loop", file=escaped(child_rel))
                    visit(child_rel, child, ancestors | {child})
                elif wanted and child.is_file():
                    _check_name(child_rel)
                    found.append((child_rel, child))
                elif other is not None and child.is_file():
                    other.append(escaped(child_rel))

        visit(rel_dir, real_dir, frozenset({real_dir}))
        found.sort(key=lambda item: item[0])
        return found

    def size(self, rel: str, real: Path) -> int:
        """A file's size in bytes, before reading it."""
        try:
            return real.stat().st_size
        except OSError as exc:
            raise InvalidManifestError(f"cannot read: {exc.strerror}", file=rel) from None

    def read_text(self, rel: str, real: Path) -> str:
        """A file's text (UTF-8, a BOM allowed), refusing files over :data:`MAX_FILE_BYTES`."""
        try:
            size = real.stat().st_size
            if size > MAX_FILE_BYTES:
                raise InvalidManifestError(
                    f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit for a manifest",
                    file=rel,
                )
            data = real.read_bytes()
        except OSError as exc:
            raise InvalidManifestError(f"cannot read: {exc.strerror}", file=rel) from None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidManifestError(
                f"not UTF-8 (byte {exc.start}); manifests are UTF-8 text", file=rel
            ) from None
