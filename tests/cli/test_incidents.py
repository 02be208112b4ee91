"""`router route-test`, `router silence add|list|expire`, `router incidents` and `router
incident show`, run through the CLI's `main` against an inline config and a real SQLite store
seeded through the engine."""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.alerts.model import Alert, Severity, Silence, SilenceMatcher, Status
from router.clock import FixedClock, SystemClock
from router.config import load_config
from router.engine import Accepted, Engine
from router.store import DATABASE_NAME, Store
from tests.cli.conftest import run, write_config

CONFIG = """
settings: {timezone: Europe/Berlin}
people:
  - {id: alice, contact_methods: [{type: email, address: alice@example.com}]}
  - {id: bob, contact_methods: [{type: email, address: bob@example.com}]}
channels:
  - {id: log, type: log}
  - {id: mail, type: email, host: localhost, from: router@example.com, to: [ops@example.com]}
  - {id: pager, type: pagerduty, routing_key: R0000000000000000000000000000000}
rotas:
  - id: primary
    layers: [{members: [alice, bob], every: 1w, handoff: "09:00", handoff_day: mon,
              start: 2026-11-02}]
escalation_policies:
  - id: default
    levels:
      - {targets: [{rota: primary}, {channel: mail}], delay: 15m}
      - {targets: [{person: bob}], delay: 15m}
services:
  - {id: api, escalation_policy: default, channels: [log], dedup_key: "{{ labels.alertname }}"}
routes:
  - name: staging
    match: [env=staging]
    service: api
    severity: info
  - name: critical
    match: [severity=critical]
    channels: [pager]
    continue: true
  - name: api
    match: [service=api]
    service: api
"""

MONDAY_NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # bob's week on the primary rota
ACTIVE = Silence(id="SIL-0000aaaa", matchers=(
    SilenceMatcher(name="service", operator="=", value="api"),
    SilenceMatcher(name="env", operator="=~", value="prod|stag.*")),
    starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2099, 1, 1, tzinfo=UTC),
    reason="migration", created_by="ann")
EXPIRED = Silence(id="SIL-0000bbbb", matchers=(SilenceMatcher(name="team", operator="=",
                                                              value="db"),),
                  starts_at=datetime(2020, 1, 1, tzinfo=UTC),
                  ends_at=datetime(2020, 1, 2, tzinfo=UTC), reason="old", created_by="")
SILENCE_ID = re.compile(r"SIL-[0-9a-f]{8}")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # route-test reads ./state when it holds a store: run where none is
    monkeypatch.chdir(tmp_path)
    return write_config(tmp_path, CONFIG)


def alert(name: str, severity: str = "critical", status: Status = Status.FIRING,
          **labels: str) -> Alert:
    return Alert(summary=f"{name} on {labels.get('host', 'web1')}", source="native",
                 severity=Severity(severity), status=status, service="api",
                 labels={"alertname": name, **labels})


def with_engine(config: Path, state: Path, clock: FixedClock | SystemClock,
                work: object) -> object:
    """Run `work(engine, clock)` on an engine over the state directory's store."""
    async def session() -> object:
        store = await Store.open(state / DATABASE_NAME)
        counter = itertools.count(1)
        engine = Engine(load_config([config]), store, clock,
                        new_id=lambda: f"n{next(counter)}")
        try:
            return await work(engine, clock)  # type: ignore[operator]
        finally:
            await store.close()
    return trio.run(session)


async def _seed(engine: Engine, clock: FixedClock) -> None:
    """INC1 acknowledged (two alerts), INC2 triggered (staging: info), INC3 resolved;
    one silence in force and one that ended."""
    await engine.ingest([alert("DiskFull", host="db1")])
    clock.advance(timedelta(minutes=5))
    await engine.ingest([alert("DiskFull", host="db2")])
    await engine.acknowledge("INC1", "bob")
    clock.advance(timedelta(minutes=5))
    await engine.ingest([alert("CpuHigh", "warning", env="staging")])
    clock.advance(timedelta(minutes=10))
    await engine.ingest([alert("MemoryLow")])
    clock.advance(timedelta(minutes=10))
    await engine.ingest([alert("MemoryLow", status=Status.RESOLVED)])
    await engine.add_silence(ACTIVE)
    await engine.add_silence(EXPIRED)


