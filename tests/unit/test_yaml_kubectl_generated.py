"""Generated manifests full of risky scalars read the same by clew and by the real kubectl.

Hypothesis builds ConfigMap-like documents whose keys and values are numbers in every Go and
YAML 1.1 spelling, boolean and null words in random case, specials (``=``, ``<<``, ``.inf``),
quoted or tagged, with merge keys, anchors and aliases; kubectl reads each batch in one run. A
fixed budget (a few hundred documents) keeps it fast; a difference found here becomes a case in
tests/unit/fixtures/yaml-kubectl.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from clew.render import InvalidManifestError
from clew.testing.kubectl_yaml import canonical, clew_read, kubectl_read

WORDS = [
    "y",
    "yes",
    "on",
    "true",
    "n",
    "no",
    "off",
    "false",
    "null",
    "~",
    "nan",
    "inf",
    "infinity",
    "value",
    "merge",
    "tilde",
    "e",
    "E",
    "x",
    "o",
    "b",
    ".inf",
    ".nan",
    ".Inf",
    ".NaN",
    "=",
    "<<",
    "=~",
    "-",
    "+",
    ".",
    "_",
    "0",
    "00",
    "0x",
    "0o",
    "0b",
]

# Escapes in double quotes, including the two go-yaml and libyaml disagree on (\/ and \').
ESCAPES = ["", "", "", r"\t", r"\/", r"\'", r"\x41", r"\u00e9", r"\U0001F600", r"\N", r"\e", r"\q"]

_signs = st.sampled_from(["", "", "+", "-"])
_prefixes = st.sampled_from(["", "", "", "0", "0x", "0X", "0o", "0O", "0b", "0B", "."])
_digits = st.text("0123456789_abcdefABCDEF", min_size=1, max_size=22)
_exponents = st.one_of(
    st.just(""), st.builds("{}{}{}".format, st.sampled_from("eE"), _signs, _digits)
)
_fractions = st.one_of(st.just(""), st.builds(".{}".format, st.text("0123456789_", max_size=6)))
NUMBERISH = st.builds("{}{}{}{}{}".format, _signs, _prefixes, _digits, _fractions, _exponents)


@st.composite
def _word(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(WORDS))
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if flip else c for c, flip in zip(word, flips, strict=True))


_DATES = st.builds(
    "{:04d}-{}-{}{}".format,
    st.integers(0, 9999),
    st.integers(0, 19),
    st.integers(0, 39),
    st.sampled_from(["", "T10:00:00Z", " 1:2:3", "t10:00:00.5+01:00", "T25:00:00Z"]),
)
PLAIN = st.one_of(NUMBERISH, _word(), _DATES)


@st.composite
def scalar(draw: st.DrawFn) -> str:
    """A scalar as written in a block mapping or a flow sequence: plain, quoted or tagged."""
    text = draw(PLAIN)
    style = draw(st.sampled_from(["plain"] * 6 + ["single", "double", "tag", "binary"]))
    if style == "single":
        return "'" + text + "'"
    if style == "double":
        return '"' + text + draw(st.sampled_from(ESCAPES)) + '"'
    if style == "binary":
        return "!!binary " + draw(st.text("aGVsbG8/+w=_/", min_size=1, max_size=12))
    if style == "tag":
        tag = draw(st.sampled_from(["!!str", "!!int", "!!float", "!!bool", "!!null", "!", "!x"]))
        return f"{tag} {text}"
    return text


@st.composite
def manifest(draw: st.DrawFn, name: str) -> str:
    keys = draw(st.lists(scalar(), min_size=1, max_size=5))
    lines = [f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\nx:\n"]
    lines += [f"  {key}: {draw(scalar())}\n" for key in keys]
    items = draw(st.lists(scalar(), max_size=5))
    lines.append(f"y: [{', '.join(items)}]\n")
    if draw(st.booleans()):  # a merge over an explicit key, in either order
        first, second = draw(scalar()), draw(scalar())
        lines.append(f"z:\n  k: {first}\n  <<: {{k: {second}, m: {first}}}\n")
    if draw(st.booleans()):  # anchors, aliases as values and keys, a list of merged mappings
        first, second, third = draw(scalar()), draw(scalar()), draw(scalar())
        lines.append(f"base: &base {{k: {first}, j: &j {second}}}\n")
        lines.append(f"w:\n  j: {third}\n  <<: [*base, {{k: {third}, n: {second}}}]\n")
        lines.append(f"  v: [*base, *j]\n  *j : {first}\n")
    return "".join(lines)


@settings(
    max_examples=8,
    deadline=None,
    # Every example is one kubectl run and lists each differing document: no shrinking needed.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_generated_manifests_read_like_kubectl(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 40), label="documents")
    texts = [data.draw(manifest(f"case{i}"), label=f"case{i}") for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(texts):
            (Path(tmp) / f"case{i}.yaml").write_text(text)
        theirs = kubectl_read(Path(tmp))
    differences = []
    for i, text in enumerate(texts):
        ours, kubectl = clew_read(text, f"case{i}.yaml"), theirs[f"case{i}"]
        if isinstance(ours, InvalidManifestError):
            if not kubectl.error and "duplicate key" not in str(ours) and "keys " not in str(ours):
                differences.append(f"{text}\nclew refuses: {ours}\nkubectl: {kubectl.objects}")
        elif kubectl.error:
            differences.append(f"{text}\nkubectl refuses: {kubectl.error}\nclew: {ours}")
        elif canonical(ours) != canonical(kubectl.objects):
            differences.append(
                f"{text}\nclew:    {canonical(ours)}\nkubectl: {canonical(kubectl.objects)}"
            )
    assert not differences, "\n\n".join(differences)
