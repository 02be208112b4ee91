"""The `channels` section -> Channel (room: config; the one part of the build that imports
`notify`: each channel type's Settings and default rate come from its module).

A channel's own keys are converted to the types its module's Settings declares; its
templates are compiled in the sandbox delivery renders them in, so `router validate` finds
a syntax error.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
import yaml

from router import notify
from router.config.build.context import Context
from router.config.load import Source
from router.config.model import Channel, Delivery, Secret, TemplateText, frozen_mapping
from router.config.values import parse_positive_duration
from router.errors import Problem, Where
from router.sandbox import compile_template


def channel(context: Context, data: dict[str, Any], source: Source) -> Channel:
    module = notify.CHANNELS[data["type"]]
    hints = typing.get_type_hints(module.Settings)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(module.Settings):
        key = field.metadata.get("key", field.name)
        if key in data:
            values[field.name] = setting(context, data[key], hints[field.name], source, key)
            if field.metadata.get("path") and values[field.name] is not None:
                values[field.name] = file_setting(context, values[field.name], source.at(key))
    switch = {"enabled": data["enabled"]} if "enabled" in data else {}  # default: model
    return Channel(id=data["id"], type=data["type"], name=data.get("name", data["id"]),
                   settings=module.Settings(**values),
                   templates=templates(context, data, source),
                   delivery=delivery(context, data, source, module),
                   follow_up=_follow_up(data.get("follow_up", ())),
                   where=context.place(source), **switch)


def _follow_up(value: str | list[str]) -> tuple[str, ...]:
    """`follow_up: analysis` or a list of such names."""
    return (value,) if isinstance(value, str) else tuple(value)


def delivery(context: Context, data: dict[str, Any], source: Source,
             module: notify.Channel[Any, Any]) -> Delivery:
    """`rate` defaults to the channel module's DEFAULT_RATE (Slack's one a second),
    `concurrency` to its DEFAULT_CONCURRENCY (a webhook's 16, the others' 4)."""
    values: dict[str, Any] = {key: data[key] for key in ("concurrency", "rate")
                              if key in data}
    if "rate" not in data:
        values["rate"] = module.DEFAULT_RATE
    if "concurrency" not in data:
        values["concurrency"] = module.DEFAULT_CONCURRENCY
    if (retry_for := context.parse(parse_positive_duration, data, source, "retry_for")):
        values["retry_for"] = retry_for
    return Delivery(**values)


def templates(context: Context, data: dict[str, Any], source: Source
              ) -> Mapping[str, TemplateText]:
    """The channel's templates, each compiled; a webhook's `body` is its payload."""
    given = dict(data.get("templates", {}))
    places = {name: source.at("templates").at(name) for name in given}
    if "body" in data:
        if "payload" in given:
            context.error(source.at("body"), "the webhook body is given twice: as 'body' and "
                                             "as 'templates.payload'; keep one")
        given["payload"], places["payload"] = data["body"], source.at("body")
    found = {name: template_text(context, text, places[name], html=name == "html")
             for name, text in given.items()}
    return frozen_mapping({name: text for name, text in found.items() if text is not None})


def template_text(context: Context, value: str | dict[str, str], source: Source, *,
                  html: bool) -> TemplateText | None:
    """An inline template or a template file, compiled; None if it cannot be used."""
    if isinstance(value, dict):
        path = Path(source.file).parent / value["file"]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not valid UTF-8"
            context.error(source.at("file"), f"cannot read template file {str(path)!r}: "
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
        context.problems.append(Problem(where, source.path, f"not a valid template: {reason} "
                                        f"(line {error.lineno} of the template)"))
        return None
    return template


def file_setting(context: Context, value: str, source: Source) -> str:
    """A setting that names a file: relative to the YAML file, and readable now."""
    path = Path(source.file).parent / value
    if not path.is_file():
        context.error(source, f"no such file: {str(path)!r}")
    return str(path)


def setting(context: Context, value: Any, hint: Any, source: Source, key: str) -> Any:
    """Convert one channel setting to the type its Settings dataclass declares."""
    kinds = typing.get_args(hint) or (hint,)
    if Secret in kinds:
        return context.secret(str(value))
    if timedelta in kinds:
        return context.parse(parse_positive_duration, {key: value}, source, key)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return frozen_mapping(value)
    return value


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
