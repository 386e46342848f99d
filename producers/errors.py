"""Camera-side errors: each message says what happened and what to do about it.

They live apart from the publisher so the spool (which the publisher uses) can
raise them too without an import cycle. ``bwv camera`` prints any of them as one
line and exits with ``code``.
"""

from __future__ import annotations


class PublishError(RuntimeError):
    """A segment could not be published; the message says why and what to do."""

    code = 2


class SegmentTooLarge(PublishError):
    """A segment over BWV_MAX_SEGMENT_BYTES: refused before it is accepted."""


class SpoolError(PublishError):
    """The on-disk spool could not take a segment (disk error, unreadable directory)."""


class SpoolFull(SpoolError):
    """The spool holds BWV_SPOOL_MAX_BYTES already: the camera stops accepting
    footage rather than dropping any of it."""


class SpoolBusy(SpoolError):
    """Another process holds this camera's spool: two publishers for one camera
    id would interleave its segments."""


class DeliveryPending(PublishError):
    """Every segment is safe in the spool, but the broker has not acknowledged
    all of them yet; they are sent first the next time this camera starts."""

    code = 3
