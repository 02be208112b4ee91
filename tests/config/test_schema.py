"""Pass one (config/schema.py): the JSON Schema in schemas/ and the words of shape problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import referencing.jsonschema

from router.config.load import read_file
from router.config.schema import bundled_schema, check_shape, schema_directory
from router.config.secrets import SecretResolver
from tests.config.support import EXAMPLE, FIXTURES, problems, write

SCHEMA_FILES = sorted(schema_directory().rglob("*.json"))
EXAMPLE_FILES = sorted(EXAMPLE.glob("*.yaml"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_each_schema_file_is_a_valid_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_channel_type_has_a_schema_file() -> None:
    from router.notify import CHANNELS

    names = {path.stem for path in (schema_directory() / "channels").glob("*.json")}
    assert names == set(CHANNELS)


def _plain_validator() -> jsonschema.Draft202012Validator:
    """The schema files as an editor would use them: plain jsonschema, none of our code."""
    directory = schema_directory()
    base = directory.resolve().as_uri() + "/"
    registry: referencing.Registry[Any] = referencing.Registry().with_resources(
        (base + path.relative_to(directory).as_posix(), referencing.Resource.from_contents(
            json.loads(path.read_text(encoding="utf-8")),
            default_specification=referencing.jsonschema.DRAFT202012))
        for path in SCHEMA_FILES)
    root = json.loads((directory / "router.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator({**root, "$id": base + "router.json"},
                                           registry=registry)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name)
def test_the_schema_accepts_each_file_of_the_example_config(path: Path) -> None:
    documents, found = read_file(path, SecretResolver(resolve=False))
    assert found == []
    for document in documents:
        assert [error.message for error in _plain_validator().iter_errors(document.data)] == []
        assert check_shape(document) == ([], document)


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    errors = list(_plain_validator().iter_errors({"people": [{"id": "alice", "tz": "UTC"}]}))
    assert [error.message for error in errors] == [
        "Additional properties are not allowed ('tz' was unexpected)"]


def test_the_bundled_schema_stands_alone_and_is_the_same_everywhere() -> None:
    schema = bundled_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://router.invalid/schemas/router.json"
    validator = jsonschema.Draft202012Validator(schema)  # no registry: everything inside
    channel = {"channels": [{"id": "chat", "type": "slack", "webhok": "x"}]}
    assert sorted(error.message for error in validator.iter_errors(channel)) == [
        "'webhook_url' is a required property",
        "Additional properties are not allowed ('webhok' was unexpected)",
    ]


# -- the words of shape problems: one test per kind, exact place and message ----------------

def test_unknown_key_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", """
        people:
          - id: alice
            timzone: Europe/Berlin
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:5: people[0].timzone: unknown key 'timzone' (did you mean 'timezone'?); "
        "expected one of: contact_methods, id, name, quiet_hours, timezone"]


def test_unknown_key_with_nothing_close(tmp_path: Path) -> None:
    path = write(tmp_path, "escalation.yaml", """
        escalation_policies:
          - id: platform
            owner: alice
            levels: [{targets: [{person: alice}], delay: 5m}]
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:5: escalation_policies[0].owner: unknown key 'owner'; expected one of: "
        "fallback, id, levels, name, repeat, skip_empty"]


def test_unknown_top_level_section(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "peple:\n  - id: alice\n")
    assert problems([tmp_path]) == [
        f"{path}:1:1: peple: unknown key 'peple' (did you mean 'people'?); expected one of: "
        "channels, checks, escalation_policies, heartbeats, inhibit_rules, jobs, people, "
        "rotas, routes, "
        "services, settings, suppressions, time_intervals, users"]


def test_a_router_test_file_among_the_config_says_where_test_files_go(tmp_path: Path) -> None:
    # config/tests/cases.yaml is read as config: it said "did you mean 'channels'?"
    path = write(tmp_path / "tests", "cases.yaml", "cases:\n  - name: a\n")
    assert problems([tmp_path]) == [
        f"{path}:1:1: cases: unknown key 'cases' (a `router test` file? Test files go in "
        ".tests/ beside the config: the loader skips directories whose names start with a "
        "dot); expected one of: channels, checks, escalation_policies, heartbeats, "
        "inhibit_rules, jobs, people, rotas, routes, services, settings, suppressions, "
        "time_intervals, users"]


def test_unknown_key_in_a_channel_is_checked_against_that_channel_type(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", """
        channels:
          - id: chat
            type: slack
            webhok: https://hooks.slack.com/services/T0/B0/X
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:5: channels[0]: missing required key 'webhook_url'",
        f"{path}:4:5: channels[0].webhok: unknown key 'webhok' (did you mean 'webhook_url'?); "
        "expected one of: channel, concurrency, enabled, follow_up, id, name, rate, retry_for, "
        "signing_secret, templates, timeout, type, username, webhook_url",
    ]


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "escalation.yaml", """
        escalation_policies:
          - id: platform
            repeat: twice
            levels:
              - targets: [{person: alice}]
                delay: 5m
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:13: escalation_policies[0].repeat: expected a whole number, got 'twice'"]


def test_a_section_that_is_not_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n  alice: {timezone: UTC}\n")
    assert problems([tmp_path]) == [f"{path}:2:3: people: expected a list, got a mapping"]


def test_an_unquoted_phone_number_is_a_number_and_the_message_says_to_quote_it(
        tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", """
        people:
          - id: alice
            contact_methods:
              - {type: phone, address: +4915112345678, channel: sms}
    """)
    assert problems([tmp_path]) == [
        f"{path}:4:32: people[0].contact_methods[0].address: expected text, got "
        "4915112345678; write '+4915112345678' in quotes to keep it as text"]


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, "rotas.yaml", "rotas:\n  - id: primary\n    name: Primary\n")
    assert problems([tmp_path]) == [f"{path}:2:5: rotas[0]: missing required key 'layers'"]


def test_bad_enum_value_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "services.yaml", "services:\n  - id: api\n    urgency: hihg\n")
    assert problems([tmp_path]) == [
        f"{path}:3:14: services[0].urgency: expected one of high, low, dynamic, got 'hihg' "
        "(did you mean 'high'?)"]


def test_bad_enum_value_with_nothing_close(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", "channels:\n  - id: sms\n    type: carrier-pigeon\n")
    assert problems([tmp_path]) == [
        f"{path}:3:11: channels[0].type: expected one of pagerduty, slack, email, webhook, "
        "log, got 'carrier-pigeon'"]


def test_bad_id(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n  - id: Alice Andersen\n")
    assert problems([tmp_path]) == [
        f"{path}:2:9: people[0].id: expected an id of letters, digits, '.', '_' and '-', "
        "starting with a letter or digit, got 'Alice Andersen'"]


@pytest.mark.parametrize("target", ["{rota: primary, person: alice}", "{}", "alice"])
def test_a_target_names_exactly_one_thing(tmp_path: Path, target: str) -> None:
    path = write(tmp_path, "escalation.yaml", f"""
        escalation_policies:
          - id: platform
            levels:
              - targets: [{target}]
                delay: 5m
    """)
    got = ", got 'alice'" if target == "alice" else ""
    assert problems([tmp_path]) == [
        f"{path}:4:19: escalation_policies[0].levels[0].targets[0]: expected exactly one of "
        f"rota, person or channel, e.g. {{rota: primary}}{got}"]


@pytest.mark.parametrize("window", [
    "from: 2026-12-24T00:00\n    until: 2026-12-25T00:00\n    weekly: [{from: '01:00', "
    "until: '02:00'}]",
    "from: 2026-12-24T00:00",
    "reason2: none",
])
def test_a_suppression_has_a_fixed_or_weekly_window(tmp_path: Path, window: str) -> None:
    path = write(tmp_path, "suppressions.yaml",
                 f"suppressions:\n  - id: freeze\n    reason: code freeze\n    {window}\n")
    found = problems([tmp_path])
    assert f"{path}:2:5: suppressions[0]: expected either a fixed window (from and until) or " \
           "weekly windows, not both" in found


def test_a_route_severity_is_a_severity_or_a_mapping_of_them(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.yaml", """
        routes:
          - severity: critcal
          - severity: {critical: warnin}
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:15: routes[0].severity: expected a severity (critical, error, warning, "
        "info) or a mapping from severity to severity, got 'critcal'",
        f"{path}:3:15: routes[1].severity: expected a severity (critical, error, warning, "
        "info) or a mapping from severity to severity",
    ]


