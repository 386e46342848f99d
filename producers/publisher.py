"""Publishes segments to bwv.segments: raw bytes as the value, one header record.

kafka-python with acks=all and idempotence, keyed by camera id so a camera's
segments stay in order on one partition. The size limit is ours to enforce
(some brokers ignore ``max.message.bytes``), and a refusal says what to change.

Two modes:

* **spooled** (``bwv camera``): ``publish`` returns once the message is fsync'd
  in the camera's spool (``producers.spool``); a sender thread sends spooled
  messages oldest first and deletes each only after the broker acknowledged it.
  A broker outage costs latency, never footage, and never blocks the camera.
* **direct** (tests, benchmarks, tools that inject exact messages): ``publish``
  queues on the producer and ``flush`` waits for the acknowledgements.

The sender sends **one message at a time** and waits for its acknowledgement
before the next. That costs nothing here: kafka-python's idempotent producer
already keeps at most one batch in flight per partition, and all of a camera's
messages go to one partition. What it buys: order no longer depends on how the
producer handles an expired batch (``delivery_timeout_ms``: an expired batch
resets the producer id, and a later batch still queued could then overtake it).
A message that failed is simply sent again, and nothing newer has been handed
to the producer meanwhile.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError
from kafka.producer.future import FutureRecordMetadata

from bwv.security import kafka_python_security
from bwv.settings import Settings
from producers.errors import DeliveryPending, PublishError, SegmentTooLarge, SpoolError, SpoolFull
from producers.keys import KeyRing
from producers.metrics import SEGMENTS_PUBLISHED
from producers.spool import Headers, Spool, SpoolCorrupt, SpoolEntry
from schemas.headers import SEGMENT_HEADER, encode_headers
from schemas.records import RecordingEnd, SegmentHeader
from schemas.topics import MESSAGE_OVERHEAD_BYTES, SEGMENTS

# Re-exported: callers (bwv.cli among them) import the errors from here.
__all__ = ["DeliveryPending", "PublishError", "SegmentPublisher", "SegmentTooLarge", "SpoolFull"]

log = logging.getLogger(__name__)

Status = Callable[[str], None]


def producer_config(settings: Settings, *, linger_ms: int) -> dict[str, object]:
    """The camera producer's configuration, shared by both modes."""
    delivery_ms = int(settings.delivery_timeout * 1000)
    return {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "client_id": "bwv-camera",
        "acks": "all",
        "enable_idempotence": True,
        "max_request_size": settings.max_segment_bytes + MESSAGE_OVERHEAD_BYTES,
        "linger_ms": linger_ms,
        "retries": 2**31 - 1,
        "delivery_timeout_ms": delivery_ms,
        # kafka-python insists on delivery >= linger + request timeout.
        "request_timeout_ms": min(30_000, delivery_ms - linger_ms),
        # A camera should notice a returning network within seconds, not after
        # the default 30 s reconnect back-off.
        "reconnect_backoff_max_ms": 2_000,
        **kafka_python_security(settings),
    }


def _is_segment(headers: Headers) -> bool:
    return any(name == SEGMENT_HEADER for name, _ in headers)


