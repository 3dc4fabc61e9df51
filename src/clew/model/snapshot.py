"""What the source stage hands to the render stage: an immutable directory at one revision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """The commit a snapshot was taken from (absent for a plain local directory)."""

    sha: str
    author: str
    email: str
    subject: str
    time: str  # ISO 8601, as git prints it with %cI


@dataclass(frozen=True, slots=True)
class Snapshot:
    """``root`` is read-only and never changes; ``path`` is the directory to render inside it.

    ``revision`` is the full commit SHA for Git sources, or ``local:<digest prefix>`` for a
    directory; ``digest`` is a sha256 over the tree's paths and contents.
    """

    root: Path
    path: Path
    source: str
    ref: str
    revision: str
    digest: str
    commit: CommitInfo | None = None
