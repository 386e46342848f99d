"""The camera's on-disk spool: a message is on disk, fsync'd, before it is sent, and
leaves the disk only after the broker acknowledged it (acks=all).

Why: footage is evidence and a camera in the field loses its network often. With
the spool a broker outage costs latency, not footage: the camera keeps cutting
segments into the spool, and the publisher sends them, oldest first, when the
broker is back — also after the camera process was restarted.

One directory per camera id (``<BWV_SPOOL_DIR>/<camera id>/``)::

    .lock                       flock'd by the one process spooling for this camera
    00000000000000000042.msg    one message (segment or end marker), named by a
                                counter that only grows: name order is send order
    00000000000000000043.tmp    a message being written; it is renamed to .msg only
                                after fsync, so a crash leaves a .tmp (discarded: the
                                camera was never told it was accepted)
    damaged/                    .msg files that failed their checks, set aside for
                                inspection and never sent as good data

A message file, integers big-endian::

    magic "BWVSPL01" | u32 meta length | u64 value length | meta | value | u32 CRC-32
    meta = u16 key length | key | u16 header count | (u16 name length | name | u32 length | value)*

The CRC-32 covers every byte before it. The value is the raw segment: no base64,
no JSON around the video.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import threading
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from producers.errors import SpoolBusy, SpoolError, SpoolFull
from producers.metrics import SPOOL_BYTES, SPOOL_DEPTH, SPOOL_FULL

log = logging.getLogger(__name__)

MAGIC = b"BWVSPL01"
_PREFIX = struct.Struct(">8sIQ")  # magic, meta length, value length
_CRC = struct.Struct(">I")
MESSAGE_SUFFIX = ".msg"
PARTIAL_SUFFIX = ".tmp"
LOCK_NAME = ".lock"
DAMAGED_DIR = "damaged"
_NAME = re.compile(r"^(\d{20})\.(msg|tmp)$")
# An end marker (empty value) may use this much beyond the bound: a camera that
# stops because its spool is full can still close the recording it was making.
MARKER_HEADROOM = 64 * 1024

Headers = list[tuple[str, bytes]]


class SpoolCorrupt(SpoolError):
    """A spooled file failed its checks (torn or altered): it is never sent as good data."""


@dataclass(frozen=True)
class SpoolEntry:
    """One message on disk: its place in the send order and its size in the spool."""

    number: int
    path: Path
    size: int


@dataclass(frozen=True)
class SpooledMessage:
    key: bytes
    headers: Headers
    value: bytes


def _encode_meta(key: bytes, headers: Headers) -> bytes:
    parts = [struct.pack(">H", len(key)), key, struct.pack(">H", len(headers))]
    for name, value in headers:
        raw = name.encode()
        parts += [struct.pack(">H", len(raw)), raw, struct.pack(">I", len(value)), value]
    return b"".join(parts)


def framed_size(meta: bytes, value: bytes) -> int:
    return _PREFIX.size + len(meta) + len(value) + _CRC.size


def decode_message(data: bytes) -> SpooledMessage:
    """Parse and check one message file's bytes; raise SpoolCorrupt if torn or altered."""
    if len(data) < _PREFIX.size + _CRC.size:
        raise SpoolCorrupt(f"{len(data)} bytes: shorter than the framing itself")
    magic, meta_len, value_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise SpoolCorrupt("not a spool message (bad magic)")
    expected = _PREFIX.size + meta_len + value_len + _CRC.size
    if len(data) != expected:
        raise SpoolCorrupt(f"{len(data)} bytes where the framing declares {expected}: torn write")
    view = memoryview(data)
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(view[: -_CRC.size]) != crc:
        raise SpoolCorrupt("CRC-32 mismatch: the file was altered or damaged")
    try:
        key, headers = _decode_meta(view[_PREFIX.size : _PREFIX.size + meta_len])
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise SpoolCorrupt(f"unreadable metadata ({exc})") from None
    value = bytes(view[_PREFIX.size + meta_len : -_CRC.size])
    return SpooledMessage(key, headers, value)


def _decode_meta(meta: memoryview) -> tuple[bytes, Headers]:
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(meta):
            raise ValueError("metadata ends early")
        chunk = bytes(meta[pos : pos + n])
        pos += n
        return chunk

    (key_len,) = struct.unpack(">H", take(2))
    key = take(key_len)
    (count,) = struct.unpack(">H", take(2))
    headers: Headers = []
    for _ in range(count):
        (name_len,) = struct.unpack(">H", take(2))
        name = take(name_len).decode()
        (value_len,) = struct.unpack(">I", take(4))
        headers.append((name, take(value_len)))
    if pos != len(meta):
        raise ValueError("trailing bytes after the headers")
    return key, headers