@pytest.fixture
def seeded(config: Path, state: Path) -> list[str]:
    """The store seeded; returns the `--config ... --state ...` arguments."""
    with_engine(config, state, FixedClock(MONDAY_NOON), _seed)
    return ["--config", str(config), "--state", str(state)]


# route-test


def test_route_test_lists_every_route_and_the_decision(config: Path) -> None:
    code, out, err = run("route-test", "--config", str(config), "severity=critical",
                         "service=api", "alertname=X")
    where = config / "router.yaml"
    assert (code, err) == (0, "")
    assert out == textwrap.dedent(f"""\
        alert "route-test": severity=critical source=native service=api labels: alertname=X
        routes:
          1. staging ({where}:22:5): no match: env='staging' (alert has '')
          2. critical ({where}:26:5): matches, continue
          3. api ({where}:30:5): matches
        decision:
          service            api
          channels           pager, log
          escalation policy  default
          first level        rota:primary, channel:mail
          severity           critical
        suppression now:
          windows         none active
          silences        not checked: no store (give --state DIR)
          inhibition      not checked: no store (give --state DIR)
          time intervals  none on the matched routes
          verdict         paged
        """)


def test_route_test_exits_1_when_only_the_default_route_applies(config: Path) -> None:
    code, out, err = run("route-test", "--config", str(config), "team=web", "note=a b")
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == (
        'alert "route-test": severity=warning source=native service=- labels: note="a b" '
        "team=web")
    assert out.splitlines()[5:] == [
        "decision (no route matched: the default route):",
        "  service            -",
        "  channels           -",
        "  escalation policy  -",
        "  first level        -",
        "  severity           warning",
        "suppression now:",
        "  windows         none active",
        "  silences        not checked: no store (give --state DIR)",
        "  inhibition      not checked: no store (give --state DIR)",
        "  time intervals  none on the matched routes",
        "  verdict         paged",
    ]


