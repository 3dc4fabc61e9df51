"""The on-disk store without a server: atomic install, crash leftovers, locks and LRU eviction.

Proves: an installed tree is read-only under ``snapshots/<sha>`` with its metadata; a tree left
without metadata (a crash) counts as absent and is replaced; eviction removes the least recently
used first, stops once under the limit, and skips snapshots that are kept or locked by a fetch;
stale work directories of crashed processes are swept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from clew.model import CommitInfo
from clew.source.store import SnapshotStore


def sha(n: int) -> str:
    return f"{n:040x}"


def make_tree(store: SnapshotStore, n: int, size: int = 1000) -> Path:
    tree = store.work_dir(sha(n)) / "tree"
    (tree / "dir").mkdir(parents=True)
    (tree / "dir" / "file").write_bytes(bytes([n % 256]) * size)
    return tree


def install(store: SnapshotStore, n: int, size: int = 1000) -> None:
    commit = CommitInfo(sha(n), "A", "a@example.invalid", f"commit {n}", "2024-01-01T00:00:00Z")
    store.install(sha(n), make_tree(store, n, size), b"raw commit", commit)


def cached(store: SnapshotStore) -> set[str]:
    return {p.name for p in store.snapshots.iterdir()}


def test_install_is_complete_and_read_only(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    install(store, 1)
    entry = store.load(sha(1))
    assert entry is not None
    assert entry.root == tmp_path / "snapshots" / sha(1)
    assert (entry.size, entry.commit.subject) == (1000, "commit 1")
    assert entry.digest.startswith("sha256:")
    assert store.raw_commit(sha(1)) == b"raw commit"
    assert all(p.stat().st_mode & 0o222 == 0 for p in [entry.root, *entry.root.rglob("*")])


def test_tree_without_metadata_is_absent_and_replaced(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    # Metadata is written before the rename, so a bare directory is never a complete entry.
    (store.snapshots / sha(2)).mkdir()
    assert store.load(sha(2)) is None
    install(store, 2)
    entry = store.load(sha(2))
    assert entry is not None
    assert (entry.root / "dir" / "file").read_bytes() == b"\x02" * 1000


def use(store: SnapshotStore, n: int, at: float) -> None:
    os.utime(store.meta / f"{sha(n)}.json", (at, at))


def test_eviction_is_lru_and_stops_under_the_limit(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for n in (1, 2, 3, 4):
        install(store, n)
    for n, at in ((1, 400), (2, 100), (3, 300), (4, 200)):
        use(store, n, at)

    assert store.evict(2500, keep=()) == [sha(2), sha(4)]
    assert cached(store) == {sha(1), sha(3)}
    assert not (store.meta / f"{sha(2)}.json").exists()
    assert store.evict(2500, keep=()) == []  # already under the limit


async def test_eviction_skips_kept_and_locked_snapshots(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for n in (1, 2, 3):
        install(store, n)
        use(store, n, 100 * n)

    async with store.lock(sha(2)):  # a fetch is using sha(2)
        evicted = store.evict(0, keep={sha(1)})
    assert evicted == [sha(3)]
    assert cached(store) == {sha(1), sha(2)}


def test_stale_work_directories_are_swept(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    stale, fresh = store.work_dir(sha(1)), store.work_dir(sha(2))
    (stale / "git").mkdir()
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    store.evict(1 << 30, keep=())
    assert not stale.exists()
    assert fresh.exists()
