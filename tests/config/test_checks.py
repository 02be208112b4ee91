"""Semantic checks (config/checks.py): references, rota layers, time ranges, contact methods and
unreachable routes, each with the exact place and words of its problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import load_config
from tests.config.support import FIXTURES, problems, write

DANGLING = FIXTURES / "bad-dangling-reference"

PEOPLE = """
    people:
      - id: alice
      - id: bob
"""


@pytest.mark.parametrize("expected", [
    # service -> escalation policy, service -> channel
    "services.yaml:3:24: services[0].escalation_policy: no escalation policy with id "
    "'platfrom' (did you mean 'platform'?)",
    "services.yaml:4:21: services[0].channels[1]: no channel with id 'pager'",
    # route -> service, escalation policy, channel
    "routes.yaml:3:14: routes[0].service: no service with id 'apii' (did you mean 'api'?)",
    "routes.yaml:4:24: routes[0].escalation_policy: no escalation policy with id 'database'",
    "routes.yaml:5:21: routes[0].channels[1]: no channel with id 'slack'",
    # level targets: rota, person, channel
    "escalation.yaml:4:26: escalation_policies[0].levels[0].targets[0].rota: no rota with id "
    "'primray' (did you mean 'primary'?)",
    "escalation.yaml:4:45: escalation_policies[0].levels[0].targets[1].person: no person with "
    "id 'alcie' (did you mean 'alice'?)",
    "escalation.yaml:4:63: escalation_policies[0].levels[0].targets[2].channel: no channel "
    "with id 'lgo' (did you mean 'log'?)",
    # layer member, override person and replaced person, holiday cover
    "rotas.yaml:4:26: rotas[0].layers[0].members[1]: no person with id 'bbo' "
    "(did you mean 'bob'?)",
    "rotas.yaml:8:17: rotas[0].overrides[0].person: no person with id 'carol'",
    "rotas.yaml:9:19: rotas[0].overrides[0].replaces: no person with id 'alicia' "
    "(did you mean 'alice'?)",
    "rotas.yaml:14:14: rotas[0].holidays.cover: no person with id 'dave'",
    # contact method -> channel
    "people.yaml:5:60: people[0].contact_methods[0].channel: no channel with id 'mailer'",
])
def test_dangling_reference(expected: str) -> None:
    assert f"{DANGLING}/{expected}" in problems([DANGLING])


def test_dangling_references_are_all_reported_and_nothing_else() -> None:
    assert len(problems([DANGLING])) == 13


def test_references_across_files_resolve(tmp_path: Path) -> None:
    write(tmp_path, "people.yaml", PEOPLE)
    write(tmp_path, "rotas/primary.yaml", """
        rotas:
          - id: primary
            layers: [{members: [alice, bob], every: 1w, start: 2026-01-05}]
    """)
    write(tmp_path, "policies.yaml", """
        escalation_policies:
          - id: platform
            levels: [{targets: [{rota: primary}], delay: 5m}]
        services:
          - id: api
            escalation_policy: platform
    """)
    assert problems([tmp_path]) == []


# One file (after PEOPLE in people.yaml where `people` is set) and every problem of loading the
# directory, in order; "{path}" in a problem stands for that file's path.
ONE_FILE_PROBLEMS = [
    pytest.param(False, "rotas.yaml", """
        rotas:
          - id: primary
            layers:
              - members: []
                every: 1w
                start: 2026-01-05
        """, [
        "{path}:4:18: rotas[0].layers[0].members: rota 'primary' layer 'layer 1' has no "
        "members; list at least one person"], id="a-layer-with-no-members"),
    pytest.param(True, "rotas.yaml", """
        rotas:
          - id: primary
            layers:
              - name: weekly
                members: [alice, bob]
                first: carol
                every: 1w
                start: 2026-01-05
        """, [
        "{path}:6:16: rotas[0].layers[0].first: 'carol' is not one of the layer's members "
        "(alice, bob)"], id="first-not-one-of-the-members"),
    pytest.param(True, "rotas.yaml", """
        rotas:
          - id: primary
            layers: [{members: [alice, bob], every: 1d, start: 2026-01-05}]
            holidays:
              dates: [2026-12-25]
              policy: cover
        """, [
        "{path}:6:15: rotas[0].holidays.policy: holiday policy 'cover' needs "
        "'cover: PERSON', the person who takes holiday shifts"],
        id="a-cover-holiday-policy-with-no-one-to-cover"),
    pytest.param(True, "rotas.yaml", """
        rotas:
          - id: primary
            timezone: Europe/Berlin
            layers: [{members: [alice], every: 1w, start: 2026-01-05}]
            overrides:
              - person: bob
                from: 2026-12-27T09:00
                until: 2026-12-24T09:00
        """, [
        "{path}:8:16: rotas[0].overrides[0].until: override ends (2026-12-24T09:00:00+01:00) "
        "before it starts (2026-12-27T09:00:00+01:00)"],
        id="an-override-that-ends-before-it-starts"),
    pytest.param(True, "rotas.yaml", """
        rotas:
          - id: primary
            layers: [{members: [alice], every: 1w, start: 2026-01-05}]
            overrides:
              - {person: bob, from: "2026-12-24T09:00Z", until: "2026-12-24T10:00+01:00"}
        """, [
        "{path}:5:57: rotas[0].overrides[0].until: override ends (2026-12-24T10:00:00+01:00) "
        "before it starts (2026-12-24T09:00:00+00:00)"], id="an-override-of-no-length"),
    pytest.param(True, "rotas.yaml", """
        rotas:
          - id: primary
            layers: [{members: [alice], every: 1w, start: 2026-01-05}]
            overrides:
              - {person: bob, from: 2026-12-24T25:00, until: 2026-12-20T09:00}
        suppressions:
          - {id: freeze, reason: freeze, from: 2026-12-24T09:00, until: soon}
        """, [
        "{path}:5:29: rotas[0].overrides[0].from: expected a date and time such as "
        "2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, got '2026-12-24T25:00'",
        "{path}:7:65: suppressions[0].until: expected a date and time such as "
        "2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, got 'soon'",
    ], id="an-unreadable-time-once-not-as-a-backwards-range"),
    pytest.param(False, "suppressions.yaml", """
        suppressions:
          - id: migration
            reason: database migration
            timezone: America/New_York
            from: 2026-03-01T02:00
            until: 2026-03-01T01:00
        """, [
        "{path}:6:12: suppressions[0].until: suppression ends (2026-03-01T01:00:00-05:00) "
        "before it starts (2026-03-01T02:00:00-05:00)"],
        id="a-suppression-that-ends-before-it-starts"),
    pytest.param(False, "people.yaml", """
        people:
          - id: alice
            contact_methods:
              - {type: email, address: alice@example.com}
              - {type: phone, address: "+4915112345678"}
        """, [
        "{path}:5:9: people[0].contact_methods[1]: a phone contact needs 'channel': the "
        "webhook channel of an SMS or voice gateway"], id="a-phone-contact-with-no-gateway"),
    pytest.param(False, "routes.yaml", """
        routes:
          - name: everything
          - name: web
            match: [team=web]
            service: web
        """, [
        "{path}:3:5: warning: routes[1]: route 'web' can never match: route 'everything' at "
        "{path}:2:5 before it matches every alert and has no 'continue: true'",
        "{path}:5:14: routes[1].service: no service with id 'web'",
    ], id="warnings-do-not-hide-errors"),
    pytest.param(False, "rota.yaml", """
        people: [{id: ann}]
        rotas:
          - id: web
            layers: [{members: [ann], every: 2h, start: 2026-01-01}]
        """, [
        "{path}:4:38: rotas[0].layers[0].every: expected a rotation of at least 3h, got "
        "2:00:00: shorter ones cannot stay in order across a change of clocks"],
        id="a-rotation-shorter-than-three-hours"),
    pytest.param(False, "settings.yaml", """
        settings:
          ingest_tokens:
            - {name: prometheus, token: a}
            - {name: prometheus, token: b}
        """, [
        "{path}:4:14: settings.ingest_tokens[1].name: ingest token name 'prometheus' is used "
        "twice: here and at {path}:3:7"], id="an-ingest-token-name-used-twice"),
    pytest.param(False, "channels.yaml", """
        channels:
          - {id: hook, type: webhook, url: "http://127.0.0.1:1/", body: "{{ incident.id "}
        """, [
        "{path}:2:65: channels[0].body: not a valid template: unexpected end of template, "
        "expected 'end of print statement' (line 1 of the template)"],
        id="a-webhook-body-template-that-does-not-compile"),
    pytest.param(False, "settings.yaml", """
        settings:
          listen: 0.0.0.0
        """, [
        "{path}:2:11: settings.listen: expected HOST:PORT such as 127.0.0.1:9080, "
        "got '0.0.0.0'"], id="a-listen-address-without-a-port"),
]


@pytest.mark.parametrize(("people", "name", "text", "expected"), ONE_FILE_PROBLEMS)
def test_a_problem_in_one_file_is_reported_at_its_place_in_these_words(
        tmp_path: Path, people: bool, name: str, text: str, expected: list[str]) -> None:
    if people:
        write(tmp_path, "people.yaml", PEOPLE)
    path = write(tmp_path, name, text)
    assert problems([tmp_path]) == [line.replace("{path}", str(path)) for line in expected]


@pytest.mark.parametrize(("method", "channel", "expected"), [
    ("email", "chat", "channel 'chat' is a slack channel; an email contact needs an email "
                      "channel"),
    ("slack", "mail", "channel 'mail' is an email channel; a slack contact needs a slack "
                      "channel"),
    ("phone", "chat", "channel 'chat' is a slack channel; a phone contact needs a webhook "
                      "channel"),
])
def test_a_contact_method_through_the_wrong_kind_of_channel(
        tmp_path: Path, method: str, channel: str, expected: str) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - {id: chat, type: slack, webhook_url: "https://hooks.example.com/x"}
          - {id: mail, type: email, host: localhost, from: router@example.com}
    """)
    path = write(tmp_path, "people.yaml", f"""
        people:
          - id: alice
            contact_methods:
              - {{type: {method}, address: x, channel: {channel}}}
    """)
    column = 39 + len(method)
    assert problems([tmp_path]) == [
        f"{path}:4:{column}: people[0].contact_methods[0].channel: {expected}"]


