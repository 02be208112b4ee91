"""Pass two (config/build/): documents -> the typed, immutable model; values parsed with
their place; defaults from the model; problems collected, never only the first."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from router.config import load_config
from router.config.model import AlertLimits, Config, Secret, WeeklyWindow
from tests.config.support import EXAMPLE, problems, write

HOLIDAYS_ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//holidays//EN
BEGIN:VEVENT
UID:christmas@example.com
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20261225
DTEND;VALUE=DATE:20261227
SUMMARY:Christmas
END:VEVENT
BEGIN:VEVENT
UID:new-year@example.com
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20270101
SUMMARY:New Year
END:VEVENT
END:VCALENDAR
"""


def test_the_message_of_the_issue_word_for_word(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "config/people.yaml", "people:\n  - id: alice\n")
    write(tmp_path, "config/rotas.yaml", """
        # Platform on-call: one rota, a weekly rotation.
        # Alice only, for now.
        #
        # Handoffs happen on Monday mornings, local time.
        rotas:
          - id: platform-primary
            name: Platform primary
            layers:
              - members: [alice]
                every: 1w
                handoff: "09:00"
                start: 2026-01-05
            timezone:
              Europe/Berln
    """)
    monkeypatch.chdir(tmp_path)
    assert problems(["config"]) == [
        "config/rotas.yaml:14:7: rotas[0].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)"]


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("escalation_policies:\n  - id: p\n    levels:\n      - targets: [{channel: log}]\n"
     "        delay: 30x\n",
     "5:16: escalation_policies[0].levels[0].delay: expected a duration like 30s, 15m, "
     "1h30m or 2w, got '30x'"),
    ("escalation_policies:\n  - id: p\n    levels:\n      - targets: [{channel: log}]\n"
     "        delay: 0m\n",
     "5:16: escalation_policies[0].levels[0].delay: expected a duration longer than zero, "
     "got '0m'"),
    ("rotas:\n  - id: r\n    layers:\n      - {members: [log], every: 1x, start: 2026-01-05}\n",
     "4:33: rotas[0].layers[0].every: expected a duration like 30s, 15m, 1h30m or 2w, got "
     "'1x'"),
    ("people:\n  - id: p\n    quiet_hours: {from: '22:00', until: '7 am'}\n",
     "3:41: people[0].quiet_hours.until: expected a time of day HH:MM such as 09:00 or 17:30, "
     "got '7 am'"),
    ("rotas:\n  - id: r\n    layers:\n      - members: [log]\n        every: 1w\n"
     "        handoff: '25:00'\n        start: 2026-01-05\n",
     "6:18: rotas[0].layers[0].handoff: expected a time of day HH:MM such as 09:00 or 17:30, "
     "got '25:00'"),
    ("rotas:\n  - id: r\n    layers:\n      - members: [log]\n        every: 1w\n"
     "        start: 2026-02-30\n",
     "6:16: rotas[0].layers[0].start: expected a date YYYY-MM-DD such as 2026-01-05, got "
     "'2026-02-30'"),
    ("rotas:\n  - id: r\n    layers: [{members: [log], every: 1w, start: 2026-01-05}]\n"
     "    holidays: {dates: [2026-12-25, 25.12.2026]}\n",
     "4:36: rotas[0].holidays.dates[1]: expected a date YYYY-MM-DD such as 2026-01-05, got "
     "'25.12.2026'"),
    ("suppressions:\n  - id: s\n    reason: r\n    from: 2026-12-24 9am\n"
     "    until: 2026-12-25T00:00\n",
     "4:11: suppressions[0].from: expected a date and time such as 2026-12-24T09:00 or "
     "2026-12-24T09:00:00+01:00, got '2026-12-24 9am'"),
    ("routes:\n  - match: ['team=~\"db|(\"']\n",
     "2:13: routes[0].match[0]: 'db|(' is not a valid regular expression: missing ), "
     "unterminated subpattern at position 3"),
    ("routes:\n  - match: [team]\n",
     "2:13: routes[0].match[0]: expected a matcher like team=db, severity!=info or "
     "env=~\"prod|staging\", got 'team'"),
    ("suppressions:\n  - id: s\n    reason: r\n    match: ['env=~[']\n"
     "    weekly: [{from: '01:00', until: '02:00'}]\n",
     "4:13: suppressions[0].match[0]: '[' is not a valid regular expression: unterminated "
     "character set at position 0"),
    ("settings:\n  timezone: Berlin\n",
     "2:13: settings.timezone: 'Berlin' is not a known timezone"),
    ("channels:\n  - {id: hook, type: webhook, url: 'http://x', timeout: 10}\n",
     "2:57: channels[0].timeout: expected text, got 10; write '10' in quotes to keep it as "
     "text"),
    ("channels:\n  - {id: hook, type: webhook, url: 'http://x', timeout: 10sec}\n",
     "2:57: channels[0].timeout: expected a duration like 30s, 15m, 1h30m or 2w, got '10sec'"),
])
def test_a_value_that_does_not_parse_is_reported_at_its_place(
        tmp_path: Path, yaml_text: str, expected: str) -> None:
    write(tmp_path, "log.yaml", "channels:\n  - {id: log, type: log}\npeople:\n  - id: log\n")
    path = write(tmp_path, "config.yaml", yaml_text)
    assert problems([tmp_path]) == [f"{path}:{expected}"]


