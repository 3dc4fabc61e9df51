"""The cheap plan used by apply: which objects need a request at all.

An object whose desired content is byte-for-byte what clew last applied (same fingerprint) and
whose live resourceVersion is still the one that apply produced has not changed on either side:
it needs no request. Live versions come from one metadata-only LIST per kind (label-selected to
the inventory's members), not from a GET per object, or, in the controller, from the watch
caches it already keeps (:class:`LiveCache`) when they have caught up with clew's last apply.

A new resourceVersion alone does not mean drift: controllers write status (a CRD becomes
Established, a Deployment counts its replicas) right after every apply. For kinds that keep a
``metadata.generation`` (bumped by the server on every change outside status and metadata), the
object is unchanged when its generation is the one clew's apply produced and the labels and
annotations clew sets are still there as applied; any other metadata clew sets falls back to the
resourceVersion.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import msgspec

from clew.cluster import Cluster, Forbidden
from clew.model import Manifest, ObjectRef
from clew.model.frozen import remembered

_encode = msgspec.json.Encoder(order="sorted").encode

# (apiVersion, kind) a client may not list across namespaces, and since when: each plan then
# lists per namespace straight away instead of first asking for a 403 (one request per kind and
# sync). Forgotten after a while, so a widened role is used again.
_FORBIDDEN_TTL = 600.0
_cluster_wide_forbidden: weakref.WeakKeyDictionary[Cluster, dict[tuple[str, str], float]] = (
    weakref.WeakKeyDictionary()
)


CachedObject = Callable[[str, str], "dict[str, Any] | None"]
"""``get(namespace, name)``: the cached object ("" namespace when cluster-scoped), or None."""


class LiveCache(Protocol):
    """Live objects a watch already holds (the controller's informers), so the plan need not
    list them.

    ``reader`` returns a lookup of one kind's cached objects in ``namespaces`` ("" for
    cluster-scoped), or None when the cache cannot stand in for a LIST: no synced watch of that
    kind there for ``cluster``, or one that has not yet seen ``floor``, the newest
    resourceVersion clew's own applies produced for that kind (0: no floor). Objects are looked
    up one by one: a watch across namespaces holds every inventory's objects. Cached dicts are
    shared: read only."""

    def reader(
        self, cluster: Cluster, api_version: str, kind: str, namespaces: set[str], floor: int
    ) -> CachedObject | None: ...


def version_number(version: object) -> int | None:
    """A resourceVersion as a number, or None. Kubernetes calls them opaque, but every API
    server backed by etcd hands out etcd revisions, which only grow; a version that is not a
    number makes the caller distrust its cache, never trust it."""
    try:
        return int(str(version))
    except ValueError:
        return None


def fingerprint(obj: dict[str, Any]) -> str:
    """A digest of the desired object, independent of key order; computed once for a frozen
    object (one the parse cache hands out, or the plan's labelled copy of one), which cannot
    change."""
    return remembered(obj, _FINGERPRINT, lambda: _digest(obj))


_FINGERPRINT = "plan.fingerprint"


def _digest(obj: dict[str, Any]) -> str:
    return hashlib.sha256(_encode(obj)).hexdigest()[:32]


async def live_versions(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    label_selector: str,
    skip_kinds: set[tuple[str, str]] | None = None,
) -> dict[ObjectRef, str]:
    """resourceVersion of every live object carrying ``label_selector``, for the desired kinds."""
    metas = await live_metadata(
        cluster, manifests, label_selector=label_selector, skip_kinds=skip_kinds
    )
    return {ref: str(meta.get("resourceVersion", "")) for ref, meta in metas.items()}


async def live_metadata(
    cluster: Cluster,
    manifests: Sequence[Manifest],
    *,
    label_selector: str,
    skip_kinds: set[tuple[str, str]] | None = None,
    cache: LiveCache | None = None,
    floors: Mapping[tuple[str, str], int] | None = None,
) -> dict[ObjectRef, dict[str, Any]]:
    """The metadata of every live object carrying ``label_selector``, for the desired kinds.

    From ``cache`` where it can stand in (see :class:`LiveCache`; ``floors`` by (group, kind),
    and only for a ``key=value`` selector), else one LIST per kind across namespaces; if RBAC
    forbids that, one per namespace instead (and straight away for the next 10 minutes, for
    this client and kind).
    """
    kinds: dict[tuple[str, str], set[str]] = {}
    refs: dict[tuple[str, str], list[ObjectRef]] = {}
    for m in manifests:
        ref = m.ref
        if skip_kinds and (ref.group, ref.kind) in skip_kinds:
            continue
        kinds.setdefault((str(m.obj["apiVersion"]), ref.kind), set()).add(ref.namespace)
        refs.setdefault((str(m.obj["apiVersion"]), ref.kind), []).append(ref)

    forbidden = _cluster_wide_forbidden.setdefault(cluster, {})
    label = label_selector.partition("=")
    cacheable = cache is not None and label[1] == "=" and not set("=!,()") & set(label[2])

    async def one(api_version: str, kind: str, namespaces: set[str]) -> list[dict[str, Any]]:
        if cache is not None and cacheable:
            wanted = refs[(api_version, kind)]
            floor = (floors or {}).get((wanted[0].group, kind), 0)
            get = cache.reader(cluster, api_version, kind, namespaces, floor)
            if get is not None:  # the desired objects only: stale members are read by prune
                key, _, value = label
                found = (get(ref.namespace, ref.name) for ref in wanted)
                return [
                    obj
                    for obj in found
                    if obj is not None
                    and ((obj.get("metadata") or {}).get("labels") or {}).get(key) == value
                ]
        since = forbidden.get((api_version, kind))
        if since is None or time.monotonic() - since >= _FORBIDDEN_TTL:
            try:
                return await cluster.list_metadata(api_version, kind, label_selector=label_selector)
            except Forbidden:
                forbidden[(api_version, kind)] = time.monotonic()
        pages = await asyncio.gather(
            *(
                cluster.list_metadata(api_version, kind, ns or None, label_selector=label_selector)
                for ns in sorted(namespaces)
            )
        )
        return [item for page in pages for item in page]

    pages = await asyncio.gather(*(one(a, k, ns) for (a, k), ns in kinds.items()))
    return {ObjectRef.from_object(item): item["metadata"] for page in pages for item in page}


_PLAIN_METADATA = frozenset({"name", "namespace", "labels", "annotations"})


def only_status_changed(
    desired: dict[str, Any], live: Mapping[str, Any], generation: int, uid: str
) -> bool:
    """The live object moved on only by writes to its status (see the module docstring)."""
    if not generation or int(live.get("generation") or 0) != generation:
        return False
    if not uid or live.get("uid") != uid:  # re-created by someone else: generation restarted
        return False
    meta = desired.get("metadata") or {}
    if not _PLAIN_METADATA.issuperset(meta):
        return False
    for key in ("labels", "annotations"):
        have = live.get(key) or {}
        if any(have.get(k) != v for k, v in (meta.get(key) or {}).items()):
            return False
    return True


def needs_apply(
    manifest: Manifest,
    digest: str,
    live: Mapping[ObjectRef, Mapping[str, Any]],
    recorded: Mapping[ObjectRef, tuple[str, str, int, str]],
    correct_drift: bool = True,
) -> bool:
    """False only when neither Git nor the cluster changed since clew's last apply (or, with
    ``correct_drift`` off, when Git did not change and the object still exists). ``live`` is each
    object's metadata, ``recorded`` the inventory's (digest, resourceVersion, generation, uid)."""
    ref = manifest.ref
    last = recorded.get(ref)
    if last is None or not last[1]:
        return True
    last_digest, last_version, last_generation, last_uid = last
    meta = live.get(ref)
    if last_digest != digest or meta is None:
        return True
    if not correct_drift or str(meta.get("resourceVersion", "")) == last_version:
        return False
    return not only_status_changed(manifest.obj, meta, last_generation, last_uid)
