"""The work queue keeps client-go's workqueue promises, with time driven by hand.

It proves that a key is queued once however often it is added; that a key added while a worker
holds it comes back exactly once after ``done``; that rate-limited retries back off per key as
``base * 2**failures`` up to the cap and start again after ``forget``; that of two timers for one
key the earliest wins and the later does not fire again; that ``shutdown`` wakes waiting workers
and refuses new keys; and that N workers never hold the same key at once. Timers run on a fake of
the queue's own clock (never of Kubernetes): ``advance`` releases the sleepers that are due.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from clew.controller.runtime.queue import QueueShutdown, WorkQueue, jittered


class FakeClock:
    """The queue's clock, moved only by :meth:`advance`."""

    def __init__(self) -> None:
        self.time = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        entry = (self.time + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        self.time += seconds
        for at, future in self._sleepers:
            if at <= self.time and not future.done():
                future.set_result(None)


async def get_now(queue: WorkQueue[str]) -> str:
    """A key that must be ready: waiting would mean the queue is wrong."""
    async with asyncio.timeout(1):
        return await queue.get()


async def test_a_key_is_queued_once_however_often_added() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ["a", "b", "a", "a", "c", "b"]:
        queue.add(key)
    assert len(queue) == 3
    assert [await get_now(queue) for _ in range(3)] == ["a", "b", "c"]
    assert len(queue) == 0


async def test_a_key_added_while_processing_comes_back_once_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await get_now(queue) == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # not beside the copy a worker holds
    queue.done("a")
    assert len(queue) == 1
    assert await get_now(queue) == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_done_without_new_adds_does_not_requeue() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await get_now(queue) == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_rate_limited_retries_back_off_exponentially_up_to_the_cap() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(base_delay=1.0, max_delay=8.0, clock=clock)
    for expected in [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]:
        queue.add_rate_limited("a")
        clock.advance(expected - 0.01)
        assert len(queue) == 0, f"ready before its {expected}s backoff"
        clock.advance(0.01)
        assert len(queue) == 1, f"not ready after its {expected}s backoff"
        assert await get_now(queue) == "a"
        queue.done("a")
    assert queue.num_requeues("a") == 6


async def test_an_errors_own_delay_is_a_floor_for_the_backoff() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(base_delay=1.0, max_delay=8.0, clock=clock)
    queue.add_rate_limited("a", at_least=5.0)  # a 429 with Retry-After: 5
    clock.advance(4.99)
    assert len(queue) == 0, "retried before the server's Retry-After"
    clock.advance(0.01)
    assert await get_now(queue) == "a"
    queue.done("a")
    queue.add_rate_limited("a", at_least=0.5)  # the backoff (2 s) is longer: it wins
    clock.advance(1.99)
    assert len(queue) == 0
    clock.advance(0.01)
    assert len(queue) == 1


async def test_backoff_is_per_key_and_forget_starts_it_again() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(base_delay=1.0, max_delay=60.0, clock=clock)
    for _ in range(3):
        queue.add_rate_limited("slow")  # 1 + 2 + 4: the earliest timer (1 s) stays
    assert queue.num_requeues("slow") == 3
    queue.add_rate_limited("fresh")
    clock.advance(1.0)
    assert len(queue) == 2  # "fresh" is on its first backoff whatever "slow" has had
    assert {await get_now(queue), await get_now(queue)} == {"slow", "fresh"}
    queue.done("slow")
    queue.done("fresh")

    queue.add_rate_limited("slow")
    clock.advance(7.99)
    assert len(queue) == 0  # the fourth failure waits 8 s
    queue.forget("slow")
    assert queue.num_requeues("slow") == 0
    clock.advance(0.01)
    assert await get_now(queue) == "slow"  # forget does not cancel a pending retry
    queue.done("slow")
    queue.add_rate_limited("slow")
    clock.advance(1.0)
    assert len(queue) == 1  # back to the base delay


async def test_backoff_does_not_overflow_after_many_failures() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.005, max_delay=300.0)
    assert queue.backoff(0) == 0.005
    assert queue.backoff(10_000) == 300.0


