"""Commit signature verification on fetch, with real ssh-keygen and gpg signatures.

Proves: a commit SSH-signed by a key in ``allowed_signers`` is handed out; an unsigned commit,
one signed by another key, or one signed in a format the policy has no keys for is
``SignatureRejected`` and no snapshot is returned — also when the commit is already cached from
a fetch without a policy; GPG signatures are checked against armored public keys the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clew.source import (
    Credentials,
    GitSource,
    SignaturePolicy,
    SignatureRejected,
    SnapshotCache,
)
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo, clean_git_env

pytestmark = pytest.mark.integration

SIGNER = "signer@example.invalid"


@pytest.fixture
def cache(tmp_path: Path) -> SnapshotCache:
    return SnapshotCache(tmp_path / "cache", max_bytes=1 << 30, timeout=30)


def source(server: GitHttpServer, repo: Repo, policy: SignaturePolicy | None) -> GitSource:
    creds = Credentials(username=HTTP_USER, password=server.users[HTTP_USER])
    return GitSource(server.repo_url(repo.name), "main", creds, verify=policy)


def ssh_key(directory: Path, name: str) -> Path:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def allowed_signers(*keys: Path) -> str:
    lines = []
    for key in keys:
        key_type, blob = key.with_suffix(".pub").read_text().split()[:2]
        lines.append(f"{SIGNER} {key_type} {blob}")
    return "\n".join(lines) + "\n"


def push_commit(
    repo: Repo, work: Path, files: dict[str, str], sign: list[str], env: dict[str, str]
) -> str:
    """Commit `files` on main in a clone of `repo`, with `sign` options (-c ...), and push."""
    ident = ["-c", "user.name=Signer", "-c", f"user.email={SIGNER}"]

    def git(*args: str, cwd: Path = work) -> str:
        return subprocess.run(
            ["git", *ident, *sign, *args],
            cwd=cwd,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()

    if not (work / ".git").exists():
        git("clone", "-q", str(repo.path), str(work), cwd=work.parent)
    git("pull", "-q", "--ff-only")
    for rel, text in files.items():
        (work / rel).write_text(text)
    git("add", "-A")
    git("commit", "-q", *(["-S"] if sign else []), "-m", "Signed change" if sign else "Plain")
    git("push", "-q", "origin", "HEAD:main")
    return git("rev-parse", "HEAD")


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "home").mkdir()
    return clean_git_env(tmp_path / "home")


def ssh_signing(key: Path) -> list[str]:
    return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"]


async def test_ssh_signed_by_allowed_key_is_accepted(
    cache: SnapshotCache,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
    git_env: dict[str, str],
) -> None:
    key = ssh_key(tmp_path, "allowed")
    sha = push_commit(git_repo, tmp_path / "w", {"a.yaml": "a: 1\n"}, ssh_signing(key), git_env)
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers(key))

    snapshot = await cache.fetch(source(git_http, git_repo, policy))

    assert snapshot.revision == sha
    assert (snapshot.root / "a.yaml").read_text() == "a: 1\n"


async def test_unsigned_commit_is_rejected_even_when_cached(
    cache: SnapshotCache,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
    git_env: dict[str, str],
) -> None:
    sha = push_commit(git_repo, tmp_path / "w", {"a.yaml": "a: 1\n"}, [], git_env)
    cached = await cache.fetch(source(git_http, git_repo, None))
    assert cached.revision == sha
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers(ssh_key(tmp_path, "k")))

    with pytest.raises(SignatureRejected, match=f"commit {sha[:12]} is not signed"):
        await cache.fetch(source(git_http, git_repo, policy))


async def test_signed_by_another_key_is_rejected(
    cache: SnapshotCache,
    git_http: GitHttpServer,
    git_repo: Repo,
    tmp_path: Path,
    git_env: dict[str, str],
) -> None:
    allowed, intruder = ssh_key(tmp_path, "allowed"), ssh_key(tmp_path, "intruder")
    push_commit(git_repo, tmp_path / "w", {"a.yaml": "evil\n"}, ssh_signing(intruder), git_env)

    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers(allowed))
    with pytest.raises(SignatureRejected, match="not signed by an allowed key") as caught:
        await cache.fetch(source(git_http, git_repo, policy))
    assert "No principal matched" in str(caught.value)

    gpg_only = SignaturePolicy(gpg_public_keys="-----BEGIN PGP PUBLIC KEY BLOCK-----\n...")
    with pytest.raises(SignatureRejected, match="ssh signature and the policy has no key"):
        await cache.fetch(source(git_http, git_repo, gpg_only))


@dataclass
class Gpg:
    home: Path
    env: dict[str, str]

    def run(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            ["gpg", "--batch", "--no-tty", *args],
            env=self.env,
            input=stdin,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    def new_key(self, uid: str) -> tuple[str, str]:
        """(fingerprint, armored public key) of a new passphrase-less signing key."""
        self.run("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
        listing = self.run("--with-colons", "--list-keys", uid)
        fpr = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:"))
        return fpr, self.run("--armor", "--export", fpr)


@pytest.fixture
def gpg(git_env: dict[str, str]) -> Iterator[Gpg]:
    assert shutil.which("gpg"), "gpg is needed for this test: apt-get install gnupg"
    # A short path: gpg-agent's socket lives in GNUPGHOME and socket paths are length-limited.
    home = Path(tempfile.mkdtemp(prefix="gpg-"))
    env = {**git_env, "GNUPGHOME": str(home)}
    try:
        yield Gpg(home, env)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, timeout=30)
        shutil.rmtree(home, ignore_errors=True)


async def test_gpg_signatures_are_checked_against_armored_keys(
    cache: SnapshotCache, git_http: GitHttpServer, git_repo: Repo, tmp_path: Path, gpg: Gpg
) -> None:
    fpr, public = gpg.new_key(f"Signer <{SIGNER}>")
    _, other_public = gpg.new_key("Other <other@example.invalid>")
    sign = ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={fpr}"]
    sha = push_commit(git_repo, tmp_path / "w", {"g.yaml": "g: 1\n"}, sign, gpg.env)

    snapshot = await cache.fetch(
        source(git_http, git_repo, SignaturePolicy(gpg_public_keys=public))
    )
    assert snapshot.revision == sha

    with pytest.raises(SignatureRejected, match="not signed by an allowed key"):
        await cache.fetch(source(git_http, git_repo, SignaturePolicy(gpg_public_keys=other_public)))
