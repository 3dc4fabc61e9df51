"""source: resolve a Git ref (or take a local directory) and hand out an immutable snapshot.

::

    cache = SnapshotCache(Path("/var/cache/clew"), max_bytes=2 << 30)
    source = GitSource("https://git.example/app.git", "^1.2", Credentials("me", token))
    snapshot = await cache.fetch(source, "deploy/prod")   # one ls-remote, a shallow fetch
    sha = await cache.resolve(source)                     # polling: one ls-remote

    snapshot = local(Path("."), "deploy/prod")            # CI: the directory in place

Errors are :class:`clew.model.SourceError` subclasses from :mod:`clew.source.errors`.

The Git cache, credentials and signature policies are imported on the first use of one of
their names: ``clew render`` of a local directory needs :func:`local` alone (start-up time,
tests/unit/test_cli_start.py).
"""

from __future__ import annotations

import typing as _typing

from clew.model import lazy
from clew.source.errors import (
    AuthenticationFailed,
    HostNotTrusted,
    PathEscapes,
    PathNotFound,
    RefNotFound,
    RepositoryNotFound,
    SignatureRejected,
    Unreachable,
)
from clew.source.local import local
from clew.source.tree import digest_tree

if _typing.TYPE_CHECKING:
    from clew.source.cache import GitSource, SnapshotCache
    from clew.source.credentials import Credentials
    from clew.source.signature import SignaturePolicy

_HOME = {
    "Credentials": "credentials",
    "GitSource": "cache",
    "SignaturePolicy": "signature",
    "SnapshotCache": "cache",
}

__all__ = [
    "AuthenticationFailed",
    "Credentials",
    "GitSource",
    "HostNotTrusted",
    "PathEscapes",
    "PathNotFound",
    "RefNotFound",
    "RepositoryNotFound",
    "SignaturePolicy",
    "SignatureRejected",
    "SnapshotCache",
    "Unreachable",
    "digest_tree",
    "local",
]


__getattr__ = lazy.exports(__name__, _HOME, globals())
