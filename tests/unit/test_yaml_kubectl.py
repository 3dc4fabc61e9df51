"""clew reads every YAML (and JSON) case in the corpus exactly as the real kubectl does: the same
JSON objects (types included: ``1`` is not ``1.0`` nor ``true``), or a refusal from both, with file
and line on clew's side. The corpus is tests/unit/fixtures/yaml-kubectl, one file per case; a case
marked ``# clew: refuses -- why`` is one where clew is deliberately stricter, and the test checks
that kubectl still accepts it (so the mark stays true). kubectl reads the whole corpus in one run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.render import InvalidManifestError
from clew.render.yamlload import load_yaml
from clew.testing.kubectl_yaml import KubectlRead, canonical, clew_read, kubectl_read

CORPUS = Path(__file__).parent / "fixtures" / "yaml-kubectl"
CASES = sorted([*CORPUS.glob("*.yaml"), *CORPUS.glob("*.json")])
STRICTER = "# clew: refuses -- "


@pytest.fixture(scope="module")
def kubectl() -> dict[str, KubectlRead]:
    return kubectl_read(CORPUS)


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 80
    names = {case.stem for case in CASES}
    for required in ("plain-equals", "bool-yaml11-words", "int-octal-0o", "float-inf", "bom"):
        assert required in names


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_clew_reads_like_kubectl(case: Path, kubectl: dict[str, KubectlRead]) -> None:
    text = case.read_bytes().decode("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")][:2]
    stricter = any(line.startswith(STRICTER) for line in header)
    theirs = kubectl[case.stem]
    ours = clew_read(text, case.name)
    if isinstance(ours, InvalidManifestError):
        assert ours.file == case.name
        assert ours.line is not None, f"refused without a line: {ours}"
        if stricter:
            assert not theirs.error, f"kubectl refuses it too now: drop the mark ({theirs.error})"
            assert theirs.objects, "kubectl read nothing"
        else:
            assert theirs.error, f"clew refuses what kubectl reads: {ours}"
        return
    assert not stricter, "marked as refused by clew, but clew reads it"
    assert not theirs.error, f"clew reads what kubectl refuses: {theirs.error}"
    assert theirs.objects, "kubectl read no object"
    assert canonical(ours) == canonical(theirs.objects)


def test_the_issue_cases_by_value() -> None:
    """The cases of issue 15 spelled out, so a reader sees what kubectl (above) agreed to."""
    (doc,) = load_yaml(
        "x: [=, 0o755, 1e3, y, n, 0755, 0x1F, ~, 2026-01-01, 1.5, 18446744073709551615]\n", "f"
    )
    assert canonical(doc.data["x"]) == canonical(
        ["=", 493, 1000, True, False, 493, 31, None, "2026-01-01", 1.5, 18446744073709552000]
    )
    with pytest.raises(InvalidManifestError, match=r"f:1: .*unsupported value: \+Inf"):
        load_yaml("x: .inf\n", "f")
