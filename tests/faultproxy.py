"""A TCP proxy on loopback that tests can cut, stall and restore: outages without losing state.

Tansu and moto_server keep everything in memory, so stopping them to simulate an
outage would wipe the very data a fault test checks. Instead a client talks to
the real server through this proxy, and the test breaks the path:

* ``down()``: existing connections are reset and the port refuses new ones
  (a crashed or unreachable server);
* ``stall()``: connections are accepted but no byte moves either way
  (a hung server: the client's own timeouts must fire);
* ``up()``: traffic flows again, on the same port.

The proxy runs its own asyncio loop in a daemon thread, so tests call it from
plain synchronous code.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, listen_port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = listen_port or _free_port()
        self.mode = "up"
        self.connections = 0  # accepted so far, for tests that want to see traffic went through us
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        self._call(self._listen())

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- what tests call ------------------------------------------------------------
    def up(self) -> None:
        self.mode = "up"
        if self._server is None:
            self._call(self._listen())

    def down(self) -> None:
        """Refuse: close the listener and reset every open connection."""
        self.mode = "down"
        self._call(self._close_all())

    def stall(self) -> None:
        """Hang: keep connections open (and accept new ones) but forward nothing."""
        self.mode = "stall"
        if self._server is None:
            self._call(self._listen())

    @contextmanager
    def outage(self, kind: str = "down") -> Iterator[None]:
        getattr(self, kind)()
        try:
            yield
        finally:
            self.up()

    def close(self) -> None:
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # --- the loop's side ---------------------------------------------------------------
    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            with suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            _reset(writer)
            return
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(256 * 1024)
            if not data:
                break
            while self.mode == "stall":
                await asyncio.sleep(0.05)
            if self.mode == "down":
                break
            writer.write(data)
            await writer.drain()
        with suppress(OSError):
            writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dead host's kernel would answer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
