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
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, ClusterError, Conflict, NotFound
from clew.model import Action, ChangeSet, ClewError, CommitInfo
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

AUDIT_LABEL = "clew.dev/audit"
APPLICATION_LABEL = "clew.dev/application"
DROPPED_ANNOTATION = "clew.dev/audit-dropped"
FORMAT_ANNOTATION = "clew.dev/audit-format"
FORMAT = "jsonl+gzip/v1"
DATA_KEY = "records.jsonl.gz"
FIELD_MANAGER = "clew-audit"
OWNER_API_VERSION, OWNER_KIND = "clew.dev/v1alpha1", "Application"

MAX_OBJECTS = 1000  # per record; a sync touching more is counted in objectsOmitted
_TEXT_LIMIT = 200  # commit subject and author, as status.history
_MESSAGE_LIMIT = 512
_RECORDED = (Action.CREATED, Action.CONFIGURED, Action.DELETED)
_COUNTED = (Action.CREATED, Action.CONFIGURED, Action.DELETED, Action.UNCHANGED, Action.FAILED)
_NAME_MAX, _LABEL_MAX = 253, 63
_ATTEMPTS = 3  # optimistic-lock retries of one write
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


# -- the ConfigMap (pure) ---------------------------------------------------------------------


def _hashed(text: str, limit: int) -> str:
    """``text``, or, when too long, a prefix and a hash that keep it unique and valid."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: limit - 11].rstrip('-.')}-{digest}"


def configmap_name(application: str) -> str:
    return _hashed(f"clew-audit-{application}", _NAME_MAX)


def configmap(app: Mapping[str, Any], bounded: Bounded, dropped_before: int = 0) -> dict[str, Any]:
    """The audit ConfigMap of Application ``app`` holding ``bounded``, for server-side apply."""
    meta = app["metadata"]
    name = str(meta["name"])
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(name),
            "namespace": meta["namespace"],
            "labels": {
                AUDIT_LABEL: "true",
                APPLICATION_LABEL: _hashed(name, _LABEL_MAX),
                "app.kubernetes.io/managed-by": "clew",
            },
            "annotations": {
                FORMAT_ANNOTATION: FORMAT,
                DROPPED_ANNOTATION: str(dropped_before + bounded.dropped),
            },
            "ownerReferences": [
                {
                    "apiVersion": OWNER_API_VERSION,
                    "kind": OWNER_KIND,
                    "name": name,
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "binaryData": {DATA_KEY: bounded.payload},
    }


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """The records of one Application, oldest first, and how many were dropped at the bounds."""

    namespace: str
    application: str
    records: list[dict[str, Any]]
    dropped: int = 0
    owner_uid: str = ""

    @classmethod
    def of(cls, cm: Mapping[str, Any]) -> AuditTrail:
        """The trail in an audit ConfigMap; raises :class:`CorruptTrail`."""
        meta = cm.get("metadata") or {}
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == OWNER_KIND]
        labels = meta.get("labels") or {}
        application = str(owners[0]["name"]) if owners else str(labels.get(APPLICATION_LABEL, ""))
        payload = (cm.get("binaryData") or {}).get(DATA_KEY)
        where = f"ConfigMap/{meta.get('namespace', '')}/{meta.get('name', '')}"
        try:
            records = decode(payload) if payload else []
            dropped = int((meta.get("annotations") or {}).get(DROPPED_ANNOTATION) or 0)
        except CorruptTrail as exc:
            raise CorruptTrail(f"{where}: {exc.message}") from exc
        except ValueError:
            raise CorruptTrail(
                f"{where}: annotation {DROPPED_ANNOTATION} is not a number"
            ) from None
        return cls(
            namespace=str(meta.get("namespace") or ""),
            application=application,
            records=records,
            dropped=dropped,
            owner_uid=str(owners[0].get("uid") or "") if owners else "",
        )


async def read_trail(cluster: Cluster, namespace: str, application: str) -> AuditTrail | None:
    """The trail of one Application; None when it has none (yet)."""
    try:
        cm = await cluster.get("v1", "ConfigMap", configmap_name(application), namespace)
    except NotFound:
        return None
    return AuditTrail.of(cm)


async def list_trails(cluster: Cluster, namespace: str | None) -> list[AuditTrail]:
    """Every trail in ``namespace`` (None: all namespaces), by namespace and Application."""
    items, _ = await cluster.list_objects(
        "v1", "ConfigMap", namespace, label_selector=f"{AUDIT_LABEL}=true"
    )
    trails = [AuditTrail.of(cm) for cm in items]
    return sorted(trails, key=lambda t: (t.namespace, t.application))


# -- writing --------------------------------------------------------------------------------


class AuditRecorder:
    """Appends records to each Application's audit ConfigMap with server-side apply, under the
    bounds. Best effort: :meth:`write` logs and returns False on any failure.

    The read-modify-write is guarded by the ConfigMap's resourceVersion (a conflict re-reads);
    the work queue never runs two reconciles of one Application at once anyway. The last record
    written per Application is remembered, so a repeated no-op sync costs no request at all.
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
            for _ in range(_ATTEMPTS):
                try:
                    return await self._append(app, uid, new)
                except Conflict:
                    continue  # someone wrote in between: read again
            log.warning("audit record for %s/%s lost: conflicting writes", *_key(meta))
        except (ClusterError, ClewError, ValueError, OSError) as exc:
            log.warning("audit record for %s/%s not written: %s", *_key(meta), exc)
        except Exception:
            # Best effort means a bug here must not fail the sync either; the trace is logged.
            log.exception("audit record for %s/%s not written", *_key(meta))
        return False

    async def _append(self, app: Mapping[str, Any], uid: str, new: dict[str, Any]) -> bool:
        meta = app["metadata"]
        name = configmap_name(str(meta["name"]))
        try:
            live: dict[str, Any] | None = await self.cluster.get(
                "v1", "ConfigMap", name, meta["namespace"]
            )
        except NotFound:
            live = None
        records: list[dict[str, Any]] = []
        dropped = 0
        if live is not None:
            try:
                trail = AuditTrail.of(live)
            except CorruptTrail as exc:
                log.warning("%s; starting a new audit trail", exc.message)
            else:
                # Records of an earlier Application of the same name are not this one's.
                if trail.owner_uid == uid:
                    records, dropped = trail.records, trail.dropped
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
        if live is not None:
            # Optimistic lock: the apply fails with a conflict if the ConfigMap changed since.
            body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        await self.cluster.apply(body, field_manager=FIELD_MANAGER, force=True)
        self._remember(meta, uid, new)
        return True

    def _remember(self, meta: Mapping[str, Any], uid: str, newest: Mapping[str, Any]) -> None:
        self._last[_key(meta)] = (uid, {k: newest.get(k) for k in _IDENTITY})


def _key(meta: Mapping[str, Any]) -> tuple[str, str]:
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
