"""The local source of ``clew apply``, ``diff`` and ``render``: a directory, one manifest file, or
``-`` for standard input, given as the first argument or with ``-f`` (kubectl's habit).

A file or standard input is copied into a private temporary directory (removed when the command
exits), so the snapshot holds that one file and nothing of its neighbours. Standard input is read
up to the per-file manifest limit. No Typer here (its flags are in :mod:`clew.cli.options`):
``clew render`` runs this without it.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["STDIN", "as_directory", "default_name", "pick"]

STDIN = Path("-")


def pick(src: Path | None, filename: Path | None) -> Path | None:
    """The source given as the argument or with ``-f``; both at once is an error."""
    from clew.model import ClewError  # here, not at the top: start-up time

    if src is not None and filename is not None:
        raise ClewError(
            f"two sources: {src} and -f {filename}", hint="give one, as the argument or with -f"
        )
    return src if src is not None else filename


def _private_dir() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="clew-source-"))
    atexit.register(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return tmp


def as_directory(src: Path) -> Path:
    """The directory to take as the snapshot: ``src`` itself, or a private one holding the file
    (or standard input, as ``stdin.yaml``)."""
    from clew.model import ClewError
    from clew.render import MAX_FILE_BYTES

    if src == STDIN:
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ClewError(f"standard input holds more than {MAX_FILE_BYTES} bytes of manifests")
        tmp = _private_dir()
        (tmp / "stdin.yaml").write_bytes(data)
        return tmp
    if src.is_file():
        tmp = _private_dir()
        shutil.copyfile(src, tmp / src.name)
        return tmp
    return src


def default_name(src: Path | None, repo: str | None) -> str:
    """The inventory name when ``--name`` is not given: the directory's, the file's stem,
    ``stdin``, or the repository's."""
    if src == STDIN:
        return "stdin"
    if src is not None:
        base = src.stem if src.is_file() else src.resolve().name
    else:
        base = (repo or "").rstrip("/").rsplit("/", 1)[-1]
    return base.removesuffix(".git") or "default"
