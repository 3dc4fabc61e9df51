"""Value types shared by every stage: references, manifests, snapshots, health, change sets, and
the base error of each stage. Depends on nothing else in clew.

Each name is imported from its module on first use: ``clew render`` needs a manifest, a
snapshot and the errors, not the change sets, hooks and health (start-up time,
tests/unit/test_cli_start.py)."""

from __future__ import annotations

import typing as _typing

from clew.model import lazy

if _typing.TYPE_CHECKING:
    from clew.model.changes import Action, Change, ChangeSet
    from clew.model.errors import ClewError, Reason, RenderError, SourceError
    from clew.model.health import Health, HealthResult
    from clew.model.hooks import DeletePolicy, Hook, HookEvent, Hooks
    from clew.model.manifest import Manifest
    from clew.model.refs import ObjectRef
    from clew.model.snapshot import CommitInfo, Snapshot

_HOME = {
    "Action": "changes",
    "Change": "changes",
    "ChangeSet": "changes",
    "ClewError": "errors",
    "CommitInfo": "snapshot",
    "DeletePolicy": "hooks",
    "Health": "health",
    "HealthResult": "health",
    "Hook": "hooks",
    "HookEvent": "hooks",
    "Hooks": "hooks",
    "Manifest": "manifest",
    "ObjectRef": "refs",
    "Reason": "errors",
    "RenderError": "errors",
    "Snapshot": "snapshot",
    "SourceError": "errors",
}

__all__ = [
    "Action",
    "Change",
    "ChangeSet",
    "ClewError",
    "CommitInfo",
    "DeletePolicy",
    "Health",
    "HealthResult",
    "Hook",
    "HookEvent",
    "Hooks",
    "Manifest",
    "ObjectRef",
    "Reason",
    "RenderError",
    "Snapshot",
    "SourceError",
]


__getattr__ = lazy.exports(__name__, _HOME, globals())
