"""A readable unified YAML diff between the live object and what applying would store."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from clew.model import ObjectRef
from clew.plan.mask import mask_pair
from clew.plan.normalize import normalize

_TOP = ("apiVersion", "kind", "metadata", "spec", "data", "stringData")


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """Well-known top-level keys first (as people write manifests), the rest sorted."""
    first = {k: obj[k] for k in _TOP if k in obj}
    rest = {k: obj[k] for k in sorted(obj) if k not in first}
    return first | rest


def to_yaml(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return ""

    def sort(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: sort(value[k]) for k in sorted(value)}
        if isinstance(value, list):
            return [sort(v) for v in value]
        return value

    top = _ordered({k: sort(v) for k, v in obj.items()})
    return yaml.safe_dump(top, sort_keys=False, default_flow_style=False, width=120)


def unified_diff(
    ref: ObjectRef, live: dict[str, Any] | None, desired: dict[str, Any] | None
) -> str:
    """The diff from ``live`` to ``desired`` (both normalised and masked); empty if equal."""
    before, after = mask_pair(normalize(live), normalize(desired))
    lines = difflib.unified_diff(
        to_yaml(before).splitlines(keepends=True),
        to_yaml(after).splitlines(keepends=True),
        fromfile=f"live/{ref}" if live is not None else "/dev/null",
        tofile=f"desired/{ref}" if desired is not None else "/dev/null",
    )
    return "".join(lines)


def same(live: dict[str, Any] | None, desired: dict[str, Any] | None) -> bool:
    return normalize(live) == normalize(desired)
