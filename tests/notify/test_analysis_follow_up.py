"""An `analysis` follow-up as templates see it (issue 21 item 1): a channel's own template
reads `analysis`; the default title and text say what was found; other notifications see an
empty `analysis`, and a follow-up's note is never read as a health context."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

from router.config import load_config
from router.notify.templates import build_message
from tests.notify import make_message

CONFIG = """
channels:
  - id: own
    type: log
    follow_up: analysis
    templates:
      text: >-
        {{ event }}: {{ analysis.probable_cause or 'none' }}
        {%- for item in analysis.recommendations %} | {{ item.priority }} {{ item.title }}
        {%- endfor %}{{ health | length }}
  - {id: plain, type: log, follow_up: [analysis]}
"""
NOTE = {"summary": "Disk full: looked at disk; 1 recommendation",
        "probable_cause": "/var is 97% full", "provider": "local", "fallback_used": False,
        "recommendations": [{"type": "disk", "priority": "critical",
                             "title": "/var is 97% full", "description": "1 GiB free",
                             "actions": ["du -xsh /var/*"], "details": {}}]}


def test_templates_read_the_analysis_of_a_follow_up(tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text(textwrap.dedent(CONFIG))
    config = load_config([tmp_path / "router.yaml"], environ={})
    example = make_message(event="analysis")
    follow_up = replace(example.notification, note=json.dumps(NOTE))
    own = build_message(config, config.channels["own"], follow_up, example.incident)
    assert own.text == "analysis: /var is 97% full | critical /var is 97% full0"
    plain = build_message(config, config.channels["plain"], follow_up, example.incident)
    assert plain.title == "Analysis of INC3: Disk full on db-1"
    assert plain.text.splitlines()[:3] == [
        "Disk full: looked at disk; 1 recommendation", "Probable cause: /var is 97% full",
        "- [critical] /var is 97% full: 1 GiB free"]
    trigger = make_message(event="trigger")
    page = build_message(config, config.channels["own"], trigger.notification, trigger.incident)
    assert page.text == "trigger: none0"


def test_slack_gets_an_analysis_as_a_follow_up_without_buttons() -> None:
    from datetime import UTC, datetime

    from router.config.model import Secret
    from router.notify import slack
    message = make_message(event="analysis", title="Analysis of INC3: Disk full on db-1",
                           text="Disk full: looked at disk\n- [critical] /var is 97% full")
    settings = slack.Settings(webhook_url=Secret("https://hooks.slack.invalid/T/B/x"))
    body = json.loads(slack.render(message, settings, now=datetime(2026, 3, 2, tzinfo=UTC)
                                   ).body)
    assert body["text"] == ("Analysis of INC3: Disk full on db-1\nDisk full: looked at "
                            "disk\n- [critical] /var is 97% full")
    assert [block["type"] for block in body["blocks"]] == ["section"]  # no buttons
