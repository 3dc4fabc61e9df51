"""Durations as Kubernetes users write them: Go's ``time.ParseDuration`` form (``90s``, ``5m``,
``1h30m``, ``1.5h``, ``500ms``), one parser for the CLI flags, the Application CRD and
NotificationPolicies, so a value that works in one place works in all of them."""

from __future__ import annotations

import re

__all__ = ["DURATION_RE", "parse_duration"]

DURATION_RE = r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+"
"""The schema pattern (CRDs): one or more ``<number><unit>``, units ``ms s m h``."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_LONG = r"([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+"


def parse_duration(text: str, *, days: bool = False, bare_seconds: bool = False) -> float:
    """Seconds in a Go-style duration (``30s``, ``1h30m``, ``1.5h``, ``500ms``).

    ``days`` also accepts ``d`` and ``w`` (for look-backs such as ``--since 7d``, which Go has
    not); ``bare_seconds`` accepts a plain number as seconds (command-line flags that took
    seconds before they took durations). Raises :class:`ValueError` otherwise.
    """
    if bare_seconds and isinstance(text, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)
    if not isinstance(text, str) or not re.fullmatch(_LONG if days else DURATION_RE, text):
        example = "7d, 24h, 30m" if days else "30s, 5m, 1h30m or 500ms"
        raise ValueError(f"{text!r} is not a duration such as {example}")
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
