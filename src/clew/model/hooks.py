"""Helm hooks as values: the lifecycle events an object is a hook for, its weight and its
deletion policies. Render produces them (:func:`clew.render.split_hooks`), apply runs them; see
docs/helm-hooks.md for what clew does with each event."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from clew.model.manifest import Manifest
from clew.model.refs import ObjectRef


class HookEvent(enum.Enum):
    PRE_INSTALL = "pre-install"
    POST_INSTALL = "post-install"
    PRE_UPGRADE = "pre-upgrade"
    POST_UPGRADE = "post-upgrade"
    PRE_DELETE = "pre-delete"
    POST_DELETE = "post-delete"
    PRE_ROLLBACK = "pre-rollback"
    POST_ROLLBACK = "post-rollback"
    TEST = "test"

    @property
    def slot(self) -> str:
        """Where the event runs in clew's lifecycle: ``pre``/``post`` (a sync, install or
        upgrade alike), ``pre-delete``/``post-delete``, or ``never``. A hook recorded as done in a
        slot is done for both events of that slot (an install hook is not re-run as an upgrade
        hook for the same release)."""
        return _SLOTS[self]


_SLOTS = {
    HookEvent.PRE_INSTALL: "pre",
    HookEvent.PRE_UPGRADE: "pre",
    HookEvent.POST_INSTALL: "post",
    HookEvent.POST_UPGRADE: "post",
    HookEvent.PRE_DELETE: "pre-delete",
    HookEvent.POST_DELETE: "post-delete",
    HookEvent.PRE_ROLLBACK: "never",
    HookEvent.POST_ROLLBACK: "never",
    HookEvent.TEST: "never",
}


class DeletePolicy(enum.Enum):
    BEFORE_HOOK_CREATION = "before-hook-creation"  # helm's default when none is given
    HOOK_SUCCEEDED = "hook-succeeded"
    HOOK_FAILED = "hook-failed"


@dataclass(frozen=True, slots=True)
class Hook:
    """One hook object; ``policies`` already holds helm's default when the chart names none."""

    manifest: Manifest
    events: frozenset[HookEvent]
    weight: int = 0
    policies: frozenset[DeletePolicy] = frozenset({DeletePolicy.BEFORE_HOOK_CREATION})

    @property
    def ref(self) -> ObjectRef:
        return self.manifest.ref


@dataclass(frozen=True, slots=True)
class Hooks:
    """A release's hooks in run order (weight, then kind as helm installs them, then name)."""

    hooks: tuple[Hook, ...] = ()

    def phase(self, event: HookEvent) -> list[Hook]:
        """The hooks of ``event``, in the order they run."""
        return [h for h in self.hooks if event in h.events]

    def has(self, *events: HookEvent) -> bool:
        return any(h.events.intersection(events) for h in self.hooks)

    def __len__(self) -> int:
        return len(self.hooks)
