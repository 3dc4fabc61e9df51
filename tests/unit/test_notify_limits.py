"""Deduplication and rate limiting, on a clock driven by hand: a repeat of the same outcome
within the window is suppressed and goes through once the window has passed; a different outcome
always goes through (and a return to the earlier one is news again); scopes are independent,
forgetting re-admits, and capacity bounds memory. The token bucket starts full, refills evenly,
never saves more than its burst, and says how long to wait."""

from __future__ import annotations

import pytest

from clew.notify.limits import Deduper, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeat_within_window_is_suppressed_until_it_passes() -> None:
    clock = Clock()
    dedupe = Deduper(clock=clock)
    same = ("synced", "abc", "Succeeded")
    assert dedupe.admit("slack/shop", same, window=60)
    clock.now += 59.9
    assert not dedupe.admit("slack/shop", same, window=60)
    clock.now += 0.1
    assert dedupe.admit("slack/shop", same, window=60)  # a reminder, once per window


def test_window_counts_from_the_send_not_from_the_last_repeat() -> None:
    clock = Clock()
    dedupe = Deduper(clock=clock)
    assert dedupe.admit("s", "x", window=60)
    for _ in range(5):
        clock.now += 20
        dedupe.admit("s", "x", window=60)
    assert len(dedupe) == 1
    clock.now = 1000.0 + 61
    assert not dedupe.admit("s", "x", window=60)  # admitted at +60 (the window had passed)


def test_a_change_of_state_always_goes_through() -> None:
    clock = Clock()
    dedupe = Deduper(clock=clock)
    synced, degraded = (
        ("synced", "abc", "Succeeded"),
        ("health_degraded", "abc", "HealthCheckFailed"),
    )
    assert dedupe.admit("s", synced, 3600)
    assert dedupe.admit("s", degraded, 3600)
    assert not dedupe.admit("s", degraded, 3600)
    assert dedupe.admit("s", synced, 3600)  # recovered at the same revision: news


def test_scopes_are_independent_and_zero_window_sends_everything() -> None:
    dedupe = Deduper(clock=Clock())
    assert dedupe.admit(("slack", "shop"), "x", 60)
    assert dedupe.admit(("github", "shop"), "x", 60)
    assert dedupe.admit(("slack", "cart"), "x", 60)
    assert dedupe.admit("z", "x", 0)
    assert dedupe.admit("z", "x", 0)


def test_forget_readmits_only_the_same_fingerprint() -> None:
    dedupe = Deduper(clock=Clock())
    dedupe.admit("s", "x", 60)
    dedupe.forget("s", "other")
    assert not dedupe.admit("s", "x", 60)
    dedupe.forget("s", "x")
    assert dedupe.admit("s", "x", 60)


def test_capacity_forgets_the_oldest_scope() -> None:
    dedupe = Deduper(clock=Clock(), capacity=2)
    dedupe.admit("a", "x", 60)
    dedupe.admit("b", "x", 60)
    dedupe.admit("c", "x", 60)
    assert len(dedupe) == 2
    assert dedupe.admit("a", "x", 60)  # forgotten, so admitted again
    assert not dedupe.admit("c", "x", 60)


def test_token_bucket_bursts_then_paces() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.try_take() == pytest.approx(0.25)  # half a token there; nothing taken
    clock.now += 0.25
    assert bucket.try_take() == 0.0
    clock.now += 100
    assert [bucket.try_take() for _ in range(4)][-1] == pytest.approx(0.5)  # burst caps saving


async def test_token_bucket_take_waits_by_its_clock() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    assert await bucket.take(sleep) == 0.0
    assert await bucket.take(sleep) == pytest.approx(1.0)
    assert slept == [pytest.approx(1.0)]


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_token_bucket_refuses_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate, burst)
