"""The test kit's Git servers behave like real Git hosting.

Proves, with real git, git http-backend and sshd on loopback: HTTP clones need the right Basic
credentials (password or token user) and fail fast with a 401 otherwise; pushes work,
including chunked request bodies; protocol v2 is negotiated over HTTP and SSH; SSH logs in
with the generated key and refuses an unknown or different host key; both servers serve the
same repositories; and the `Repo` helper's commits, tags and force-pushes are what clients see.
"""

from __future__ import annotations

import http.client
import random
import subprocess
from pathlib import Path

import pytest

from clew.testing.git_fixtures import HTTP_USER, TOKEN_USER
from clew.testing.gitserver import GitHttpServer, GitSshServer, Repo, clean_git_env

pytestmark = pytest.mark.integration

IDENTITY = ["-c", "user.name=Tester", "-c", "user.email=tester@example.invalid"]


def git(
    *args: str, env: dict[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # A timeout on every call: a server bug must fail the test, never hang it.
    proc = subprocess.run(
        ["git", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def ls_remote(url: str, env: dict[str, str]) -> dict[str, str]:
    out = git("ls-remote", url, env=env).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    """Environment for purely local git commands (and for a client with no credentials)."""
    home = tmp_path / "home"
    home.mkdir()
    return clean_git_env(home)


@pytest.mark.parametrize("user", [HTTP_USER, TOKEN_USER])
def test_http_clone_with_basic_auth_gets_the_commit(
    git_http: GitHttpServer, git_repo: Repo, tmp_path: Path, user: str
) -> None:
    secret = git_http.users[user]
    env = git_http.git_env_with_credentials(user, secret)
    assert not any(secret in value for value in env.values())  # only in the 0600 file

    git("clone", git_http.repo_url(git_repo.name), str(tmp_path / "clone"), env=env)

    head = git("rev-parse", "HEAD", env=env, cwd=tmp_path / "clone").stdout.strip()
    assert head == git_repo.head()
    assert (tmp_path / "clone" / "README.md").read_text() == f"# {git_repo.name}\n"
    assert git_http.count("git-upload-pack", repo=git_repo.name) >= 1
    users = {r.user for r in git_http.requests if r.path.startswith(f"/{git_repo.name}.git/")}
    assert user in users


def test_http_push_then_repo_helper_builds_on_it(
    git_http: GitHttpServer, git_http_env: dict[str, str], git_repo: Repo, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    git("clone", git_http.repo_url(git_repo.name), str(clone), env=git_http_env)
    (clone / "pushed.txt").write_text("over http\n")
    git("add", "pushed.txt", env=git_http_env, cwd=clone)
    git(*IDENTITY, "commit", "-q", "-m", "push over http", env=git_http_env, cwd=clone)
    pushed = git("rev-parse", "HEAD", env=git_http_env, cwd=clone).stdout.strip()

    git("push", "origin", "main", env=git_http_env, cwd=clone)

    assert git_repo.head() == pushed
    assert git_http.count("git-receive-pack", repo=git_repo.name) == 1
    # The helper starts from the bare repository, so it builds on the pushed commit.
    following = git_repo.commit({"next.txt": "after the push\n"}, "next")
    parent = git("rev-parse", f"{following}^", env=git_http_env, cwd=git_repo.path)
    assert parent.stdout.strip() == pushed


def test_http_push_with_chunked_request_body(
    git_http: GitHttpServer, git_http_env: dict[str, str], git_repo: Repo, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    git("clone", git_http.repo_url(git_repo.name), str(clone), env=git_http_env)
    # Incompressible and far above http.postBuffer, so git must send a chunked body.
    (clone / "blob.bin").write_bytes(random.Random(0).randbytes(512 * 1024))
    git("add", "blob.bin", env=git_http_env, cwd=clone)
    git(*IDENTITY, "commit", "-q", "-m", "big", env=git_http_env, cwd=clone)
    pushed = git("rev-parse", "HEAD", env=git_http_env, cwd=clone).stdout.strip()

    git("-c", "http.postBuffer=65536", "push", "origin", "main", env=git_http_env, cwd=clone)

    assert git_repo.head() == pushed
    assert any(
        r.chunked and r.path == f"/{git_repo.name}.git/git-receive-pack" and r.status == 200
        for r in git_http.requests
    )


def test_http_wrong_password_fails_fast_with_401(
    git_http: GitHttpServer, git_repo: Repo, tmp_path: Path
) -> None:
    env = git_http.git_env_with_credentials(HTTP_USER, "not-the-password")
    assert env["GIT_TERMINAL_PROMPT"] == "0"

    proc = git("clone", git_http.repo_url(git_repo.name), str(tmp_path / "c"), env=env, check=False)

    assert proc.returncode != 0
    assert "Authentication failed" in proc.stderr or "401" in proc.stderr, proc.stderr
    assert not (tmp_path / "c").exists()
    mine = [r for r in git_http.requests if r.path.startswith(f"/{git_repo.name}.git/")]
    assert mine
    assert all(r.status == 401 and r.user is None for r in mine)


def test_http_challenge_without_credentials(git_http: GitHttpServer, git_repo: Repo) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", git_http.port, timeout=10)
    try:
        conn.request("GET", f"/{git_repo.name}.git/info/refs?service=git-upload-pack")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()

    assert response.status == 401
    assert response.getheader("WWW-Authenticate") == 'Basic realm="clew"'


def test_http_anonymous_read_allows_clone_but_not_push(
    git_root: Path, git_repo: Repo, tmp_path: Path, local_env: dict[str, str]
) -> None:
    with GitHttpServer(git_root, users={"clew": "secret"}, anonymous_read=True) as server:
        clone = tmp_path / "clone"
        git("clone", server.repo_url(git_repo.name), str(clone), env=local_env)
        assert git("rev-parse", "HEAD", env=local_env, cwd=clone).stdout.strip() == (
            git_repo.head()
        )
        git(*IDENTITY, "commit", "-q", "--allow-empty", "-m", "x", env=local_env, cwd=clone)

        push = git("push", "origin", "main", env=local_env, cwd=clone, check=False)

        assert push.returncode != 0
        assert "could not read Username" in push.stderr, push.stderr
        assert [r.status for r in server.requests if "receive-pack" in r.path + r.query] == [401]


@pytest.mark.parametrize(("version", "expected_header"), [("2", "version=2"), ("0", None)])
def test_http_protocol_version_is_negotiated(
    git_http: GitHttpServer,
    git_http_env: dict[str, str],
    git_repo: Repo,
    version: str,
    expected_header: str | None,
) -> None:
    git_http.clear_requests()
    env = {**git_http_env, "GIT_TRACE_PACKET": "1"}

    proc = git(
        "-c", f"protocol.version={version}", "ls-remote", git_http.repo_url(git_repo.name), env=env
    )

    assert f"{git_repo.head()}\trefs/heads/main" in proc.stdout.splitlines()
    assert ("< version 2" in proc.stderr) == (version == "2")
    protocols = {r.git_protocol for r in git_http.requests if r.status == 200}
    assert protocols == {expected_header}


def test_ssh_clone_with_key_and_pinned_host_key(
    git_ssh: GitSshServer, git_repo: Repo, tmp_path: Path
) -> None:
    env = {**git_ssh.git_env(), "GIT_TRACE_PACKET": "1"}
    assert git_ssh.known_hosts.read_text() == git_ssh.known_hosts_line() + "\n"

    proc = git(
        "-c",
        "protocol.version=2",
        "clone",
        git_ssh.repo_url(git_repo.name),
        str(tmp_path / "clone"),
        env=env,
    )

    # The packet trace shows the server's v2 capability advertisement ("clone< version 2"):
    # sshd passes GIT_PROTOCOL through (AcceptEnv).
    assert "< version 2" in proc.stderr
    head = git("rev-parse", "HEAD", env=env, cwd=tmp_path / "clone").stdout.strip()
    assert head == git_repo.head()


@pytest.mark.parametrize("known", ["different-key", "empty"])
def test_ssh_refuses_unverified_host_key(
    git_ssh: GitSshServer, git_repo: Repo, tmp_path: Path, local_env: dict[str, str], known: str
) -> None:
    known_hosts = tmp_path / "known_hosts"
    if known == "different-key":
        other = tmp_path / "other_host_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        key_type, key = other.with_suffix(".pub").read_text().split()[:2]
        known_hosts.write_text(f"[127.0.0.1]:{git_ssh.port} {key_type} {key}\n")
    else:
        known_hosts.write_text("")

    proc = git(
        "clone",
        git_ssh.repo_url(git_repo.name),
        str(tmp_path / "clone"),
        env=git_ssh.git_env(known_hosts=known_hosts),
        check=False,
    )

    assert proc.returncode != 0
    assert "Host key verification failed" in proc.stderr, proc.stderr
    if known == "different-key":
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stderr
    assert not (tmp_path / "clone").exists()


def test_ssh_push_is_served_over_http_too(
    git_ssh: GitSshServer,
    git_http: GitHttpServer,
    git_http_env: dict[str, str],
    git_repo: Repo,
    tmp_path: Path,
) -> None:
    env = git_ssh.git_env()
    clone = tmp_path / "clone"
    git("clone", git_ssh.repo_url(git_repo.name), str(clone), env=env)
    git(*IDENTITY, "commit", "-q", "--allow-empty", "-m", "over ssh", env=env, cwd=clone)
    pushed = git("rev-parse", "HEAD", env=env, cwd=clone).stdout.strip()

    git("push", "origin", "main", env=env, cwd=clone)

    assert ls_remote(git_http.repo_url(git_repo.name), git_http_env)["refs/heads/main"] == pushed


def test_force_push_is_visible_to_ls_remote(
    git_http: GitHttpServer, git_http_env: dict[str, str], git_repo: Repo, tmp_path: Path
) -> None:
    url = git_http.repo_url(git_repo.name)
    first = git_repo.head()
    second = git_repo.commit({"a.txt": "a\n"}, "second")
    assert ls_remote(url, git_http_env)["refs/heads/main"] == second

    git_repo.force_push("main", first)  # rewind to an older commit
    assert ls_remote(url, git_http_env)["refs/heads/main"] == first

    unrelated = git_repo.orphan_commit({"other/file.txt": "new history\n"})
    git_repo.force_push("main", unrelated)
    assert ls_remote(url, git_http_env)["refs/heads/main"] == unrelated == git_repo.head()

    clone = tmp_path / "clone"
    git("clone", url, str(clone), env=git_http_env)
    assert git("rev-list", "--count", "HEAD", env=git_http_env, cwd=clone).stdout.strip() == "1"
    tracked = git("ls-files", env=git_http_env, cwd=clone).stdout.split()
    assert tracked == ["other/file.txt"]


def test_repo_helper_files_branches_and_tags(
    git_http: GitHttpServer, git_http_env: dict[str, str], git_repo: Repo, tmp_path: Path
) -> None:
    url = git_http.repo_url(git_repo.name)
    first = git_repo.commit({"dir/data.bin": b"\x00\x01", "keep.txt": "k\n"}, "add")
    second = git_repo.commit({"dir/data.bin": None}, "delete")
    feature = git_repo.commit({"feature.txt": "f\n"}, "feature", branch="feature")
    light = git_repo.tag("v1", first)
    annotated = git_repo.tag("v2", annotated=True, message="release 2")

    refs = ls_remote(url, git_http_env)

    assert refs["refs/heads/main"] == second == git_repo.head("main") == annotated
    assert refs["refs/heads/feature"] == feature == git_repo.head("feature")
    assert refs["refs/tags/v1"] == light == first
    assert refs["refs/tags/v2^{}"] == second
    assert refs["refs/tags/v2"] != second  # the annotated tag is its own object
    clone = tmp_path / "clone"
    git("clone", "-q", "--branch", "feature", url, str(clone), env=git_http_env)
    tracked = set(git("ls-files", env=git_http_env, cwd=clone).stdout.split())
    assert tracked == {"README.md", "keep.txt", "feature.txt"}
    assert git("rev-parse", "HEAD^", env=git_http_env, cwd=clone).stdout.strip() == second
