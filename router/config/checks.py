"""Semantic checks over a built Config, one function per rule (room: config; imports
config.model, redaction, errors).

Shape is the schema's job; these rules need more than one value at a time: references
between sections, orderings, and routes that can never match.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from urllib.parse import urlsplit

from router.config import health_checks
from router.config.model import Check as HealthCheck
from router.config.model import Config, Heartbeat, Job, Route, Secret
from router.errors import Problem, Where
from router.redaction import display_url

MIN_ROTATION = timedelta(hours=3)
"""Handoffs at local wall-clock times stay in order only if a shift is longer than any
change of UTC offset (at most 2 hours in the tz database)."""

Check = Callable[[Config], Iterable[Problem]]


def run_all(config: Config, *, references: bool) -> list[Problem]:
    """The problems of every check, errors and warnings together.

    A problem's `where` is that of the object the check looked at, and its `path` names the
    field at fault relative to that object (`escalation_policy`, `members[2]`, or "" for the
    object itself); the build turns both into the field's own place and full path.
    """
    selected: list[Check] = [check_ingest_tokens, check_rota_layers, check_time_ranges,
                             check_contact_methods, check_unreachable_routes,
                             check_email_recipients, check_channel_urls]
    if references:
        selected[:0] = [check_references, check_source_services, check_people_references,
                        check_time_interval_names]
    return [*(problem for check in selected for problem in check(config)),
            *health_checks.run(config, references=references)]


def _error(where: Where, message: str, path: str = "") -> Problem:
    return Problem(where, path, message)


def _refer(kind: str, name: str | None, known: Mapping[str, object], where: Where,
           path: str) -> Iterator[Problem]:
    """A problem if `name` is given and not among the `known` ids of its section."""
    if name is not None and name not in known:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        yield _error(where, f"no {kind} with id {name!r}{hint}", path)


def check_references(config: Config) -> Iterator[Problem]:
    """Every policy, channel, service and target a service, route or level names exists."""
    policies, channels = config.escalation_policies, config.channels
    for service in config.services.values():
        yield from _refer("escalation policy", service.escalation_policy, policies,
                          service.where, "escalation_policy")
        for index, channel in enumerate(service.channels):
            yield from _refer("channel", channel, channels, service.where, f"channels[{index}]")
    for route in config.routes:
        yield from _refer("service", route.service, config.services, route.where, "service")
        yield from _refer("escalation policy", route.escalation_policy, policies,
                          route.where, "escalation_policy")
        for index, channel in enumerate(route.channels):
            yield from _refer("channel", channel, channels, route.where, f"channels[{index}]")
    sections = {"rota": config.rotas, "person": config.people, "channel": channels}
    for policy in policies.values():
        fallback = () if policy.fallback is None else (policy.fallback,)
        for target in (*(item for level in policy.levels for item in level.targets),
                       *fallback):
            yield from _refer(target.kind, target.id, sections[target.kind],
                              target.where, target.kind)


def check_source_services(config: Config) -> Iterator[Problem]:
    """The service each heartbeat, job and check names exists: its incidents open there."""
    sources: list[Heartbeat | Job | HealthCheck] = [
        *config.heartbeats.values(), *config.jobs.values(), *config.checks.values()]
    for source in sources:
        yield from _refer("service", source.service, config.services, source.where, "service")


def check_people_references(config: Config) -> Iterator[Problem]:
    """Every person a rota names and every channel a contact method names exists."""
    people = config.people
    for rota in config.rotas.values():
        for layer in rota.layers:
            for index, member in enumerate(layer.members):
                yield from _refer("person", member, people, layer.where, f"members[{index}]")
        for override in rota.overrides:
            yield from _refer("person", override.person, people, override.where, "person")
            yield from _refer("person", override.replaces, people, override.where, "replaces")
        yield from _refer("person", rota.holidays.cover, people, rota.holidays.where, "cover")
    for person in people.values():
        for method in person.contact_methods:
            yield from _refer("channel", method.channel, config.channels, method.where,
                              "channel")


def check_ingest_tokens(config: Config) -> Iterator[Problem]:
    """Token names are unique: logs and metrics name the sender by them."""
    seen: dict[str, Where] = {}
    for token in config.settings.ingest_tokens:
        first = seen.setdefault(token.name, token.where)
        if first is not token.where:
            yield _error(token.where, f"ingest token name {token.name!r} is used twice: here "
                                      f"and at {first}", "name")
        if token.sources and "ingest" not in token.scopes:
            yield _error(token.where, "sources limit the ingest scope, which this token's "
                                      "scopes do not include; add ingest or remove sources",
                         "sources")


def check_channel_urls(config: Config) -> Iterator[Problem]:
    """A channel's URL is http or https with a host: any other fails at every delivery. The
    problem shows the URL without its user info and query, and a secret's not at all."""
    for channel in config.channels.values():
        if not dataclasses.is_dataclass(channel.settings):
            continue
        for field in dataclasses.fields(channel.settings):
            value = getattr(channel.settings, field.name)
            if not field.name.endswith("url") or not isinstance(value, str | Secret):
                continue
            text = value.reveal() if isinstance(value, Secret) else value
            if "${" in text or _web_url(text):  # "${": --no-secrets left it unresolved
                continue
            shown = ("the value is a secret, not shown" if isinstance(value, Secret)
                     else f"got {display_url(text)!r}")
            yield _error(channel.where, "expected an http:// or https:// URL with a host; "
                                        f"{shown}", field.metadata.get("key", field.name))


