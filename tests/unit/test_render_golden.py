"""Each case under fixtures/render/ renders to exactly its expected.yaml: the same objects, in the
same order, with the same origins. Kustomize and Helm cases run the real binaries.

A case is ``<case>/input/`` (the snapshot root), ``<case>/case.yaml`` (``path`` and ``options``
for :class:`RenderOptions`) and ``<case>/expected.yaml``. After an intended change, regenerate
the goldens with ``CLEW_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render_golden.py`` and
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.render import RenderOptions, render
from clew.testing import tools

FIXTURES = Path(__file__).parent / "fixtures" / "render"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.yaml").is_file())
_TOOL_PREFIXES = ("helm-", "kustomize-")


def _helm() -> Path:
    try:
        return tools.binary("helm")
    except tools.ToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def _params() -> list[Any]:
    return [
        pytest.param(
            case, marks=[pytest.mark.integration] if case.startswith(_TOOL_PREFIXES) else []
        )
        for case in CASES
    ]


def _options(case: str, spec: dict[str, Any]) -> RenderOptions:
    raw = dict(spec.get("options") or {})
    raw["values_files"] = tuple(raw.get("values_files", ()))
    raw["api_versions"] = tuple(raw.get("api_versions", ()))
    if case.startswith("helm-"):
        raw["helm_binary"] = _helm()
    return RenderOptions(**raw)


def test_every_kind_of_case_is_present() -> None:
    assert {"plain-tree", "plain-timestamps", "kustomize-overlay", "helm-chart"} <= set(CASES)


@pytest.mark.parametrize("case", _params())
def test_golden(case: str) -> None:
    directory = FIXTURES / case
    spec = yaml.safe_load((directory / "case.yaml").read_text())
    manifests = render(directory / "input", spec.get("path", "."), _options(case, spec))
    actual = [{"origin": m.origin, "object": m.obj} for m in manifests]
    expected_file = directory / "expected.yaml"
    if os.environ.get("CLEW_UPDATE_GOLDEN") == "1":
        header = f"# Rendered from {case}/input by tests/unit/test_render_golden.py.\n"
        expected_file.write_text(header + yaml.safe_dump(actual, sort_keys=False, width=100))
    assert expected_file.is_file(), f"no {expected_file}: run with CLEW_UPDATE_GOLDEN=1"
    assert actual == yaml.safe_load(expected_file.read_text())
