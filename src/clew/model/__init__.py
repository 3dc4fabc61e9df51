"""Value types shared by every stage: references, manifests, snapshots, health, change sets, and
the base error of each stage. Depends on nothing else in clew."""

from clew.model.changes import Action, Change, ChangeSet
from clew.model.errors import ClewError, Reason, RenderError, SourceError
from clew.model.health import Health, HealthResult
from clew.model.hooks import DeletePolicy, Hook, HookEvent, Hooks
from clew.model.manifest import Manifest
from clew.model.refs import ObjectRef
from clew.model.snapshot import CommitInfo, Snapshot

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
