"""The audit trail: one record per sync of an Application, kept far beyond the ten entries of
``status.history``, in a bounded ConfigMap next to the Application (docs/audit.md).

Where: ConfigMap ``clew-audit-<application>`` in the Application's namespace, labelled
``clew.dev/audit: "true"`` and ``clew.dev/application: <name>``, owned by the Application (the
garbage collector deletes it with it). The records are JSON lines, oldest first, gzip-compressed
and base64-encoded in ``binaryData["records.jsonl.gz"]``.

A record names the commit (revision, subject, author), when the sync finished, its result, the
counts of each action, and every object created, configured or deleted as ``Kind/namespace/name``
with its API group: never an object's data, never a diff, so no Secret value can reach it.

Bounds: at most :data:`MAX_RECORDS` records and :data:`MAX_BYTES` of encoded payload (the API
server refuses a ConfigMap over 1 MiB); the oldest records are dropped first (for bytes, down to
:data:`LOW_WATER` of the bound) and counted in the ``clew.dev/audit-dropped`` annotation. One
record lists at most :data:`MAX_OBJECTS` objects (the rest are counted in ``objectsOmitted``). A
sync that changed nothing and ended as the previous record did (same revision, same result) is
not recorded again: interval syncs would otherwise push every real change out of the trail
within a day or two.

Writing is best effort (:class:`AuditRecorder`): a failed write is logged and never fails the
sync. Reading (:func:`read_trail`, :func:`list_trails`) is for ``clew audit``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, ClusterError, Conflict, NotFound
from clew.model import Action, ChangeSet, ClewError, CommitInfo, ObjectRef
from clew.report.auditpayload import (
    LOW_WATER,
    MAX_BYTES,
    MAX_RECORDS,
    Bounded,
    CorruptTrail,
    bound,
    decode,
    encode,
)
from clew.report.audittrail import (
    APPLICATION_LABEL,
    AUDIT_LABEL,
    DATA_KEY,
    FIELD_MANAGER,
    AuditTrail,
    configmap,
    configmap_name,
    list_trails,
    read_trail,
)

__all__ = [
    "APPLICATION_LABEL",
    "AUDIT_LABEL",
    "DATA_KEY",
    "FIELD_MANAGER",
    "LOW_WATER",
    "MAX_BYTES",
    "MAX_OBJECTS",
    "MAX_RECORDS",
    "AuditRecorder",
    "AuditTrail",
    "Bounded",
    "CorruptTrail",
    "bound",
    "configmap",
    "configmap_name",
    "decode",
    "encode",
    "list_trails",
    "read_trail",
    "record",
    "timestamp",
]

log = logging.getLogger("clew.report.audit")


MAX_OBJECTS = 1000  # per record; a sync touching more is counted in objectsOmitted
_TEXT_LIMIT = 200  # commit subject and author, as status.history
_MESSAGE_LIMIT = 512
_RECORDED = (Action.CREATED, Action.CONFIGURED, Action.DELETED)
_COUNTED = (Action.CREATED, Action.CONFIGURED, Action.DELETED, Action.UNCHANGED, Action.FAILED)
_ATTEMPTS = 3  # optimistic-lock retries of one write
_KEEP_BYTES = 32 * 1024  # a trail kept between writes, at most: 1,000 Applications, 32 MiB
_IDENTITY = ("revision", "result")  # a no-op sync ending like the last record adds nothing


# -- records (pure) ---------------------------------------------------------------------------


def timestamp(moment: dt.datetime | None = None) -> str:
    """RFC 3339 in UTC with milliseconds: syncs of one Application often finish within a second,
    and ``clew audit --since`` should be able to tell them apart."""
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def record(
    *,
    revision: str,
    commit: CommitInfo | None,
    result: str,
    changes: ChangeSet,
    message: str = "",
    duration: float = 0.0,
    time: str | None = None,
    max_objects: int = MAX_OBJECTS,
) -> dict[str, Any]:
    """One sync as an audit record: the commit, the outcome, and each object created,
    configured or deleted (``Kind/namespace/name``, its group and the action). Only object
    references are taken from ``changes``: never a diff, so never data."""
    objects = [
        {"action": c.action.value, "object": str(c.ref), "group": c.ref.group}
        for c in changes.changes
        if c.action in _RECORDED
    ]
    counts = changes.counts()
    return {
        "time": time or timestamp(),
        "revision": revision,
        "subject": commit.subject[:_TEXT_LIMIT] if commit else "",
        "author": f"{commit.author} <{commit.email}>"[:_TEXT_LIMIT] if commit else "",
        "commitTime": commit.time if commit else "",
        "result": result,
        "message": message[:_MESSAGE_LIMIT],
        "durationSeconds": round(duration, 3),
        "counts": {a.value: counts[a] for a in _COUNTED},
        "objects": objects[:max_objects],
        "objectsOmitted": max(0, len(objects) - max_objects),
    }


def repeats(previous: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """A record not worth keeping: nothing changed, and the previous sync ended the same way."""
    return bool(
        previous is not None
        and not new.get("objects")
        and not new.get("objectsOmitted")
        and all(previous.get(k) == new.get(k) for k in _IDENTITY)
    )


# -- writing --------------------------------------------------------------------------------


class AuditRecorder:
    """Appends records to each Application's audit ConfigMap with server-side apply, under the
    bounds. Best effort: :meth:`write` logs and returns False on any failure.

    Every write carries the ConfigMap's resourceVersion as a precondition, so a write that
    crossed another writer's (the UI, another replica) fails with a conflict and is re-read and
    merged. The trail this recorder last wrote is kept (when small) with its version, so the next
    write is one apply and no GET; a repeated no-op sync costs no request at all; and the first
    write of an Application is a create, which finds an existing trail by its conflict.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        max_records: int = MAX_RECORDS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if max_records < 1 or max_bytes < 16 * 1024:
            raise ValueError("an audit trail keeps at least 1 record and 16 KiB")
        self.cluster = cluster
        self.max_records = max_records
        self.max_bytes = max_bytes
        # (namespace, name) → (uid, the newest record's revision and result)
        self._last: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        # (namespace, name) → the trail as written: only its version can say it is still current
        self._written: dict[tuple[str, str], _Written] = {}

    async def write(self, app: Mapping[str, Any], new: dict[str, Any]) -> bool:
        """Append ``new`` to ``app``'s trail; True when written, False when skipped or failed."""
        meta = app.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return False
        last = self._last.get(_key(meta))
        if last is not None and last[0] == uid and repeats(last[1], new):
            return False
        try:
            for attempt in range(_ATTEMPTS):
                try:
                    return await self._append(app, uid, new, read=attempt > 0)
                except (Conflict, NotFound):
                    # Written or deleted by someone else since: read it again.
                    self._written.pop(_key(meta), None)
            log.warning("audit record for %s/%s lost: conflicting writes", *_key(meta))
        except (ClusterError, ClewError, ValueError, OSError) as exc:
            self._written.pop(_key(meta), None)
            log.warning("audit record for %s/%s not written: %s", *_key(meta), exc)
        except Exception:
            # Best effort means a bug here must not fail the sync either; the trace is logged.
            self._written.pop(_key(meta), None)
            log.exception("audit record for %s/%s not written", *_key(meta))
        return False

    async def _append(
        self, app: Mapping[str, Any], uid: str, new: dict[str, Any], *, read: bool
    ) -> bool:
        meta = app["metadata"]
        written = None if read else self._written.get(_key(meta))
        version: str | None
        if written is not None and written.uid == uid:
            records, dropped, version = decode(written.payload), written.dropped, written.version
        elif read:
            records, dropped, version = await self._read(meta, uid)
        else:  # the first write since start: create it; one that exists is a conflict
            records, dropped, version = [], 0, None
        if records and repeats(records[-1], new):
            self._remember(meta, uid, records[-1])
            return False
        bounded = await asyncio.to_thread(
            bound, [*records, new], max_records=self.max_records, max_bytes=self.max_bytes
        )
        if bounded.dropped:
            log.info(
                "audit trail of %s/%s at its bound: dropped %d oldest record(s)",
                *_key(meta),
                bounded.dropped,
            )
        body = configmap(app, bounded, dropped)
        if written is not None:
            stored = await self._patch(body, written.version)
        elif version is None:
            # None on the server: create, so that a trail written meanwhile is a conflict.
            stored = await self._send("POST", body, None)
        else:
            # Optimistic lock: the apply fails with a conflict if the ConfigMap changed since.
            body["metadata"]["resourceVersion"] = version
            stored = await self.cluster.apply(body, field_manager=FIELD_MANAGER, force=True)
        self._remember(meta, uid, new)
        stored_meta = stored.get("metadata") or {}
        if len(bounded.payload) <= _KEEP_BYTES and stored_meta.get("resourceVersion"):
            self._written[_key(meta)] = _Written(
                uid, bounded.payload, dropped + bounded.dropped, str(stored_meta["resourceVersion"])
            )
        else:
            self._written.pop(_key(meta), None)
        return True

    async def _read(
        self, meta: Mapping[str, Any], uid: str
    ) -> tuple[list[dict[str, Any]], int, str | None]:
        """The records on the server, how many were dropped, and the version to write over
        (None: there is no trail)."""
        name = configmap_name(str(meta["name"]))
        try:
            live = await self.cluster.get("v1", "ConfigMap", name, meta["namespace"])
        except NotFound:
            return [], 0, None
        version = str(live["metadata"]["resourceVersion"])
        try:
            trail = AuditTrail.of(live)
        except CorruptTrail as exc:
            log.warning("%s; starting a new audit trail", exc.message)
            return [], 0, version
        # Records of an earlier Application of the same name are not this one's.
        if trail.owner_uid != uid:
            return [], 0, version
        return trail.records, trail.dropped, version

    async def _patch(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        """Replace the payload of the trail this recorder wrote last. A merge patch (not an
        apply, which would re-create a trail deleted since) with the version as precondition."""
        meta = body["metadata"]
        patch = {
            "metadata": {"resourceVersion": version, "annotations": meta["annotations"]},
            "binaryData": body["binaryData"],
        }
        return await self._send("PATCH", body, patch)

    async def _send(self, method: str, body: dict[str, Any], patch: Any) -> dict[str, Any]:
        """POST ``body``, or PATCH it with ``patch``, as the audit's field manager. Conflict
        (AlreadyExists, a stale version) and NotFound go to the caller, which reads again."""
        resource = await self.cluster.resource_for("v1", "ConfigMap")
        meta = body["metadata"]
        path = resource.path(meta["namespace"], meta["name"] if patch is not None else None)
        return await self.cluster.request(
            method,
            path,
            params={"fieldManager": FIELD_MANAGER},
            body=body if patch is None else patch,
            content_type="application/json" if patch is None else "application/merge-patch+json",
            ref=ObjectRef.from_object(body),
        )

    def _remember(self, meta: Mapping[str, Any], uid: str, newest: Mapping[str, Any]) -> None:
        self._last[_key(meta)] = (uid, {k: newest.get(k) for k in _IDENTITY})


@dataclass(frozen=True, slots=True)
class _Written:
    uid: str
    payload: str
    dropped: int
    version: str


def _key(meta: Mapping[str, Any]) -> tuple[str, str]:
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
