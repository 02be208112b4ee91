"""Grafana unified alerting webhook (room: alerts.formats; imports alerts.model, errors).

Grafana's webhook contact point sends Alertmanager's version-4 skeleton (with `version` "1")
plus fields of its own, so each entry of `alerts` is read by alertmanager.parse_alert and then
given Grafana's extras. Unknown keys are ignored; the deprecated group-level `title`, `state`
and `message` are rendered text about the group and are not used.

Each alert maps as the Alertmanager webhook's do (alertmanager.py: dedup_key from
`fingerprint`, Grafana's hash of the rule's labels; status; labels; annotations; summary;
severity from labels.severity with the same table; service; starts_at; ends_at), and also:

| Alert field | from                                                                         |
| ----------- | ---------------------------------------------------------------------------- |
| details     | `values` as `values.<refId>` (numbers as text), `valueString`, and `orgId`   |
|             | (the alert's, else the payload's)                                            |
| links       | `generatorURL` "Alert rule", `silenceURL` "Silence", `dashboardURL`          |
|             | "Dashboard", `panelURL` "Panel", `imageURL` "Image"; empty URLs are skipped  |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from router.alerts.formats import _json, alertmanager
from router.alerts.model import Alert

SOURCE = "grafana"

LINKS = (
    ("generatorURL", "Alert rule"),
    ("silenceURL", "Silence"),
    ("dashboardURL", "Dashboard"),
    ("panelURL", "Panel"),
    ("imageURL", "Image"),
)


def parse_decoded(decoded: object, headers: Mapping[str, str], *,
                  limits: _json.FieldLimits, now: datetime) -> list[Alert]:
    """The alerts of one Grafana webhook notification.

    Raises:
        BadRequest: naming the field at fault.
    """
    document = _json.as_object(decoded, "", "a JSON object (a Grafana webhook)")
    organisation = _json.number(document, "orgId", "")
    entries = _json.alert_list(document, "alerts", "")
    alerts = []
    for position, entry in enumerate(entries):
        path = _json.index("alerts", position)
        alert = alertmanager.parse_alert(entry, path, SOURCE, limits)
        item = _json.as_object(entry, path)
        alerts.append(dataclasses.replace(
            alert,
            details=_details(item, path, organisation),
            links=_json.url_links(item, path, LINKS),
        ))
    return alerts


parse = _json.from_bytes(parse_decoded)
"""The same, from the body's bytes (contract.Format)."""


def _details(
    item: Mapping[str, object], path: str, organisation: int | float | None
) -> Mapping[str, str]:
    details = {}
    values = _json.detail_map(item, "values", path)
    for reference, value in values.items():
        details[f"values.{reference}"] = value
    value_string = _json.text(item, "valueString", path)
    if value_string:
        details["valueString"] = value_string
    own = _json.number(item, "orgId", path)
    organisation = own if own is not None else organisation
    if organisation is not None:
        details["orgId"] = _json.detail_text(organisation, "orgId")
    return MappingProxyType(details)