class SegmentPublisher:
    """Sends a camera's segments and end markers; see the module docstring for the two modes."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyRing | None = None,
        *,
        spool: Spool | None = None,
        on_status: Status | None = None,
    ) -> None:
        self.max_segment_bytes = settings.max_segment_bytes
        self.drain_timeout = settings.spool_drain_timeout
        # Every message is signed with its camera's key (see schemas.signing).
        self.keys = keys or KeyRing(settings.camera_keys_dir)
        self.spool = spool
        self._sender: _SpoolSender | None = None
        self._pending: list[FutureRecordMetadata] = []
        if spool is not None:
            if spool.max_bytes < self.max_segment_bytes + MESSAGE_OVERHEAD_BYTES:
                raise SpoolError(
                    f"the spool bound ({spool.max_bytes:,} bytes, BWV_SPOOL_MAX_BYTES) cannot hold even one "
                    f"largest segment ({self.max_segment_bytes:,} bytes, BWV_MAX_SEGMENT_BYTES); raise it"
                )
            report = on_status or (lambda message: log.warning("%s", message))
            if spool.depth:
                report(
                    f"spool: {spool.depth} message(s), {spool.bytes / 1e6:.1f} MB left from a previous run; "
                    "sending them first, oldest first"
                )
            # No broker connection here: a camera records into its spool even when
            # it starts without network; the sender connects when it can.
            self._sender = _SpoolSender(spool, settings, report)
            self._sender.start()
            return
        try:
            self._producer = KafkaProducer(**producer_config(settings, linger_ms=5))
        except KafkaError as exc:
            raise PublishError(
                f"cannot reach the Kafka broker at {settings.kafka_bootstrap} ({exc}); "
                "check BWV_KAFKA_BOOTSTRAP and that the broker runs"
            ) from None

    @property
    def spooled(self) -> bool:
        """True when publish() means 'durably spooled', not 'queued on the producer'."""
        return self.spool is not None

    @property
    def spool_depth(self) -> int:
        return self.spool.depth if self.spool is not None else 0

    def check_size(self, header: SegmentHeader, size: int) -> None:
        if size > self.max_segment_bytes:
            raise SegmentTooLarge(
                f"segment {header.sequence} of recording {header.recording_id} is {size:,} bytes, "
                f"over the {self.max_segment_bytes:,}-byte limit (BWV_MAX_SEGMENT_BYTES); "
                "use shorter segments (BWV_SEGMENT_SECONDS) or a lower bitrate"
            )

    def publish(self, header: SegmentHeader, data: bytes) -> None:
        """Spooled: return once the segment is on disk. Direct: queue it; ``flush`` waits."""
        self.check_size(header, len(data))
        if header.byte_size != len(data):
            raise PublishError(
                f"header says {header.byte_size} bytes but the segment has {len(data)}"
            )
        headers = encode_headers(header, self.keys.private(header.camera_id))
        try:
            self._send(header.camera_id, data, headers)
        except SpoolFull as exc:
            raise SpoolFull(
                f"segment {header.sequence} of recording {header.recording_id} not accepted: {exc}; "
                "restore the connection to the broker or raise BWV_SPOOL_MAX_BYTES"
            ) from None

    def publish_end(self, end: RecordingEnd) -> None:
        self._send(end.camera_id, b"", encode_headers(end, self.keys.private(end.camera_id)))

    def _send(self, camera_id: str, value: bytes, headers: Headers) -> None:
        if self._sender is None:
            future = self._producer.send(SEGMENTS, key=camera_id.encode(), value=value, headers=headers)
            if _is_segment(headers):
                future.add_callback(lambda _: SEGMENTS_PUBLISHED.labels(camera_id).inc())
            self._pending.append(future)
            return
        assert self.spool is not None
        if self._sender.error is not None:
            raise self._sender.error
        if camera_id != self.spool.camera_id:
            raise PublishError(f"camera {camera_id}'s message cannot go into camera {self.spool.camera_id}'s spool")
        self.spool.append(camera_id.encode(), headers, value)
        self._sender.wake()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the broker acknowledged everything published so far.

        Spooled: wait up to ``timeout`` (default BWV_SPOOL_DRAIN_TIMEOUT) for the
        spool to empty, then raise DeliveryPending; nothing is lost either way.
        """
        if self._sender is not None:
            assert self.spool is not None
            limit = self.drain_timeout if timeout is None else timeout
            if not self._sender.wait_drained(limit):
                if self._sender.error is not None:
                    raise self._sender.error
                raise DeliveryPending(
                    f"{self.spool.depth} message(s), {self.spool.bytes / 1e6:.1f} MB of camera "
                    f"{self.spool.camera_id} are safe in the spool {self.spool.directory} but the broker did not "
                    f"acknowledge them within {limit:g} s (BWV_SPOOL_DRAIN_TIMEOUT); they are sent first "
                    f"the next time camera {self.spool.camera_id} starts"
                )
            return
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise PublishError(f"the broker did not acknowledge every segment: {exc}") from None
        failed = [f.exception for f in self._pending if f.failed()]
        self._pending.clear()
        if failed:
            raise PublishError(f"{len(failed)} message(s) were not acknowledged: {failed[0]}")

    def close(self) -> None:
        """Stop sending and release the spool; whatever is still spooled stays on disk."""
        if self._sender is None:
            self._producer.close()
            return
        self._sender.close()
        assert self.spool is not None
        self.spool.close()


