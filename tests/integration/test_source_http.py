"""The source stage over real smart HTTP (git http-backend behind Basic auth).

Proves: branches, tags (lightweight and annotated), semver ranges, full and short SHAs resolve
to the commits the server has; a fetch hands out exactly that commit's files with its commit
info, for a password user and a token user, with no secret anywhere in the snapshot; wrong or
missing credentials, a missing ref or repository, a closed port and a silent server each fail
fast with their own error class and a hint, never with the secret in the message.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clew.model import SourceError
from clew.source import (
    AuthenticationFailed,
    Credentials,
    GitSource,
    RefNotFound,
    RepositoryNotFound,
    SnapshotCache,
    Unreachable,
)
from clew.testing.git_fixtures import HTTP_USER, TOKEN_USER
from clew.testing.gitserver import GitHttpServer, Repo

pytestmark = pytest.mark.integration


@pytest.fixture
def cache(tmp_path: Path) -> SnapshotCache:
    return SnapshotCache(tmp_path / "cache", max_bytes=1 << 30, timeout=30)


def creds(server: GitHttpServer, user: str = HTTP_USER) -> Credentials:
    return Credentials(username=user, password=server.users[user])


@pytest.mark.parametrize("user", [HTTP_USER, TOKEN_USER])
async def test_fetch_hands_out_the_branch_tip(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo, user: str
) -> None:
    sha = git_repo.commit(
        {"apps/web/deploy.yaml": "kind: Deployment\n", "apps/web/svc.yaml": "kind: Service\n"},
        "Add web",
    )
    source = GitSource(git_http.repo_url(git_repo.name), "main", creds(git_http, user))

    snapshot = await cache.fetch(source, "apps/web")

    assert snapshot.revision == sha
    assert snapshot.path == snapshot.root / "apps" / "web"
    assert sorted(p.name for p in snapshot.path.iterdir()) == ["deploy.yaml", "svc.yaml"]
    assert (snapshot.path / "deploy.yaml").read_text() == "kind: Deployment\n"
    assert (snapshot.root / "README.md").read_text() == f"# {git_repo.name}\n"
    assert snapshot.source == git_http.repo_url(git_repo.name)
    assert snapshot.ref == "main"
    assert snapshot.commit is not None
    assert (snapshot.commit.sha, snapshot.commit.subject) == (sha, "Add web")
    assert snapshot.commit.time.startswith("20")  # ISO 8601 from %cI
    assert git_http.users[user] not in repr(snapshot)
    users = {r.user for r in git_http.requests if r.path.startswith(f"/{git_repo.name}.git/")}
    assert user in users


async def test_refs_resolve_to_the_servers_commits(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    first = git_repo.head()
    v1_0 = git_repo.commit({"v": "1.0.0"}, "1.0.0")
    git_repo.tag("v1.0.0")
    v1_2 = git_repo.commit({"v": "1.2.0"}, "1.2.0")
    git_repo.tag("v1.2.0", annotated=True)  # resolves to the commit, not the tag object
    v1_3_rc = git_repo.commit({"v": "1.3.0-rc.1"}, "rc")
    git_repo.tag("1.3.0-rc.1")
    v2 = git_repo.commit({"v": "2.0.0"}, "2.0.0")
    git_repo.tag("2.0.0", annotated=True)
    dev = git_repo.commit({"dev": "yes"}, "dev work", branch="dev")
    url = git_http.repo_url(git_repo.name)

    expected = {
        "main": v2,
        "dev": dev,
        "refs/heads/dev": dev,
        "HEAD": v2,
        "v1.0.0": v1_0,
        "v1.2.0": v1_2,
        "refs/tags/v1.2.0": v1_2,
        "^1.0": v1_2,
        "~1.0": v1_0,
        ">=1.0 <2": v1_2,
        ">=1.3.0-rc.0 <2": v1_3_rc,
        "1.x": v1_2,
        "*": v2,
        first: first,  # a full SHA, not a tip: used as is
        dev[:10]: dev,  # a short SHA of a branch tip
    }
    got = {spec: await cache.resolve(GitSource(url, spec, creds(git_http))) for spec in expected}
    assert got == expected


async def test_fetch_by_commit_sha_gets_an_old_commit(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    old = git_repo.commit({"app.yaml": "version: 1\n"}, "v1")
    git_repo.commit({"app.yaml": "version: 2\n"}, "v2")
    source = GitSource(git_http.repo_url(git_repo.name), old, creds(git_http))

    snapshot = await cache.fetch(source)

    assert snapshot.revision == old
    assert (snapshot.root / "app.yaml").read_text() == "version: 1\n"


async def test_credentials_in_the_url_work_and_are_never_shown(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    password = git_http.users[TOKEN_USER]
    url = git_http.repo_url(git_repo.name).replace("://", f"://{TOKEN_USER}:{password}@")

    snapshot = await cache.fetch(GitSource(url, "main"))

    assert snapshot.revision == git_repo.head()
    assert snapshot.source == git_http.repo_url(git_repo.name)
    assert password not in repr(snapshot)


async def test_wrong_password_fails_fast_without_the_secret(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    wrong = "wr0ng-" + git_http.users[HTTP_USER][::-1]
    source = GitSource(git_http.repo_url(git_repo.name), "main", Credentials(HTTP_USER, wrong))

    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as caught:
        await cache.fetch(source)

    assert time.monotonic() - started < 10  # answered, not waiting on a prompt or a timeout
    assert wrong not in str(caught.value)
    assert "credentials" in caught.value.hint
    assert not caught.value.retryable


async def test_missing_credentials_ask_for_them(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    with pytest.raises(AuthenticationFailed, match="could not read Username") as caught:
        await cache.resolve(GitSource(git_http.repo_url(git_repo.name), "main"))
    assert "give a username and password or token" in caught.value.hint


async def test_missing_ref_lists_nearby_names(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    git_repo.commit({"x": "1"}, "release", branch="release-1.4")
    git_repo.tag("v1.4.0")
    source = GitSource(git_http.repo_url(git_repo.name), "relase-1.4", creds(git_http))

    with pytest.raises(RefNotFound) as caught:
        await cache.fetch(source)

    assert caught.value.nearby == ("release-1.4",)
    assert "release-1.4" in caught.value.hint
    with pytest.raises(RefNotFound, match="no tag satisfies version range >=2"):
        await cache.fetch(GitSource(source.url, ">=2", source.credentials))


async def test_unknown_commit_sha_is_ref_not_found(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo
) -> None:
    source = GitSource(git_http.repo_url(git_repo.name), "0123456789" * 4, creds(git_http))
    with pytest.raises(RefNotFound, match="not our ref"):
        await cache.fetch(source)


async def test_missing_repository(cache: SnapshotCache, git_http: GitHttpServer) -> None:
    source = GitSource(git_http.repo_url("no-such-repo"), "main", creds(git_http))
    with pytest.raises(RepositoryNotFound) as caught:
        await cache.fetch(source)
    assert "check the URL" in caught.value.hint


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_closed_port_is_unreachable_and_retryable(cache: SnapshotCache) -> None:
    source = GitSource(f"http://127.0.0.1:{closed_port()}/app.git", "main")
    with pytest.raises(Unreachable) as caught:
        await cache.resolve(source)
    assert caught.value.retryable


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A listening socket that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/app.git"


async def test_silent_server_times_out(tmp_path: Path, silent_server: str) -> None:
    cache = SnapshotCache(tmp_path / "cache", max_bytes=1 << 20, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(Unreachable, match="timed out after 1s"):
        await cache.resolve(GitSource(silent_server, "main"))
    assert time.monotonic() - started < 5


async def test_local_urls_are_refused_unless_allowed(tmp_path: Path, git_repo: Repo) -> None:
    source = GitSource(str(git_repo.path), "main")
    with pytest.raises(SourceError, match="not allowed"):
        await SnapshotCache(tmp_path / "a", max_bytes=1 << 20).resolve(source)
    allowed = SnapshotCache(tmp_path / "b", max_bytes=1 << 20, allow_local_urls=True)
    assert (await allowed.fetch(source)).revision == git_repo.head()
