"""The typed spec of an ApplicationSet, parsed from a plain dict (docs/applicationsets.md).

An ApplicationSet generates Applications: its generators yield sets of parameters, and each set
fills ``spec.template`` (an Application's metadata and spec with ``{{param}}`` placeholders).
``spec.syncPolicy`` says what the controller may do to the Applications it generated:

- ``create-only``: create the missing ones, never change or delete one;
- ``create-update`` (the default): also update them when the template or parameters change;
- ``sync``: also delete those no generator produces any more.

The CRD keeps generators and the template loosely typed (a template holds ``{{…}}`` where the
Application schema wants a pattern), so :func:`parse` checks them, naming the field at fault.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clew.controller.api.appset_crd import DEFAULT_INTERVAL, DEFAULT_SYNC_POLICY, KIND, PLURAL
from clew.controller.api.fields import InvalidSpec
from clew.controller.api.rules import URL_PASSWORD_RE
from clew.controller.api.spec import GROUP, VERSION, AppKey
from clew.model.duration import parse_duration

__all__ = [
    "API_VERSION",
    "CLUSTER_LABEL",
    "FIELD_MANAGER",
    "KIND",
    "PLURAL",
    "SET_LABEL",
    "AppSetSpec",
    "Clusters",
    "Generator",
    "GitDirectories",
    "GitFiles",
    "ListGenerator",
    "Matrix",
    "Merge",
    "Policy",
    "Requirement",
    "parse",
]

API_VERSION = f"{GROUP}/{VERSION}"
SET_LABEL = "clew.dev/application-set"  # on each generated Application: the set's name
FIELD_MANAGER = "clew-applicationset"  # server-side apply of generated Applications
CLUSTER_LABEL = "clew.dev/cluster"  # "true" on a kubeconfig Secret the clusters generator sees
MAX_NESTING = 3  # matrix/merge inside matrix/merge: deep trees are a mistake, not a need


class Policy(enum.StrEnum):
    CREATE_ONLY = "create-only"
    CREATE_UPDATE = "create-update"
    SYNC = "sync"


@dataclass(frozen=True, slots=True)
class ListGenerator:
    elements: tuple[Mapping[str, str], ...]


@dataclass(frozen=True, slots=True)
class GitSource:
    repo_url: str
    revision: str
    secret_name: str | None


@dataclass(frozen=True, slots=True)
class GitDirectories:
    """Directories matching ``include`` (globs, ``*`` within one segment, ``**`` across)
    and no ``exclude`` pattern."""

    source: GitSource
    include: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GitFiles:
    """YAML/JSON files matching ``paths``; each file (or each item of a list file) is one set."""

    source: GitSource
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry: ``In``, ``NotIn``, ``Exists`` or ``DoesNotExist``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Clusters:
    """The registered clusters (kubeconfig Secrets labelled ``clew.dev/cluster: "true"`` in
    the set's namespace) whose labels match every requirement; none: all of them."""

    requirements: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class Matrix:
    """Every combination of one set from ``first`` and one from ``second``."""

    first: Generator
    second: Generator


@dataclass(frozen=True, slots=True)
class Merge:
    """``first``'s sets, each updated by the set of ``second`` with the same ``keys`` values."""

    first: Generator
    second: Generator
    keys: tuple[str, ...]


Generator = ListGenerator | GitDirectories | GitFiles | Clusters | Matrix | Merge


@dataclass(frozen=True, slots=True)
class AppSetSpec:
    key: AppKey
    uid: str
    generators: tuple[Generator, ...]
    template: Mapping[str, Any]  # {"metadata": {...}, "spec": {...}}
    policy: Policy
    interval: float


def parse(obj: Mapping[str, Any]) -> AppSetSpec:
    """The :class:`AppSetSpec` of an ApplicationSet dict; raises :class:`InvalidSpec`."""
    meta = obj.get("metadata") or {}
    if len(str(meta.get("name") or "")) > 63:  # it is a label value on each Application
        raise InvalidSpec("must be at most 63 characters", field="metadata.name")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidSpec("must be a mapping", field="spec")
    generators = spec.get("generators")
    if not isinstance(generators, list) or not generators:
        raise InvalidSpec("must list at least one generator", field="spec.generators")
    parsed = tuple(_generator(g, f"spec.generators[{i}]", 0) for i, g in enumerate(generators))
    template = spec.get("template")
    if not isinstance(template, Mapping) or not isinstance(template.get("spec"), Mapping):
        raise InvalidSpec("must have metadata and spec", field="spec.template")
    if not isinstance(template.get("metadata"), Mapping) or not template["metadata"].get("name"):
        raise InvalidSpec(
            "must be set (e.g. '{{path.basename}}')", field="spec.template.metadata.name"
        )
    try:
        policy = Policy(spec.get("syncPolicy") or DEFAULT_SYNC_POLICY)
    except ValueError:
        choices = ", ".join(p.value for p in Policy)
        raise InvalidSpec(f"must be one of {choices}", field="spec.syncPolicy") from None
    try:
        interval = parse_duration(str(spec.get("interval") or DEFAULT_INTERVAL))
    except ValueError as exc:
        raise InvalidSpec(str(exc), field="spec.interval") from None
    return AppSetSpec(
        key=AppKey(str(meta.get("namespace") or "default"), str(meta.get("name") or "")),
        uid=str(meta.get("uid") or ""),
        generators=parsed,
        template=template,
        policy=policy,
        interval=interval,
    )


def _generator(raw: Any, field: str, depth: int) -> Generator:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise InvalidSpec(
            "must have exactly one of list, git, clusters, matrix, merge", field=field
        )
    [(kind, body)] = raw.items()
    if not isinstance(body, Mapping):
        raise InvalidSpec("must be a mapping", field=f"{field}.{kind}")
    field = f"{field}.{kind}"
    if kind == "list":
        return ListGenerator(_elements(body.get("elements"), f"{field}.elements"))
    if kind == "git":
        return _git(body, field)
    if kind in ("matrix", "merge"):
        if depth >= MAX_NESTING:
            raise InvalidSpec(f"nested deeper than {MAX_NESTING}", field=field)
        children = body.get("generators")
        if not isinstance(children, list) or len(children) != 2:
            raise InvalidSpec("must list exactly two generators", field=f"{field}.generators")
        first, second = (
            _generator(c, f"{field}.generators[{i}]", depth + 1) for i, c in enumerate(children)
        )
        if kind == "matrix":
            return Matrix(first, second)
        keys = body.get("mergeKeys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise InvalidSpec("must list the parameters to merge on", field=f"{field}.mergeKeys")
        return Merge(first, second, tuple(keys))
    if kind == "clusters":
        return Clusters(_selector(body.get("selector") or {}, f"{field}.selector"))
    raise InvalidSpec(f"unknown generator {kind!r}", field=field)


_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _selector(raw: Any, field: str) -> tuple[Requirement, ...]:
    """A Kubernetes label selector (``matchLabels``, ``matchExpressions``) as requirements."""
    if not isinstance(raw, Mapping) or set(raw) - {"matchLabels", "matchExpressions"}:
        raise InvalidSpec("must have only matchLabels and matchExpressions", field=field)
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping) or not all(
        isinstance(v, str | int | float | bool) for v in labels.values()
    ):
        raise InvalidSpec("must map label keys to values", field=f"{field}.matchLabels")
    out = [Requirement(str(k), "In", (_text(v),)) for k, v in labels.items()]
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise InvalidSpec("must be a list", field=f"{field}.matchExpressions")
    for i, expr in enumerate(expressions):
        where = f"{field}.matchExpressions[{i}]"
        if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str) or not expr["key"]:
            raise InvalidSpec("must have a key", field=where)
        operator, values = expr.get("operator"), expr.get("values") or []
        if operator not in _OPERATORS:
            raise InvalidSpec(f"operator must be one of {', '.join(_OPERATORS)}", field=where)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidSpec("values must be a list of strings", field=where)
        if operator in ("In", "NotIn") and not values:
            raise InvalidSpec(f"{operator} needs at least one value", field=where)
        if operator in ("Exists", "DoesNotExist") and values:
            raise InvalidSpec(f"{operator} takes no values", field=where)
        out.append(Requirement(str(expr["key"]), str(operator), tuple(values)))
    return tuple(out)


