"""The acknowledge link of an email: `GET|POST /v1/incidents/{id}/acknowledge-link` (room:
server; imports engine, lifecycle, links, errors).

The link's signature is its authority (router/links.py), so these routes take no bearer
token. GET only shows a small page with an "Acknowledge" button: mail scanners and link
previews fetch every link in a mail, and a fetch must not acknowledge anything. The button
POSTs back to the same URL, which acknowledges as `email:link`. A link that is altered,
signed with another key, or past its expiry is answered 403 with a page that says which and
what to do instead; nothing is read or changed for it.

Pages are plain HTML with no script, sent with `Cache-Control: no-store`, `Referrer-Policy:
no-referrer` (the signed URL must not leak to another site) and a Content-Security-Policy
that forbids framing (no clickjacking of the button).

`acknowledge_url` is the other half: the deliverer asks it for the link of each notification
it renders; only an email about a trigger or an escalation gets one. The key is
`settings.link_secret` when set (read from the config snapshot, so a reload takes effect),
else the state directory's key that the daemon read at start.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import urlencode

from router import links
from router.engine import Engine, lifecycle, parse_incident_id
from router.errors import BadRequest, NotFound
from router.server.routes import Request, Response

logger = logging.getLogger(__name__)

ACTOR = "email:link"
LINKED_EVENTS = frozenset({"trigger", "escalate"})
"""The events whose emails carry an acknowledge link: the ones that ask someone to act."""
_HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-robots-tag", "noindex, nofollow"),
    ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    ("x-frame-options", "DENY"),
)
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;"
          "line-height:1.5}button{font-size:1.2em;padding:.5em 1.5em;cursor:pointer}"
          ".muted{color:#666}")
_ELSEWHERE = ("Acknowledge it another way: the Acknowledge button in Slack, <code>router ack "
              "{id}</code>, or <code>POST /v1/incidents/{id}/acknowledge</code>.")


class LinkPages:
    """The link routes' handlers and the deliverer's link maker."""

    def __init__(self, engine: Engine, state_key: bytes) -> None:
        self.engine = engine
        self._state_key = state_key

    def key(self) -> bytes:
        secret = self.engine.config.settings.link_secret
        return links.key_from_secret(secret.reveal()) if secret is not None else self._state_key

    def acknowledge_url(self, channel_type: str, event: str, incident_id: str) -> str | None:
        """The signed link for an email about a trigger or an escalation; None otherwise."""
        if channel_type != "email" or event not in LINKED_EVENTS:
            return None
        settings = self.engine.config.settings
        return links.make_link(self.key(), settings.public_url, incident_id,
                               self.engine.now() + settings.link_lifetime)

    async def show(self, request: Request) -> Response:
        """GET: the incident and a button; changes nothing."""
        incident_id, refusal = self._checked(request)
        if refusal is not None:
            return refusal
        detail = await self.engine.incident(incident_id)
        if detail is None:
            return _page(404, "Unknown incident", f"router has no incident {incident_id}.")
        incident = detail.incident
        about = f"<p><strong>{_escape(incident.summary)}</strong></p>"
        if incident.state.value == "triggered":
            form = (f'<form method="post" action="?{_escape(_query(request))}">'
                    f'<button type="submit">Acknowledge {incident.id}</button></form>'
                    '<p class="muted">Acknowledging stops the escalation: nobody else is '
                    "paged for it.</p>")
            return _page(200, f"Acknowledge {incident.id}?", about + form)
        acted = lifecycle.Acted("acknowledge", "refused" if incident.state.value == "resolved"
                                else "already", incident, ACTOR)
        return _page(200, f"{incident.id} needs nothing", about + f"<p>{_escape(acted.sentence)}"
                     "; nothing to do.</p>")

    async def acknowledge(self, request: Request) -> Response:
        """POST: acknowledge as `email:link`."""
        incident_id, refusal = self._checked(request)
        if refusal is not None:
            return refusal
        try:
            acted = await lifecycle.act(self.engine, "acknowledge", incident_id, ACTOR)
        except NotFound:
            return _page(404, "Unknown incident", f"router has no incident {incident_id}.")
        logger.info("acknowledge link: %s", acted.sentence,
                    extra={"incident": incident_id, "result": acted.result})
        status = 409 if acted.result == "refused" else 200
        title = {"done": f"{incident_id} acknowledged",
                 "already": f"{incident_id} was already acknowledged",
                 "refused": f"{incident_id} is resolved"}[acted.result]
        return _page(status, title, f"<p><strong>{_escape(acted.incident.summary)}</strong></p>"
                                    f"<p>{_escape(acted.sentence)}.</p>")

    def _checked(self, request: Request) -> tuple[str, Response | None]:
        """The canonical incident id, and the 403 page to answer instead when the link
        does not hold."""
        try:
            incident_id = f"INC{parse_incident_id(request.params['id'])}"
        except BadRequest:
            return "", _refused("This is not a link router made.", "")
        try:
            links.check(self.key(), incident_id, _last(request, "expires"),
                        _last(request, "signature"), self.engine.now())
        except links.LinkRefused as refused:
            logger.warning("acknowledge link refused: %s", refused.reason,
                           extra={"incident": incident_id, "expired": refused.expired})
            hint = ("Links last a limited time so that an old mail cannot act on a new "
                    "incident. " if refused.expired else "")
            return incident_id, _refused(f"This link cannot be used: {refused.reason}.",
                                         hint + _ELSEWHERE.format(id=incident_id))
        return incident_id, None


def _refused(message: str, advice: str) -> Response:
    return _page(403, "Link not valid", f"<p>{_escape(message)}</p>"
                                        + (f"<p>{advice}</p>" if advice else ""))


def _page(status: int, title: str, body: str) -> Response:
    """A whole HTML page; `body` is HTML (callers escape what they did not write)."""
    if not body.startswith("<"):
        body = f"<p>{_escape(body)}</p>"
    document = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{_escape(title)} - router</title><style>{_STYLE}</style></head>"
                f"<body><h1>{_escape(title)}</h1>{body}</body></html>\n")
    return Response(status, document.encode(), _HEADERS)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _last(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[-1] if values else None


def _query(request: Request) -> str:
    """The link's own query, for the form to post back to (only the signed parts)."""
    return urlencode({"expires": _last(request, "expires") or "",
                      "signature": _last(request, "signature") or ""})
