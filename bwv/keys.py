"""``bwv keys``: the pipeline's seal key (signs closed recordings' chain heads)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bwv.settings import get_settings
from consumers.published import published_keys
from schemas import seal as seals
from schemas.signing import public_key_hex
from streams.sealer import create_key

app = typer.Typer(help="The pipeline's seal key and the published public keys.", no_args_is_help=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)


class SealKeyError(RuntimeError):
    """A key file that cannot be made."""


@app.command()
def init(force: Annotated[bool, typer.Option(help="Replace an existing key")] = False) -> None:
    """Create the seal key pair at BWV_SEAL_KEY_FILE (and .pub beside it) for local use."""
    path = get_settings().seal_key_file
    try:
        key = create_key(path, overwrite=force)
    except FileExistsError as exc:
        raise SealKeyError(str(exc)) from None
    public = public_key_hex(key)
    out.print(f"seal key {seals.key_id(public)} written to {path} (public key {path.with_suffix('.pub')})", highlight=False)
    out.print("workers publish it on bwv.service-keys when they start", highlight=False)


@app.command("list")
def list_keys() -> None:
    """The seal keys published on bwv.service-keys (what verifiers trust)."""
    table = Table("key id", "public key (Ed25519, hex)")
    for key_id, public in sorted(published_keys(get_settings()).items()):
        table.add_row(key_id, public)
    out.print(table)
