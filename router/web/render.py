"""The pages' Jinja2 environment (room: web): templates are package data, autoescape on.

Distinct from router/sandbox.py, which renders operators' templates from the config: these
are router's own, trusted, and may call `url_for_static` and `when`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2

from router.server.routes import Response
from router.web.assets import Assets

HTML_HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),  # incidents change; a back button must not show old ones
    ("referrer-policy", "same-origin"),
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self'; connect-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    ("x-frame-options", "DENY"),
)
"""Every page: nothing from another host may load, and no page may be framed."""


def when(moment: datetime | None) -> str:
    """An instant as the pages show it: UTC, to the second."""
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class Renderer:
    """Renders a template to a Response (200 unless told)."""

    def __init__(self, assets: Assets) -> None:
        self.environment = jinja2.Environment(
            loader=jinja2.PackageLoader("router.web", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
        self.environment.globals.update(url_for_static=assets.url_for_static, when=when)

    def text(self, name: str, **context: Any) -> str:
        return self.environment.get_template(name).render(**context)

    def page(self, name: str, code: int = 200, /, **context: Any) -> Response:
        return Response(code, self.text(name, **context).encode(), HTML_HEADERS)

    def message(self, status: int, heading: str, message: str) -> Response:
        return self.page("message.html", status, heading=heading, message=message)
