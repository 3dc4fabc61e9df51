"""Building blocks of an OpenAPI v3 schema for a CRD: typed fields with their descriptions,
patterns and CEL rules, so the Application schema reads as a list of fields."""

from __future__ import annotations

from typing import Any

from clew.controller.api.fields import DURATION_MAX, ESCAPING_PATH_RE, REPO_PATH_MAX
from clew.controller.api.rules import DNS_SUBDOMAIN_MAX, DNS_SUBDOMAIN_RE
from clew.controller.api.spec import DURATION_RE, GROUP, VERSION

__all__ = [
    "Schema",
    "boolean",
    "count",
    "custom_resource_definition",
    "duration",
    "matching",
    "object_schema",
    "repo_path",
    "rule",
    "secret_ref",
    "string",
    "string_map",
    "time",
]

Schema = dict[str, Any]


def string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, "minLength": 1, **extra}


def matching(description: str, pattern: str, max_length: int, **extra: Any) -> Schema:
    return string(description, pattern=f"^({pattern})$", maxLength=max_length, **extra)


def boolean(description: str, default: bool) -> Schema:
    return {"type": "boolean", "description": description, "default": default}


def count(description: str) -> Schema:
    return {"type": "integer", "format": "int64", "minimum": 0, "description": description}


def time(description: str) -> Schema:
    return {"type": "string", "format": "date-time", "description": description}


def object_schema(
    description: str, properties: Schema, *, required: list[str] | None = None
) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def duration(description: str, default: str) -> Schema:
    return matching(
        f"{description} A Go-style duration (30s, 5m, 1h30m).",
        DURATION_RE,
        DURATION_MAX,
        default=default,
        **rule("duration(self) > duration('0s')", "must be longer than zero"),
    )


def repo_path(description: str, **extra: Any) -> Schema:
    return string(
        description,
        maxLength=REPO_PATH_MAX,
        **extra,
        **rule(
            f"!self.startsWith('/') && !self.matches('{ESCAPING_PATH_RE}')",
            "must be a relative path inside the repository (no leading / or ..)",
        ),
    )


def rule(rule: str, message: str, *, field_path: str = "") -> Schema:
    """One CEL validation, ready to splice into a schema (``**rule(...)``)."""
    validation = {"rule": rule, "message": message}
    if field_path:
        validation["fieldPath"] = field_path
    return {"x-kubernetes-validations": [validation]}


def secret_ref(description: str) -> Schema:
    name = matching("Name of the Secret.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX)
    return object_schema(description, {"name": name}, required=["name"])


def string_map(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string"},
    }


_READY = '.status.conditions[?(@.type=="Ready")]'


def custom_resource_definition(
    name: str,
    kind: str,
    plural: str,
    schema: Schema,
    columns: list[Schema] | None = None,
    short_names: list[str] | None = None,
) -> Schema:
    """A namespaced clew CRD of one served version with a status subresource; ``kubectl get``
    shows Ready and its Reason, then ``columns``, then Age."""
    names: Schema = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = short_names
    names["categories"] = ["clew"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "clew", "app.kubernetes.io/part-of": "clew"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": names,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Ready", "type": "string", "jsonPath": f"{_READY}.status"},
                        {"name": "Reason", "type": "string", "jsonPath": f"{_READY}.reason"},
                        *(columns or []),
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }
