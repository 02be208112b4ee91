"""The email acknowledge link: GET shows a page, POST acknowledges; over real loopback HTTP to
an in-process server on a real SQLite store (the whole path from a mailed link:
tests/e2e/test_lifecycle_surfaces.py)."""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from router import links
from router.alerts.model import Alert, Severity, Status
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.server.api import build_routes
from router.server.link_pages import LinkPages
from tests.server.support import Servers

STATE_KEY = bytes(range(32))
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = """
settings:
  timezone: UTC
  public_url: https://router.example.com/
  ingest_tokens: [{{name: ops, token: ops-token}}]
{extra}
people:
  - {{id: ann, contact_methods: [{{type: email, address: ann@example.com}}]}}
channels:
  - {{id: mail, type: email, host: localhost, from: router@example.com}}
  - {{id: slack, type: slack, webhook_url: "https://hooks.slack.com/services/T/B/x"}}
escalation_policies:
  - {{id: default, levels: [{{targets: [{{person: ann}}], delay: 15m}}]}}
services:
  - {{id: api, escalation_policy: default}}
routes:
  - service: api
"""
SECURITY_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex, nofollow",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
}


@dataclass
class Setup:
    http: httpx.AsyncClient
    engine: Engine
    pages: LinkPages
    clock: FixedClock
    directory: Path

    async def open_incident(self, summary: str = "Disk full") -> str:
        [accepted] = await self.engine.ingest([_alert(summary)])
        assert accepted.incident_id is not None
        return accepted.incident_id

    def link(self, incident_id: str) -> str:
        """The link's path and query, as the deliverer puts it in an email."""
        url = self.pages.acknowledge_url("email", "trigger", incident_id)
        assert url is not None
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    async def state(self, incident_id: str) -> tuple[str, str | None]:
        detail = await self.engine.incident(incident_id)
        assert detail is not None
        return detail.incident.state.value, detail.incident.acknowledged_by

    def reconfigure(self, extra: str) -> None:
        path = self.directory / "config.yaml"
        path.write_text(textwrap.dedent(CONFIG.format(extra=extra)))
        self.engine.use_config(load_config([path]))


def _alert(summary: str) -> Alert:
    return Alert(summary=summary, source="native", severity=Severity.CRITICAL,
                 status=Status.FIRING, labels={"alertname": summary})


Start = Callable[..., Awaitable[Setup]]


@pytest.fixture
async def start(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Start]:
    servers = Servers(nursery)

    async def begin(extra: str = "") -> Setup:
        path = tmp_path / "config.yaml"
        path.write_text(textwrap.dedent(CONFIG.format(extra=extra)))
        store = await servers.open_store(tmp_path / "router.db")
        clock = FixedClock(NOW)
        engine = Engine(load_config([path]), store, clock)
        pages = LinkPages(engine, STATE_KEY)
        client = await servers.serve(build_routes(engine, link_pages=pages))
        return Setup(client, engine, pages, clock, tmp_path)

    yield begin
    await servers.close()
    nursery.cancel_scope.cancel()


def text_of(page: httpx.Response) -> str:
    """The page's text as a browser shows it: no style, no tags, entities read, whitespace
    collapsed."""
    visible = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page.text)
    return " ".join(html.unescape(visible).split())


async def test_only_emails_about_a_trigger_or_an_escalation_carry_a_link(start: Start) -> None:
    setup = await start()
    url = setup.pages.acknowledge_url("email", "trigger", "INC3")
    assert url is not None
    assert url.startswith("https://router.example.com/v1/incidents/INC3/acknowledge-link?"
                          "expires=1795521600&signature=")  # now + 24 h, the default
    assert setup.pages.acknowledge_url("email", "escalate", "INC3") is not None
    for channel_type, event in [("slack", "trigger"), ("webhook", "trigger"),
                                ("email", "acknowledge"), ("email", "resolve"),
                                ("email", "message")]:
        assert setup.pages.acknowledge_url(channel_type, event, "INC3") is None


