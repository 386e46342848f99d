"""``bwv cameras``: register, revoke and list camera signing keys; ``enroll`` for simulated fleets."""

from __future__ import annotations

import sys
import getpass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from bwv.settings import Settings, get_settings
from consumers.topic_reader import read_topic
from producers.keys import KeyRing
from schemas.records import CameraKey, CameraKeyState, _check_id
from schemas.signing import KeyFormatError, parse_public_key, public_key_hex
from schemas.topics import CAMERAS
from streams.registry import RegistryError, publish_camera_key

app = typer.Typer(help="Camera identities: the Ed25519 keys cameras sign segments with.", no_args_is_help=True)
# Piped output keeps whole rows (ids intact) instead of wrapping tables at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)

OperatorOption = Annotated[Optional[str], typer.Option("--by", help="Who does this (default: your login name)")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, for the record")]


def registered(settings: Settings) -> dict[str, CameraKey]:
    """The registry as it stands: the last record per camera."""
    found: dict[str, CameraKey] = {}
    for message in read_topic(settings, CAMERAS, idle_timeout=0.5):
        if message.value:
            record = CameraKey.from_json(message.value)
            found[record.camera_id] = record
        elif message.key:
            found.pop(message.key.decode(), None)
    return found


def enroll(settings: Settings, camera_id: str, by: str = "bwv-enroll", keys: KeyRing | None = None) -> CameraKey:
    """Give a (simulated) camera a key if it has none and register it as active."""
    ring = keys or KeyRing(settings.camera_keys_dir)
    record = CameraKey(
        camera_id=camera_id,
        state=CameraKeyState.active,
        public_key=public_key_hex(ring.ensure(camera_id)),
        by=by,
        reason="enrolled a simulated camera",
    )
    publish_camera_key(settings, record)
    return record


def _check_camera_id(camera_id: str) -> str:
    try:
        return _check_id(camera_id)
    except ValueError as exc:
        raise typer.BadParameter(f"{camera_id!r}: {exc}") from None


@app.command()
def keygen(
    camera_id: Annotated[str, typer.Argument(help="Camera id", callback=_check_camera_id)],
    force: Annotated[bool, typer.Option(help="Replace an existing key (revoke the old one first)")] = False,
) -> None:
    """Create a key pair in BWV_CAMERA_KEYS_DIR for a camera; prints the public key file."""
    ring = KeyRing(get_settings().camera_keys_dir)
    try:
        ring.generate(camera_id, overwrite=force)
    except FileExistsError as exc:
        raise RegistryError(str(exc)) from None
    out.print(f"private key: {ring.key_path(camera_id)} (keep it on the camera)", highlight=False)
    out.print(f"public key:  {ring.public_path(camera_id)} (register it: bwv cameras add {camera_id} --public-key …)", highlight=False)


@app.command()
def add(
    camera_id: Annotated[str, typer.Argument(help="Camera id", callback=_check_camera_id)],
    public_key: Annotated[Path, typer.Option("--public-key", help="PEM public key file, or a file with 64 hex characters", exists=True, dir_okay=False)],
    by: OperatorOption = None,
    reason: ReasonOption = "registered",
) -> None:
    """Register (or re-key) a camera: its signed segments are accepted from now on."""
    try:
        key_hex = parse_public_key(public_key.read_bytes())
    except KeyFormatError as exc:
        raise RegistryError(f"{public_key}: {exc}") from None
    record = CameraKey(
        camera_id=camera_id, state=CameraKeyState.active, public_key=key_hex, by=by or getpass.getuser(), reason=reason
    )
    publish_camera_key(get_settings(), record)
    out.print(f"camera {camera_id} registered with key {key_hex[:16]}…", highlight=False)


@app.command()
def revoke(
    camera_id: Annotated[str, typer.Argument(help="Camera id", callback=_check_camera_id)],
    by: OperatorOption = None,
    reason: ReasonOption = "revoked",
) -> None:
    """Stop trusting a camera's key: its messages go to the dead-letter topic from now on."""
    settings = get_settings()
    current = registered(settings).get(camera_id)
    if current is None:
        raise RegistryError(f"camera {camera_id} is not registered")
    record = CameraKey(
        camera_id=camera_id,
        state=CameraKeyState.revoked,
        public_key=current.public_key,
        by=by or getpass.getuser(),
        reason=reason,
    )
    publish_camera_key(settings, record)
    out.print(f"camera {camera_id} revoked", highlight=False)


@app.command("list")
def list_cameras() -> None:
    """Every registered camera with its key state."""
    table = Table("camera", "state", "public key", "since", "by", "reason")
    for record in sorted(registered(get_settings()).values(), key=lambda r: r.camera_id):
        table.add_row(
            record.camera_id, record.state.value, record.public_key[:16] + "…", record.at.isoformat(timespec="seconds"),
            record.by, record.reason,
        )
    out.print(table)
