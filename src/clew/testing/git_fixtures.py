"""pytest fixtures for real Git servers on loopback (see `clew.testing.gitserver`).

Fixture names are stable API:

- `git_root` (session): directory holding the bare repositories both servers serve.
- `git_http` (session): `GitHttpServer` over `git_root`; users `HTTP_USER` ("clew") and
  `TOKEN_USER` ("x-access-token", GitHub-style token login), random secrets in `.users`.
  Request records are shared by the session: filter with `count(endpoint, repo=...)`.
- `git_http_env` (function): git environment logged in to `git_http` as `HTTP_USER`.
- `git_ssh` (session): `GitSshServer` over `git_root`; `git_ssh.git_env()` logs in.
- `git_repo` (function): a fresh `Repo` with a unique name under `git_root` and one commit
  on `main` (README.md); `git_repo.head()` is that commit.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from clew.testing.gitserver import GitHttpServer, GitSshServer, Repo, create_repo

__all__ = [
    "HTTP_USER",
    "TOKEN_USER",
    "git_http",
    "git_http_env",
    "git_repo",
    "git_root",
    "git_ssh",
]

HTTP_USER = "clew"
TOKEN_USER = "x-access-token"  # noqa: S105 - a user name, not a secret

_repo_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def git_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("git-root")


@pytest.fixture(scope="session")
def git_http(git_root: Path) -> Iterator[GitHttpServer]:
    users = {HTTP_USER: secrets.token_urlsafe(18), TOKEN_USER: secrets.token_hex(20)}
    with GitHttpServer(git_root, users=users) as server:
        yield server


@pytest.fixture
def git_http_env(git_http: GitHttpServer) -> dict[str, str]:
    return git_http.git_env_with_credentials(HTTP_USER, git_http.users[HTTP_USER])


@pytest.fixture(scope="session")
def git_ssh(git_root: Path) -> Iterator[GitSshServer]:
    with GitSshServer(git_root) as server:
        yield server


@pytest.fixture
def git_repo(
    git_root: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Repo:
    # Servers and root are shared by the session, so each test gets its own repository name.
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:48] or "repo"
    name = f"{slug}-{next(_repo_numbers)}"
    repo = create_repo(git_root, name, workdir=tmp_path_factory.mktemp("git-work"))
    # The name in the message keeps initial shas distinct across repositories.
    repo.commit({"README.md": f"# {name}\n"}, f"Initial commit of {name}")
    return repo
