"""The `settings` section -> Settings (room: config): listen address, tokens, allowed hosts,
generic webhooks, links, fatigue limits, TLS, the sources' resolve timeouts, the store, the
outbox's claim lease and the analysis pool's bounds."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from router.config.build.context import Context
from router.config.build.users import web_settings
from router.config.database_url import parse_database_url
from router.config.load import Source
from router.config.model import (
    FIELD_PATH,
    RESOLVE_TIMEOUTS,
    SCOPES,
    SOURCES,
    AlertLimits,
    AnalysisPool,
    DeliverySettings,
    FatigueLimits,
    GenericWebhook,
    IngestToken,
    Settings,
    StoreSetting,
    frozen_mapping,
)
from router.config.secrets import SecretMissing
from router.config.tls import build_tls
from router.config.values import (
    parse_allowed_host,
    parse_listen,
    parse_positive_duration,
    parse_timezone,
)

_WEBHOOK_PATHS = ("summary", "severity", "status", "dedup_key", "service", "alerts")


def build_settings(context: Context, data: dict[str, Any], source: Source) -> Settings:
    values: dict[str, Any] = {"where": source.where}
    if (zone := context.parse(parse_timezone, data, source, "timezone")) is not None:
        values["timezone"] = zone
    for key in ("listen", "public_url", "max_body_bytes"):
        if key in data:
            values[key] = data[key]
    context.parse(parse_listen, data, source, "listen")  # refused here, not at `router run`
    values["ingest_tokens"] = tuple(
        ingest_token(context, token, source.at("ingest_tokens").at(index))
        for index, token in enumerate(data.get("ingest_tokens", ())))
    values["allowed_hosts"] = allowed_hosts(context, data.get("allowed_hosts", ()),
                                            source.at("allowed_hosts"))
    if "fatigue" in data:
        values["fatigue"] = FatigueLimits(**data["fatigue"])
    if "alert_limits" in data:
        values["alert_limits"] = AlertLimits(**data["alert_limits"])
    if "analysis_pool" in data:
        values["analysis_pool"] = AnalysisPool(**data["analysis_pool"])
    if "link_secret" in data:
        values["link_secret"] = context.secret(data["link_secret"])
    if (lifetime := context.parse(parse_positive_duration, data, source, "link_lifetime")):
        values["link_lifetime"] = lifetime
    if (retention := context.parse(parse_positive_duration, data, source, "retention")):
        values["retention"] = retention
    webhooks = source.at("generic_webhooks")
    values["generic_webhooks"] = tuple(
        generic_webhook(context, item, webhooks.at(index))
        for index, item in enumerate(data.get("generic_webhooks", ())))
    unique_webhook_names(context, values["generic_webhooks"], webhooks)
    if "resolve_timeout" in data:
        values["resolve_timeout"] = resolve_timeouts(
            context, data["resolve_timeout"], source.at("resolve_timeout"),
            {webhook.name for webhook in values["generic_webhooks"]})
    if "tls" in data:
        values["tls"], problems = build_tls(data["tls"], source.at("tls"),
                                            load_files=context.resolver.resolve)
        context.problems.extend(problems)
    if "web" in data:
        values["web"] = web_settings(context, data["web"], source.at("web"))
    if "store" in data:
        values["store"] = store(context, data["store"], source.at("store"))
    if "delivery" in data:
        delivery = data["delivery"]
        lease = context.parse(parse_positive_duration, delivery, source.at("delivery"), "lease")
        values["delivery"] = DeliverySettings(**({"lease": lease} if lease else {}))
    return Settings(**values)


def store(context: Context, data: str | dict[str, Any], source: Source) -> StoreSetting:
    """`sqlite`, or `{url: ...}` read from the text as written: the loader has resolved its
    references, and whether the password was one can only be seen before."""
    if not isinstance(data, dict) or "url" not in data:
        return "sqlite"  # the schema allows no other text, and reported a missing url
    place = source.at("url")
    node = place.node
    written = node.value if isinstance(node, yaml.ScalarNode) else str(data["url"])
    try:
        parsed = parse_database_url(written, context.resolver, Path(source.file).parent)
        return dataclasses.replace(parsed, where=place.where)
    except ValueError as error:
        context.error(place, str(error))
    except SecretMissing:
        pass  # the loader reported it at this place already
    return "sqlite"


def allowed_hosts(context: Context, hosts: list[str], source: Source) -> tuple[str, ...]:
    accepted = []
    for index, host in enumerate(hosts):
        try:
            accepted.append(parse_allowed_host(host))
        except ValueError as error:
            context.error(source.at(index), str(error))
    return tuple(accepted)


def ingest_token(context: Context, data: dict[str, Any], source: Source) -> IngestToken:
    """A token; without `scopes`, one with `sources` is a sender's (`ingest` only) and
    one without has every scope, as before scopes existed."""
    sources = frozenset(data.get("sources", ()))
    scopes = frozenset(data.get("scopes", ("ingest",) if sources else SCOPES))
    return IngestToken(name=data["name"], token=context.secret(data["token"]),
                       sources=sources, scopes=scopes, where=context.place(source))


def generic_webhook(context: Context, data: dict[str, Any], source: Source) -> GenericWebhook:
    values = {key: data[key] for key in _WEBHOOK_PATHS if key in data}
    for key, text in values.items():
        field_path(context, text, source.at(key))
    for key in ("labels", "annotations"):
        if isinstance(data.get(key), dict):
            for name, text in data[key].items():
                field_path(context, text, source.at(key).at(name))
            values[key] = frozen_mapping(data[key])
        elif key in data:
            field_path(context, data[key], source.at(key))
            values[key] = data[key]
    defaults = data.get("defaults", {})
    return GenericWebhook(
        name=data["name"], severity_map=frozen_mapping(data.get("severity_map")),
        status_map=frozen_mapping(data.get("status_map")),
        default_severity=defaults.get("severity"), default_status=defaults.get("status"),
        where=context.place(source), **values,
    )


def field_path(context: Context, text: str, source: Source) -> None:
    if FIELD_PATH.fullmatch(text) is None:
        context.error(source, f"{text!r} is not a field path: write names joined by dots and "
                              "list positions in brackets, such as alert.message, "
                              "alerts[0].labels or details[\"ping time\"], or $ for the "
                              "whole body")


def unique_webhook_names(context: Context, webhooks: tuple[GenericWebhook, ...],
                         source: Source) -> None:
    """A name is the webhook's URL and its alerts' source, so it must be unique."""
    seen: dict[str, GenericWebhook] = {}
    for index, webhook in enumerate(webhooks):
        first = seen.setdefault(webhook.name, webhook)
        if first is not webhook:
            context.error(source.at(index).at("name"), f"generic webhook name "
                          f"{webhook.name!r} is used twice: here and at {first.where}")


def resolve_timeouts(context: Context, data: dict[str, str], source: Source,
                     webhooks: set[str]) -> Mapping[str, timedelta]:
    """`settings.resolve_timeout` over the defaults: a source named with a duration gets it,
    one named with `none` gets no deadline; the name must be a source router has."""
    timeouts = dict(RESOLVE_TIMEOUTS)
    for name, text in data.items():
        known = name in SOURCES or (name.startswith("generic:")
                                    and name.removeprefix("generic:") in webhooks)
        if not known:
            names = (*SOURCES, *sorted(f"generic:{hook}" for hook in webhooks))
            context.error(source.at(name), f"unknown source {name!r}; expected one of: "
                          f"{', '.join(names)}")
            continue
        if str(text).strip() == "none":
            timeouts.pop(name, None)
        elif (timeout := context.parse(parse_positive_duration, data, source, name)):
            timeouts[name] = timeout
    return frozen_mapping(timeouts)
