"""``bwv control-room``: serve the control room; manage its operators."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from bwv.settings import get_settings

app = typer.Typer(
    help="The control room web app (live wall, alerts, recordings). Without a subcommand: serve it.",
    invoke_without_command=True,
)
out = Console(soft_wrap=True)


def _fail(message: str) -> Exception:
    from bwv.cli import CliError  # printed by bwv.cli.main as one error line, exit 2

    return CliError(message)


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[Optional[str], typer.Option(help="Bind address (default BWV_CONTROL_ROOM_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default BWV_CONTROL_ROOM_PORT)", min=0, max=65535)] = None,
) -> None:
    """Serve the control room on BWV_CONTROL_ROOM_HOST:BWV_CONTROL_ROOM_PORT until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from consumers.controlroom.app import serve as run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    run(get_settings(), host=host, port=port)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="Operator name (what the custody log records)")],
    role: Annotated[str, typer.Option(help="viewer (watch, search, play) or supervisor (also mark, release, export, acknowledge)")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin")] = False,
    replace: Annotated[bool, typer.Option(help="Change an existing operator's role and password")] = False,
) -> None:
    """Add an operator to BWV_CONTROL_ROOM_USERS (password asked for, or read from stdin)."""
    from consumers.controlroom.users import Role, UserError, UserStore

    if role not in {r.value for r in Role}:
        raise _fail(f"--role must be viewer or supervisor, not {role!r}")
    store = UserStore(get_settings().control_room_users)
    try:
        user = store.add(name, role, _password(password_stdin), replace=replace)
    except UserError as exc:
        raise _fail(str(exc)) from None
    out.print(f"{user.name}: {user.role.value} (in {store.path})", highlight=False)


@app.command("remove-user")
def remove_user(name: Annotated[str, typer.Argument(help="Operator name")]) -> None:
    """Remove an operator; their sessions end at their next request."""
    from consumers.controlroom.users import UserError, UserStore

    store = UserStore(get_settings().control_room_users)
    try:
        store.remove(name)
    except UserError as exc:
        raise _fail(str(exc)) from None
    out.print(f"removed {name}", highlight=False)


@app.command("users")
def list_users() -> None:
    """List the operators and their roles."""
    from consumers.controlroom.users import UserStore

    store = UserStore(get_settings().control_room_users)
    table = Table("name", "role", "added")
    for user in store.all():
        table.add_row(user.name, user.role.value, user.created_at)
    out.print(table)


DEMO_LOGINS = {"supervisor": "supervisor", "viewer": "viewer"}  # name -> role


def create_demo_logins(path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """For ``bwv up``: a supervisor and a viewer with fresh random passwords; returns name -> password."""
    import secrets

    from consumers.controlroom.users import UserStore

    store = UserStore(path)
    passwords = {}
    for name, role in DEMO_LOGINS.items():
        passwords[name] = secrets.token_urlsafe(9)
        store.add(name, role, passwords[name], replace=True)
    return passwords
