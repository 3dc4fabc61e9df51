"""Encrypting test fixtures with the real ``sops``: the SOPS tests decrypt what sops itself wrote,
never a hand-made imitation of its format.

:class:`Sops` holds a fresh age identity (made with pyrage, as ``age-keygen`` would) and runs the
pinned sops binary (built into the tools cache on first use) with a sealed environment: no
user configuration, no ``.sops.yaml`` lookup outside the temporary directory, no update check.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyrage

from clew.testing import tools

__all__ = ["Sops", "sops_binary"]


def sops_binary() -> Path:
    """The pinned sops, built into the tools cache the first time it is needed."""
    if tools.missing(("sops",)):
        tools.build(lambda msg: print(msg, flush=True), ("sops",))
    return tools.binary("sops")


def _identity() -> str:
    return str(pyrage.x25519.Identity.generate())


@dataclass
class Sops:
    """sops with one age identity; ``identity`` is the private key (``AGE-SECRET-KEY-1…``)."""

    binary: Path = field(default_factory=sops_binary)
    identity: str = field(default_factory=_identity)

    @property
    def recipient(self) -> str:
        return str(pyrage.x25519.Identity.from_str(self.identity).to_public())

    def key_file(self, directory: Path) -> Path:
        """An age key file holding the identity, as ``age-keygen -o`` writes it."""
        path = directory / "keys.agekey"
        path.write_text(f"# public key: {self.recipient}\n{self.identity}\n")
        return path

    def encrypt(self, text: str, fmt: str, *extra: str, recipient: str = "") -> str:
        """``text`` (a ``fmt`` file: yaml, json, dotenv or ini) encrypted for the identity (or
        ``recipient``); ``extra`` are sops flags such as ``--encrypted-regex``."""
        with tempfile.TemporaryDirectory(prefix="clew-sops-") as tmp:
            suffix = "env" if fmt == "dotenv" else fmt
            source = Path(tmp) / f"plain.{suffix}"
            source.write_text(text)
            env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": tmp}
            argv = [str(self.binary), "--encrypt", "--age", recipient or self.recipient]
            argv += ["--input-type", fmt, "--output-type", fmt, *extra, str(source)]
            proc = subprocess.run(
                argv, env=env, cwd=tmp, capture_output=True, text=True, check=False, timeout=60
            )
            if proc.returncode != 0:
                raise RuntimeError(f"sops --encrypt failed: {proc.stderr.strip()}")
            return proc.stdout
