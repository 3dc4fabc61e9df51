"""The audit trail's payload: records as JSON lines, gzip-compressed and base64-encoded, and the
bounds that keep it inside one ConfigMap (:func:`bound`). Pure; :mod:`clew.report.audit` writes
and reads it."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clew.model import ClewError

__all__ = [
    "LOW_WATER",
    "MAX_BYTES",
    "MAX_RECORDS",
    "Bounded",
    "CorruptTrail",
    "bound",
    "decode",
    "encode",
]

MAX_RECORDS = 500
MAX_BYTES = 900 * 1024  # of base64 payload: under the 1 MiB a ConfigMap may hold, with room
LOW_WATER = 0.9  # trimmed for bytes, a trail keeps this share of MAX_BYTES: room to grow


class CorruptTrail(ClewError):
    """An audit ConfigMap whose payload cannot be decoded."""


def encode(records: Sequence[Mapping[str, Any]]) -> str:
    """JSON lines, gzip, base64: what ``binaryData`` holds. ``mtime=0`` keeps equal records
    byte-equal, so re-applying them is a no-op for the API server."""
    lines = "".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records
    )
    return base64.b64encode(gzip.compress(lines.encode(), compresslevel=6, mtime=0)).decode()


def decode(payload: str) -> list[dict[str, Any]]:
    """The records of an encoded payload; raises :class:`CorruptTrail`."""
    try:
        text = gzip.decompress(base64.b64decode(payload, validate=True)).decode()
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (binascii.Error, OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptTrail(f"the audit payload cannot be decoded: {exc}") from exc
    if not all(isinstance(r, dict) for r in records):
        raise CorruptTrail("the audit payload holds something other than records")
    return records


@dataclass(frozen=True, slots=True)
class Bounded:
    records: list[dict[str, Any]]
    payload: str  # encode(records), at most max_bytes long
    dropped: int  # records dropped from the front


def bound(
    records: Sequence[dict[str, Any]],
    *,
    max_records: int = MAX_RECORDS,
    max_bytes: int = MAX_BYTES,
    low_water: float = LOW_WATER,
) -> Bounded:
    """The newest records within both bounds, oldest first.

    At most ``max_records``; and when the payload would exceed ``max_bytes``, the oldest records
    go until it is under ``low_water`` of it (found by a binary search over how many of the
    newest records to keep), so a trail at its limit is trimmed once in a while rather than
    searched at every sync. If even the newest record alone is too large, its object list goes
    (counted in ``objectsOmitted``): the trail always shows that the sync happened.
    """
    kept = list(records[-max_records:]) if max_records > 0 else []
    dropped = len(records) - len(kept)
    payload = encode(kept)
    if len(payload) <= max_bytes:
        return Bounded(kept, payload, dropped)
    target = int(max_bytes * low_water)
    fitting: dict[int, str] = {}
    low, high = 0, len(kept) - 1  # how many to keep is in [low, high]; all of them is too many
    while low < high:
        middle = (low + high + 1) // 2
        candidate = encode(kept[-middle:])
        if len(candidate) <= target:
            low, fitting[middle] = middle, candidate
        else:
            high = middle - 1
    if low == 0:
        newest = dict(kept[-1])
        omitted = len(newest.get("objects") or [])
        newest["objectsOmitted"] = int(newest.get("objectsOmitted") or 0) + omitted
        newest["objects"] = []
        return Bounded([newest], encode([newest]), dropped + len(kept) - 1)
    return Bounded(kept[-low:], fitting[low], dropped + len(kept) - low)
