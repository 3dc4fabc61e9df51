"""The ``applicationsets.clew.dev`` CustomResourceDefinition, as a plain dict.

Generators and the template are kept loosely typed here (``x-kubernetes-preserve-unknown-fields``):
a template holds ``{{…}}`` where the Application schema wants patterns, and each generated
Application is validated in full when it is made (``clew.controller.appsets.plan``) and by
the Application CRD when it is applied. What can be checked up front is: the policy, the
interval, at least one generator, a template with a name.
"""

from __future__ import annotations

import copy
from typing import Any

from clew.controller.api.schema import (
    count,
    custom_resource_definition,
    duration,
    object_schema,
    rule,
    string_map,
)
from clew.controller.api.spec import GROUP
from clew.controller.api.status_schema import STATUS

__all__ = [
    "APPLICATIONS_MAX",
    "APPLICATION_SET_CRD",
    "APPLICATION_SET_CRD_NAME",
    "DEFAULT_INTERVAL",
    "DEFAULT_SYNC_POLICY",
    "KIND",
    "PLURAL",
    "SYNC_POLICIES",
]

# The controller (clew.controller.appsets) sits above the API; install manifests sit in it: so
# the names the two share are defined here.
KIND = "ApplicationSet"
PLURAL = "applicationsets"
SYNC_POLICIES = ("create-only", "create-update", "sync")
DEFAULT_SYNC_POLICY = "create-update"
DEFAULT_INTERVAL = "3m"
APPLICATIONS_MAX = 500  # names listed in status.applications
APPLICATION_SET_CRD_NAME = f"{PLURAL}.{GROUP}"
_LOOSE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

_SPEC = object_schema(
    "Generators give parameter sets; each fills the template into one Application.",
    {
        "generators": {
            "type": "array",
            "minItems": 1,
            "maxItems": 16,
            "description": "list, git (directories or files), matrix or merge of two.",
            "items": {**_LOOSE, "description": "Exactly one of list, git, matrix, merge."},
        },
        "template": object_schema(
            "An Application's metadata and spec; string values may hold {{param}}.",
            {
                "metadata": object_schema(
                    "Name (required), labels and annotations of each Application.",
                    {
                        "name": {"type": "string", "minLength": 1, "maxLength": 253},
                        "labels": string_map("Labels of each generated Application."),
                        "annotations": string_map("Annotations of each generated Application."),
                    },
                    required=["name"],
                ),
                "spec": {**_LOOSE, "description": "An Application spec (docs/application.md)."},
            },
            required=["metadata", "spec"],
        ),
        "syncPolicy": {
            "type": "string",
            "enum": list(SYNC_POLICIES),
            "default": DEFAULT_SYNC_POLICY,
            "description": "create-only; create-update (default); sync also deletes"
            " Applications no generator gives any more.",
        },
        "interval": duration("How often to run the generators again.", DEFAULT_INTERVAL),
    },
    required=["generators", "template"],
)

_STATUS = object_schema(
    "What the controller generated and did; written through the status subresource.",
    {
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        "conditions": copy.deepcopy(STATUS["properties"]["conditions"]),
        "applications": {
            "type": "array",
            "maxItems": APPLICATIONS_MAX,
            "items": {"type": "string"},
            "description": f"The generated Applications' names (the first {APPLICATIONS_MAX}).",
        },
        "applicationCount": count("How many Applications the generators gave."),
    },
)

_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": _SPEC,
        "status": _STATUS,
    },
    "required": ["spec"],
    # The set's name is the value of a label on each Application: at most 63 characters.
    **rule("size(self.metadata.name) <= 63", "the name must be at most 63 characters"),
}

APPLICATION_SET_CRD: dict[str, Any] = custom_resource_definition(
    APPLICATION_SET_CRD_NAME,
    KIND,
    PLURAL,
    _SCHEMA,
    columns=[
        {"name": "Applications", "type": "integer", "jsonPath": ".status.applicationCount"},
        {"name": "Policy", "type": "string", "jsonPath": ".spec.syncPolicy"},
    ],
    short_names=["appset"],
)
