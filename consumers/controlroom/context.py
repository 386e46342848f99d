"""What every request handler needs, built once per application (see ``app``)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import jinja2
from aiohttp import web

from bwv.settings import Settings
from consumers.controlroom.audit import AuditLog
from consumers.controlroom.live import LiveState
from consumers.controlroom.metrics import ControlRoomMetrics
from consumers.controlroom.media import VideoCache
from consumers.controlroom.segment_cache import SegmentCache
from consumers.controlroom.sessions import Session, SessionSigner
from consumers.controlroom.users import User, UserStore
from streams.objectstore import ObjectStore


@dataclass
class Context:
    settings: Settings
    users: UserStore
    signer: SessionSigner
    live: LiveState
    store: ObjectStore
    executor: Executor
    videos: VideoCache
    audit: AuditLog
    templates: jinja2.Environment
    metrics: ControlRoomMetrics
    segments: SegmentCache


CONTEXT = web.AppKey("controlroom", Context)
USER = web.RequestKey("user", User)  # set by auth.gate on every admitted request
SESSION = web.RequestKey("session", Session)


def context_of(request: web.Request) -> Context:
    return request.app[CONTEXT]
