"""Signature policy edges that need no server: the kind of a commit's signature, an empty
policy, a verifier missing from the machine, and a cached commit object that was tampered with.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clew.source import SignaturePolicy, SignatureRejected
from clew.source.signature import signature_kind, verify_commit

HEADER = (
    b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
    b"author A <a@example.invalid> 1700000000 +0000\n"
    b"committer A <a@example.invalid> 1700000000 +0000\n"
)


def signed(armor: bytes) -> bytes:
    return HEADER + b"gpgsig " + armor + b"\n abc\n -----END-----\n\nmessage\n"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (HEADER + b"\nmessage\n", None),
        (signed(b"-----BEGIN SSH SIGNATURE-----"), "ssh"),
        (signed(b"-----BEGIN PGP SIGNATURE-----"), "gpg"),
        (signed(b"-----BEGIN SIGNED MESSAGE-----"), "x509"),
        # "gpgsig" in the message body is not a signature
        (HEADER + b"\ngpgsig -----BEGIN SSH SIGNATURE-----\n", None),
    ],
)
def test_signature_kind(raw: bytes, kind: str | None) -> None:
    assert signature_kind(raw) == kind


def test_policy_needs_a_key() -> None:
    with pytest.raises(ValueError, match="needs ssh_allowed_signers or gpg_public_keys"):
        SignaturePolicy()


async def test_missing_gpg_is_a_clear_rejection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without gpg
    policy = SignaturePolicy(gpg_public_keys="-----BEGIN PGP PUBLIC KEY BLOCK-----")
    with pytest.raises(SignatureRejected, match="gpg is not installed") as caught:
        await verify_commit(signed(b"-----BEGIN PGP SIGNATURE-----"), "a" * 40, policy)
    assert "gnupg" in caught.value.hint


def object_id(raw: bytes) -> str:
    proc = subprocess.run(
        ["git", "hash-object", "-t", "commit", "--stdin"],
        input=raw,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return proc.stdout.decode().strip()


async def test_tampered_commit_object_is_rejected() -> None:
    raw = signed(b"-----BEGIN SSH SIGNATURE-----")
    real = object_id(raw)
    policy = SignaturePolicy(ssh_allowed_signers="x ssh-ed25519 AAAA")
    with pytest.raises(SignatureRejected, match=f"hashes to {real[:12]}"):
        await verify_commit(raw, "b" * 40, policy)
