"""Schema compatibility: payload schemas may only grow.

Events stay on their topics for as long as the topic keeps them, and consumers replay them
from the beginning, so a schema must still describe every event ever published under it.
Breaking, therefore: an event type that disappears, a field removed (a rename is a removal),
a field whose type changes, an enum value that disappears, a field that becomes required.
Additive, therefore fine: new event types, new optional fields, new enum values (consumers
ignore what they do not know), relaxed requirements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class BreakingChange:
    event_type: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f" at `{self.path}`" if self.path else ""
        return f"{self.event_type}{where}: {self.reason}"


@dataclass
class Shape:
    """What a schema node admits, with `anyOf` branches and `$ref`s folded together."""

    types: set[str] = field(default_factory=set)
    properties: dict[str, Shape] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: Shape | None = None
    enum: set[str] | None = None


def _resolve(node: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in node and seen < 32:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    return node


def shape_of(node: Schema, root: Schema) -> Shape:
    node = _resolve(node, root)
    shape = Shape()
    branches = [*node.get("anyOf", []), *node.get("oneOf", []), *node.get("allOf", [])]
    for branch in branches:
        _merge(shape, shape_of(branch, root))
    declared = node.get("type")
    if isinstance(declared, str):
        shape.types.add(declared)
    elif isinstance(declared, list):
        shape.types.update(str(t) for t in declared)
    if "const" in node:
        shape.enum = {*(shape.enum or set()), repr(node["const"])}
        shape.types.add(_json_type(node["const"]))
    if "enum" in node:
        shape.enum = {*(shape.enum or set()), *(repr(v) for v in node["enum"])}
        shape.types.update(_json_type(v) for v in node["enum"])
    for name, sub in node.get("properties", {}).items():
        shape.properties[name] = shape_of(sub, root)
    if node.get("properties") is not None:
        shape.types.add("object")
    shape.required.update(node.get("required", []))
    if "items" in node and isinstance(node["items"], Mapping):
        shape.items = shape_of(node["items"], root)
    if "integer" in shape.types and "number" in shape.types:
        shape.types.discard("integer")
    return shape


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _merge(into: Shape, other: Shape) -> None:
    into.types |= other.types
    for name, sub in other.properties.items():
        if name in into.properties:
            _merge(into.properties[name], sub)
        else:
            into.properties[name] = sub
    into.required |= other.required
    if other.items is not None:
        if into.items is None:
            into.items = other.items
        else:
            _merge(into.items, other.items)
    if other.enum is not None:
        into.enum = {*(into.enum or set()), *other.enum}


def _compare(event_type: str, path: str, old: Shape, new: Shape) -> list[BreakingChange]:
    def at(name: str) -> str:
        return f"{path}.{name}" if path else name

    changes: list[BreakingChange] = []
    if old.types != new.types and old.types and new.types:
        changes.append(
            BreakingChange(
                event_type,
                path,
                f"type changed from {'|'.join(sorted(old.types))} to {'|'.join(sorted(new.types))}",
            )
        )
    if old.enum is not None and new.enum is not None and old.enum - new.enum:
        gone = ", ".join(sorted(old.enum - new.enum))
        changes.append(BreakingChange(event_type, path, f"allowed values removed: {gone}"))
    for name, old_sub in old.properties.items():
        if name not in new.properties:
            changes.append(BreakingChange(event_type, at(name), "field removed (or renamed)"))
            continue
        changes += _compare(event_type, at(name), old_sub, new.properties[name])
    for name in sorted(new.required - old.required):
        reason = "field became required" if name in old.properties else "new field is required"
        changes.append(BreakingChange(event_type, at(name), reason))
    if old.items is not None and new.items is not None:
        changes += _compare(event_type, f"{path}[]", old.items, new.items)
    return changes


def breaking_changes(
    committed: Mapping[str, Schema], current: Mapping[str, Schema]
) -> list[BreakingChange]:
    """How `current` (the code) breaks consumers of `committed` (the published schemas)."""
    changes: list[BreakingChange] = []
    for event_type in sorted(committed):
        if event_type not in current:
            changes.append(BreakingChange(event_type, "", "event type removed"))
            continue
        old_root, new_root = committed[event_type], current[event_type]
        changes += _compare(
            event_type, "", shape_of(old_root, old_root), shape_of(new_root, new_root)
        )
    return changes
