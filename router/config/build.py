"""Pass two: checked documents -> one immutable Config (room: config; imports config.model,
config.values, config.load, config.secrets, config.checks, errors, notify registry and Settings).

Every value is parsed here into its typed form, every default comes from the model's
dataclasses, and every problem is collected with its place; `ConfigInvalid` is raised once,
after every item was looked at.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.sandbox
import yaml

# The module, not its CHANNELS: importing router.notify first imports the channel modules,
# which import config.model and so this module while router.notify is half made.
from router import notify
from router.config import checks
from router.config.load import LIST_SECTIONS, Document, Source
from router.config.model import (
    FIELD_PATH,
    SCOPES,
    WEEKDAYS,
    AlertLimits,
    Channel,
    Config,
    ContactMethod,
    Delivery,
    EscalationPolicy,
    FatigueLimits,
    FixedWindow,
    GenericWebhook,
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
    TemplateText,
    WeeklyWindow,
    frozen_mapping,
)
from router.config.secrets import SecretResolver
from router.config.tls import build_tls
from router.config.values import (
    parse_allowed_host,
    parse_calendar_dates,
    parse_date,
    parse_datetime,
    parse_listen,
    parse_matcher,
    parse_positive_duration,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
)
from router.errors import ConfigInvalid, Problem, Where
from router.notify.templates import compile_template

T = TypeVar("T")
# Stand-ins for a value that failed to parse; its problem is already reported, so the
# Config carrying them is never returned. An unset start is the earliest time and an unset
# end the latest, so no range check reports a window made of a value that did not parse.
_UNSET_DATE = date(1970, 1, 1)
_UNSET_START = datetime.min.replace(tzinfo=UTC)
_UNSET_END = datetime.max.replace(tzinfo=UTC)
Item = tuple[dict[str, Any], Source]
_TEMPLATES = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
_FIELD = re.compile(r"\[\d+\]|[^.\[\]]+")
_WEBHOOK_PATHS = ("summary", "severity", "status", "dedup_key", "service", "alerts")


def build_config(documents: list[Document], resolver: SecretResolver,
                 problems: list[Problem], *, files: Sequence[str] | None = None,
                 check_references: bool = True) -> Config:
    """Build the Config from documents whose shape is valid.

    Args:
        problems: problems found by earlier passes; raised together with this pass's.
        files: the files read (the summary counts them); by default those of `documents`.
        check_references: False when some items were dropped for shape problems, so
            that ids they would have defined are not reported as missing.

    Raises:
        ConfigInvalid: with every problem, if any was found.
    """
    builder = _Builder(resolver, problems)
    config = builder.config(documents)
    found = builder.problems + [builder.locate(problem) for problem in
                                checks.run_all(config, references=check_references)]
    if resolver.references:  # a secret's value never reaches a message; its reference does
        found = [dataclasses.replace(problem, message=resolver.redact(problem.message))
                 for problem in found]
    if any(problem.severity == "error" for problem in found):
        raise ConfigInvalid(found)
    if files is not None:
        config = dataclasses.replace(config, files=tuple(files))
    return dataclasses.replace(config, warnings=tuple(found))


class _Builder:
    def __init__(self, resolver: SecretResolver, problems: list[Problem]) -> None:
        self.resolver = resolver
        self.problems = problems
        self.settings = Settings()
        self.sources: dict[Where, Source] = {}
        # Items pruned of values with the wrong shape (by id of their data): built only so
        # their other values are checked, then left out of the Config, so that no check
        # across items reports a consequence of the value left out.
        self.left_out: set[int] = set()

    def error(self, source: Source, message: str) -> None:
        self.problems.append(Problem(source.where, source.path, message))

    def place(self, source: Source) -> Where:
        """The `where` of a model object, remembered so a check's problem can name its path."""
        where = source.where
        if where.line:
            self.sources.setdefault(where, source)
        return where

    def locate(self, problem: Problem) -> Problem:
        """Turn a check's problem, placed at an object with `path` relative to it, into one
        placed at the field itself with the field's full path."""
        source = self.sources.get(problem.where)
        if source is None:
            return problem
        for part in _FIELD.findall(problem.path):
            source = source.at(int(part[1:-1]) if part.startswith("[") else part)
        where = source.where if source.where.line else problem.where
        return dataclasses.replace(problem, where=where, path=source.path)

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
            routes=self.kept(sections["routes"], [
                self.route(data, source, index)
                for index, (data, source) in enumerate(sections["routes"])]),
            suppressions=self.kept(sections["suppressions"], [
                self.suppression(*item) for item in sections["suppressions"]]),
            files=tuple(dict.fromkeys(document.source.file for document in documents)),
        )

    def by_id(self, items: list[Item], make: Callable[[dict[str, Any], Source], Any]
              ) -> Mapping[str, Any]:
        built = [make(data, source) for data, source in items]
        return frozen_mapping({data["id"]: made for (data, _), made in zip(items, built,
                                                                            strict=True)
                               if id(data) not in self.left_out})

    def kept(self, items: list[Item], built: list[T]) -> tuple[T, ...]:
        """The objects built from `items`, without those of items left out."""
        return tuple(made for (data, _), made in zip(items, built, strict=True)
                     if id(data) not in self.left_out)

    def build_settings(self, data: dict[str, Any], source: Source) -> Settings:
        values: dict[str, Any] = {"where": source.where}
        if (zone := self.parse(parse_timezone, data, source, "timezone")) is not None:
            values["timezone"] = zone
        for key in ("listen", "public_url", "max_body_bytes"):
            if key in data:
                values[key] = data[key]
        self.parse(parse_listen, data, source, "listen")  # refused here, not at `router run`
        values["ingest_tokens"] = tuple(
            self.ingest_token(token, source.at("ingest_tokens").at(index))
            for index, token in enumerate(data.get("ingest_tokens", ())))
        values["allowed_hosts"] = self.allowed_hosts(data.get("allowed_hosts", ()),
                                                     source.at("allowed_hosts"))
        if "fatigue" in data:
            values["fatigue"] = FatigueLimits(**data["fatigue"])
        if "alert_limits" in data:
            values["alert_limits"] = AlertLimits(**data["alert_limits"])
        if "link_secret" in data:
            values["link_secret"] = self.secret(data["link_secret"])
        if (lifetime := self.parse(parse_positive_duration, data, source, "link_lifetime")):
            values["link_lifetime"] = lifetime
        if (retention := self.parse(parse_positive_duration, data, source, "retention")):
            values["retention"] = retention
        webhooks = source.at("generic_webhooks")
        values["generic_webhooks"] = tuple(
            self.generic_webhook(item, webhooks.at(index))
            for index, item in enumerate(data.get("generic_webhooks", ())))
        self.unique_webhook_names(values["generic_webhooks"], webhooks)
        if "tls" in data:
            values["tls"], problems = build_tls(data["tls"], source.at("tls"),
                                                load_files=self.resolver.resolve)
            self.problems.extend(problems)
        return Settings(**values)

    def allowed_hosts(self, hosts: list[str], source: Source) -> tuple[str, ...]:
        accepted = []
        for index, host in enumerate(hosts):
            try:
                accepted.append(parse_allowed_host(host))
            except ValueError as error:
                self.error(source.at(index), str(error))
        return tuple(accepted)

    def ingest_token(self, data: dict[str, Any], source: Source) -> IngestToken:
        """A token; without `scopes`, one with `sources` is a sender's (`ingest` only) and
        one without has every scope, as before scopes existed."""
        sources = frozenset(data.get("sources", ()))
        scopes = frozenset(data.get("scopes", ("ingest",) if sources else SCOPES))
        return IngestToken(name=data["name"], token=self.secret(data["token"]),
                           sources=sources, scopes=scopes, where=self.place(source))

    def generic_webhook(self, data: dict[str, Any], source: Source) -> GenericWebhook:
        values = {key: data[key] for key in _WEBHOOK_PATHS if key in data}
        for key, text in values.items():
            self.field_path(text, source.at(key))
        for key in ("labels", "annotations"):
            if isinstance(data.get(key), dict):
                for name, text in data[key].items():
                    self.field_path(text, source.at(key).at(name))
                values[key] = frozen_mapping(data[key])
            elif key in data:
                self.field_path(data[key], source.at(key))
                values[key] = data[key]
        defaults = data.get("defaults", {})
        return GenericWebhook(
            name=data["name"], severity_map=frozen_mapping(data.get("severity_map")),
            status_map=frozen_mapping(data.get("status_map")),
            default_severity=defaults.get("severity"), default_status=defaults.get("status"),
            where=self.place(source), **values,
        )

    def field_path(self, text: str, source: Source) -> None:
        if FIELD_PATH.fullmatch(text) is None:
            self.error(source, f"{text!r} is not a field path: write names joined by dots and "
                               "list positions in brackets, such as alert.message, "
                               "alerts[0].labels or details[\"ping time\"], or $ for the "
                               "whole body")

    def unique_webhook_names(self, webhooks: tuple[GenericWebhook, ...], source: Source
                             ) -> None:
        """A name is the webhook's URL and its alerts' source, so it must be unique."""
        seen: dict[str, GenericWebhook] = {}
        for index, webhook in enumerate(webhooks):
            first = seen.setdefault(webhook.name, webhook)
            if first is not webhook:
                self.error(source.at(index).at("name"), f"generic webhook name "
                           f"{webhook.name!r} is used twice: here and at {first.where}")

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
                              where=self.place(methods.at(index)))
                for index, method in enumerate(data.get("contact_methods", ()))),
            quiet_hours=self.window(quiet, source.at("quiet_hours")) if quiet else None,
            where=self.place(source),
        )

    def window(self, data: dict[str, Any], source: Source) -> WeeklyWindow | None:
        """A `{days, from, until}` mapping; None (with the problem reported) if a time is bad."""
        start = self.parse(parse_time_of_day, data, source, "from")
        end = self.parse(parse_time_of_day, data, source, "until")
        if start is None or end is None:
            return None
        days = data.get("days") or WEEKDAYS
        return WeeklyWindow(days=frozenset(parse_weekday(day) for day in days), start=start,
                            end=end, where=source.where)

    def channel(self, data: dict[str, Any], source: Source) -> Channel:
        module = notify.CHANNELS[data["type"]]
        hints = typing.get_type_hints(module.Settings)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(module.Settings):
            key = field.metadata.get("key", field.name)
            if key in data:
                values[field.name] = self.setting(data[key], hints[field.name], source, key)
                if field.metadata.get("path") and values[field.name] is not None:
                    values[field.name] = self.file_setting(values[field.name], source.at(key))
        switch = {"enabled": data["enabled"]} if "enabled" in data else {}  # default: model
        return Channel(id=data["id"], type=data["type"], name=data.get("name", data["id"]),
                       settings=module.Settings(**values), templates=self.templates(data, source),
                       delivery=self.delivery(data, source, module), where=self.place(source),
                       **switch)

    def delivery(self, data: dict[str, Any], source: Source, module: notify.Channel[Any, Any]
                 ) -> Delivery:
        """`rate` defaults to the channel module's DEFAULT_RATE (Slack's one a second)."""
        values: dict[str, Any] = {key: data[key] for key in ("concurrency", "rate")
                                  if key in data}
        if "rate" not in data:
            values["rate"] = module.DEFAULT_RATE
        if (retry_for := self.parse(parse_positive_duration, data, source, "retry_for")):
            values["retry_for"] = retry_for
        return Delivery(**values)

    def templates(self, data: dict[str, Any], source: Source) -> Mapping[str, TemplateText]:
        """The channel's templates, each compiled; a webhook's `body` is its payload."""
        given = dict(data.get("templates", {}))
        places = {name: source.at("templates").at(name) for name in given}
        if "body" in data:
            if "payload" in given:
                self.error(source.at("body"), "the webhook body is given twice: as 'body' and "
                                              "as 'templates.payload'; keep one")
            given["payload"], places["payload"] = data["body"], source.at("body")
        found = {name: self.template_text(text, places[name], html=name == "html")
                 for name, text in given.items()}
        return frozen_mapping({name: text for name, text in found.items() if text is not None})

    def template_text(self, value: str | dict[str, str], source: Source, *, html: bool
                      ) -> TemplateText | None:
        """An inline template or a template file, compiled; None if it cannot be used."""
        if isinstance(value, dict):
            path = Path(source.file).parent / value["file"]
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or "not valid UTF-8"
                self.error(source.at("file"), f"cannot read template file {str(path)!r}: "
                                              f"{reason}")
                return None
            template = TemplateText(text=text, where=Where(str(path), 1, 1))
        else:
            template = TemplateText(text=value, where=source.where)
        try:
            compile_template(template.text, html=html)
        except jinja2.TemplateSyntaxError as error:
            reason = (error.message or "syntax error").rstrip(".")
            where = _template_line(template, source, error.lineno or 1)
            self.problems.append(Problem(where, source.path, f"not a valid template: {reason} "
                                         f"(line {error.lineno} of the template)"))
            return None
        return template

    def file_setting(self, value: str, source: Source) -> str:
        """A setting that names a file: relative to the YAML file, and readable now."""
        path = Path(source.file).parent / value
        if not path.is_file():
            self.error(source, f"no such file: {str(path)!r}")
        return str(path)

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
            handoff_notices=bool(data.get("handoff_notices", False)),
            where=self.place(source),
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
            where=self.place(source), **values,
        )

    def override(self, data: dict[str, Any], source: Source, index: int, zone: Any) -> Override:
        start = self.parse(lambda text: parse_datetime(text, zone), data, source, "from")
        end = self.parse(lambda text: parse_datetime(text, zone), data, source, "until")
        return Override(
            person=data["person"], start=start or _UNSET_START, end=end or _UNSET_END,
            replaces=data.get("replaces"), reason=data.get("reason", ""), order=index,
            where=self.place(source),
        )

    def holidays(self, data: dict[str, Any], source: Source) -> Holidays:
        dates = set()
        for index, text in enumerate(data.get("dates", ())):
            try:
                dates.add(parse_date(str(text)))
            except ValueError as error:
                self.error(source.at("dates").at(index), str(error))
        if "ics" in data:
            dates |= self.ics_dates(Path(source.file).parent / data["ics"], source.at("ics"))
        values = {key: data[key] for key in ("policy", "cover") if key in data}
        return Holidays(dates=frozenset(dates), where=self.place(source), **values)

    def ics_dates(self, path: Path, source: Source) -> set[date]:
        """Every day an event of the .ics file covers."""
        try:
            return parse_calendar_dates(path.read_bytes())
        except OSError as error:
            self.error(source, f"cannot read holiday calendar {str(path)!r}: {error.strerror}")
        except ValueError as error:
            self.error(source, f"{str(path)!r} is not a valid iCalendar file: {error}")
        return set()

    def policy(self, data: dict[str, Any], source: Source) -> EscalationPolicy:
        levels = source.at("levels")
        return EscalationPolicy(
            id=data["id"], name=data.get("name", data["id"]), repeat=data.get("repeat", 0),
            levels=tuple(self.level(level, levels.at(index))
                         for index, level in enumerate(data["levels"])),
            where=self.place(source),
        )

    def level(self, data: dict[str, Any], source: Source) -> Level:
        targets = source.at("targets")
        return Level(
            targets=tuple(Target(kind=kind, id=target_id,
                                 where=self.place(targets.at(index)))
                          for index, target in enumerate(data["targets"])
                          for kind, target_id in target.items()),
            delay=self.parse(parse_positive_duration, data, source, "delay") or timedelta(0),
            where=source.where,
        )

    def service(self, data: dict[str, Any], source: Source) -> Service:
        if "dedup_key" in data:
            self.template(data["dedup_key"], source.at("dedup_key"))
        values: dict[str, Any] = {key: data[key] for key in (
            "description", "escalation_policy", "dedup_key", "urgency") if key in data}
        for key in ("acknowledge_timeout", "retrigger_after"):
            if key in data:
                values[key] = self.parse(parse_positive_duration, data, source, key)
        return Service(id=data["id"], name=data.get("name", data["id"]),
                       channels=tuple(data.get("channels", ())),
                       routing_keys=tuple(self.secret(key)
                                          for key in data.get("routing_keys", ())),
                       where=self.place(source), **values)

    def template(self, text: str, source: Source) -> None:
        try:  # compiling, not only parsing, also finds unknown filters and tests
            _TEMPLATES.from_string(text)
        except jinja2.TemplateSyntaxError as error:
            reason = (error.message or "syntax error").rstrip(".")
            self.error(source, f"not a valid template: {reason} "
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
            continue_matching=data.get("continue", False), where=self.place(source),
            **values,
        )

    def suppression(self, data: dict[str, Any], source: Source) -> Suppression:
        zone = self.parse(parse_timezone, data, source, "timezone") or self.settings.timezone
        fixed = None
        if "from" in data:
            start = self.parse(lambda text: parse_datetime(text, zone), data, source, "from")
            end = self.parse(lambda text: parse_datetime(text, zone), data, source, "until")
            fixed = FixedWindow(start=start or _UNSET_START, end=end or _UNSET_END,
                                where=self.place(source))
        weekly = source.at("weekly")
        return Suppression(
            id=data["id"], reason=data["reason"], matchers=self.matchers(data, source),
            timezone=zone, fixed=fixed,
            weekly=tuple(window for index, item in enumerate(data.get("weekly", ()))
                         if (window := self.window(item, weekly.at(index)))),
            where=self.place(source),
        )


