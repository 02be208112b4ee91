"""The dead-letters page over real loopback HTTP and its Retry handler called directly
(router/web/deadletters.py, engine/dead_letters.py): each dead letter with its reason and
attempts, escaped; a retry makes it pending again, due now, in the incident's timeline; a
page of a resolved incident is not sent again; an unknown id is refused."""

from __future__ import annotations

from router.alerts.model import Alert, Severity, Status
from router.engine.dead_letters import DeadLetter
from router.store.values import Attempt
from router.web.deadletters import retry_dead_letter
from router.web.fields import Refused
from tests.web.responder_site import NOW, Site, row_text, site, text_of

__all__ = ["site"]


async def _dead_letter(site: Site) -> tuple[str, str]:
    """An incident whose page to ann failed for good; (incident id, notification id)."""
    [accepted] = await site.engine.ingest([Alert(
        summary="Disk full", source="native", severity=Severity.CRITICAL,
        status=Status.FIRING, labels={"alertname": "DiskFull"})])
    assert accepted.incident_id is not None
    store = site.engine.store
    [due] = await store.read(lambda reader: reader.outbox.due("mail", NOW, 10))
    notification = due.notification
    await store.write(lambda transaction: transaction.outbox.record(Attempt(
        notification_id=notification.id, incident_number=notification.incident_number,
        channel="mail", target=notification.target, event=notification.event, attempt=3,
        attempted_at=NOW, outcome="failed", error="550 <mailbox> unavailable")))
    return accepted.incident_id, notification.id


async def test_the_page_lists_dead_letters_with_reason_and_attempts(site: Site) -> None:
    empty = await site.get("/ui/dead-letters")
    assert empty.status_code == 200
    assert "No dead letters" in text_of(empty)
    incident, notification = await _dead_letter(site)
    page = await site.get("/ui/dead-letters")
    assert row_text(page, f"n-{notification}") == (
        f"{notification} {incident} mail person:ann trigger 3 2026-03-25 12:00:00 UTC "
        "550 <mailbox> unavailable Retry")
    assert "550 &lt;mailbox&gt; unavailable" in page.text
    assert f'action="/ui/dead-letters/{notification}/retry"' in page.text
    assert (await site.http.get("/ui/dead-letters")).status_code == 401


async def test_a_retry_makes_it_pending_again_and_is_in_the_timeline(site: Site) -> None:
    incident, notification = await _dead_letter(site)
    retried = await retry_dead_letter(site.engine, "web:ben", notification)
    assert isinstance(retried, DeadLetter) and retried.attempts == 3
    [due] = await site.engine.store.read(lambda reader: reader.outbox.due("mail", NOW, 10))
    assert (due.notification.id, due.attempts) == (notification, 3)
    assert "No dead letters" in text_of(await site.get("/ui/dead-letters"))
    detail = await site.engine.incident(incident)
    assert detail is not None
    [entry] = [item for item in detail.timeline if item.action == "delivery retried"]
    assert (entry.actor, entry.details["notification"]) == ("web:ben", notification)
    assert await retry_dead_letter(site.engine, "web:ben", notification) == Refused(
        {"id": f"no dead letter {notification}"})


async def test_a_page_of_a_resolved_incident_is_not_sent_again(site: Site) -> None:
    incident, notification = await _dead_letter(site)
    await site.engine.resolve(incident, "ann")
    assert await retry_dead_letter(site.engine, "ben", notification) == Refused(
        {"id": f"{incident} is resolved: its page is not sent again"})
    page = await site.get("/ui/dead-letters")
    assert f"n-{notification}" in page.text