def test_a_route_after_a_catch_all_is_unreachable_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.yaml", """
        routes:
          - name: database
            match: [team=db]
          - name: everything else
          - name: web
            match: [team=web]
    """)
    config = load_config([tmp_path])
    assert [str(problem) for problem in config.warnings] == [
        f"{path}:5:5: warning: routes[2]: route 'web' can never match: route 'everything "
        f"else' at {path}:4:5 before it matches every alert and has no 'continue: true'"]
    assert config.warnings[0].severity == "warning"


def test_a_catch_all_with_continue_hides_nothing(tmp_path: Path) -> None:
    write(tmp_path, "routes.yaml", """
        routes:
          - name: audit everything
            continue: true
          - name: web
            match: [team=web]
          - name: everything else
    """)
    assert load_config([tmp_path]).warnings == ()


def test_an_empty_section_means_none_and_a_channel_keeps_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        people:
        channels:
          - {id: log, type: log, name: Daemon log}
        """)
    config = load_config([path])
    assert config.people == {}
    assert config.channels["log"].name == "Daemon log"


def test_a_route_with_only_unless_is_no_catch_all(tmp_path: Path) -> None:
    write(tmp_path, "routes.yaml", """
        routes:
          - name: everything but the database
            unless: [[team=db]]
          - name: database
            match: [team=db]
    """)
    assert load_config([tmp_path]).warnings == ()


