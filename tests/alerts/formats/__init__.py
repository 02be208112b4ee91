"""Tests of the inbound formats; LIMITS are the config's default alert limits, NOW the
instant the tests' requests arrive (only alertmanager_v2 reads it), EXAMPLES the real
payloads in payloads/ of each format in router.alerts.formats.FORMATS."""

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
}


def example(name: str) -> Any:
    """The decoded payload `name`; a PagerDuty event gets a routing key of the right shape."""
    document = json.loads((PAYLOADS / name).read_bytes())
    if name.startswith("pagerduty"):
        document["routing_key"] = "R0123456789abcdef0123456789abcde"
    return document
