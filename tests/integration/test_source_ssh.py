"""The source stage over real SSH (OpenSSH sshd on loopback, public-key login).

Proves: a key plus known_hosts fetches the commit; host keys are checked by default — a changed
key, a host missing from known_hosts, or no known_hosts at all is ``HostNotTrusted`` (the last
before any connection), and only an explicit ``insecure_ignore_host_key`` skips the check; a key
the server does not accept is ``AuthenticationFailed``; the key never shows in an error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clew.source import (
    AuthenticationFailed,
    Credentials,
    GitSource,
    HostNotTrusted,
    SnapshotCache,
)
from clew.testing.gitserver import GitSshServer, Repo

pytestmark = pytest.mark.integration


@pytest.fixture
def cache(tmp_path: Path) -> SnapshotCache:
    return SnapshotCache(tmp_path / "cache", max_bytes=1 << 30, timeout=30)


def new_key(directory: Path, name: str) -> Path:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def ssh_creds(server: GitSshServer, **overrides: object) -> Credentials:
    fields: dict[str, object] = {
        "ssh_private_key": server.client_key.read_text(),
        "known_hosts": server.known_hosts_line(),
    }
    fields.update(overrides)
    return Credentials(**fields)  # type: ignore[arg-type]


async def test_fetch_over_ssh_with_key_and_known_hosts(
    cache: SnapshotCache, git_ssh: GitSshServer, git_repo: Repo
) -> None:
    sha = git_repo.commit({"deploy/app.yaml": "kind: ConfigMap\n"}, "Add app")
    git_repo.tag("v0.1.0", annotated=True)
    source = GitSource(git_ssh.repo_url(git_repo.name), "^0.1", ssh_creds(git_ssh))

    snapshot = await cache.fetch(source, "deploy")

    assert snapshot.revision == sha
    assert (snapshot.path / "app.yaml").read_text() == "kind: ConfigMap\n"
    assert "@" not in snapshot.source.split("://", 1)[1].split("/", 1)[0].replace("***@", "")


async def test_changed_host_key_is_refused(
    cache: SnapshotCache, git_ssh: GitSshServer, git_repo: Repo, tmp_path: Path
) -> None:
    impostor = new_key(tmp_path, "impostor").with_suffix(".pub").read_text().split()
    host = git_ssh.known_hosts_line().split()[0]
    source = GitSource(
        git_ssh.repo_url(git_repo.name),
        "main",
        ssh_creds(git_ssh, known_hosts=f"{host} {impostor[0]} {impostor[1]}"),
    )
    with pytest.raises(HostNotTrusted, match=r"HOST IDENTIFICATION HAS CHANGED|has changed"):
        await cache.fetch(source)


async def test_host_missing_from_known_hosts_is_refused(
    cache: SnapshotCache, git_ssh: GitSshServer, git_repo: Repo
) -> None:
    other_host = git_ssh.known_hosts_line().replace("[127.0.0.1]", "[192.0.2.1]")
    source = GitSource(
        git_ssh.repo_url(git_repo.name), "main", ssh_creds(git_ssh, known_hosts=other_host)
    )
    with pytest.raises(HostNotTrusted, match="host key is known") as caught:
        await cache.resolve(source)
    assert "known_hosts" in caught.value.hint


async def test_no_known_hosts_is_refused_before_connecting(
    cache: SnapshotCache, git_ssh: GitSshServer, git_repo: Repo
) -> None:
    log_before = git_ssh.log_path.read_text()
    source = GitSource(
        git_ssh.repo_url(git_repo.name), "main", ssh_creds(git_ssh, known_hosts=None)
    )
    with pytest.raises(HostNotTrusted, match="no known_hosts"):
        await cache.fetch(source)
    assert git_ssh.log_path.read_text() == log_before  # sshd saw no connection


async def test_insecure_ignore_host_key_is_explicit(
    cache: SnapshotCache, git_ssh: GitSshServer, git_repo: Repo
) -> None:
    creds = ssh_creds(git_ssh, known_hosts=None, insecure_ignore_host_key=True)
    source = GitSource(git_ssh.repo_url(git_repo.name), "main", creds)
    assert await cache.resolve(source) == git_repo.head()


async def test_unknown_client_key_is_authentication_failed(
    cache: SnapshotCache, git_ssh: GitSshServer, git_repo: Repo, tmp_path: Path
) -> None:
    stranger = new_key(tmp_path, "stranger").read_text()
    source = GitSource(
        git_ssh.repo_url(git_repo.name), "main", ssh_creds(git_ssh, ssh_private_key=stranger)
    )
    with pytest.raises(AuthenticationFailed, match=r"Permission denied \(publickey") as caught:
        await cache.fetch(source)
    key_body = stranger.splitlines()[1]
    assert key_body not in str(caught.value)
