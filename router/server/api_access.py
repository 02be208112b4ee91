"""Who may call which route (room: server; imports engine, errors).

Every route of `build_routes` is registered with an `Access`, and `protect` wraps its handler
in the checks below, in this order, so a browser on the host or a local user cannot use the
API by accident or by design (docs/security.md):
1. Host: the `Host` header must be one of the router's names (the loopback names, the listen
   address, public_url's host and any in `settings.allowed_hosts`), else 421. A page
   whose own name resolves to 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
2. Origin: a request that can change something (any method but GET and HEAD) carrying an
   `Origin` other than the router's own (the Host it was sent to, or public_url's), `null`,
   or `Sec-Fetch-Site: cross-site`, is refused 403 whatever its credentials.
3. Credentials: a bearer token (or the state directory's admin token) with the route's
   scope: none or an unknown one is 401, one without the scope 403. Ingest without a token
   passes only when no tokens are configured and the request is local (a loopback peer
   that named a loopback Host), as before tokens existed.
4. Content type: a body sent to a JSON route must say `application/json`, else 415: a
   browser can send `text/plain` or form bodies cross-site without asking first, never
   `application/json`.
The web interface's pages (PAGES) also accept its logged-in users (`WebSessions`: a session
cookie or the trusted proxy's header) beside tokens, skip the content-type check (their
forms post `application/x-www-form-urlencoded`, and check it and a CSRF token themselves,
router/web/forms.py), and let the web room answer a refusal (a browser is sent to the login
page, a JSON client still gets the 401).
Slack's buttons and the email acknowledge link prove themselves by signature, and PagerDuty
senders by routing key (their handlers check); health checks are open. A calendar feed
(`feed`) also opens to its own secret feed token in `?token=` (store/feeds.py), which opens
no other feed and no other route.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from router.engine import Engine
from router.server.routes import Handler, Request, Response

Access = Literal["open", "signed", "routing_key", "feed", "ingest", "read", "respond",
                 "admin", "ping"]
"""What a route asks of a caller: nothing; a signature its handler checks; a PagerDuty
routing key its handler checks; the read scope or the feed's own token (`feed`); a token
with that scope; or a heartbeat's own ping token in `?token=`, which its handler checks
(`ping`: a wrong one is 404, as an unknown heartbeat)."""
FeedToken = Callable[[str], Awaitable["str | None"]]
"""A calendar feed's secret token (`rota:web`, `person:ann`), or None if it has none."""
FEED_KINDS = {"/v1/rotas/": "rota", "/v1/people/": "person"}
"""Which feed an .ics path is, by its prefix."""
IMPLIED: dict[str, frozenset[str]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
    "respond": frozenset({"respond", "read"}),
    "admin": frozenset({"admin", "respond", "read"}),
}
"""The scopes a token's scope grants: admin includes respond and read, respond read."""
DETECTED = "*"
"""The source of `POST /v1/ingest`, whose format is known only once the body is read: the
gate asks for the ingest scope, and the handler then for the format detected
(`Gate.refuses_source`)."""
ADMIN_TOKEN_NAME = "admin.token"
"""The name the state directory's admin token goes by (metrics, errors)."""
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
PAGES: dict[tuple[str, str], Access] = {
    ("GET", "/"): "open",  # a redirect to the incidents page; shows nothing
    ("GET", "/ui/incidents"): "read",
    ("GET", "/ui/incidents/rows"): "read",
    ("GET", "/ui/incidents/{id}"): "read",
    ("GET", "/ui/status"): "read",
    ("GET", "/ui/static/{name}"): "open",  # the stylesheet and script: router's, no data
    ("GET", "/ui/login"): "open",  # the login form
    ("POST", "/ui/login"): "open",  # throttled; the password is the credential
    ("POST", "/ui/logout"): "read",  # any logged-in user, with the form's CSRF token
    ("POST", "/ui/incidents/{id}/acknowledge"): "respond",
    ("POST", "/ui/incidents/{id}/resolve"): "respond",
    ("POST", "/ui/incidents/{id}/escalate"): "respond",
    ("POST", "/ui/incidents/{id}/notes"): "respond",
    ("GET", "/ui/silences"): "read",
    ("GET", "/ui/silences/new"): "read",  # the form; adding needs respond
    ("POST", "/ui/silences"): "respond",  # a preview first, then the silence
    ("POST", "/ui/silences/{id}/expire"): "respond",
    ("GET", "/ui/oncall"): "read",
    ("GET", "/ui/oncall/{id}"): "read",
    ("GET", "/ui/overrides"): "read",
    ("GET", "/ui/dead-letters"): "read",
    ("GET", "/ui/jobs"): "read",
    ("GET", "/ui/jobs/{id}"): "read",
    ("GET", "/ui/health"): "read",
    ("GET", "/ui/fatigue"): "read",
    ("POST", "/ui/overrides"): "admin",  # as POST /v1/rotas/{id}/overrides
    ("POST", "/ui/overrides/{id}/remove"): "admin",  # as DELETE /v1/overrides/{id}
    ("POST", "/ui/dead-letters/{id}/retry"): "respond",  # sends a page again, as escalate
    ("POST", "/ui/jobs/{id}/alerts"): "admin",  # as POST /v1/jobs/{id}/alerts
    ("POST", "/ui/job-alerts/{id}/delete"): "admin",  # as DELETE /v1/job-alerts/{id}
}
"""What each page of the web interface (router/web/) needs; a page missing here is refused
when the server registers it. A role grants in the pages what the same scope grants a
token in the API (`IMPLIED`): actions as the JSON API's, `respond` for incidents and
silences."""
CROSS_SITE = "cross-site request refused"
"""How the refusal of another site's request begins (the web shows it as a page of its own)."""
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_UNAUTHORIZED = Response.error(401, "missing or invalid bearer token",
                               headers=[("www-authenticate", 'Bearer realm="router"')])


