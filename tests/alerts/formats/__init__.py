"""Tests of the inbound formats; LIMITS are the config's default alert limits, NOW the
instant the tests' requests arrive (only alertmanager_v2 reads it), EXAMPLES the real
payloads in payloads/ of each format in router.alerts.formats.FORMATS (payloads/SOURCES.md
says where each came from)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.config.model import AlertLimits

LIMITS = AlertLimits()
NOW = datetime(2026, 11, 23, 14, 17, 25, tzinfo=UTC)
PAYLOADS = Path(__file__).parent / "payloads"
EXAMPLES = {
    "native": ["native_single.json", "native_list.json"],
    "alertmanager": ["alertmanager_firing.json", "alertmanager_resolved.json"],
    "alertmanager_v2": ["alertmanager_v2_firing.json", "alertmanager_v2_resolved.json"],
    "pagerduty": ["pagerduty_trigger.json", "pagerduty_acknowledge.json",
                  "pagerduty_resolve.json"],
    "grafana": ["grafana.json"],
    "datadog": ["datadog_triggered.json", "datadog_recovered.json", "datadog_default.json"],
    "new_relic": ["new_relic_classic.json", "new_relic_workflow.json"],
    "opsgenie": ["opsgenie_create.json", "opsgenie_close.json"],
    "zabbix": ["zabbix_problem.json", "zabbix_recovery.json"],
    "pagerduty_webhook": ["pagerduty_webhook_v3.json", "pagerduty_webhook_v2.json"],
}


def example(name: str) -> Any:
    """The decoded payload `name`; a PagerDuty event gets a routing key of the right shape."""
    document = json.loads((PAYLOADS / name).read_bytes())
    if name.startswith("pagerduty"):
        document["routing_key"] = "R0123456789abcdef0123456789abcde"
    return document
