"""The control room's watch settings: the CSP hls.js and the map need, and nothing more."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bwv.settings import Settings
from consumers.controlroom.app import security_headers_for


def _csp(**settings: str) -> dict[str, str]:
    policy = security_headers_for(Settings(**settings))["Content-Security-Policy"]  # type: ignore[arg-type]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in (p.strip() for p in policy.split(";")) if d}


def test_the_policy_admits_hls_js_blobs_and_nothing_from_elsewhere() -> None:
    csp = _csp()
    assert csp["default-src"] == "'self'"
    assert csp["media-src"] == "'self' blob:"  # the MediaSource hls.js feeds the video element through
    assert csp["worker-src"] == "blob:"  # its demuxing worker
    assert csp["img-src"] == "'self' data:"  # no tile server set: the map's grid is drawn in the browser
    assert "script-src" not in csp and "'unsafe-inline'" not in " ".join(csp.values())


def test_a_tile_server_is_admitted_for_images_only() -> None:
    csp = _csp(map_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert csp["img-src"] == "'self' data: https://*.tiles.example.org"
    assert csp["default-src"] == "'self'"
    with pytest.raises(ValidationError):
        Settings(map_tile_url="javascript:alert(1)")  # type: ignore[call-arg]