def test_limits_on_numbers_and_lists(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          max_body_bytes: 10
        people:
          - id: alice
            quiet_hours: {days: [], from: "22:00", until: "07:00"}
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:19: settings.max_body_bytes: expected a number at least 1024, got 10",
        f"{path}:5:25: people[0].quiet_hours.days: expected at least 1 item, got 0",
    ]


def test_a_shape_problem_does_not_hide_the_other_problems_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "everything.yaml", """
        people:
          - id: alice
            timzone: Europe/Berlin
        rotas:
          - id: primary
            timezone: Europe/Berln
            layers:
              - {members: [alice], every: 1w, start: 2026-01-05}
        routes:
          - match: ['team=~"db|("']
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:5: people[0].timzone: unknown key 'timzone' (did you mean 'timezone'?); "
        "expected one of: contact_methods, id, name, quiet_hours, timezone",
        f"{path}:6:15: rotas[0].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)",
        f"{path}:10:13: routes[0].match[0]: 'db|(' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 3",
    ]


def test_a_shape_problem_does_not_hide_a_value_problem_in_the_same_item() -> None:
    """Issue 13: `repeat: "two"` hid `delay: fifteen` beside it; `router validate` promises
    every problem at once."""
    path = FIXTURES / "bad-two-problems-in-one-item" / "escalation.yaml"
    assert problems([path.parent]) == [
        f"{path}:7:13: escalation_policies[0].repeat: expected a whole number, got 'two'",
        f"{path}:10:16: escalation_policies[0].levels[0].delay: expected a duration like 30s, "
        "15m, 1h30m or 2w, got 'fifteen'",
    ]


def test_an_item_pruned_of_its_bad_values_is_checked_but_left_out(tmp_path: Path) -> None:
    """Its values are checked; the item itself is not built into the config, so no check
    that reads several items (a route that can never match, say) reports a consequence
    of the value left out."""
    path = write(tmp_path, "config.yaml", """
        people:
          - id: alice
            timezone: Europe/Berln
            contact_methods: 5
        routes:
          - name: first
            match: 7
            service: api
            escalation_policy: x
          - name: second
            match: ['team=~"("']
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:15: people[0].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)",
        f"{path}:4:22: people[0].contact_methods: expected a list, got 5",
        f"{path}:7:12: routes[0].match: expected a list, got 7",
        f"{path}:11:13: routes[1].match[0]: '(' is not a valid regular expression: missing ), "
        "unterminated subpattern at position 0",
    ]


def test_a_required_key_with_a_bad_value_still_drops_its_item(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        escalation_policies:
          - id: platform
            levels: "all"
            repeat: "two"
    """)
    assert problems([tmp_path]) == [
        f"{path}:3:13: escalation_policies[0].levels: expected a list, got 'all'",
        f"{path}:4:13: escalation_policies[0].repeat: expected a whole number, got 'two'",
    ]