class _SpoolSender(threading.Thread):
    """Sends one camera's spooled messages one at a time, oldest first; deletes each on ack."""

    RETRY_PAUSE = 1.0  # seconds before re-sending a failed message (connects back off on their own)
    QUIET_REPORT = 5.0  # seconds without an acknowledgement before the operator is told
    REPEAT_REPORT = 15.0  # while the broker stays away, repeat the spool's size this often

    def __init__(self, spool: Spool, settings: Settings, report: Status) -> None:
        super().__init__(name=f"bwv-spool-{spool.camera_id}", daemon=True)
        self.spool = spool
        self.settings = settings
        self.report = report
        self.error: PublishError | None = None
        self._producer: KafkaProducer | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._progress = threading.Condition()
        self._trouble_since: float | None = None
        self._last_report = 0.0

    # --- called from the camera's thread ----------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def wait_drained(self, timeout: float) -> bool:
        """True once the spool is empty; False on timeout or when the sender stopped."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.spool.depth:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.error is not None or not self.is_alive():
                    return False
                self._progress.wait(min(remaining, 0.5))
        return True

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(5)
        if self._producer is not None:
            try:
                # Anything the producer still holds is also still in the spool.
                self._producer.close(timeout=0 if self.spool.depth else 5)
            except KafkaError:
                pass

    # --- the thread --------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.clear()  # before looking: an append after the look wakes us
                entry = self.spool.first()
                if entry is None:
                    self._wake.wait(1.0)
                elif not self._deliver(entry):
                    self._stopping.wait(self.RETRY_PAUSE)
        except Exception as exc:  # a bug must not leave the camera spooling into a void
            log.exception("spool sender for camera %s stopped", self.spool.camera_id)
            self.error = PublishError(
                f"the spool sender stopped ({exc!r}); footage stays in {self.spool.directory}"
            )
        finally:
            with self._progress:
                self._progress.notify_all()

    def _deliver(self, entry: SpoolEntry) -> bool:
        """Send the oldest message and wait for its acknowledgement; True when it left the spool."""
        producer = self._producer or self._connect()
        if producer is None:
            return False
        try:
            message = self.spool.read(entry)
        except SpoolCorrupt as exc:
            self.spool.set_aside(entry, str(exc))
            self.report(f"spool: {entry.path.name} is damaged ({exc}); set aside in {entry.path.parent / 'damaged'}")
            return True
        except SpoolError as exc:
            self._trouble(str(exc))
            return False
        started = time.monotonic()
        try:
            future = producer.send(SEGMENTS, key=message.key, value=message.value, headers=message.headers)
        except KafkaError as exc:
            return self._failed(exc, started)
        done = threading.Event()
        future.add_both(lambda _: done.set())
        while not done.wait(0.5):
            if self._stopping.is_set():
                return False  # abandoned, not lost: it is still the oldest in the spool
            if time.monotonic() - started > self.QUIET_REPORT:
                self._trouble("no acknowledgement yet", since=started)
        if future.failed():
            return self._failed(future.exception, started)
        self.spool.remove(entry)
        if _is_segment(message.headers):
            SEGMENTS_PUBLISHED.labels(self.spool.camera_id).inc()
        self._recovered()
        with self._progress:
            self._progress.notify_all()
        return True

    def _connect(self) -> KafkaProducer | None:
        started = time.monotonic()
        try:
            self._producer = KafkaProducer(
                **producer_config(self.settings, linger_ms=0),  # one message at a time: nothing to batch
                bootstrap_timeout_ms=2_000,  # short: the loop retries, and close() need not wait long
                max_block_ms=10_000,
            )
        except KafkaConfigurationError as exc:
            self._fatal(PublishError(f"the camera's Kafka settings are invalid: {exc}"))
        except KafkaError as exc:
            # A failed KafkaProducer() leaves its sockets in reference cycles: collect
            # them now rather than leak descriptors through a long outage.
            gc.collect()
            self._trouble(f"cannot connect to {self.settings.kafka_bootstrap}: {type(exc).__name__}", since=started)
        return self._producer

    def _failed(self, exc: BaseException | None, started: float) -> bool:
        """Retriable (the broker is away, a timeout): the message stays first and is sent again."""
        if isinstance(exc, KafkaError) and exc.retriable:
            self._trouble(type(exc).__name__, since=started)
            return False
        self._fatal(
            PublishError(
                f"the broker refused a message of camera {self.spool.camera_id} ({exc!r}); it stays in the "
                f"spool {self.spool.directory} and is sent first when the camera starts again"
            )
        )
        return False

    def _fatal(self, error: PublishError) -> None:
        self.error = error
        self.report(str(error))
        self._stopping.set()

    def _trouble(self, reason: str, since: float | None = None) -> None:
        """Tell the operator the broker is away: at once, then every REPEAT_REPORT seconds."""
        now = time.monotonic()
        if self._trouble_since is None:
            self._trouble_since = since or now
        elif now - self._last_report < self.REPEAT_REPORT:
            return
        self._last_report = now
        self.report(
            f"broker not acknowledging for {now - self._trouble_since:.0f} s ({reason}); recording into the "
            f"spool: {self.spool.depth} message(s), {self.spool.bytes / 1e6:.1f} MB waiting"
        )

    def _recovered(self) -> None:
        if self._trouble_since is None:
            return
        self.report(
            f"broker back after {time.monotonic() - self._trouble_since:.0f} s; "
            f"sending the {self.spool.depth} spooled message(s) left, oldest first"
        )
        self._trouble_since = None
