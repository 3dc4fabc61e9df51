"""Generators: an ApplicationSet's generators become a list of parameter sets.

Pure but for reading Git trees: a :data:`Checkout` hands out the directory of a snapshot (the
controller's snapshot cache; a plain directory in the unit tests). Any failure raises
:class:`GeneratorError` (or the source's own error) and yields nothing, never a partial list:
the caller must not mistake "could not look" for "found nothing".

Parameters, as Argo CD names them:

- list: each element's keys;
- git directories: ``path`` (relative to the repository root), ``path.basename``,
  ``path.basenameNormalized`` (lowercase, runs of other characters as ``-``), ``path[N]`` for
  each segment;
- git files: the file's keys flattened with dots (``cluster.name``), plus ``path`` (the file's
  directory), ``path.basename``, ``path.basenameNormalized``, ``path.filename``,
  ``path.filenameNormalized``, ``path[N]``; a file holding a list gives one set per item;
- clusters: ``name``, ``nameNormalized``, ``server``, ``metadata.labels.<k>``,
  ``metadata.annotations.<k>`` of each registered cluster selected (:mod:`.clusters`);
- matrix: the union of one set of each child (a key both give with different values is an
  error); merge: the first child's sets, each updated by the second child's set with equal
  values for all ``mergeKeys`` (second-child sets matching none are dropped).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from clew.controller.appsets.clusters import ClusterSource, cluster_params, selected
from clew.controller.appsets.spec import (
    Clusters,
    Generator,
    GitDirectories,
    GitFiles,
    GitSource,
    ListGenerator,
    Matrix,
    Merge,
)
from clew.model import ClewError

__all__ = ["MAX_FILE_BYTES", "MAX_SETS", "Checkout", "GeneratorError", "Params", "generate"]

Params = dict[str, str]
Checkout = Callable[[GitSource], Awaitable[Path]]
"""The root directory of ``source`` at its revision now (read-only)."""

MAX_SETS = 1000  # parameter sets per ApplicationSet: a matrix can multiply quickly
MAX_FILE_BYTES = 1 << 20
_NORMALIZE = re.compile(r"[^a-z0-9.]+")


class GeneratorError(ClewError):
    """A generator could not produce its sets (a parse error, a conflict, too many sets).
    Permanent: the same Git revision fails the same way."""

    retryable = False


async def generate(
    generators: tuple[Generator, ...], checkout: Checkout, clusters: ClusterSource | None = None
) -> list[Params]:
    """Every parameter set of ``generators``, in order; raises on the first failure.
    ``clusters`` hands out the registered cluster Secrets (needed by clusters generators)."""

    async def one(generator: Generator) -> list[Params]:
        if isinstance(generator, Clusters):
            if clusters is None:
                raise GeneratorError("clusters: no cluster registry to read here")
            found = selected(await clusters(generator), generator)
            return [cluster_params(secret, GeneratorError) for secret in found]
        return await _one(generator, checkout, one)

    out: list[Params] = []
    for generator in generators:
        out.extend(await one(generator))
    _bounded(out)
    return out


async def _one(
    generator: Generator, checkout: Checkout, child: Callable[[Generator], Awaitable[list[Params]]]
) -> list[Params]:
    if isinstance(generator, ListGenerator):
        return [dict(e) for e in generator.elements]
    if isinstance(generator, GitDirectories):
        root = await checkout(generator.source)
        return [_path_params(d) for d in directories(root, generator.include, generator.exclude)]
    if isinstance(generator, GitFiles):
        root = await checkout(generator.source)
        return [p for f in files(root, generator.paths) for p in _file_params(root, f)]
    if isinstance(generator, Matrix):
        first = await child(generator.first)
        second = await child(generator.second)
        return _bounded([_union(a, b) for a, b in itertools.product(first, second)])
    assert isinstance(generator, Merge)  # the last of the union but clusters, taken above
    first = await child(generator.first)
    second = await child(generator.second)
    return _merge(first, second, generator.keys)


def _bounded(sets: list[Params]) -> list[Params]:
    if len(sets) > MAX_SETS:
        raise GeneratorError(
            f"the generators give {len(sets)} parameter sets, more than {MAX_SETS}",
            hint="narrow the globs, or split the ApplicationSet",
        )
    return sets


def _union(a: Params, b: Params) -> Params:
    for key in a.keys() & b.keys():
        if a[key] != b[key]:
            raise GeneratorError(
                f"matrix: both generators give {key!r} ({a[key]!r} and {b[key]!r})",
                hint="rename the parameter in one of them",
            )
    return {**a, **b}


def _merge(first: list[Params], second: list[Params], keys: tuple[str, ...]) -> list[Params]:
    def key_of(params: Params, which: str) -> tuple[str, ...]:
        missing = [k for k in keys if k not in params]
        if missing:
            raise GeneratorError(f"merge: a set of the {which} generator lacks {missing[0]!r}")
        return tuple(params[k] for k in keys)

    updates: dict[tuple[str, ...], Params] = {}
    for params in second:
        updates.setdefault(key_of(params, "second"), params)  # the first of equal keys wins
    return [{**p, **updates.get(key_of(p, "first"), {})} for p in first]


# -- Git trees ---------------------------------------------------------------------------------


def matches(path: str, pattern: str) -> bool:
    """Glob match by segment: ``*``, ``?``, ``[...]`` within one segment, ``**`` any number."""
    return _match(path.split("/"), pattern.strip("/").split("/"))


def _match(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return (
        bool(parts) and PurePosixPath(parts[0]).match(pattern[0]) and _match(parts[1:], pattern[1:])
    )


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every entry below ``root`` (not ``.git``), as (relative posix path, path), sorted."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        yield relative, path


def directories(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    return [
        relative
        for relative, path in _walk(root)
        if path.is_dir()
        and not path.is_symlink()
        and any(matches(relative, p) for p in include)
        and not any(matches(relative, p) for p in exclude)
    ]


def files(root: Path, patterns: tuple[str, ...]) -> list[str]:
    found = []
    for relative, path in _walk(root):
        if not any(matches(relative, p) for p in patterns) or path.is_dir():
            continue
        if path.is_symlink():  # it could point outside the snapshot: refuse, do not skip
            raise GeneratorError(f"{relative}: a symlink; the files generator reads only files")
        found.append(relative)
    return found


def _path_params(relative: str, *, file: str = "") -> Params:
    path = PurePosixPath(relative)
    params = {
        "path": relative,
        "path.basename": path.name,
        "path.basenameNormalized": _normalize(path.name),
    }
    params.update({f"path[{i}]": part for i, part in enumerate(path.parts)})
    if file:
        params["path.filename"] = file
        params["path.filenameNormalized"] = _normalize(file)
    return params


def _normalize(name: str) -> str:
    return _NORMALIZE.sub("-", name.lower()).strip("-")


def _file_params(root: Path, relative: str) -> list[Params]:
    path = root / relative
    if path.stat().st_size > MAX_FILE_BYTES:
        raise GeneratorError(f"{relative}: larger than {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise GeneratorError(f"{relative}: not YAML or JSON: {_first_line(exc)}") from None
    items = data if isinstance(data, list) else [data]
    directory = PurePosixPath(relative).parent.as_posix()
    base = _path_params("" if directory == "." else directory, file=PurePosixPath(relative).name)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            where = f"{relative}[{i}]" if isinstance(data, list) else relative
            raise GeneratorError(f"{where}: must be a mapping, not {type(item).__name__}")
        out.append({**_flatten(item), **base})
    return out


def _flatten(data: Mapping[Any, Any], prefix: str = "") -> Params:
    out: Params = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif value is None:
            out[name] = ""
        elif isinstance(value, str | int | float):
            out[name] = str(value)
        # Lists have no fasttemplate spelling; Argo CD drops them too.
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
