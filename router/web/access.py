"""Who a web request comes from, and what a page answers someone it refuses (room: web).

The daemon makes one `WebAccess` for its life and hands it to the server as its
`WebSessions` (server/api_access.py): the gate then lets a page's request through on a
session cookie, or on the trusted proxy's header from its addresses, as it would on a token
with the same scope. A browser that asks for a page without either is sent to
`/ui/login?next=PAGE`; a JSON client (one that does not ask for HTML) still gets the 401.

`around` wraps every page handler: it sets `render.VISIT` (the viewer, a flash message) for
the templates and clears the flash cookie once shown. The session key comes from the daemon
(`use_key`, read in a worker thread at start and on reload); until it has one, nobody logs
in and only tokens open the pages.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from dataclasses import replace
from urllib.parse import quote, urlsplit

from router.engine import Engine
from router.server.api_access import CROSS_SITE, Principal
from router.server.routes import Handler, Request, Response
from router.web.auth import csrf, sessions
from router.web.auth.principal import principal_of, proxy_user
from router.web.auth.throttle import LoginThrottle
from router.web.render import VISIT, Renderer, Viewer, Visit

LOGIN = "/ui/login"
HOME = "/ui/incidents"
FLASH_COOKIE = "router_flash"
FLASH_SECONDS = 60
_FLASH_CONTEXT = b"router-flash-v1\n"
_PROXY_SESSION = "proxy:"
"""What a proxy-named user's CSRF token is made from: they have no session cookie."""


