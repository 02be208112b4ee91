"""Alertmanager's receivers -> router's channels (room: migrate; imports config).

Each integration of a receiver becomes one channel; a receiver with none becomes none (its
routes still decide where matching stops, and notify nobody). Secrets never reach the
output: a `*_file` setting becomes `${file:PATH}` (the path made absolute against the
Alertmanager file's directory, as Alertmanager reads it), an inline secret becomes
`${env:NAME}` and the report names the variable to set. Integrations router has no channel
for are reported with their line, or become a webhook channel to a bridge with
`webhook_fallback`.

Template keys with a router counterpart (docs/channels.md#templates) are translated to Jinja
(templates.py) into the channel's `templates:`: slack `title` and `text`, email `html`,
`text` and `headers.Subject` (router's email title is the subject), pagerduty `description`
(router's pagerduty title is the event's summary). One that cannot be translated is left
out, so the channel keeps router's default, and the finding says why; the other keys are
reported as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.config.load import Source
from router.migrate.alertmanager.report import Refused, Report
from router.migrate.alertmanager.templates import translate_template

UNSUPPORTED = ("opsgenie_configs", "victorops_configs", "wechat_configs", "pushover_configs",
               "sns_configs", "telegram_configs", "webex_configs", "discord_configs",
               "msteams_configs")
SUPPORTED = ("webhook_configs", "email_configs", "slack_configs", "pagerduty_configs")
_KIND = {"webhook_configs": "webhook", "email_configs": "email", "slack_configs": "slack",
         "pagerduty_configs": "pagerduty"}
# Alertmanager's send_resolved defaults; router always sends the resolve follow-up.
_RESOLVED_DEFAULT = {"webhook": True, "email": False, "slack": False, "pagerduty": True}
_TEMPLATE_KEYS = {"html", "text", "title", "pretext", "fallback", "description", "details",
                  "subject", "message", "footer"}
_TEMPLATES = {"slack": {"title": "title", "text": "text"},
              "email": {"html": "html", "text": "text"},
              "pagerduty": {"description": "title"}}
"""Each channel type's Alertmanager template keys and the router template they become."""
_DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(slots=True)
class Channels:
    """The channels written, each receiver's channel ids and each channel's line."""

    channels: list[dict[str, Any]] = field(default_factory=list)
    by_receiver: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    report: Report
    base_dir: Path
    globals: Mapping[str, Any]
    global_source: Source
    webhook_fallback: bool
    definitions: Sequence[str] = ()  # the texts of the config's `templates:` files
    reported: set[str] = field(default_factory=set)  # global secrets' variables named once


def convert_receivers(data: Mapping[str, Any], source: Source, report: Report, *,
                      base_dir: Path, webhook_fallback: bool = False,
                      definitions: Sequence[str] = ()) -> Channels:
    """The config's `receivers` as router channels; `definitions` are the texts of the
    config's `templates:` files, whose `{{ define }}`s the receivers' templates may call.

    Raises:
        Refused: `receivers` is not a list of named receivers, or a name repeats.
    """
    receivers = data.get("receivers") or []
    global_settings = data.get("global") or {}
    if not isinstance(receivers, list) or not isinstance(global_settings, Mapping):
        raise Refused(source.where.line, source.path, "expected receivers as a list and "
                                                      "global as a mapping")
    context = _Context(report=report, base_dir=base_dir, globals=global_settings,
                       global_source=source.at("global"), webhook_fallback=webhook_fallback,
                       definitions=definitions)
    result = Channels()
    taken: set[str] = set()
    for index, receiver in enumerate(receivers):
        place = source.at("receivers").at(index)
        name = receiver.get("name") if isinstance(receiver, Mapping) else None
        if not isinstance(name, str) or not name:
            raise Refused(place.where.line, place.path, "a receiver needs a name")
        if name in result.by_receiver:
            raise Refused(place.where.line, place.path, f"receiver {name!r} is defined twice")
        result.by_receiver[name] = _receiver(context, receiver, place, taken, result)
    return result


