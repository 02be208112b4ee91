"""The pages' Jinja2 environment (room: web): templates are package data, autoescape on.

Distinct from router/sandbox.py, which renders operators' templates from the config: these
are router's own, trusted, and may call `url_for_static`, `when`, `csrf_field()` (the hidden
CSRF input every form must carry, router/web/forms.py), `viewer()` (who is logged in, or
None), `may(scope)` and `flash()` (the message a form's redirect left).

Who the request comes from reaches the templates through `VISIT`, a context variable the
web's access wrapper (access.py) sets for the length of each request: every page handler,
including those written later, gets it without passing it along. trio runs each connection
in its own task with its own copy of the context, so one request never sees another's.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
from markupsafe import Markup, escape

from router.server.api_access import Principal
from router.server.routes import Response
from router.web.assets import Assets
from router.web.auth import csrf

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


@dataclass(frozen=True, slots=True)
class Viewer:
    """A logged-in user as a page sees them: their principal and their CSRF token (made
    from their session's id, or from their name when the trusted proxy names them)."""

    principal: Principal
    csrf_token: str
    role: str


@dataclass(frozen=True, slots=True)
class Visit:
    """The request being answered, as far as templates care."""

    viewer: Viewer | None = None
    flash: str = ""
    flash_kind: str = "ok"  # or "error"


VISIT: ContextVar[Visit] = ContextVar("router_web_visit", default=Visit())  # noqa: B039 (frozen)


def csrf_field() -> Markup:
    """The hidden input with the viewer's CSRF token; empty with no session (such a form
    is then refused, 403)."""
    viewer = VISIT.get().viewer
    if viewer is None or not viewer.csrf_token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        csrf.FIELD, escape(viewer.csrf_token))


def may(scope: str) -> bool:
    """Whether the viewer's role grants `scope` (a page hides the buttons it would refuse)."""
    viewer = VISIT.get().viewer
    return viewer is not None and viewer.principal.may(scope)


def when(moment: datetime | None) -> str:
    """An instant as the pages show it: UTC, to the second."""
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class Renderer:
    """Renders a template to a Response (200 unless told)."""

    def __init__(self, assets: Assets) -> None:
        self.assets = assets
        self.environment = jinja2.Environment(
            loader=jinja2.PackageLoader("router.web", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
        self.environment.globals.update(
            url_for_static=assets.url_for_static, when=when, csrf_field=csrf_field, may=may,
            viewer=lambda: VISIT.get().viewer, flash=lambda: VISIT.get())

    def text(self, name: str, /, **context: Any) -> str:
        return self.environment.get_template(name).render(**context)

    def page(self, name: str, code: int = 200, /, **context: Any) -> Response:
        return Response(code, self.text(name, **context).encode(), HTML_HEADERS)

    def page_with(self, name: str, code: int, headers: tuple[tuple[str, str], ...], /,
                  **context: Any) -> Response:
        """A page with more headers (Retry-After, Set-Cookie)."""
        return Response(code, self.text(name, **context).encode(), HTML_HEADERS + headers)

    def message(self, status: int, heading: str, message: str, *,
                back: str = "/ui/incidents") -> Response:
        return self.page("message.html", status, heading=heading, message=message,
                         back=back)
