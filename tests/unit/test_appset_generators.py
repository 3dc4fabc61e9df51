"""ApplicationSet generation as pure functions, against golden fixtures
(tests/unit/fixtures/appsets/<case>.yaml): list, Git directories and files (real files in a
temporary directory), clusters (registered kubeconfig Secrets given as ``clusters``, selected by
label; a selected Secret without a usable kubeconfig and a bad selector are errors), matrix and
merge, ``{{param}}`` templating, validation of each generated
Application, and what each policy does with the Applications that exist. Every error case
checks that an error, never an empty result, comes out; the status tests check that such an
error becomes Ready=False with its own reason and keeps the last list of Applications.

Regenerate the expected results after a deliberate change: ``CLEW_UPDATE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.controller.api.appset_crd import (
    APPLICATION_SET_CRD,
    DEFAULT_SYNC_POLICY,
    SYNC_POLICIES,
)
from clew.controller.api.fields import InvalidSpec
from clew.controller.appsets import generators, plan, spec, status
from clew.controller.appsets.clusters import ClusterSource
from clew.controller.appsets.spec import GitSource
from clew.controller.appsets.templating import TemplateError, fill
from clew.model import ClewError, Reason
from clew.source import Unreachable

FIXTURES = Path(__file__).parent / "fixtures" / "appsets"
CASES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))
UPDATE = os.environ.get("CLEW_UPDATE_GOLDEN") == "1"


def the_set(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": spec.API_VERSION,
        "kind": spec.KIND,
        "metadata": {"name": "web", "namespace": "team", "uid": "set-uid", "generation": 2},
        **case["set"],
    }


def checkout_of(case: dict[str, Any], root: Path) -> generators.Checkout:
    async def checkout(source: GitSource) -> Path:
        files = (case.get("trees") or {})[source.repo_url]  # an unknown URL fails the test
        tree = root / str(abs(hash(source.repo_url)))
        for name, text in files.items():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text(text)
        return tree

    return checkout


def clusters_of(case: dict[str, Any]) -> ClusterSource:
    """The case's Secrets as the API server holds them (``stringData`` becomes ``data``)."""

    async def source(_generator: spec.Clusters) -> list[dict[str, Any]]:
        out = []
        for secret in case.get("clusters") or []:
            text = secret.get("stringData") or {}
            data = {k: base64.b64encode(str(v).encode()).decode() for k, v in text.items()}
            meta = {"namespace": "team", **secret["metadata"]}
            out.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data})
        return out

    return source


async def outcome(case: dict[str, Any], root: Path) -> dict[str, Any]:
    parsed = spec.parse(the_set(case))
    sets = await generators.generate(parsed.generators, checkout_of(case, root), clusters_of(case))
    apps = plan.applications(parsed, sets)
    for app in apps:
        assert app["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "clew.dev/v1alpha1",
                "kind": "ApplicationSet",
                "name": "web",
                "uid": "set-uid",
                "controller": True,
            }
        ]
        assert app["metadata"]["labels"][spec.SET_LABEL] == "web"
        assert app["metadata"]["namespace"] == "team"
    result: dict[str, Any] = {
        "applications": [
            {k: v for k, v in app["metadata"].items() if k in ("name", "labels", "annotations")}
            | {"spec": app["spec"]}
            for app in apps
        ]
    }
    if "live" in case:
        decided = plan.decide(parsed, apps, case["live"])
        result["plan"] = {
            "create": [a["metadata"]["name"] for a in decided.create],
            "update": [a["metadata"]["name"] for a in decided.update],
            "delete": [m["metadata"]["name"] for m in decided.delete],
            "kept": decided.kept,
            "conflicts": decided.conflicts,
        }
    return result


@pytest.mark.parametrize("name", CASES)
async def test_golden(name: str, tmp_path: Path) -> None:
    path = FIXTURES / f"{name}.yaml"
    case = yaml.safe_load(path.read_text())
    assert case.get("about"), f"{name}: say what the case proves"
    if "error" in case:
        with pytest.raises(ClewError) as caught:
            await outcome(case, tmp_path)
        assert case["error"] in str(caught.value)
        return
    got = await outcome(case, tmp_path)
    if UPDATE:
        case["expected"] = got
        path.write_text(yaml.safe_dump(case, sort_keys=False, width=100))
    assert got == case["expected"]


