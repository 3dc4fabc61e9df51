"""The cheap plan used by apply: which objects need a request at all.

An object whose desired content is byte-for-byte what clew last applied (same fingerprint) and
whose live resourceVersion is still the one that apply produced has not changed on either side:
it needs no request. Live versions come from one metadata-only LIST per kind (label-selected to
the inventory's members), not from a GET per object.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from clew.cluster import Cluster, Forbidden
from clew.model import Manifest, ObjectRef

_encode = msgspec.json.Encoder(order="sorted").encode


def fingerprint(obj: dict[str, Any]) -> str:
    """A digest of the desired object, independent of key order."""
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
) -> dict[ObjectRef, dict[str, Any]]:
    """The metadata of every live object carrying ``label_selector``, for the desired kinds.

    One LIST per kind across namespaces; if RBAC forbids that, one per namespace instead.
    """
    kinds: dict[tuple[str, str], set[str]] = {}
    for m in manifests:
        ref = m.ref
        if skip_kinds and (ref.group, ref.kind) in skip_kinds:
            continue
        kinds.setdefault((str(m.obj["apiVersion"]), ref.kind), set()).add(ref.namespace)

    async def one(api_version: str, kind: str, namespaces: set[str]) -> list[dict[str, Any]]:
        try:
            return await cluster.list_metadata(api_version, kind, label_selector=label_selector)
        except Forbidden:
            pages = await asyncio.gather(
                *(
                    cluster.list_metadata(
                        api_version, kind, ns or None, label_selector=label_selector
                    )
                    for ns in sorted(namespaces)
                )
            )
            return [item for page in pages for item in page]

    pages = await asyncio.gather(*(one(a, k, ns) for (a, k), ns in kinds.items()))
    return {ObjectRef.from_object(item): item["metadata"] for page in pages for item in page}


def needs_apply(
    manifest: Manifest,
    digest: str,
    live: Mapping[ObjectRef, str],
    recorded: Mapping[ObjectRef, tuple[str, str]],
    correct_drift: bool = True,
) -> bool:
    """False only when neither Git nor the cluster changed since clew's last apply (or, with
    ``correct_drift`` off, when Git did not change and the object still exists)."""
    ref = manifest.ref
    last = recorded.get(ref)
    if last is None or not last[1]:
        return True
    last_digest, last_version = last
    if last_digest != digest or ref not in live:
        return True
    return correct_drift and live[ref] != last_version
