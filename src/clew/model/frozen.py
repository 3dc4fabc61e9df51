"""Read-only dicts and lists, so one parsed object can be handed to every render without a copy.

The parse cache (``render.parsecache``) keeps the objects of a file it parsed and gives the same
objects to the next render of the same text; the plan memoises what it derives from them (the
namespaced and labelled copies, the fingerprint). That is only sound if nobody changes them, so
they are :class:`FrozenDict` and :class:`FrozenList`: every method that would change one in place
raises :class:`TypeError`. Copying works and gives plain, changeable values: ``dict(obj)``,
``obj.copy()``, ``copy.copy`` and ``{**obj}`` copy one level (as the stages do to set metadata),
``copy.deepcopy`` and :func:`thaw` copy all levels, and a pickle reads back as plain values.

A frozen dict also carries a ``memo``: values derived from it that stay true because it cannot
change (its JSON size, its fingerprint, its labelled copies). Only :func:`memo` reads it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

__all__ = ["FrozenDict", "FrozenList", "freeze", "memo", "remembered", "thaw"]

T = TypeVar("T")

MAX_MEMO = 64
"""Memo entries one object keeps before it forgets them all: the labelled copies of one object
differ by inventory, and a file shared by many Applications must not grow without bound."""


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"this {type(self).__name__} is shared by the parse cache and is read-only; "
        "change a copy (dict(obj), copy.deepcopy(obj))"
    )


class FrozenDict(dict[Any, Any]):
    """A dict no method changes in place (see the module docstring)."""

    __slots__ = ("memo",)

    memo: dict[Any, Any]

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, seen: dict[int, Any]) -> dict[Any, Any]:
        return {k: copy.deepcopy(v, seen) for k, v in self.items()}

    def __reduce__(self) -> tuple[type[dict[Any, Any]], tuple[dict[Any, Any]]]:
        return dict, (dict(self),)


class FrozenList(list[Any]):
    """A list no method changes in place (see the module docstring)."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    clear = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    reverse = _refuse
    sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, seen: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, seen) for v in self]

    def __reduce__(self) -> tuple[type[list[Any]], tuple[list[Any]]]:
        return list, (list(self),)


def freeze(value: Any) -> Any:
    """``value`` with every dict and list replaced by a frozen one (a value reached twice, as
    YAML aliases make them, is frozen once and stays shared). Raises :class:`RecursionError`
    for nesting deeper than the interpreter's recursion limit."""
    done: dict[int, Any] = {}

    def walk(item: Any) -> Any:
        kind = type(item)
        if kind is not dict and kind is not list:
            return item
        found = done.get(id(item))
        if found is not None:
            return found
        if kind is dict:
            out: Any = FrozenDict({k: walk(v) for k, v in item.items()})
            out.memo = {}
        else:
            out = FrozenList([walk(v) for v in item])
        done[id(item)] = out
        return out

    return walk(value)


def thaw(value: Any) -> Any:
    """A plain, changeable deep copy of ``value``."""
    return copy.deepcopy(value)


def memo(obj: object) -> dict[Any, Any] | None:
    """The memo of a frozen dict (emptied once it holds :data:`MAX_MEMO` entries), or None for
    anything else: a plain dict may change, so nothing derived from it may be kept."""
    if type(obj) is not FrozenDict:
        return None
    table: dict[Any, Any] | None = getattr(obj, "memo", None)
    if table is None:  # built as FrozenDict(...), not by freeze()
        table = obj.memo = {}
    if len(table) >= MAX_MEMO:
        table.clear()
    return table


def remembered(obj: object, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept in ``obj``'s memo under ``key`` when ``obj`` is frozen (computed once),
    and computed every time when it is not."""
    known = memo(obj)
    if known is None:
        return compute()
    if key not in known:
        known[key] = compute()
    value: T = known[key]
    return value