async def test_add_after_the_earliest_timer_wins_and_the_later_never_fires() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("a", 10)
    queue.add_after("a", 5)
    queue.add_after("a", 7)  # later than the pending 5 s: ignored
    clock.advance(4.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert await get_now(queue) == "a"
    queue.done("a")
    clock.advance(10)
    assert len(queue) == 0  # the superseded 10 s timer does not bring it back


async def test_a_timer_wakes_a_waiting_worker() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    worker = asyncio.create_task(queue.get())
    queue.add_after("b", 3)
    queue.add_after("a", 1)  # an earlier timer re-arms the wake-up
    clock.advance(1)
    async with asyncio.timeout(1):
        assert await worker == "a"
    worker = asyncio.create_task(queue.get())
    clock.advance(2)
    async with asyncio.timeout(1):
        assert await worker == "b"
    await queue.aclose()


async def test_add_after_zero_or_less_adds_at_once() -> None:
    queue: WorkQueue[str] = WorkQueue(clock=FakeClock())
    queue.add_after("a", 0)
    queue.add_after("b", -1)
    assert len(queue) == 2


async def test_shutdown_wakes_workers_and_refuses_new_keys() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    workers = [asyncio.create_task(queue.get()) for _ in range(3)]
    queue.add_after("later", 5)
    await queue.aclose()
    assert queue.shutting_down
    done, pending = await asyncio.wait(workers, timeout=1)
    assert not pending
    for worker in done:
        assert isinstance(worker.exception(), QueueShutdown)
    assert asyncio.all_tasks() == {asyncio.current_task()}  # no timer task left behind

    queue.add("a")
    queue.add_after("b", 1)
    queue.add_rate_limited("c")
    clock.advance(10)
    assert len(queue) == 0
    with pytest.raises(QueueShutdown):
        await queue.get()


async def test_shutdown_stops_handing_out_remaining_keys() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    assert await get_now(queue) == "a"
    queue.add("a")  # changed while processing
    queue.shutdown()
    queue.done("a")  # a worker finishing after the shutdown does not re-queue
    with pytest.raises(QueueShutdown):
        await queue.get()


async def test_n_workers_never_hold_one_key_at_once() -> None:
    queue: WorkQueue[int] = WorkQueue()
    keys = list(range(20))
    holding: dict[int, int] = dict.fromkeys(keys, 0)
    worst = dict.fromkeys(keys, 0)
    processed: dict[int, int] = dict.fromkeys(keys, 0)
    busy_workers = 0
    most_busy = 0
    finished = asyncio.Event()
    rng = random.Random(7)
    changes = 200  # changes to random keys while workers run, then quiet

    async def worker() -> None:
        nonlocal busy_workers, most_busy, changes
        while True:
            try:
                key = await queue.get()
            except QueueShutdown:
                return
            holding[key] += 1
            worst[key] = max(worst[key], holding[key])
            busy_workers += 1
            most_busy = max(most_busy, busy_workers)
            for _ in range(rng.randrange(1, 4)):
                await asyncio.sleep(0)  # simulated work: let the other workers interleave
                if changes > 0:
                    changes -= 1
                    queue.add(rng.choice(keys))  # other keys change meanwhile, maybe this one
            if processed[key] == 0:
                queue.add(key)  # it changed while we reconciled it: must come back once
            processed[key] += 1
            holding[key] -= 1
            busy_workers -= 1
            queue.done(key)
            if len(queue) == 0 and busy_workers == 0:
                finished.set()

    for key in keys:
        queue.add(key)
    tasks = [asyncio.create_task(worker()) for _ in range(5)]
    async with asyncio.timeout(10):
        await finished.wait()
    queue.shutdown()
    await asyncio.gather(*tasks)
    assert all(count == 1 for count in worst.values()), worst
    assert all(count >= 2 for count in processed.values()), processed
    assert most_busy > 1  # the workers did run concurrently


def test_jittered_spreads_symmetrically_within_the_fraction() -> None:
    assert jittered(100, 0.1, rng=lambda: 0.0) == pytest.approx(90)
    assert jittered(100, 0.1, rng=lambda: 0.5) == pytest.approx(100)
    assert jittered(100, 0.1, rng=lambda: 0.999999) == pytest.approx(110, abs=1e-3)
    assert jittered(60) == pytest.approx(60, abs=6)
    with pytest.raises(ValueError, match="jitter fraction"):
        jittered(10, 1.5)
