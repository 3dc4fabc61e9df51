"""The bounds on what one render may produce, so hostile or broken input fails fast and small.

Every renderer's output is held to the same three limits (plain files, Kustomize and Helm alike):

- ``max_bytes`` (default :data:`MAX_RENDER_BYTES`, 32 MiB): the manifests read (files, or a tool's
  standard output, which is read with this cap and the tool stopped beyond it), and again the
  objects they render to, measured as the compact JSON sent to the API server. YAML aliases are
  counted expanded, so a "billion laughs" file cannot grow past it either.
- ``max_objects`` (default :data:`MAX_OBJECTS`, 10,000): objects per render, that is per
  Application.
- :data:`MAX_OBJECT_BYTES` (3 MiB, fixed): one object, as JSON. kube-apiserver refuses a request
  body larger than 3 MiB with 413, so an object over it can never be applied; the check names
  the object and its file before any request is sent. (etcd's own limit, 1.5 MiB by default,
  applies to the stored object, which the server reports itself.)

YAML alias expansion is also limited the way Go's ``gopkg.in/yaml.v3`` limits it (the library
kubectl and the API server use): once a stream has more than 1,000 nodes and 100 of them come from
aliases, at most 99% may come from aliases, falling to 10% between 400,000 and 4,000,000 nodes.
Unlike yaml.v3, clew counts a whole file (all its documents) together, not each document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from clew.model import Manifest
from clew.model.frozen import remembered
from clew.render.errors import InvalidManifestError

MAX_RENDER_BYTES = 32 * 1024 * 1024
MAX_OBJECTS = 10_000
MAX_OBJECT_BYTES = 3 * 1024 * 1024

_RATIO_LOW = 400_000
_RATIO_HIGH = 4_000_000

__all__ = [
    "MAX_OBJECTS",
    "MAX_OBJECT_BYTES",
    "MAX_RENDER_BYTES",
    "allowed_alias_ratio",
    "check_output",
    "excessive_aliasing",
]


def allowed_alias_ratio(decoded: int) -> float:
    """The share of ``decoded`` nodes that may come from aliases (yaml.v3 ``allowedAliasRatio``)."""
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def excessive_aliasing(decoded: int, aliased: int) -> bool:
    """Whether ``aliased`` of ``decoded`` nodes is more aliasing than yaml.v3 would accept."""
    return aliased > 100 and decoded > 1000 and aliased / decoded > allowed_alias_ratio(decoded)


def _size(obj: object) -> int:
    """``obj`` as compact JSON, in bytes; measured once for a frozen (cached, unchanging) object."""
    return remembered(obj, _SIZE, lambda: _measure(obj))


_SIZE = "render.size"


def _measure(obj: object) -> int:
    # A measure, not the encoding the client sends: bytes values (!!binary) count by their repr,
    # keys JSON cannot hold are skipped (the API server rejects such objects itself).
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=repr, skipkeys=True)
    return len(text.encode())


def check_output(
    manifests: Iterable[Manifest],
    *,
    max_bytes: int = MAX_RENDER_BYTES,
    max_objects: int = MAX_OBJECTS,
    where: str = "",
) -> None:
    """Refuse a render with more than ``max_objects`` objects, one object over
    :data:`MAX_OBJECT_BYTES`, or more than ``max_bytes`` in all (as JSON). Stops at the first
    excess, so an oversized render costs no more than the limit to measure."""
    total = 0
    for count, manifest in enumerate(manifests, 1):
        if count > max_objects:
            raise InvalidManifestError(
                f"renders more than {max_objects} objects, the limit for one Application",
                file=where,
                hint="split it into several Applications, or raise the object limit",
            )
        size = _size(manifest.obj)
        if size > MAX_OBJECT_BYTES:
            raise InvalidManifestError(
                f"{manifest.ref} is {size} bytes as JSON, over the API server's "
                f"{MAX_OBJECT_BYTES} byte request limit",
                file=manifest.origin,
                hint="no API server accepts an object this large: move the data out of the "
                "manifest (a volume, an image, several objects)",
            )
        total += size
        if total > max_bytes:
            raise InvalidManifestError(
                f"renders more than {max_bytes} bytes of objects (as JSON), the limit for one "
                "Application",
                file=where,
                hint="split it into several Applications, or raise the render byte limit",
            )
