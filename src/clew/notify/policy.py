"""The typed spec of a ``NotificationPolicy`` and which notices it selects.

A policy reaches clew only from the API server, where the CRD schema
(:mod:`clew.controller.api.notification_crd`) has already defaulted and validated it; :func:`parse`
reads it defensively all the same (types, required fields, enums, durations), because a stored
object may predate a schema change, and names the field (``spec.targets[1].type``) when it is
wrong. Patterns of names are left to the schema.

This package sits below the controller and never imports it, so the two names it shares with the
Application (:data:`GROUP`, :data:`VERSION`) and Go-style durations are spelled here again; a unit
test pins them to :mod:`clew.controller.api.spec`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clew.model import ClewError
from clew.model.duration import DURATION_RE as DURATION_RE
from clew.model.duration import parse_duration
from clew.report.notices import NoticeKind

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URLS",
    "DEFAULT_BURST",
    "DEFAULT_DEDUPE_WINDOW",
    "DEFAULT_PER_MINUTE",
    "GROUP",
    "KIND",
    "PLURAL",
    "SECRET_KEYS",
    "VERSION",
    "AppSelector",
    "InvalidPolicy",
    "Policy",
    "RateLimit",
    "Requirement",
    "Target",
    "TargetType",
    "parse",
    "parse_duration",
]

GROUP = "clew.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "NotificationPolicy"
PLURAL = "notificationpolicies"

DEFAULT_DEDUPE_WINDOW = "1h"
DEFAULT_PER_MINUTE = 60  # Slack allows about one message a second per incoming webhook
DEFAULT_BURST = 10
TARGETS_MAX = 16
NAMES_MAX = 256


class TargetType(enum.StrEnum):
    WEBHOOK = "webhook"  # generic JSON, optionally HMAC-signed
    SLACK = "slack"  # a Slack(-compatible) incoming webhook
    GITHUB = "github"  # commit statuses through the GitHub REST API
    GITLAB = "gitlab"  # commit statuses through the GitLab REST API


DEFAULT_API_URLS = {
    TargetType.GITHUB: "https://api.github.com",
    TargetType.GITLAB: "https://gitlab.com/api/v4",
}

# Keys each target type reads from its Secret; (required, optional).
SECRET_KEYS: dict[TargetType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    TargetType.WEBHOOK: ((), ("url", "secret", "ca.crt")),
    TargetType.SLACK: (("url",), ("ca.crt",)),
    TargetType.GITHUB: (("token",), ("ca.crt",)),
    TargetType.GITLAB: (("token",), ("ca.crt",)),
}


class InvalidPolicy(ClewError):
    """A NotificationPolicy does not match its schema; ``field`` is the path
    (``spec.targets[0].secretRef``)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``per_minute`` tokens refilled evenly, at most ``burst`` saved up."""

    per_minute: float = DEFAULT_PER_MINUTE
    burst: int = DEFAULT_BURST


@dataclass(frozen=True, slots=True)
class Target:
    """Where notices go. ``url`` only for webhooks (else in the Secret); ``repository`` is the
    GitHub ``owner/repo`` or GitLab project path, derived from the Application when absent."""

    name: str
    type: TargetType
    secret_name: str | None = None
    url: str | None = None
    api_url: str | None = None
    repository: str | None = None
    target_url: str | None = None
    rate_limit: RateLimit = field(default_factory=RateLimit)

    @property
    def api_base(self) -> str:
        return (self.api_url or DEFAULT_API_URLS.get(self.type, "")).rstrip("/")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry of a label selector."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        if self.operator == "In":
            return labels.get(self.key) in self.values
        return labels.get(self.key) not in self.values  # NotIn: also true when absent


@dataclass(frozen=True, slots=True)
class AppSelector:
    """Applications in the policy's namespace: named ones, or those whose labels match the
    selector (either suffices); neither given selects every Application there."""

    names: frozenset[str] = frozenset()
    match_labels: Mapping[str, str] | None = None
    match_expressions: tuple[Requirement, ...] = ()
    has_selector: bool = False

    def selects(self, name: str, labels: Mapping[str, str]) -> bool:
        if not self.names and not self.has_selector:
            return True
        if name in self.names:
            return True
        if not self.has_selector:
            return False
        wanted = self.match_labels or {}
        return all(labels.get(k) == v for k, v in wanted.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True, slots=True)
class Policy:
    namespace: str
    name: str
    generation: int
    targets: tuple[Target, ...]
    events: frozenset[NoticeKind] = frozenset(NoticeKind)
    applications: AppSelector = field(default_factory=AppSelector)
    dedupe_window: float = 3600.0
    suspend: bool = False

    def selects(
        self, kind: NoticeKind, namespace: str, app: str, labels: Mapping[str, str]
    ) -> bool:
        """Whether a notice of ``kind`` about Application ``namespace/app`` goes to the targets;
        a policy only ever covers its own namespace."""
        return (
            not self.suspend
            and namespace == self.namespace
            and kind in self.events
            and self.applications.selects(app, labels)
        )


def parse(obj: Mapping[str, Any]) -> Policy:
    """The :class:`Policy` of a NotificationPolicy dict; raises :class:`InvalidPolicy`."""
    meta = _mapping(obj.get("metadata"), "metadata", required=True)
    spec = _mapping(obj.get("spec"), "spec", required=True)
    events = frozenset(NoticeKind)
    if spec.get("events") is not None:
        names = _list(spec["events"], "spec.events")
        if not names:
            raise InvalidPolicy("must name at least one event", field="spec.events")
        events = frozenset(
            NoticeKind(_choice(e, f"spec.events[{i}]", [k.value for k in NoticeKind]))
            for i, e in enumerate(names)
        )
    targets = tuple(
        _target(_mapping(t, f"spec.targets[{i}]", required=True), f"spec.targets[{i}]")
        for i, t in enumerate(_list(spec.get("targets"), "spec.targets", required=True))
    )
    if not targets or len(targets) > TARGETS_MAX:
        raise InvalidPolicy(f"must have 1 to {TARGETS_MAX} targets", field="spec.targets")
    seen: set[str] = set()
    for i, target in enumerate(targets):
        if target.name in seen:
            raise InvalidPolicy(f"duplicate name {target.name!r}", field=f"spec.targets[{i}].name")
        seen.add(target.name)
    window = spec.get("dedupeWindow", DEFAULT_DEDUPE_WINDOW)
    try:
        dedupe_window = parse_duration(window)
    except ValueError as exc:
        raise InvalidPolicy(str(exc), field="spec.dedupeWindow") from None
    suspend = spec.get("suspend", False)
    if not isinstance(suspend, bool):
        raise InvalidPolicy("must be true or false", field="spec.suspend")
    return Policy(
        namespace=_string(meta.get("namespace"), "metadata.namespace"),
        name=_string(meta.get("name"), "metadata.name"),
        generation=int(meta.get("generation") or 0),
        targets=targets,
        events=events,
        applications=_applications(spec.get("applications")),
        dedupe_window=dedupe_window,
        suspend=suspend,
    )


def _target(spec: Mapping[str, Any], path: str) -> Target:
    kind = TargetType(_choice(spec.get("type"), f"{path}.type", [t.value for t in TargetType]))
    secret_ref = spec.get("secretRef")
    secret_name = None
    if secret_ref is not None:
        ref = _mapping(secret_ref, f"{path}.secretRef", required=True)
        secret_name = _string(ref.get("name"), f"{path}.secretRef.name")
    if secret_name is None and SECRET_KEYS[kind][0]:
        raise InvalidPolicy(f"a {kind} target needs a secretRef", field=f"{path}.secretRef")
    url = _optional_string(spec.get("url"), f"{path}.url")
    if kind is TargetType.WEBHOOK and url is None and secret_name is None:
        raise InvalidPolicy("a webhook target needs url or a secretRef with key url", field=path)
    if url is not None and kind is not TargetType.WEBHOOK:
        raise InvalidPolicy(f"url is for webhooks; a {kind} URL is secret", field=f"{path}.url")
    for only, types in (
        ("apiURL", (TargetType.GITHUB, TargetType.GITLAB)),
        ("repository", (TargetType.GITHUB,)),
        ("project", (TargetType.GITLAB,)),
        ("targetURL", (TargetType.GITHUB, TargetType.GITLAB)),
    ):
        if spec.get(only) is not None and kind not in types:
            raise InvalidPolicy(f"not used by a {kind} target", field=f"{path}.{only}")
    limit = _mapping(spec.get("rateLimit"), f"{path}.rateLimit")
    per_minute = limit.get("perMinute", DEFAULT_PER_MINUTE)
    burst = limit.get("burst", DEFAULT_BURST)
    if not _number(per_minute) or per_minute <= 0:
        raise InvalidPolicy("must be a number above 0", field=f"{path}.rateLimit.perMinute")
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        raise InvalidPolicy("must be an integer of at least 1", field=f"{path}.rateLimit.burst")
    return Target(
        name=_string(spec.get("name"), f"{path}.name"),
        type=kind,
        secret_name=secret_name,
        url=url,
        api_url=_optional_string(spec.get("apiURL"), f"{path}.apiURL"),
        repository=_optional_string(
            spec.get("project" if kind is TargetType.GITLAB else "repository"),
            f"{path}.{'project' if kind is TargetType.GITLAB else 'repository'}",
        ),
        target_url=_optional_string(spec.get("targetURL"), f"{path}.targetURL"),
        rate_limit=RateLimit(float(per_minute), burst),
    )


def _applications(value: Any) -> AppSelector:
    apps = _mapping(value, "spec.applications")
    names = frozenset(
        _string(n, f"spec.applications.names[{i}]")
        for i, n in enumerate(_list(apps.get("names"), "spec.applications.names"))
    )
    if apps.get("selector") is None:
        return AppSelector(names=names)
    selector = _mapping(apps["selector"], "spec.applications.selector", required=True)
    labels = _mapping(selector.get("matchLabels"), "spec.applications.selector.matchLabels")
    requirements = []
    for i, item in enumerate(
        _list(selector.get("matchExpressions"), "spec.applications.selector.matchExpressions")
    ):
        path = f"spec.applications.selector.matchExpressions[{i}]"
        expr = _mapping(item, path, required=True)
        operator = _choice(
            expr.get("operator"), f"{path}.operator", ["In", "NotIn", "Exists", "DoesNotExist"]
        )
        values = [_string(v, f"{path}.values") for v in _list(expr.get("values"), path)]
        if (operator in ("In", "NotIn")) != bool(values):
            raise InvalidPolicy(f"{operator} needs values only for In and NotIn", field=path)
        requirements.append(
            Requirement(_string(expr.get("key"), path), operator, frozenset(values))
        )
    return AppSelector(
        names=names,
        match_labels={str(k): _string(v, f"matchLabels.{k}") for k, v in labels.items()},
        match_expressions=tuple(requirements),
        has_selector=True,
    )


# -- reading fields ---------------------------------------------------------------------------


def _mapping(value: Any, path: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidPolicy("must be a mapping", field=path)
    return value


def _list(value: Any, path: str, *, required: bool = False) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidPolicy("must be a list", field=path)
    if len(value) > NAMES_MAX:
        raise InvalidPolicy(f"must have at most {NAMES_MAX} items", field=path)
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidPolicy("must be a non-empty string", field=path)
    return value


def _optional_string(value: Any, path: str) -> str | None:
    return None if value is None else _string(value, path)


def _choice(value: Any, path: str, choices: list[str]) -> str:
    if value not in choices:
        raise InvalidPolicy(f"{value!r} is not one of: {', '.join(choices)}", field=path)
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
