"""The ``notificationpolicies.clew.dev`` CustomResourceDefinition, as a plain dict.

A NotificationPolicy is namespaced and covers only Applications of its own namespace, so a team
that may edit its namespace can route its own notifications and read nothing of another's.
The schema validates what the controller would otherwise find out when sending: which fields
each target type takes (CEL rules), URLs that are http(s), unique target names. Names, enums and
defaults come from :mod:`clew.notify.policy`, which reads the same fields.

A golden copy lives in tests/unit/fixtures/notify/notificationpolicy-crd.yaml.
"""

from __future__ import annotations

import copy
from typing import Any

from clew.controller.api.crd import APPLICATION_CRD
from clew.controller.api.fields import DURATION_MAX
from clew.controller.api.rules import (
    DNS_LABEL_MAX,
    DNS_LABEL_RE,
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_RE,
)
from clew.controller.api.schema import custom_resource_definition
from clew.notify.policy import (
    DEFAULT_BURST,
    DEFAULT_DEDUPE_WINDOW,
    DEFAULT_PER_MINUTE,
    DURATION_RE,
    GROUP,
    KIND,
    NAMES_MAX,
    PLURAL,
    TARGETS_MAX,
    TargetType,
)
from clew.report.notices import NoticeKind

__all__ = ["NOTIFICATION_POLICY_CRD", "NOTIFICATION_POLICY_CRD_NAME"]

NOTIFICATION_POLICY_CRD_NAME = f"{PLURAL}.{GROUP}"
_URL_MAX = 2048
_HTTP_URL = r"^https?://[^\s]+$"

Schema = dict[str, Any]


def _string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, "minLength": 1, **extra}


def _matching(description: str, pattern: str, max_length: int) -> Schema:
    return _string(description, pattern=f"^({pattern})$", maxLength=max_length)


def _url(description: str) -> Schema:
    return _string(description, pattern=_HTTP_URL, maxLength=_URL_MAX)


def _rule(rule: str, message: str) -> Schema:
    return {"rule": rule, "message": message}


_SELECTOR = {
    "type": "object",
    "description": "A label selector over the Applications' labels.",
    "properties": {
        "matchLabels": {
            "type": "object",
            "description": "Labels an Application must carry, with these values.",
            "additionalProperties": {"type": "string", "maxLength": 63},
        },
        "matchExpressions": {
            "type": "array",
            "maxItems": 32,
            "items": {
                "type": "object",
                "properties": {
                    "key": _string("Label key.", maxLength=317),
                    "operator": {
                        "type": "string",
                        "enum": ["In", "NotIn", "Exists", "DoesNotExist"],
                    },
                    "values": {
                        "type": "array",
                        "maxItems": 64,
                        "items": {"type": "string", "maxLength": 63},
                    },
                },
                "required": ["key", "operator"],
                "x-kubernetes-validations": [
                    _rule(
                        "(self.operator in ['In', 'NotIn']) == (has(self.values) && "
                        "size(self.values) > 0)",
                        "In and NotIn need values; Exists and DoesNotExist take none",
                    )
                ],
            },
        },
    },
}

