"""`router override add|list|remove` through the CLI's `main`, against a real SQLite store in a
temporary state directory; and `router oncall|schedule|fatigue` reading that store's
overrides and pages (or, without one, the config alone, without a word)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import trio

from router.alerts.model import Alert, Severity
from router.clock import FixedClock
from router.config import load_config
from router.engine import Engine
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run, write_config

BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - {id: ann, name: Ann Arbor, timezone: Europe/Berlin,
     contact_methods: [{type: email, address: ann@example.com, urgency: high}]}
  - {id: ben, timezone: America/New_York,
     contact_methods: [{type: email, address: ben@example.com, urgency: high}]}
  - {id: cy, contact_methods: [{type: email, address: cy@example.com, urgency: high}]}
channels:
  - {id: mail, type: email, host: localhost, from: router@example.com}
rotas:
  - id: web
    timezone: Europe/Berlin
    layers:
      - {name: daily, members: [ann, ben], every: 1d, handoff: "09:00", start: 2026-03-27}
  - id: db
    layers: [{members: [cy], every: 1w, start: 2026-03-27}]
escalation_policies:
  - id: web
    levels: [{targets: [{rota: web}], delay: 5m}]
services:
  - {id: shop, escalation_policy: web}
routes:
  - service: shop
"""
# Thursday 2030-01-10 09:00 to Friday 09:00: ben's day (1385 days after 2026-03-27, odd).
THURSDAY = "2030-01-10"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./state unless a test makes one
    (tmp_path / "state").mkdir()
    return write_config(tmp_path, CONFIG)


def add(config: Path, *argv: str) -> tuple[int, str, str]:
    return run("override", "add", *argv, "--config", str(config), "--state", "state")


def test_add_list_and_remove_with_their_exit_codes_and_words(config: Path) -> None:
    code, out, err = add(config, "web", "--person", "cy", "--replaces", "ben", "--from",
                         f"{THURSDAY}T09:00", "--until", "8h", "--reason", "ben at a wedding",
                         "--by", "ann")
    assert (code, err) == (0, "")
    assert re.fullmatch(r"OVR-[0-9a-f]{8}\n", out)
    override_id = out.strip()
    code, out, err = run("override", "list", "--config", str(config), "--state", "state")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "ID            ROTA  STATE    FROM                  UNTIL                 PERSON  "
        "REPLACES  BY   REASON",
        f"{override_id}  web   pending  2030-01-10T08:00:00Z  2030-01-10T16:00:00Z  cy      "
        "ben       ann  ben at a wedding",
    ]
    code, out, _ = run("override", "list", "db", "--config", str(config), "--state", "state")
    assert (code, out) == (0, "no overrides in force or to come\n")
    code, out, err = run("override", "remove", override_id.lower(), "--config", str(config),
                         "--state", "state")
    assert (code, out, err) == (0, f"{override_id} removed\n", "")
    code, out, _ = run("override", "list", "--config", str(config), "--state", "state")
    assert (code, out) == (0, "no overrides in force or to come\n")
    code, out, _ = run("override", "list", "--all", "--config", str(config), "--state",
                       "state", "--format", "json")
    [listed] = json.loads(out)["overrides"]
    assert (listed["id"], listed["state"], listed["from"], listed["until"]) == (
        override_id, "removed", "2030-01-10T08:00:00+00:00", "2030-01-10T16:00:00+00:00")
    assert listed["removed_at"] is not None
    code, out, err = run("override", "remove", override_id, "--config", str(config),
                         "--state", "state")
    assert (code, out, err) == (
        1, "", f"router override remove: no override {override_id} in force or to come\n")


