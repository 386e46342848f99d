"""PUTs are signed with the digest ingest computed, not hashed a second time by the SDK."""

from __future__ import annotations

import base64
import hashlib

import pytest
from minio.credentials import Credentials

from streams.objectstore import BODY_SHA256_HEADER, DigestSignedMinio

BODY = b"segment bytes" * 1000
DIGEST = hashlib.sha256(BODY).hexdigest()
CREDS = Credentials("access", "secret")


@pytest.mark.parametrize("secure", [False, True])
def test_the_given_digest_signs_and_checks_the_body(secure: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[bytes] = []
    monkeypatch.setattr("minio.api.sha256_hash", lambda data: hashed.append(data) or hashlib.sha256(data or b"").hexdigest())
    client = DigestSignedMinio("s3.example:9000", secure=secure)
    headers, _ = client._build_headers("s3.example:9000", {BODY_SHA256_HEADER: DIGEST}, BODY, CREDS)  # noqa: SLF001
    assert headers["x-amz-content-sha256"] == DIGEST and headers["Content-Length"] == str(len(BODY))
    assert base64.b64decode(headers["x-amz-checksum-sha256"]) == hashlib.sha256(BODY).digest()
    assert BODY_SHA256_HEADER not in headers and "Content-MD5" not in headers
    assert BODY not in hashed  # the body itself was never hashed again


def test_without_a_digest_the_sdk_signs_as_before() -> None:
    client = DigestSignedMinio("s3.example:9000", secure=False)
    headers, _ = client._build_headers("s3.example:9000", {}, BODY, CREDS)  # noqa: SLF001
    assert headers["x-amz-content-sha256"] == DIGEST and "x-amz-checksum-sha256" not in headers