def test_a_matcher_typo_that_parses_is_a_warning_at_its_place(tmp_path: Path) -> None:
    # `env=!staging` and an unclosed quote parse (as Alertmanager's classic parser reads
    # them), validated clean and matched something else than meant
    path = write(tmp_path, "config.yaml", """
        channels: [{id: log, type: log}]
        routes:
          - match: ['team=~"db|storage', env=!staging]
            channels: [log]
        """)
    assert problems([tmp_path]) == [
        f"{path}:3:13: warning: routes[0].match[0]: 'team=~\"db|storage' has a quote at one "
        "end of its value only, so the quote is part of the value: did you mean "
        "'team=~\"db|storage\"'?",
        f"{path}:3:34: warning: routes[0].match[1]: 'env=!staging' is env equal to "
        "'!staging': did you mean 'env!=staging'? (write env=\"!staging\" to mean it)"]


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        people:
          - id: alice
            timezone: Europe/Berln
        escalation_policies:
          - id: platform
            levels:
              - targets: [{person: alice}]
                delay: 0s
        routes:
          - match: ["team=~("]
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:15: people[0].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)",
        f"{path}:8:16: escalation_policies[0].levels[0].delay: expected a duration longer "
        "than zero, got '0s'",
        f"{path}:10:13: routes[0].match[0]: '(' is not a valid regular expression: missing ), "
        "unterminated subpattern at position 0",
    ]


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ labels.alertname ", "unexpected end of template, expected 'end of print "
                             "statement' (line 1 of the template)"),
    ("{{ labels.alertname | shout }}", "No filter named 'shout' (line 1 of the template)"),
    ("{{ labels.env }}{% endfor %}", "Encountered unknown tag 'endfor' (line 1 of the "
                                     "template)"),
])
def test_a_bad_dedup_key_template(tmp_path: Path, template: str, expected: str) -> None:
    path = write(tmp_path, "services.yaml", f"services:\n  - id: api\n    dedup_key: "
                                            f"'{template}'\n")
    assert problems([tmp_path]) == [
        f"{path}:3:16: services[0].dedup_key: not a valid template: {expected}"]


def test_holidays_from_an_ics_file_beside_the_config(tmp_path: Path) -> None:
    write(tmp_path, "rotas/holidays.ics", HOLIDAYS_ICS)
    write(tmp_path, "rotas/primary.yaml", """
        people:
          - id: alice
        rotas:
          - id: primary
            layers: [{members: [alice], every: 1d, start: 2026-01-05}]
            holidays:
              ics: holidays.ics
              dates: [2026-11-26]
    """)
    holidays = load_config([tmp_path]).rotas["primary"].holidays
    # DTEND is exclusive (RFC 5545); an event without DTEND is one day.
    assert sorted(holidays.dates) == [date(2026, 11, 26), date(2026, 12, 25),
                                      date(2026, 12, 26), date(2027, 1, 1)]
    assert holidays.policy == "skip"


