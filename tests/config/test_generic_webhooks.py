"""settings.generic_webhooks: shape in the schema, paths and names checked in build.py, the
typed GenericWebhook out, and the examples of docs/formats.md true to the parser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from router.alerts.formats import generic
from router.alerts.model import Severity, Status
from router.config import load_config
from router.config.model import FIELD_PATH, GenericWebhook, Settings
from router.errors import Where
from tests.alerts.formats import LIMITS
from tests.config.support import problems, write

FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"

CONFIG = """
    settings:
      generic_webhooks:
        - name: opsgenie
          summary: alert.message
          severity: alert.priority
          status: $.action
          dedup_key: alert.alias
          service: alert.entity
          labels: alert.details
          annotations: {description: alert.description, note: 'alert["last note"]'}
          severity_map: {P1: critical, P2: error, 3: warning}
          status_map: {Create: firing, Close: resolved, true: acknowledged}
          defaults: {severity: info, status: firing}
        - name: checks
          alerts: data.items
          summary: title
          labels: {host: target.host}
    """


def test_a_generic_webhook_builds_into_typed_values(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", CONFIG)
    opsgenie, checks = load_config([path]).settings.generic_webhooks
    assert opsgenie == GenericWebhook(
        name="opsgenie", summary="alert.message", severity="alert.priority",
        status="$.action", dedup_key="alert.alias", service="alert.entity",
        labels="alert.details",
        annotations={"description": "alert.description", "note": 'alert["last note"]'},
        severity_map={"P1": "critical", "P2": "error", "3": "warning"},
        status_map={"Create": "firing", "Close": "resolved", "true": "acknowledged"},
        default_severity="info", default_status="firing", where=Where(str(path), 3, 7),
    )
    assert checks == GenericWebhook(name="checks", alerts="data.items", summary="title",
                                    labels={"host": "target.host"},
                                    where=Where(str(path), 14, 7))
    with pytest.raises(TypeError):
        checks.severity_map["x"] = "info"  # type: ignore[index]


def test_no_generic_webhooks_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", "settings:\n  listen: 127.0.0.1:9999\n")
    assert load_config([path]).settings.generic_webhooks == ()
    assert Settings().generic_webhooks == ()


def test_the_built_webhook_reads_a_body(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", CONFIG)
    opsgenie, _ = load_config([path]).settings.generic_webhooks
    body = {"action": "Close", "alert": {"message": "m", "priority": 3, "last note": "done"}}
    [alert] = generic.parse(json.dumps(body).encode(), {}, opsgenie, limits=LIMITS)
    assert (alert.severity, alert.status) == (Severity.WARNING, Status.RESOLVED)
    assert alert.annotations == {"note": "done"} and alert.source == "generic:opsgenie"


def test_a_bad_path_is_reported_at_its_place(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "config/settings.yaml", """
        settings:
          generic_webhooks:
            - name: opsgenie
              status: action
              summary: alert..message
        """)
    monkeypatch.chdir(tmp_path)
    assert problems(["config"]) == [
        "config/settings.yaml:5:16: settings.generic_webhooks[0].summary: 'alert..message' is "
        "not a field path: write names joined by dots and list positions in brackets, such as "
        "alert.message, alerts[0].labels or details[\"ping time\"], or $ for the whole body"]


def test_every_bad_path_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          generic_webhooks:
            - name: a
              alerts: items[*]
              summary: .title
              severity: level.
              status: $state
              dedup_key: "id "
              service: 'svc["x]'
              labels: {host: "target host", ok: target.host}
              annotations: "notes[-1]"
            - {name: b, summary: ok, labels: "$$"}
        """)
    found = problems([path])
    assert [re.sub(r": '.*", "", line.removeprefix(f"{path}:")) for line in found] == [
        "4:15: settings.generic_webhooks[0].alerts",
        "5:16: settings.generic_webhooks[0].summary",
        "6:17: settings.generic_webhooks[0].severity",
        "7:15: settings.generic_webhooks[0].status",
        "8:18: settings.generic_webhooks[0].dedup_key",
        "9:16: settings.generic_webhooks[0].service",
        "10:22: settings.generic_webhooks[0].labels.host",
        "11:20: settings.generic_webhooks[0].annotations",
        "12:38: settings.generic_webhooks[1].labels",
    ]
    assert "'items[*]' is not a field path: write names" in found[0]


