"""From libyaml's node tree to the JSON object kubectl would send, without PyYAML's constructors.

:class:`KubeConstruction` is mixed into the loader: libyaml (C) still scans, parses and composes,
its resolver only tells plain scalars from the rest, and :func:`construct` builds the value with
go-yaml v2's rules (see :mod:`clew.render.yamlscalars` for scalars and keys):

- A merge key ``<<`` writes its mapping's entries over what the mapping holds *so far*, in order
  (``{b: 2, <<: {b: 1}}`` is ``{b: 1}``), and of a list of mappings the first wins; an alias to a
  ``<<`` scalar is an ordinary key.
- An alias is a copy of its anchor, as go-yaml expands it; one inside its own anchor is refused.
- Tags on collections are ignored (``!!set {a}`` is ``{a: null}``, ``!!omap`` a list).
- A key written twice in one mapping is refused (kubectl keeps the last one; Kustomize refuses),
  and so are two keys that JSON cannot tell apart (``1`` and ``"1"``, ``y`` and ``true``), for
  which kubectl's choice changes from run to run.

The walk keeps its own stack, so deep documents cannot exhaust Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from clew.render import yamlscalars as ys

# Positions (line, column) of scalars tagged with the non-specific "!", found by the stream
# checks: libyaml hands them to the resolver like untagged ones, go-yaml keeps them as text.
NonSpecific = frozenset[tuple[int, int]]


class KubeConstruction:
    """Loader mixin: a resolver that defers to :func:`construct`, which builds each document."""

    non_specific: NonSpecific = frozenset()

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return ys.PLAIN if implicit[0] else ys.STR
        return ys.SEQ if kind is SequenceNode else ys.MAP

    def construct_document(self, node: Node) -> Any:
        return construct(node, self.non_specific)


def _error(message: str, node: Node) -> ConstructorError:
    return ConstructorError(None, None, message, node.start_mark)


class _Refused:
    """A value JSON cannot hold (``.inf``): an error only if no merge writes over it."""

    __slots__ = ("message", "node")

    def __init__(self, message: str, node: Node) -> None:
        self.message, self.node = message, node


class _Context:
    __slots__ = ("non_specific", "refused")

    def __init__(self, non_specific: NonSpecific) -> None:
        self.non_specific = non_specific
        self.refused: list[_Refused] = []


def _tag(node: ScalarNode, ctx: _Context) -> str:
    if ctx.non_specific and (node.start_mark.line, node.start_mark.column) in ctx.non_specific:
        return ys.NON_SPECIFIC
    return str(node.tag)


def _scalar(node: ScalarNode, ctx: _Context, *, key: bool = False) -> Any:
    """A value as JSON holds it, or (``key``) the Go value of a map key."""
    try:
        value = ys.scalar(_tag(node, ctx), node.value)
    except ys.ScalarError as exc:
        raise _error(str(exc), node) from None
    if key:
        return value
    try:
        return ys.json_value(value)
    except ys.ScalarError as exc:  # go-yaml decodes it; JSON refuses it only if it is still there
        refused = _Refused(str(exc), node)
        ctx.refused.append(refused)
        return refused


def _is_merge(node: Node, ctx: _Context) -> bool:
    # go-yaml: a plain "<<" (untagged or "!"), or one tagged !!merge; a quoted "<<" is a key.
    return (
        isinstance(node, ScalarNode)
        and node.value == "<<"
        and (node.tag in (ys.PLAIN, ys.MERGE) or _tag(node, ctx) == ys.NON_SPECIFIC)
    )


class _Mapping:
    """A mapping being built: JSON key -> value, JSON key -> the Go key it came from."""

    __slots__ = ("entries", "explicit", "i", "ids", "key", "merges", "node", "values")

    def __init__(self, node: MappingNode) -> None:
        self.node = node
        self.entries: list[tuple[Node, Node]] = node.value
        self.i = 0
        self.values: dict[str, Any] = {}
        self.ids: dict[str, tuple[type, Any]] = {}
        self.key: tuple[str, tuple[type, Any], Node] | None = None  # waiting for its value
        self.merges: list[MappingNode] = []  # merge sources still to build, last first
        self.explicit: set[str] = set()  # keys written here, not merged in

    def put(self, name: str, ident: tuple[type, Any], value: Any, at: Node) -> None:
        seen = self.ids.get(name)
        if seen is not None and seen != ident:
            raise _error(
                f"keys {_show(seen)} and {_show(ident)} are both {name!r} in JSON; kubectl picks "
                "one at random: keep one of them",
                at,
            )
        self.ids[name] = ident
        self.values[name] = value


class _Merged(_Mapping):
    """A merge source: built like a mapping, then written over its parent's entries."""

    __slots__ = ()


def _show(ident: tuple[type, Any]) -> str:
    kind, value = ident
    return (
        repr(value) if kind is str else f"{value!r} ({'null' if value is None else kind.__name__})"
    )


