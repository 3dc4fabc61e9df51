"""A local directory as a source (for CI and ``clew apply``): used in place, never copied.

Its revision is ``local:<first 12 hex of the digest>``, so two runs over the same content name
the same revision. When the directory is inside a Git work tree, ``commit`` describes HEAD (the
files may still differ from it: the digest, not the commit, is what was read).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from clew.model import CommitInfo, Snapshot
from clew.source.errors import PathNotFound
from clew.source.git import COMMIT_FORMAT, clean_env, parse_commit_info
from clew.source.tree import check_path, digest_tree

__all__ = ["local"]

_GIT_TIMEOUT = 10.0


def local(directory: Path, path: str = ".") -> Snapshot:
    """A snapshot of `directory` as it is now, rendering `path` inside it.

    Raises :class:`PathEscapes` / :class:`PathNotFound` like a Git snapshot would.
    """
    root = Path(directory).resolve()
    if not root.is_dir():
        raise PathNotFound(
            f"local source {directory} is not a directory", hint="check the directory path"
        )
    target = check_path(root, path)
    digest = digest_tree(root)
    return Snapshot(
        root=root,
        path=target,
        source=str(root),
        ref="",
        revision="local:" + digest.removeprefix("sha256:")[:12],
        digest=digest,
        commit=_head(root),
    )


def _head(root: Path) -> CommitInfo | None:
    """HEAD of the work tree holding `root`, or None (not a repository, no commit, no git).

    No ``safe.directory`` override: a repository owned by someone else is not read, since its
    config could make git run commands.
    """
    if shutil.which("git") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="clew-local-") as home:
        try:
            proc = subprocess.run(
                ["git", "log", "-1", "--no-show-signature", f"--format={COMMIT_FORMAT}"],
                cwd=root,
                env=clean_env(Path(home), protocols=""),
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    if proc.returncode != 0 or proc.stdout.count("\0") != 4:
        return None
    return parse_commit_info(proc.stdout)
