"""The PGP half of SOPS decryption: the data key of a file encrypted for PGP recipients, opened
by ``gpg`` with the given armored private keys.

gpg runs with a fresh ``GNUPGHOME`` in a temporary directory (memory-backed ``/dev/shm`` when the
machine has one) that is deleted afterwards, no agent of the user's, no terminal and no network.
Only the 32-byte data key comes back, on a pipe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from clew.render.errors import DecryptionError

_TIMEOUT = 30.0


def _gpg() -> str:
    found = os.environ.get("CLEW_GPG") or shutil.which("gpg")
    if not found:
        raise DecryptionError(
            "gpg is needed to decrypt a SOPS file with PGP keys but was not found",
            hint="install gnupg, or encrypt the file for an age recipient",
        )
    return found


def _home() -> str:
    shm = Path("/dev/shm")  # noqa: S108  # memory-backed; mkdtemp makes a private directory in it
    return tempfile.mkdtemp(
        prefix="clew-gpg-", dir=str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    )


def decrypt_pgp_data_key(
    stanzas: list[dict[str, Any]], keys: tuple[str, ...], file: str
) -> bytes | None:
    """The data key from the first PGP stanza one of ``keys`` opens, else None."""
    gpg = _gpg()
    home = _home()
    try:
        os.chmod(home, 0o700)
        env = {"GNUPGHOME": home, "PATH": os.environ.get("PATH", os.defpath), "LANG": "C"}
        base = [gpg, "--batch", "--no-tty", "--quiet", "--pinentry-mode", "loopback"]
        for key in keys:
            imported = subprocess.run(
                [*base, "--import"],
                input=key.encode(),
                env=env,
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
            if imported.returncode != 0:
                raise DecryptionError(
                    "a PGP key given for SOPS decryption could not be imported by gpg",
                    file=file,
                )
        for stanza in stanzas:
            enc = stanza.get("enc")
            if not isinstance(enc, str):
                continue
            proc = subprocess.run(
                [*base, "--decrypt"],
                input=enc.encode(),
                env=env,
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
            if proc.returncode == 0 and proc.stdout:
                return proc.stdout
        return None
    except subprocess.TimeoutExpired:
        raise DecryptionError(f"gpg did not finish within {_TIMEOUT:g}s", file=file) from None
    finally:
        if gpgconf := shutil.which("gpgconf"):  # stop the gpg-agent this run started
            subprocess.run(
                [gpgconf, "--homedir", home, "--kill", "all"], capture_output=True, check=False
            )
        shutil.rmtree(home, ignore_errors=True)