def test_replacing_someone_not_on_call_then_warns_and_adds_all_the_same(config: Path
                                                                         ) -> None:
    # ben's day is Thursday 09:00 to Friday 09:00 Berlin: ann is not on call in it
    code, out, err = add(config, "web", "--person", "cy", "--replaces", "ann", "--from",
                         f"{THURSDAY}T10:00", "--until", "8h", "--reason", "ann is away")
    assert code == 0
    assert re.fullmatch(r"OVR-[0-9a-f]{8}\n", out)
    assert err == ("router override add: warning: 'ann' is not on call in rota 'web' from "
                   "2030-01-10T09:00:00+00:00 to 2030-01-10T17:00:00+00:00 (ben is): this "
                   "override changes nothing unless the rota or its overrides change\n")
    code, out, _ = run("override", "list", "--config", str(config), "--state", "state")
    assert (code, len(out.splitlines())) == (0, 2)
    code, out, err = add(config, "web", "--person", "cy", "--replaces", "ann", "--from",
                         f"{THURSDAY}T10:00", "--until", "8h", "--reason", "ann is away",
                         "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["warnings"] == [
        "'ann' is not on call in rota 'web' from 2030-01-10T09:00:00+00:00 to "
        "2030-01-10T17:00:00+00:00 (ben is): this override changes nothing unless the rota "
        "or its overrides change"]