def test_route_test_reads_a_native_alert_file_and_answers_json(config: Path,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "alert.json"
    path.write_text(json.dumps({"summary": "Disk full", "labels": {"env": "staging"},
                                "severity": "critical"}))
    code, out, err = run("route-test", "--config", str(config), str(path), "--format", "json",
                         "--source", "grafana")
    assert (code, err) == (0, "")
    [tested] = json.loads(out)["alerts"]
    assert tested["alert"] == {"summary": "Disk full", "severity": "critical",
                               "source": "grafana", "service": None,
                               "labels": {"env": "staging"}}
    assert tested["routes"][0] == {"position": 1, "name": "staging",
                                   "where": f"{config / 'router.yaml'}:22:5",
                                   "matched": True, "reached": True, "taken": True,
                                   "mismatch": None, "unless": None}
    assert tested["routes"][2] == {"position": 3, "name": "api",
                                   "where": f"{config / 'router.yaml'}:30:5",
                                   "matched": False, "reached": False, "taken": False,
                                   "mismatch": {"name": "service", "operator": "=",
                                                "value": "api", "alert_value": ""},
                                   "unless": None}
    assert tested["decision"] == {"default": False, "routes": ["staging"], "service": "api",
                                  "channels": ["log"], "escalation_policy": "default",
                                  "first_level": ["rota:primary", "channel:mail"],
                                  "severity": "info"}


@pytest.mark.parametrize(("argv", "code", "message"), [
    ([], 2, "router route-test: give an alert file or NAME=VALUE labels\n"),
    (["a.json", "team=db"], 2,
     "router route-test: give one alert file, or NAME=VALUE labels, not both\n"),
    (["severity=bogus"], 2, "router route-test: severity: expected one of critical, error, "
                            "warning, info; got 'bogus'\n"),
    (["=db"], 2, "router route-test: expected NAME=VALUE, got '=db'\n"),
    (["missing.json"], 1,
     "router route-test: cannot read missing.json: No such file or directory\n"),
])
def test_route_test_refuses_bad_input(config: Path, argv: list[str], code: int,
                                      message: str) -> None:
    assert run("route-test", "--config", str(config), *argv) == (code, "", message)


def test_route_test_names_the_field_of_a_bad_alert_file(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "alert.json"
    path.write_text('[{"summary": "a"}, {"summary": "b", "severity": "loud"}]')
    assert run("route-test", "--config", str(config), str(path)) == (
        1, "", f"router route-test: {path}: [1].severity: expected one of critical, error, "
               "warning, info; got 'loud'\n")


# silences


def test_silence_list_shows_silences_in_force_and_with_all_every_silence(
        seeded: list[str]) -> None:
    header = ("ID            STATE    STARTS                ENDS                  BY   "
              "MATCHERS                         REASON")
    active = ("SIL-0000aaaa  active   2026-01-01T00:00:00Z  2099-01-01T00:00:00Z  ann  "
              'service=api, env=~"prod|stag.*"  migration')
    expired = ("SIL-0000bbbb  expired  2020-01-01T00:00:00Z  2020-01-02T00:00:00Z  -    "
               "team=db                          old")
    code, out, err = run("silence", "list", *seeded)
    assert (code, err) == (0, "")
    assert out.splitlines() == [header.replace("STATE  ", "STATE "),
                                active.replace("active  ", "active ")]
    code, out, err = run("silence", "list", *seeded, "--all")
    assert (code, err) == (0, "")
    assert out.splitlines() == [header, active, expired]


def test_silence_list_json_and_nothing_in_force(config: Path, state: Path,
                                                seeded: list[str]) -> None:
    code, out, _ = run("silence", "list", *seeded, "--all", "--format", "json")
    assert code == 0
    assert json.loads(out)["silences"][1] == {
        "id": "SIL-0000bbbb", "state": "expired",
        "matchers": [{"name": "team", "operator": "=", "value": "db"}],
        "starts_at": "2020-01-01T00:00:00+00:00", "ends_at": "2020-01-02T00:00:00+00:00",
        "reason": "old", "created_by": ""}
    assert run("silence", "expire", "SIL-0000AAAA", *seeded) == (0, "SIL-0000aaaa expired\n",
                                                                   "")
    assert run("silence", "list", *seeded) == (0, "no silences in force\n", "")


def test_silence_add_prints_the_id_and_a_matching_alert_is_suppressed(
        config: Path, state: Path) -> None:
    code, out, err = run("silence", "add", "--match", "service=api", "--match",
                         'env=~"prod|staging"', "--for", "2h", "--reason", "maintenance",
                         "--by", "ann", "--config", str(config), "--state", str(state))
    assert (code, err) == (0, "")
    silence_id = out.strip()
    assert SILENCE_ID.fullmatch(silence_id)

    async def ingest(engine: Engine, clock: object) -> list[Accepted]:
        return await engine.ingest([alert("DiskFull", env="staging"),
                                    alert("DiskFull", env="dev")])

    suppressed, paged = with_engine(config, state, SystemClock(), ingest)  # type: ignore[misc]
    assert suppressed.suppressed_by == f"silence:{silence_id}"
    assert paged.suppressed_by is None  # env=dev: the regex must match the whole value


def test_silence_add_json_reads_a_time_without_offset_as_utc(config: Path,
                                                             state: Path) -> None:
    code, out, err = run("silence", "add", "--match", "team = db", "--until",
                         "2099-05-25T03:00", "--reason", " db move ", "--by", "ann",
                         "--format", "json", "--config", str(config), "--state", str(state))
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert SILENCE_ID.fullmatch(document.pop("id"))
    started = datetime.fromisoformat(document.pop("starts_at"))
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=1)
    assert document == {"state": "active",
                        "matchers": [{"name": "team", "operator": "=", "value": "db"}],
                        "ends_at": "2099-05-25T03:00:00+00:00", "reason": "db move",
                        "created_by": "ann"}


def test_silence_add_until_resolved_is_listed_until_its_incident_resolves(
        config: Path, seeded: list[str]) -> None:
    """Issue 16 item 1: INC1 (DiskFull, acknowledged) is the one open incident it covers."""
    code, out, err = run("silence", "add", "--match", "alertname=DiskFull", "--until-resolved",
                         "--reason", "disk swap", "--by", "ann", *seeded)
    assert (code, err) == (0, "")
    silence_id = out.strip()
    code, out, _ = run("silence", "list", *seeded)
    [row] = [line for line in out.splitlines() if line.startswith(silence_id)]
    assert "when INC1 resolves" in row and "alertname=DiskFull" in row
    code, out, _ = run("silence", "list", *seeded, "--format", "json")
    [listed] = [item for item in json.loads(out)["silences"] if item["id"] == silence_id]
    assert listed["until_resolved"] == ["INC1"]

    async def resolve(engine: Engine, clock: object) -> None:
        await engine.resolve("INC1", "bob")

    with_engine(config, Path(seeded[3]), SystemClock(), resolve)
    code, out, _ = run("silence", "list", *seeded)
    assert silence_id not in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--match", "env=prod"],
     "router silence add: say when the silence ends: --until, --for or --until-resolved\n"),
    (["--match", "env=prod", "--until-resolved"],
     "router silence add: until_resolved: the silence covers no open incident: give it an "
     "end instead\n"),
    (["--match", "env=~(", "--for", "2h"],
     "router silence add: --match 'env=~(': '(' is not a valid regular expression: missing ), "
     "unterminated subpattern at position 0\n"),
    (["--match", "env", "--for", "2h"],
     "router silence add: --match 'env': expected a matcher like team=db, severity!=info or "
     "env=~\"prod|staging\", got 'env'\n"),
    (["--match", "env=prod", "--until", "2020-01-01T00:00"],
     "router silence add: --until 2020-01-01T00:00:00Z is not in the future\n"),
    (["--match", "env=prod", "--until", "tomorrow"],
     "router silence add: --until: expected a date and time such as 2026-12-24T09:00 or "
     "2026-12-24T09:00:00+01:00, got 'tomorrow'\n"),
    (["--match", "env=prod", "--for", "0m"],
     "router silence add: --for: expected a duration longer than zero, got '0m'\n"),
])
def test_silence_add_refuses_bad_values_with_exit_2(config: Path, state: Path,
                                                    argv: list[str], message: str) -> None:
    assert run("silence", "add", *argv, "--reason", "x", "--config", str(config),
               "--state", str(state)) == (2, "", message)
    assert run("silence", "list", "--all", "--config", str(config), "--state",
               str(state)) == (0, "no silences\n", "")