class _Sequence:
    __slots__ = ("i", "items", "node")

    def __init__(self, node: SequenceNode) -> None:
        self.node = node
        self.items: list[Any] = []
        self.i = 0


def construct(root: Node, non_specific: NonSpecific = frozenset()) -> Any:
    """The JSON value of one document's node tree (see the module docstring)."""
    ctx = _Context(non_specific)
    value = _scalar(root, ctx) if isinstance(root, ScalarNode) else _collection(root, ctx)
    if ctx.refused:
        _refuse_survivors(value)
    return value


def _refuse_survivors(value: Any) -> None:
    """Raise for the first value JSON cannot hold that is still in the document."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, _Refused):
            raise _error(item.message, item.node)
        if isinstance(item, dict):
            todo.extend(reversed(item.values()))
        elif isinstance(item, list):
            todo.extend(reversed(item))


def _collection(root: Node, ctx: _Context) -> Any:
    result: list[Any] = []
    stack: list[_Mapping | _Sequence] = []
    active: set[int] = set()

    def enter(node: Node, kind: type[_Mapping] = _Mapping) -> None:
        if id(node) in active:
            raise _error("an alias refers to the node that contains it (recursive anchor)", node)
        active.add(id(node))
        stack.append(kind(node) if isinstance(node, MappingNode) else _Sequence(node))  # type: ignore[arg-type]

    def finish(frame: _Mapping | _Sequence) -> None:
        stack.pop()
        active.discard(id(frame.node))
        if not stack:
            result.append(frame.values if isinstance(frame, _Mapping) else frame.items)
            return
        top = stack[-1]
        if isinstance(top, _Sequence):
            top.items.append(frame.values if isinstance(frame, _Mapping) else frame.items)
        elif isinstance(frame, _Merged):
            for name, item in frame.values.items():
                top.put(name, frame.ids[name], item, frame.node)
        else:
            assert top.key is not None
            name, ident, key_node = top.key
            top.key = None
            top.put(
                name, ident, frame.values if isinstance(frame, _Mapping) else frame.items, key_node
            )

    enter(root)
    while stack:
        top = stack[-1]
        child = _step_mapping(top, ctx) if isinstance(top, _Mapping) else _step_sequence(top, ctx)
        if child is None:
            finish(top)
        else:
            enter(*child)
    return result[0]


def _step_sequence(top: _Sequence, ctx: _Context) -> tuple[Node, type[_Mapping]] | None:
    children = top.node.value
    while top.i < len(children):
        child = children[top.i]
        top.i += 1
        if not isinstance(child, ScalarNode):
            return child, _Mapping
        top.items.append(_scalar(child, ctx))
    return None


def _step_mapping(top: _Mapping, ctx: _Context) -> tuple[Node, type[_Mapping]] | None:
    """Add entries to ``top`` until one needs a child built: that child, or None when done."""
    while True:
        if top.merges:
            return top.merges.pop(), _Merged
        if top.i >= len(top.entries):
            return None
        key_node, value_node = top.entries[top.i]
        top.i += 1
        if _is_merge(key_node, ctx) and not _is_alias(top, top.i - 1):
            top.merges = _merge_sources(value_node)
            continue
        if not isinstance(key_node, ScalarNode):
            raise _error("invalid map key: a mapping or sequence cannot be a key", key_node)
        key = _scalar(key_node, ctx, key=True)
        try:
            name = ys.json_key(key)
        except ys.ScalarError as exc:
            raise _error(str(exc), key_node) from None
        ident = (type(key), key)
        if name in top.explicit and top.ids[name] == ident:
            raise _error(
                f"found duplicate key {key_node.value!r} (kubectl keeps the last one, "
                "Kustomize refuses it): keep one",
                key_node,
            )
        if isinstance(value_node, ScalarNode):
            value = _scalar(value_node, ctx)
            top.put(name, ident, value, key_node)
            top.explicit.add(name)
            continue
        top.key = (name, ident, key_node)
        top.explicit.add(name)
        return value_node, _Mapping


def _is_alias(top: _Mapping, i: int) -> bool:
    """Whether key ``i`` of a mapping is written as an alias (``*m : x``): go-yaml merges only a
    ``<<`` written there. libyaml gives an alias the anchored node itself, whose position is
    earlier in the text than anything written before this key in the mapping."""
    start = top.node.start_mark.index
    for key, value in top.entries[:i]:
        start = max(start, key.end_mark.index, value.end_mark.index)
    return bool(top.entries[i][0].start_mark.index < start)


def _merge_sources(value: Node) -> list[MappingNode]:
    """The mappings a ``<<`` merges, in the order they are written over (the first one last)."""
    if isinstance(value, MappingNode):
        return [value]
    if isinstance(value, SequenceNode) and all(isinstance(n, MappingNode) for n in value.value):
        return list(value.value)  # popped from the end: the last is written first
    raise _error("map merge requires map or sequence of maps as the value", value)
