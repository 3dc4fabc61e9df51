"""SOPS decryption reads what the real sops writes: YAML, JSON, dotenv and INI files encrypted at
test time by the pinned sops binary decrypt to their cleartext (types kept), with every rule sops
offers for choosing what to encrypt; a changed value, a moved value, a wrong key and a missing key
are each refused with an error that names the file and quotes no secret; a Secret listed in a
Kustomization is decrypted from its verified source file; a secretGenerator reads encrypted
dotenv and INI files decrypted in memory only, and messages never quote their values; only v1
Secrets may be encrypted.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyrage
import pytest
import yaml

from clew.render import DecryptionError, RenderOptions, SopsKeys, parse_age_keys, render
from clew.render.sops import decrypt_documents, decrypt_dotenv, decrypt_ini
from clew.render.sops_generators import _redactor
from clew.render.yamlload import load_json, load_yaml
from clew.testing.sops import Sops

pytestmark = pytest.mark.integration  # the real sops binary, built from its Go module

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  labels:
    tier: backend
type: Opaque
stringData:
  password: hunter2-very-secret
  port: 5432
  ratio: 1.5
  enabled: true
  script: |
    line one
    line two
  empty: ""
  hosts:
    - a.example
    - b.example
"""
PLAIN = yaml.safe_load(SECRET)
K8S_ONLY = ("--encrypted-regex", "^(data|stringData)$")


@pytest.fixture(scope="module")
def sops() -> Sops:
    return Sops()


@pytest.fixture(scope="module")
def keys(sops: Sops) -> SopsKeys:
    return SopsKeys(age=(sops.identity,))


def _docs(text: str) -> list[object]:
    return [d.data for d in load_yaml(text, "secret.yaml")]


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(K8S_ONLY, id="encrypted-regex"),
        pytest.param((), id="everything"),
        pytest.param(("--unencrypted-suffix", "_plain"), id="unencrypted-suffix"),
        pytest.param(("--unencrypted-regex", "^(apiVersion|kind|name)$"), id="unencrypted-regex"),
        pytest.param(("--mac-only-encrypted", *K8S_ONLY), id="mac-only-encrypted"),
    ],
)
def test_yaml_decrypts_to_the_cleartext_with_types_kept(
    sops: Sops, keys: SopsKeys, flags: tuple[str, ...]
) -> None:
    encrypted = sops.encrypt(SECRET, "yaml", *flags)
    assert "hunter2" not in encrypted
    assert decrypt_documents(_docs(encrypted), keys, "secret.yaml") == [PLAIN]


def test_multi_document_yaml_shares_one_mac(sops: Sops, keys: SopsKeys) -> None:
    second = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: two\nstringData:\n  x: y\n"
    encrypted = sops.encrypt(SECRET + second, "yaml", *K8S_ONLY)
    plain = decrypt_documents(_docs(encrypted), keys, "secret.yaml")
    assert [d["metadata"]["name"] for d in plain] == ["db", "two"]
    dropped = encrypted.split("\n---\n")[0]  # the second document removed: the MAC covered it
    with pytest.raises(DecryptionError, match="MAC does not match"):
        decrypt_documents(_docs(dropped), keys, "secret.yaml")


def test_json_decrypts(sops: Sops, keys: SopsKeys) -> None:
    encrypted = sops.encrypt(json.dumps(PLAIN), "json")
    docs = [d.data for d in load_json(encrypted, "secret.json")]
    assert decrypt_documents(docs, keys, "secret.json") == [PLAIN]


def test_dotenv_and_ini_decrypt(sops: Sops, keys: SopsKeys) -> None:
    env = "# database\nUSER=admin\nPASSWORD=s3cret=with=equals\nMULTI=a\\nb\n"
    assert decrypt_dotenv(sops.encrypt(env, "dotenv"), keys, "app.env") == env
    ini = "[db]\nuser = admin\npass = s3cret\n\n[cache]\nttl = 30\n"
    assert decrypt_ini(sops.encrypt(ini, "ini"), keys, "app.ini") == ini


