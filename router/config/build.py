"""Pass two: checked documents -> one immutable Config (room: config; imports config.model,
config.values, config.load, config.secrets, config.checks, errors, notify registry and Settings).

Every value is parsed here into its typed form, every default comes from the model's
dataclasses, and every problem is collected with its place; `ConfigInvalid` is raised once,
after every item was looked at.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import icalendar
import jinja2
import jinja2.sandbox

from router.config import checks
from router.config.load import LIST_SECTIONS, Document, Source
from router.config.model import (
    Channel,
    Config,
    ContactMethod,
    EscalationPolicy,
    FatigueLimits,
    FixedWindow,
    Holidays,
    IngestToken,
    Layer,
    Level,
    Matcher,
    Override,
    Person,
    Rota,
    Route,
    Secret,
    Service,
    Settings,
    Suppression,
    Target,
    frozen_mapping,
)
from router.config.secrets import SecretResolver
from router.config.values import (
    parse_date,
    parse_datetime,
    parse_matcher,
    parse_positive_duration,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
    parse_weekly_window,
)
from router.errors import ConfigInvalid, Problem
from router.notify import CHANNELS

T = TypeVar("T")
# Stand-ins for a value that failed to parse; its problem is already reported, so the
# Config carrying them is never returned.
_UNSET_DATE = date(1970, 1, 1)
_UNSET_TIME = datetime(1970, 1, 1, tzinfo=UTC)
Item = tuple[dict[str, Any], Source]
_TEMPLATES = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)


def build_config(documents: list[Document], resolver: SecretResolver,
                 problems: list[Problem], *, check_references: bool = True) -> Config:
    """Build the Config from documents whose shape is valid.

    Args:
        problems: problems found by earlier passes; raised together with this pass's.
        check_references: False when some documents were dropped for shape problems, so
            that ids they would have defined are not reported as missing.

    Raises:
        ConfigInvalid: with every problem, if any was found.
    """
    builder = _Builder(resolver, problems)
    config = builder.config(documents)
    found = checks.run_all(config, builder.problems, references=check_references)
    errors = [problem for problem in found if problem.severity == "error"]
    if errors:
        raise ConfigInvalid(found)
    return dataclasses.replace(config, warnings=tuple(found))


class _Builder:
    def __init__(self, resolver: SecretResolver, problems: list[Problem]) -> None:
        self.resolver = resolver
        self.problems = problems
        self.settings = Settings()

    def error(self, source: Source, message: str) -> None:
        self.problems.append(Problem(source.where, source.path, message))

    def parse(self, parser: Callable[[str], T], data: Mapping[str, Any], source: Source,
              key: str) -> T | None:
        """Parse `data[key]` if present; on a bad value report it at its place."""
        if data.get(key) is None:
            return None
        try:
            return parser(str(data[key]))
        except ValueError as error:
            self.error(source.at(key), str(error))
            return None

    def config(self, documents: list[Document]) -> Config:
        sections = _gather(documents, self)
        if sections["settings"]:
            self.settings = self.build_settings(*sections["settings"][0])
        return Config(
            settings=self.settings,
            people=self.by_id(sections["people"], self.person),
            channels=self.by_id(sections["channels"], self.channel),
            rotas=self.by_id(sections["rotas"], self.rota),
            escalation_policies=self.by_id(sections["escalation_policies"], self.policy),
            services=self.by_id(sections["services"], self.service),
            routes=tuple(self.route(data, source, index)
                         for index, (data, source) in enumerate(sections["routes"])),
            suppressions=tuple(self.suppression(*item) for item in sections["suppressions"]),
            files=tuple(dict.fromkeys(document.source.file for document in documents)),
        )

    def by_id(self, items: list[Item], make: Callable[[dict[str, Any], Source], Any]
              ) -> Mapping[str, Any]:
        return frozen_mapping({data["id"]: make(data, source) for data, source in items})

    def build_settings(self, data: dict[str, Any], source: Source) -> Settings:
        values: dict[str, Any] = {"where": source.where}
        if (zone := self.parse(parse_timezone, data, source, "timezone")) is not None:
            values["timezone"] = zone
        for key in ("listen", "public_url", "max_body_bytes"):
            if key in data:
                values[key] = data[key]
        values["ingest_tokens"] = tuple(
            IngestToken(name=token["name"], token=self.secret(token["token"]),
                        sources=frozenset(token.get("sources", ())),
                        where=source.at("ingest_tokens").at(index).where)
            for index, token in enumerate(data.get("ingest_tokens", ())))
        if "fatigue" in data:
            values["fatigue"] = FatigueLimits(**data["fatigue"])
        return Settings(**values)

    def secret(self, value: str) -> Secret:
        return Secret(value, self.resolver.references.get(value, ""))

    def person(self, data: dict[str, Any], source: Source) -> Person:
        methods = source.at("contact_methods")
        quiet = data.get("quiet_hours")
        return Person(
            id=data["id"], name=data.get("name", data["id"]),
            timezone=self.parse(parse_timezone, data, source, "timezone")
            or self.settings.timezone,
            contact_methods=tuple(
                ContactMethod(kind=method["type"], address=method["address"],
                              channel=method.get("channel"),
                              urgency=method.get("urgency", "low"),
                              where=methods.at(index).where)
                for index, method in enumerate(data.get("contact_methods", ()))),
            quiet_hours=self.window(quiet, source.at("quiet_hours")) if quiet else None,
            where=source.where,
        )

    def window(self, data: dict[str, Any], source: Source) -> Any:
        try:
            return parse_weekly_window(data, source.where)
        except ValueError as error:
            self.error(source, str(error))
            return None

    def channel(self, data: dict[str, Any], source: Source) -> Channel:
        module = CHANNELS[data["type"]]
        hints = typing.get_type_hints(module.Settings)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(module.Settings):
            key = field.metadata.get("key", field.name)
            if key in data:
                values[field.name] = self.setting(data[key], hints[field.name], source, key)
        return Channel(id=data["id"], type=data["type"], settings=module.Settings(**values),
                       where=source.where)

    def setting(self, value: Any, hint: Any, source: Source, key: str) -> Any:
        """Convert one channel setting to the type its Settings dataclass declares."""
        kinds = typing.get_args(hint) or (hint,)
        if Secret in kinds:
            return self.secret(str(value))
        if timedelta in kinds:
            return self.parse(parse_positive_duration, {key: value}, source, key)
        if isinstance(value, list):
            return tuple(value)
        if isinstance(value, dict):
            return frozen_mapping(value)
        return value

    def rota(self, data: dict[str, Any], source: Source) -> Rota:
        zone = self.parse(parse_timezone, data, source, "timezone") or self.settings.timezone
        layers = source.at("layers")
        overrides = source.at("overrides")
        return Rota(
            id=data["id"], name=data.get("name", data["id"]), timezone=zone,
            layers=tuple(self.layer(layer, layers.at(index), index)
                         for index, layer in enumerate(data["layers"])),
            overrides=tuple(self.override(override, overrides.at(index), index, zone)
                            for index, override in enumerate(data.get("overrides", ()))),
            holidays=self.holidays(data.get("holidays", {}), source.at("holidays")),
            where=source.where,
        )

    def layer(self, data: dict[str, Any], source: Source, index: int) -> Layer:
        members = tuple(data["members"])
        values: dict[str, Any] = {}
        if (handoff := self.parse(parse_time_of_day, data, source, "handoff")) is not None:
            values["handoff"] = handoff
        if "handoff_day" in data:
            values["handoff_day"] = parse_weekday(data["handoff_day"])
        restrictions = source.at("restrictions")
        return Layer(
            name=data.get("name", f"layer {index + 1}"), members=members,
            every=self.parse(parse_positive_duration, data, source, "every") or timedelta(1),
            start=self.parse(parse_date, data, source, "start") or _UNSET_DATE,
            first=data.get("first", members[0] if members else ""),
            restrictions=tuple(
                window for position, restriction in enumerate(data.get("restrictions", ()))
                if (window := self.window(restriction, restrictions.at(position)))),
            where=source.where, **values,
        )

    def override(self, data: dict[str, Any], source: Source, index: int, zone: Any) -> Override:
        start = self.parse(lambda text: parse_datetime(text, zone), data, source, "from")
        end = self.parse(lambda text: parse_datetime(text, zone), data, source, "until")
        return Override(
            person=data["person"], start=start or _UNSET_TIME, end=end or _UNSET_TIME,
            replaces=data.get("replaces"), reason=data.get("reason", ""), order=index,
            where=source.where,
        )

    def holidays(self, data: dict[str, Any], source: Source) -> Holidays:
        dates = {day for index, text in enumerate(data.get("dates", ()))
                 if (day := self.parse(parse_date, {"d": text}, source.at("dates").at(index),
                                       "d")) is not None}
        if "ics" in data:
            dates |= self.ics_dates(Path(source.file).parent / data["ics"], source.at("ics"))
        values = {key: data[key] for key in ("policy", "cover") if key in data}
        return Holidays(dates=frozenset(dates), where=source.where, **values)

    def ics_dates(self, path: Path, source: Source) -> set[Any]:
        """Every day an event of the .ics file covers (DTEND exclusive, as RFC 5545 says)."""
        try:
            calendar = icalendar.Calendar.from_ical(path.read_bytes())
        except OSError as error:
            self.error(source, f"cannot read holiday calendar {str(path)!r}: {error.strerror}")
            return set()
        except ValueError as error:
            self.error(source, f"{str(path)!r} is not a valid iCalendar file: {error}")
            return set()
        return _event_dates(calendar)

    def policy(self, data: dict[str, Any], source: Source) -> EscalationPolicy:
        levels = source.at("levels")
        return EscalationPolicy(
            id=data["id"], name=data.get("name", data["id"]), repeat=data.get("repeat", 0),
            levels=tuple(self.level(level, levels.at(index))
                         for index, level in enumerate(data["levels"])),
            where=source.where,
        )

    def level(self, data: dict[str, Any], source: Source) -> Level:
        targets = source.at("targets")
        return Level(
            targets=tuple(Target(kind=kind, id=target_id, where=targets.at(index).where)
                          for index, target in enumerate(data["targets"])
                          for kind, target_id in target.items()),
            delay=self.parse(parse_positive_duration, data, source, "delay") or timedelta(0),
            where=source.where,
        )

    def service(self, data: dict[str, Any], source: Source) -> Service:
        if "dedup_key" in data:
            self.template(data["dedup_key"], source.at("dedup_key"))
        values = {key: data[key] for key in ("description", "escalation_policy", "dedup_key",
                                              "urgency") if key in data}
        return Service(id=data["id"], name=data.get("name", data["id"]),
                       channels=tuple(data.get("channels", ())), where=source.where, **values)

    def template(self, text: str, source: Source) -> None:
        try:
            _TEMPLATES.parse(text)
        except jinja2.TemplateSyntaxError as error:
            self.error(source, f"not a valid template: {error.message} "
                               f"(line {error.lineno} of the template)")

    def matchers(self, data: dict[str, Any], source: Source) -> tuple[Matcher, ...]:
        matchers = []
        for index, text in enumerate(data.get("match", ())):
            place = source.at("match").at(index)
            try:
                matchers.append(parse_matcher(text, place.where))
            except ValueError as error:
                self.error(place, str(error))
        return tuple(matchers)

    def route(self, data: dict[str, Any], source: Source, index: int) -> Route:
        severity = data.get("severity")
        values: dict[str, Any] = {}
        if isinstance(severity, dict):
            values["severity_map"] = frozen_mapping(severity)
        elif severity is not None:
            values["severity"] = severity
        return Route(
            name=data.get("name", f"route {index + 1}"), matchers=self.matchers(data, source),
            service=data.get("service"), channels=tuple(data.get("channels", ())),
            escalation_policy=data.get("escalation_policy"),
            continue_matching=data.get("continue", False), where=source.where, **values,
        )

    def suppression(self, data: dict[str, Any], source: Source) -> Suppression:
        zone = self.parse(parse_timezone, data, source, "timezone") or self.settings.timezone
        fixed = None
        if "from" in data:
            start = self.parse(lambda text: parse_datetime(text, zone), data, source, "from")
            end = self.parse(lambda text: parse_datetime(text, zone), data, source, "until")
            fixed = FixedWindow(start=start or _UNSET_TIME, end=end or _UNSET_TIME,
                                where=source.at("from").where)
        weekly = source.at("weekly")
        return Suppression(
            id=data["id"], reason=data["reason"], matchers=self.matchers(data, source),
            timezone=zone, fixed=fixed,
            weekly=tuple(window for index, item in enumerate(data.get("weekly", ()))
                         if (window := self.window(item, weekly.at(index)))),
            where=source.where,
        )


def _gather(documents: list[Document], builder: _Builder) -> dict[str, list[Item]]:
    """Merge each section across documents; an id (or route name, or settings key) defined
    twice is reported with both places."""
    sections: dict[str, list[Item]] = {name: [] for name in LIST_SECTIONS}
    settings: dict[str, Any] = {}
    settings_source: Source | None = None
    seen: dict[tuple[str, str], Source] = {}
    for document in documents:
        for section, items in document.data.items():
            section_source = document.source.at(section)
            if section == "settings":
                settings_source = settings_source or section_source
                for key, value in items.items():
                    _once(seen, ("settings", key), section_source.key(key), builder)
                    settings[key] = value
                continue
            for index, item in enumerate(items or ()):
                item_source = section_source.at(index)
                name = item.get("id", item.get("name"))
                if name is not None:
                    _once(seen, (section, str(name)), item_source, builder)
                sections[section].append((item, item_source))
    result: dict[str, list[Item]] = {"settings": []}
    if settings_source is not None:
        result["settings"] = [(settings, settings_source)]
    return {**result, **sections}


def _once(seen: dict[tuple[str, str], Source], key: tuple[str, str], source: Source,
          builder: _Builder) -> None:
    first = seen.setdefault(key, source)
    if first is not source:
        what = "setting" if key[0] == "settings" else "id"
        builder.error(source, f"{what} {key[1]!r} is defined twice: here and at {first.where}")


def _event_dates(calendar: icalendar.Calendar) -> set[date]:
    """Every day an event covers: DTSTART up to DTEND exclusive, one day when DTEND is absent."""
    days: set[date] = set()
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND") if "DTEND" in event else None
        first = start.date() if isinstance(start, datetime) else start
        last = (end.date() if isinstance(end, datetime) else end) if end else first
        days.add(first)
        day = first + timedelta(days=1)
        while day < last:
            days.add(day)
            day += timedelta(days=1)
    return days
