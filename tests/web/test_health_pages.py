"""The health page over real loopback HTTP (router/web/health.py): each heartbeat with its
state, last ping and next deadline, each check with its status, last and next run; before
any ping or run, and after; a job's own message escaped."""

from __future__ import annotations

from datetime import timedelta

from router.core.checks import Reading
from router.engine.heartbeats import Ping, kept_message, signal_of
from tests.web.responder_site import NOW, PING, Site, row_text, site

__all__ = ["site"]


async def test_before_any_ping_or_run(site: Site) -> None:
    await site.engine.schedule_heartbeats()
    page = await site.get("/ui/health")
    assert page.status_code == 200
    assert row_text(page, "heartbeat-nightly") == (
        "nightly shop new every 1h + 10m never 2026-03-25 13:10:00 UTC")
    assert row_text(page, "check-disk") == "disk disk every 1m shop pending never at start"
    assert row_text(page, "check-memory") == "memory memory every 30s pending never at start"
    assert (await site.http.get("/ui/health")).status_code == 401


async def test_after_a_failed_ping_and_a_check_run(site: Site) -> None:
    await site.engine.schedule_heartbeats()
    heartbeats = site.engine.heartbeats
    signal = signal_of("3")
    await heartbeats.ping(heartbeats.identify("nightly", PING), Ping(
        signal=signal.signal, exit_code=signal.exit_code,
        message=kept_message(b"dump failed: <disk full>\n")))
    [disk] = [check for check in site.engine.config.checks.values() if check.id == "disk"]
    await site.engine.checks.record(disk, Reading(metrics={"disk_percent:/": 97.0}),
                                    started_at=NOW - timedelta(seconds=20), duration_ms=3.0,
                                    host="db1")
    page = await site.get("/ui/health")
    heartbeat = row_text(page, "heartbeat-nightly")
    assert heartbeat.startswith(
        "nightly shop failed every 1h + 10m 2026-03-25 12:00:00 UTC (failure, exit 3)")
    assert heartbeat.endswith("dump failed: <disk full>")
    assert "dump failed: &lt;disk full&gt;" in page.text
    check = row_text(page, "check-disk")
    assert check.startswith("disk disk every 1m shop critical 2026-03-25 11:59:40 UTC "
                            "2026-03-25 11:59:40 UTC 2026-03-25 12:00:40 UTC")