def _web_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        return (parts.scheme in ("http", "https") and bool(parts.hostname)
                and (parts.port or 0) >= 0)  # .port raises ValueError for a bad one
    except ValueError:
        return False


def check_rota_layers(config: Config) -> Iterator[Problem]:
    """A layer has members, starts with one of them, and a cover policy names who covers."""
    for rota in config.rotas.values():
        for layer in rota.layers:
            if not layer.members:
                yield _error(layer.where, f"rota {rota.id!r} layer {layer.name!r} has no "
                                          "members; list at least one person", "members")
            elif layer.first not in layer.members:
                yield _error(layer.where, f"{layer.first!r} is not one of the layer's "
                                          f"members ({', '.join(layer.members)})", "first")
            if layer.every < MIN_ROTATION:
                yield _error(layer.where, f"expected a rotation of at least 3h, got "
                                          f"{layer.every}: shorter ones cannot stay in order "
                                          "across a change of clocks", "every")
        if rota.holidays.policy == "cover" and rota.holidays.cover is None:
            yield _error(rota.holidays.where, "holiday policy 'cover' needs 'cover: PERSON', "
                                              "the person who takes holiday shifts", "policy")


def check_time_ranges(config: Config) -> Iterator[Problem]:
    """Fixed windows and overrides end after they start."""
    for rota in config.rotas.values():
        for override in rota.overrides:
            if override.end <= override.start:
                yield _error(override.where, f"override ends ({override.end.isoformat()}) "
                                             f"before it starts ({override.start.isoformat()})",
                             "until")
    for suppression in config.suppressions:
        window = suppression.fixed
        if window and window.end <= window.start:
            yield _error(window.where, f"suppression ends ({window.end.isoformat()}) before "
                                       f"it starts ({window.start.isoformat()})", "until")


def check_contact_methods(config: Config) -> Iterator[Problem]:
    """A phone needs a gateway channel; a named channel must carry that kind of message."""
    carriers = {"email": ("email",), "slack": ("slack",), "phone": ("webhook",)}
    for person in config.people.values():
        for method in person.contact_methods:
            if method.kind == "phone" and method.channel is None:
                yield _error(method.where, "a phone contact needs 'channel': the webhook "
                                           "channel of an SMS or voice gateway")
            channel = config.channels.get(method.channel or "")
            if channel is not None and channel.type not in carriers[method.kind]:
                needed = " or ".join(carriers[method.kind])
                yield _error(method.where, f"channel {channel.id!r} is {_a(channel.type)} "
                                           f"channel; {_a(method.kind)} contact needs "
                                           f"{_a(needed)} channel", "channel")


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def check_unreachable_routes(config: Config) -> Iterator[Problem]:
    """Routes after a catch-all (no matchers, no `unless`, no `continue`) can never match: a
    warning."""
    catch_all: Route | None = None
    for route in config.routes:
        if catch_all is not None:
            yield Problem(route.where, "", f"route {route.name!r} can never match: route "
                          f"{catch_all.name!r} at {catch_all.where} before it matches every "
                          "alert and has no 'continue: true'", "warning")
        elif not route.matchers and not route.unless and not route.continue_matching:
            catch_all = route


def check_email_recipients(config: Config) -> Iterator[Problem]:
    """An email channel named as a target of its own (by a service, a route or an escalation
    level) mails its `to` list; without one its notifications would reach nobody."""
    named: dict[str, Where] = {}
    for service in config.services.values():
        for channel_id in service.channels:
            named.setdefault(channel_id, service.where)
    for route in config.routes:
        for channel_id in route.channels:
            named.setdefault(channel_id, route.where)
    for policy in config.escalation_policies.values():
        for level in policy.levels:
            for target in level.targets:
                if target.kind == "channel":
                    named.setdefault(target.id, target.where)
    for channel_id, where in sorted(named.items()):
        channel = config.channels.get(channel_id)
        if (channel is not None and channel.type == "email"
                and not getattr(channel.settings, "to", ())):
            yield _error(channel.where, f"email channel {channel_id!r} is notified as a "
                                        f"channel (at {where}) but has no 'to': list the "
                                        "addresses its mail goes to", "to")


def fallback_warnings(config: Config) -> list[Problem]:
    """`router validate`'s warning for each policy that can reach nobody and has no
    `fallback`. What is known before run time: a level whose targets are all rotas can be
    empty (a restricted layer outside its hours, everyone away through overrides); a person
    or a channel is always someone. So a policy can reach nobody when every level is rotas
    only."""
    return [Problem(policy.where, f"escalation_policies.{policy.id}",
                    f"policy {policy.id!r} has no fallback, and each of its levels names "
                    "only rotas, which can all be empty at once: add 'fallback: {person: "
                    "...}' (or a rota or channel) to page then", "warning")
            for policy in config.escalation_policies.values()
            if policy.fallback is None and all(
                target.kind == "rota" for level in policy.levels for target in level.targets)]


def check_time_interval_names(config: Config) -> Iterator[Problem]:
    """Every time interval a route names is declared in `time_intervals`."""
    for route in config.routes:
        for key in ("active_time_intervals", "mute_time_intervals"):
            for index, name in enumerate(getattr(route, key)):
                if name not in config.time_intervals:
                    close = difflib.get_close_matches(name, list(config.time_intervals), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    yield _error(route.where, f"no time interval named {name!r}{hint}",
                                 f"{key}[{index}]")
