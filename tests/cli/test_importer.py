"""`router import alertmanager`: files written, the report printed, the output valid as it
stands, a non-empty directory refused, and every unusable input one line with exit 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import run

AM = """\
global:
  resolve_timeout: 90s
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'am@example.org'
  smtp_auth_password: 'hunter2'
route:
  receiver: mail
  group_by: ['...']
  routes:
    - matchers: ['severity="page"', 'team=~"db|storage"']
      receiver: pager
      continue: true
    - match: {team: db}
      receiver: hook
receivers:
  - name: mail
    email_configs: [{to: 'ops@example.org'}]
  - name: pager
    pagerduty_configs: [{routing_key_file: secrets/pd.key}]
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:5001/'}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
"""


@pytest.fixture
def alertmanager_file(tmp_path: Path) -> Path:
    path = tmp_path / "am" / "alertmanager.yml"
    path.parent.mkdir()
    path.write_text(AM)
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets" / "pd.key").write_text("0123456789abcdef0123456789abcdef\n")
    return path


def test_import_writes_one_file_per_section_with_lines_and_prints_the_report(
        alertmanager_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "router"
    code, printed, error = run("import", "alertmanager", str(alertmanager_file),
                               "--out", str(out))
    assert (code, error) == (0, "")
    assert sorted(path.name for path in out.iterdir()) == [
        "channels.yaml", "inhibit_rules.yaml", "routes.yaml", "services.yaml",
        "settings.yaml"]
    assert (out / "routes.yaml").read_text() == textwrap.dedent("""\
        # Written by `router import alertmanager` from alertmanager.yml.
        routes:
          # from alertmanager.yml:10 (route.routes[0])
          - name: 'pager: route.routes[0]'
            match: [labels.severity=page, team=~db|storage]
            service: alertmanager
            channels: [pager-pagerduty]
            continue: true
          # from alertmanager.yml:13 (route.routes[1])
          - name: 'hook: route.routes[1]'
            match: [team=db]
            service: alertmanager
            channels: [hook-webhook]
          # from alertmanager.yml:7 (route)
          - name: 'mail: route'
            unless:
            - [labels.severity=page, team=~db|storage]
            service: alertmanager
            channels: [mail-email]
        """)
    assert (out / "settings.yaml").read_text().endswith(
        "settings:\n  resolve_timeout:\n    alertmanager_v2: 1m30s\n")
    assert f"${{file:{alertmanager_file.parent}/secrets/pd.key}}" in (
        out / "channels.yaml").read_text()
    assert "hunter2" not in "".join(path.read_text() for path in out.iterdir()) + printed
    lines = printed.splitlines()
    assert lines[0] == "Converted: 3"
    assert (f"  {alertmanager_file}:23: inhibit_rules[0]: source {{labels.severity=\"critical\"}}"
            ' inhibits target {labels.severity="warning"}') in lines
    assert (out / "inhibit_rules.yaml").read_text().endswith(
        "  - source_matchers: [labels.severity=\"critical\"]\n"
        "    target_matchers: [labels.severity=\"warning\"]\n")
    assert not [line for line in lines if "not converted yet" in line]
    assert lines[-1] == (f"wrote channels.yaml, inhibit_rules.yaml, routes.yaml, services.yaml, "
                         f"settings.yaml to {out}; check them with `router validate {out}` "
                         "and `router route-test`")


def test_the_output_passes_router_validate_as_it_stands(
        alertmanager_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "router"
    assert run("import", "alertmanager", str(alertmanager_file), "--out", str(out))[0] == 0
    code, printed, error = run("validate", "--no-secrets", str(out))
    assert (code, error) == (0, "")
    assert printed.startswith("config valid: 0 people, 3 channels,")
    # with the variable the report names set, the secrets resolve too
    monkeypatch.setenv("ROUTER_GLOBAL_SMTP_AUTH_PASSWORD", "hunter2")
    code, printed, error = run("validate", str(out))
    assert (code, error) == (0, "")
    code, printed, _ = run("route-test", "--config", str(out), "team=db",
                           "labels.severity=page")
    assert code == 0
    assert "  channels           pager-pagerduty, hook-webhook" in printed.splitlines()


def test_a_directory_with_files_is_refused_unless_force(
        alertmanager_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "router"
    out.mkdir()
    (out / "mine.yaml").write_text("routes: []\n")
    assert run("import", "alertmanager", str(alertmanager_file), "--out", str(out)) == (
        2, "", f"router import alertmanager: {out} is not empty (give --force to write "
               "into it)\n")
    assert run("import", "alertmanager", str(alertmanager_file), "--out", str(out),
               "--force")[0] == 0
    assert (out / "mine.yaml").exists() and (out / "routes.yaml").exists()


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot read or write: {path}: No such file or directory"),
    ("route: [unclosed\n", "{path}:2: not valid YAML: expected ',' or ']', but got "
                           "'<stream end>'"),
    ("- a list\n", "{path}:1: an Alertmanager config is a mapping of sections"),
    ("routes:\n  - {name: x}\n", "{path}:1: not an Alertmanager config: it needs 'route' and "
                                 "'receivers'"),
    (b"route: \xff\n", "{path}: not UTF-8 text"),
    ("route: {receiver: x, routes: [{receiver: nobody}]}\nreceivers: [{name: x}]\n",
     "{path}:1: route.routes[0]: undefined receiver 'nobody' used in route"),
    ("route:\n  receiver: x\n  routes: [{receiver: x, mute_time_intervals: [nights]}]\n"
     "receivers: [{name: x}]\n",
     "{path}:3: route.routes[0].mute_time_intervals: undefined time interval 'nights' used "
     "in route"),
    ("route: {receiver: x}\nreceivers: [{name: x}]\ntime_intervals: [{name: a}]\n"
     "mute_time_intervals:\n  - {name: a}\n",
     "{path}:5: mute_time_intervals[0]: time interval 'a' is not unique (Alertmanager "
     "refuses it too)"),
])
def test_a_file_that_cannot_be_imported_is_one_line_and_exit_2(
        tmp_path: Path, content: str | bytes | None, expected: str) -> None:
    path = tmp_path / "alertmanager.yml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, printed, error = run("import", "alertmanager", str(path), "--out",
                               str(tmp_path / "out"))
    assert (code, printed) == (2, "")
    assert error.startswith("router import alertmanager: " + expected.format(path=path))
    assert error.count("\n") == 1 and "Traceback" not in error
    assert not (tmp_path / "out").exists()


INTERVALS = """\
route:
  receiver: mail
  routes:
    - matchers: ['team="db"']
      receiver: hook
      mute_time_intervals: [nights, broken]
      active_time_intervals: [office]
