"""notify/templates.py's default templates as Python render exactly what their Jinja2 text
(the documented default a channel's own template replaces) renders, for every event and every
shape of incident that changes the text."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from router.notify import templates
from router.notify.templates import DEFAULT_TEXTS, DEFAULT_TITLES, compile_template

LABELS = [
    {},
    {"host": "db-1"},
    {"host": "db-1", "alertname": "DiskFull", "Zone": "b", "app": "x y", "B": "2", "b": "1"},
]
INCIDENTS = [
    {"summary": "Disk full on db-1", "severity": "critical", "state": "triggered",
     "alert_count": 1, "level": 1, "assigned_to": None, "acknowledged_by": None},
    {"summary": "{{ not a template }} <b>&\"'", "severity": "warning",
     "state": "acknowledged", "alert_count": 7, "level": 3, "assigned_to": "ann",
     "acknowledged_by": "bob"},
    {"summary": "", "severity": "info", "state": "resolved", "alert_count": 0, "level": 0,
     "assigned_to": "", "acknowledged_by": ""},
]
SERVICES = [{"id": "database", "name": "Database", "description": "the main cluster"},
            {"id": "", "name": "", "description": ""}]
LINKS = [None, "", "https://router.example.com/l/INC3?token=t"]
HEALTH = [{}, {"disk": "critical: 95% used", "Memory": "ok: 40%", "cpu": "warning: 85%"}]
"""A first page's attached checks (issue 19's health context), or none."""
DIRECT = [{}, {"title": "Deploy finished", "message": "v2 is out"}, {"title": "t", "message": ""}]
"""A direct message's fields (POST /v1/notify), or none for other notifications."""
ANALYSIS = [{}, {"summary": "Disk full: looked at disk; 2 recommendations",
                 "probable_cause": "/var is 97% full",
                 "recommendations": [
                     {"type": "disk", "priority": "critical", "title": "/var is 97% full",
                      "description": "1 GiB free"},
                     {"type": "network", "priority": "medium", "title": "Check DNS",
                      "description": ""}]},
            {"summary": "s", "probable_cause": "", "recommendations": []}]
"""An analysis follow-up's analysis (issue 21), or none for other notifications."""


def contexts() -> list[dict[str, Any]]:
    found = []
    for labels, incident, service, link, health, direct, analysis in itertools.product(
            LABELS, INCIDENTS, SERVICES, LINKS, HEALTH, DIRECT, ANALYSIS):
        found.append({
            "incident": {"id": "INC3", "number": 3, "service": service["id"] or None,
                         "dedup_key": "db-1/disk", "opened_at": "2026-03-02T09:30:00+00:00",
                         "labels": labels, **incident},
            "event": "trigger", "channel": {"id": "pager", "type": "log"},
            "notification": {"id": "n1", "target": "channel:pager", "address": ""},
            "service": service, "person": None, "test": False,
            "incident_url": "https://router.example.com/v1/incidents/INC3",
            "acknowledge_url": link, "health": health, "direct": direct,
            "analysis": analysis})
    return found


@pytest.mark.parametrize("kind", [*DEFAULT_TITLES, "unknown-event"])
def test_every_default_renders_as_its_jinja_text(kind: str) -> None:
    checked = 0
    for context in contexts():
        for jinja, makers in ((DEFAULT_TITLES, templates._DEFAULT_TITLE_MAKERS),
                              (DEFAULT_TEXTS, templates._DEFAULT_TEXT_MAKERS)):
            expected = compile_template(jinja.get(kind, jinja["message"])).render(context)
            assert makers.get(kind, makers["message"])(context) == expected, (kind, context)
            checked += 1
    assert checked == 2 * len(LABELS) * len(INCIDENTS) * len(SERVICES) * len(LINKS) \
        * len(HEALTH) * len(DIRECT) * len(ANALYSIS)


def test_every_event_with_a_default_has_a_maker() -> None:
    assert set(templates._DEFAULT_TITLE_MAKERS) == set(DEFAULT_TITLES)
    assert set(templates._DEFAULT_TEXT_MAKERS) == set(DEFAULT_TEXTS)
