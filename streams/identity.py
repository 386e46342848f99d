"""Is this message from the camera it claims to be? Decided from the registry alone (no I/O).

Kept pure, like ``streams.decisions``, so every refusal is unit- and property-tested.
A refusal is a dead letter with one of these reasons:

* ``key_mismatch``: the Kafka key is not the header's camera id (it would land on
  another camera's partition and escape that camera's ordering);
* ``unknown_camera``: no key registered for the camera;
* ``camera_revoked``: its key was revoked;
* ``unsigned``: no ``bwv-signature`` header;
* ``bad_signature``: a signature that the registered key does not verify.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import CameraKey, CameraKeyState
from schemas.signing import verify


@dataclass(frozen=True)
class IdentityProblem:
    reason: str
    detail: str


def check_identity(
    camera_id: str,
    message_key: bytes | None,
    payload: bytes,
    signature: bytes | None,
    registered: CameraKey | None,
    require_signature: bool = True,
) -> IdentityProblem | None:
    """None when the message may be ingested; otherwise why not."""
    if (message_key or b"") != camera_id.encode():
        shown = (message_key or b"").decode("utf-8", "replace")
        return IdentityProblem("key_mismatch", f"message key {shown!r} is not the header's camera id {camera_id!r}")
    if not require_signature and signature is None:
        return None
    if registered is None:
        return IdentityProblem("unknown_camera", f"camera {camera_id} has no registered key")
    if registered.state is CameraKeyState.revoked:
        return IdentityProblem(
            "camera_revoked", f"camera {camera_id}'s key was revoked at {registered.at.isoformat()} by {registered.by}"
        )
    if signature is None:
        return IdentityProblem("unsigned", f"no signature from camera {camera_id}")
    if not verify(registered.public_key, payload, signature):
        return IdentityProblem("bad_signature", f"the signature does not verify with camera {camera_id}'s key")
    return None
