"""Scalars and map keys as Kubernetes reads them: go-yaml v2's resolver, then JSON.

kubectl (and Helm, and ``kubectl apply -k``) turn each YAML document into JSON with
sigs.k8s.io/yaml's ``YAMLToJSON``: go.yaml.in/yaml/v2 decodes it (YAML 1.1 words, Go's number
syntax), ``encoding/json`` encodes it, and the object is decoded once more into int64/float64
before it is sent. The rules below are that chain, read from go-yaml v2.4.4's ``resolve.go`` and
checked against the real kubectl by tests/unit/test_yaml_kubectl.py:

- booleans are ``y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off
  OFF``; nulls ``~ null Null NULL`` and the empty plain scalar; other spellings are strings;
- integers are Go's: ``0x1F``, ``0o17``, ``0b101``, ``0755`` (octal), a sign, ``_`` anywhere;
  past 64 bits a decimal becomes a float and anything else stays a string;
- a float that JSON writes without a fraction (``1e3``, ``1.0``) is an integer for the API server;
  ``.inf`` and ``.nan`` have no JSON form, so the document is refused;
- timestamps stay the text written; ``!!binary`` is decoded; an unknown tag (``!foo``) leaves the
  text; collection tags (``!!set``, ``!!omap``) are ignored;
- map keys become JSON strings (``1.5`` → ``"1.5"``, ``y`` → ``"true"``); a null key is refused.
"""

from __future__ import annotations

import binascii
import datetime
import math
import re
import struct
from decimal import Decimal
from typing import Any

_Y = "tag:yaml.org,2002:"
STR, BOOL, INT, FLOAT, NULL = _Y + "str", _Y + "bool", _Y + "int", _Y + "float", _Y + "null"
TIMESTAMP, BINARY, MERGE = _Y + "timestamp", _Y + "binary", _Y + "merge"
SEQ, MAP = _Y + "seq", _Y + "map"
# What the loader's resolver gives an untagged plain scalar: go-yaml resolves it only when built.
PLAIN = "tag:clew.dev,2026:plain"
# The non-specific tag "!": text, never resolved (but "! <<" is still a merge key).
NON_SPECIFIC = "!"

_RESOLVABLE = frozenset({STR, BOOL, INT, FLOAT, NULL, TIMESTAMP})


class ScalarError(ValueError):
    """A scalar or key kubectl refuses; the constructor adds the position."""


def _words(value: Any, tag: str, words: str) -> dict[str, tuple[str, Any]]:
    return dict.fromkeys(words.split(), (tag, value))


_WORDS: dict[str, tuple[str, Any]] = {
    **_words(True, BOOL, "y Y yes Yes YES true True TRUE on On ON"),
    **_words(False, BOOL, "n N no No NO false False FALSE off Off OFF"),
    **_words(None, NULL, "~ null Null NULL"),
    "": (NULL, None),
    **_words(math.nan, FLOAT, ".nan .NaN .NAN"),
    **_words(math.inf, FLOAT, ".inf .Inf .INF +.inf +.Inf +.INF"),
    **_words(-math.inf, FLOAT, "-.inf -.Inf -.INF"),
}
# go-yaml looks at the first character before anything else: only these can be non-strings.
_HINT = {
    **dict.fromkeys("+-", "S"),
    **dict.fromkeys("0123456789", "D"),
    **dict.fromkeys("yYnNtTfFoO~", "M"),
    ".": ".",
}
# strconv.ParseInt(s, 0, 64) syntax (after go-yaml removed every "_").
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# strconv.ParseFloat on a plain scalar that starts with "."; Go allows "_" between digits.
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1


class Uint64(int):
    """An integer go-yaml holds as uint64 (2^63..2^64-1): a value, but never a map key."""


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``, falling back to ``ParseUint``; ``None`` if neither."""
    if not _GO_INT.fullmatch(text):
        return None
    sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "01234567":
        number = sign * int(digits, 8)  # Go's leading-zero octal
    else:
        number = sign * int(digits, 0)
    if _INT64[0] <= number <= _INT64[1]:
        return number
    if 0 <= number <= _UINT64_MAX and text[0] not in "+-":  # ParseUint takes no sign
        return Uint64(number)
    return None


def _go_float(text: str) -> float | None:
    value = float(text.replace("_", ""))
    return None if math.isinf(value) else value  # Go: ErrRange, and go-yaml keeps the text


def resolve(tag: str, text: str) -> tuple[str, Any]:
    """go-yaml v2's ``resolve``: the tag a scalar ends up with, and its Go value."""
    if tag not in _RESOLVABLE:
        return tag, text
    result = _resolve(tag, text)
    if tag in (PLAIN, result[0], STR):
        return result
    if tag == FLOAT and result[0] == INT and not isinstance(result[1], Uint64):
        return FLOAT, float(result[1])
    raise ScalarError(f"cannot decode {_short(result[0])} `{text}` as a {_short(tag)}")


def _short(tag: str) -> str:
    return "!!" + tag[len(_Y) :] if tag.startswith(_Y) else tag


