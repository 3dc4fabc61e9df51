"""Health of one object, with kstatus semantics, and the order that says which is worse."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Health(enum.Enum):
    CURRENT = "Current"  # the object is as its spec asks
    IN_PROGRESS = "InProgress"  # still moving towards its spec
    FAILED = "Failed"  # will not get there without a change
    TERMINATING = "Terminating"  # being deleted
    NOT_FOUND = "NotFound"  # does not exist
    UNKNOWN = "Unknown"  # cannot tell

    @property
    def rank(self) -> int:
        """Higher is worse; used to summarise many objects into one status."""
        return _RANK[self]

    def worse_than(self, other: Health) -> bool:
        return self.rank > other.rank

    @property
    def terminal(self) -> bool:
        """A wait can stop at this status (done, or no hope without a change)."""
        return self in (Health.CURRENT, Health.FAILED)


_RANK = {
    Health.CURRENT: 0,
    Health.UNKNOWN: 1,
    Health.IN_PROGRESS: 2,
    Health.TERMINATING: 3,
    Health.NOT_FOUND: 4,
    Health.FAILED: 5,
}


@dataclass(frozen=True, slots=True)
class HealthResult:
    health: Health
    message: str = ""