@pytest.mark.parametrize(("argv", "complaint"), [
    (["--for", "2h", "--reason", "x"], "the following arguments are required: --match"),
    (["--match", "a=b", "--for", "2h", "--until", "2099-01-01", "--reason", "x"],
     "argument --until: not allowed with argument --for"),
])
def test_silence_add_usage(config: Path, argv: list[str], complaint: str) -> None:
    code, out, err = run("silence", "add", *argv, "--config", str(config))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"router silence add: error: {complaint}"


def test_silence_add_needs_a_reason_that_is_not_blank(config: Path, state: Path) -> None:
    assert run("silence", "add", "--match", "a=b", "--for", "1h", "--reason", " ",
               "--config", str(config), "--state", str(state)) == (
        2, "", "router silence add: --reason must not be empty\n")


def test_silence_expire_json_and_unknown_or_ended_silences(seeded: list[str]) -> None:
    code, out, err = run("silence", "expire", "SIL-0000aaaa", *seeded, "--format", "json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert (document["id"], document["state"]) == ("SIL-0000aaaa", "expired")
    assert run("silence", "expire", "SIL-0000aaaa", *seeded) == (
        1, "", "router silence expire: no silence SIL-0000aaaa in force\n")
    assert run("silence", "expire", "SIL-0000bbbb", *seeded) == (
        1, "", "router silence expire: no silence SIL-0000bbbb in force\n")


# incidents


def test_incidents_lists_newest_first_in_aligned_columns(seeded: list[str]) -> None:
    code, out, err = run("incidents", *seeded)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "ID    STATE         SEVERITY  SERVICE  ALERTS  OPENED                ASSIGNED TO  "
        "SUMMARY",
        "INC3  resolved      critical  api      1       2026-11-23T11:20:00Z  bob          "
        "MemoryLow on web1",
        "INC2  triggered     info      api      1       2026-11-23T11:10:00Z  bob          "
        "CpuHigh on web1",
        "INC1  acknowledged  critical  api      2       2026-11-23T11:00:00Z  bob          "
        "DiskFull on db1",
    ]


