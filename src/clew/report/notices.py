"""What the operator tells observers (notification senders, commit-status writers) after each
outcome. The reconciler builds a :class:`SyncNotice`; observers must never fail or slow a sync,
so the reconciler calls them through :func:`deliver`, which logs and swallows their errors."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("clew.report.notices")


class NoticeKind(enum.StrEnum):
    SYNCED = "synced"  # a sync succeeded (and was healthy, when waiting)
    FAILED = "failed"  # fetch, render, apply or prune failed
    HEALTH_DEGRADED = "health_degraded"  # applied, but objects did not become healthy
    DRIFT_CORRECTED = "drift_corrected"  # self-heal reverted a change made outside Git
    ROLLBACK = "rollback"  # a pinned (rolled back) revision was applied


@dataclass(frozen=True, slots=True)
class SyncNotice:
    kind: NoticeKind
    namespace: str
    name: str
    revision: str = ""
    repo_url: str = ""
    reason: str = ""
    message: str = ""
    commit_subject: str = ""
    commit_author: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    objects: tuple[str, ...] = ()  # e.g. the drifted object, as Kind/namespace/name
    trace_id: str = ""


class Observer(Protocol):
    async def notify(self, notice: SyncNotice) -> None: ...


async def deliver(observers: Sequence[Observer], notice: SyncNotice) -> None:
    for observer in observers:
        try:
            await observer.notify(notice)
        except Exception:  # an observer's failure is its own; the sync goes on
            log.exception("observer %s failed on %s", type(observer).__name__, notice.kind)