def test_globs_match_by_segment() -> None:
    assert generators.matches("apps/shop", "apps/*")
    assert not generators.matches("apps/shop/deep", "apps/*")
    assert generators.matches("a/b/c/web", "a/**/web")
    assert generators.matches("a/web", "a/**/web")  # ** may match no segment
    assert not generators.matches("b/web", "a/**/web")
    assert generators.matches("apps/shop-1", "apps/shop-?")


def test_fill_substitutes_values_only_and_keeps_types() -> None:
    template = {"{{k}}": "{{k}}", "n": 3, "list": ["a-{{ k }}", True]}
    assert fill(template, {"k": "v"}) == {"{{k}}": "v", "n": 3, "list": ["a-v", True]}
    with pytest.raises(TemplateError, match=r"spec.template.list\[0\]: no parameter 'x'"):
        fill({"list": ["{{x}}"]}, {})


async def test_a_git_failure_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    async def unreachable(source: GitSource) -> Path:
        raise Unreachable(f"{source.repo_url}: connection refused")

    parsed = spec.parse(the_set(yaml.safe_load((FIXTURES / "git-directories.yaml").read_text())))
    with pytest.raises(Unreachable):
        await generators.generate(parsed.generators, unreachable)


async def test_too_many_sets_is_an_error() -> None:
    elements = [{"n": str(i)} for i in range(40)]
    case = {
        "set": {
            "spec": {
                "generators": [{"matrix": {"generators": [{"list": {"elements": elements}}] * 2}}],
                "template": {"metadata": {"name": "x"}, "spec": {}},
            }
        }
    }
    case["set"]["spec"]["generators"][0]["matrix"]["generators"][1] = {
        "list": {"elements": [{"m": str(i)} for i in range(40)]}
    }
    parsed = spec.parse(the_set(case))
    with pytest.raises(generators.GeneratorError, match="1600 parameter sets"):
        await generators.generate(parsed.generators, checkout_of({}, Path("/nonexistent")))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"generators": []}, "spec.generators"),
        ({"generators": [{"list": {}, "git": {}}]}, "spec.generators[0]"),
        ({"generators": [{"git": {"repoURL": "https://x/y.git"}}]}, "spec.generators[0].git"),
        (
            {"generators": [{"git": {"repoURL": "u", "directories": [{"path": "../x"}]}}]},
            "spec.generators[0].git",
        ),
        (
            {"generators": [{"merge": {"generators": [{"list": {"elements": []}}] * 2}}]},
            "spec.generators[0].merge.mergeKeys",
        ),
        ({"syncPolicy": "delete-everything"}, "spec.syncPolicy"),
        (
            {"generators": [{"git": {"repoURL": "https://me:hunter2@git.example/x.git"}}]},
            "spec.generators[0].git.repoURL",
        ),
        ({"template": {"metadata": {}, "spec": {}}}, "spec.template.metadata.name"),
    ],
)
def test_parse_names_the_field(change: dict[str, Any], field: str) -> None:
    base = {
        "generators": [{"list": {"elements": []}}],
        "template": {"metadata": {"name": "x"}, "spec": {}},
    }
    with pytest.raises(InvalidSpec) as caught:
        spec.parse(the_set({"set": {"spec": {**base, **change}}}))
    assert caught.value.field == field
    assert "hunter2" not in str(caught.value)  # no secret in the error, hence in status


def test_policy_defaults_to_create_update_and_matches_the_crd() -> None:
    base = {"generators": [{"list": {"elements": []}}], "template": {"metadata": {"name": "x"}}}
    base["template"]["spec"] = {}
    assert spec.parse(the_set({"set": {"spec": base}})).policy is spec.Policy.CREATE_UPDATE
    assert tuple(p.value for p in spec.Policy) == SYNC_POLICIES
    assert spec.Policy(DEFAULT_SYNC_POLICY) is spec.Policy.CREATE_UPDATE
    schema = APPLICATION_SET_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["properties"]["syncPolicy"]["enum"] == list(SYNC_POLICIES)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (Unreachable("https://git.example/apps.git: connection refused"), Reason.FETCH_FAILED),
        (generators.GeneratorError("clusters/b.yaml: not YAML"), Reason.GENERATOR_FAILED),
        (TemplateError("no parameter 'x'"), Reason.TEMPLATE_FAILED),
        (InvalidSpec("must be set", field="spec.generators"), Reason.INVALID_SPEC),
    ],
)
def test_an_error_is_ready_false_and_keeps_the_last_list(error: ClewError, reason: Reason) -> None:
    before = {
        "metadata": {"generation": 3},
        "status": {"applications": ["a", "b"], "applicationCount": 2, "conditions": []},
    }
    after = status.status(before, error=error, now="2026-12-03T00:00:00Z")
    [ready] = after["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", reason)
    assert str(error) in ready["message"]
    assert "no Application was created, changed or deleted" in ready["message"]
    assert "applications" not in after  # a merge patch: the last good list stays
    assert after["observedGeneration"] == 3


