"""The one way a web form is posted (room: web): every POST under /ui goes through `Forms.post`.

Contract for a form's action (the incident page's, the silences', and the responder
pages' in responder_forms.py):

- Its template puts `{{ csrf_field() }}` inside the `<form method="post">`.
- Its route is registered in server/api_access.PAGES with the scope the JSON API asks for
  the same change (`respond` for incidents and silences, `admin` where the API asks admin),
  and the handler is `forms.post(scope, action, back=...)`.
- Before `action` runs, the plumbing has checked, in this order, answering an HTML page and
  never a traceback: a logged-in viewer (else 303 to the login page), a body (if any) of
  `application/x-www-form-urlencoded` (415) of at most `MAX_FORM_BYTES` (413) that parses
  as UTF-8 with at most `MAX_FIELDS` fields (400), the session's CSRF token in the
  `csrf_token` field or the `X-CSRF-Token` header (403), and the viewer's scope (403). The
  server's gate has checked Host, Origin and the route's scope before that.
- `action(request, form)` does the change through the engine's same use case as the JSON
  API, acting as `form.actor` (`web:NAME` in the timeline), and returns `Done(location,
  flash)`: the browser is sent there with 303 (POST-redirect-GET) and the next page shows
  the flash message (`flash_kind="error"`: as a refusal, for a button whose thing is
  gone). Or it returns a Response itself (a form shown again with its errors, 400).
- A BadRequest, NotFound or Conflict it raises is shown as an error message: on the page
  `back` names (a redirect with an error flash), or on a page of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from router.errors import BadRequest, Conflict, NotFound
from router.server.routes import Handler, Request, Response
from router.web.access import WebAccess, login_redirect
from router.web.auth import csrf
from router.web.auth.principal import actor
from router.web.render import Viewer

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 100


@dataclass(frozen=True, slots=True)
class Form:
    """A posted form's fields and who posted it."""

    fields: Mapping[str, tuple[str, ...]]
    viewer: Viewer

    def text(self, name: str, default: str = "") -> str:
        """The field's last value, stripped; `default` when absent."""
        values = self.fields.get(name)
        return values[-1].strip() if values else default

    @property
    def actor(self) -> str:
        """Who the timeline says did it: `web:NAME`."""
        return actor(self.viewer.principal)


@dataclass(frozen=True, slots=True)
class Done:
    """A form's success: where to send the browser and what to tell them there."""

    location: str
    flash: str = ""
    flash_kind: str = "ok"  # or "error": the action was refused, said on that page
    headers: tuple[tuple[str, str], ...] = ()


Action = Callable[[Request, Form], Awaitable["Done | Response"]]
Back = Callable[[Request], str]


class Forms:
    """Form POSTs over the web's access (its viewer, its key, its pages)."""

    def __init__(self, access: WebAccess) -> None:
        self.access = access
        self.renderer = access.renderer

    def post(self, scope: str, action: Action, *, back: Back | None = None) -> Handler:
        """The handler of a form that needs `scope`; see the module's contract."""
        async def handle(request: Request) -> Response:
            checked = self.check(request, scope)
            if isinstance(checked, Response):
                return checked
            try:
                outcome = await action(request, checked)
            except (BadRequest, NotFound, Conflict) as error:
                return self._failed(request, error, back)
            if isinstance(outcome, Response):
                return outcome
            return self.redirect(outcome)
        return handle

    def check(self, request: Request, scope: str) -> Form | Response:
        """The form, or the page that refuses it (see the module's contract)."""
        viewer = self.access.viewer(request)
        if viewer is None:
            return login_redirect(request)
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if request.body and media_type != FORM_TYPE:  # no body: no fields, no token
            return self._refuse(415, "Not a form", f"expected a form ({FORM_TYPE}).")
        if len(request.body) > MAX_FORM_BYTES:
            return self._refuse(413, "Form too large",
                                f"a form may hold at most {MAX_FORM_BYTES // 1024} KB.")
        try:
            fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=MAX_FIELDS, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return self._refuse(400, "Bad form", f"the form is not UTF-8 text of at most "
                                                 f"{MAX_FIELDS} fields.")
        given = (fields.get(csrf.FIELD) or [request.headers.get(csrf.HEADER, "")])[-1]
        if not csrf.matches(viewer.csrf_token, given):
            return self._refuse(403, "Form refused", "This form's security token is missing "
                                "or out of date (did you log in again?). Go back, reload "
                                "the page and send it again.")
        if not viewer.principal.may(scope):
            return self._refuse(403, "Not allowed", f"{viewer.principal.name} "
                                f"({viewer.role}) may not do this: it needs the {scope} "
                                "role or more.")
        return Form({name: tuple(values) for name, values in fields.items()}, viewer)

    def redirect(self, done: Done) -> Response:
        headers = [("location", done.location), ("cache-control", "no-store"), *done.headers]
        if done.flash:
            headers.append(self.access.flash_cookie(done.flash, done.flash_kind))
        return Response(303, b"", tuple(headers))

    def _failed(self, request: Request, error: BadRequest | NotFound | Conflict,
                back: Back | None) -> Response:
        message = (f"{error.field}: {error.message}" if isinstance(error, BadRequest)
                   and error.field else error.message)
        if back is None:
            status = 400 if isinstance(error, BadRequest) else (
                404 if isinstance(error, NotFound) else 409)
            return self._refuse(status, "Not done", message)
        return Response(303, b"", (("location", back(request)), ("cache-control", "no-store"),
                                   self.access.flash_cookie(message, "error")))

    def _refuse(self, status: int, heading: str, message: str) -> Response:
        return self.renderer.message(status, heading, message)
