"""HTML pages from the package's Jinja2 templates (autoescaped)."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from consumers.controlroom.context import USER, context_of


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("consumers.controlroom", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )


def render(request: web.Request, name: str, status: int = 200, **values: Any) -> web.Response:
    ctx = context_of(request)
    user = request.get(USER)
    # Every page may draw a map (the map page, a recording's route): it needs the tile source.
    tiles = {"url": ctx.settings.map_tile_url, "attribution": ctx.settings.map_tile_attribution}
    html = ctx.templates.get_template(name).render(user=user, map_tiles=tiles, **values)
    return web.Response(text=html, content_type="text/html", status=status)
