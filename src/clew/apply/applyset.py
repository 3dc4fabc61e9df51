"""The inventory, as an ApplySet (KEP-3659) so kubectl and other tools can see it.

The parent is a ConfigMap ``clew-<name>`` in the target namespace, labelled
``applyset.kubernetes.io/id``; members carry ``applyset.kubernetes.io/part-of`` with the same id;
the parent's annotations list the contained group-kinds and extra namespaces, as the KEP requires.
Beyond the KEP, the parent keeps the member list itself (gzip JSON in ``binaryData``), so prune
knows what to delete without a single LIST call, with the uid each member had when clew applied it;
and every member carries ``clew.dev/owner: <namespace>/<parent>`` so an error can name the
inventory that owns an object (the ApplySet id is a hash).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clew import __version__
from clew.cluster import Cluster, NotFound
from clew.model import ObjectRef

PART_OF = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
PRUNE_ANNOTATION = "clew.dev/prune"
OWNER_ANNOTATION = "clew.dev/owner"
MEMBERS_KEY = "members.json.gz"
MANAGER = "clew"


def applyset_id(name: str, namespace: str, kind: str = "ConfigMap", group: str = "") -> str:
    """``applyset-<base64url(sha256(name.namespace.kind.group))>-v1``, as KEP-3659 specifies."""
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}-v1"


@dataclass(frozen=True, order=True, slots=True)
class Member:
    """One object the inventory owns: enough to delete it without discovery of its version."""

    ref: ObjectRef
    api_version: str
    prune: bool = True  # False when the object opted out with clew.dev/prune: disabled
    digest: str = ""  # fingerprint of the desired object clew last applied
    version: str = ""  # its resourceVersion right after that apply
    uid: str = ""  # its uid as the apply returned it; "" in inventories written by older clew
    generation: int = 0  # its metadata.generation right after that apply; 0 if none or older clew


def sorted_members(members: Iterable[Member]) -> list[Member]:
    """``sorted(members)`` with tuple keys: the generated ``__lt__`` is a Python call per
    comparison (a million of them per 5,000-object push); this is the same order."""
    return sorted(members, key=_order)


def _order(m: Member) -> tuple[str, str, str, str, str, bool, str, str, str, int]:
    r = m.ref
    return (
        r.group,
        r.kind,
        r.namespace,
        r.name,
        m.api_version,
        m.prune,
        m.digest,
        m.version,
        m.uid,
        m.generation,
    )


def member_of(
    obj: dict[str, Any], digest: str = "", version: str = "", uid: str = "", generation: int = 0
) -> Member:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return Member(
        ObjectRef.from_object(obj),
        str(obj.get("apiVersion")),
        prune=annotations.get(PRUNE_ANNOTATION) != "disabled",
        digest=digest,
        version=version,
        uid=uid,
        generation=generation,
    )


@dataclass
class Inventory:
    name: str
    namespace: str
    members: list[Member] = field(default_factory=list)
    exists: bool = False

    @property
    def parent_name(self) -> str:
        return f"clew-{self.name}"

    @property
    def id(self) -> str:
        return applyset_id(self.parent_name, self.namespace)

    @property
    def owner(self) -> str:
        """The value of ``clew.dev/owner`` on members: where the ApplySet parent lives."""
        return f"{self.namespace}/{self.parent_name}"

    def refs(self) -> set[ObjectRef]:
        return {m.ref for m in self.members}


def label(obj: dict[str, Any], set_id: str, owner: str = "") -> dict[str, Any]:
    """A copy of ``obj`` labelled as a member of the ApplySet ``set_id`` (and annotated with its
    ``owner``, when given)."""
    out = dict(obj)  # only metadata changes: copy those levels, share the rest
    meta = out["metadata"] = dict(out.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), PART_OF: set_id}
    if owner:
        meta["annotations"] = {**(meta.get("annotations") or {}), OWNER_ANNOTATION: owner}
    return out


def _encode(members: list[Member]) -> str:
    unique = {m.ref: m for m in members}  # the last record of an object wins
    rows = [
        [
            m.ref.group,
            m.ref.kind,
            m.ref.namespace,
            m.ref.name,
            m.api_version,
            m.prune,
            m.digest,
            m.version,
            m.uid,
            m.generation,
        ]
        for m in sorted_members(unique.values())
    ]
    raw = json.dumps(rows, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def _decode(data: str) -> list[Member]:
    rows = json.loads(gzip.decompress(base64.b64decode(data)))
    # Rows of inventories written before uids (generations) were recorded have 8 (9) fields.
    return [
        Member(
            ObjectRef(g, k, ns, n),
            v,
            bool(p),
            d,
            rv,
            str(rest[0]) if rest else "",
            int(rest[1]) if len(rest) > 1 else 0,
        )
        for g, k, ns, n, v, p, d, rv, *rest in rows
    ]


async def load(cluster: Cluster, name: str, namespace: str) -> Inventory:
    inventory = Inventory(name, namespace)
    try:
        parent = await cluster.get("v1", "ConfigMap", inventory.parent_name, namespace)
    except NotFound:
        return inventory
    inventory.exists = True
    data = (parent.get("binaryData") or {}).get(MEMBERS_KEY)
    if data:
        inventory.members = _decode(data)
    return inventory


def parent_object(inventory: Inventory, members: list[Member]) -> dict[str, Any]:
    group_kinds = sorted(
        {f"{m.ref.kind}.{m.ref.group}" if m.ref.group else m.ref.kind for m in members}
    )
    namespaces = sorted(
        {m.ref.namespace for m in members if m.ref.namespace} - {inventory.namespace}
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": inventory.parent_name,
            "namespace": inventory.namespace,
            "labels": {ID_LABEL: inventory.id},
            "annotations": {
                TOOLING: f"clew/v{__version__}",
                GROUP_KINDS: ",".join(group_kinds),
                NAMESPACES: ",".join(namespaces),
            },
        },
        "binaryData": {MEMBERS_KEY: _encode(members)},
    }


async def save(cluster: Cluster, inventory: Inventory, members: list[Member]) -> None:
    """Record ``members`` as the inventory (server-side apply of the parent)."""
    await cluster.apply(parent_object(inventory, members), field_manager=MANAGER, force=True)
    inventory.members = sorted_members({m.ref: m for m in members}.values())
    inventory.exists = True
