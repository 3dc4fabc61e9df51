"""The audit trail's ConfigMap: its name and shape (pure), and reading it back
(:mod:`clew.report.audit` is the whole story: records, bounds, the writer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, NotFound
from clew.report.auditpayload import Bounded, CorruptTrail, decode

__all__ = [
    "APPLICATION_LABEL",
    "AUDIT_LABEL",
    "DATA_KEY",
    "FIELD_MANAGER",
    "AuditTrail",
    "configmap",
    "configmap_name",
    "list_trails",
    "read_trail",
]

AUDIT_LABEL = "clew.dev/audit"
APPLICATION_LABEL = "clew.dev/application"
DROPPED_ANNOTATION = "clew.dev/audit-dropped"
FORMAT_ANNOTATION = "clew.dev/audit-format"
FORMAT = "jsonl+gzip/v1"
DATA_KEY = "records.jsonl.gz"
FIELD_MANAGER = "clew-audit"
OWNER_API_VERSION, OWNER_KIND = "clew.dev/v1alpha1", "Application"
_NAME_MAX, _LABEL_MAX = 253, 63


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
