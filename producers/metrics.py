"""Prometheus metrics of the camera side: spool depth and size, spool-full events,
segments the broker acknowledged.

The gauges are process totals: every spool adds and subtracts its own share
(``inc``/``dec``, never ``set``), so a process publishing for several cameras
reports the sum of their spools.

Registration goes through ``_get_or_create``: prometheus-client refuses a second
collector with the same name, which happens when this module is imported twice
(``python -m``, ``importlib.reload`` in tests, two import paths). The second
import then reuses the collectors the first one registered.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

M = TypeVar("M", Counter, Gauge)

# prometheus-client adds these to a counter's name; a lookup must know them.
_SAMPLE_SUFFIX = {Counter: "_total", Gauge: ""}


def _get_or_create(
    kind: type[M], name: str, documentation: str, labelnames: tuple[str, ...] = (), registry: CollectorRegistry = REGISTRY
) -> M:
    """The collector registered under ``name``, creating it only if there is none."""
    base = name.removesuffix("_total") if kind is Counter else name
    # No public lookup exists; _names_to_collectors is the registry's own index.
    existing = getattr(registry, "_names_to_collectors", {}).get(base + _SAMPLE_SUFFIX[kind])
    if existing is not None:
        if not isinstance(existing, kind):
            raise TypeError(f"metric {name} is already registered as a {type(existing).__name__}")
        return existing
    return kind(base, documentation, labelnames, registry=registry)


SPOOL_DEPTH = _get_or_create(
    Gauge, "bwv_publisher_spool_depth", "Messages (segments and end markers) waiting in the camera spool"
)
SPOOL_BYTES = _get_or_create(Gauge, "bwv_publisher_spool_bytes", "Bytes on disk in the camera spool")
SPOOL_FULL = _get_or_create(
    Counter, "bwv_publisher_spool_full_total", "Segments refused because the camera spool was full"
)
SEGMENTS_PUBLISHED = _get_or_create(
    Counter,
    "bwv_publisher_segments_published_total",
    "Segments the broker acknowledged (acks=all)",
    ("camera_id",),
)
