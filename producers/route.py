"""A plausible walk for simulated cameras: an officer on foot patrol, for ``bwv up`` and demos.

Walking pace (about 1.4 m/s) along a heading that drifts and now and then turns
a corner, with a GPS-like accuracy that varies. Deterministic per seed, so a
simulated camera's route is the same every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.records import Location

EARTH_RADIUS_M = 6_371_000
WALKING_SPEED_MPS = 1.4


@dataclass
class Walk:
    lat: float
    lon: float
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._heading = self._rng.uniform(0, 2 * math.pi)
        self._elapsed = 0.0

    def at(self, seconds: float, when: datetime) -> Location:
        """Where the walker is ``seconds`` after the start (call with increasing times)."""
        while self._elapsed < seconds:
            step = min(1.0, seconds - self._elapsed)
            self._advance(step)
            self._elapsed += step
        return Location(lat=round(self.lat, 7), lon=round(self.lon, 7), accuracy_m=round(self._rng.uniform(3, 12), 1), at=when)

    def _advance(self, seconds: float) -> None:
        if self._rng.random() < 0.01 * seconds:  # a corner, about once every 100 s
            self._heading += self._rng.choice((-1, 1)) * math.pi / 2
        self._heading += self._rng.gauss(0, 0.05) * seconds
        distance = WALKING_SPEED_MPS * seconds
        self.lat += math.degrees(distance * math.cos(self._heading) / EARTH_RADIUS_M)
        self.lon += math.degrees(distance * math.sin(self._heading) / (EARTH_RADIUS_M * math.cos(math.radians(self.lat))))


def parse_start(text: str) -> tuple[float, float]:
    """'LAT,LON' in degrees; ValueError with the reason otherwise."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise ValueError(f"{text!r} is not LAT,LON in degrees (e.g. 51.5072,-0.1276)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"{text!r} is outside -90..90, -180..180")
    return lat, lon


def at_offset(walk: Walk, started_at: datetime, seconds: float) -> Location:
    return walk.at(seconds, started_at + timedelta(seconds=seconds))
