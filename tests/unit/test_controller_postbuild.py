"""An Application's render inputs parse as documented: ``spec.decryption`` (provider sops, a
Secret), ``spec.postBuild`` (inline variables, ConfigMap/Secret references, optional) and
``spec.render.jsonnet`` (string arguments) become the spec's values, and each malformed one is an
:class:`InvalidSpec` naming its field. Absent, they change nothing (no render inputs at all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.controller.api.postbuild import DecryptionSpec, JsonnetSpec, PostBuildSpec, VariablesRef
from clew.controller.api.spec import InvalidSpec, parse
from clew.controller.reconcile import inputs

MINIMAL = Path(__file__).parent / "fixtures" / "controller" / "application-minimal.yaml"


def app(**spec: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MINIMAL.read_text())
    loaded["spec"].update(spec)
    return loaded


def test_render_inputs_parse() -> None:
    spec = parse(
        app(
            decryption={"provider": "sops", "secretRef": {"name": "sops-keys"}},
            postBuild={
                "substitute": {"CLUSTER": "prod", "_x1": ""},
                "substituteFrom": [
                    {"kind": "ConfigMap", "name": "vars"},
                    {"kind": "Secret", "name": "secret-vars", "optional": True},
                ],
            },
            render={"jsonnet": {"tlas": {"replicas": "3"}, "extVars": {"env": "prod"}}},
        )
    )
    assert spec.decryption == DecryptionSpec("sops-keys")
    assert spec.post_build == PostBuildSpec(
        {"CLUSTER": "prod", "_x1": ""},
        (VariablesRef("ConfigMap", "vars"), VariablesRef("Secret", "secret-vars", optional=True)),
    )
    assert spec.render.jsonnet == JsonnetSpec({"replicas": "3"}, {"env": "prod"})
    options = inputs.sync_options(spec, helm_binary=None)
    assert options.render.jsonnet_tla == {"replicas": "3"}
    assert options.render_inputs is not None


def test_absent_inputs_change_nothing() -> None:
    spec = parse(app())
    assert (spec.decryption, spec.post_build, spec.render.jsonnet) == (None, None, JsonnetSpec())
    assert inputs.sync_options(spec, helm_binary=None).render_inputs is None


INVALID = [
    ({"decryption": {"provider": "kms"}}, "spec.decryption.provider", "the only provider is sops"),
    ({"decryption": {"secretRef": {}}}, "spec.decryption.secretRef.name", "required"),
    ({"decryption": {"keys": "x"}}, "spec.decryption.keys", "unknown field"),
    ({"postBuild": {"substitute": {"A": 1}}}, "spec.postBuild.substitute.A", "must be a string"),
    ({"postBuild": {"substitute": {"A-B": "1"}}}, "spec.postBuild.substitute.A-B", "names are"),
    (
        {"postBuild": {"substituteFrom": [{"kind": "Pod", "name": "x"}]}},
        "spec.postBuild.substituteFrom[0].kind",
        "must be ConfigMap or Secret",
    ),
    (
        {"postBuild": {"substituteFrom": [{"kind": "Secret"}]}},
        "spec.postBuild.substituteFrom[0].name",
        "required",
    ),
    (
        {"render": {"jsonnet": {"tlas": {"n": 3}}}},
        "spec.render.jsonnet.tlas.n",
        "must be a string",
    ),
    ({"render": {"jsonnet": {"libs": ["x"]}}}, "spec.render.jsonnet.libs", "unknown field"),
]


@pytest.mark.parametrize(("spec", "field", "message"), INVALID, ids=[c[1] for c in INVALID])
def test_malformed_inputs_name_their_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse(app(**spec))
    assert caught.value.field == field
    assert message in str(caught.value)
