"""KUBECONFIG with several files is merged as kubectl merges it.

It proves, with generated kubeconfig files: the first file that defines a cluster, user or
context name wins; current-context comes from the first file that sets one; files that do not
exist are skipped and none existing is a clear error; relative certificate paths stay relative to
the file that holds them; ``--kubeconfig`` names one file and ignores $KUBECONFIG; and a client
built from the merged list talks to the server of the merged current context.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube.core.exceptions import ConfigError

from clew.cluster import Cluster, PermanentError
from clew.cluster.kubeconfig import load, merge, paths_from_env


def _config(tmp: Path, file: str, names: list[tuple[str, str]], current: str | None = None) -> Path:
    """A kubeconfig with one cluster, user and context per (name, server)."""
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": n, "cluster": {"server": s, "insecure-skip-tls-verify": True}}
            for n, s in names
        ],
        "users": [{"name": n, "user": {"token": f"token-{n}-{file}"}} for n, _ in names],
        "contexts": [
            {"name": n, "context": {"cluster": n, "user": n, "namespace": f"ns-{file}"}}
            for n, _ in names
        ],
    }
    if current:
        doc["current-context"] = current
    path = tmp / file
    path.write_text(yaml.safe_dump(doc))
    return path


def _env(*paths: Path) -> dict[str, str]:
    return {"KUBECONFIG": os.pathsep.join(str(p) for p in paths)}


def test_first_definition_of_a_name_wins(tmp_path: Path) -> None:
    a = _config(tmp_path, "a", [("shared", "https://a.example:6443"), ("only-a", "https://a2")])
    b = _config(tmp_path, "b", [("shared", "https://b.example:6443"), ("only-b", "https://b2")])
    config = load(environ=_env(a, b))
    assert config.get("shared").cluster.server == "https://a.example:6443"
    assert config.get("shared").user.token == "token-shared-a"
    assert config.get("only-b").cluster.server == "https://b2"
    assert config.get("only-a").cluster.server == "https://a2"
    # The other order: the other file wins.
    assert load(environ=_env(b, a)).get("shared").cluster.server == "https://b.example:6443"


def test_current_context_from_the_first_file_that_sets_one(tmp_path: Path) -> None:
    a = _config(tmp_path, "a", [("ctx-a", "https://a")])
    b = _config(tmp_path, "b", [("ctx-b", "https://b")], current="ctx-b")
    c = _config(tmp_path, "c", [("ctx-c", "https://c")], current="ctx-c")
    config = load(environ=_env(a, b, c))
    assert config.current_context == "ctx-b"
    assert config.get().cluster.server == "https://b"


def test_missing_files_are_skipped_and_none_is_an_error(tmp_path: Path) -> None:
    a = _config(tmp_path, "a", [("ctx-a", "https://a")], current="ctx-a")
    config = load(environ=_env(tmp_path / "gone", a))
    assert config.get().cluster.server == "https://a"
    with pytest.raises(ConfigError, match="none of the files in KUBECONFIG exists"):
        load(environ=_env(tmp_path / "gone", tmp_path / "also-gone"))
    assert paths_from_env({"KUBECONFIG": f"{a}{os.pathsep}{os.pathsep}{a}"}) == [a]


def test_relative_paths_stay_relative_to_their_file(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    doc = {
        "clusters": [
            {"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.crt"}}
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "client-certificate": "u.crt",
                    "client-key": "/abs/u.key",
                    "exec": {"command": "bin/login", "apiVersion": "v1"},
                },
            }
        ],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }
    merged = merge([(one / "config", {}), (two / "config", doc)])
    assert merged["clusters"][0]["cluster"]["certificate-authority"] == str(two / "ca.crt")
    user = merged["users"][0]["user"]
    assert user["client-certificate"] == str(two / "u.crt")
    assert user["client-key"] == "/abs/u.key"
    assert user["exec"]["command"] == str(two / "bin/login")


def test_explicit_file_ignores_the_list(tmp_path: Path) -> None:
    a = _config(tmp_path, "a", [("ctx-a", "https://a")], current="ctx-a")
    b = _config(tmp_path, "b", [("ctx-b", "https://b")], current="ctx-b")
    assert load(b, environ=_env(a)).get().cluster.server == "https://b"


def test_client_uses_the_merged_current_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _config(tmp_path, "a", [("ctx-a", "https://a.example:6443")])
    b = _config(tmp_path, "b", [("ctx-b", "https://b.example:7443")], current="ctx-a")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b)]))

    async def server(context: str | None) -> tuple[str, str]:
        async with Cluster.from_kubeconfig(context=context) as cluster:
            return cluster.server, cluster.namespace

    assert asyncio.run(server(None)) == ("https://a.example:6443", "ns-a")
    assert asyncio.run(server("ctx-b")) == ("https://b.example:7443", "ns-b")
    with pytest.raises(PermanentError, match=r"kubeconfig KUBECONFIG=.*/a:.*/b: Context 'nope'"):
        asyncio.run(server("nope"))
