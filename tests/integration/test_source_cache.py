"""The snapshot cache against a real HTTP Git server, counting the server's requests.

Proves: a snapshot is content-addressed (``snapshots/<sha>``), read-only, without ``.git``, and
its digest equals that of a plain checkout; a second fetch reuses it at the cost of the
``ls-remote`` alone; N concurrent fetches (and two caches on one root) cost one download; a
force-push gives a new revision with the new content while the old snapshot stays intact; LRU
eviction keeps the cache under ``max_bytes`` but never drops what is being handed out; a path
leaving the snapshot (``..`` or a symlink) is refused; a cached commit is not handed to
credentials that cannot read the repository.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from clew.source import (
    AuthenticationFailed,
    Credentials,
    GitSource,
    PathEscapes,
    PathNotFound,
    SnapshotCache,
    digest_tree,
    local,
)
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo, clean_git_env

pytestmark = pytest.mark.integration


def new_cache(tmp_path: Path, name: str = "cache", max_bytes: int = 1 << 30) -> SnapshotCache:
    return SnapshotCache(tmp_path / name, max_bytes=max_bytes, timeout=30)


def source(server: GitHttpServer, repo: Repo, ref: str = "main") -> GitSource:
    creds = Credentials(username=HTTP_USER, password=server.users[HTTP_USER])
    return GitSource(server.repo_url(repo.name), ref, creds)


def upload_packs(server: GitHttpServer, repo: Repo) -> int:
    return server.count("git-upload-pack", repo=repo.name)


def requests(server: GitHttpServer, repo: Repo) -> int:
    return sum(1 for r in server.requests if r.path.startswith(f"/{repo.name}.git/"))


def push_symlinks(repo: Repo, work: Path, links: dict[str, str]) -> str:
    """Commit symlinks (the Repo helper writes only files) from a clone, push, return the sha."""
    env = clean_git_env(work / "home")
    (work / "home").mkdir(parents=True)
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.invalid"]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *ident, *args],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()

    git("clone", "-q", str(repo.path), "tree")
    work = work / "tree"
    for name, target in links.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).symlink_to(target)
    git("add", "-A")
    git("commit", "-q", "-m", "Add symlinks")
    git("push", "-q", "origin", "HEAD:main")
    return git("rev-parse", "HEAD")


def plain_clone(url: str, dest: Path, env: dict[str, str]) -> Path:
    subprocess.run(
        ["git", "clone", "-q", url, str(dest)], env=env, check=True, capture_output=True, timeout=30
    )
    return dest


async def test_snapshot_is_content_addressed_read_only_and_without_git(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo, git_http_env: dict[str, str]
) -> None:
    sha = git_repo.commit({"a/b.yaml": "b: 1\n", "run.sh": "#!/bin/sh\n"}, "Add files")
    cache = new_cache(tmp_path)

    snapshot = await cache.fetch(source(git_http, git_repo))

    assert snapshot.root == tmp_path / "cache" / "snapshots" / sha
    assert not (snapshot.root / ".git").exists()
    entries = [snapshot.root, *snapshot.root.rglob("*")]
    assert all(p.lstat().st_mode & 0o222 == 0 for p in entries), "a write bit is left"
    assert snapshot.digest == digest_tree(snapshot.root)
    # Same digest as a normal clone of the commit: the digest is the content, nothing else.
    clone = plain_clone(git_http.repo_url(git_repo.name), tmp_path / "clone", git_http_env)
    assert local(clone).digest == snapshot.digest


async def test_second_fetch_costs_only_the_ls_remote(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    cache = new_cache(tmp_path)
    src = source(git_http, git_repo)

    before = upload_packs(git_http, git_repo)
    await cache.resolve(src)
    ls_remote_cost = upload_packs(git_http, git_repo) - before

    before = upload_packs(git_http, git_repo)
    first = await cache.fetch(src)
    first_cost = upload_packs(git_http, git_repo) - before

    before = upload_packs(git_http, git_repo)
    second = await cache.fetch(src)
    second_cost = upload_packs(git_http, git_repo) - before

    assert first_cost > ls_remote_cost  # the first fetch downloads
    assert second_cost == ls_remote_cost  # the second only resolves the ref
    assert second == first

    # A full SHA needs no ls-remote: reusing it costs no request at all.
    before = requests(git_http, git_repo)
    pinned = await cache.fetch(source(git_http, git_repo, first.revision))
    assert requests(git_http, git_repo) == before
    assert pinned.root == first.root


async def test_concurrent_fetches_share_one_download(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    git_repo.commit({f"f{i}.yaml": f"i: {i}\n" for i in range(20)}, "Many files")
    src = source(git_http, git_repo)
    before = upload_packs(git_http, git_repo)
    await new_cache(tmp_path, "single").fetch(src)
    one_fetch = upload_packs(git_http, git_repo) - before

    cache = new_cache(tmp_path, "shared")
    before = upload_packs(git_http, git_repo)
    snapshots = await asyncio.gather(*(cache.fetch(src, p) for p in ["."] * 7 + [""]))

    assert upload_packs(git_http, git_repo) - before == one_fetch
    assert len({s.root for s in snapshots}) == 1
    assert len(list((tmp_path / "shared" / "snapshots").iterdir())) == 1


async def test_two_caches_on_one_root_download_once(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    src = source(git_http, git_repo)
    before = upload_packs(git_http, git_repo)
    await new_cache(tmp_path, "probe").resolve(src)
    ls_remote_cost = upload_packs(git_http, git_repo) - before
    before = upload_packs(git_http, git_repo)
    await new_cache(tmp_path, "single").fetch(src)
    one_fetch = upload_packs(git_http, git_repo) - before

    # Two instances share nothing in memory: only the file lock keeps them from both fetching.
    a, b = new_cache(tmp_path, "root"), new_cache(tmp_path, "root")
    before = upload_packs(git_http, git_repo)
    first, second = await asyncio.gather(a.fetch(src), b.fetch(src))

    assert upload_packs(git_http, git_repo) - before == one_fetch + ls_remote_cost
    assert first.root == second.root


async def test_force_push_gives_new_revision_and_content(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    cache = new_cache(tmp_path)
    old_sha = git_repo.commit({"app.yaml": "replicas: 1\n"}, "Old")
    old = await cache.fetch(source(git_http, git_repo))

    new_sha = git_repo.orphan_commit({"other.yaml": "replicas: 3\n"}, "Rewritten history")
    git_repo.force_push("main", new_sha)
    new = await cache.fetch(source(git_http, git_repo))

    assert (old.revision, new.revision) == (old_sha, new_sha)
    assert sorted(p.name for p in new.root.iterdir()) == ["other.yaml"]
    assert (old.root / "app.yaml").read_text() == "replicas: 1\n"  # the old one is untouched
    # Content always matches the revision, even for a commit no branch points to any more.
    pinned = await new_cache(tmp_path, "fresh").fetch(source(git_http, git_repo, old_sha))
    assert (pinned.revision, pinned.digest) == (old_sha, old.digest)


async def test_eviction_drops_least_recently_used(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    # Three branches of ~10 kB each; room for two.
    blobs = {name: os.urandom(5000).hex() for name in ("b1", "b2", "b3")}
    for name, blob in blobs.items():
        git_repo.commit({"blob": blob}, name, branch=name)
    cache = new_cache(tmp_path, max_bytes=25_000)
    snapshots = tmp_path / "cache" / "snapshots"

    b1 = await cache.fetch(source(git_http, git_repo, "b1"))
    b2 = await cache.fetch(source(git_http, git_repo, "b2"))
    assert {p.name for p in snapshots.iterdir()} == {b1.revision, b2.revision}

    b3 = await cache.fetch(source(git_http, git_repo, "b3"))
    assert {p.name for p in snapshots.iterdir()} == {b2.revision, b3.revision}
    assert not (tmp_path / "cache" / "meta" / f"{b1.revision}.json").exists()

    await cache.fetch(source(git_http, git_repo, "b2"))  # b2 is now more recent than b3
    again = await cache.fetch(source(git_http, git_repo, "b1"))
    assert {p.name for p in snapshots.iterdir()} == {b2.revision, again.revision}
    assert again.revision == b1.revision
    assert (again.root / "blob").read_text() == blobs["b1"]  # fetched again, same content

    tiny = new_cache(tmp_path, "tiny", max_bytes=1)  # smaller than any snapshot
    kept = await tiny.fetch(source(git_http, git_repo, "b3"))
    assert (kept.root / "blob").is_file()  # the one handed out is never evicted


async def test_paths_leaving_the_snapshot_are_refused(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    git_repo.commit({"apps/x.yaml": "x: 1\n"}, "Add app")
    push_symlinks(git_repo, tmp_path / "work", {"out": "/etc", "up": "../..", "ok": "apps"})
    cache = new_cache(tmp_path)
    src = source(git_http, git_repo)

    before = requests(git_http, git_repo)
    for path in ("../x", "/etc", "apps/../../x"):
        with pytest.raises(PathEscapes):
            await cache.fetch(src, path)
    assert requests(git_http, git_repo) == before  # refused before any network access

    for path in ("out", "up", "up/x"):
        with pytest.raises(PathEscapes, match="outside the snapshot"):
            await cache.fetch(src, path)
    with pytest.raises(PathNotFound):
        await cache.fetch(src, "nope")
    snapshot = await cache.fetch(src, "ok")
    assert snapshot.path == snapshot.root / "apps"
    assert (snapshot.root / "out").is_symlink()  # symlinks are content, judged when used


async def test_cached_commit_is_not_handed_to_other_credentials(
    tmp_path: Path, git_http: GitHttpServer, git_repo: Repo
) -> None:
    cache = new_cache(tmp_path)
    snapshot = await cache.fetch(source(git_http, git_repo))
    stranger = GitSource(
        git_http.repo_url(git_repo.name), snapshot.revision, Credentials(HTTP_USER, "guess")
    )
    with pytest.raises(AuthenticationFailed):
        await cache.fetch(stranger)
