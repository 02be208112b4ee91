"""Message templates: what a template may read, the default templates, and `build_message`
(room: notify; imports notify.wire, notify.rendering, config.model, alerts.model, sandbox).

Templates run in the one sandboxed environment of router/sandbox.py, which `config.build`
also compiles them with at load, so `router validate` finds a syntax error; a template that
still fails while rendering (a filter given the wrong type, a sandbox refusal) never costs
the page: the default template of that name is used instead and a WARNING names the channel.
The deliverer passes its `RenderCache` (notify/rendering.py), so a channel's template renders
once for what it reads, not once per page.

The default templates are written twice: as Jinja2 text (`DEFAULT_TITLES`, `DEFAULT_TEXTS`,
what docs/channels.md shows and a channel's own template replaces) and as the Python that
renders them (`_DEFAULT_TITLE_MAKERS`, `_DEFAULT_TEXT_MAKERS`), which the deliverer runs: the
sandbox took about 200 us of the trio thread to render the default title and text of each
page, the Python a few (issue 15 item 3). tests/notify/test_default_makers.py renders both
over every event and shape of incident and requires the same text.

The context every template sees (names and types are a promise to the config's authors,
documented in docs/channels.md):

    incident        id ("INC3"), number, summary, severity, state, service (id),
                    dedup_key, labels (mapping), opened_at (ISO 8601 text), alert_count,
                    level, assigned_to, acknowledged_by
    service         id, name, description
    event           trigger, escalate, acknowledge, resolve, message, handoff or job (a
                    job's alert target: incident.labels hold job, run_id, status,
                    exit_code and duration)
    person          id and name of the person notified, or None for a channel target
    channel         id and type of the channel
    notification    id, target, address
    health          on a first page, the results of the checks its route or service
                    attaches (mapping check id -> "critical: ..."); else empty
    analysis        on an `analysis` follow-up, the incident's analysis: summary,
                    probable_cause, confidence, provider, model, fallback_used and
                    recommendations (each type, priority, title, description, actions,
                    details); else empty
    incident_url    the incident's page in router's web interface
    acknowledge_url a link that acknowledges the incident, or None
    test            true for a test notification
    title, text     (in the html and payload templates only) the rendered title and text
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from router import links
from router.alerts.model import DirectMessage, Incident, Notification
from router.config.model import Channel, Config
from router.notify.rendering import RenderCache
from router.notify.wire import Message
from router.sandbox import compile_template as compile_template  # tests import it from here

logger = logging.getLogger(__name__)

TEMPLATE_NAMES = ("title", "text", "html", "payload")
"""Every channel takes title, text and html; a webhook also its body, `payload`."""

_TITLE = "[{{ incident.severity | upper }}] {{ incident.id }}: {{ incident.summary }}"
_ABOUT = """
Service: {{ service.name }}{% if service.description %} ({{ service.description }}){% endif %}
Severity: {{ incident.severity }}
State: {{ incident.state }}, opened {{ incident.opened_at }}, {{ incident.alert_count }} \
alert{{ '' if incident.alert_count == 1 else 's' }}
{%- if incident.assigned_to %}
Assigned to: {{ incident.assigned_to }}{% endif %}
{%- if incident.labels %}
Labels: {% for name, value in incident.labels | dictsort %}{{ name }}={{ value }}\
{{ ', ' if not loop.last }}{% endfor %}{% endif %}

Incident: {{ incident_url }}"""
_ACKNOWLEDGE = """
{%- if acknowledge_url %}
Acknowledge: {{ acknowledge_url }}{% endif %}"""

_HEALTH = """
{%- if health %}

