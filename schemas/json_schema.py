"""JSON Schema of a record, as checked in under ``schemas/json/<Record>.v<major>.json``.

The schema is pydantic's validation schema of the record (what a reader accepts),
plus ``$schema``, an ``$id`` naming the record and its major version, and
``x-bwv-schema-version`` (the major, also the default of the ``schema_version``
field every record carries). The text is stable: sorted keys, two-space indent,
a trailing newline, so a diff shows exactly what changed in the contract.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from schemas.records import Record

JSON_DIR = Path(__file__).resolve().parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
VERSION_KEY = "x-bwv-schema-version"
FILE_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.v(?P<major>[1-9][0-9]*)\.json$")


def major_version(cls: type[Record]) -> int:
    return cls.SCHEMA_VERSION


def schema_filename(cls: type[Record]) -> str:
    return f"{cls.__name__}.v{major_version(cls)}.json"


def schema_id(cls: type[Record]) -> str:
    # A name, not a location: the files travel with the code, wherever it is hosted.
    return f"urn:bwv:schema:{cls.__name__}:v{major_version(cls)}"


def record_schema(cls: type[Record]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    return {
        "$schema": DIALECT,
        "$id": schema_id(cls),
        **schema,
        "title": cls.__name__,
        VERSION_KEY: major_version(cls),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
