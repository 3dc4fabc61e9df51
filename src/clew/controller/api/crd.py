"""The ``applications.clew.dev`` CustomResourceDefinition, as a plain dict.

The schema is structural and complete: the API server defaults and validates every field of
docs/application.md, so the controller reads a spec that is already whole. Patterns, limits and
defaults come from :mod:`clew.controller.api.spec`, which applies the same ones to Applications read
from files. CEL rules (``x-kubernetes-validations``) cover what a pattern cannot: durations longer
than zero, ``initialDelay <= maxDelay``, paths that stay inside the repository, helm options only
for helm, and an Application that depends on itself.

A golden copy lives in tests/unit/fixtures/controller/application-crd.yaml; a change here shows up
there as a reviewable diff.
"""

from __future__ import annotations

from typing import Any

from clew.controller.api.spec import (
    DEFAULT_ADOPT,
    DEFAULT_INITIAL_DELAY,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_DELAY,
    DEFAULT_PATH,
    DEFAULT_PRUNE,
    DEFAULT_REF,
    DEFAULT_RENDER_KIND,
    DEFAULT_SELF_HEAL,
    DEFAULT_SUSPEND,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT,
    DEPENDS_ON_MAX,
    DNS_LABEL_MAX,
    DNS_LABEL_RE,
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_RE,
    DURATION_MAX,
    DURATION_RE,
    ESCAPING_PATH_RE,
    GROUP,
    HELM_RELEASE_MAX,
    KIND,
    PLURAL,
    REF_MAX,
    REPO_PATH_MAX,
    REPO_URL_MAX,
    REPO_URL_RE,
    REVISION_RE,
    URL_PASSWORD_MESSAGE,
    URL_PASSWORD_RE,
    VERSION,
    RenderKind,
)

__all__ = ["APPLICATION_CRD", "CRD_NAME"]

CRD_NAME = f"{PLURAL}.{GROUP}"
_HISTORY_MAX = 10
DRIFT_OBJECTS_MAX = 5

Schema = dict[str, Any]


def _string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, "minLength": 1, **extra}


def _matching(description: str, pattern: str, max_length: int, **extra: Any) -> Schema:
    return _string(description, pattern=f"^({pattern})$", maxLength=max_length, **extra)


def _boolean(description: str, default: bool) -> Schema:
    return {"type": "boolean", "description": description, "default": default}


def _count(description: str) -> Schema:
    return {"type": "integer", "format": "int64", "minimum": 0, "description": description}


def _time(description: str) -> Schema:
    return {"type": "string", "format": "date-time", "description": description}