def test_unless_sets_are_read_and_a_bad_matcher_is_placed(tmp_path: Path) -> None:
    write(tmp_path, "good/routes.yaml", """
        routes:
          - name: web
            match: [team=web]
            unless: [[env=staging, 'severity!=critical'], ['labels.severity=page']]
    """)
    [rule] = load_config([tmp_path / "good"]).routes
    assert [[str(matcher) for matcher in group] for group in rule.unless] == [
        ["env='staging'", "severity!='critical'"], ["labels.severity='page'"]]
    path = write(tmp_path, "bad/routes.yaml", """
        routes:
          - name: web
            unless: [[team=web, 'env=~"("']]
    """)
    assert problems([tmp_path / "bad"]) == [
        f"{path}:3:25: routes[0].unless[0][1]: '(' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0"]


def test_a_matcher_slip_in_unless_is_a_warning_at_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.yaml", """
        routes:
          - name: web
            unless: [[team=web, env=!staging]]
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:25: warning: routes[0].unless[0][1]: 'env=!staging' is env equal to "
        "'!staging': did you mean 'env!=staging'? (write env=\"!staging\" to mean it)"]


def test_labels_prefix_is_kept_only_for_reserved_names(tmp_path: Path) -> None:
    write(tmp_path, "routes.yaml", """
        routes:
          - match: [labels.team=db, labels.severity=page, labels.service=api]
    """)
    [rule] = load_config([tmp_path]).routes
    assert [matcher.name for matcher in rule.matchers] == [
        "team", "labels.severity", "labels.service"]


def test_a_missing_service_is_worded_alike_wherever_it_is_named(tmp_path: Path) -> None:
    """Routes, heartbeats, jobs and checks name a service through one check (`_refer`):
    before, a job said `unknown service` and a check gave no hint."""
    write(tmp_path, "services.yaml", "services:\n  - {id: database}\n")
    path = write(tmp_path, "sources.yaml", """
        routes:
          - {service: databse}
        heartbeats:
          - {id: backup, service: databse, period: 1h, token: 0123456789abcdef0123}
        jobs:
          - {id: dump, service: databse}
        checks:
          - {id: root, type: disk, paths: [/], service: databse}
    """)
    wanted = "service: no service with id 'databse' (did you mean 'database'?)"
    assert problems([tmp_path]) == [
        f"{path}:2:15: routes[0].{wanted}",
        f"{path}:4:27: heartbeats[0].{wanted}",
        f"{path}:6:25: jobs[0].{wanted}",
        f"{path}:8:49: checks[0].{wanted}"]