def test_a_changed_cleartext_value_breaks_the_mac(sops: Sops, keys: SopsKeys) -> None:
    encrypted = sops.encrypt(SECRET, "yaml", *K8S_ONLY)
    tampered = encrypted.replace("tier: backend", "tier: frontend")
    with pytest.raises(DecryptionError, match="MAC does not match") as caught:
        decrypt_documents(_docs(tampered), keys, "secret.yaml")
    assert caught.value.file == "secret.yaml"
    assert "hunter2" not in str(caught.value)


def test_a_value_moved_to_another_key_does_not_decrypt(sops: Sops, keys: SopsKeys) -> None:
    encrypted = sops.encrypt(SECRET, "yaml", *K8S_ONLY)
    password = re.search(r"password: (ENC\[.*?\])", encrypted)
    empty = 'empty: ""'
    assert password is not None
    assert empty in encrypted
    moved = encrypted.replace(empty, f"empty: {password.group(1)}")  # the key path is the AAD
    with pytest.raises(DecryptionError, match=r"stringData:empty does not decrypt") as caught:
        decrypt_documents(_docs(moved), keys, "secret.yaml")
    assert "hunter2" not in str(caught.value)


def test_a_value_replaced_by_cleartext_is_refused(sops: Sops, keys: SopsKeys) -> None:
    encrypted = sops.encrypt(SECRET, "yaml", *K8S_ONLY)
    downgraded = re.sub(r"password: ENC\[.*?\]", "password: hunter2-very-secret", encrypted)
    with pytest.raises(DecryptionError, match="should be SOPS-encrypted but is not") as caught:
        decrypt_documents(_docs(downgraded), keys, "secret.yaml")
    assert "hunter2" not in str(caught.value)


def test_wrong_and_missing_keys_name_the_recipients(sops: Sops) -> None:
    encrypted = sops.encrypt(SECRET, "yaml", *K8S_ONLY)
    other = SopsKeys(age=(str(pyrage.x25519.Identity.generate()),))
    with pytest.raises(DecryptionError, match="none of the given keys") as wrong:
        decrypt_documents(_docs(encrypted), other, "secret.yaml")
    assert sops.recipient in str(wrong.value)
    with pytest.raises(DecryptionError, match="no decryption key was given") as missing:
        decrypt_documents(_docs(encrypted), SopsKeys(), "secret.yaml")
    assert "--sops-age-key-file" in missing.value.hint


def test_a_tree_renders_encrypted_secrets_beside_plain_files(
    sops: Sops, keys: SopsKeys, tmp_path: Path
) -> None:
    (tmp_path / "secret.yaml").write_text(sops.encrypt(SECRET, "yaml", *K8S_ONLY))
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    manifests = render(tmp_path, ".", RenderOptions(decryption=keys))
    assert [m.obj for m in manifests] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        PLAIN,
    ]
    with pytest.raises(DecryptionError, match="no decryption key") as caught:
        render(tmp_path, ".")
    assert caught.value.file == "secret.yaml"


def test_only_secrets_may_be_encrypted(sops: Sops, keys: SopsKeys, tmp_path: Path) -> None:
    config_map = SECRET.replace("kind: Secret", "kind: ConfigMap").replace("type: Opaque\n", "")
    (tmp_path / "cm.yaml").write_text(sops.encrypt(config_map, "yaml", *K8S_ONLY))
    with pytest.raises(DecryptionError, match="decrypts v1 Secrets only"):
        render(tmp_path, ".", RenderOptions(decryption=keys))


def test_a_kustomization_secret_is_decrypted_from_its_verified_file(
    sops: Sops, keys: SopsKeys, tmp_path: Path
) -> None:
    single = SECRET.replace("  hosts:\n    - a.example\n    - b.example\n", "")
    (tmp_path / "secret.yaml").write_text(sops.encrypt(single, "yaml", *K8S_ONLY))
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [secret.yaml]\nnamespace: team\nlabels:\n- pairs: {app: shop}\n"
    )
    (obj,) = (m.obj for m in render(tmp_path, ".", RenderOptions(decryption=keys)))
    assert obj["metadata"] == {
        "name": "db",
        "namespace": "team",
        "labels": {**PLAIN["metadata"]["labels"], "app": "shop"},
    }
    assert obj["stringData"]["password"] == "hunter2-very-secret"
    assert "sops" not in obj
    # The source file changed after encryption: its MAC fails, whatever kustomize did.
    text = (tmp_path / "secret.yaml").read_text()
    (tmp_path / "secret.yaml").write_text(text.replace("tier: backend", "tier: other"))
    with pytest.raises(DecryptionError, match="MAC does not match"):
        render(tmp_path, ".", RenderOptions(decryption=keys))


