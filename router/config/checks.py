"""Semantic checks over a built Config, one function per rule (room: config; imports
config.model, errors).

Shape is the schema's job; these rules need more than one value at a time: references
between sections, orderings, and routes that can never match.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping

from router.config.model import Config, Route
from router.errors import Problem, Where

Check = Callable[[Config], Iterable[Problem]]


def run_all(config: Config, problems: list[Problem], *, references: bool) -> list[Problem]:
    """Problems found so far plus those of every check; errors and warnings together."""
    found = list(problems)
    selected: list[Check] = [check_rota_layers, check_time_ranges, check_contact_methods,
                             check_unreachable_routes]
    if references:
        selected.insert(0, check_references)
    for check in selected:
        found.extend(check(config))
    return found


def _error(where: Where, message: str, path: str = "") -> Problem:
    return Problem(where, path, message)


def _missing(kind: str, name: str, known: Mapping[str, object], where: Where) -> Problem:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return _error(where, f"no {kind} with id {name!r}{hint}")


def check_references(config: Config) -> Iterator[Problem]:
    """Every id a section names is defined in the section it belongs to."""
    def refer(kind: str, name: str | None, known: Mapping[str, object], where: Where
              ) -> Iterator[Problem]:
        if name is not None and name not in known:
            yield _missing(kind, name, known, where)

    for service in config.services.values():
        yield from refer("escalation policy", service.escalation_policy,
                         config.escalation_policies, service.where)
        for channel in service.channels:
            yield from refer("channel", channel, config.channels, service.where)
    for route in config.routes:
        yield from refer("service", route.service, config.services, route.where)
        yield from refer("escalation policy", route.escalation_policy,
                         config.escalation_policies, route.where)
        for channel in route.channels:
            yield from refer("channel", channel, config.channels, route.where)
    sections = {"rota": config.rotas, "person": config.people, "channel": config.channels}
    for policy in config.escalation_policies.values():
        for level in policy.levels:
            for target in level.targets:
                yield from refer(target.kind, target.id, sections[target.kind], target.where)
    for rota in config.rotas.values():
        for layer in rota.layers:
            for member in layer.members:
                yield from refer("person", member, config.people, layer.where)
        for override in rota.overrides:
            yield from refer("person", override.person, config.people, override.where)
            yield from refer("person", override.replaces, config.people, override.where)
        yield from refer("person", rota.holidays.cover, config.people, rota.holidays.where)
    for person in config.people.values():
        for method in person.contact_methods:
            yield from refer("channel", method.channel, config.channels, method.where)


def check_rota_layers(config: Config) -> Iterator[Problem]:
    """A layer has members, starts with one of them, and a cover policy names who covers."""
    for rota in config.rotas.values():
        for layer in rota.layers:
            if not layer.members:
                yield _error(layer.where, f"rota {rota.id!r} layer {layer.name!r} has no "
                                          "members; list at least one person")
            elif layer.first not in layer.members:
                yield _error(layer.where, f"first {layer.first!r} is not one of the layer's "
                                          f"members ({', '.join(layer.members)})")
        if rota.holidays.policy == "cover" and rota.holidays.cover is None:
            yield _error(rota.holidays.where, "holiday policy 'cover' needs 'cover: PERSON'")


def check_time_ranges(config: Config) -> Iterator[Problem]:
    """Fixed windows and overrides end after they start."""
    for rota in config.rotas.values():
        for override in rota.overrides:
            if override.end <= override.start:
                yield _error(override.where, f"override ends ({override.end.isoformat()}) "
                                             f"before it starts ({override.start.isoformat()})")
    for suppression in config.suppressions:
        window = suppression.fixed
        if window and window.end <= window.start:
            yield _error(window.where, f"suppression ends ({window.end.isoformat()}) before "
                                       f"it starts ({window.start.isoformat()})")


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
                yield _error(method.where, f"channel {channel.id!r} is a {channel.type} "
                                           f"channel; a {method.kind} contact needs a "
                                           f"{' or '.join(carriers[method.kind])} channel")


def check_unreachable_routes(config: Config) -> Iterator[Problem]:
    """Routes after a catch-all (no matchers, no `continue`) can never match: a warning."""
    catch_all: Route | None = None
    for route in config.routes:
        if catch_all is not None:
            yield Problem(route.where, "", f"route {route.name!r} can never match: route "
                          f"{catch_all.name!r} at {catch_all.where} before it matches every "
                          "alert and has no 'continue: true'", "warning")
        elif not route.matchers and not route.continue_matching:
            catch_all = route