def _receiver(context: _Context, receiver: Mapping[str, Any], place: Source,
              taken: set[str], result: Channels) -> tuple[str, ...]:
    ids: list[str] = []
    base = _identifier(receiver["name"])
    for key, items in receiver.items():
        if key == "name":
            continue
        if key not in SUPPORTED and key not in UNSUPPORTED:
            context.report.add("unsupported", place.at(key), f"unknown receiver key {key!r}")
            continue
        for index, item in enumerate(items or []):
            spot = place.at(key).at(index)
            kind = _KIND.get(key, "webhook")
            channel_id = _unique(f"{base}-{key.removesuffix('_configs')}", taken)
            if key in UNSUPPORTED:
                channel = _fallback(context, key, channel_id, spot)
            else:
                channel = _CONVERTERS[kind](context, item or {}, channel_id, spot)
                _send_resolved(context, kind, item or {}, spot)
                if channel is not None and kind in _TEMPLATES:
                    _templates(context, kind, item or {}, spot, channel)
            if channel is not None:
                result.channels.append(channel)
                result.lines[channel_id] = spot.where.line
                ids.append(channel_id)
    if not ids and set(receiver) == {"name"}:
        context.report.add("converted", place, f"receiver {receiver['name']!r} has no "
                                               "integrations: its routes notify nobody")
    return tuple(ids)


