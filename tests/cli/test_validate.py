"""`router validate`: exit 0 with a one-line summary, 1 with every problem on stderr, JSON for
CI annotations, `--no-secrets`, and never a traceback."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import run

EXAMPLE = Path(__file__).resolve().parents[2] / "config"
SUMMARY = ("5 people, 5 channels, 2 rotas, 2 escalation policies, 2 services, 4 routes, "
           "1 suppression, 2 checks, 1 heartbeat, 1 job from 11 files")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_a_valid_config_exits_0_with_a_one_line_summary() -> None:
    assert run("validate", str(EXAMPLE)) == (0, f"config valid: {SUMMARY}\n", "")


def test_the_default_directory_is_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE.parent)
    assert run("validate") == (0, f"config valid: {SUMMARY}\n", "")


def test_an_invalid_config_exits_1_with_every_problem_and_a_count(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        people:
          - id: alice
            timezone: Europe/Berln
        services:
          - id: api
            escalation_policy: platform
            urgency: hgh
    """)
    code, out, err = run("validate", str(tmp_path))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}:3:15: people[0].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)",
        f"{path}:7:14: services[0].urgency: expected one of high, low, dynamic, got 'hgh' "
        "(did you mean 'high'?)",
        "config invalid: 2 problems",
    ]


def test_one_problem_is_counted_in_the_singular(tmp_path: Path) -> None:
    code, out, err = run("validate", str(tmp_path / "missing"))
    assert (code, out, err) == (
        1, "", f"{tmp_path / 'missing'}: no such file or directory\nconfig invalid: 1 problem\n")


