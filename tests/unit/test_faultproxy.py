"""The fault proxy itself: forwards, refuses, stalls and comes back on the same port."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.faultproxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    p = FaultProxy("127.0.0.1", server.server_address[1])
    yield p
    p.close()
    server.shutdown()


def _echo(port: int, payload: bytes, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        return s.recv(65536)


def test_forwards_then_refuses_then_forwards_on_the_same_port(proxy: FaultProxy) -> None:
    assert _echo(proxy.port, b"hello") == b"hello"
    proxy.down()
    with pytest.raises(OSError):
        _echo(proxy.port, b"lost")
    proxy.up()
    assert _echo(proxy.port, b"again") == b"again"
    assert proxy.connections == 2


def test_stall_makes_the_client_time_out_and_up_releases_it(proxy: FaultProxy) -> None:
    with proxy.outage("stall"):
        with pytest.raises(socket.timeout):
            _echo(proxy.port, b"stuck", timeout=0.5)
    assert _echo(proxy.port, b"free") == b"free"