async def test_get_shows_a_button_and_changes_nothing(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident("Disk <b>full</b> & slow")
    link = setup.link(incident)
    page = await setup.http.get(link)  # what a mail scanner's prefetch does
    assert page.status_code == 200
    assert {name: page.headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert text_of(page).startswith(
        f"Acknowledge {incident}? - router Acknowledge {incident}? Disk <b>full</b> & slow "
        f"Acknowledge {incident} Acknowledging stops the escalation")
    assert "Disk &lt;b&gt;full&lt;/b&gt; &amp; slow" in page.text  # escaped, not markup
    query = urlsplit(link).query.replace("&", "&amp;")
    assert f'<form method="post" action="?{query}">' in page.text
    assert (await setup.http.head(link)).status_code == 200
    assert await setup.state(incident) == ("triggered", None)


async def test_post_acknowledges_as_email_link_without_a_bearer_token(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    link = setup.link(incident)
    page = await setup.http.post(link, content=b"", headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert text_of(page) == (f"{incident} acknowledged - router {incident} acknowledged "
                             f"Disk full {incident} acknowledged by email:link.")
    assert await setup.state(incident) == ("acknowledged", "email:link")
    again = await setup.http.post(link)
    assert again.status_code == 200
    assert f"{incident} was already acknowledged by email:link at 2026-11-23T12:00:00Z." in (
        text_of(again))
    shown = await setup.http.get(link)
    assert "nothing to do" in text_of(shown)
    assert "<form" not in shown.text


async def test_a_resolved_or_unknown_incident(start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    await setup.engine.resolve(incident, "api:carol")
    link = setup.link(incident)
    page = await setup.http.post(link)
    assert page.status_code == 409
    assert f"{incident} was already resolved at 2026-11-23T12:00:00Z." in text_of(page)
    assert await setup.state(incident) == ("resolved", None)
    assert "was already resolved" in text_of(await setup.http.get(link))
    unknown = setup.link("INC77")
    assert (await setup.http.get(unknown)).status_code == 404
    missing = await setup.http.post(unknown)
    assert (missing.status_code, text_of(missing)) == (
        404, "Unknown incident - router Unknown incident router has no incident INC77.")


async def test_an_expired_link_is_403_and_says_so(start: Start) -> None:
    setup = await start("  link_lifetime: 2h")
    incident = await setup.open_incident()
    link = setup.link(incident)
    setup.clock.advance(timedelta(hours=2))
    for page in (await setup.http.get(link), await setup.http.post(link)):
        assert page.status_code == 403
        assert {name: page.headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS
        assert text_of(page) == (
            "Link not valid - router Link not valid This link cannot be used: the link "
            "expired at 2026-11-23 14:00 UTC. Links last a limited time so that an old mail "
            f"cannot act on a new incident. Acknowledge it another way: the Acknowledge button "
            f"in Slack, router ack {incident} , or POST /v1/incidents/{incident}/acknowledge .")
    assert await setup.state(incident) == ("triggered", None)


@pytest.mark.parametrize(("alter", "reason"), [
    (lambda link: link.replace("/INC1/", "/INC2/"), "the link's signature does not match: it "
     "was altered, or signed with another key"),
    (lambda link: re.sub(r"expires=\d+", "expires=1999999999", link), "the link's signature "
     "does not match: it was altered, or signed with another key"),
    (lambda link: link.split("&signature")[0], "the link is incomplete: it needs both expires "
     "and signature (was it cut when copied?)"),
    (lambda link: link.split("?")[0], "the link is incomplete: it needs both expires and "
     "signature (was it cut when copied?)"),
    (lambda link: link.replace("/INC1/", "/nine/"), None),
])
async def test_an_altered_link_is_403_and_changes_nothing(
        start: Start, alter: Callable[[str], str], reason: str | None) -> None:
    setup = await start()
    first, second = await setup.open_incident("one"), await setup.open_incident("two")
    assert (first, second) == ("INC1", "INC2")
    link = alter(setup.link(first))
    page = await setup.http.post(link)
    assert page.status_code == 403
    expected = (f"This link cannot be used: {reason}." if reason
                else "This is not a link router made.")
    assert expected in text_of(page)
    assert await setup.state(first) == await setup.state(second) == ("triggered", None)


async def test_a_configured_link_secret_signs_links_and_a_reload_takes_effect(
        start: Start) -> None:
    setup = await start()
    incident = await setup.open_incident()
    signed_with_state_key = setup.link(incident)
    setup.reconfigure("  link_secret: s3cret-shared-by-two-daemons")
    refused = await setup.http.post(signed_with_state_key)
    assert refused.status_code == 403
    link = setup.link(incident)
    expires, signature = (part.split("=")[1] for part in urlsplit(link).query.split("&"))
    assert links.check(b"s3cret-shared-by-two-daemons", incident, expires, signature, NOW)
    assert (await setup.http.post(link)).status_code == 200
    assert await setup.state(incident) == ("acknowledged", "email:link")
