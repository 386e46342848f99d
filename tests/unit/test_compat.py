"""The compatibility rule (schemas/compat.py) on small schemas: what may change within a major version."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import Field

from schemas.compat import compatibility_problems
from schemas.json_schema import record_schema
from schemas.records import StoredSegment

BASE: dict[str, Any] = {
    "$id": "urn:bwv:schema:Thing:v1",
    "title": "Thing",
    "type": "object",
    "properties": {
        "camera_id": {"type": "string", "title": "Camera Id"},
        "sequence": {"type": "integer", "minimum": 0},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "severity": {"$ref": "#/$defs/Severity"},
    },
    "required": ["camera_id", "sequence", "severity"],
    "$defs": {"Severity": {"type": "string", "enum": ["info", "critical"]}},
}


def changed(edit) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    new = copy.deepcopy(BASE)
    edit(new)
    return new


def test_identical_schemas_are_compatible() -> None:
    assert compatibility_problems(BASE, copy.deepcopy(BASE)) == []


def test_adding_an_optional_property_is_compatible() -> None:
    new = changed(lambda s: s["properties"].update(officer_id={"type": "string"}))
    assert compatibility_problems(BASE, new) == []


def test_annotations_may_change() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["description"] = "now documented"
        s["properties"]["camera_id"]["title"] = "Camera"
        s["properties"]["sequence"]["description"] = "0-based"
        s["properties"]["sequence"]["examples"] = [3]
        s["x-bwv-note"] = "extensions are annotations too"

    assert compatibility_problems(BASE, changed(edit)) == []


def test_moving_a_definition_behind_a_ref_is_not_a_change() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["severity"] = {"type": "string", "enum": ["info", "critical"]}
        del s["$defs"]

    assert compatibility_problems(BASE, changed(edit)) == []


def test_removing_a_property_fails() -> None:
    new = changed(lambda s: (s["properties"].pop("note")))
    assert compatibility_problems(BASE, new) == ["note: removed"]


def test_adding_a_required_property_fails() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["officer_id"] = {"type": "string"}
        s["required"].append("officer_id")

    assert compatibility_problems(BASE, changed(edit)) == [
        "officer_id: added as required (a new field must be optional)"
    ]


def test_an_optional_property_becoming_required_fails() -> None:
    new = changed(lambda s: s["required"].append("note"))
    assert compatibility_problems(BASE, new) == ["note: was optional, now required (old records lack it)"]


def test_a_required_property_becoming_optional_fails() -> None:
    new = changed(lambda s: s["required"].remove("sequence"))
    assert compatibility_problems(BASE, new) == ["sequence: was required, now optional (old readers need it)"]


def test_changing_a_type_fails() -> None:
    new = changed(lambda s: s["properties"]["sequence"].update(type="string"))
    assert compatibility_problems(BASE, new) == ["sequence: type changed from 'integer' to 'string'"]


def test_changing_a_type_inside_any_of_fails() -> None:
    new = changed(lambda s: s["properties"]["note"]["anyOf"][0].update(type="integer"))
    assert compatibility_problems(BASE, new) == ["note: anyOf[0].type changed from 'string' to 'integer'"]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda s: s["properties"]["sequence"].update(minimum=1), "sequence: minimum changed from 0 to 1"),
        (lambda s: s["properties"]["sequence"].pop("minimum"), "sequence: minimum removed (was 0)"),
        (lambda s: s["properties"]["camera_id"].update(maxLength=8), "camera_id: maxLength added (8)"),
        (lambda s: s["properties"]["note"].update(default="-"), "note: default changed from None to '-'"),
    ],
    ids=["tightened", "loosened", "new-constraint", "new-default"],
)
def test_changing_a_constraint_either_way_fails(edit, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert compatibility_problems(BASE, changed(edit)) == [expected]


def test_adding_an_enum_value_behind_a_ref_fails() -> None:
    new = changed(lambda s: s["$defs"]["Severity"]["enum"].append("warning"))
    assert compatibility_problems(BASE, new) == [
        "severity: enum changed from ['info', 'critical'] to ['info', 'critical', 'warning']"
    ]


def test_nested_objects_follow_the_same_rule() -> None:
    old = {"type": "object", "properties": {"where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]}}}
    added = copy.deepcopy(old)
    added["properties"]["where"]["properties"]["lon"] = {"type": "number"}
    assert compatibility_problems(old, added) == []
    removed = copy.deepcopy(old)
    del removed["properties"]["where"]["properties"]["lat"]
    assert compatibility_problems(old, removed) == ["where.lat: removed"]


def test_a_recursive_definition_terminates() -> None:
    node = {"type": "object", "properties": {"child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}}}
    schema = {"$ref": "#/$defs/Node", "$defs": {"Node": node}}
    assert compatibility_problems(schema, copy.deepcopy(schema)) == []


def test_on_real_records_an_added_optional_field_passes_and_a_changed_type_fails() -> None:
    class Wider(StoredSegment):
        thumbnail_key: str | None = Field(None, description="added later")

    class Retyped(StoredSegment):
        sequence: str  # type: ignore[assignment]

    old = record_schema(StoredSegment)
    assert compatibility_problems(old, record_schema(Wider)) == []
    assert compatibility_problems(old, record_schema(Retyped)) == [
        "sequence: minimum removed (was 0)",
        "sequence: type changed from 'integer' to 'string'",
    ]
