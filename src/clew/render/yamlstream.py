"""What kubectl does to a YAML stream around go-yaml, where libyaml alone would read it otherwise.

kubectl cuts a file into documents itself (apimachinery's ``YAMLReader``) on every line that starts
with ``---``, and hands each piece to go-yaml, which reads its *first* document only. So:

- ``--- !!map`` or ``--- {a: 1}`` (content after the separator) is refused: "invalid Yaml document
  separator";
- a document after ``...`` without its own ``---`` (kubectl would drop it) is already refused by
  libyaml ("did not find expected <document start>");
- ``%YAML`` and ``%TAG`` directives end up alone in their piece: refused;
- go-yaml knows no ``\\/`` escape in double quotes (libyaml does): refused; it knows ``\\'``
  (libyaml does not): rewritten as ``\\x27``, the same character;
- a scalar tagged with the non-specific ``!`` is text for go-yaml, while libyaml resolves it like an
  untagged one; their positions go to :mod:`clew.render.yamltree`.

The scans are string searches and two regular expressions that start with a literal (10 ms for a
4 MB CRD bundle); libyaml's events are read only when the text could hold one of the last four
cases. A libyaml error there ends the checks: the loader's own parse reports it.
"""

from __future__ import annotations

import re

import yaml

from clew.render.errors import InvalidManifestError
from clew.render.yamltree import NonSpecific

# A lone "!" tag (then checked for what precedes it), and the two escapes go-yaml and libyaml
# disagree on. Both patterns start with a literal, so the regex engine skips ahead quickly.
_BANG = re.compile(r"!(?=[\s\]},]|$)", re.MULTILINE)
_ESCAPES = re.compile(r"\\[/']")
# An escaped "/" in the raw text of a double-quoted scalar (after any number of "\\" pairs).
_UNKNOWN_ESCAPE = "found unknown escape character"
_SLASH_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\/")


def check_stream(text: str, file: str) -> tuple[str, NonSpecific]:
    """Refuse what kubectl refuses around go-yaml; the text to parse (escapes made libyaml's) and
    the positions of ``!``-tagged scalars."""
    for start in _line_starts(text, "---"):
        end = text.find("\n", start)
        rest = text[start + 3 : end if end >= 0 else len(text)].strip()
        if rest and not rest.startswith("#"):
            raise InvalidManifestError(
                f"invalid YAML: content after the document separator ('--- {rest[:40]}'); "
                "kubectl refuses it (invalid Yaml document separator)",
                file=file,
                line=text.count("\n", 0, start) + 1,
                hint="put what follows '---' on the next line",
            )
    if not (_line_starts(text, "%") or _ESCAPES.search(text) or _lone_bang(text)):
        return text, frozenset()
    while True:
        try:
            return text, _check_events(text, file)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = mark.index if mark else -1
            if getattr(exc, "problem", "") != _UNKNOWN_ESCAPE or text[at : at + 2] != "\\'":
                return text, frozenset()  # the loader reports it, with the line
            text = text[:at] + "\\x27" + text[at + 2 :]


def _line_starts(text: str, prefix: str) -> list[int]:
    """Where lines starting with ``prefix`` start (``str.find`` is far faster than a ^ regex)."""
    found = [0] if text.startswith(prefix) else []
    at = text.find("\n" + prefix)
    while at >= 0:
        found.append(at + 1)
        at = text.find("\n" + prefix, at + 1)
    return found


def _lone_bang(text: str) -> bool:
    return any(
        match.start() == 0 or text[match.start() - 1] in " \t\r\n[{,"
        for match in _BANG.finditer(text)
    )


def _check_events(text: str, file: str) -> NonSpecific:
    non_specific: set[tuple[int, int]] = set()
    parser = yaml.CSafeLoader(text)
    try:
        while (event := parser.get_event()) is not None:
            mark, end = event.start_mark, event.end_mark
            assert mark is not None  # libyaml marks every event
            assert end is not None
            line = mark.line + 1
            if isinstance(event, yaml.DocumentStartEvent):
                if event.version or event.tags:
                    raise InvalidManifestError(
                        "invalid YAML: a %YAML or %TAG directive; kubectl refuses them (it reads "
                        "each document on its own, without the directives before its '---')",
                        file=file,
                        line=line,
                        hint="remove the directive",
                    )
            elif isinstance(event, yaml.ScalarEvent):
                if event.tag == "!":
                    non_specific.add((mark.line, mark.column))
                elif event.style == '"' and _SLASH_ESCAPE.search(text, mark.index, end.index):
                    raise InvalidManifestError(
                        "invalid YAML: the escape '\\/' in a double-quoted string; kubectl "
                        "refuses it (found unknown escape character)",
                        file=file,
                        line=line,
                        hint="write '/' without the backslash",
                    )
    finally:
        parser.dispose()
    return frozenset(non_specific)
