"""docs/benchmarks.md is written by several benchmarks: each owns one section between its own
markers and replaces only that, so running one never erases another's figures or the hand-written
notes around them."""

from __future__ import annotations

from pathlib import Path


def write_section(doc: Path, section: str, begin: str, end: str) -> None:
    """Replace the part of ``doc`` from ``begin`` to ``end`` with ``section`` (which starts with
    ``begin`` and ends with ``end``), or append it when ``doc`` has no such part yet."""
    old = doc.read_text() if doc.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + section + rest.split(end, 1)[1]
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "") + section + "\n"
    doc.write_text(new)
