"""The AsyncAPI 3.0 document of bwv's topics, generated from the topic table.

Every topic is a channel (its address is the topic name) with Kafka bindings for
partitions, cleanup policy, retention and max message size; its messages give
the key and the value schema, a ``$ref`` to the checked-in JSON Schema of the
record. ``bwv.segments`` carries raw video, so its two messages (a segment, an
end marker) are described by their headers instead.

Operations are written from a subscriber's side (``receive``): the document is
for systems that consume these topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from schemas.json_schema import major_version, schema_filename
from schemas.records import Record
from schemas.registry import HEADER_RECORDS, contract_topics, registered_records
from schemas.headers import END_HEADER, SEGMENT_HEADER
from schemas.signing import SIGNATURE_BYTES, SIGNATURE_HEADER
from schemas.topics import SEGMENTS, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
# The version of the contract as a whole; each record carries its own major version.
CONTRACT_VERSION = "1.0.0"


@dataclass(frozen=True)
class RawMessage:
    """A message of a topic whose value is not a record: described by its headers."""

    name: str
    header: str
    summary: str
    payload: dict[str, Any]
    content_type: str


# Topics whose value is raw bytes (``value=None`` in the topic table), by name.
RAW_TOPIC_MESSAGES: dict[str, list[RawMessage]] = {
    SEGMENTS: [
        RawMessage(
            "Segment",
            SEGMENT_HEADER,
            "One keyframe-aligned video segment: raw MPEG-TS bytes, metadata in the bwv-segment header.",
            {"type": "string", "format": "binary", "contentMediaType": "video/mp2t"},
            "video/mp2t",
        ),
        RawMessage(
            "RecordingEndMarker",
            END_HEADER,
            "Sent after a recording's last segment: empty value, the bwv-recording-end header.",
            {"type": "string", "maxLength": 0, "description": "empty"},
            "application/octet-stream",
        ),
    ],
}

# Headers beside the one record header of a raw message, which any of them may carry.
RAW_EXTRA_HEADERS: dict[str, dict[str, Any]] = {
    SIGNATURE_HEADER: {
        "type": "string",
        "contentEncoding": "binary",
        "minLength": SIGNATURE_BYTES,
        "maxLength": SIGNATURE_BYTES,
        "description": "Raw 64-byte Ed25519 signature, by the camera's registered key, of the exact bytes "
        "of the record header (bwv-segment or bwv-recording-end); see schemas/signing.py",
    },
}


def _schema_ref(cls: type[Record]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{cls.__name__}"}


def _key_binding(spec: TopicSpec) -> dict[str, Any]:
    return {
        "key": {"type": "string", "description": f"{spec.key} (UTF-8)"},
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def _topic_configuration(spec: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, value in spec.config().items():
        if name == "cleanup.policy":
            config[name] = [p.strip() for p in value.split(",")]
        else:
            config[name] = int(value) if value.lstrip("-").isdigit() else value
    return config


def _channel_binding(spec: TopicSpec) -> dict[str, Any]:
    return {
        "kafka": {
            "topic": spec.name,
            "partitions": spec.partitions,
            "topicConfiguration": _topic_configuration(spec),
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _record_message(spec: TopicSpec, record: type[Record]) -> dict[str, Any]:
    return {
        "name": record.__name__,
        "title": f"{record.__name__} v{major_version(record)}",
        "summary": (record.__doc__ or record.__name__).strip().splitlines()[0],
        "contentType": "application/json",
        "payload": _schema_ref(record),
        "bindings": {"kafka": _key_binding(spec)},
    }


def _raw_message(spec: TopicSpec, raw: RawMessage) -> dict[str, Any]:
    record = HEADER_RECORDS[raw.header]
    headers: dict[str, Any] = {
        raw.header: {
            "type": "string",
            "description": f"{record.__name__} as UTF-8 JSON",
            "contentMediaType": "application/json",
            "contentSchema": _schema_ref(record),
        },
        **RAW_EXTRA_HEADERS,
    }
    return {
        "name": raw.name,
        "title": raw.name,
        "summary": raw.summary,
        "contentType": raw.content_type,
        "headers": {"type": "object", "required": [raw.header], "properties": headers},
        "payload": raw.payload,
        "bindings": {"kafka": _key_binding(spec)},
    }


def _messages(spec: TopicSpec) -> dict[str, dict[str, Any]]:
    if spec.value is not None:
        return {spec.value.__name__: _record_message(spec, spec.value)}
    if spec.name not in RAW_TOPIC_MESSAGES:
        raise ValueError(
            f"topic {spec.name} carries raw bytes (value=None): describe its messages in "
            "RAW_TOPIC_MESSAGES of schemas/asyncapi.py"
        )
    return {raw.name: _raw_message(spec, raw) for raw in RAW_TOPIC_MESSAGES[spec.name]}


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in contract_topics():
        messages = _messages(spec)
        channels[spec.name] = {
            "address": spec.name,
            "title": spec.name,
            "description": f"Key: {spec.key}. Value: {spec.value_doc}.",
            "messages": messages,
            "bindings": _channel_binding(spec),
        }
        operations[f"receive.{spec.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "summary": f"Subscribe to {spec.name}",
            "messages": [{"$ref": f"#/channels/{spec.name}/messages/{name}"} for name in messages],
        }
    schemas = {cls.__name__: {"$ref": f"./json/{schema_filename(cls)}"} for cls in registered_records()}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "bwv topics",
            "version": CONTRACT_VERSION,
            "description": (
                "The topics of the bwv body-worn video pipeline: keys, value schemas, headers and topic "
                "configuration. Generated from schemas/ by `python -m schemas.generate`; do not edit.\n\n"
                "Values are UTF-8 JSON records, except on bwv.segments (raw video, metadata in headers). "
                "Every record has a schema_version (its major version). Within a major version a record "
                "only gains optional fields: readers must ignore fields they do not know. Times are UTC, "
                "ISO 8601.\n\n"
                "Partition counts and bwv.segments' max.message.bytes follow the settings "
                "BWV_SEGMENT_PARTITIONS and BWV_MAX_SEGMENT_BYTES; the values here are their defaults."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "Any Kafka cluster: the bootstrap servers are the setting BWV_KAFKA_BOOTSTRAP.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }


class _Dumper(yaml.SafeDumper):
    """Plain, diff-friendly YAML: no anchors for repeated objects, multi-line text as blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dumps(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