class WebAccess:
    """The web's logins over the engine's config: sessions, the trusted proxy, the flash
    message, the one login throttle (trio thread only)."""

    def __init__(self, engine: Engine, renderer: Renderer, *, tls: bool = False,
                 key: bytes | None = None) -> None:
        self.engine = engine
        self.renderer = renderer
        self.tls = tls
        self.key = key
        self.throttle = LoginThrottle()

    def use_key(self, key: bytes) -> None:
        """The session key, once read (at start and on each reload)."""
        self.key = key

    @property
    def secure(self) -> bool:
        return sessions.secure_cookies(self.tls, self.engine.config.settings.public_url)

    def viewer(self, request: Request) -> Viewer | None:
        """The logged-in user the request comes from: its valid session cookie, else the
        trusted proxy's header from one of its addresses; None for neither."""
        if self.key is None:
            return None
        config = self.engine.config
        web = config.settings.web
        value = cookie(request, sessions.COOKIE_NAME)
        if value:
            try:
                session = sessions.read(self.key, value, self.engine.now(), config.users,
                                        web.session_lifetime)
            except sessions.SessionRefused:
                session = None
            if session is not None:
                return Viewer(principal_of(session), csrf.token(self.key, session.id),
                              session.role)
        peer = request.client[0] if request.client else None
        user = proxy_user(web.trusted_proxy, config.users, peer, request.headers)
        if user is None:
            return None
        return Viewer(principal_of(user), csrf.token(self.key, _PROXY_SESSION + user.name),
                      user.role)

    def principal(self, request: Request) -> Principal | None:
        found = self.viewer(request)
        return None if found is None else found.principal

    def refused(self, request: Request, refusal: Response) -> Response:
        """A browser without a login goes to the login page (then back to the page); a
        JSON client keeps its 401; a user whose role falls short gets a page saying so."""
        if refusal.status == 401:
            if _wants_html(request) or _is_form(request):
                return login_redirect(request)
            return refusal
        said = _error_of(refusal)
        if said.startswith(CROSS_SITE):  # the gate's Origin check, not a role's rights
            return self.renderer.message(
                403, "Refused", f"{said}. If you sent it from router's own page, "
                "settings.public_url must be the address your browser uses (a proxy in "
                "front must pass the Host header on).")
        viewer = self.viewer(request)
        who = f"{viewer.principal.name} ({viewer.role})" if viewer else "This token"
        return self.renderer.message(
            403, "Not allowed", f"{who} may not do this: it needs a role with more rights "
                                "(read < respond < admin). Ask an admin.")

    def around(self, handler: Handler) -> Handler:
        """`handler` with the viewer and any flash message set for its templates."""
        async def visited(request: Request) -> Response:
            flash = self.flash_of(request)
            token = VISIT.set(Visit(self.viewer(request), *(flash or ("", "ok"))))
            try:
                response = await handler(request)
            finally:
                VISIT.reset(token)
            if flash is None:
                return response
            return replace(response, headers=(*response.headers, (
                "set-cookie", sessions.cookie_header(FLASH_COOKIE, "", 0, secure=self.secure))))
        return visited

    def flash_cookie(self, text: str, kind: str = "ok") -> tuple[str, str]:
        """The Set-Cookie header that shows `text` on the next page (signed, so no one
        else can put words on router's pages)."""
        payload = f"{kind}\n{text[:500]}".encode()
        value = f"{sessions.b64(payload)}.{sessions.b64(self._flash_signature(payload))}"
        return ("set-cookie", sessions.cookie_header(FLASH_COOKIE, value, FLASH_SECONDS,
                                                     secure=self.secure))

    def flash_of(self, request: Request) -> tuple[str, str] | None:
        """(text, kind) of the request's flash cookie; None for none or a forged one."""
        value = cookie(request, FLASH_COOKIE)
        if not value or self.key is None:
            return None
        encoded, _, signature = value.partition(".")
        try:
            payload, given = sessions.unb64(encoded), sessions.unb64(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(self._flash_signature(payload), given):
            return None
        kind, _, text = payload.decode("utf-8", "replace").partition("\n")
        return text, kind if kind in ("ok", "error") else "ok"

    def _flash_signature(self, payload: bytes) -> bytes:
        assert self.key is not None
        return hmac.new(self.key, _FLASH_CONTEXT + payload, hashlib.sha256).digest()


def _error_of(refusal: Response) -> str:
    """The `error` of the gate's JSON refusal; "" for any other body."""
    try:
        said = json.loads(refusal.body).get("error", "")
    except (ValueError, AttributeError):
        return ""
    return said if isinstance(said, str) else ""


def login_redirect(request: Request) -> Response:
    """303 to the login page, which comes back to the page asked for (a GET's own path, a
    form's page for a POST)."""
    target = quote(request.path if request.method != "POST" else _page_of_form(request.path),
                   safe="/")
    if request.method != "POST" and request.query:
        query = "&".join(f"{quote(name)}={quote(value)}"
                         for name, values in request.query.items() for value in values)
        target = f"{target}?{query}"
    return Response(303, b"", (("location", f"{LOGIN}?next={quote(target, safe='/')}"),
                               ("cache-control", "no-store")))


def safe_next(text: str) -> str:
    """Where a login may send the browser: a path of this router's web interface only (no
    scheme, no other host, no `//` or backslash tricks, and printable ASCII only: it becomes
    a Location header, and router's own links percent-encode the rest); else the incidents
    page."""
    if (not text.startswith("/") or text.startswith("//") or "\\" in text
            or not text.isascii() or not text.isprintable()):
        return HOME
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not (parts.path == "/" or
                                             parts.path.startswith("/ui/")):
        return HOME
    return HOME if parts.path.startswith(LOGIN) else text


def cookie(request: Request, name: str) -> str:
    """The value of cookie `name` in the request's Cookie header; "" when absent."""
    for part in request.headers.get("cookie", "").split(";"):
        key, equals, value = part.strip().partition("=")
        if equals and key == name:
            return value.strip()
    return ""


def _page_of_form(path: str) -> str:
    """The page a form posting to `path` lives on: `/ui/incidents/INC1/acknowledge` ->
    `/ui/incidents/INC1`."""
    head, _, _ = path.rstrip("/").rpartition("/")
    return head if head.startswith("/ui/") else HOME


def _is_form(request: Request) -> bool:
    """A browser's form post (what a JSON client never sends: the gate refuses it 415)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return request.method == "POST" and media_type == "application/x-www-form-urlencoded"


def _wants_html(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get(
        "accept", "")
