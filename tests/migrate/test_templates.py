"""router/migrate/alertmanager/templates.py: Alertmanager's Go templates become Jinja that
router's config accepts (it compiles every template in the sandbox) and that renders, through
router's own message building, what Alertmanager renders for the same alert.

The expected texts are written from Alertmanager's template data and functions
(template/template.go: SortedPairs puts alertname first; join, toUpper, title, ...) and its
default templates (template/default.tmpl: `__subject`, `__text_alert_list`), for one
alert in its group, as router notifies one alert per incident.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from router.alerts.model import Incident, IncidentState, Notification, Severity
from router.config import load_config
from router.config.load import Source
from router.migrate.alertmanager.report import Report
from router.migrate.alertmanager.templates import translate_template
from router.notify.templates import build_message
from router.sandbox import compile_template

OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LABELS = {"alertname": "DiskFull", "instance": "db-1", "job": "node", "severity": "critical",
          "items": "3"}

SUBJECT = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}'
           '{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }}')
"""Alertmanager's `__subject`, up to its `Remove` (which has no Jinja counterpart)."""

ALERT_LIST = textwrap.dedent("""\
    {{ range . }}Labels:
    {{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
    {{ end }}{{ end }}""")
"""Alertmanager's `__text_alert_list`, without annotations and the source link."""

TEAM_FILE = textwrap.dedent("""\
    {{ define "team.title" }}{{ .CommonLabels.alertname }} on {{ .CommonLabels.instance }}{{ end }}
    {{ define "__text_alert_list" }}""" + ALERT_LIST + """{{ end }}
    """)
"""A file of the Alertmanager config's `templates:`, as teams write them."""


def place(path: str = "receivers[0].slack_configs[0].text") -> Source:
    return Source("alertmanager.yml", None, path)


def translated(text: str, report: Report | None = None) -> str:
    report = report or Report("alertmanager.yml")
    jinja = translate_template(text, place(), report, definitions=[TEAM_FILE])
    assert jinja is not None, report.render()
    compile_template(jinja)  # router's sandbox compiles it
    return jinja


def rendered(tmp_path: Path, text: str, *, state: IncidentState = IncidentState.TRIGGERED,
             labels: dict[str, str] | None = None) -> str:
    """The message text router builds with the translation as the channel's text template,
    in a config router loads (which compiles it), for INC3 with LABELS."""
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump({"channels": [
        {"id": "team-x", "type": "log", "templates": {"text": translated(text)}}]}),
        encoding="utf-8")
    config = load_config([path], environ={})
    incident = Incident(
        number=3, dedup_key="x1", service=None, summary="Disk full on db-1",
        severity=Severity.CRITICAL, state=state, opened_at=OPENED, updated_at=OPENED,
        source="alertmanager", labels=labels if labels is not None else LABELS)
    notification = Notification(id="n1", incident_number=3, channel="team-x",
                                target="channel:team-x", address="", event="trigger",
                                created_at=OPENED)
    return build_message(config, config.channels["team-x"], notification, incident).text


@pytest.mark.parametrize(("template", "state", "expected"), [
    (SUBJECT, IncidentState.TRIGGERED, "[FIRING:1] DiskFull db-1 3 node critical"),
    (SUBJECT, IncidentState.ACKNOWLEDGED, "[FIRING:1] DiskFull db-1 3 node critical"),
    (SUBJECT, IncidentState.RESOLVED, "[RESOLVED] DiskFull db-1 3 node critical"),
    ('{{ template "__text_alert_list" .Alerts.Firing }}', IncidentState.TRIGGERED,
     "Labels:\n - alertname = DiskFull\n - instance = db-1\n - items = 3\n - job = node\n"
     " - severity = critical"),
    ('{{ template "team.title" . }}: {{ .CommonAnnotations.summary }}',
     IncidentState.TRIGGERED, "DiskFull on db-1: Disk full on db-1"),
    ("{{ range .Alerts.Resolved }}{{ .Labels.instance }} is back{{ else }}still "
     "{{ .Status }}{{ end }}", IncidentState.TRIGGERED, "still firing"),
    ("{{ range .Alerts.Resolved }}{{ .Labels.instance }} is back{{ else }}still "
     "{{ .Status }}{{ end }}", IncidentState.RESOLVED, "db-1 is back"),
    ('{{ if eq .CommonLabels.severity "critical" "page" }}PAGE{{ else if .CommonLabels.team }}'
     "team{{ else }}none{{ end }}", IncidentState.TRIGGERED, "PAGE"),
    ("{{ with .CommonLabels.team }}team {{ . }}{{ else }}no team{{ end }}, "
     "{{ with .CommonLabels.job }}job {{ . | toUpper }}{{ end }}", IncidentState.TRIGGERED,
     "no team, job NODE"),
    ('{{ .CommonLabels.SortedPairs.Names }} {{ len .CommonLabels }} {{ .CommonLabels.items }} '
     '{{ index .CommonLabels "job" }}', IncidentState.TRIGGERED,
     "[alertname instance items job severity] 5 3 node"),
    ('{{ .CommonLabels.instance | reReplaceAll "db-" "database " | title }} '
     "{{ .CommonLabels.alertname | toLower }} {{ safeHtml .CommonLabels.job }}",
     IncidentState.TRIGGERED, "Database 1 diskfull node"),
    ("{{ if and .CommonLabels.job (not .CommonLabels.team) }}a{{ end }}"
     "{{ if or .CommonLabels.team .CommonLabels.job }}b{{ end }}"
     "{{ if gt (len .Alerts) 0 }}c{{ end }}{{ if lt 1 2 }}d{{ end }}{{ eq 1 2 }}",
     IncidentState.TRIGGERED, "abcdfalse"),
    ("{{- /* a comment */ -}}\n  {{ .Status -}}  \n  !\n{{ `{% raw` }} {# {{ \"{{\" }}\n",
     IncidentState.TRIGGERED, "firing!\n{% raw {# {{"),
    ("{{ range .CommonLabels }}{{ . }},{{ end }} {{ range $.Alerts }}{{ $.Status }}{{ end }}",
     IncidentState.TRIGGERED, "DiskFull,db-1,3,node,critical, firing"),
])
def test_translations_render_what_alertmanager_renders(
        tmp_path: Path, template: str, state: IncidentState, expected: str) -> None:
    assert rendered(tmp_path, template, state=state) == expected


