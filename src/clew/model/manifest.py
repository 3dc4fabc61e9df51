"""A desired object and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clew.model.refs import ObjectRef


@dataclass(frozen=True, slots=True)
class Manifest:
    """One rendered object. ``origin`` names its source for error messages: a path relative to
    the snapshot root plus the document index, e.g. ``apps/web.yaml#2``."""

    obj: dict[str, Any]
    origin: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.from_object(self.obj)
