"""``bwv export`` and ``bwv verify-bundle``: evidence bundles for court, and checking them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bwv.settings import get_settings
from consumers.bundle import verify_bundle
from consumers.export import ExportError, export_bundle, recordings_in_window
from consumers.published import published_keys
from schemas.signing import KeyFormatError, parse_public_key
from schemas import seal as seals
from streams.api import BadQuery, parse_time
from streams.objectstore import ObjectStore
from streams.readmodel import IndexView

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def export_command(
    recording_ids: Annotated[Optional[list[str]], typer.Argument(help="Recordings to export")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="The bundle to write (.zip)", dir_okay=False)] = Path("bundle.zip"),
    by: Annotated[str, typer.Option("--by", help="Operator exporting (on the record)")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why (on the record)")] = "",
    camera: Annotated[Optional[str], typer.Option(help="Instead of ids: this camera's recordings…")] = None,
    since: Annotated[Optional[str], typer.Option(help="…overlapping this time or later (ISO 8601)")] = None,
    until: Annotated[Optional[str], typer.Option(help="…overlapping this time or earlier (ISO 8601)")] = None,
) -> None:
    """Write an evidence bundle: original segments, one MP4, manifest, seals, custody log, summary."""
    settings = get_settings()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        window = parse_time("--since", since), parse_time("--until", until)
    except BadQuery as exc:
        raise typer.BadParameter(str(exc)) from None
    if (since or until) and not camera:
        raise ExportError("--since/--until select recordings of a --camera")
    view = IndexView(settings)

    async def select() -> list[str]:
        try:
            await view.catch_up()
            return list(recording_ids or []) + (recordings_in_window(view, camera, *window) if camera else [])
        finally:
            await view.stop()

    ids = asyncio.run(select())
    if not ids:
        raise ExportError("nothing to export: give recording ids, or --camera with a time window that has recordings")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        report = export_bundle(settings, ObjectStore(settings), ids, out_file, by, reason, view=view, progress=progress)
    out.print(
        f"{report.path}: {report.recordings} recording(s), {report.segments} segments, {report.bytes / 1e6:.1f} MB, "
        f"SHA-256 {report.sha256}",
        highlight=False,
    )


def verify_bundle_command(
    bundle: Annotated[Path, typer.Argument(help="The bundle (.zip)", exists=True, dir_okay=False)],
    public_key: Annotated[Optional[list[Path]], typer.Option("--public-key", help="Trusted seal key (PEM or hex file); repeatable. Default: the keys published on bwv.service-keys")] = None,
) -> None:
    """Check a bundle: every hash, the chain, the seal, nothing cut off, the MP4 made of exactly those segments."""
    trusted: dict[str, str] = {}
    for path in public_key or []:
        try:
            key = parse_public_key(path.read_bytes())
        except (OSError, KeyFormatError) as exc:
            raise ExportError(f"--public-key {path}: {exc}") from None
        trusted[seals.key_id(key)] = key
    if not trusted:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            trusted = published_keys(get_settings())
        except Exception as exc:  # noqa: BLE001 - any broker failure means: say how to pass a key instead
            raise ExportError(f"no trusted seal key: pass --public-key FILE (the published keys could not be read: {exc})") from None
        if not trusted:
            raise ExportError("no trusted seal key: pass --public-key FILE (none is published on bwv.service-keys)")
    report = verify_bundle(bundle, trusted)
    for problem in report.problems:
        err.print(f"PROBLEM {problem}", highlight=False, markup=False)
    if report.ok:
        out.print(f"{bundle}: VERIFIED — {report.recordings} recording(s), {report.segments} segments; hashes, chain, "
                  f"seal, MP4 and custody log all hold", highlight=False)
        return
    err.print(f"{bundle}: NOT VERIFIED — {len(report.problems)} problem(s)", highlight=False)
    raise typer.Exit(1)
