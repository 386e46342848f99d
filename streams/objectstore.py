"""The S3 client bwv uses: footage and quarantine buckets with object lock.

Only the S3 API is spoken (through the ``minio`` SDK), so MinIO, Ceph RGW,
Garage, SeaweedFS or AWS S3 all work. The SDK blocks; async callers run these
methods in a thread pool (see ``streams.ingest``) so the event loop never waits
on storage.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.helpers import genheaders

from bwv.security import s3_pool_security
from bwv.settings import Settings

META_PREFIX = "x-amz-meta-"
META_SHA256 = "bwv-sha256"
META_CHAIN = "bwv-chain"
META_PREVIOUS_CHAIN = "bwv-previous-chain"
META_HEADER = "bwv-header"
META_SOURCE = "bwv-source"  # "<partition>/<offset>" of the Kafka message it came from
PROBE_KEY = "bwv-probe/conditional-write"  # see ObjectStore.probe_conditional_writes
MISSING_CODES = ("NoSuchKey", "NoSuchObject", "ResourceNotFound", "NotFound")  # what stores answer for no object


BODY_SHA256_HEADER = "x-bwv-body-sha256"  # DigestSignedMinio takes it out of the headers before sending


class DigestSignedMinio(Minio):
    """The SDK hashes every PUT body once more just to sign the request (SHA-256 over
    HTTP, MD5 over HTTPS): ~1 s of CPU per GB that ingest has already spent. A
    request that carries the digest ingest computed is signed with it instead, and
    sends it as ``x-amz-checksum-sha256`` too (what object-lock PUTs need in place of
    Content-MD5): S3 refuses the write if the bytes it received differ."""

    def _build_headers(self, host, headers=None, body=None, creds=None):  # type: ignore[no-untyped-def]
        digest = headers.pop(BODY_SHA256_HEADER, None) if headers else None
        if digest is None or body is None:
            return super()._build_headers(host, headers, body, creds)
        headers, date = super()._build_headers(host, headers, None, creds)  # no body: nothing hashed
        headers["Content-Length"] = str(len(body))
        if creds:
            headers["x-amz-content-sha256"] = digest
        headers["x-amz-checksum-sha256"] = base64.b64encode(bytes.fromhex(digest)).decode()
        return headers, date


class StorageError(RuntimeError):
    """The object store refused or failed a request."""


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    version_id: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.metadata.get(META_SHA256)


def _user_metadata(headers: object) -> dict[str, str]:
    """bwv metadata from a response's headers, without the x-amz-meta- prefix."""
    out: dict[str, str] = {}
    for name, value in dict(headers).items():  # type: ignore[call-overload]
        lower = name.lower()
        if lower.startswith(META_PREFIX):
            out[lower[len(META_PREFIX) :]] = value
    return out