def _resolve(tag: str, text: str) -> tuple[str, Any]:
    hint = _HINT.get(text[:1], "M" if not text else None)
    if hint is None or tag == STR:
        return STR, text
    word = _WORDS.get(text)
    if word is not None:
        return word
    if hint == "." and _DOT_FLOAT.fullmatch(text):
        value = _go_float(text)
        if value is not None:
            return FLOAT, value
    elif hint in "DS":
        if tag in (PLAIN, TIMESTAMP) and is_timestamp(text):
            return TIMESTAMP, text  # into interface{}, go-yaml v2 keeps the text
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return INT, number
        if _YAML_FLOAT.fullmatch(plain):
            value = _go_float(plain)
            if value is not None:
                return FLOAT, value
    return STR, text


_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?")
_ZONE = re.compile(r"Z|[-+](?:[01][0-9]|2[0-3]):[0-5][0-9]")


def is_timestamp(text: str) -> bool:
    """go-yaml v2's ``parseTimestamp``: a date, or a date and time (``T``, ``t`` or a space)."""
    date = _DATE.match(text)
    if date is None:
        return False
    try:
        datetime.date(*(int(part) for part in date.groups()))
    except ValueError:
        return False
    rest = text[date.end() :]
    if not rest:
        return True
    clock = _TIME.match(rest, 1)
    if rest[0] not in "Tt " or clock is None:
        return False
    hour, minute, second = (int(part) for part in clock.groups())
    if hour > 23 or minute > 59 or second > 59:
        return False
    zone = rest[clock.end() :]
    return not zone if rest[0] == " " else bool(_ZONE.fullmatch(zone))


def scalar(tag: str, text: str) -> Any:
    """The Go value of a scalar (before JSON): str, bool, int, :class:`Uint64`, float or None."""
    if tag == PLAIN:  # the common case first: most plain scalars are words
        if _HINT.get(text[:1], "M" if not text else None) is None:
            return text
        return _resolve(PLAIN, text)[1]
    if tag == BINARY:
        return _binary(text)
    return resolve(tag, text)[1]


def _binary(text: str) -> str:
    encoded = text.replace("\n", "").replace("\r", "")  # Go's StdEncoding skips line breaks
    try:  # and wants whole, padded quanta
        if len(encoded) % 4:
            raise binascii.Error("not a whole number of quanta")
        data = binascii.a2b_base64(encoded, strict_mode=True)
    except binascii.Error:
        raise ScalarError("!!binary value contains invalid base64 data") from None
    return go_string(data)


def go_string(data: bytes) -> str:
    """Bytes as ``encoding/json`` writes a Go string: each invalid UTF-8 byte becomes U+FFFD."""
    parts: list[str] = []
    while True:
        try:
            parts.append(data.decode("utf-8"))
            return "".join(parts)
        except UnicodeDecodeError as exc:
            parts.append(data[: exc.start].decode("utf-8"))
            parts.append("\ufffd" * (exc.end - exc.start))
            data = data[exc.end :]


def json_value(value: Any) -> Any:
    """A scalar's Go value as the API server receives it (after JSON, int64/float64, JSON)."""
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, Uint64):  # decoded back as a float64
        return json_float(float(value))
    return value


def json_float(value: float) -> int | float:
    """A float64 as Go's JSON writes it, read back: integral below 1e21 is an integer."""
    if math.isnan(value) or math.isinf(value):
        raise ScalarError(
            f"json: unsupported value: {_go_special(value)} (JSON has no such number)"
        )
    if value.is_integer() and abs(value) < 1e21:
        # Go writes the shortest digits and pads with zeros: 2^64 is 18446744073709552000.
        return int(value) if abs(value) < 2**53 else int(Decimal(repr(value)))
    return value


def _go_special(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def json_key(value: Any) -> str:
    """A map key as sigs.k8s.io/yaml's ``convertToJSONableObject`` names it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Uint64):
        raise ScalarError(f"unsupported map key of type: uint64, key: {value:#x}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float32_g(value)
    raise ScalarError("unsupported map key: null (quote it to make it a string)")


_FLOAT32_MAX = 3.4028234663852886e38


def _float32_g(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)`` with go-yaml's names for the specials."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value) or abs(value) > _FLOAT32_MAX:
        return ".inf" if value > 0 else "-.inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):  # the shortest digits that read back as the same float32
        text = f"{single:.{precision - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # %e when the exponent is out of [-4, 6), as Go's shortest %g does
        frac = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{frac}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    whole, frac = digits[: exp + 1].ljust(exp + 1, "0"), digits[exp + 1 :]
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def json_int(text: str) -> int | float:
    """An integer in a JSON manifest as the API server gets it: past int64, a float64."""
    value = int(text)
    return value if _INT64[0] <= value <= _INT64[1] else json_float(float(value))


class JSONNumberError(ScalarError):
    """A number or constant in a JSON manifest that kubectl refuses; ``line`` is where it is."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def json_number_hooks(text: str) -> dict[str, Any]:
    """``json.loads`` arguments that read numbers as kubectl sends them, refusing with a line."""

    def refuse(token: str, message: str) -> JSONNumberError:
        # json gives no position: the first place the token stands alone (not inside a string).
        found = re.search(rf'(?<![\w."+-]){re.escape(token)}(?![\w."])', text)
        return JSONNumberError(message, text.count("\n", 0, found.start()) + 1 if found else None)

    def number(token: str) -> int | float:
        try:
            return json_int(token) if token.lstrip("-").isdigit() else json_float(float(token))
        except ScalarError as exc:
            raise refuse(token, str(exc)) from None

    def constant(token: str) -> Any:
        raise refuse(token, f"{token} is not JSON (kubectl refuses it)")

    return {"parse_int": number, "parse_float": number, "parse_constant": constant}
