"""The shared revision of a repository and ref is reused for its time-to-live counted from when
Git was asked, not from when it answered: a slow ``ls-remote`` cannot stretch the reuse into the
next poll (issue 14, S3 polling). Callers asking at once share one question, and one of them
cancelled (a reconcile moved to another shard) leaves the answer to the others."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from clew.controller.reconcile.revisions import RevisionCache
from clew.source import GitSource, SnapshotCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowGit:
    """Answers ``ls-remote`` with the next commit, taking ``seconds`` on the clock."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.asked = 0

    async def resolve(self, source: GitSource) -> str:
        self.asked += 1
        self.clock.now += self.seconds
        return f"{self.asked:040d}"


async def test_reuse_counts_from_the_question() -> None:
    clock = Clock()
    git = SlowGit(clock, seconds=3.0)
    cache = RevisionCache(cast(SnapshotCache, cast(Any, git)), clock=clock)
    source = GitSource("https://git.example/repo.git", "main")
    first = await cache.resolve(source, ttl=8.0)  # asked at 100, answered at 103
    clock.now = 107.9
    assert await cache.resolve(source, ttl=8.0) == first  # within 8 s of the question
    clock.now = 108.0
    assert await cache.resolve(source, ttl=8.0) != first  # 8 s after the question: ask again
    assert git.asked == 2


class GatedGit:
    """Answers ``ls-remote`` once ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.asked = 0

    async def resolve(self, source: GitSource) -> str:
        self.asked += 1
        await self.gate.wait()
        return "a" * 40


async def test_a_cancelled_caller_leaves_the_shared_answer_to_the_others() -> None:
    git = GatedGit()
    cache = RevisionCache(cast(SnapshotCache, cast(Any, git)))
    source = GitSource("https://git.example/repo.git", "main")
    first = asyncio.create_task(cache.resolve(source, ttl=8.0))
    second = asyncio.create_task(cache.resolve(source, ttl=8.0))
    await asyncio.sleep(0)  # both are waiting on the one question
    first.cancel()
    await asyncio.wait({first})
    git.gate.set()
    assert await second == "a" * 40
    assert first.cancelled()
    assert git.asked == 1
