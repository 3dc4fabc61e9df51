"""The on-disk half of the snapshot cache: layout, locks, atomic install and LRU eviction.

Layout under ``root``, shared by every process that uses the same root::

    snapshots/<sha>/   the checked-out tree, read-only, no .git    (Snapshot.root)
    meta/<sha>.json    digest, size, commit info; its mtime is the last use (for LRU eviction)
    meta/<sha>.commit  the raw commit object, to verify signatures without the network
    locks/<sha>.lock   fcntl lock: one process fetches or evicts a commit at a time
    tmp/               work directories, renamed into snapshots/ when complete

A tree is complete once it is in ``snapshots/`` *and* its metadata exists (metadata is written
first, the rename is atomic), so a crash at any point leaves nothing that looks complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Container
from dataclasses import asdict, dataclass
from pathlib import Path

from clew.model import CommitInfo
from clew.source.tree import digest_tree, make_read_only, make_writable, tree_size

__all__ = ["Entry", "SnapshotStore"]

# Work directories older than this were left by a crashed process (a live fetch is bounded by
# the git timeouts, minutes at most).
_STALE_WORK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Entry:
    """One cached commit: everything a Snapshot needs except the caller's path and ref."""

    sha: str
    root: Path
    digest: str
    size: int
    commit: CommitInfo


class SnapshotStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.snapshots = self.root / "snapshots"
        self.meta = self.root / "meta"
        self.locks = self.root / "locks"
        self.tmp = self.root / "tmp"
        for directory in (self.snapshots, self.meta, self.locks, self.tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def work_dir(self, sha: str) -> Path:
        """A fresh directory on the same filesystem as snapshots/, so install is a rename."""
        return Path(tempfile.mkdtemp(prefix=f"{sha[:12]}-", dir=self.tmp))

    def load(self, sha: str) -> Entry | None:
        """The cached entry for `sha`, or None when absent or incomplete."""
        final = self.snapshots / sha
        try:
            meta = json.loads((self.meta / f"{sha}.json").read_text())
            if not final.is_dir() or not (self.meta / f"{sha}.commit").is_file():
                return None
            commit = CommitInfo(**meta["commit"])
            return Entry(sha, final, meta["digest"], int(meta["size"]), commit)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def raw_commit(self, sha: str) -> bytes:
        return (self.meta / f"{sha}.commit").read_bytes()

    def install(self, sha: str, tree: Path, raw_commit: bytes, commit: CommitInfo) -> Entry:
        """Record the tree's digest and metadata, then rename it into place. Hold the lock."""
        digest, size = digest_tree(tree), tree_size(tree)
        make_read_only(tree, top=False)  # the top stays writable until it has moved
        _write_atomic(self.meta / f"{sha}.commit", raw_commit)
        meta = {"sha": sha, "digest": digest, "size": size, "commit": asdict(commit)}
        _write_atomic(self.meta / f"{sha}.json", json.dumps(meta, indent=1).encode())
        final = self.snapshots / sha
        if final.exists():  # left by a crash before its metadata was written
            remove_tree(final)
        tree.rename(final)
        final.chmod(0o555)
        return Entry(sha, final, digest, size, commit)

    def touch(self, sha: str) -> None:
        """Mark `sha` as just used. An explicit nanosecond time: the kernel's file clock is
        coarse (milliseconds), and two uses in a row must still be ordered."""
        now = time.time_ns()
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.meta / f"{sha}.json", ns=(now, now))

    @contextlib.asynccontextmanager
    async def lock(self, sha: str) -> AsyncIterator[None]:
        """Exclusive use of `sha` across processes (an fcntl lock on locks/<sha>.lock)."""
        fd = os.open(self.locks / f"{sha}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Another process holds it: wait in a thread so the event loop keeps running.
            waiting = asyncio.get_running_loop().run_in_executor(
                None, fcntl.flock, fd, fcntl.LOCK_EX
            )
            try:
                await asyncio.shield(waiting)
            except BaseException:
                # Close only once the thread is done, which also drops the lock it may get.
                waiting.add_done_callback(lambda _: os.close(fd))
                raise
        except BaseException:
            os.close(fd)
            raise
        try:
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the lock

    def evict(self, max_bytes: int, keep: Container[str]) -> list[str]:
        """Remove least recently used snapshots until the total fits in `max_bytes`.

        Skips any snapshot locked by a fetch, and any in `keep` — checked while holding its
        lock, so a caller that adds to `keep` before taking the lock is never raced. Returns the
        evicted SHAs.
        """
        self._sweep_work_dirs()
        used: list[tuple[float, str, int]] = []
        for meta in self.meta.glob("*.json"):
            try:
                size = int(json.loads(meta.read_text())["size"])
                used.append((meta.stat().st_mtime, meta.stem, size))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        total = sum(size for _, _, size in used)
        evicted: list[str] = []
        for _, sha, size in sorted(used):
            if total <= max_bytes:
                break
            if self._remove_if_unlocked(sha, keep):
                total -= size
                evicted.append(sha)
        return evicted

    def _remove_if_unlocked(self, sha: str, keep: Container[str]) -> bool:
        if sha in keep:
            return False
        fd = os.open(self.locks / f"{sha}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            if sha in keep:  # pinned while we waited for the lock
                return False
            # Metadata first, so the entry stops looking complete before its tree goes.
            for suffix in (".json", ".commit"):
                (self.meta / f"{sha}{suffix}").unlink(missing_ok=True)
            final = self.snapshots / sha
            if final.exists():
                # Out of snapshots/ in one rename, so no reader sees a half-deleted tree.
                final.chmod(0o755)
                doomed = Path(tempfile.mkdtemp(prefix=f"evict-{sha[:12]}-", dir=self.tmp))
                final.rename(doomed / "tree")
                remove_tree(doomed)
            return True
        finally:
            os.close(fd)

    def _sweep_work_dirs(self) -> None:
        cutoff = time.time() - _STALE_WORK_SECONDS
        for work in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if work.lstat().st_mtime < cutoff:
                    remove_tree(work)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def remove_tree(path: Path) -> None:
    """Delete a tree made read-only by :func:`clew.source.tree.make_read_only`."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        make_writable(path)
        shutil.rmtree(path, ignore_errors=True)
