"""The compatibility rule of the topic contract, as a pure function on two JSON Schemas.

Within one major version a record may only gain optional fields. Topics keep
records for weeks, so both directions matter: a new reader meets old records,
and an old reader (which ignores unknown fields) meets new ones. Hence:

* no property is removed;
* no property is added as required, and no property changes between required
  and optional;
* a property's validation keywords (``type``, ``format``, ``enum``, ``pattern``,
  bounds, ``default``, ...) do not change, neither loosened nor tightened —
  adding an enum value counts as a change, since an old reader would refuse it;
* annotations (``title``, ``description``, ``examples``, ``$comment``, ``x-*``)
  may change freely.

Nested objects follow the same rule. Local ``$ref`` s are resolved on both sides,
so moving a definition under ``$defs`` is not a change. Anything else needs a new
major version: a new ``<Record>.v<N+1>.json`` beside the old one.
"""

from __future__ import annotations

from typing import Any

ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "deprecated", "readOnly", "writeOnly"})
# Keywords about the document rather than the record's shape.
DOCUMENT_KEYWORDS = frozenset({"$schema", "$id", "$defs", "definitions"})

Schema = dict[str, Any]


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """Why ``new`` breaks readers or writers of ``old`` (same major version); empty if it does not."""
    problems: list[str] = []
    _compare(old, new, _Roots(old, new), "", (), frozenset(), problems)
    return problems


class _Roots:
    def __init__(self, old: Schema, new: Schema) -> None:
        self.old = old
        self.new = new


def _ignored(key: str, at_root: bool) -> bool:
    return key in ANNOTATIONS or key.startswith("x-") or (at_root and key in DOCUMENT_KEYWORDS)


def _resolve(schema: Schema, root: Schema) -> tuple[Schema, str | None]:
    """Follow a local ``$ref`` (keeping keywords beside it, as pydantic writes them)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema, None
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    siblings = {k: v for k, v in schema.items() if k != "$ref"}
    return {**target, **siblings}, ref


def _describe(prop: str, keyword_path: tuple[str, ...]) -> str:
    where = prop or "(record)"
    return f"{where}: {'.'.join(keyword_path)}" if keyword_path else where


def _compare(
    old: Any,
    new: Any,
    roots: _Roots,
    prop: str,
    keyword_path: tuple[str, ...],
    expanding: frozenset[tuple[str | None, str | None]],
    problems: list[str],
) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        old, old_ref = _resolve(old, roots.old)
        new, new_ref = _resolve(new, roots.new)
        if old_ref or new_ref:
            pair = (old_ref, new_ref)
            if pair in expanding:  # a recursive definition already being compared
                return
            expanding = expanding | {pair}
        at_root = prop == "" and not keyword_path
        if "properties" in old or "properties" in new:
            _compare_object(old, new, roots, prop, expanding, problems)
            skip = {"properties", "required"}
        else:
            skip = set()
        for key in sorted(set(old) | set(new)):
            if key in skip or _ignored(key, at_root):
                continue
            if key not in new:
                problems.append(f"{_describe(prop, keyword_path + (key,))} removed (was {old[key]!r})")
            elif key not in old:
                problems.append(f"{_describe(prop, keyword_path + (key,))} added ({new[key]!r})")
            else:
                _compare(old[key], new[key], roots, prop, keyword_path + (key,), expanding, problems)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and all(
        isinstance(item, dict) for item in old + new
    ):
        # Lists of subschemas (anyOf, oneOf, allOf, prefixItems): compare position by position.
        for i, (o, n) in enumerate(zip(old, new)):
            _compare(o, n, roots, prop, keyword_path[:-1] + (f"{keyword_path[-1]}[{i}]",), expanding, problems)
    elif old != new:
        problems.append(f"{_describe(prop, keyword_path)} changed from {old!r} to {new!r}")


def _compare_object(
    old: Schema,
    new: Schema,
    roots: _Roots,
    prop: str,
    expanding: frozenset[tuple[str | None, str | None]],
    problems: list[str],
) -> None:
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name in old_props:
        path = f"{prop}.{name}" if prop else name
        if name not in new_props:
            problems.append(f"{path}: removed")
            continue
        if name in old_required and name not in new_required:
            problems.append(f"{path}: was required, now optional (old readers need it)")
        elif name in new_required and name not in old_required:
            problems.append(f"{path}: was optional, now required (old records lack it)")
        _compare(old_props[name], new_props[name], roots, path, (), expanding, problems)
    for name in new_props:
        if name not in old_props and name in new_required:
            path = f"{prop}.{name}" if prop else name
            problems.append(f"{path}: added as required (a new field must be optional)")
