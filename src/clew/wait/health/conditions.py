"""Tolerant readers for plain objects: fields, integers and status conditions.

Health rules run on whatever the API server (or a golden fixture) hands them, so a missing or
oddly typed field must read as "not there yet", never raise: a half-written status is normal
while a controller is catching up.
"""

from __future__ import annotations

from typing import Any

from clew.model import Health, HealthResult


def field(obj: dict[str, Any], *path: str) -> Any:
    """The value at ``path`` (e.g. ``"status", "phase"``), or ``None`` where any step is missing."""
    current: Any = obj
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def integer(obj: dict[str, Any], *path: str, default: int = 0) -> int:
    value = field(obj, *path)
    # bool is an int in Python; a boolean where a count belongs is a malformed object, not 1.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return default


def text(obj: dict[str, Any], *path: str, default: str = "") -> str:
    value = field(obj, *path)
    return value if isinstance(value, str) else default


def conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """``status.conditions``, keeping only well-formed entries (dicts with a ``type``)."""
    found = field(obj, "status", "conditions")
    if not isinstance(found, list):
        return []
    return [c for c in found if isinstance(c, dict) and isinstance(c.get("type"), str)]


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The condition of type ``kind``; the first one wins, as in kstatus."""
    return next((c for c in conditions(obj) if c["type"] == kind), None)


def status_of(obj: dict[str, Any], kind: str) -> str:
    """``"True"``, ``"False"``, ``"Unknown"``, or ``""`` when the condition is absent."""
    found = condition(obj, kind)
    return str(found.get("status") or "") if found else ""


def explain(cond: dict[str, Any] | None) -> str:
    """``reason: message`` of a condition, leaving out whichever part is empty."""
    if not cond:
        return ""
    parts = [str(cond.get(k) or "").strip() for k in ("reason", "message")]
    return ": ".join(p for p in parts if p)


def current(message: str) -> HealthResult:
    return HealthResult(Health.CURRENT, message)


def in_progress(message: str) -> HealthResult:
    return HealthResult(Health.IN_PROGRESS, message)


def failed(message: str) -> HealthResult:
    return HealthResult(Health.FAILED, message)
