"""`router deliveries` and `router test-channel`, run through the CLI's `main` against an inline
config, a real SQLite store holding recorded attempts, and stand-in PagerDuty servers on
loopback (threads of this process)."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.store import DATABASE_NAME, Store
from router.store.outbox import Attempt
from tests.cli.conftest import run, write_config
from tests.fakes import serve_in_thread
from tests.fakes.pagerduty import FakePagerDuty, serve_fake_pagerduty

ROUTING_KEY = "R0000000000000000000000000000001"
CONFIG = """
channels:
  - {{id: log, type: log}}
  - {{id: pd, type: pagerduty, routing_key: {routing_key}, url: "{url}", timeout: 5s}}
  - {{id: pd-wrong-key, type: pagerduty, routing_key: too-short, url: "{url}"}}
  - {{id: mail, type: email, host: smtp.example.com, from: router@example.com}}
  - {{id: hook, type: webhook, url: "http://127.0.0.1:9/hook"}}
services:
  - {{id: api, channels: [log]}}
routes:
  - service: api
"""
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def attempt(number: int | None, channel: str, target: str, try_number: int, outcome: str,
            seconds: float, status: int | None = None, latency: float | None = None,
            error: str | None = None, event: str = "trigger") -> Attempt:
    return Attempt(notification_id=f"n-{channel}-{number}", incident_number=number,
                   channel=channel, target=target, event=event, attempt=try_number,
                   attempted_at=T0 + timedelta(seconds=seconds),
                   outcome=outcome,  # type: ignore[arg-type]
                   status_code=status, latency_ms=latency, error=error)


RECORDED = (  # oldest first, as the deliverer writes them
    attempt(1, "pd", "pagerduty events.pagerduty.com", 1, "retry", 0, 503, 12.4,
            "PagerDuty answered 503"),
    attempt(1, "mail", "ann@example.com via smtp.example.com:587", 1, "delivered", 1, 250,
            46.2),
    attempt(1, "pd", "pagerduty events.pagerduty.com", 2, "delivered", 5, 202, 8.0),
    attempt(2, "hook", "http://127.0.0.1:9/hook", 1, "retry", 60, None, 1.1,
            "http://127.0.0.1:9/hook: cannot connect"),
    attempt(2, "hook", "http://127.0.0.1:9/hook", 2, "failed", 3660, None, 0.9,
            "gave up after 2 attempts in 1h: http://127.0.0.1:9/hook: cannot connect"),
    attempt(None, "log", "log", 1, "delivered", 5400, None, 0.04, event="test"),
)


def record(state: Path, *attempts: Attempt) -> None:
    async def write() -> None:
        store = await Store.open(state / DATABASE_NAME)
        try:
            for item in attempts:  # a retry is due again 5 s later, as the outbox needs
                retry_at = item.attempted_at + timedelta(seconds=5)
                await store.write(lambda transaction, item=item, retry_at=retry_at:
                                  transaction.outbox.record(item,
                                                retry_at if item.outcome == "retry" else None))
        finally:
            await store.close()
    trio.run(write)


def logged(state: Path) -> list[Attempt]:
    async def read() -> list[Attempt]:
        store = await Store.open(state / DATABASE_NAME)
        try:
            return await store.read(lambda reader: reader.outbox.attempts())
        finally:
            await store.close()
    return trio.run(read)


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with serve_in_thread(serve_fake_pagerduty) as fake:
        yield fake


@pytest.fixture
def config(tmp_path: Path, pagerduty: FakePagerDuty) -> Path:
    return write_config(tmp_path, CONFIG.format(routing_key=ROUTING_KEY, url=pagerduty.url))


@pytest.fixture
def options(config: Path, state: Path) -> list[str]:
    """`--config ... --state ...` over a store holding RECORDED."""
    record(state, *RECORDED)
    return ["--config", str(config), "--state", str(state)]


# router deliveries


def test_deliveries_lists_every_attempt_newest_first(options: list[str]) -> None:
    code, out, err = run("deliveries", *options)
    assert (code, err) == (0, "")
    assert out == textwrap.dedent("""\
        TIME                  INCIDENT  CHANNEL  EVENT    TARGET                                    TRY  OUTCOME    STATUS  LATENCY  ERROR
        2026-11-23T11:30:00Z  -         log      test     log                                       1    delivered  -       0ms
        2026-11-23T11:01:00Z  INC2      hook     trigger  http://127.0.0.1:9/hook                   2    failed     -       1ms      gave up after 2 attempts in 1h: http://127.0.0.1:9/hook: cannot connect
        2026-11-23T10:01:00Z  INC2      hook     trigger  http://127.0.0.1:9/hook                   1    retry      -       1ms      http://127.0.0.1:9/hook: cannot connect
        2026-11-23T10:00:05Z  INC1      pd       trigger  pagerduty events.pagerduty.com            2    delivered  202     8ms
        2026-11-23T10:00:01Z  INC1      mail     trigger  ann@example.com via smtp.example.com:587  1    delivered  250     46ms
        2026-11-23T10:00:00Z  INC1      pd       trigger  pagerduty events.pagerduty.com            1    retry      503     12ms     PagerDuty answered 503
        """)  # noqa: E501 (the table as printed)


def test_deliveries_as_json(options: list[str]) -> None:
    code, out, err = run("deliveries", *options, "--format", "json")
    assert (code, err) == (0, "")
    found = json.loads(out)["deliveries"]
    assert len(found) == len(RECORDED)
    assert found[2] == {
        "notification_id": "n-hook-2", "incident_id": "INC2", "channel": "hook",
        "target": "http://127.0.0.1:9/hook", "event": "trigger", "attempt": 1,
        "attempted_at": "2026-11-23T10:01:00+00:00", "outcome": "retry", "status_code": None,
        "latency_ms": 1.1, "error": "http://127.0.0.1:9/hook: cannot connect"}
    assert found[-1]["status_code"] == 503
    assert found[0]["incident_id"] is None  # a channel test belongs to no incident


@pytest.mark.parametrize(("filters", "expected"), [
    (["--incident", "INC1"], [("pd", 2), ("mail", 1), ("pd", 1)]),
    (["--incident", "1"], [("pd", 2), ("mail", 1), ("pd", 1)]),
    (["--incident", " inc2 "], [("hook", 2), ("hook", 1)]),
    (["--failed"], [("hook", 2)]),
    (["--channel", "pd"], [("pd", 2), ("pd", 1)]),
    (["--incident", "INC1", "--channel", "mail"], [("mail", 1)]),
    (["--incident", "INC1", "--failed"], []),
    (["--limit", "2"], [("log", 1), ("hook", 2)]),
    (["--incident", "INC9"], []),
])
def test_deliveries_filters(options: list[str], filters: list[str],
                            expected: list[tuple[str, int]]) -> None:
    code, out, err = run("deliveries", *options, *filters, "--format", "json")
    assert (code, err) == (0, "")
    assert [(item["channel"], item["attempt"]) for item in json.loads(out)["deliveries"]
            ] == expected


def test_deliveries_says_when_there_are_none(options: list[str]) -> None:
    assert run("deliveries", *options, "--channel", "nope") == (0, "no deliveries\n", "")


@pytest.mark.parametrize(("arguments", "code", "message"), [
    (["--incident", "bogus"], 2,
     "router deliveries: expected an incident id like INC12, got 'bogus'\n"),
    (["--incident", "INC"], 2,
     "router deliveries: expected an incident id like INC12, got 'INC'\n"),
])
def test_deliveries_refuses_a_malformed_incident_id(options: list[str], arguments: list[str],
                                                    code: int, message: str) -> None:
    assert run("deliveries", *options, *arguments) == (code, "", message)


def test_deliveries_refuses_a_limit_below_one(options: list[str]) -> None:
    code, out, err = run("deliveries", *options, "--limit", "0")
    assert (code, out) == (2, "")
    assert "expected a whole number of at least 1, got '0'" in err


def test_deliveries_without_a_state_directory_is_a_clear_error(config: Path,
                                                               tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    code, out, err = run("deliveries", "--config", str(config), "--state", str(missing))
    assert (code, out) == (1, "")
    assert err == (f"router deliveries: no state directory {str(missing)!r} (router run "
                   "creates it; or pass --state DIR)\n")
    assert not missing.exists()


# router test-channel


def test_test_channel_pagerduty_delivered(config: Path, state: Path,
                                         pagerduty: FakePagerDuty) -> None:
    code, out, err = run("test-channel", "pd", "--config", str(config), "--state", str(state))
    assert (code, err) == (0, "")
    assert out.startswith("pd: delivered 202 in ")
    assert out.endswith(f"ms (pagerduty 127.0.0.1:{pagerduty.port})\n")
    [event] = pagerduty.events
    assert event["event_action"] == "trigger"
    assert event["payload"]["summary"].startswith("Test notification from router:")
    assert event["dedup_key"].startswith("router-test-test-")
    assert pagerduty.open_alerts()[0].dedup_key == event["dedup_key"]
    [entry] = logged(state)  # the attempt lands in the delivery log
    assert (entry.channel, entry.event, entry.incident_number, entry.attempt, entry.outcome,
            entry.status_code) == ("pd", "test", None, 1, "delivered", 202)
    assert f"router-test-{entry.notification_id}" == event["dedup_key"]
    assert ROUTING_KEY not in out


def test_test_channel_refused_by_pagerduty_exits_1_with_its_words(
        config: Path, state: Path, pagerduty: FakePagerDuty) -> None:
    code, out, err = run("test-channel", "pd-wrong-key", "--config", str(config),
                         "--state", str(state))
    assert (code, err) == (1, "")
    first, second = out.splitlines()
    assert first.startswith("pd-wrong-key: failed 400 in ")
    assert second == ("  PagerDuty refused the event (400): invalid event: Event object is "
                      "invalid: Length of 'routing_key' is incorrect (should be 32 "
                      "characters)")
    assert pagerduty.events == [] and len(pagerduty.refused) == 1
    [entry] = logged(state)
    assert (entry.channel, entry.outcome, entry.status_code) == ("pd-wrong-key", "failed", 400)
    assert entry.error == second.strip()


def test_test_channel_as_json(config: Path, state: Path) -> None:
    code, out, err = run("test-channel", "pd", "--config", str(config), "--state", str(state),
                         "--format", "json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert (answer["channel"], answer["event"], answer["outcome"], answer["status_code"],
            answer["incident_id"], answer["error"]) == ("pd", "test", "delivered", 202, None,
                                                        None)
    assert answer["latency_ms"] > 0


def test_test_channel_unknown_channel_lists_the_channels(config: Path, state: Path) -> None:
    code, out, err = run("test-channel", "nope", "--config", str(config), "--state",
                         str(state))
    assert (code, out) == (1, "")
    assert err == ("router test-channel: no channel 'nope' (channels: hook, log, mail, pd, "
                   "pd-wrong-key)\n")
    assert logged(state) == []


def test_test_channel_log_is_delivered(config: Path, state: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router.notify.log")
    code, out, err = run("test-channel", "log", "--config", str(config), "--state", str(state))
    assert (code, err) == (0, "")
    assert out.startswith("log: delivered in ") and out.endswith("ms (log)\n")
    [line] = [record.getMessage() for record in caplog.records
              if record.name == "router.notify.log"]
    assert line.startswith("test ")
    [entry] = logged(state)
    assert (entry.channel, entry.outcome, entry.target) == ("log", "delivered", "log")


def test_test_channel_without_a_state_directory_sends_and_records_nothing(
        config: Path, tmp_path: Path, pagerduty: FakePagerDuty) -> None:
    missing = tmp_path / "nowhere"
    code, out, err = run("test-channel", "pd", "--config", str(config), "--state",
                         str(missing))
    assert (code, err) == (0, "")
    assert out.startswith("pd: delivered 202")
    assert len(pagerduty.events) == 1
    assert not missing.exists()


def test_test_channel_that_cannot_connect_exits_1(config: Path, state: Path) -> None:
    code, out, err = run("test-channel", "hook", "--config", str(config), "--state",
                         str(state))
    assert (code, err) == (1, "")
    first, second = out.splitlines()
    assert first.startswith("hook: failed in ")
    assert second.startswith("  http://127.0.0.1:9/hook: cannot connect")
    [entry] = logged(state)
    assert (entry.outcome, entry.status_code, entry.attempt) == ("failed", None, 1)


def test_deliveries_show_no_url_secret_even_from_older_rows(config: Path, state: Path) -> None:
    """Issue 13, item 4: a webhook URL that does not parse was recorded and printed whole."""
    leaky = "htp//ops:hunter2@example.com/hook?key=hunter2"
    record(state, attempt(7, "hook", leaky, 1, "retry", 0, None, 1.0,
                          f"{leaky}: UnsupportedProtocol: Request URL is missing an "
                          "'http://' or 'https://' protocol."))
    options = ["--config", str(config), "--state", str(state)]
    for form in ("text", "json"):
        code, out, err = run("deliveries", *options, "--format", form)
        assert (code, err) == (0, "")
        assert "hunter2" not in out
        assert "htp//example.com/hook: UnsupportedProtocol" in out