def test_names_are_unique(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          generic_webhooks:
            - {name: opsgenie, summary: alert.message}
            - {name: checks, summary: title}
            - {name: opsgenie, summary: message}
        """)
    assert problems([path]) == [
        f"{path}:5:14: settings.generic_webhooks[2].name: generic webhook name 'opsgenie' is "
        f"used twice: here and at {path}:3:7"]


@pytest.mark.parametrize(("item", "message"), [
    ("{name: x}", "3:7: settings.generic_webhooks[0]: missing required key 'summary'"),
    ("{summary: s}", "3:7: settings.generic_webhooks[0]: missing required key 'name'"),
    ("{name: x, sumary: s, summary: s}",
     "3:17: settings.generic_webhooks[0].sumary: unknown key 'sumary' (did you mean "
     "'summary'?); expected one of: alerts, annotations, dedup_key, defaults, labels, name, "
     "service, severity, severity_map, status, status_map, summary"),
    ("{name: 'x y', summary: s}",
     "3:14: settings.generic_webhooks[0].name: expected an id of letters, digits, '.', '_' "
     "and '-', starting with a letter or digit, got 'x y'"),
    ("{name: x, summary: ''}",
     "3:26: settings.generic_webhooks[0].summary: expected non-empty text"),
    ("{name: x, summary: 3}",
     "3:26: settings.generic_webhooks[0].summary: expected text, got 3; write '3' in quotes "
     "to keep it as text"),
    ("{name: x, summary: s, labels: [a, b]}",
     "3:37: settings.generic_webhooks[0].labels: expected a field path to a mapping, or a "
     "mapping of names to field paths"),
    ("{name: x, summary: s, severity_map: {P1: fatal}}",
     "3:48: settings.generic_webhooks[0].severity_map.P1: expected one of critical, error, "
     "warning, info, got 'fatal'"),
    ("{name: x, summary: s, status_map: {Close: closed}}",
     "3:49: settings.generic_webhooks[0].status_map.Close: expected one of firing, "
     "acknowledged, resolved, got 'closed'"),
    ("{name: x, summary: s, defaults: {severity: high}}",
     "3:50: settings.generic_webhooks[0].defaults.severity: expected one of critical, "
     "error, warning, info, got 'high'"),
    ("{name: x, summary: s, defaults: {service: web}}",
     "3:40: settings.generic_webhooks[0].defaults.service: unknown key 'service'; expected "
     "one of: severity, status"),
])
def test_the_shape_is_checked_by_the_schema(tmp_path: Path, item: str, message: str) -> None:
    path = write(tmp_path, "settings.yaml", f"settings:\n  generic_webhooks:\n    - {item}\n")
    assert problems([path]) == [f"{path}:{message}"]


def test_the_config_and_the_parser_share_one_path_grammar() -> None:
    # alerts.formats may not import the config, so each holds the pattern
    assert FIELD_PATH.pattern == generic.FIELD_PATH.pattern


def _examples(section: str) -> list[tuple[str, str]]:
    """The (yaml, json) example pairs of one section of docs/formats.md."""
    text = FORMATS.read_text(encoding="utf-8").split(section, 1)[1].split("\n## ", 1)[0]
    yamls = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    jsons = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    return list(zip(yamls, jsons, strict=True))


def test_the_examples_of_docs_formats_read_as_documented(tmp_path: Path) -> None:
    [(opsgenie_yaml, opsgenie_json), (batch_yaml, batch_json)] = _examples(
        "## Generic JSON webhook")
    [opsgenie] = load_config([write(tmp_path, "a.yaml", opsgenie_yaml)]
                             ).settings.generic_webhooks
    [alert] = generic.parse(opsgenie_json.encode(), {}, opsgenie, limits=LIMITS)
    assert (alert.summary, alert.severity, alert.status, alert.dedup_key, alert.service) == (
        "Disk /var is 95% full on db-1", Severity.ERROR, Status.FIRING, "disk-full/db-1/var",
        "database")
    assert alert.labels == {"host": "db-1", "mount": "/var"}
    assert alert.annotations == {"description": "Only 5% of /var is left.",
                                 "tags": '["disk","prod"]', "opsgenie_id": "42"}
    [checks] = load_config([write(tmp_path, "b.yaml", batch_yaml)]).settings.generic_webhooks
    web1, web2 = generic.parse(batch_json.encode(), {}, checks, limits=LIMITS)
    assert (web1.labels, web1.severity, web1.status, web1.dedup_key) == (
        {"host": "web-1", "check": "https"}, Severity.ERROR, Status.FIRING, "c-17")
    assert (web2.labels["host"], web2.severity, web2.status) == (
        "web-2", Severity.WARNING, Status.RESOLVED)