def _declared_size_problem(path: Path) -> str | None:
    """A cheap check at start-up (no CRC over gigabytes): does the length match the framing?"""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            prefix = f.read(_PREFIX.size)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if len(prefix) < _PREFIX.size:
        return f"{size} bytes: shorter than the framing itself"
    magic, meta_len, value_len = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        return "not a spool message (bad magic)"
    expected = _PREFIX.size + meta_len + value_len + _CRC.size
    if size != expected:
        return f"{size} bytes where the framing declares {expected}: torn write"
    return None


class Spool:
    """One camera's spool directory: append at the tail, send and remove at the head.

    Thread-safe for one appending thread (the camera) and one sending thread; a
    second *process* for the same camera is refused by the lock (SpoolBusy),
    because two publishers for one camera id would interleave its segments.
    """

    def __init__(self, directory: Path, camera_id: str, max_bytes: int, lock_fd: int, dir_fd: int) -> None:
        """Use ``Spool.open``: it takes the lock and recovers what a previous run left."""
        self.directory = directory
        self.camera_id = camera_id
        self.max_bytes = max_bytes
        self._lock_fd: int | None = lock_fd
        self._dir_fd = dir_fd
        self._entries: deque[SpoolEntry] = deque()
        self._bytes = 0
        self._next = 1
        self._state = threading.Lock()  # guards _entries, _bytes, _next
        self._appending = threading.Lock()  # one append at a time keeps file order = send order

    # --- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, camera_id: str, max_bytes: int) -> "Spool":
        """Lock ``root/camera_id`` for this process and load what a previous run left, oldest first."""
        if not camera_id or camera_id in (".", "..") or "/" in camera_id or "\0" in camera_id:
            raise ValueError(f"camera id {camera_id!r} cannot name a spool directory")
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        directory = Path(root) / camera_id
        try:
            (directory / DAMAGED_DIR).mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpoolError(f"cannot use the spool directory {directory}: {exc.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(lock_fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(lock_fd)
            raise SpoolBusy(
                f"camera {camera_id}'s spool {directory} is in use by another process (pid {holder}); "
                "one camera id can be published by one process only"
            ) from None
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
        dir_fd = os.open(directory, os.O_RDONLY)
        spool = cls(directory, camera_id, max_bytes, lock_fd, dir_fd)
        try:
            spool._recover()
        except BaseException:
            spool.close()
            raise
        return spool

    def _recover(self) -> None:
        """Load the messages a previous run left; discard partial writes, set damaged files aside."""
        found: list[SpoolEntry] = []
        highest = 0
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if not match:
                continue
            number = int(match.group(1))
            highest = max(highest, number)
            if match.group(2) == "tmp":
                log.warning("spool %s: discarding %s, a message only partly written when the camera stopped "
                            "(it was never accepted)", self.directory, path.name)
                path.unlink(missing_ok=True)
                continue
            problem = _declared_size_problem(path)
            if problem:
                self._move_aside(path, problem)
                continue
            found.append(SpoolEntry(number, path, path.stat().st_size))
        found.sort(key=lambda e: e.number)
        self._entries.extend(found)
        self._bytes = sum(e.size for e in found)
        self._next = highest + 1
        os.fsync(self._dir_fd)
        SPOOL_DEPTH.inc(len(found))
        SPOOL_BYTES.inc(self._bytes)
        if found:
            log.info("spool %s: %d message(s), %d bytes left from a previous run", self.directory, len(found), self._bytes)

    # --- what the publisher calls ----------------------------------------------------
    @property
    def depth(self) -> int:
        with self._state:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._state:
            return self._bytes

    def first(self) -> SpoolEntry | None:
        """The oldest message not yet acknowledged: the only one that may be sent next."""
        with self._state:
            return self._entries[0] if self._entries else None

    def entries(self) -> list[SpoolEntry]:
        with self._state:
            return list(self._entries)

    def append(self, key: bytes, headers: Headers, value: bytes) -> SpoolEntry:
        """Write one message durably (file and directory fsync'd); raise SpoolFull rather than drop it.

        Steps: 1. reserve its size under the bound; 2. write ``N.tmp`` and fsync it;
        3. rename to ``N.msg`` and fsync the directory; 4. make it visible to the sender.
        """
        meta = _encode_meta(key, headers)
        size = framed_size(meta, value)
        with self._appending:
            # 1. reserve
            with self._state:
                self._check_open()
                limit = self.max_bytes + (MARKER_HEADROOM if not value else 0)
                if self._bytes + size > limit:
                    SPOOL_FULL.inc()
                    message = (
                        f"camera {self.camera_id}'s spool {self.directory} is full: {len(self._entries)} message(s), "
                        f"{self._bytes:,} of {self.max_bytes:,} bytes (BWV_SPOOL_MAX_BYTES) wait for the broker, "
                        f"and this {size:,}-byte message does not fit"
                    )
                    log.error("SPOOL FULL: %s; the camera stops accepting footage", message)
                    raise SpoolFull(message)
                number = self._next
                self._next += 1
                self._bytes += size
            final = self.directory / f"{number:020d}{MESSAGE_SUFFIX}"
            partial = final.with_suffix(PARTIAL_SUFFIX)
            try:
                # 2. write and fsync the file
                prefix = _PREFIX.pack(MAGIC, len(meta), len(value))
                with partial.open("wb") as f:
                    # Written piece by piece: the segment is never copied into a bigger buffer.
                    for piece in (prefix, meta, value):
                        f.write(piece)
                    f.write(_CRC.pack(zlib.crc32(value, zlib.crc32(meta, zlib.crc32(prefix)))))
                    f.flush()
                    os.fsync(f.fileno())
                # 3. publish the name, durably
                os.rename(partial, final)
                os.fsync(self._dir_fd)
            except BaseException as exc:  # also KeyboardInterrupt: give the reservation back
                with self._state:
                    self._bytes -= size
                partial.unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise SpoolError(f"cannot write to the spool {self.directory}: {exc.strerror}") from None
                raise
            # 4. visible to the sender
            entry = SpoolEntry(number, final, size)
            with self._state:
                self._entries.append(entry)
        SPOOL_DEPTH.inc()
        SPOOL_BYTES.inc(size)
        return entry

    def read(self, entry: SpoolEntry) -> SpooledMessage:
        """The message of ``entry``, checked (length and CRC-32); SpoolCorrupt if it is not intact."""
        try:
            data = entry.path.read_bytes()
        except FileNotFoundError:
            raise SpoolCorrupt("the file is gone") from None
        except OSError as exc:
            raise SpoolError(f"cannot read {entry.path}: {exc.strerror}") from None
        return decode_message(data)

    def remove(self, entry: SpoolEntry) -> None:
        """Drop the oldest message once the broker acknowledged it."""
        self._pop_head(entry)
        # No directory fsync here: if a crash undoes the unlink the message is sent
        # again, and the ingest side treats a re-sent segment as a no-op.
        try:
            entry.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("spool %s: could not delete delivered %s (%s); it will be sent again", self.directory, entry.path.name, exc.strerror)

    def set_aside(self, entry: SpoolEntry, reason: str) -> None:
        """Take a damaged oldest message out of the send order, keeping the file for inspection."""
        self._pop_head(entry)
        self._move_aside(entry.path, reason)

    def close(self) -> None:
        """Release the lock; what is still spooled stays on disk for the next run."""
        with self._state:
            if self._lock_fd is None:
                return
            depth, size = len(self._entries), self._bytes
            lock_fd, self._lock_fd = self._lock_fd, None
        SPOOL_DEPTH.dec(depth)
        SPOOL_BYTES.dec(size)
        os.close(self._dir_fd)
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # --- internals -----------------------------------------------------------------
    def _check_open(self) -> None:
        if self._lock_fd is None:
            raise SpoolError(f"the spool {self.directory} is closed")

    def _pop_head(self, entry: SpoolEntry) -> None:
        with self._state:
            if not self._entries or self._entries[0].number != entry.number:
                raise ValueError(f"only the oldest message may leave the spool, not {entry.path.name}")
            self._entries.popleft()
            self._bytes -= entry.size
            closed = self._lock_fd is None  # close() already took this spool out of the gauges
        if not closed:
            SPOOL_DEPTH.dec()
            SPOOL_BYTES.dec(entry.size)

    def _move_aside(self, path: Path, reason: str) -> None:
        target = self.directory / DAMAGED_DIR / path.name
        log.error("spool %s: %s is damaged (%s); moved to %s and NOT sent", self.directory, path.name, reason, target)
        try:
            os.rename(path, target)
        except OSError as exc:
            log.error("spool %s: could not move %s aside (%s); deleting it", self.directory, path.name, exc.strerror)
            path.unlink(missing_ok=True)
