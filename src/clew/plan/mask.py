"""Masking of Secret values in anything clew prints: a diff must show *that* a value changed,
never what it is."""

from __future__ import annotations

import copy
from typing import Any

MASK = "*** (masked)"
MASK_BEFORE = "*** (masked, changed)"
MASK_AFTER = "*** (masked, new value)"


def is_secret(obj: dict[str, Any] | None) -> bool:
    return obj is not None and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def mask_pair(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Mask ``data``/``stringData`` of a Secret pair: equal values get the same mask, changed
    values different masks, so the diff still shows which keys changed."""
    if not (is_secret(before) or is_secret(after)):
        return before, after
    before, after = copy.deepcopy(before), copy.deepcopy(after)
    for field in ("data", "stringData"):
        old = (before or {}).get(field) or {}
        new = (after or {}).get(field) or {}
        if before is not None and old:
            before[field] = {k: MASK if new.get(k) == v else MASK_BEFORE for k, v in old.items()}
        if after is not None and new:
            after[field] = {k: MASK if old.get(k) == v else MASK_AFTER for k, v in new.items()}
    return before, after


def mask(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with every Secret value replaced (for printing a single object)."""
    return mask_pair(obj, obj)[0] or obj
