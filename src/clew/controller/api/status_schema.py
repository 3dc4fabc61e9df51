"""The schema of an Application's status: conditions, revisions, inventory, drift, history."""

from __future__ import annotations

from clew.controller.api.rules import RESOURCE_MESSAGE_MAX, RESOURCES_MAX, SyncState
from clew.controller.api.schema import count, object_schema, time
from clew.model import Health

__all__ = ["DRIFT_OBJECTS_MAX", "HISTORY_MAX", "STATUS"]

HISTORY_MAX = 10
DRIFT_OBJECTS_MAX = 5


_CONDITION = object_schema(
    "One kstatus condition: Ready, Reconciling or Stalled.",
    {
        "type": {"type": "string", "maxLength": 316, "description": "Ready, Reconciling, Stalled."},
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": {
            "type": "string",
            "maxLength": 1024,
            "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
            "description": "Why, in CamelCase: FetchFailed, RenderFailed, Succeeded, …",
        },
        "message": {"type": "string", "maxLength": 32768, "description": "For humans."},
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        "lastTransitionTime": time("When status last changed."),
    },
    required=["type", "status", "reason", "message", "lastTransitionTime"],
)

_HISTORY_ENTRY = object_schema(
    "One sync.",
    {
        "revision": {"type": "string", "description": "The commit synced."},
        "subject": {"type": "string", "description": "Its subject line."},
        "author": {"type": "string", "description": "Its author, 'Name <email>'."},
        "time": time("When the sync ran."),
        "result": {"type": "string", "description": "Succeeded, or the failing reason."},
        "created": count("Objects created."),
        "configured": count("Objects changed."),
        "deleted": count("Objects pruned."),
    },
    required=["revision", "time", "result"],
)

_RESOURCE = object_schema(
    "One managed object: what it is, its health, and whether it is as Git says.",
    {
        "group": {"type": "string", "maxLength": 253, "description": "API group; '' for core."},
        "version": {"type": "string", "maxLength": 63},
        "kind": {"type": "string", "maxLength": 63},
        "namespace": {"type": "string", "maxLength": 63, "description": "'' if cluster-wide."},
        "name": {"type": "string", "maxLength": 253},
        "health": {
            "type": "string",
            "enum": [h.value for h in Health],
            "description": "kstatus: Current, InProgress, Failed, Terminating, NotFound, Unknown.",
        },
        "message": {
            "type": "string",
            "maxLength": 4 * RESOURCE_MESSAGE_MAX,  # characters, not bytes: room for any text
            "description": "Why, in one line.",
        },
        "sync": {
            "type": "string",
            "enum": [s.value for s in SyncState],
            "description": (
                "Synced; OutOfSync (the last sync did not apply it); Drifted (changed outside "
                "Git, not reverted); PrunePending (not in Git any more, still live)."
            ),
        },
    },
    required=["kind", "name", "health", "sync"],
)

STATUS = object_schema(
    "What the controller observed and did; written through the status subresource.",
    {
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        "conditions": {
            "type": "array",
            "items": _CONDITION,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
        "lastAppliedRevision": {
            "type": "string",
            "description": "The last revision applied successfully.",
        },
        "lastAttemptedRevision": {
            "type": "string",
            "description": "The last revision a sync was attempted for.",
        },
        "inventory": object_schema(
            "Summary of the objects this Application owns.",
            {"entries": count("How many objects the inventory holds.")},
        ),
        "resources": {
            "type": "array",
            "description": (
                f"The managed objects at the last sync, at most {RESOURCES_MAX}: when there are "
                "more, those not healthy or not in sync are kept first (resourcesTotal)."
            ),
            "maxItems": RESOURCES_MAX,
            "items": _RESOURCE,
        },
        "resourcesTotal": count("How many managed objects there are (resources may hold fewer)."),
        "resourcesTruncated": {
            "type": "boolean",
            "description": f"True when there are more than {RESOURCES_MAX} objects.",
        },
        "healthCounts": object_schema(
            "Health of the owned objects at the last check.",
            {
                "current": count("Healthy objects."),
                "inProgress": count("Objects still converging."),
                "failed": count("Failed objects."),
                "other": count("Objects terminating, missing, or of unknown health."),
            },
        ),
        "lastHandledReconcileAt": {
            "type": "string",
            "description": "The clew.dev/reconcile-requested-at value the last reconcile handled.",
        },
        "drift": object_schema(
            "Changes made by others to fields clew manages.",
            {
                "detected": count("Drifted objects seen but not reverted."),
                "corrected": count("Drifted objects reverted (self-heal)."),
                "lastCorrected": time("When drift was last reverted."),
                "lastObjects": {
                    "type": "array",
                    "description": (
                        "The objects of the latest drift, newest first, at most "
                        f"{DRIFT_OBJECTS_MAX} (Kind/namespace/name)."
                    ),
                    "maxItems": DRIFT_OBJECTS_MAX,
                    "items": {"type": "string", "maxLength": 512},
                },
            },
        ),
        "history": {
            "type": "array",
            "description": f"Recent syncs, newest first, at most {HISTORY_MAX}.",
            "maxItems": HISTORY_MAX,
            "items": _HISTORY_ENTRY,
        },
    },
)
