"""A desired object and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clew.model.refs import ObjectRef


@dataclass(frozen=True, slots=True)
class Manifest:
    """One rendered object. ``origin`` names its source for error messages: a path relative to
    the snapshot root plus the document index, e.g. ``apps/web.yaml#2``."""

    obj: dict[str, Any]
    origin: str
    # Computed once: a plan reads each object's ref many times (1.6 million rebuilds over ten
    # 5,000-object pushes). Every stage that changes an object's identity builds a new Manifest.
    ref: ObjectRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", ObjectRef.from_object(self.obj))