def _object(description: str, properties: Schema, *, required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _duration(description: str, default: str) -> Schema:
    return _matching(
        f"{description} A Go-style duration (30s, 5m, 1h30m).",
        DURATION_RE,
        DURATION_MAX,
        default=default,
        **_rule("duration(self) > duration('0s')", "must be longer than zero"),
    )


def _repo_path(description: str, **extra: Any) -> Schema:
    return _string(
        description,
        maxLength=REPO_PATH_MAX,
        **extra,
        **_rule(
            f"!self.startsWith('/') && !self.matches('{ESCAPING_PATH_RE}')",
            "must be a relative path inside the repository (no leading / or ..)",
        ),
    )


def _rule(rule: str, message: str, *, field_path: str = "") -> Schema:
    """One CEL validation, ready to splice into a schema (``**_rule(...)``)."""
    validation = {"rule": rule, "message": message}
    if field_path:
        validation["fieldPath"] = field_path
    return {"x-kubernetes-validations": [validation]}


def _secret_ref(description: str) -> Schema:
    name = _matching("Name of the Secret.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX)
    return _object(description, {"name": name}, required=["name"])


_SOURCE = _object(
    "Where the manifests come from.",
    {
        "repoURL": _matching(
            "Git repository: https://, ssh://, or scp-like git@host:path. Never with a password:"
            " credentials go in the Secret named by secretRef.",
            REPO_URL_RE,
            REPO_URL_MAX,
            **_rule(f"!self.matches('{URL_PASSWORD_RE}')", URL_PASSWORD_MESSAGE),
        ),
        "ref": _string(
            "Branch, tag, semver range ('>=1.2 <2') or commit SHA to follow.",
            maxLength=REF_MAX,
            default=DEFAULT_REF,
        ),
        "path": _repo_path("Directory inside the repository to render.", default=DEFAULT_PATH),
        "secretRef": _secret_ref(
            "A Secret in the Application's namespace with username and password (HTTPS) or "
            "identity and known_hosts (SSH)."
        ),
        "verify": _object(
            "Refuse commits not signed by these keys.",
            {
                "secretRef": _secret_ref(
                    "A Secret with allowed_signers (SSH) and/or gpg_public_keys (armored)."
                )
            },
            required=["secretRef"],
        ),
    },
    required=["repoURL"],
)

_RENDER = {
    **_object(
        "How the source directory becomes objects.",
        {
            "kind": {
                **_string(
                    "auto picks by the files present (Chart.yaml: helm, kustomization.yaml: "
                    "kustomize, else plain)."
                ),
                "enum": [k.value for k in RenderKind],
                "default": DEFAULT_RENDER_KIND.value,
            },
            "helm": _object(
                "Helm options (kind helm or auto).",
                {
                    "releaseName": _matching(
                        "Release name; default: the Application's name.",
                        DNS_SUBDOMAIN_RE,
                        HELM_RELEASE_MAX,
                    ),
                    "valuesFiles": {
                        "type": "array",
                        "description": "Values files inside the repository, in order.",
                        "maxItems": 32,
                        "items": _repo_path("A values file inside the repository."),
                    },
                    "values": {
                        "type": "object",
                        "description": "Inline values, applied after the values files.",
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                },
            ),
        },
    ),
    "default": {},
    **_rule(
        "!has(self.helm) || self.kind in ['auto', 'helm']",
        "helm options need render.kind helm or auto",
    ),
}

_RETRY = {
    **_object(
        "Backoff after a failure: initialDelay, doubling up to maxDelay.",
        {
            "initialDelay": _duration("First delay after a failure.", DEFAULT_INITIAL_DELAY),
            "maxDelay": _duration("Longest delay between attempts.", DEFAULT_MAX_DELAY),
        },
    ),
    "default": {},
    **_rule(
        # has(): the default {} is validated before its fields are defaulted.
        "!has(self.initialDelay) || !has(self.maxDelay) || "
        "duration(self.initialDelay) <= duration(self.maxDelay)",
        "initialDelay must not be longer than maxDelay",
    ),
}

_DEPENDENCY = _object(
    "An Application that must be Ready first.",
    {
        "name": _matching("Name of the Application.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX),
        "namespace": _matching(
            "Its namespace; default: this Application's namespace.", DNS_LABEL_RE, DNS_LABEL_MAX
        ),
    },
    required=["name"],
)

_SPEC = _object(
    "Which repository, ref and path to render, where to apply it, and how.",
    {
        "source": _SOURCE,
        "render": _RENDER,
        "destination": _object(
            "Where the objects go.",
            {
                "namespace": _matching(
                    "Namespace for namespaced objects without one, and for the inventory; "
                    "default: the Application's namespace.",
                    DNS_LABEL_RE,
                    DNS_LABEL_MAX,
                )
            },
        ),
        "interval": _duration(
            "How often to check Git and correct drift (jittered by 10%).", DEFAULT_INTERVAL
        ),
        "timeout": _duration("How long applying and waiting may take.", DEFAULT_TIMEOUT),
        "prune": _boolean(
            "Delete objects that left Git (never after a failed fetch, render or apply).",
            DEFAULT_PRUNE,
        ),
        "selfHeal": _boolean(
            "Revert changes made by others to fields clew manages.", DEFAULT_SELF_HEAL
        ),
        "wait": _boolean("Ready only when every object is healthy.", DEFAULT_WAIT),
        "suspend": _boolean("Stop all changes; status is still reported.", DEFAULT_SUSPEND),
        "adopt": _boolean(
            "Take over objects another Application or inventory owns (their ApplySet label "
            "moves here); without it such an object is a conflict and left alone.",
            DEFAULT_ADOPT,
        ),
        "retry": _RETRY,
        "dependsOn": {
            "type": "array",
            "description": "Applications that must be Ready before this one is synced.",
            "maxItems": DEPENDS_ON_MAX,
            "items": _DEPENDENCY,
        },
        "serviceAccountName": _matching(
            "A ServiceAccount in the Application's namespace the controller impersonates when "
            "applying; default: the controller's own identity.",
            DNS_LABEL_RE,
            DNS_LABEL_MAX,
        ),
        "pin": _object(
            "Apply exactly this revision instead of following ref (set by clew rollback).",
            {"revision": _matching("A full commit SHA (lowercase).", REVISION_RE, 64)},
            required=["revision"],
        ),
    },
    required=["source"],
)

# metav1.Condition, as every Kubernetes API writes it.
_CONDITION = _object(
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
        "lastTransitionTime": _time("When status last changed."),
    },
    required=["type", "status", "reason", "message", "lastTransitionTime"],
)

_HISTORY_ENTRY = _object(
    "One sync.",
    {
        "revision": {"type": "string", "description": "The commit synced."},
        "subject": {"type": "string", "description": "Its subject line."},
        "author": {"type": "string", "description": "Its author, 'Name <email>'."},
        "time": _time("When the sync ran."),
        "result": {"type": "string", "description": "Succeeded, or the failing reason."},
        "created": _count("Objects created."),
        "configured": _count("Objects changed."),
        "deleted": _count("Objects pruned."),
    },
    required=["revision", "time", "result"],
)

_STATUS = _object(
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
        "inventory": _object(
            "Summary of the objects this Application owns.",
            {"entries": _count("How many objects the inventory holds.")},
        ),
        "resources": _object(
            "Health of the owned objects at the last check.",
            {
                "current": _count("Healthy objects."),
                "inProgress": _count("Objects still converging."),
                "failed": _count("Failed objects."),
                "other": _count("Objects terminating, missing, or of unknown health."),
            },
        ),
        "lastHandledReconcileAt": {
            "type": "string",
            "description": "The clew.dev/reconcile-requested-at value the last reconcile handled.",
        },
        "drift": _object(
            "Changes made by others to fields clew manages.",
            {
                "detected": _count("Drifted objects seen but not reverted."),
                "corrected": _count("Drifted objects reverted (self-heal)."),
                "lastCorrected": _time("When drift was last reverted."),
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
            "description": f"Recent syncs, newest first, at most {_HISTORY_MAX}.",
            "maxItems": _HISTORY_MAX,
            "items": _HISTORY_ENTRY,
        },
    },
)

_SCHEMA = {
    "type": "object",
    "description": "Renders a path of a Git repository at a ref and keeps the cluster in sync.",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": _SPEC,
        "status": _STATUS,
    },
    "required": ["spec"],
    # metadata.namespace is not visible to CEL; a dependency naming itself without a namespace is
    # caught here, with a namespace by the controller (clew.controller.api.spec.parse).
    **_rule(
        "!has(self.spec) || !has(self.spec.dependsOn) || self.spec.dependsOn.all(d, "
        "has(d.__namespace__) || d.name != self.metadata.name)",
        "an Application cannot depend on itself",
        field_path=".spec.dependsOn",
    ),
}

_READY = '.status.conditions[?(@.type=="Ready")]'

APPLICATION_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {
        "name": CRD_NAME,
        "labels": {"app.kubernetes.io/name": "clew", "app.kubernetes.io/part-of": "clew"},
    },
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {
            "kind": KIND,
            "listKind": f"{KIND}List",
            "plural": PLURAL,
            "singular": KIND.lower(),
            # Not "apps": kubectl already resolves that to the apps API group for many users.
            "shortNames": ["app"],
            "categories": ["clew"],
        },
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Ready", "type": "string", "jsonPath": f"{_READY}.status"},
                    {"name": "Reason", "type": "string", "jsonPath": f"{_READY}.reason"},
                    {
                        "name": "Revision",
                        "type": "string",
                        "jsonPath": ".status.lastAppliedRevision",
                        "priority": 0,
                    },
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": _SCHEMA},
            }
        ],
    },
}