def _template_line(template: TemplateText, source: Source, line: int) -> Where:
    """Where line `line` of a template was written: in its file; in a YAML literal block
    (`|`) the lines after the `|`; else the value itself, as folding and escapes leave the
    template's lines no place of their own in the YAML."""
    where = template.where
    if where.file != source.file:
        return Where(where.file, line, 1)
    node = source.node
    if isinstance(node, yaml.ScalarNode) and node.style == "|":
        return Where(where.file, where.line + line, 1)
    return where


def _gather(documents: list[Document], builder: _Builder) -> dict[str, list[Item]]:
    """Merge each section across documents; an id (or route name, or settings key) defined
    twice is reported with both places."""
    sections: dict[str, list[Item]] = {name: [] for name in LIST_SECTIONS}
    settings: dict[str, Any] = {}
    settings_source: Source | None = None
    seen: dict[tuple[str, str], Source] = {}
    for document in documents:
        for section, items in document.data.items():
            if (section, None) in document.broken:
                continue
            section_source = document.source.at(section)
            if section == "settings":
                settings_source = settings_source or section_source
                for key, value in items.items():
                    _once(seen, ("settings", key), section_source.key(key), builder)
                    settings[key] = value
                continue
            for index, item in enumerate(items or ()):
                if (section, index) in document.broken:
                    continue
                if (section, index) in document.partial:
                    builder.left_out.add(id(item))
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
        what = {"settings": "setting", "routes": "route name"}.get(key[0], "id")
        builder.error(source, f"{what} {key[1]!r} is defined twice: here and at {first.where}")

