"""Which hooks already succeeded for which release, so a no-op sync re-runs none of them.

The record is one annotation, ``clew.dev/hooks``, on the inventory's parent ConfigMap, written by
server-side apply under its own field manager (``clew-hooks``): the inventory's own writes (manager
``clew``) never name it, so they leave it alone, and it goes when the inventory goes. It holds JSON:

- ``release``: a digest of everything the release renders (ordinary objects and hooks);
- ``succeeded``: ``<slot>:<Kind/namespace/name>`` of each hook that succeeded for that release,
  where the slot is ``pre``, ``post``, ``pre-delete`` or ``post-delete`` (install and upgrade
  share one, see :attr:`clew.model.HookEvent.slot`);
- ``deleteHooks``: whether the release has pre-delete or post-delete hooks, so deleting the
  Application renders its source only when there is something to run.

A hook runs again when the release changes (any rendered object differs), as ``helm upgrade``
runs it on every upgrade; a sync that renders the same release (a no-op, a drift repair, a retry
after a later stage failed) skips hooks that already succeeded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from clew.apply.applyset import Inventory
from clew.cluster import Cluster, NotFound
from clew.model import Manifest

ANNOTATION = "clew.dev/hooks"
MANAGER = "clew-hooks"


def release_digest(manifests: Iterable[Manifest]) -> str:
    """A digest of the rendered release, independent of the order objects were rendered in."""
    docs = sorted(json.dumps(m.obj, sort_keys=True, default=str) for m in manifests)
    return hashlib.sha256("\n".join(docs).encode()).hexdigest()[:32]


@dataclass
class HookRecord:
    release: str = ""
    succeeded: set[str] = field(default_factory=set)
    delete_hooks: bool = False
    stored: str = ""  # the annotation as read or last written; saving it again is skipped

    def done(self, release: str, slot: str, ref: str) -> bool:
        return self.release == release and f"{slot}:{ref}" in self.succeeded

    def mark(self, release: str, slot: str, ref: str) -> None:
        if self.release != release:
            self.release, self.succeeded = release, set()
        self.succeeded.add(f"{slot}:{ref}")

    def encode(self) -> str:
        data = {
            "release": self.release,
            "succeeded": sorted(self.succeeded),
            "deleteHooks": self.delete_hooks,
        }
        return json.dumps(data, separators=(",", ":"))


def decode(text: str) -> HookRecord:
    """The record an annotation holds; an unreadable one counts as empty (hooks run again, which
    is what helm would do) rather than failing the sync."""
    try:
        data = json.loads(text)
        succeeded = {str(s) for s in data.get("succeeded") or []}
        record = HookRecord(
            str(data.get("release") or ""), succeeded, bool(data.get("deleteHooks"))
        )
    except (ValueError, TypeError, AttributeError):
        return HookRecord(stored=text)
    record.stored = text
    return record


async def load_record(cluster: Cluster, inventory: Inventory) -> HookRecord:
    try:
        parent = await cluster.get("v1", "ConfigMap", inventory.parent_name, inventory.namespace)
    except NotFound:
        return HookRecord()
    text = ((parent.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    return decode(text) if isinstance(text, str) else HookRecord()


async def save_record(cluster: Cluster, inventory: Inventory, record: HookRecord) -> None:
    """Write the record when it changed. A namespace that does not exist yet (the release creates
    it) is not an error: the engine saves again after the apply."""
    text = record.encode()
    if text == record.stored:
        return
    patch = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inventory.parent_name,
            "namespace": inventory.namespace,
            "annotations": {ANNOTATION: text},
        },
    }
    try:
        await cluster.apply(patch, field_manager=MANAGER, force=True)
    except NotFound:
        return
    record.stored = text
