"""Rendezvous hashing spreads Applications evenly over the replicas and moves only the share of
a replica that joins or leaves; every replica computes the same owners and the same view name
from the same members, whatever their order; a Lease counts as expired only when both clocks
agree."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from clew.controller.runtime.leader import format_micro_time, lease_expired
from clew.controller.runtime.shards import owner, view_digest

KEYS = [f"team-{i % 7}/app-{i:04d}" for i in range(3000)]


def assign(members: list[str]) -> dict[str, str | None]:
    return {key: owner(key, members) for key in KEYS}


def test_no_members_no_owner() -> None:
    assert owner("ns/app", []) is None


def test_owner_does_not_depend_on_member_order() -> None:
    members = ["clew-0", "clew-1", "clew-2"]
    assert assign(members) == assign(list(reversed(members)))


def test_three_replicas_share_evenly() -> None:
    counts = Counter(assign(["clew-0", "clew-1", "clew-2"]).values())
    assert set(counts) == {"clew-0", "clew-1", "clew-2"}
    for member, count in counts.items():
        assert 900 <= count <= 1100, (member, count)  # 1,000 each, within 10%


def test_a_leaving_replica_moves_only_its_own_share() -> None:
    before = assign(["clew-0", "clew-1", "clew-2"])
    after = assign(["clew-0", "clew-2"])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert moved == {key for key in KEYS if before[key] == "clew-1"}
    taken = Counter(after[key] for key in moved)
    assert min(taken.values()) > 0.4 * len(moved)  # spread over the rest, not dumped on one


def test_a_joining_replica_takes_only_what_it_now_owns() -> None:
    before = assign(["clew-0", "clew-1", "clew-2"])
    after = assign(["clew-0", "clew-1", "clew-2", "clew-3"])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert all(after[key] == "clew-3" for key in moved)
    assert 650 <= len(moved) <= 850  # about a quarter of 3,000


def test_view_digest_names_a_set() -> None:
    assert view_digest(["b", "a", "c"]) == view_digest(["c", "b", "a", "a"])
    assert view_digest(["a", "b"]) != view_digest(["a", "b", "c"])
    assert len(view_digest(["a"])) == 16


def test_a_lease_expires_only_by_both_clocks() -> None:
    now = datetime.now(UTC)
    old = {"renewTime": format_micro_time(now - timedelta(seconds=30)), "leaseDurationSeconds": 10}
    fresh = {"renewTime": format_micro_time(now), "leaseDurationSeconds": 10}
    assert lease_expired(old, now, unchanged_for=11, default_duration=15)
    assert not lease_expired(old, now, unchanged_for=5, default_duration=15)  # just seen change
    assert not lease_expired(fresh, now, unchanged_for=60, default_duration=15)
    assert lease_expired({}, now, unchanged_for=16, default_duration=15)  # never renewed