Health:
{%- for check, result in health | dictsort %}
  {{ check }}: {{ result }}{% endfor %}{% endif %}"""

DEFAULT_TITLES: Mapping[str, str] = {
    "trigger": _TITLE,
    "escalate": _TITLE,
    "acknowledge": "{{ incident.id }} acknowledged{% if incident.acknowledged_by %} by "
                   "{{ incident.acknowledged_by }}{% endif %}: {{ incident.summary }}",
    "resolve": "{{ incident.id }} resolved: {{ incident.summary }}",
    "message": "{{ incident.id }}: {{ incident.summary }}",
    "test": "[TEST] {{ incident.id }}: {{ incident.summary }}",
    "handoff": "On-call handoff: {{ incident.summary }}",
    "notify": "{{ incident.summary }}",
    "job": "{{ incident.summary }}",
    "analysis": "Analysis of {{ incident.id }}: {{ incident.summary }}",
}
"""The default title of each event ("test" for every test notification)."""

DEFAULT_TEXTS: Mapping[str, str] = {
    "trigger": "{{ incident.summary }}\n" + _ABOUT + _HEALTH + _ACKNOWLEDGE,
    "escalate": "{{ incident.summary }}\nNot acknowledged: escalated to level "
                "{{ incident.level }}.\n" + _ABOUT + _ACKNOWLEDGE,
    "acknowledge": "{{ incident.summary }}\nAcknowledged{% if incident.acknowledged_by %} by "
                   "{{ incident.acknowledged_by }}{% endif %}.\n" + _ABOUT,
    "resolve": "{{ incident.summary }}\nResolved.\n" + _ABOUT,
    "message": "{{ incident.summary }}\n" + _ABOUT + _ACKNOWLEDGE,
    "test": "This is a test notification from router through channel {{ channel.id }}; "
            "nothing needs doing.\n\n{{ incident.summary }}\n" + _ABOUT + _ACKNOWLEDGE,
    "handoff": "{{ incident.summary }}",
    "notify": "{{ incident.summary }}{% if direct.message %}\n\n{{ direct.message }}{% endif %}"
              "{% if incident.labels %}\n{% for name, value in incident.labels | dictsort %}"
              "\n{{ name }}: {{ value }}{% endfor %}{% endif %}",
    "job": "{{ incident.summary }}\n{% for name, value in incident.labels | dictsort %}"
           "\n{{ name }}: {{ value }}{% endfor %}",
    "analysis": "{{ analysis.summary }}"
                "{% if analysis.probable_cause %}\nProbable cause: {{ analysis.probable_cause }}"
                "{% endif %}{% for item in analysis.recommendations %}\n- [{{ item.priority }}] "
                "{{ item.title }}{% if item.description %}: {{ item.description }}{% endif %}"
                "{% endfor %}\n\nIncident: {{ incident_url }}",
}
"""The default text of each event. There is no default html (email escapes the text) and
no default payload (the webhook sends its documented JSON body)."""

Maker = Callable[[Mapping[str, Any]], str]
"""A default template as Python: the context in, the same text as its Jinja2 twin out."""


def _title(context: Mapping[str, Any]) -> str:
    incident = context["incident"]
    return f"[{str(incident['severity']).upper()}] {incident['id']}: {incident['summary']}"


def _by(incident: Mapping[str, Any]) -> str:
    return f" by {incident['acknowledged_by']}" if incident["acknowledged_by"] else ""


def _about(context: Mapping[str, Any]) -> str:
    """`_ABOUT`: service, severity, state, assignee, labels and the incident's link."""
    incident, service = context["incident"], context["service"]
    description = f" ({service['description']})" if service["description"] else ""
    count = incident["alert_count"]
    lines = [f"\nService: {service['name']}{description}",
             f"Severity: {incident['severity']}",
             f"State: {incident['state']}, opened {incident['opened_at']}, {count} "
             f"alert{'' if count == 1 else 's'}"]
    if incident["assigned_to"]:
        lines.append(f"Assigned to: {incident['assigned_to']}")
    if incident["labels"]:
        lines.append("Labels: " + ", ".join(f"{name}={value}"
                                            for name, value in _dictsort(incident["labels"])))
    return "\n".join(lines) + f"\n\nIncident: {context['incident_url']}"