def test_empty_output_and_a_last_newline_are_kept_as_go_keeps_them() -> None:
    """(router's message building strips newlines and replaces blank text: Jinja alone.)"""
    jinja = translated('{{ template "__text_alert_list" .Alerts.Resolved }}')
    incident = {"state": "triggered", "labels": LABELS}
    assert compile_template(jinja).render(incident=incident) == ""
    assert compile_template(translated("{{ .Status }}\n")).render(incident=incident) == \
        "firing\n"


def test_a_missing_label_prints_nothing(tmp_path: Path) -> None:
    assert rendered(tmp_path, "<{{ .CommonLabels.team }}>{{ .CommonLabels.job }}") == "<>node"


def test_findings_say_what_was_translated_and_what_changed() -> None:
    report = Report("alertmanager.yml")
    translated("{{ .CommonLabels.alertname }}", report)
    translated(SUBJECT, report)
    translated("{{ .Receiver }} {{ range .Alerts }}{{ .StartsAt }}{{ end }}", report)
    translated("{{ .CommonLabels.job | title }}", report)
    assert [(finding.kind, finding.path, finding.message) for finding in report.findings] == [
        ("converted", "receivers[0].slack_configs[0].text", "template translated to Jinja"),
        ("changed", "receivers[0].slack_configs[0].text",
         "template translated to Jinja; router notifies each alert (label set) as its own "
         "incident: `.Alerts` holds that one alert; `.GroupLabels` is the incident's labels: "
         "router has no groups, so labels outside the route's group_by show too"),
        ("changed", "receivers[0].slack_configs[0].text",
         "template translated to Jinja; `.Receiver` is the channel's id (the channel the "
         "receiver became); router notifies each alert (label set) as its own incident: "
         "`.Alerts` holds that one alert; `.StartsAt` is when the incident opened, as ISO "
         "8601 text (2026-03-02T09:30:00+00:00), not Go's 2026-03-02 09:30:00 +0000 UTC"),
        ("changed", "receivers[0].slack_configs[0].text",
         "template translated to Jinja; `title` starts a word after white space, a hyphen or "
         "a bracket only (Alertmanager also after punctuation such as / or ,)"),
    ]


@pytest.mark.parametrize(("template", "message"), [
    ("{{ .ExternalURL }}/#/alerts",
     "cannot translate: the field .ExternalURL has no counterpart in router's template "
     "context (docs/channels.md)"),
    ("{{ .CommonAnnotations.description }}",
     "cannot translate: the annotation 'description': router's template context has no "
     "annotations, only the incident's summary"),
    ("{{ range .Alerts }}{{ .GeneratorURL }}{{ end }}",
     "cannot translate: the field .GeneratorURL has no counterpart in router's template "
     "context (docs/channels.md)"),
    ('{{ printf "%s" .Status }}', "cannot translate: the function printf"),
    ("{{ .Receiver | urlquery }}", "cannot translate: the function urlquery"),
    ('{{ .CommonLabels.job | reReplaceAll "n(o)de" "$1" }}',
     "cannot translate: reReplaceAll with a regular expression or a $ in the replacement "
     "(Jinja has no regular expressions)"),
    ('{{ $name := .CommonLabels.job }}{{ $name }}',
     "cannot translate: line 1: a variable declaration ($name := .CommonLabels.job)"),
    ('{{ template "slack.default.title" . }}',
     'cannot translate: {{ template "slack.default.title" }}: no such template is defined '
     "in the template or the config's template files"),
    ("{{ .CommonLabels }}",
     "cannot translate: printing a label set (Go prints its internal form)"),
    ('{{ block "x" . }}{{ end }}', "cannot translate: line 1: {{block}}"),
    ("{{ if .Status }}open", "not a valid Go template: unexpected end of the template: "
                             "missing {{end}}"),
    ("line\n{{ .Status ) }}", "not a valid Go template: line 2: unbalanced parentheses or "
                              "an empty command"),
    ("{{ .Status }}{{ end }}", "not a valid Go template: line 1: unexpected {{end}}"),
])
def test_what_cannot_be_translated_is_reported_by_name(template: str, message: str) -> None:
    report = Report("alertmanager.yml")
    assert translate_template(template, place(), report) is None
    assert [(finding.kind, finding.message) for finding in report.findings] == [
        ("unsupported", f"template left out (the channel keeps router's default): {message}")]