def header_metadata(header_json: str) -> str:
    """S3 metadata must be ASCII: JSON with non-ASCII escaped fits."""
    return json.dumps(json.loads(header_json), ensure_ascii=True, separators=(",", ":"))


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.footage_bucket = settings.footage_bucket
        self.quarantine_bucket = settings.quarantine_bucket
        # True once probe_conditional_writes() saw this store refuse a second If-None-Match PUT.
        self.conditional_writes = False
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=settings.s3_connect_timeout, read=settings.s3_read_timeout),
            maxsize=max(10, settings.s3_threads),
            retries=False,  # retries are ours (with backoff, and visible in alerts)
            **s3_pool_security(settings),
        )
        self.client = DigestSignedMinio(
            settings.s3_host,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=http,
        )

    def ensure_buckets(self) -> list[str]:
        """Create missing buckets with object lock enabled; returns those created."""
        created = []
        for bucket in (self.footage_bucket, self.quarantine_bucket):
            try:
                if not self.client.bucket_exists(bucket):
                    self.client.make_bucket(bucket, location=self.settings.s3_region, object_lock=True)
                    created.append(bucket)
            except S3Error as exc:
                raise StorageError(f"cannot create bucket {bucket}: {exc.code}: {exc.message}") from None
        return created

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: dict[str, str],
        content_type: str = "application/octet-stream",
    ) -> str | None:
        """Store an object; returns its version id."""
        result = self.client.put_object(
            bucket, key, io.BytesIO(data), len(data), content_type=content_type, metadata=metadata
        )
        return result.version_id

    def create(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: dict[str, str],
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo | None:
        """Store an object only if the key holds none; None when this call wrote it.

        Otherwise returns what the key already holds — most often this very
        write: a retry whose earlier attempt timed out on our side but landed on
        S3's. A plain PUT there would add a second version to the (versioned,
        object-locked) bucket; ``If-None-Match: *`` makes S3 refuse it with 412
        instead, and the caller compares hashes. Stores that ignore the header
        behave as ``put``. One PUT, never multipart, so the condition covers the
        whole object (single PUTs go to 5 GiB; segments are far smaller).
        ``metadata[META_SHA256]``, when given, must be the SHA-256 of ``data``
        computed here: the request is signed with it (see ``DigestSignedMinio``).
        """
        headers = genheaders(metadata, None, None, None, False)
        headers["Content-Type"] = content_type
        headers["If-None-Match"] = "*"
        if META_SHA256 in metadata:
            headers[BODY_SHA256_HEADER] = metadata[META_SHA256]
        try:
            # The SDK's put_object would turn If-None-Match into user metadata.
            self.client._put_object(bucket, key, data, headers)  # noqa: SLF001
            return None
        except S3Error as exc:
            if exc.code != "PreconditionFailed":
                raise  # ConditionalRequestConflict (409) included: a concurrent write, retried
        existing = self.head(bucket, key)
        if existing is None:
            raise StorageError(f"{bucket}/{key}: refused as existing, but no object is there")
        return existing

    def probe_conditional_writes(self) -> bool:
        """Does this store honour ``If-None-Match: *`` on PUT? Sets ``conditional_writes``.

        ``create``s the same tiny object twice (one fixed key, so later probes find
        it at once): a store that honours the header refuses the second with 412.
        Only then may a caller skip its HEAD before ``create`` — create alone finds
        any object already at the key. A store that ignores the header keeps that
        HEAD (and gets two probe versions per call): footage is never overwritten.
        """
        for _ in range(2):
            if self.create(self.footage_bucket, PROBE_KEY, b"bwv conditional-write probe\n", {}, "text/plain") is not None:
                self.conditional_writes = True
                return True
        return False

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's size and bwv metadata, or None if there is no such object."""
        try:
            stat = self.client.stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                return None
            raise
        return ObjectInfo(bucket, key, stat.size or 0, _user_metadata(stat.metadata or {}), stat.version_id)

    def get(self, bucket: str, key: str) -> bytes:
        response = self.client.get_object(bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def get_or_none(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or None if there is none: one request, not a HEAD then a GET."""
        try:
            return self.get(bucket, key)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                return None
            raise

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        """Objects under a prefix, in key order, with their bwv metadata."""
        for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True):
            if obj.is_dir or obj.object_name is None:
                continue
            yield ObjectInfo(bucket, obj.object_name, obj.size or 0)

    def delete(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)

    # --- retention: every version, legal holds ------------------------------------------
    def versions(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        """Every stored version under a prefix (delete markers left out), with its bwv metadata.

        Retention works on versions: a plain DELETE in a versioned bucket only
        adds a delete marker and keeps the bytes, which is not a deletion.
        """
        found = []
        for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True):
            if obj.is_dir or obj.is_delete_marker or obj.object_name is None:
                continue
            found.append(ObjectInfo(bucket, obj.object_name, obj.size or 0, {}, obj.version_id))
        return found

    def version_sha256(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """The bwv-sha256 metadata of one version (None for objects written without it)."""
        try:
            stat = self.client.stat_object(bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchObject", "NotFound"):
                return None
            raise
        return _user_metadata(stat.metadata or {}).get(META_SHA256)

    def set_legal_hold(self, bucket: str, key: str, version_id: str | None, on: bool) -> None:
        if on:
            self.client.enable_object_legal_hold(bucket, key, version_id)
        else:
            self.client.disable_object_legal_hold(bucket, key, version_id)

    def delete_versions(self, bucket: str, objects: list[tuple[str, str | None]]) -> dict[str, str]:
        """Delete exact versions (bulk); returns key -> why storage refused, for those it refused.

        A version already gone counts as deleted, so a deletion can be repeated.
        """
        refused: dict[str, str] = {}
        errors = self.client.remove_objects(bucket, (DeleteObject(key, version) for key, version in objects))
        for error in errors:
            if error.code in ("NoSuchKey", "NoSuchVersion"):
                continue
            refused[error.name or "?"] = f"{error.code}: {error.message}"
        return refused