def _elements(raw: Any, field: str) -> tuple[Mapping[str, str], ...]:
    if not isinstance(raw, list):
        raise InvalidSpec("must be a list of mappings", field=field)
    out = []
    for i, element in enumerate(raw):
        if not isinstance(element, Mapping) or not all(
            isinstance(v, str | int | float | bool) for v in element.values()
        ):
            raise InvalidSpec("must map names to plain values", field=f"{field}[{i}]")
        out.append({str(k): _text(v) for k, v in element.items()})
    return tuple(out)


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _git(body: Mapping[str, Any], field: str) -> Generator:
    url = body.get("repoURL")
    if not isinstance(url, str) or not url:
        raise InvalidSpec("must be set", field=f"{field}.repoURL")
    if re.search(URL_PASSWORD_RE, url):  # it would show in status, logs and Events
        raise InvalidSpec(
            "must not carry a password (user:password@): name a Secret in secretRef",
            field=f"{field}.repoURL",
        )
    secret = (body.get("secretRef") or {}).get("name")
    source = GitSource(url, str(body.get("revision") or "HEAD"), str(secret) if secret else None)
    directories, files = body.get("directories"), body.get("files")
    if bool(directories) == bool(files):
        raise InvalidSpec("must have either directories or files", field=field)
    entries = directories or files
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("path"), str) and e["path"] for e in entries
    ):
        which = "directories" if directories else "files"
        raise InvalidSpec("must be a list of {path: glob}", field=f"{field}.{which}")
    for entry in entries:
        pattern = str(entry["path"])
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise InvalidSpec(f"{pattern!r} must stay inside the repository", field=field)
    if files:
        return GitFiles(source, tuple(str(e["path"]) for e in entries))
    include = tuple(str(e["path"]) for e in entries if not e.get("exclude"))
    exclude = tuple(str(e["path"]) for e in entries if e.get("exclude"))
    return GitDirectories(source, include, exclude)
