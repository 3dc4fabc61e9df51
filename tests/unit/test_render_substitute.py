"""Post-build substitution fails loudly and leaks nothing: a variable without a value or a default
is an error naming the object, the file and the variable; a malformed reference and an invalid
variable name are errors; a substituted value that breaks the object is refused without quoting
it; and substitution is off unless asked for (``${X}`` then stays as written). The happy paths
are the golden case fixtures/render/plain-substitute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.render import RenderOptions, SubstitutionError, render

DEPLOYMENT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  region: ${REGION}
"""


def _tree(tmp_path: Path, text: str = DEPLOYMENT) -> Path:
    (tmp_path / "settings.yaml").write_text(text)
    return tmp_path


def test_an_unset_variable_names_the_object_and_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SubstitutionError) as caught:
        render(_tree(tmp_path), ".", RenderOptions(substitute={"OTHER": "x"}))
    assert str(caught.value).startswith(
        "settings.yaml: ConfigMap/shop/settings: variable REGION has no value and no default"
    ), str(caught.value)
    assert "--substitute REGION=VALUE" in caught.value.hint


def test_without_substitution_references_stay_as_written(tmp_path: Path) -> None:
    (manifest,) = render(_tree(tmp_path), ".")
    assert manifest.obj["data"] == {"region": "${REGION}"}


def test_the_text_decides_the_type_as_in_flux(tmp_path: Path) -> None:
    text = DEPLOYMENT.replace("region: ${REGION}", 'port: "${PORT}"\n  count: ${PORT}')
    (manifest,) = render(_tree(tmp_path, text), ".", RenderOptions(substitute={"PORT": "8080"}))
    assert manifest.obj["data"] == {"port": "8080", "count": 8080}
    # An empty value leaves `region: ` behind: a null, as Flux's substitution gives.
    (manifest,) = render(_tree(tmp_path), ".", RenderOptions(substitute={"REGION": ""}))
    assert manifest.obj["data"] == {"region": None}


@pytest.mark.parametrize("reference", ["${}", "${1X}", "${X:?err}", "${X Y}"])
def test_a_malformed_reference_is_an_error(tmp_path: Path, reference: str) -> None:
    tree = _tree(tmp_path, DEPLOYMENT.replace("${REGION}", f"'{reference}'"))
    with pytest.raises(SubstitutionError, match="is not a variable reference"):
        render(tree, ".", RenderOptions(substitute={"X": "1"}))


def test_an_invalid_variable_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SubstitutionError, match="not a valid variable name"):
        render(_tree(tmp_path), ".", RenderOptions(substitute={"A-B": "1", "REGION": "x"}))


def test_a_value_that_breaks_the_object_is_not_quoted(tmp_path: Path) -> None:
    secret = "s3cret: {unbalanced"
    with pytest.raises(SubstitutionError, match="no longer valid YAML") as caught:
        render(_tree(tmp_path), ".", RenderOptions(substitute={"REGION": secret}))
    assert "s3cret" not in str(caught.value)


def test_a_value_with_yaml_syntax_in_a_quoted_context_stays_text(tmp_path: Path) -> None:
    tree = _tree(tmp_path, DEPLOYMENT.replace("${REGION}", "'eu-${REGION}'"))
    (manifest,) = render(tree, ".", RenderOptions(substitute={"REGION": "west-1"}))
    assert manifest.obj["data"] == {"region": "eu-west-1"}
