"""Session tokens: who is logged in, until when, signed so a browser cannot forge one.

A token is ``<payload>.<signature>``: the payload (base64url JSON) names the
operator, the fingerprint of their password hash, when it was issued and when
it expires; the signature is HMAC-SHA256 under the server's secret
(``BWV_CONTROL_ROOM_SECRET``; without one a random secret per process, so a
restart logs everyone out). Nothing is stored per session, so several
control-room replicas with one secret accept each other's sessions.

A token stops being accepted when it expires, when the operator's password
changes (the fingerprint no longer matches), when the operator is removed
(checked by the caller against the users file), or after logout (kept in a
small in-memory set until it would have expired anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    user: str
    password_tag: str
    issued_at: float
    expires_at: float
    nonce: str

    def seconds_left(self, now: float) -> float:
        return self.expires_at - now


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes | None, lifetime_seconds: float, clock: Callable[[], float] = time.time) -> None:
        if lifetime_seconds <= 0:
            raise ValueError("a session lifetime must be positive")
        self._secret = secret or secrets.token_bytes(32)
        self.lifetime = lifetime_seconds
        self.clock = clock
        self._revoked: dict[str, float] = {}  # nonce -> expiry

    def issue(self, user: str, password_tag: str) -> tuple[str, Session]:
        now = self.clock()
        session = Session(user, password_tag, now, now + self.lifetime, secrets.token_urlsafe(12))
        payload = _b64(
            json.dumps(
                {"u": session.user, "p": session.password_tag, "iat": session.issued_at, "exp": session.expires_at, "n": session.nonce},
                separators=(",", ":"),
            ).encode()
        )
        return f"{payload}.{self._sign(payload)}", session

    def read(self, token: str | None) -> Session | None:
        """The session a token stands for, or None if it is forged, malformed, expired or revoked."""
        if not token or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["u"]), str(data["p"]), float(data["iat"]), float(data["exp"]), str(data["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        if self.clock() >= session.expires_at or session.nonce in self._revoked:
            return None
        return session

    def revoke(self, session: Session) -> None:
        now = self.clock()
        self._revoked = {n: exp for n, exp in self._revoked.items() if exp > now}
        self._revoked[session.nonce] = session.expires_at

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())