def test_warnings_go_to_stderr_and_the_config_is_still_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.yaml", """
        routes:
          - name: everything
          - name: web
            match: [team=web]
    """)
    code, out, err = run("validate", str(tmp_path))
    assert code == 0
    assert out == ("config valid: 0 people, 0 channels, 0 rotas, 0 escalation policies, "
                   "0 services, 2 routes, 0 suppressions from 1 file\n")
    assert err == (f"{path}:3:5: warning: routes[1]: route 'web' can never match: route "
                   f"'everything' at {path}:2:5 before it matches every alert and has no "
                   "'continue: true'\n")


def test_warnings_are_not_counted_as_problems(tmp_path: Path) -> None:
    write(tmp_path, "routes.yaml", """
        routes:
          - name: everything
          - name: web
            service: web
    """)
    code, _, err = run("validate", str(tmp_path))
    assert code == 1
    assert err.splitlines()[-1] == "config invalid: 1 problem"
    assert len(err.splitlines()) == 3


def test_json_format_for_an_invalid_config(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n  - id: alice\n    timzone: UTC\n")
    code, out, err = run("validate", "--format", "json", str(tmp_path))
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "valid": False,
        "summary": "",
        "problems": [{
            "file": str(path), "line": 3, "column": 5, "path": "people[0].timzone",
            "message": "unknown key 'timzone' (did you mean 'timezone'?); expected one of: "
                       "contact_methods, id, name, quiet_hours, timezone",
            "severity": "error",
        }],
    }


def test_json_format_for_a_valid_config_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "routes.yaml", "routes:\n  - name: all\n  - name: web\n")
    code, out, err = run("validate", "--format=json", str(tmp_path))
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["valid"] is True
    assert document["summary"].endswith("2 routes, 0 suppressions from 1 file")
    assert [(problem["line"], problem["severity"], problem["path"])
            for problem in document["problems"]] == [(3, "warning", "routes[1]")]
    assert set(document["problems"][0]) == {
        "file", "line", "column", "path", "message", "severity"}


def test_no_secrets_checks_everything_else(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - {id: pager, type: pagerduty, routing_key: "${env:ROUTER_TEST_UNSET_KEY}"}
          - {id: chat, type: slack, webhook_url: "${file:secrets/missing.url}"}
    """)
    code, _, err = run("validate", str(tmp_path))
    assert (code, err.splitlines()[-1]) == (1, "config invalid: 2 problems")
    code, out, err = run("validate", "--no-secrets", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.startswith("config valid: 0 people, 2 channels")


def test_several_paths(tmp_path: Path) -> None:
    write(tmp_path, "a/people.yaml", "people:\n  - id: alice\n")
    single = write(tmp_path, "b/services.yml", "services:\n  - id: api\n")
    code, out, _ = run("validate", str(tmp_path / "a"), str(single))
    assert (code, out) == (0, "config valid: 1 person, 0 channels, 0 rotas, "
                              "0 escalation policies, 1 service, 0 routes, 0 suppressions "
                              "from 2 files\n")


@pytest.mark.parametrize(("name", "content"), [
    ("bad.yaml", b"people: [\n"),
    ("latin1.yaml", b"people:\n  - id: m\xfcller\n"),
    ("list.yaml", b"- 1\n- 2\n"),
    ("keys.yaml", b"1: 2\ntrue: false\n? [a]\n: b\n"),
    ("deep.yaml", b"people: " + b"[" * 200 + b"]" * 200 + b"\n"),
    ("alias.yaml", b"people: &a [*a]\n"),
    ("tags.yaml", b"people: !!python/object/apply:os.system [echo]\n"),
    ("huge.yaml", b"escalation_policies:\n  - {id: p, levels: [{targets: [{person: a}], "
                  b"delay: 99999999999999999999w}]}\n"),
    ("dates.yaml", b"suppressions:\n  - {id: s, reason: r, from: 9999-12-31T23:59, "
                   b"until: 0001-01-01T00:00}\n"),
    ("ics.yaml", b"people: [{id: a}]\nrotas:\n  - {id: r, holidays: {ics: /dev/null/x}, "
                 b"layers: [{members: [a], every: 1d, start: 2026-01-01}]}\n"),
    ("dir.yaml/inner.yaml", b"people: []\n"),
])
def test_bad_input_is_a_message_never_a_traceback(
        tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    for form in ("text", "json"):
        code, out, err = run("validate", "--format", form, str(tmp_path))
        assert code in (0, 1)
        assert "Traceback" not in err + out
        if form == "json":
            json.loads(out)


def test_a_policy_that_can_reach_nobody_without_a_fallback_is_a_warning(tmp_path: Path) -> None:
    """Issue 16 item 5: only rotas on every level, and no fallback; a person on any level
    (or a fallback) is someone, so no warning."""
    path = write(tmp_path, "config.yaml", """
        people:
          - {id: ann}
        rotas:
          - id: web
            layers: [{members: [ann], every: 1w, start: 2026-11-02}]
        escalation_policies:
          - id: rotas-only
            levels: [{targets: [{rota: web}], delay: 5m}]
          - id: with-fallback
            fallback: {person: ann}
            levels: [{targets: [{rota: web}], delay: 5m}]
          - id: with-person
            levels: [{targets: [{rota: web}], delay: 5m}, {targets: [{person: ann}], delay: 5m}]
    """)
    code, _, err = run("validate", str(tmp_path))
    assert code == 0
    assert err == (f"{path}:7:5: warning: escalation_policies.rotas-only: policy 'rotas-only' "
                   "has no fallback, and each of its levels names only rotas, which can all "
                   "be empty at once: add 'fallback: {person: ...}' (or a rota or channel) to "
                   "page then\n")


def test_a_fallback_must_name_something_that_exists(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        people:
          - {id: ann}
        escalation_policies:
          - id: web
            fallback: {person: anne}
            levels: [{targets: [{person: ann}], delay: 5m}]
    """)
    code, _, err = run("validate", str(tmp_path))
    assert code == 1
    assert err.splitlines()[0] == (f"{path}:5:24: escalation_policies[0].fallback.person: no "
                                   "person with id 'anne' (did you mean 'ann'?)")


WEEKDAYS_ONLY = """
    people: [{id: ann}]
    rotas:
      - id: office
        timezone: Europe/Berlin
        layers:
          - members: [ann]
            every: 1w
            start: 2026-01-05
            restrictions: [{days: [mon, tue, wed, thu, fri], from: "00:00", until: "24:00"}]
    escalation_policies:
      - id: ops
        fallback: {person: ann}
        levels:
          - targets: [{rota: office}]
            delay: 10m
"""


def test_every_coverage_gap_over_the_horizon_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", WEEKDAYS_ONLY)
    code, out, err = run("validate", "--at", "2026-03-02T09:00:00+01:00", "--horizon", "3w",
                         str(tmp_path))
    assert (code, out.startswith("config valid: 1 person")) == (0, True)
    assert err.splitlines() == [
        f"{path}:14:9: warning: escalation_policies.ops.levels[0]: level 1 (rota office) "
        f"reaches nobody from 2026-03-{day:02}T00:00+01:00 until "
        f"2026-03-{day + 2:02}T00:00+01:00 (Europe/Berlin)" for day in (7, 14, 21)]


def test_strict_makes_coverage_gaps_errors(tmp_path: Path) -> None:
    write(tmp_path, "config.yaml", WEEKDAYS_ONLY)
    code, out, err = run("validate", "--strict", "--at", "2026-03-02T09:00:00+01:00",
                         "--horizon", "8w", str(tmp_path))
    assert (code, out) == (1, "")
    assert err.count("reaches nobody from") == 8
    assert "warning" not in err
    assert err.splitlines()[-1] == "config invalid: 8 problems"


def test_strict_json_marks_the_config_invalid(tmp_path: Path) -> None:
    write(tmp_path, "config.yaml", WEEKDAYS_ONLY)
    code, out, _ = run("validate", "--strict", "--format", "json", "--at",
                       "2026-03-02T09:00:00+01:00", "--horizon", "1w", str(tmp_path))
    document = json.loads(out)
    assert (code, document["valid"], document["summary"]) == (1, False, "")
    assert [(problem["path"], problem["severity"]) for problem in document["problems"]] == [
        ("escalation_policies.ops.levels[0]", "error")]


def test_strict_passes_a_config_with_no_gap() -> None:
    code, out, err = run("validate", "--strict", "--horizon", "8w", str(EXAMPLE))
    assert (code, out, err) == (0, f"config valid: {SUMMARY}\n", "")


@pytest.mark.parametrize(("argv", "message"), [
    (("--horizon", "soon"), "router validate: error: argument --horizon: expected a duration "
                            "like 30s, 15m, 1h30m or 2w, got 'soon'"),
    (("--horizon", "0s"), "router validate: error: argument --horizon: expected a duration "
                          "longer than zero, got '0s'"),
    (("--at", "soon"), "router validate: --at: expected a date and time such as "
                       "2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, got 'soon'"),
])
def test_bad_horizon_or_instant_is_a_usage_error(argv: tuple[str, ...], message: str) -> None:
    code, out, err = run("validate", *argv, str(EXAMPLE))
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == message


def test_at_without_an_offset_is_read_in_the_settings_timezone(tmp_path: Path) -> None:
    # as `router oncall --at` reads it; it was refused ("expected an offset")
    write(tmp_path, "config.yaml", "settings: {timezone: America/New_York}\n"
          + textwrap.dedent(WEEKDAYS_ONLY))
    code, _, err = run("validate", "--at", "2026-03-07T12:00", "--horizon", "1d",
                       str(tmp_path))
    assert code == 0
    assert err.splitlines()[0].endswith(
        "reaches nobody from 2026-03-07T18:00+01:00 until 2026-03-08T18:00+01:00 "
        "(Europe/Berlin)")
    code, out, err = run("validate", "--at", "2026-03-08T02:30", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == ("router validate: --at: 2026-03-08T02:30:00 does not exist in "
                   "America/New_York: the clocks skip it when they go from UTC-05:00 to "
                   "UTC-04:00\n")


def test_strict_makes_every_warning_an_error(tmp_path: Path) -> None:
    # a CI user's --strict: an unreachable route (or a policy that can reach nobody) fails
    # the build too, not only coverage gaps
    path = write(tmp_path, "routes.yaml", """
        routes:
          - name: everything
          - name: web
            match: [team=web]
    """)
    code, out, err = run("validate", "--strict", str(tmp_path))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}:3:5: routes[1]: route 'web' can never match: route 'everything' at "
        f"{path}:2:5 before it matches every alert and has no 'continue: true'",
        "config invalid: 1 problem"]
    code, out, _ = run("validate", "--strict", "--format", "json", str(tmp_path))
    document = json.loads(out)
    assert (code, document["valid"]) == (1, False)
    assert [problem["severity"] for problem in document["problems"]] == ["error"]
    assert run("validate", str(tmp_path))[0] == 0


def test_strict_refuses_a_trusted_proxy_open_to_every_address(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        settings:
          web: {trusted_proxy: {from: ["::/0"]}}
        users:
          - {name: ann, role: read}
    """)
    field = "settings.web.trusted_proxy.from[0]"
    message = ("::/0 is every address: any client that reaches router can send "
               "X-Forwarded-User and be logged in as any user; list only the proxy's own "
               "addresses")
    code, out, err = run("validate", str(tmp_path))
    assert (code, out.startswith("config valid:"), err) == (
        0, True, f"{path}:2:32: warning: {field}: {message}\n")
    code, out, err = run("validate", "--strict", str(tmp_path))
    assert (code, out, err.splitlines()) == (
        1, "", [f"{path}:2:32: {field}: {message}", "config invalid: 1 problem"])