def test_replacing_someone_on_call_in_part_of_the_window_says_nothing(config: Path) -> None:
    code, out, err = add(config, "web", "--person", "cy", "--replaces", "ann", "--from",
                         f"{THURSDAY}T08:00", "--until", "2h", "--reason", "ann is late",
                         "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["warnings"] == []


def test_add_as_json_names_the_whole_override(config: Path) -> None:
    code, out, _ = add(config, "db", "--person", "ann", "--from", "2030-01-10T10:00+01:00",
                       "--until", "2030-01-11T10:00+01:00", "--reason", "cover", "--format",
                       "json")
    assert code == 0
    document = json.loads(out)
    assert {key: document[key] for key in ("rota", "person", "replaces", "from", "until",
                                           "reason", "state")} == {
        "rota": "db", "person": "ann", "replaces": None, "from": "2030-01-10T09:00:00+00:00",
        "until": "2030-01-11T09:00:00+00:00", "reason": "cover", "state": "pending"}


@pytest.mark.parametrize(("argv", "message"), [
    (["nope", "--person", "cy", "--until", "2030-01-01", "--reason", "x"],
     "ROTA: no rota 'nope' (known: db, web)"),
    (["web", "--person", "zed", "--until", "2030-01-01", "--reason", "x"],
     "--person: no person 'zed' (known: ann, ben, cy)"),
    (["web", "--person", "cy", "--from", "2030-01-02", "--until", "2030-01-01",
      "--reason", "x"],
     "--until: must be after from (2030-01-01T23:00:00+00:00), got "
     "2029-12-31T23:00:00+00:00"),
    (["web", "--person", "cy", "--until", "2020-01-01", "--reason", "x"],
     "--until: 2019-12-31T23:00:00+00:00 is already past: an override must end in the "
     "future"),
    (["web", "--person", "cy", "--until", "2030-01-01", "--reason", " "],
     "--reason: say why: an override needs a reason"),
    (["web", "--person", "cy", "--from", "tomorrow", "--until", "2030-01-01", "--reason", "x"],
     "--from: expected a date and time such as 2026-12-24T09:00 or 2026-12-24T09:00:00+01:00,"
     " got 'tomorrow'"),
    (["db", "--person", "cy", "--replaces", "ann", "--until", "2030-01-01", "--reason", "x"],
     "--replaces: 'ann' is never on call in rota 'db': name a member of its layers, its "
     "holiday cover or the person of one of its overrides"),
])
def test_a_failed_check_exits_2_naming_the_option(config: Path, argv: list[str],
                                                  message: str) -> None:
    assert add(config, *argv) == (2, "", f"router override add: {message}\n")
    code, out, _ = run("override", "list", "--all", "--config", str(config), "--state",
                       "state")
    assert (code, out) == (0, "no overrides\n")


def test_without_a_state_directory_override_commands_exit_1(config: Path) -> None:
    code, out, err = run("override", "list", "--config", str(config), "--state", "elsewhere")
    assert (code, out) == (1, "")
    assert err == ("router override list: no state directory 'elsewhere' (router run "
                   "creates it; or pass --state DIR)\n")


def test_oncall_schedule_and_calendar_apply_the_stores_overrides(config: Path) -> None:
    at = ["--at", f"{THURSDAY}T12:00", "--config", str(config)]
    assert run("oncall", "web", *at)[1].startswith("web: ben [daily]")
    code, _, _ = add(config, "web", "--person", "cy", "--replaces", "ben", "--from",
                     f"{THURSDAY}T09:00", "--until", f"{THURSDAY}T17:00", "--reason", "x")
    assert code == 0
    # ./state holds a store now: read without --state, as with --state
    for state in ([], ["--state", "state"]):
        code, out, err = run("oncall", "web", *at, *state)
        assert (code, err) == (0, "")
        assert out == ("web: cy [override] until 2030-01-10 17:00 CET; next: ben [daily] "
                       "from 2030-01-10 17:00 CET\n")
    code, out, _ = run("schedule", "web", "--from", f"{THURSDAY}T09:00", "--until", "1d",
                       "--config", str(config))
    assert out.splitlines() == [
        "2030-01-10 09:00 CET  2030-01-10 17:00 CET  cy [override]",
        "2030-01-10 17:00 CET  2030-01-11 09:00 CET  ben [daily]",
    ]
    # the calendar looks from last week to 8 weeks on: an override in two days is in it
    soon = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    code, _, _ = add(config, "web", "--person", "cy", "--from", f"{soon:%Y-%m-%dT%H:%M}Z",
                     "--until", "2h", "--reason", "x")
    assert code == 0
    code, out, _ = run("schedule", "web", "--ics", "--config", str(config))
    assert code == 0
    events = [(event["summary"], event.decoded("dtstart"), event.decoded("dtend"))
              for event in icalendar.Calendar.from_ical(out).walk("VEVENT")]
    assert ("On call: cy", soon, soon + timedelta(hours=2)) in events


def test_a_state_directory_given_without_a_store_is_an_error(config: Path) -> None:
    code, out, err = run("oncall", "web", "--config", str(config), "--state", "state")
    assert (code, out) == (1, "")
    assert err == ("router oncall: no store router.db in 'state' (router run creates it; "
                   "leave out --state to answer from the config alone)\n")
    code, out, err = run("oncall", "web", "--at", f"{THURSDAY}T12:00", "--config",
                         str(config))  # ./state holds no store: the config alone, no word
    assert (code, err) == (0, "")
    assert out.startswith("web: ben [daily]")


def page_at(state: Path, config: Path, moment: datetime, name: str) -> None:
    async def ingest() -> None:
        store = await Store.open(state / DATABASE_NAME)
        try:
            engine = Engine(load_config([config]), store, FixedClock(moment))
            await engine.ingest([Alert(summary="down", source="native",
                                       severity=Severity.CRITICAL,
                                       labels={"alertname": name})])
        finally:
            await store.close()
    trio.run(ingest)


def test_fatigue_counts_the_stores_pages_and_nights(config: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    night = datetime(2030, 1, 10, 2, 30, tzinfo=BERLIN)  # ann's day (Wed 09:00 to Thu 09:00)
    page_at(state, config, night, "first")
    page_at(state, config, night + timedelta(hours=12), "second")  # ben's day, 14:30
    window = ["--from", "2030-01-09T09:00", "--until", "2d", "--config", str(config)]
    code, out, err = run("fatigue", *window, "--format", "json")
    assert (code, err) == (0, "")
    people = {item["person"]: item for item in json.loads(out)["people"]}
    # 14:30 in Berlin is 08:30 in New York: not at night on ben's clock
    assert (people["ann"]["pages"], people["ann"]["night_pages"]) == (1, 1)
    assert (people["ben"]["pages"], people["ben"]["night_pages"]) == (1, 0)
    code, _, _ = add(config, "web", "--person", "cy", "--from", "2030-01-10T09:00",
                     "--until", "2030-01-11T09:00", "--reason", "x")
    assert code == 0
    page_at(state, config, night + timedelta(hours=24), "third")  # cy covers: Friday 02:30
    code, out, _ = run("fatigue", *window)
    assert out.splitlines() == [  # cy took ben's whole day; cy is on call in db all along
        "person             hours   night  weekend  pages night pages  over limits",
        "ann                 24.0     9.0      0.0      1           1  -",
        "ben                  0.0     0.0      0.0      1           0  -",
        "cy                  48.0    18.0      0.0      1           1  -",
    ]