receivers:
  - {name: mail, slack_configs: [{api_url: 'https://h.example/x', title: '{{ template "t" . }}'}]}
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:5001/'}]
inhibit_rules:
  - source_match: {alertname: NodeDown}
    target_match_re: {alertname: 'Disk.*'}
    equal: [instance]
time_intervals:
  - name: office
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: 09:00, end_time: '17:00'}]
mute_time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '00:00', end_time: '06:00'}]
        location: Europe/Berlin
  - name: broken
    time_intervals:
      - weekdays: [funday]
templates: ['templates/*.tmpl']
"""


def test_inhibit_rules_time_intervals_and_templates_are_written_and_validate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Routes keep their interval references; an interval the converter leaves out is
    dropped from the route that names it, with a finding, so the output still validates.
    A receiver's template calls a definition from the config's `templates:` files."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(INTERVALS)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "title.tmpl").write_text(
        '{{ define "t" }}{{ .CommonLabels.alertname | toUpper }} is {{ .CommonLabels.instance }}'
        '{{ end }}\n')
    out = tmp_path / "router"
    code, printed, error = run("import", "alertmanager", str(path), "--out", str(out))
    assert (code, error) == (0, "")
    assert (out / "inhibit_rules.yaml").read_text() == textwrap.dedent("""\
        # Written by `router import alertmanager` from alertmanager.yml.
        inhibit_rules:
          # from alertmanager.yml:13 (inhibit_rules[0])
          - source_matchers: [alertname="NodeDown"]
            target_matchers: [alertname=~"Disk.*"]
            equal: [instance]
        """)
    assert (out / "time_intervals.yaml").read_text() == textwrap.dedent("""\
        # Written by `router import alertmanager` from alertmanager.yml.
        time_intervals:
          # from alertmanager.yml:17 (time_intervals[0])
          - name: office
            time_intervals:
            - times:
              - start_time: 09:00
                end_time: '17:00'
              weekdays: ['monday:friday']
              location: UTC
          # from alertmanager.yml:22 (mute_time_intervals[0])
          - name: nights
            time_intervals:
            - times:
              - start_time: 00:00
                end_time: 06:00
              location: Europe/Berlin
        """)
    routes = (out / "routes.yaml").read_text()
    assert "    mute_time_intervals: [nights]\n    active_time_intervals: [office]\n" in routes
    assert (f"  {path}:4: route.routes[0].mute_time_intervals: route 'hook: route.routes[0]': "
            "time interval 'broken' was left out (see its finding), so the route no longer "
            "names it in mute_time_intervals: it is not muted then") in printed.splitlines()
    assert f"  {path}:26: mute_time_intervals[1]: time interval left out: " in printed
    assert (f"  {path}:9: receivers[0].slack_configs[0].title: template translated to Jinja"
            in printed.splitlines())
    assert (out / "channels.yaml").read_text().startswith(textwrap.dedent("""\
        # Written by `router import alertmanager` from alertmanager.yml.
        channels:
          # from alertmanager.yml:9
          - id: mail-slack
            type: slack
            webhook_url: ${env:ROUTER_MAIL_SLACK_API_URL}
            templates:
              title: |-
                {{ (incident.labels.alertname | upper) }} is {{ incident.labels.instance }}
        """))
    assert "ROUTER_MAIL_SLACK_API_URL" in printed
    monkeypatch.setenv("ROUTER_MAIL_SLACK_API_URL", "https://h.example/x")
    assert run("validate", str(out))[:2] == (0, "config valid: 0 people, 2 channels, 0 rotas, "
                                                "0 escalation policies, 1 service, 2 routes, "
                                                "0 suppressions from 6 files\n")
    for at, verdict in (("2026-12-07T10:00:00+00:00", "paged"),  # Monday, office hours
                        ("2026-12-05T10:00:00+00:00", "not paged: suppressed by time_interval "
                                                      "'office'"),  # Saturday
                        ("2026-12-08T00:30:00+00:00", "not paged: suppressed by time_interval "
                                                      "'nights'")):  # 01:30 in Berlin
        printed = run("route-test", "--config", str(out), "--at", at, "team=db")[1]
        assert f"  verdict         {verdict}" in printed


def test_template_files_that_cannot_be_used_are_reported_and_left_out(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text("route: {receiver: x}\nreceivers:\n  - name: x\n"
                    "    slack_configs: [{api_url: 'https://h.example/x', "
                    "title: '{{ template \"t\" . }}'}]\n"
                    "templates: ['*.tmpl', 'none/*.tmpl']\n")
    (tmp_path / "bad.tmpl").write_text('{{ define "t" }}{{ if .Status }}{{ end }}\n')
    (tmp_path / "good.tmpl").write_text('{{ define "u" }}{{ .Status }}{{ end }}\n')
    out = tmp_path / "router"
    code, printed, _ = run("import", "alertmanager", str(path), "--out", str(out))
    assert code == 0
    lines = printed.splitlines()
    assert (f"  {path}:5: templates[0]: {tmp_path}/bad.tmpl: cannot translate: unexpected end "
            "of the template: missing {{end}}: its definitions are left out") in lines
    assert (f"  {path}:5: templates[0]: {tmp_path}/good.tmpl: definitions u read for the "
            "receivers' templates") in lines
    assert (f"  {path}:5: templates[1]: none/*.tmpl: matches no file (Alertmanager reads "
            "none either)") in lines
    assert (f"  {path}:4: receivers[0].slack_configs[0].title: template left out (the channel "
            "keeps router's default): cannot translate: {{ template \"t\" }}: no such template "
            "is defined in the template or the config's template files") in lines
    assert "templates:" not in (out / "channels.yaml").read_text()