def test_success_lists_what_was_done() -> None:
    done = status.Done(names=["b", "a"], created=["a"], deleted=["old"])
    after = status.status({"metadata": {"generation": 1}}, done=done, now="2026-12-03T00:00:00Z")
    [ready] = after["conditions"]
    assert (ready["status"], ready["reason"]) == ("True", Reason.SUCCEEDED)
    assert ready["message"] == "2 Applications; created a; deleted old"
    assert (after["applications"], after["applicationCount"]) == (["a", "b"], 2)
    conflicted = status.Done(names=["a"], conflicts=["a"])
    [ready] = status.status({}, done=conflicted)["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", Reason.APPLY_FAILED)
    assert "not owned by this set, left alone: a" in ready["message"]


async def test_the_documented_example_generates_what_the_docs_say(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "docs" / "applicationsets.md").read_text()
    [example, [secret, clustered]] = [
        docs[0] if len(docs) == 1 else docs
        for block in text.split("```yaml\n")[1:]
        if "kind: ApplicationSet" in block.split("```", 1)[0]
        for docs in [list(yaml.safe_load_all(block.split("```", 1)[0]))]
    ]
    url = example["spec"]["generators"][0]["git"]["repoURL"]
    tree = {f"apps/{n}/app.yaml": "x: 1" for n in ("shop", "blog", "experimental")}
    parsed = spec.parse(example)
    assert parsed.policy is spec.Policy.SYNC
    sets = await generators.generate(
        parsed.generators, checkout_of({"trees": {url: tree}}, tmp_path)
    )
    apps = plan.applications(parsed, sets)
    assert sorted(a["metadata"]["name"] for a in apps) == ["blog", "shop"]
    assert all(a["metadata"]["namespace"] == "team" for a in apps)

    # The clusters example: its Secret (stringData as the API server stores it) gives shop-prod-eu.
    parsed = spec.parse(clustered)
    sets = await generators.generate(
        parsed.generators, checkout_of({}, tmp_path), clusters_of({"clusters": [secret]})
    )
    [app] = plan.applications(parsed, sets)
    assert app["metadata"]["name"] == "shop-prod-eu"
    assert app["metadata"]["annotations"]["clew.dev/server"] == "https://prod-eu.example:6443"
    assert app["spec"]["source"]["path"] == "deploy/eu"
    assert app["spec"]["destination"]["kubeConfig"] == {"secretRef": {"name": "prod-eu"}}


async def test_cluster_parameters_carry_no_credentials() -> None:
    case = yaml.safe_load((FIXTURES / "clusters-generator.yaml").read_text())
    parsed = spec.parse(the_set(case))
    sets = await generators.generate(
        parsed.generators, checkout_of(case, Path("/x")), clusters_of(case)
    )
    [_, us] = sets
    assert us["server"] == "https://us.example:6443/"  # no deployer:hunter2@
    assert us["metadata.labels.region"] == "us"
    assert us["metadata.annotations.team"] == "web"
    assert not [k for k in us if k.startswith("metadata.annotations.kubectl.")]
    assert "hunter2" not in repr(sets)


async def test_a_clusters_generator_without_a_registry_is_an_error() -> None:
    case = yaml.safe_load((FIXTURES / "clusters-generator.yaml").read_text())
    parsed = spec.parse(the_set(case))
    with pytest.raises(generators.GeneratorError, match="no cluster registry"):
        await generators.generate(parsed.generators, checkout_of(case, Path("/x")))
