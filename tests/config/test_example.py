"""The example config in config/ is valid and says what it holds."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity
from router.cli import main
from router.clock import FixedClock
from router.config import load_config
from router.core.oncall import shift_at
from router.engine import Engine
from router.store import DATABASE_NAME, Store

EXAMPLE = Path(__file__).resolve().parents[2] / "config"


def test_example_config_is_valid_and_complete() -> None:
    config = load_config([EXAMPLE])
    assert config.warnings == ()
    assert len(config.services) == 2
    assert len(config.people) == 5
    assert len(config.rotas) == 2
    assert len(config.escalation_policies) == 2
    assert len(config.suppressions) == 1
    assert sorted(config.checks) == ["disk", "memory"]
    assert {channel.type for channel in config.channels.values()} == {
        "pagerduty", "slack", "email", "webhook", "log"}


def test_example_secrets_are_read_from_files_and_never_printed() -> None:
    config = load_config([EXAMPLE])
    key = config.channels["pagerduty-production"].settings.routing_key  # type: ignore[attr-defined]
    assert key.reveal() == "R0000000000000000000000000000000"
    assert "R000" not in repr(config.channels["pagerduty-production"])


OUTSIDE = ("pagerduty-production", "slack-oncall", "email", "sms-gateway")


def test_the_examples_outside_channels_are_disabled_until_their_secrets_are_filled_in(
        ) -> None:
    config = load_config([EXAMPLE])
    assert {channel.id: channel.enabled for channel in config.channels.values()} == {
        "log": True, **dict.fromkeys(OUTSIDE, False)}


def test_router_validate_has_nothing_to_say_about_the_example_but_its_summary() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(EXAMPLE)], out, err) == 0
    assert (out.getvalue(), err.getvalue()) == (
        "config valid: 5 people, 5 channels, 2 rotas, 2 escalation policies, 2 services, "
        "4 routes, 1 suppression, 2 checks, 1 heartbeat, 1 job from 11 files\n", "")


@pytest.mark.parametrize(("labels", "severity", "service"), [
    ({"alertname": "ReplicationLag", "team": "db"}, "critical", "database"),
    ({"alertname": "Slow", "env": "staging"}, "critical", "api"),
    ({"alertname": "DiskFull", "instance": "web1"}, "critical", "api"),
    ({"alertname": "CertExpiry", "instance": "web2"}, "warning", "api"),
])
def test_every_route_of_the_example_reaches_the_log_channel(
        tmp_path: Path, labels: dict[str, str], severity: str, service: str) -> None:
    """With the outside channels disabled, `make run` still shows every page in its log."""
    async def ingest() -> list[tuple[str, str]]:
        store = await Store.open(tmp_path / DATABASE_NAME)
        try:
            engine = Engine(load_config([EXAMPLE]), store,
                            FixedClock(datetime(2026, 12, 2, 10, 0, tzinfo=UTC)))
            accepted = await engine.ingest([Alert(
                summary="example", source="native", severity=Severity(severity),
                labels=labels)])
            detail = await engine.incident(accepted[0].incident_id or "")
        finally:
            await store.close()
        assert detail is not None and detail.incident.service == service
        return [(entry.details["channel"], entry.details["target"])
                for entry in detail.timeline if entry.action == "notified"]
    notified = trio.run(ingest)
    assert ("log", "channel:log") in notified


@pytest.mark.parametrize(("source", "alertname"), [
    ("heartbeat", "HeartbeatMissed"), ("job", "JobFailed"), ("check", "disk")])
def test_the_examples_own_sources_open_incidents_on_the_service_they_name(
        tmp_path: Path, source: str, alertname: str) -> None:
    """docs/sources.md: a heartbeat, job or check opens its incident on its `service` (all
    `database` in the example), not on the service of the example's catch-all route."""
    async def ingest() -> str:
        store = await Store.open(tmp_path / DATABASE_NAME)
        try:
            engine = Engine(load_config([EXAMPLE]), store,
                            FixedClock(datetime(2026, 12, 2, 10, 0, tzinfo=UTC)))
            accepted = await engine.ingest([Alert(
                summary="example", source=source, service="database",
                severity=Severity.CRITICAL, labels={"alertname": alertname})])
            detail = await engine.incident(accepted[0].incident_id or "")
        finally:
            await store.close()
        assert detail is not None
        notified = {entry.details["channel"] for entry in detail.timeline
                    if entry.action == "notified"}
        assert "log" in notified
        return detail.incident.service
    assert trio.run(ingest) == "database"


def test_the_examples_christmas_override_changes_who_is_on_call() -> None:
    rota = load_config([EXAMPLE]).rotas["platform-primary"]
    christmas_eve = datetime(2026, 12, 24, 20, 0, tzinfo=rota.timezone)
    assert shift_at(rota, christmas_eve).shift.person == "dave"
    before = datetime(2026, 12, 24, 8, 0, tzinfo=rota.timezone)
    assert shift_at(rota, before).shift.person == rota.overrides[0].replaces == "carol"
