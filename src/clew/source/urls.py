"""The canonical spelling of a Git repository URL, so a push and an Application that name the same
repository in different forms (https, ssh://, scp-like, trailing ``.git``) are seen to agree."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["normalize_repo_url"]

_SCP = re.compile(r"(?:[^@/]+@)?(?P<host>\[[^\]/]+\]|[^:/\[\]]+):(?P<path>.*)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}


def normalize_repo_url(url: str) -> str:
    """One spelling per repository: ``host[:port]/path`` with the host lowercased, scheme, user
    and default port dropped, and a trailing ``.git`` or ``/`` stripped, so the https, ssh:// and
    scp-like (``git@host:org/repo.git``) forms compare equal. Local paths and ``file://`` URLs
    become the bare path. The path keeps its case (many Git servers are case-sensitive).

    Raises ValueError for an empty URL or one with no host or an invalid port.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty repository URL")
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return _trim(parts.path) or "/"
        host = parts.hostname or ""
        if not host:
            raise ValueError(f"repository URL has no host: {parts.scheme}://...")
        if ":" in host:
            host = f"[{host}]"
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
        if port is not None and port != _DEFAULT_PORTS.get(scheme.rpartition("+")[2]):
            host = f"{host}:{port}"
        path = parts.path
    elif not text.startswith("/") and (match := _SCP.fullmatch(text)):
        host, path = match["host"].lower(), match["path"]
    else:
        return _trim(text) or "/"
    path = _trim(path).lstrip("/")
    return f"{host}/{path}" if path else host


def _trim(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path).rstrip("/")
    return path.removesuffix(".git").rstrip("/")
