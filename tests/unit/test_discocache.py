"""The discovery cache on disk gives back the table it was given only while it may be trusted:
same server key and server version, younger than its TTL, a file only this user can write; a
damaged or foreign file is a miss, a cache that cannot be written is skipped, and what it
writes is private (0700 directories, 0600 files)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from clew.cluster import DiscoveryCache, Resource
from clew.cluster.discocache import TTL, cache_key

VERSION = "v1.36.3"
KEY = cache_key("https://127.0.0.1:6443", "CA")


def _table() -> dict[tuple[str, str], Resource]:
    rows = [
        Resource("", "v1", "ConfigMap", "configmaps", True, frozenset({"get"}), frozenset()),
        Resource(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            True,
            frozenset({"patch", "list"}),
            frozenset({"status", "scale"}),
        ),
        Resource("x.dev", "v1", "Gadget", "gadgets", False, frozenset(), frozenset()),
    ]
    return {(r.api_version, r.kind): r for r in rows}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip_while_fresh(tmp_path: Path) -> None:
    clock = Clock()
    cache = DiscoveryCache(tmp_path / "discovery", clock=clock)
    cache.save(KEY, VERSION, _table())
    assert cache.load(KEY, VERSION) == _table()
    clock.now += TTL - 1
    assert cache.load(KEY, VERSION) == _table()
    clock.now += 2  # older than the TTL
    assert cache.load(KEY, VERSION) is None


def test_another_version_or_server_misses(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path)
    cache.save(KEY, VERSION, _table())
    assert cache.load(KEY, "v1.37.0") is None  # the server was upgraded
    assert cache.load(cache_key("https://127.0.0.1:6443", "another CA"), VERSION) is None
    assert cache_key("https://a:6443", "CA") != cache_key("https://b:6443", "CA")


def test_a_clock_gone_backwards_misses(tmp_path: Path) -> None:
    clock = Clock()
    cache = DiscoveryCache(tmp_path, clock=clock)
    cache.save(KEY, VERSION, _table())
    clock.now -= 60
    assert cache.load(KEY, VERSION) is None


def test_files_are_private_and_others_writable_files_ignored(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path / "discovery")
    cache.save(KEY, VERSION, _table())
    file = cache.path(KEY)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "discovery").stat().st_mode) == 0o700
    assert [p.name for p in file.parent.iterdir()] == ["resources.json"]  # no temporary left
    file.chmod(0o620)
    assert cache.load(KEY, VERSION) is None
    file.chmod(0o602)
    assert cache.load(KEY, VERSION) is None


def test_damaged_files_miss(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path)
    cache.save(KEY, VERSION, _table())
    file = cache.path(KEY)
    good = json.loads(file.read_text())
    for bad in (
        "{not json",
        json.dumps([1, 2]),
        json.dumps({**good, "format": 99}),
        json.dumps({**good, "resources": [["only", "three", "fields"]]}),
        json.dumps({k: v for k, v in good.items() if k != "written"}),
    ):
        file.write_text(bad)
        assert cache.load(KEY, VERSION) is None, bad
    assert cache.load(cache_key("never", "written"), VERSION) is None


def test_unknown_version_is_never_written_and_unwritable_cache_is_skipped(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path / "discovery")
    cache.save(KEY, "", _table())
    assert not cache.path(KEY).exists()
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory should be")
    DiscoveryCache(blocked).save(KEY, VERSION, _table())  # no error: the run goes on
    assert blocked.read_text().startswith("a file")