def test_a_holiday_file_that_is_not_a_calendar(tmp_path: Path) -> None:
    write(tmp_path, "holidays.ics", "this is not a calendar\n")
    path = write(tmp_path, "rotas.yaml", """
        people: [{id: alice}]
        rotas:
          - id: primary
            layers: [{members: [alice], every: 1d, start: 2026-01-05}]
            holidays: {ics: holidays.ics}
    """)
    assert problems([tmp_path]) == [
        f"{path}:5:21: rotas[0].holidays.ics: '{tmp_path / 'holidays.ics'}' is not a valid "
        "iCalendar file: Content line could not be parsed into parts: 'this is not a "
        "calendar': Invalid content line"]


def test_a_holiday_file_that_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "rotas.yaml", """
        people: [{id: alice}]
        rotas:
          - id: primary
            layers: [{members: [alice], every: 1d, start: 2026-01-05}]
            holidays: {ics: holidays.ics}
    """)
    assert problems([tmp_path]) == [
        f"{path}:5:21: rotas[0].holidays.ics: cannot read holiday calendar "
        f"'{tmp_path / 'holidays.ics'}': No such file or directory"]


def test_defaults_come_from_the_model(tmp_path: Path) -> None:
    write(tmp_path, "config.yaml", """
        settings:
          timezone: Europe/Berlin
        people:
          - id: alice
            contact_methods: [{type: email, address: alice@example.com}]
        channels:
          - {id: chat, type: slack, webhook_url: "https://hooks.example.com/x"}
        rotas:
          - id: primary
            layers: [{members: [alice], every: 1w, start: 2026-01-05}]
        services:
          - id: api
        routes:
          - match: [team=web]
    """)
    config = load_config([tmp_path])
    alice = config.people["alice"]
    assert (alice.name, alice.timezone, alice.quiet_hours) == (
        "alice", ZoneInfo("Europe/Berlin"), None)
    assert alice.contact_methods[0].urgency == "low"
    layer = config.rotas["primary"].layers[0]
    assert (layer.name, layer.first, layer.handoff, layer.handoff_day) == (
        "layer 1", "alice", time(9, 0), None)
    assert config.rotas["primary"].timezone == ZoneInfo("Europe/Berlin")
    assert config.rotas["primary"].holidays.dates == frozenset()
    api = config.services["api"]
    assert (api.name, api.urgency, api.escalation_policy, api.channels) == (
        "api", "dynamic", None, ())
    route = config.routes[0]
    assert (route.name, route.continue_matching, route.severity, dict(route.severity_map)) == (
        "route 1", False, None, {})
    chat = config.channels["chat"].settings
    assert (chat.username, chat.timeout, chat.channel) == (  # type: ignore[attr-defined]
        "router", timedelta(seconds=10), None)
    assert config.settings.listen == "127.0.0.1:9080"
    assert config.settings.alert_limits == AlertLimits()


def test_alert_limits_are_set_one_by_one_and_checked(tmp_path: Path) -> None:
    write(tmp_path, "settings.yaml", """
        settings:
          alert_limits: {label_value_bytes: 2048, labels_per_alert: 20}
    """)
    limits = load_config([tmp_path]).settings.alert_limits
    assert limits == dataclasses.replace(AlertLimits(), label_value_bytes=2048,
                                         labels_per_alert=20)
    path = write(tmp_path, "settings.yaml", """
        settings:
          alert_limits: {name_bytes: 0, annotation_value: 10}
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:30: settings.alert_limits.name_bytes: expected a number at least 1, got 0",
        f"{path}:2:33: settings.alert_limits.annotation_value: unknown key 'annotation_value' "
        "(did you mean 'annotation_value_bytes'?); expected one of: annotation_value_bytes, "
        "annotations_per_alert, label_value_bytes, labels_per_alert, name_bytes",
    ]


def test_channel_settings_become_typed_values(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - id: mail
            type: email
            host: smtp.example.com
            from: router@example.com
            to: [ops@example.com]
            timeout: 1m
          - id: pager
            type: pagerduty
            routing_key: ${env:PD_KEY}
    """)
    config = load_config([tmp_path], environ={"PD_KEY": "R0123"})
    mail = config.channels["mail"].settings
    assert (mail.sender, mail.to, mail.timeout, mail.port) == (  # type: ignore[attr-defined]
        "router@example.com", ("ops@example.com",), timedelta(minutes=1), 587)
    pager = config.channels["pager"].settings
    assert pager.routing_key == Secret("R0123", "${env:PD_KEY}")  # type: ignore[attr-defined]
    assert pager.severity_map["info"] == "none"  # type: ignore[attr-defined]