def _dictsort(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    """Jinja2's dictsort: by key, ignoring case."""
    return sorted(mapping.items(),
                  key=lambda pair: pair[0].lower() if isinstance(pair[0], str) else pair[0])


def _pairs(labels: Mapping[str, Any]) -> str:
    """One `name: value` line per label, each after a newline (the job and notify texts)."""
    return "".join(f"\n{name}: {value}" for name, value in _dictsort(labels))


def _health_lines(context: Mapping[str, Any]) -> str:
    """`_HEALTH`: the attached checks' results on a first page."""
    health = context.get("health") or {}
    if not health:
        return ""
    return "\n\nHealth:" + "".join(f"\n  {check}: {result}"
                                    for check, result in _dictsort(health))


def _acknowledge(context: Mapping[str, Any]) -> str:
    url = context["acknowledge_url"]
    return f"\nAcknowledge: {url}" if url else ""


def _summary(context: Mapping[str, Any]) -> str:
    return f"{context['incident']['summary']}"


_DEFAULT_TITLE_MAKERS: Mapping[str, Maker] = {
    "trigger": _title,
    "escalate": _title,
    "acknowledge": lambda context: f"{context['incident']['id']} acknowledged"
                                   f"{_by(context['incident'])}: {_summary(context)}",
    "resolve": lambda context: f"{context['incident']['id']} resolved: {_summary(context)}",
    "message": lambda context: f"{context['incident']['id']}: {_summary(context)}",
    "test": lambda context: f"[TEST] {context['incident']['id']}: {_summary(context)}",
    "handoff": lambda context: f"On-call handoff: {_summary(context)}",
    "notify": _summary,
    "job": _summary,
    "analysis": lambda context: f"Analysis of {context['incident']['id']}: {_summary(context)}",
}
_DEFAULT_TEXT_MAKERS: Mapping[str, Maker] = {
    "trigger": lambda context: (f"{_summary(context)}\n{_about(context)}{_health_lines(context)}"
                                f"{_acknowledge(context)}"),
    "escalate": lambda context: (
        f"{_summary(context)}\nNot acknowledged: escalated to level "
        f"{context['incident']['level']}.\n{_about(context)}{_acknowledge(context)}"),
    "acknowledge": lambda context: (f"{_summary(context)}\nAcknowledged"
                                    f"{_by(context['incident'])}.\n{_about(context)}"),
    "resolve": lambda context: f"{_summary(context)}\nResolved.\n{_about(context)}",
    "message": lambda context: f"{_summary(context)}\n{_about(context)}{_acknowledge(context)}",
    "test": lambda context: (
        f"This is a test notification from router through channel {context['channel']['id']}"
        f"; nothing needs doing.\n\n{_summary(context)}\n{_about(context)}"
        f"{_acknowledge(context)}"),
    "handoff": _summary,
    "notify": lambda context: (
        _summary(context)
        + (f"\n\n{context['direct']['message']}" if context["direct"].get("message") else "")
        + ("\n" + _pairs(context["incident"]["labels"]) if context["incident"]["labels"]
           else "")),
    "job": lambda context: f"{_summary(context)}\n{_pairs(context['incident']['labels'])}",
    "analysis": lambda context: _analysis_text(context["analysis"], context["incident_url"]),
}


def _analysis_text(analysis: Mapping[str, Any], incident_url: str) -> str:
    """The default text of an `analysis` follow-up."""
    cause = analysis.get("probable_cause")
    lines = [f"{analysis.get('summary', '')}", *([f"Probable cause: {cause}"] if cause else [])]
    for item in analysis.get("recommendations") or ():
        description = f": {item['description']}" if item.get("description") else ""
        lines.append(f"- [{item['priority']}] {item['title']}{description}")
    return "\n".join(lines) + f"\n\nIncident: {incident_url}"


def build_message(config: Config, channel: Channel, notification: Notification,
                  incident: Incident, *, test: bool = False,
                  acknowledge_url: str | None = None,
                  cache: RenderCache | None = None) -> Message:
    """Everything the channel module needs to say about `notification`, templates rendered.

    `title` is always one line (a mail subject cannot hold more); `html` and `payload` are
    None unless the channel has such a template and it rendered. With a `cache`, a channel's
    own template that reads nothing new since it last rendered is not rendered again.
    """
    service = config.services.get(incident.service or "")
    person = _person(config, notification)
    incident_url = links.incident_page(config.settings.public_url, incident.id)
    context = _context(
        incident=incident, notification=notification, channel=channel, test=test,
        service={"id": incident.service or "", "name": service.name if service else
                 (incident.service or ""), "description": service.description if service
                 else ""},
        person=person, incident_url=incident_url, acknowledge_url=acknowledge_url)
    kind = "test" if test else notification.event
    render = functools.partial(_render, channel, context=context, cache=cache)
    title = " ".join(render("title", makers=_DEFAULT_TITLE_MAKERS, kind=kind).split())
    text = render("text", makers=_DEFAULT_TEXT_MAKERS, kind=kind).strip("\n")
    extra = {**context, "title": title, "text": text}
    return Message(
        notification=notification, incident=incident, service_name=extra["service"]["name"],
        service_description=extra["service"]["description"],
        person_name=person["name"] if person else None, incident_url=incident_url,
        acknowledge_url=acknowledge_url, title=title, text=text,
        html=_render_optional(channel, "html", extra, cache),
        payload=_render_optional(channel, "payload", extra, cache), test=test)


def _person(config: Config, notification: Notification) -> dict[str, str] | None:
    kind, _, person_id = notification.target.partition(":")
    if kind != "person":
        return None
    person = config.people.get(person_id)
    return {"id": person_id, "name": person.name if person else person_id}


def _context(*, incident: Incident, notification: Notification, channel: Channel,
             **values: Any) -> dict[str, Any]:
    """Plain values only: a template sees text, numbers and mappings, never our objects."""
    return {
        "incident": {
            "id": incident.id, "number": incident.number, "summary": incident.summary,
            "severity": incident.severity.value, "state": incident.state.value,
            "service": incident.service, "dedup_key": incident.dedup_key,
            "labels": dict(incident.labels), "opened_at": incident.opened_at.isoformat(),
            "alert_count": incident.alert_count, "level": incident.level,
            "assigned_to": incident.assigned_to, "acknowledged_by": incident.acknowledged_by,
        },
        "event": notification.event,
        "direct": _direct(notification),
        "channel": {"id": channel.id, "type": channel.type},
        "notification": {"id": notification.id, "target": notification.target,
                         "address": notification.address},
        "health": _health(incident, notification),
        "analysis": _analysis(notification),
        **values,
    }


def _direct(notification: Notification) -> dict[str, Any]:
    """A direct message's own fields (`POST /v1/notify`): its title, message, severity, tags
    and context; empty for every other notification."""
    if notification.event != "notify":
        return {}
    message = DirectMessage.from_note(notification.note)
    return {"title": message.title, "message": message.message,
            "severity": message.severity.value, "tags": list(message.tags),
            "context": dict(message.context)}


def _analysis(notification: Notification) -> dict[str, Any]:
    """An `analysis` follow-up's analysis, carried in its note; empty for the others."""
    if notification.event != "analysis":
        return {}
    try:
        found = json.loads(notification.note)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _health(incident: Incident, notification: Notification) -> dict[str, str]:
    """A first page's health context, carried in its note (a handoff notice's note is its
    text, and it has no incident; an analysis follow-up's note is its analysis)."""
    if (not incident.number or notification.event == "analysis"
            or not notification.note.startswith("{")):
        return {}
    try:
        found = json.loads(notification.note)
    except ValueError:
        return {}
    return {str(name): str(value) for name, value in found.items()} \
        if isinstance(found, dict) else {}


def _render(channel: Channel, name: str, *, context: dict[str, Any],
            makers: Mapping[str, Maker], kind: str, cache: RenderCache | None) -> str:
    """The channel's template `name`, or the default for `kind` if it has none, it fails,
    or it renders only white space (a page needs words)."""
    custom = channel.templates.get(name)
    if custom is not None:
        rendered = _try(channel, name, custom.text, context, cache)
        if rendered is not None and rendered.strip():
            return rendered
        if rendered is not None:
            logger.warning("channel %s: template %s (%s) rendered nothing, using the default "
                           "instead", channel.id, name, custom.where,
                           extra={"channel": channel.id, "template": name})
    return makers.get(kind, makers["message"])(context)


def _render_optional(channel: Channel, name: str, context: dict[str, Any],
                     cache: RenderCache | None) -> str | None:
    custom = channel.templates.get(name)
    if custom is None:
        return None
    return _try(channel, name, custom.text, context, cache)


def _try(channel: Channel, name: str, text: str, context: dict[str, Any],
         cache: RenderCache | None) -> str | None:
    """Render one of the channel's templates; None (and a WARNING) if it fails."""
    html = name == "html"
    try:
        if cache is None:
            return compile_template(text, html=html).render(context)
        return cache.render(text, context, html=html)
    except Exception as error:  # whatever a template does wrong, the page goes out
        where = channel.templates[name].where
        logger.warning("channel %s: template %s (%s) failed, using the default instead: %s: %s",
                       channel.id, name, where, type(error).__name__, error,
                       extra={"channel": channel.id, "template": name})
        return None
