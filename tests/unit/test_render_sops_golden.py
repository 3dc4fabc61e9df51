"""The SOPS parser against golden files the real sops wrote (fixtures/sops/): each
``<name>-encrypted.<ext>`` decrypts, MAC verified, to its ``<name>-plain.<ext>``, for YAML (two
documents, one MAC), JSON, dotenv and INI, with the throwaway age key ``test.agekey``. The files
are committed, so this runs without sops and notices if the format or the parser drifts.
Regenerate them after a sops upgrade with ``CLEW_UPDATE_GOLDEN=1 .venv/bin/pytest
tests/unit/test_render_sops_golden.py`` (builds the pinned sops if needed) and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clew.render import DecryptionError, SopsKeys, parse_age_keys
from clew.render.sops import decrypt_documents, decrypt_dotenv, decrypt_ini
from clew.render.yamlload import load_json, load_yaml

FIXTURES = Path(__file__).parent / "fixtures" / "sops"
KEY_FILE = FIXTURES / "test.agekey"
CASES = [  # (name, sops format, flags)
    ("secret.yaml", "yaml", ("--encrypted-regex", "^(data|stringData)$")),
    ("secret.json", "json", ()),
    ("app.env", "dotenv", ()),
    ("app.ini", "ini", ()),
]


def _paths(name: str) -> tuple[Path, Path]:
    stem, ext = name.split(".")
    return FIXTURES / f"{stem}-plain.{ext}", FIXTURES / f"{stem}-encrypted.{ext}"


def _regenerate() -> None:
    from clew.testing.sops import Sops  # only when regenerating

    sops = Sops()
    KEY_FILE.write_text(
        "# A throwaway age identity for the golden SOPS fixtures only: it protects nothing.\n"
        f"{sops.identity}\n"
    )
    for name, fmt, flags in CASES:
        plain, encrypted = _paths(name)
        encrypted.write_text(sops.encrypt(plain.read_text(), fmt, *flags))


if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
    _regenerate()


@pytest.fixture(scope="module")
def keys() -> SopsKeys:
    return SopsKeys(age=parse_age_keys(KEY_FILE.read_text(), "test.agekey"))


def _data(path: Path) -> list[object]:
    load = load_json if path.suffix == ".json" else load_yaml
    return [d.data for d in load(path.read_text(), path.name)]


@pytest.mark.parametrize("name", ["secret.yaml", "secret.json"])
def test_manifests_decrypt_to_their_plain_golden(keys: SopsKeys, name: str) -> None:
    plain, encrypted = _paths(name)
    assert "golden" not in encrypted.read_text()
    assert decrypt_documents(_data(encrypted), keys, name) == _data(plain)


def test_dotenv_decrypts_to_its_plain_golden(keys: SopsKeys) -> None:
    plain, encrypted = _paths("app.env")
    assert decrypt_dotenv(encrypted.read_text(), keys, "app.env") == plain.read_text()


def test_ini_decrypts_to_its_plain_golden(keys: SopsKeys) -> None:
    plain, encrypted = _paths("app.ini")
    assert decrypt_ini(encrypted.read_text(), keys, "app.ini") == plain.read_text()


def test_a_changed_golden_fails_its_mac(keys: SopsKeys) -> None:
    _, encrypted = _paths("secret.yaml")
    text = encrypted.read_text()
    assert "tier: backend" in text
    changed = [d.data for d in load_yaml(text.replace("tier: backend", "tier: x"), "s.yaml")]
    with pytest.raises(DecryptionError, match="MAC does not match"):
        decrypt_documents(changed, keys, "s.yaml")


def test_a_dropped_value_fails_the_mac(keys: SopsKeys) -> None:
    _, encrypted = _paths("secret.json")
    (document,) = _data(encrypted)
    assert isinstance(document, dict)
    del document["stringData"]["big"]  # every value is hashed, in order: one less breaks it
    with pytest.raises(DecryptionError, match="MAC does not match"):
        decrypt_documents([document], keys, "secret.json")
