"""The alert board: the latest alert per condition, and who acknowledged it.

``bwv.alerts`` carries every raise and clear; a condition is one ``dedup_key``,
so the board keeps the latest record per key. Acknowledgements are custody
events (``alert_acknowledged`` on ``bwv.custody``), read back from that topic,
so every control-room replica — and one restarted — shows the same. An
acknowledgement names the raise it answers (the alert's ``at``): when a
condition is raised again later, it is unacknowledged again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from bwv.settings import Settings
from schemas.records import Alert, AlertState, CustodyEvent
from schemas.topics import ALERTS, CUSTODY
from streams.catchup import CatchUpReader

log = logging.getLogger(__name__)

ACK_KIND = "alert_acknowledged"
_ACK_MARK = ACK_KIND.encode()  # most custody events are not acknowledgements: skip them unparsed


@dataclass(frozen=True)
class Acknowledgement:
    by: str
    at: datetime
    note: str


@dataclass(frozen=True)
class AlertEntry:
    alert: Alert
    ack: Acknowledgement | None

    @property
    def open(self) -> bool:
        return self.alert.state is AlertState.raised

    def to_json(self) -> dict[str, object]:
        a = self.alert
        return {
            "dedup_key": a.dedup_key,
            "kind": a.kind,
            "severity": a.severity.value,
            "state": a.state.value,
            "message": a.message,
            "camera_id": a.camera_id,
            "recording_id": a.recording_id,
            "sequence": a.sequence,
            "at": a.at.isoformat(),
            "acknowledged_by": self.ack.by if self.ack else None,
            "acknowledged_at": self.ack.at.isoformat() if self.ack else None,
            "acknowledged_note": self.ack.note if self.ack else None,
        }


def raise_id(alert: Alert) -> str:
    """Which raise of a condition an acknowledgement answers."""
    return alert.at.isoformat()


class AlertBoard:
    def __init__(self, settings: Settings) -> None:
        self.alerts: dict[str, Alert] = {}
        self._acks: dict[tuple[str, str], Acknowledgement] = {}  # (dedup key, raise id) -> ack
        self.changed: set[str] = set()  # dedup keys changed since the last drain
        self.readers = [
            CatchUpReader(settings, [ALERTS], self._apply_alert, "controlroom-alerts"),
            CatchUpReader(settings, [CUSTODY], self._apply_custody, "controlroom-acks"),
        ]

    def entry(self, dedup_key: str) -> AlertEntry | None:
        alert = self.alerts.get(dedup_key)
        if alert is None:
            return None
        return AlertEntry(alert, self._acks.get((dedup_key, raise_id(alert))))

    def entries(self, *, include_cleared: bool = False) -> list[AlertEntry]:
        """Newest first."""
        found = [self.entry(key) for key in self.alerts]
        return sorted(
            (e for e in found if e is not None and (include_cleared or e.open)),
            key=lambda e: e.alert.at,
            reverse=True,
        )

    def drain_changes(self) -> list[AlertEntry]:
        keys, self.changed = self.changed, set()
        return [e for e in (self.entry(k) for k in keys) if e is not None]

    def note_ack(self, dedup_key: str, raised_at: str, ack: Acknowledgement) -> None:
        """An acknowledgement this process just recorded (custody will confirm it on the next catch-up)."""
        self._acks[(dedup_key, raised_at)] = ack
        self.changed.add(dedup_key)

    # --- topic records ------------------------------------------------------------------
    def _apply_alert(self, key: bytes | None, value: bytes | None) -> None:
        if not value:
            return
        try:
            alert = Alert.from_json(value)
        except ValidationError as exc:
            log.warning("ignored an unreadable alert: %s", exc.errors()[0]["msg"])
            return
        current = self.alerts.get(alert.dedup_key)
        if current is None or alert.at >= current.at:
            self.alerts[alert.dedup_key] = alert
            self.changed.add(alert.dedup_key)

    def _apply_custody(self, key: bytes | None, value: bytes | None) -> None:
        if not value or _ACK_MARK not in value:
            return
        try:
            event = CustodyEvent.from_json(value)
        except ValidationError:
            return
        if event.kind != ACK_KIND:
            return
        dedup_key, raised_at = event.detail.get("dedup_key"), event.detail.get("alert_at")
        if isinstance(dedup_key, str) and isinstance(raised_at, str):
            self._acks[(dedup_key, raised_at)] = Acknowledgement(event.actor, event.at, event.reason)
            self.changed.add(dedup_key)