def _identifier(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")
    return text if text and text[0].isalnum() else f"receiver-{text}".rstrip("-")


def _unique(base: str, taken: set[str]) -> str:
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _variable(channel_id: str, key: str) -> str:
    return "ROUTER_" + re.sub(r"[^A-Z0-9]+", "_", f"{channel_id}_{key}".upper()).strip("_")


def _secret(context: _Context, item: Mapping[str, Any], key: str, spot: Source,
            channel_id: str, fallback: tuple[Mapping[str, Any], str] | None = None
            ) -> str | None:
    """`${file:...}` for KEY_file, `${env:...}` for an inline KEY (the report names the
    variable), the same from `global` when the item sets neither; None when nothing is."""
    holders = [(item, key, spot)]
    if fallback:
        holders.append((fallback[0], fallback[1], context.global_source))
    for holder, name, place in holders:
        if holder.get(f"{name}_file"):
            path = Path(str(holder[f"{name}_file"])).expanduser()
            return "${file:" + str(path if path.is_absolute() else context.base_dir / path) + "}"
        if holder.get(name):
            shared = holder is not item  # one variable for a global secret, named once
            variable = _variable("global" if shared else channel_id, name if shared else key)
            if variable not in context.reported:
                context.reported.add(variable)
                users = "every channel that uses it" if shared else f"channel {channel_id!r}"
                context.report.add("changed", place.at(name),
                                   f"{name}: the secret is not written into router's config; "
                                   f"set the environment variable {variable} to it ({users})")
            return "${env:" + variable + "}"
    return None


def _send_resolved(context: _Context, kind: str, item: Mapping[str, Any],
                   spot: Source) -> None:
    if not item.get("send_resolved", _RESOLVED_DEFAULT[kind]):
        context.report.add("changed", spot.at("send_resolved") if "send_resolved" in item
                           else spot, "send_resolved is false: router sends a follow-up "
                                      "when the incident resolves all the same")


def _templates(context: _Context, kind: str, item: Mapping[str, Any], spot: Source,
               channel: dict[str, Any]) -> None:
    """The item's templates router has, translated into `channel["templates"]`."""
    given = [(key, spot.at(key), item[key]) for key in _TEMPLATES[kind] if key in item]
    headers = item.get("headers") if kind == "email" else None
    for name, value in (headers.items() if isinstance(headers, Mapping) else ()):
        if str(name).lower() == "subject":  # Alertmanager reads header names in any case
            given.append(("subject", spot.at("headers").at(name), value))
    templates: dict[str, str] = {}
    for key, place, value in given:
        if value is None or isinstance(value, (Mapping, list)):
            context.report.add("unsupported", place, f"{key}: expected a template text")
            continue
        jinja = translate_template(str(value), place, context.report,
                                   definitions=context.definitions)
        if jinja is not None:
            templates[_TEMPLATES[kind].get(key, "title")] = jinja
    if templates:
        channel["templates"] = templates


def _leftovers(context: _Context, item: Mapping[str, Any], spot: Source,
               used: set[str], kind: str = "") -> None:
    for key in item:
        if key in used or key in _TEMPLATES.get(kind, ()) or key == "send_resolved":
            continue
        if key == "headers" and kind == "email" and isinstance(item[key], Mapping):
            for name in item[key]:
                if str(name).lower() != "subject":
                    context.report.add("unsupported", spot.at(key).at(name),
                                       f"headers.{name}: router's email sets only its own "
                                       "headers and the subject (the title)")
        elif key in _TEMPLATE_KEYS:
            context.report.add("unsupported", spot.at(key), f"{key}: router's {kind} channel "
                                                            "has no such template; left out")
        else:
            context.report.add("unsupported", spot.at(key), f"{key} is not carried over")


def _webhook(context: _Context, item: Mapping[str, Any], channel_id: str,
             spot: Source) -> dict[str, Any] | None:
    url = item.get("url") or ("${file:" + str(context.base_dir / str(item["url_file"])) + "}"
                              if item.get("url_file") else None)
    if not url:
        context.report.add("unsupported", spot, "a webhook without url: left out")
        return None
    context.report.add("changed", spot, "router posts its own JSON body (docs/channels.md), "
                                        "not Alertmanager's webhook payload")
    _leftovers(context, item, spot, {"url", "url_file"}, "webhook")
    return {"id": channel_id, "type": "webhook", "url": str(url)}


def _email(context: _Context, item: Mapping[str, Any], channel_id: str,
           spot: Source) -> dict[str, Any] | None:
    merged = {**{key.removeprefix("smtp_"): value for key, value in context.globals.items()
                 if key.startswith("smtp_")}, **item}
    host, _, port = str(merged.get("smarthost", "")).rpartition(":")
    if not host or not port.isdigit() or not merged.get("from") or not merged.get("to"):
        context.report.add("unsupported", spot, "an email receiver needs smarthost HOST:PORT, "
                                                "from and to (here or in global): left out")
        return None
    channel: dict[str, Any] = {
        "id": channel_id, "type": "email", "host": host, "port": int(port),
        "from": str(merged["from"]),
        "to": [address.strip() for address in str(merged["to"]).split(",") if address.strip()],
        "security": "tls" if port == "465" else
                    "starttls" if merged.get("require_tls", True) else "none"}
    if merged.get("auth_username"):
        channel["username"] = str(merged["auth_username"])
    password = _secret(context, item, "auth_password", spot, channel_id,
                       (context.globals, "smtp_auth_password"))
    if password:
        channel["password"] = password
    tls = merged.get("tls_config") or {}
    if tls.get("ca_file"):
        channel["ca_file"] = str(context.base_dir / str(tls["ca_file"]))
    _leftovers(context, item, spot, {"to", "from", "smarthost", "auth_username",
                                     "auth_password", "auth_password_file", "require_tls"}
               | ({"tls_config"} if set(tls) <= {"ca_file"} else set()), "email")
    return channel


def _slack(context: _Context, item: Mapping[str, Any], channel_id: str,
           spot: Source) -> dict[str, Any] | None:
    url = _secret(context, item, "api_url", spot, channel_id, (context.globals, "slack_api_url"))
    if url is None:
        context.report.add("unsupported", spot, "a slack receiver without api_url (here or "
                                                "global slack_api_url): left out")
        return None
    channel: dict[str, Any] = {"id": channel_id, "type": "slack", "webhook_url": url}
    for key in ("channel", "username"):
        if item.get(key):
            channel[key] = str(item[key])
    _leftovers(context, item, spot, {"api_url", "api_url_file", "channel", "username"},
               "slack")
    return channel


def _pagerduty(context: _Context, item: Mapping[str, Any], channel_id: str,
               spot: Source) -> dict[str, Any] | None:
    key = _secret(context, item, "routing_key", spot, channel_id)
    if key is None:
        key = _secret(context, item, "service_key", spot, channel_id)
        if key is not None:
            context.report.add("changed", spot, "service_key is an Events API v1 key; router "
                                                "sends Events API v2: give it a v2 "
                                                "integration's routing key")
    if key is None:
        context.report.add("unsupported", spot, "a pagerduty receiver without routing_key or "
                                                "service_key: left out")
        return None
    channel: dict[str, Any] = {"id": channel_id, "type": "pagerduty", "routing_key": key}
    url = item.get("url") or context.globals.get("pagerduty_url")
    if url and str(url) != _DEFAULT_PAGERDUTY_URL and "service_key" not in item:
        channel["url"] = str(url)
    _leftovers(context, item, spot, {"routing_key", "routing_key_file", "service_key",
                                     "service_key_file", "url"}, "pagerduty")
    return channel


def _fallback(context: _Context, key: str, channel_id: str, spot: Source
              ) -> dict[str, Any] | None:
    kind = key.removesuffix("_configs")
    if not context.webhook_fallback:
        context.report.add("unsupported", spot, f"router has no {kind} channel: left out "
                                                "(--webhook-fallback makes it a webhook)")
        return None
    variable = _variable(channel_id, "url")
    context.report.add("changed", spot, f"router has no {kind} channel: a webhook channel "
                                        f"instead; set {variable} to a bridge that forwards "
                                        f"router's webhook JSON to {kind}")
    return {"id": channel_id, "type": "webhook", "url": "${env:" + variable + "}"}


_CONVERTERS = {"webhook": _webhook, "email": _email, "slack": _slack,
               "pagerduty": _pagerduty}
