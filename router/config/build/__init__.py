"""Pass two: checked documents -> one immutable Config (room: config; one module per section:
settings, oncall (people, rotas), routing (services, routes, suppressions, escalation
policies) and channels, the only one that imports `notify`).

Every value is parsed here into its typed form, every default comes from the model's
dataclasses, and every problem is collected with its place; `ConfigInvalid` is raised once,
after every item was looked at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from router.config import checks
from router.config.build import (
    channels,
    heartbeats,
    jobs,
    local_checks,
    oncall,
    routing,
    time_intervals,
    users,
)
from router.config.build.context import Context, Item
from router.config.build.settings import build_settings
from router.config.load import LIST_SECTIONS, Document, Source
from router.config.model import Config, frozen_mapping
from router.config.secrets import SecretResolver
from router.errors import ConfigInvalid, Problem

T = TypeVar("T")


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
    context = Context(resolver, problems)
    config = _assemble(context, documents)
    found = context.problems + [context.locate(problem) for problem in
                                checks.run_all(config, references=check_references)]
    found += [context.locate(problem) for problem in users.check_users(config)]
    if resolver.references:  # a secret's value never reaches a message; its reference does
        found = [dataclasses.replace(problem, message=resolver.redact(problem.message))
                 for problem in found]
    if any(problem.severity == "error" for problem in found):
        raise ConfigInvalid(found)
    if files is not None:
        config = dataclasses.replace(config, files=tuple(files))
    return dataclasses.replace(config, warnings=tuple(found))


def _assemble(context: Context, documents: list[Document]) -> Config:
    """Settings first: their timezone is the default of people, rotas and suppressions."""
    sections = _gather(documents, context)
    if sections["settings"]:
        context.settings = build_settings(context, *sections["settings"][0])

    def by_id(section: str, make: Callable[[Context, dict[str, Any], Source], Any]
              ) -> Mapping[str, Any]:
        built = [(data, make(context, data, source)) for data, source in sections[section]]
        return frozen_mapping({data["id"]: made for data, made in built
                               if id(data) not in context.left_out})

    return Config(
        settings=context.settings,
        people=by_id("people", oncall.person),
        channels=by_id("channels", channels.channel),
        rotas=by_id("rotas", oncall.rota),
        escalation_policies=by_id("escalation_policies", routing.policy),
        services=by_id("services", routing.service),
        routes=_kept(context, sections["routes"], [
            routing.route(context, data, source, index)
            for index, (data, source) in enumerate(sections["routes"])]),
        suppressions=_kept(context, sections["suppressions"], [
            routing.suppression(context, *item) for item in sections["suppressions"]]),
        time_intervals=frozen_mapping({
            data["name"]: time_intervals.time_interval(context, data, source)
            for data, source in sections["time_intervals"]
            if id(data) not in context.left_out}),
        inhibit_rules=_kept(context, sections["inhibit_rules"], [
            routing.inhibit_rule(context, data, source, index)
            for index, (data, source) in enumerate(sections["inhibit_rules"])]),
        heartbeats=by_id("heartbeats", heartbeats.heartbeat),
        jobs=by_id("jobs", jobs.job),
        files=tuple(dict.fromkeys(document.source.file for document in documents)),
        checks=by_id("checks", local_checks.check),
        users=frozen_mapping({data["name"]: users.user(context, data, source)
                              for data, source in sections["users"]
                              if id(data) not in context.left_out}),
    )


def _kept(context: Context, items: list[Item], built: list[T]) -> tuple[T, ...]:
    """The objects built from `items`, without those of items left out."""
    return tuple(made for (data, _), made in zip(items, built, strict=True)
                 if id(data) not in context.left_out)


def _gather(documents: list[Document], context: Context) -> dict[str, list[Item]]:
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
                    _once(seen, ("settings", key), section_source.key(key), context)
                    settings[key] = value
                continue
            for index, item in enumerate(items or ()):
                if (section, index) in document.broken:
                    continue
                if (section, index) in document.partial:
                    context.left_out.add(id(item))
                item_source = section_source.at(index)
                name = item.get("id", item.get("name"))
                if name is not None:
                    _once(seen, (section, str(name)), item_source, context)
                sections[section].append((item, item_source))
    result: dict[str, list[Item]] = {"settings": []}
    if settings_source is not None:
        result["settings"] = [(settings, settings_source)]
    return {**result, **sections}


def _once(seen: dict[tuple[str, str], Source], key: tuple[str, str], source: Source,
          context: Context) -> None:
    first = seen.setdefault(key, source)
    if first is not source:
        what = {"settings": "setting", "routes": "route name",
                "time_intervals": "time interval name",
                "inhibit_rules": "inhibit rule name", "users": "user name"}.get(key[0], "id")
        context.error(source, f"{what} {key[1]!r} is defined twice: here and at {first.where}")
