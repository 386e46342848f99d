"""Control-room operators: names, roles and argon2 password hashes in one JSON file.

The file (``BWV_CONTROL_ROOM_USERS``) is written whole to a temporary file and
renamed, mode 0600, so a crash never leaves half a file and other users of the
machine cannot read the hashes. It is re-read whenever it changes on disk, so
``bwv control-room add-user`` takes effect in a running control room, and a
removed operator or a changed role applies to the very next request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(ValueError):
    """A user cannot be added or changed; the message says why."""


class Role(str, Enum):
    """What an operator may do. Supervisors may do everything a viewer may."""

    viewer = "viewer"  # watch the wall, search and play recordings
    supervisor = "supervisor"  # also mark / release evidence, export, acknowledge alerts

    def allows(self, needed: "Role") -> bool:
        return self is Role.supervisor or needed is Role.viewer


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str
    created_at: str

    @property
    def password_tag(self) -> str:
        """A short fingerprint of the hash: sessions carry it, so changing a password ends them."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UserError(f"user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return name


class UserStore:
    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()
        self._users: dict[str, User] = {}
        self._stamp: tuple[int, int] | None = None
        # Checked against when the name is unknown, so a wrong name costs the same time as a wrong password.
        self._dummy_hash = self.hasher.hash("no such user")

    # --- reading ------------------------------------------------------------------------
    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        self._users = {
            name: User(name, Role(entry["role"]), entry["password_hash"], entry.get("created_at", ""))
            for name, entry in data.get("users", {}).items()
        }
        self._stamp = stamp

    def get(self, name: str) -> User | None:
        self._reload()
        return self._users.get(name)

    def all(self) -> list[User]:
        self._reload()
        return sorted(self._users.values(), key=lambda u: u.name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right, else None (same work either way)."""
        user = self.get(name)
        try:
            self.hasher.verify(user.password_hash if user else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user

    # --- writing ------------------------------------------------------------------------
    def add(self, name: str, role: Role | str, password: str, *, replace: bool = False) -> User:
        check_name(name)
        role = Role(role)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        self._reload()
        if name in self._users and not replace:
            raise UserError(f"user {name!r} exists (use --replace to change the role or password)")
        user = User(name, role, self.hasher.hash(password), datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._write({**self._users, name: user})
        return user

    def remove(self, name: str) -> None:
        self._reload()
        if name not in self._users:
            raise UserError(f"no user {name!r}")
        self._write({n: u for n, u in self._users.items() if n != name})

    def _write(self, users: dict[str, User]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "users": {
                n: {"role": u.role.value, "password_hash": u.password_hash, "created_at": u.created_at}
                for n, u in sorted(users.items())
            }
        }
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(body, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = None
        self._reload()
