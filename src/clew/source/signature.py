"""Commit signature verification with ``git verify-commit``, SSH (ssh-keygen) or GPG keys.

Verification works from the raw commit object alone (kept next to each snapshot), written
into a throw-away repository: a snapshot fetched once can be checked against any number of
policies later without the network, and the object is re-hashed first so a tampered cache
entry cannot pass for the commit it claims to be.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from clew.source.errors import SignatureRejected, SourceError
from clew.source.git import DEFAULT_TIMEOUT, clean_env, run, run_git

__all__ = ["SignaturePolicy", "signature_kind", "verify_commit"]

_SSH_ARMOR = "-----BEGIN SSH SIGNATURE-----"
_PGP_ARMOR = "-----BEGIN PGP SIGNATURE-----"
_PACKAGES = {"ssh-keygen": "openssh-client", "gpg": "gnupg"}


@dataclass(frozen=True)
class SignaturePolicy:
    """Which keys may sign the commits a source hands out; a commit signed by any of them passes.

    ``ssh_allowed_signers`` is the text of an ssh-keygen ``allowed_signers`` file
    (``principal [options] key-type key``); ``gpg_public_keys`` is ASCII-armored public keys.
    """

    ssh_allowed_signers: str | None = None
    gpg_public_keys: str | None = None

    def __post_init__(self) -> None:
        if not (self.ssh_allowed_signers or self.gpg_public_keys):
            raise ValueError("a SignaturePolicy needs ssh_allowed_signers or gpg_public_keys")


def signature_kind(raw_commit: bytes) -> str | None:
    """The kind of the commit's ``gpgsig`` header: "ssh", "gpg" or "x509"; None if unsigned."""
    header, _, _ = raw_commit.partition(b"\n\n")
    lines = header.decode(errors="replace").split("\n")
    for line in lines:
        if line.startswith(("gpgsig ", "gpgsig-sha256 ")):
            armor = line.split(" ", 1)[1].strip()
            if armor == _SSH_ARMOR:
                return "ssh"
            if armor == _PGP_ARMOR:
                return "gpg"
            return "x509"  # any other armour (S/MIME) is a signature we do not verify
    return None


async def verify_commit(
    raw_commit: bytes, sha: str, policy: SignaturePolicy, *, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """Check that commit `sha` (its raw object `raw_commit`) is signed by a key `policy` allows.

    Returns git's "Good signature" line. Raises :class:`SignatureRejected` otherwise.
    """
    short = sha[:12]
    kind = signature_kind(raw_commit)
    if kind is None:
        raise SignatureRejected(
            f"commit {short} is not signed", hint="sign the commit, or remove the verification"
        )
    if kind == "x509" or (kind == "ssh" and not policy.ssh_allowed_signers):
        raise SignatureRejected(
            f"commit {short} has a {kind} signature and the policy has no key of that kind",
            hint="add the signer's key to the policy in the matching format",
        )
    if kind == "gpg" and not policy.gpg_public_keys:
        raise SignatureRejected(
            f"commit {short} has a GPG signature and the policy has no GPG keys",
            hint="add the signer's armored public key to gpg_public_keys",
        )
    tool = "ssh-keygen" if kind == "ssh" else "gpg"
    program = shutil.which(tool)
    if program is None:
        raise SignatureRejected(
            f"cannot verify the {kind.upper()} signature of commit {short}: {tool} is not "
            "installed",
            hint=f"install {tool} where clew runs (package {_PACKAGES[tool]})",
        )
    # A short path: gpg puts its sockets in GNUPGHOME and socket paths are limited to ~100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="clew-sig-"))
    try:
        env = clean_env(directory, protocols="")
        repo = directory / "repo.git"
        await run_git(["init", "-q", "--bare", str(repo)], env=env, timeout=timeout)
        stored = (await _hash_object(repo, raw_commit, env, timeout)).strip()
        if stored != sha:
            raise SignatureRejected(
                f"cached commit object for {short} hashes to {stored[:12]}",
                hint="the snapshot cache is damaged: delete it and fetch again",
            )
        if kind == "ssh":
            signers = directory / "allowed_signers"
            signers.write_text((policy.ssh_allowed_signers or "").strip() + "\n")
            options = ["-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={signers}"]
        else:
            env["GNUPGHOME"] = str(_gnupg_home(directory))
            await _import_keys(program, policy.gpg_public_keys or "", env, timeout)
            options = ["-c", "gpg.format=openpgp", "-c", f"gpg.program={program}"]
        argv = ["git", f"--git-dir={repo}", *options, "verify-commit", sha]
        try:
            status, _, err = await run(argv, env=env, timeout=timeout)
        except TimeoutError:
            raise SignatureRejected(
                f"verifying commit {short} timed out after {timeout:g}s", hint="retrying later"
            ) from None
        message = err.decode(errors="replace")
        if status != 0:
            reason = " / ".join(ln.strip() for ln in message.splitlines() if ln.strip())
            raise SignatureRejected(
                f"commit {short} is not signed by an allowed key: {reason or 'no details'}",
                hint="sign with an allowed key, or add the signer's public key to the policy",
            )
        good = [ln for ln in message.splitlines() if ln.startswith("Good")]
        return good[0] if good else message.strip()
    finally:
        if kind == "gpg":
            await _stop_gpg_agent(directory)
        shutil.rmtree(directory, ignore_errors=True)


async def _hash_object(repo: Path, raw: bytes, env: dict[str, str], timeout: float) -> str:
    argv = ["git", f"--git-dir={repo}", "hash-object", "-t", "commit", "-w", "--stdin"]
    status, out, err = await run(argv, env=env, timeout=timeout, stdin=raw)
    if status != 0:
        raise SourceError(
            f"cannot store the commit object to verify it: {err.decode(errors='replace').strip()}",
            hint="the snapshot cache is damaged: delete it and fetch again",
        )
    return out.decode()


def _gnupg_home(directory: Path) -> Path:
    home = directory / "gnupg"
    home.mkdir(mode=0o700)
    return home


async def _import_keys(program: str, keys: str, env: dict[str, str], timeout: float) -> None:
    argv = [program, "--batch", "--no-tty", "--quiet", "--import"]
    status, _, err = await run(argv, env=env, timeout=timeout, stdin=keys.encode())
    if status != 0:
        raise SignatureRejected(
            f"cannot import the policy's GPG keys: {err.decode(errors='replace').strip()}",
            hint="gpg_public_keys must be ASCII-armored public keys (gpg --armor --export)",
        )


async def _stop_gpg_agent(directory: Path) -> None:
    # gpg may have started an agent for this GNUPGHOME; do not leave it running.
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None or not (directory / "gnupg").exists():
        return
    env = {**clean_env(directory, protocols=""), "GNUPGHOME": str(directory / "gnupg")}
    with contextlib.suppress(OSError, TimeoutError):
        await run([gpgconf, "--kill", "all"], env=env, timeout=10)
