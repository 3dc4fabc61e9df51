"""Directory trees as content: a deterministic digest, a path check, and making a tree read-only.

The digest covers what rendering can see — relative paths, file contents and symlink targets —
and nothing else (not times, owners or modes, not empty directories, not ``.git``), so a Git
snapshot and a clean checkout of the same commit have the same digest. Paths are hashed as the
bytes the file system holds: a name that is not UTF-8 (Git allows any bytes) digests like any
other, and rendering, which needs text, refuses it with the name escaped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from clew.source.errors import PathEscapes, PathNotFound

__all__ = ["check_path", "digest_tree", "make_read_only", "relative_path", "tree_size"]

_CHUNK = 1 << 20


def _entries(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative posix path, lstat) of every file and symlink, ``.git`` skipped, not followed."""
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(directory)
        dirnames[:] = [d for d in dirnames if d != ".git" or (base / d).is_symlink()]
        for name in [*dirnames, *filenames]:
            path = base / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and name != ".git"):
                yield path.relative_to(root).as_posix(), st


def digest_tree(root: Path) -> str:
    """``sha256:<hex>`` over the sorted entries: kind, path, length-prefixed content or target.

    Paths are compared as the file system's bytes (UTF-8 for every valid name), so the order does
    not depend on the platform or locale, and a name that is not UTF-8 cannot break it.
    """
    h = hashlib.sha256()
    for rel, st in sorted(_entries(root), key=lambda e: os.fsencode(e[0])):
        path = root / rel
        name = os.fsencode(rel)
        if stat.S_ISLNK(st.st_mode):
            target = os.fsencode(os.readlink(path))
            h.update(b"L %s\0%d\0%s" % (name, len(target), target))
            continue
        h.update(b"F %s\0%d\0" % (name, st.st_size))
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def tree_size(root: Path) -> int:
    """Bytes the tree takes, as the cache counts them: file sizes plus symlink targets."""
    return sum(st.st_size for _, st in _entries(root))


def make_read_only(root: Path, *, top: bool = True) -> None:
    """Drop every write bit under `root` (and on `root` itself when `top`).

    ``top=False`` leaves the top directory writable so it can still be renamed into place (a
    directory moving to another parent must be writable, its ``..`` entry changes).
    """
    for directory, dirnames, filenames in os.walk(root, topdown=False, followlinks=False):
        base = Path(directory)
        for name in [*filenames, *dirnames]:
            path = base / name
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.lstat().st_mode) & ~0o222)
    if top:
        root.chmod(stat.S_IMODE(root.stat().st_mode) & ~0o222)


def make_writable(root: Path) -> None:
    """Undo :func:`make_read_only` on directories, so the tree can be deleted."""
    root.chmod(stat.S_IMODE(root.lstat().st_mode) | 0o700)
    for directory, dirnames, _ in os.walk(root, followlinks=False):
        for name in dirnames:
            path = Path(directory) / name
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.lstat().st_mode) | 0o700)


def relative_path(path: str) -> PurePosixPath:
    """`path` as a normalised relative path; :class:`PathEscapes` if absolute or climbing out.

    Checked before any network access: it needs no snapshot.
    """
    pure = PurePosixPath(path.replace("\\", "/") if path else ".")
    if pure.is_absolute():
        raise PathEscapes(f"path {path!r} is absolute", hint="give a path relative to the repo")
    parts: list[str] = []
    for part in pure.parts:
        if part == "..":
            if not parts:
                raise PathEscapes(
                    f"path {path!r} climbs out of the repository",
                    hint="remove the '..' that leaves the repository root",
                )
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def check_path(root: Path, path: str) -> Path:
    """The directory `path` names inside `root` (as ``root / ...``), after following symlinks.

    Raises :class:`PathEscapes` when it resolves outside `root`, :class:`PathNotFound` when it
    is missing or not a directory.
    """
    rel = relative_path(path)
    real_root = root.resolve()
    try:
        target = (real_root / rel).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise PathNotFound(
            f"path {path!r} is a symlink loop", hint="point the path at a real directory"
        ) from None
    if target != real_root and real_root not in target.parents:
        raise PathEscapes(
            f"path {path!r} leads outside the snapshot through a symlink",
            hint="point the path at a real directory in the repository",
        )
    if not target.is_dir():
        raise PathNotFound(
            f"path {path!r} is not a directory in the snapshot",
            hint="check the path against the repository's layout at this revision",
        )
    # Under `root` as given (not its resolved form), so callers can take paths relative to it.
    return root / target.relative_to(real_root)
