"""Ownership: which inventory an object belongs to, judged from the live object, never from the
inventory alone.

The inventory ConfigMap sits in the tenant's namespace, so whoever can edit ConfigMaps there can
write any object into its member list. Two rules keep that from steering the controller:

- prune deletes a member only when the *live* object still carries this ApplySet's part-of label
  and has the uid recorded when clew applied it (members recorded before uids were kept are
  judged by the label alone), see :func:`prune_verdict`;
- apply refuses an object whose live part-of label names another ApplySet (:func:`conflict`),
  unless the caller opted in to adopting it. Objects without the label are still adopted, as
  before: only another inventory's claim is a conflict.

Finding other owners costs nothing on the no-op path: the plan's label-selected LIST already
holds every desired object that is ours; only the rest are looked up, with metadata-only LISTs
label-selected to other inventories (:func:`foreign_owners`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clew.apply.applyset import OWNER_ANNOTATION, PART_OF, Member
from clew.cluster import Cluster, Forbidden
from clew.model import Action, Change, Manifest, ObjectRef

CONFLICT = "OwnershipConflict"
# Up to this many namespaces, a kind is looked up per namespace (small answers); beyond, with one
# LIST across namespaces (few requests), as RBAC allows.
PER_NAMESPACE_MAX = 4


@dataclass(frozen=True, slots=True)
class Owner:
    """The ApplySet a live object belongs to; ``parent`` is ``namespace/name`` of its parent
    ConfigMap when the object says (``clew.dev/owner``), else empty (kubectl or another tool)."""

    set_id: str
    parent: str = ""

    def __str__(self) -> str:
        if self.parent:
            return f"inventory ConfigMap {self.parent} (ApplySet {self.set_id})"
        return f"ApplySet {self.set_id}"


def owner_of(meta: dict[str, Any]) -> Owner | None:
    """The owner named by an object's metadata, or None when it carries no part-of label."""
    set_id = (meta.get("labels") or {}).get(PART_OF)
    if not set_id:
        return None
    return Owner(str(set_id), str((meta.get("annotations") or {}).get(OWNER_ANNOTATION) or ""))


def foreign_owner(meta: dict[str, Any], set_id: str) -> Owner | None:
    """The owner when it is another ApplySet than ``set_id``."""
    owner = owner_of(meta)
    return owner if owner is not None and owner.set_id != set_id else None


def conflict(ref: ObjectRef, owner: Owner) -> Change:
    """The failure reported for a desired object another inventory owns."""
    return Change(
        ref,
        Action.FAILED,
        reason=CONFLICT,
        error=(
            f"owned by another {owner}; not applied. Remove it from one of the two, or take it "
            "over with `clew apply --adopt` / `spec.adopt: true`"
        ),
    )


def prune_verdict(member: Member, meta: dict[str, Any], set_id: str) -> str:
    """Why the live object (its ``meta``) must not be deleted as ``member``; "" when it may be."""
    owner = owner_of(meta)
    if owner is None:
        return "kept: the live object is not labelled as a member of this inventory"
    if owner.set_id != set_id:
        return f"kept: the live object belongs to another {owner}"
    uid = str(meta.get("uid") or "")
    if member.uid and uid != member.uid:
        return f"kept: re-created since clew applied it (uid {uid}, recorded {member.uid})"
    return ""


async def foreign_owners(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    set_id: str,
    *,
    known: Iterable[ObjectRef] = (),
    skip_kinds: set[tuple[str, str]] | None = None,
) -> dict[ObjectRef, Owner]:
    """The desired objects that live under another ApplySet's label.

    ``known`` are objects already seen carrying ``set_id`` (the plan's LIST); they need no
    request. The rest are looked up with metadata-only LISTs selected to objects labelled with
    another id, so the answers hold nothing but conflicts (and other owners' objects of the
    same kind, when a kind spans more than :data:`PER_NAMESPACE_MAX` namespaces)."""
    mine = set(known)
    wanted: set[ObjectRef] = set()
    kinds: dict[tuple[str, str], set[str]] = {}
    for m in manifests:
        ref = m.ref
        if ref in mine or (skip_kinds and (ref.group, ref.kind) in skip_kinds):
            continue
        wanted.add(ref)
        kinds.setdefault((str(m.obj["apiVersion"]), ref.kind), set()).add(ref.namespace)
    selector = f"{PART_OF},{PART_OF}!={set_id}"

    async def in_namespaces(api_version: str, kind: str, namespaces: set[str]) -> list[Any]:
        pages = await asyncio.gather(
            *(
                cluster.list_metadata(api_version, kind, ns or None, label_selector=selector)
                for ns in sorted(namespaces)
            )
        )
        return [item for page in pages for item in page]

    async def one(api_version: str, kind: str, namespaces: set[str]) -> list[Any]:
        if len(namespaces) <= PER_NAMESPACE_MAX:
            return await in_namespaces(api_version, kind, namespaces)
        try:
            return await cluster.list_metadata(api_version, kind, label_selector=selector)
        except Forbidden:
            return await in_namespaces(api_version, kind, namespaces)

    pages = await asyncio.gather(*(one(a, k, ns) for (a, k), ns in kinds.items()))
    found: dict[ObjectRef, Owner] = {}
    for item in (item for page in pages for item in page):
        ref = ObjectRef.from_object(item)
        owner = foreign_owner(item.get("metadata") or {}, set_id)
        if ref in wanted and owner is not None:
            found[ref] = owner
    return found