_TARGET = {
    "type": "object",
    "description": "Where notices go.",
    "properties": {
        "name": _matching(
            "Names the target in status and metrics; unique in the policy.",
            DNS_LABEL_RE,
            DNS_LABEL_MAX,
        ),
        "type": {
            "type": "string",
            "description": "webhook (generic JSON), slack, github or gitlab (commit statuses).",
            "enum": [t.value for t in TargetType],
        },
        "url": _url("webhook only: where to POST, if not under key url in the Secret."),
        "secretRef": {
            "type": "object",
            "description": (
                "A Secret in the policy's namespace. webhook: url, secret (HMAC key); slack: url; "
                "github and gitlab: token. Any: ca.crt (PEM) to trust a private CA."
            ),
            "properties": {
                "name": _matching("Name of the Secret.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX)
            },
            "required": ["name"],
        },
        "apiURL": _url(
            "github and gitlab: API base URL (default https://api.github.com, "
            "https://gitlab.com/api/v4)."
        ),
        "repository": _string(
            "github: owner/repo; default: from the Application's repoURL.",
            pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
            maxLength=256,
        ),
        "project": _string(
            "gitlab: project path (group/subgroup/project); default: from the repoURL.",
            pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$",
            maxLength=1024,
        ),
        "targetURL": _url(
            "github and gitlab: link of the commit status; {namespace}, {name} and {revision} "
            "are replaced."
        ),
        "rateLimit": {
            "type": "object",
            "description": "Token bucket: at most perMinute sends a minute, bursts of burst.",
            "properties": {
                "perMinute": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 6000,
                    "default": DEFAULT_PER_MINUTE,
                },
                "burst": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000,
                    "default": DEFAULT_BURST,
                },
            },
        },
    },
    "required": ["name", "type"],
    "x-kubernetes-validations": [
        _rule(
            "self.type == 'webhook' || has(self.secretRef)",
            "slack, github and gitlab targets need a secretRef",
        ),
        _rule(
            "self.type != 'webhook' || has(self.url) || has(self.secretRef)",
            "a webhook target needs url, or a secretRef with key url",
        ),
        _rule("!has(self.url) || self.type == 'webhook'", "url is for webhook targets only"),
        _rule(
            "!has(self.apiURL) || self.type in ['github', 'gitlab']",
            "apiURL is for github and gitlab targets only",
        ),
        _rule(
            "!has(self.targetURL) || self.type in ['github', 'gitlab']",
            "targetURL is for github and gitlab targets only",
        ),
        _rule("!has(self.repository) || self.type == 'github'", "repository is for github only"),
        _rule("!has(self.project) || self.type == 'gitlab'", "project is for gitlab only"),
    ],
}

_SPEC = {
    "type": "object",
    "description": "Which outcomes of which Applications go to which targets.",
    "properties": {
        "events": {
            "type": "array",
            "description": "Outcomes to send; default: all.",
            "minItems": 1,
            "maxItems": len(NoticeKind),
            "items": {"type": "string", "enum": [k.value for k in NoticeKind]},
            "x-kubernetes-list-type": "set",
            "default": [k.value for k in NoticeKind],
        },
        "applications": {
            "type": "object",
            "description": (
                "Applications of this namespace: those named, and those the selector matches; "
                "neither: all."
            ),
            "properties": {
                "names": {
                    "type": "array",
                    "maxItems": NAMES_MAX,
                    "items": _matching(
                        "An Application's name.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX
                    ),
                    "x-kubernetes-list-type": "set",
                },
                "selector": _SELECTOR,
            },
        },
        "targets": {
            "type": "array",
            "minItems": 1,
            "maxItems": TARGETS_MAX,
            "items": _TARGET,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
        "dedupeWindow": {
            **_matching(
                "A repeat of the same outcome (kind, revision, reason) of an Application within "
                "this long is sent once. A Go-style duration; 0s sends every repeat.",
                DURATION_RE,
                DURATION_MAX,
            ),
            "default": DEFAULT_DEDUPE_WINDOW,
        },
        "suspend": {
            "type": "boolean",
            "description": "Send nothing while true.",
            "default": False,
        },
    },
    "required": ["targets"],
}

_TARGET_STATUS = {
    "type": "object",
    "description": "How the last deliveries to one target went.",
    "properties": {
        "name": {"type": "string"},
        "type": {"type": "string"},
        "lastSuccessTime": {"type": "string", "format": "date-time"},
        "lastFailureTime": {"type": "string", "format": "date-time"},
        "lastError": {
            "type": "string",
            "maxLength": 1024,
            "description": "Why the last failed delivery failed (never a secret).",
        },
    },
    "required": ["name", "type"],
}

_APPLICATION_STATUS = APPLICATION_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
_STATUS = {
    "type": "object",
    "description": "Whether the policy was accepted and how its targets are doing.",
    "properties": {
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        # metav1.Condition, exactly as the Application's status has it.
        "conditions": copy.deepcopy(
            _APPLICATION_STATUS["properties"]["status"]["properties"]["conditions"]
        ),
        "targets": {
            "type": "array",
            "maxItems": TARGETS_MAX,
            "items": _TARGET_STATUS,
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    },
}

NOTIFICATION_POLICY_CRD: dict[str, Any] = custom_resource_definition(
    NOTIFICATION_POLICY_CRD_NAME,
    KIND,
    PLURAL,
    {
        "type": "object",
        "description": (
            "Sends outcomes of Applications in its namespace to webhooks, Slack, "
            "and GitHub or GitLab commit statuses."
        ),
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _SPEC,
            "status": _STATUS,
        },
        "required": ["spec"],
    },
)