@pytest.mark.parametrize(("filters", "ids"), [
    (["--status", "triggered", "--status", "acknowledged"], ["INC2", "INC1"]),
    (["--status", "resolved"], ["INC3"]),
    (["--since", "2026-11-23T11:10"], ["INC3", "INC2"]),  # no offset: UTC
    (["--since", "2026-11-23T12:10+01:00"], ["INC3", "INC2"]),
    (["--limit", "1"], ["INC3"]),
    (["--service", "api", "--status", "triggered"], ["INC2"]),
])
def test_incidents_filters(seeded: list[str], filters: list[str], ids: list[str]) -> None:
    code, out, _ = run("incidents", *seeded, *filters, "--format", "json")
    assert code == 0
    assert [item["id"] for item in json.loads(out)["incidents"]] == ids


def test_incidents_says_so_when_there_are_none(seeded: list[str]) -> None:
    assert run("incidents", *seeded, "--service", "billing") == (0, "no incidents\n", "")
    assert run("incidents", *seeded, "--service", "billing", "--format", "json") == (
        0, '{\n  "incidents": []\n}\n', "")


def test_incidents_json_shape(seeded: list[str]) -> None:
    code, out, _ = run("incidents", *seeded, "--status", "acknowledged", "--format", "json")
    assert code == 0
    assert json.loads(out) == {"incidents": [{
        "id": "INC1", "summary": "DiskFull on db1", "state": "acknowledged",
        "severity": "critical", "service": "api", "source": "native", "dedup_key": "DiskFull",
        "escalation_policy": "default", "level": 1, "repeats": 0, "assigned_to": "bob",
        "alert_count": 2,
        "suppressed_by": None, "opened_at": "2026-11-23T11:00:00+00:00",
        "updated_at": "2026-11-23T11:05:00+00:00",
        "acknowledged_at": "2026-11-23T11:05:00+00:00", "acknowledged_by": "bob",
        "resolved_at": None, "labels": {"alertname": "DiskFull", "host": "db1"}}]}


@pytest.mark.parametrize(("argv", "message"), [
    (["--since", "soon"], "router incidents: --since: expected a date and time such as "
                          "2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, got 'soon'"),
    (["--limit", "0"], "usage: router incidents"),
    (["--status", "open"], "usage: router incidents"),
])
def test_incidents_usage_errors_exit_2(seeded: list[str], argv: list[str],
                                       message: str) -> None:
    code, out, err = run("incidents", *seeded, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message)


