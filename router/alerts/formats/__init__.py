"""One module per inbound format, each a `Format`: parse(body, headers, *, limits, now) ->
list[Alert]; the explicit registry of the fixed ones.

A new format is one module here and one line in FORMATS; mypy checks that the module
satisfies `Format` (contract.py). A generic webhook is a format made from its declared
mapping (`generic.GenericFormat`), so it is not listed.
"""

from __future__ import annotations

from collections.abc import Mapping

from router.alerts.formats import (
    alertmanager,
    alertmanager_v2,
    datadog,
    grafana,
    native,
    new_relic,
    opsgenie,
    pagerduty,
    pagerduty_webhook,
    zabbix,
)
from router.alerts.formats._json import FieldLimits
from router.alerts.formats._json import decode as decode_json
from router.alerts.formats._json import kind as json_kind
from router.alerts.formats.contract import Format

FORMATS: Mapping[str, Format] = {
    "native": native,
    "alertmanager": alertmanager,
    "alertmanager_v2": alertmanager_v2,
    "grafana": grafana,
    "datadog": datadog,
    "pagerduty": pagerduty,
    "new_relic": new_relic,
    "opsgenie": opsgenie,
    "zabbix": zabbix,
    "pagerduty_webhook": pagerduty_webhook,
}
"""Each fixed format by the `source` its alerts carry."""

__all__ = ["FORMATS", "FieldLimits", "Format", "decode_json", "json_kind"]