def test_keys_never_show(sops: Sops) -> None:
    keys = SopsKeys(age=(sops.identity,))
    assert sops.identity not in repr(keys)
    assert sops.identity not in repr(RenderOptions(decryption=keys))
    assert parse_age_keys(f"# created\n{sops.identity}\n\n", "k") == (sops.identity,)
    broken = sops.identity[:-4] + "AAAA"
    with pytest.raises(DecryptionError, match="line 1 is not a valid age identity") as caught:
        parse_age_keys(broken, "keys.agekey")
    assert broken not in str(caught.value)


def _gpg_key(home: Path) -> str:
    """A fresh PGP key without a passphrase; its fingerprint."""
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    subprocess.run(
        [*gpg, "--passphrase", "", "--quick-gen-key", "clew-test <t@clew.dev>", "ed25519", "cert"],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [*gpg, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True
    ).stdout
    fingerprint = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr"))
    subprocess.run(
        [*gpg, "--passphrase", "", "--quick-add-key", fingerprint, "cv25519", "encr"],
        check=True,
        capture_output=True,
    )
    return fingerprint


def test_pgp_keys_decrypt_through_gpg(sops: Sops, tmp_path: Path) -> None:
    assert shutil.which("gpg"), "gpg (Debian's gnupg) is needed for the PGP half of SOPS"
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    try:
        _pgp_round_trip(sops, home)
    finally:  # the gpg-agent that key generation started
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


def _pgp_round_trip(sops: Sops, home: Path) -> None:
    fingerprint = _gpg_key(home)
    armored = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--armor", "--export-secret-keys"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    proc = subprocess.run(
        [
            str(sops.binary),
            "--encrypt",
            "--pgp",
            fingerprint,
            *K8S_ONLY,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "/dev/stdin",
        ],
        input=SECRET,
        env={"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert decrypt_documents(_docs(proc.stdout), SopsKeys(pgp=(armored,)), "s.yaml") == [PLAIN]


def test_a_secret_generator_reads_encrypted_dotenv_and_ini_from_memory(
    sops: Sops, keys: SopsKeys, tmp_path: Path
) -> None:
    (tmp_path / "app.env").write_text(sops.encrypt("USER=admin\nPASSWORD=env-secret-1\n", "dotenv"))
    (tmp_path / "db.ini").write_text(sops.encrypt("[db]\npass = ini-secret-2\n", "ini"))
    (tmp_path / "kustomization.yaml").write_text(
        "secretGenerator:\n"
        "- name: app\n  envs: [app.env]\n  files: [db.ini]\n"
        "generatorOptions: {disableNameSuffixHash: true}\n"
    )
    (obj,) = (m.obj for m in render(tmp_path, ".", RenderOptions(decryption=keys)))
    data = {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}
    assert data == {
        "USER": "admin",
        "PASSWORD": "env-secret-1",
        "db.ini": "[db]\npass = ini-secret-2\n",
    }
    assert not list(Path("/dev/shm").glob("clew-kustomize-src-*"))  # the cleartext copy is gone
    with pytest.raises(DecryptionError, match="no decryption key") as caught:
        render(tmp_path, ".")
    assert caught.value.file == "app.env"


def test_messages_about_decrypted_inputs_do_not_quote_them() -> None:
    # kustomize quotes lines it cannot parse; clew takes every decrypted value out of its words.
    redact = _redactor(["USER=admin\nPASSWORD=leaky-secret-3\n# note=x\n", "[db]\npass = p4ss\n"])
    message = "invalid line 'PASSWORD=leaky-secret-3' in app.env; bad value p4ss; user admin"
    assert redact(message) == (
        "invalid line 'PASSWORD=<redacted>' in app.env; bad value <redacted>; user <redacted>"
    )
