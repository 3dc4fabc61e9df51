"""Typed results of plan, apply and prune: a :class:`Change` per object, in a ChangeSet."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

from clew.model.refs import ObjectRef


class Action(enum.Enum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Change:
    """What happened (or, in a plan, would happen) to one object, and why."""

    ref: ObjectRef
    action: Action
    reason: str = ""
    diff: str = ""  # unified YAML diff, Secret values masked; empty when unchanged
    error: str = ""  # the server's message when action is FAILED
    version: str = ""  # the object's resourceVersion after apply, when known
    uid: str = ""  # the object's uid after apply, when known (the inventory records it)
    generation: int = 0  # its metadata.generation after apply; 0 for kinds without one


@dataclass(slots=True)
class ChangeSet:
    changes: list[Change] = field(default_factory=list)

    def add(self, change: Change) -> None:
        self.changes.append(change)

    def extend(self, other: ChangeSet) -> None:
        self.changes.extend(other.changes)

    def counts(self) -> dict[Action, int]:
        counter = Counter(c.action for c in self.changes)
        return {action: counter.get(action, 0) for action in Action}

    @property
    def failed(self) -> list[Change]:
        return [c for c in self.changes if c.action is Action.FAILED]

    @property
    def changed(self) -> bool:
        return any(
            c.action in (Action.CREATED, Action.CONFIGURED, Action.DELETED) for c in self.changes
        )
