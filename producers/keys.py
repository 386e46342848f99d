"""A camera's Ed25519 signing keys on disk: ``<dir>/<camera id>.key`` (PKCS#8 PEM) and ``.pub``.

A real camera keeps its key in a secure element; this is the software stand-in
for simulated fleets and for cameras that run ``bwv camera`` on a host.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from producers.errors import PublishError
from schemas.signing import KeyFormatError, load_private_key, write_key_pair


class MissingCameraKey(PublishError):
    """No signing key for a camera: nothing it sends would be accepted."""


class KeyRing:
    """Private keys by camera id, loaded once from a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._keys: dict[str, Ed25519PrivateKey] = {}

    def key_path(self, camera_id: str) -> Path:
        return self.directory / f"{camera_id}.key"

    def public_path(self, camera_id: str) -> Path:
        return self.directory / f"{camera_id}.pub"

    def private(self, camera_id: str) -> Ed25519PrivateKey:
        key = self._keys.get(camera_id)
        if key is None:
            path = self.key_path(camera_id)
            try:
                key = load_private_key(path.read_bytes())
            except FileNotFoundError:
                raise MissingCameraKey(
                    f"no signing key for camera {camera_id} at {path}; create one with "
                    f"`bwv cameras keygen {camera_id}` and register it with "
                    f"`bwv cameras add {camera_id} --public-key {self.public_path(camera_id)}`"
                ) from None
            except KeyFormatError as exc:
                raise MissingCameraKey(f"the signing key {path} is unusable: {exc}") from None
            self._keys[camera_id] = key
        return key

    def generate(self, camera_id: str, overwrite: bool = False) -> Ed25519PrivateKey:
        """Write a new key pair; refuses to replace an existing key unless told to."""
        path = self.key_path(camera_id)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; a camera keeps its key (revoke it and use --force to replace)")
        key = write_key_pair(path, self.public_path(camera_id))
        self._keys[camera_id] = key
        return key

    def ensure(self, camera_id: str) -> Ed25519PrivateKey:
        """The camera's key, generated on first use (simulated cameras and tests)."""
        try:
            return self.private(camera_id)
        except MissingCameraKey:
            if self.key_path(camera_id).exists():
                raise
            return self.generate(camera_id)
