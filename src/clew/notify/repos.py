"""Which forge repository an Application's ``repoURL`` names: GitHub's ``owner/repo`` and
GitLab's project path (``group/subgroup/project``), from the https, ssh:// and scp-like
(``git@host:owner/repo.git``) forms.

Only the path is read: the host is whatever the target's API URL says. A forge served under a
path prefix (``https://host/gitlab/group/project``) cannot be told apart from a deeper group,
which is why targets may name the repository explicitly.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from clew.model import ClewError

__all__ = [
    "UnknownRepository",
    "github_repository",
    "gitlab_project",
    "gitlab_project_id",
    "repository_path",
]

_SCP = re.compile(r"(?:[^@/]+@)?(?:\[[^\]/]+\]|[^:/\[\]]+):(?P<path>.+)")
_SEGMENT = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")


class UnknownRepository(ClewError):
    """No forge repository can be read from the URL; set it on the target."""


def repository_path(url: str) -> str:
    """The repository's path on its server, without slashes around it or a ``.git`` suffix:
    ``https://github.com/org/shop.git`` and ``git@github.com:org/shop`` give ``org/shop``."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            raise UnknownRepository(f"a {parts.scheme}:// URL names no forge repository")
        path = parts.path
    else:
        match = _SCP.fullmatch(url)
        if match is None:
            raise UnknownRepository("a local path names no forge repository")
        path = match["path"]
    path = path.strip("/").removesuffix(".git").strip("/")
    segments = path.split("/") if path else []
    if not segments or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise UnknownRepository("the repository URL has no owner/name path")
    return "/".join(segments)


def github_repository(url: str) -> str:
    """``owner/repo`` for the GitHub statuses API; exactly two path segments."""
    path = repository_path(url)
    if path.count("/") != 1:
        raise UnknownRepository(
            f"{path!r} is not owner/repo", hint="set repository: owner/repo on the target"
        )
    return path


def gitlab_project(url: str) -> str:
    """The project path (``group/sub/project``) for the GitLab API; at least two segments."""
    path = repository_path(url)
    if "/" not in path:
        raise UnknownRepository(
            f"{path!r} is not namespace/project", hint="set project: group/project on the target"
        )
    return path


def gitlab_project_id(path: str) -> str:
    """The URL-encoded form GitLab takes in place of a numeric id (``group%2Fproject``)."""
    return quote(path, safe="")