@dataclass(frozen=True, slots=True)
class Principal:
    """Who presented a known token: its name, the scopes it grants, its ingest sources."""

    name: str
    scopes: frozenset[str]
    sources: frozenset[str] = frozenset()

    def may(self, scope: str, source: str | None = None) -> bool:
        if scope not in self.scopes:
            return False
        return (scope != "ingest" or not self.sources or source in self.sources
                or source == DETECTED)


class WebSessions(Protocol):
    """The web interface's logins, as the gate asks about them (router/web/access.py)."""

    def principal(self, request: Request) -> Principal | None:
        """The logged-in user a page request comes from (session cookie or trusted
        proxy), as a Principal; None for none."""

    def refused(self, request: Request, refusal: Response) -> Response:
        """What a page answers instead of the gate's 401 or 403 (a redirect to the login
        page for a browser, an HTML page for a form)."""


class Gate:
    """The checks every route passes; reads the config snapshot at each request, so a
    reload's tokens and names take effect at once."""

    def __init__(self, engine: Engine, admin_token: str | None = None,
                 listen_host: str | None = None, feed_token: FeedToken | None = None,
                 web: WebSessions | None = None) -> None:
        self.engine = engine
        self.web = web
        self.admin_token = admin_token
        self.feed_token = feed_token
        self.listen_host = listen_host  # `router run --listen`'s, else settings.listen's
        # What each request would otherwise work out again from the same settings: the
        # names, the tokens' bytes and principals, and the principal of the last token
        # presented (a sender sends the same one each time; the gate and the metrics both
        # ask); each built again when a reload swaps the settings.
        self._names: tuple[object, str | None, frozenset[str]] | None = None
        self._tokens: tuple[object, tuple[tuple[bytes, Principal], ...]] | None = None
        self._last: tuple[object, bytes, Principal | None] | None = None

    def protect(self, access: Access, handler: Handler, source: str | None = None) -> Handler:
        """`handler` behind the Host, Origin, credential and content-type checks."""
        async def protected(request: Request) -> Response:
            own_feed = access == "feed" and await self.own_feed(request)
            refusal = self.refusal(request, access, source, own_feed=own_feed)
            return refusal if refusal is not None else await handler(request)
        return protected

    def protect_page(self, access: Access, handler: Handler) -> Handler:
        """A web page's `handler` behind the Host and Origin checks and the page's access,
        which a logged-in user's session meets as a token would (`WebSessions`)."""
        async def protected(request: Request) -> Response:
            refusal = self.refusal(request, access, None, page=True)
            if refusal is None:
                return await handler(request)
            if refusal.status in (401, 403) and self.web is not None:
                return self.web.refused(request, refusal)
            return refusal
        return protected

    def refusal(self, request: Request, access: Access, source: str | None, *,
                page: bool = False, own_feed: bool = False) -> Response | None:
        """The answer that refuses `request`, or None when it may go on (`own_feed`: the
        request presents the very feed's own token, as `own_feed` found)."""
        host = request.headers.get("host", "").strip().lower()
        if not self.host_allowed(host):
            return Response.error(421, f"Host {host!r} is not one of this router's names "
                                       "(settings.allowed_hosts)")
        if request.method not in _SAFE_METHODS and (why := self.cross_site(request, host)):
            return Response.error(403, f"{CROSS_SITE}: {why}")
        if access in ("open", "signed", "ping") or (
                access == "feed" and own_feed):
            return None
        if access == "feed":
            access = "read"
        if access != "routing_key":  # PagerDuty's handler checks the key in the body
            if source is not None and "{" in source:  # generic:{name}
                source = source.format_map(request.params)
            if refusal := self.credential_refusal(request, access, source, page=page):
                return refusal
        if request.method not in _SAFE_METHODS and request.body and not page:
            return _content_type_refusal(request)
        return None

    def host_allowed(self, host: str) -> bool:
        allowed = self.allowed_hosts()
        if "*" in allowed:
            return True
        name, port = _split_host(host)
        return bool(name) and (name in allowed or f"{name}:{port}" in allowed)

    def allowed_hosts(self) -> frozenset[str]:
        """Host names, and `name:port` pairs, the router answers to: the loopback names
        (no page can make a browser send them but one served from loopback), the listen
        address, public_url's host and `settings.allowed_hosts`."""
        settings = self.engine.config.settings
        known = self._names
        if known is not None and known[0] is settings and known[1] == self.listen_host:
            return known[2]
        names = self._allowed_hosts()
        self._names = (settings, self.listen_host, names)
        return names

    def _allowed_hosts(self) -> frozenset[str]:
        settings = self.engine.config.settings
        names = set(LOOPBACK_NAMES) | set(settings.allowed_hosts)
        listen_host = (self.listen_host or settings.listen.rpartition(":")[0]).strip(
            "[]").lower()
        if listen_host and not _wildcard(listen_host):
            names.add(f"[{listen_host}]" if ":" in listen_host else listen_host)
        public = _origin_netloc(settings.public_url)
        if public:
            names.add(_split_host(public)[0])
        return frozenset(names)

    def cross_site(self, request: Request, host: str) -> str:
        """Why a state-changing request came from another site; "" when it did not."""
        if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            return "Sec-Fetch-Site is cross-site"
        origin = request.headers.get("origin")
        if origin is None:
            return ""
        netloc = _origin_netloc(origin.strip())
        own = {_normal(host), _normal(_origin_netloc(
            self.engine.config.settings.public_url))}
        if netloc and _normal(netloc) in own:
            return ""
        return f"Origin {origin.strip()[:200]!r} is not this router's"

    def principal(self, request: Request, *, query_token: bool = False) -> Principal | None:
        """Whose token the request presents (`Authorization: Bearer`, or `?token=` where
        `query_token` allows it); None for none or an unknown one."""
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        token = presented.strip() if scheme.lower() == "bearer" else ""
        if not token and query_token:
            token = (request.query.get("token") or [""])[-1]
        if not token:
            return None
        encoded, settings, last = token.encode(), self.engine.config.settings, self._last
        if last is not None and last[0] is settings and hmac.compare_digest(last[1], encoded):
            return last[2]
        found = self._principal(encoded)
        self._last = (settings, encoded, found)
        return found

    def _principal(self, encoded: bytes) -> Principal | None:
        if self.admin_token and hmac.compare_digest(self.admin_token.encode(), encoded):
            return Principal(ADMIN_TOKEN_NAME, frozenset(IMPLIED))
        for token, principal in self._known_tokens():
            if hmac.compare_digest(token, encoded):
                return principal
        return None

    def _known_tokens(self) -> tuple[tuple[bytes, Principal], ...]:
        """Each configured token's bytes and whose it is, built once per settings."""
        settings = self.engine.config.settings
        known = self._tokens
        if known is not None and known[0] is settings:
            return known[1]
        tokens = tuple(
            (configured.token.reveal().encode(), Principal(
                configured.name,
                frozenset().union(*(IMPLIED[scope] for scope in configured.scopes)),
                configured.sources))
            for configured in settings.ingest_tokens)
        self._tokens = (settings, tokens)
        return tokens

    def is_admin(self, request: Request) -> bool:
        """Whether the request presents a token with the admin scope."""
        found = self.principal(request)
        return found is not None and found.may("admin")

    async def own_feed(self, request: Request) -> bool:
        """Whether `?token=` is the secret token of the very feed requested (asked of
        `feed_token` at each fetch: a rotation on any node holds at once)."""
        presented = (request.query.get("token") or [""])[-1]
        kind = next((kind for prefix, kind in FEED_KINDS.items()
                     if request.path.startswith(prefix)), None)
        if not presented or kind is None or self.feed_token is None:
            return False
        expected = await self.feed_token(f"{kind}:{request.params.get('id', '')}")
        return expected is not None and hmac.compare_digest(expected.encode(),
                                                            presented.encode())

    def credential_refusal(self, request: Request, access: Access,
                           source: str | None, *, page: bool = False) -> Response | None:
        principal = self.principal(request, query_token=request.path.endswith(".ics"))
        if principal is None and page and self.web is not None:
            principal = self.web.principal(request)
        if principal is None:
            if access == "ingest" and self.open_ingest(request):
                return None
            return _UNAUTHORIZED
        if principal.may(access, source):
            return None
        what = f"post {source} alerts" if access == "ingest" else f"use the {access} scope"
        return Response.error(403, f"token {principal.name!r} may not {what}")

    def refuses_source(self, request: Request, source: str) -> Response | None:
        """The 403 for a sender whose token may not post alerts of `source` (a format
        detected from the body); None when it may, or when ingest is open to it."""
        principal = self.principal(request)
        if principal is None or principal.may("ingest", source):
            return None
        return Response.error(403, f"token {principal.name!r} may not post {source} alerts")

    def open_ingest(self, request: Request) -> bool:
        """Ingest with no token: only with no tokens configured, and only locally."""
        return not self.engine.config.settings.ingest_tokens and self.local(request)

    def local(self, request: Request) -> bool:
        """A loopback peer that named a loopback Host (not a proxy forwarding its Host)."""
        if request.client is None or not _loopback(request.client[0]):
            return False
        return _split_host(request.headers.get("host", "").strip().lower())[0] in \
            LOOPBACK_NAMES

    def sender(self, request: Request) -> str:
        """Who sent a request, as metrics name it: its token's name, or "anonymous"."""
        found = self.principal(request)
        return "anonymous" if found is None else found.name


def _content_type_refusal(request: Request) -> Response | None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "application/json":
        return None
    shown = media_type or "none"
    return Response.error(415, f"expected Content-Type: application/json, got {shown[:100]!r}")


def _split_host(host: str) -> tuple[str, str]:
    """`name:port` -> (name, port); `[v6]:port` keeps its brackets; port "" when absent."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return f"{name}]", rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port


def _normal(netloc: str) -> str:
    """host[:port] lower-cased, without a default port (80 or 443), for comparing."""
    name, port = _split_host(netloc.lower())
    return name if port in ("", *_DEFAULT_PORTS.values()) else f"{name}:{port}"


def _origin_netloc(url: str) -> str:
    """The host[:port] of an http(s) origin or URL; "" for anything else (`null`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{name}:{port}" if port is not None else name


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "*")


@functools.lru_cache(maxsize=1024)
def _loopback(address: str) -> bool:
    """Whether a peer's address is loopback; kept per address, since parsing it was a
    tenth of an open local ingest request's checks (issue 15)."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False