def test_incident_show_prints_the_incident_its_alerts_and_timeline(seeded: list[str]) -> None:
    code, out, err = run("incident", "show", "INC1", *seeded)
    assert (code, err) == (0, "")
    assert out == textwrap.dedent("""\
        INC1: DiskFull on db1
          state              acknowledged
          severity           critical
          service            api
          source             native
          escalation policy  default (level 1)
          assigned to        bob
          alerts             2
          dedup key          DiskFull
          opened             2026-11-23T11:00:00Z
          updated            2026-11-23T11:05:00Z
          acknowledged       2026-11-23T11:05:00Z by bob
          resolved           -
          suppressed by      -
          labels             alertname=DiskFull host=db1

        alerts (2):
          RECEIVED              STATUS  SEVERITY  SOURCE  SUMMARY          LABELS
          2026-11-23T11:00:00Z  firing  critical  native  DiskFull on db1  alertname=DiskFull host=db1
          2026-11-23T11:05:00Z  firing  critical  native  DiskFull on db2  alertname=DiskFull host=db2

        timeline (7):
          AT                    ACTOR          ACTION        DETAILS
          2026-11-23T11:00:00Z  source:native  opened        severity=critical summary="DiskFull on db1"
          2026-11-23T11:00:00Z  router         notified      channel=pager target=channel:pager
          2026-11-23T11:00:00Z  router         notified      channel=log target=channel:log
          2026-11-23T11:00:00Z  router         notified      channel=mail target=person:bob
          2026-11-23T11:00:00Z  router         notified      channel=mail target=channel:mail
          2026-11-23T11:05:00Z  source:native  alert joined  summary="DiskFull on db2"
          2026-11-23T11:05:00Z  bob            acknowledged  -
        """)  # noqa: E501


def test_incident_show_json_shape(seeded: list[str]) -> None:
    code, out, _ = run("incident", "show", "3", *seeded, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert sorted(document) == ["alerts", "incident", "timeline"]
    assert (document["incident"]["id"], document["incident"]["state"]) == ("INC3", "resolved")
    assert document["incident"]["resolved_at"] == "2026-11-23T11:30:00+00:00"
    assert document["alerts"][1] == {
        "received_at": "2026-11-23T11:30:00+00:00",
        "last_received_at": "2026-11-23T11:30:00+00:00", "count": 1, "source": "native",
        "status": "resolved",
        "summary": "MemoryLow on web1", "severity": "critical",
        "labels": {"alertname": "MemoryLow"}, "annotations": {}, "suppressed_by": None}
    assert document["timeline"][0] == {
        "at": "2026-11-23T11:20:00+00:00", "actor": "source:native", "action": "opened",
        "details": {"severity": "critical", "summary": "MemoryLow on web1"}}
    assert document["timeline"][-1]["action"] == "resolved"


@pytest.mark.parametrize(("incident_id", "code", "message"), [
    ("INC9", 1, "router incident show: no incident INC9\n"),
    ("inc9", 1, "router incident show: no incident INC9\n"),
    ("nine", 2, "router incident show: expected an incident id like INC12, got 'nine'\n"),
])
def test_incident_show_unknown_or_malformed_id(seeded: list[str], incident_id: str,
                                               code: int, message: str) -> None:
    assert run("incident", "show", incident_id, *seeded) == (code, "", message)


# the state directory and the config


def test_a_missing_state_directory_is_named(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert run("incidents", "--config", str(config), "--state", str(missing)) == (
        1, "", f"router incidents: no state directory '{missing}' (router run creates it; "
               "or pass --state DIR)\n")
    assert not missing.exists()


def test_a_store_that_is_not_sqlite_is_a_clear_error(config: Path, state: Path) -> None:
    (state / DATABASE_NAME).write_bytes(b"not a database, just some bytes" * 10)
    assert run("silence", "list", "--config", str(config), "--state", str(state)) == (
        1, "", f"router silence list: cannot open the store {state / DATABASE_NAME}: file is "
               "not a database\n")


def test_an_invalid_config_exits_1_before_touching_the_store(tmp_path: Path,
                                                             state: Path) -> None:
    (tmp_path / "bad.yaml").write_text("routes: [{service: nope}]\n")
    code, out, err = run("incidents", "--config", str(tmp_path / "bad.yaml"), "--state",
                         str(state))
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "config invalid: fix it first (router validate)"
    assert not (state / DATABASE_NAME).exists()


def test_store_commands_default_to_the_state_and_config_directories(
        config: Path, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(config.parent)
    assert run("incidents") == (0, "no incidents\n", "")
    assert (state / DATABASE_NAME).exists()