def test_a_channel_is_enabled_unless_it_says_enabled_false(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - {id: log, type: log}
          - {id: chat, type: slack, webhook_url: "https://hooks.example.com/x", enabled: false}
          - {id: pager, type: pagerduty, routing_key: R0123, enabled: true}
    """)
    config = load_config([tmp_path])
    assert {channel.id: channel.enabled for channel in config.channels.values()} == {
        "log": True, "chat": False, "pager": True}


def test_a_disabled_channel_is_still_checked_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - id: pager
            type: pagerduty
            enabled: "no"
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:5: channels[0]: missing required key 'routing_key'",
        f"{path}:4:14: channels[0].enabled: expected true or false, got 'no'"]


def test_route_severity_replaces_or_maps(tmp_path: Path) -> None:
    write(tmp_path, "routes.yaml", """
        routes:
          - name: staging is never urgent
            match: [env=staging]
            severity: {critical: warning, error: warning}
            continue: true
          - name: batch
            match: ['job=~"batch-.*"', 'severity!=info']
            severity: info
    """)
    staging, batch = load_config([tmp_path]).routes
    assert dict(staging.severity_map) == {"critical": "warning", "error": "warning"}
    assert (staging.severity, staging.continue_matching) == (None, True)
    assert (batch.severity, dict(batch.severity_map)) == ("info", {})
    assert [str(matcher) for matcher in batch.matchers] == [
        "job=~'batch-.*'", "severity!='info'"]


def test_suppressions_fixed_and_weekly(tmp_path: Path) -> None:
    write(tmp_path, "suppressions.yaml", """
        suppressions:
          - id: freeze
            reason: end-of-year freeze
            timezone: Europe/Berlin
            from: 2026-12-24T00:00
            until: 2027-01-02T00:00
          - id: nightly
            reason: nightly batch
            match: [service=batch]
            weekly:
              - {from: "01:00", until: "03:00"}
              - {days: [sat, sun], from: "22:00", until: "06:00"}
    """)
    freeze, nightly = load_config([tmp_path]).suppressions
    berlin = ZoneInfo("Europe/Berlin")
    assert freeze.fixed is not None
    assert (freeze.fixed.start, freeze.fixed.end) == (
        datetime(2026, 12, 24, tzinfo=berlin), datetime(2027, 1, 2, tzinfo=berlin))
    assert nightly.fixed is None
    assert nightly.timezone == ZoneInfo("UTC")
    assert [(window.days, window.start, window.end) for window in nightly.weekly] == [
        (frozenset(range(7)), time(1), time(3)), (frozenset({5, 6}), time(22), time(6))]


def test_the_model_is_immutable() -> None:
    config = load_config([EXAMPLE])
    assert isinstance(config, Config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.routes = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.people["alice"].name = "Mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.people["mallory"] = config.people["alice"]  # type: ignore[index]
    assert isinstance(config.rotas["platform-primary"].layers, tuple)
    quiet = config.people["alice"].quiet_hours
    assert isinstance(quiet, WeeklyWindow)


def test_every_object_keeps_the_place_it_was_declared(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        people:
          - id: alice
        routes:
          - name: web
            match: [team=web]
    """)
    config = load_config([tmp_path])
    assert str(config.people["alice"].where) == f"{path}:2:5"
    assert str(config.routes[0].where) == f"{path}:4:5"
    assert str(config.routes[0].matchers[0].where) == f"{path}:5:13"
