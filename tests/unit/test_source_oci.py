"""OCI source logic without a registry: oci:// URLs split into host, repository and reference;
tags picked like Git's semver refs (an existing tag as written, else the highest in range, helm's
"_" for "+"); Docker config credentials found by host; archives unpacked only inside their
directory, and packed reproducibly (same files, same digest)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from clew.source import RefNotFound
from clew.source.archive import extract, pack
from clew.source.errors import SourceError
from clew.source.oci import pick_tag
from clew.source.ociclient import OciRef, auth_from_docker_config


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("oci://ghcr.io/team/app", OciRef("ghcr.io", "team/app")),
        ("oci://127.0.0.1:5000/team/app:v1.2", OciRef("127.0.0.1:5000", "team/app", "v1.2")),
        (
            "oci://reg.example/app@sha256:" + "a" * 64,
            OciRef("reg.example", "app", "sha256:" + "a" * 64),
        ),
        ("oci://reg.example:443/charts/", OciRef("reg.example:443", "charts")),
    ],
)
def test_oci_ref(url: str, parsed: OciRef) -> None:
    assert OciRef.parse(url) == parsed


@pytest.mark.parametrize("url", ["https://reg/app", "oci://reg.example", "oci://reg/Team/App"])
def test_bad_oci_refs(url: str) -> None:
    with pytest.raises(SourceError):
        OciRef.parse(url)


TAGS = ["latest", "1.0.0", "v1.2.0", "1.3.0-rc.1", "2.0.0", "6.0.0_build.1", "main-abc"]


@pytest.mark.parametrize(
    ("spec", "tag"),
    [
        ("latest", "latest"),
        ("", "latest"),
        ("main-abc", "main-abc"),
        ("1.2.0", "v1.2.0"),
        ("^1.0", "v1.2.0"),
        (">=1.3.0-rc.0 <2", "1.3.0-rc.1"),
        ("2.x", "2.0.0"),
        ("6.0.0", "6.0.0_build.1"),
    ],
)
def test_pick_tag(spec: str, tag: str) -> None:
    assert pick_tag(TAGS, spec) == tag


def test_no_tag_lists_the_newest() -> None:
    with pytest.raises(RefNotFound) as caught:
        pick_tag(TAGS, "^3")
    assert caught.value.nearby[:2] == ("6.0.0_build.1", "2.0.0")


def test_docker_config() -> None:
    pair = base64.b64encode(b"me:s3cret").decode()
    config = json.dumps(
        {
            "auths": {
                "https://other.example": {"auth": base64.b64encode(b"x:y").decode()},
                "reg.example:5000": {"auth": pair},
                "ghcr.io": {"username": "u", "password": "p"},
            }
        }
    )
    found = auth_from_docker_config(config, "reg.example:5000", "PEM")
    assert found is not None
    assert (found.username, found.password, found.ca_pem) == ("me", "s3cret", "PEM")
    assert "s3cret" not in repr(found)
    ghcr = auth_from_docker_config(config, "ghcr.io")
    assert ghcr is not None
    assert (ghcr.username, ghcr.password) == ("u", "p")
    assert auth_from_docker_config(config, "nowhere.example") is None
    with pytest.raises(SourceError):
        auth_from_docker_config("not json", "reg.example")


def tar_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../evil.yaml", "/etc/evil.yaml", "a/../../evil.yaml"])
def test_extract_refuses_escaping_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(SourceError, match="escapes"):
        extract(tar_of({name: b"x"}), tmp_path / "out", "artifact")
    assert not (tmp_path / "evil.yaml").exists()


def test_extract_skips_links_and_caps_the_size(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    extract(buffer.getvalue(), tmp_path / "out", "artifact")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(SourceError, match="more than 10 bytes"):
        extract(tar_of({"big.yaml": b"x" * 11}), tmp_path / "big", "artifact", max_bytes=10)
    with pytest.raises(SourceError, match="not a valid"):
        extract(b"not a tarball", tmp_path / "bad", "artifact")


def test_pack_is_reproducible_and_round_trips(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / ".git").mkdir()
    (tree / ".git" / "config").write_text("secret")
    (tree / "a.yaml").write_text("a: 1\n")
    (tree / "sub" / "b.yaml").write_text("b: 2\n")
    first = pack(tree)
    (tree / "a.yaml").touch()  # a new mtime changes nothing
    assert hashlib.sha256(pack(tree)).digest() == hashlib.sha256(first).digest()
    extract(first, tmp_path / "out", "artifact")
    files = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert files == ["a.yaml", "sub", "sub/b.yaml"]
