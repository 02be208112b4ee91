"""The on-call sections -> model (room: config): `people` (contact methods, quiet hours) and
`rotas` (layers, restrictions, overrides, holidays)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from router.config.build.context import UNSET_DATE, UNSET_END, UNSET_START, Context
from router.config.load import Source
from router.config.model import ContactMethod, Holidays, Layer, Override, Person, Rota
from router.config.values import (
    parse_calendar_dates,
    parse_date,
    parse_datetime,
    parse_positive_duration,
    parse_time_of_day,
    parse_timezone,
    parse_weekday,
)


def person(context: Context, data: dict[str, Any], source: Source) -> Person:
    methods = source.at("contact_methods")
    quiet = data.get("quiet_hours")
    return Person(
        id=data["id"], name=data.get("name", data["id"]),
        timezone=context.parse(parse_timezone, data, source, "timezone")
        or context.settings.timezone,
        contact_methods=tuple(
            ContactMethod(kind=method["type"], address=method["address"],
                          channel=method.get("channel"),
                          urgency=method.get("urgency", "low"),
                          where=context.place(methods.at(index)))
            for index, method in enumerate(data.get("contact_methods", ()))),
        quiet_hours=context.window(quiet, source.at("quiet_hours")) if quiet else None,
        where=context.place(source),
    )


def rota(context: Context, data: dict[str, Any], source: Source) -> Rota:
    zone = context.parse(parse_timezone, data, source, "timezone") or context.settings.timezone
    layers = source.at("layers")
    overrides = source.at("overrides")
    return Rota(
        id=data["id"], name=data.get("name", data["id"]), timezone=zone,
        layers=tuple(layer(context, item, layers.at(index), index)
                     for index, item in enumerate(data["layers"])),
        overrides=tuple(override(context, item, overrides.at(index), index, zone)
                        for index, item in enumerate(data.get("overrides", ()))),
        holidays=holidays(context, data.get("holidays", {}), source.at("holidays")),
        handoff_notices=bool(data.get("handoff_notices", False)),
        where=context.place(source),
    )


def layer(context: Context, data: dict[str, Any], source: Source, index: int) -> Layer:
    members = tuple(data["members"])
    values: dict[str, Any] = {}
    if (handoff := context.parse(parse_time_of_day, data, source, "handoff")) is not None:
        values["handoff"] = handoff
    if "handoff_day" in data:
        values["handoff_day"] = parse_weekday(data["handoff_day"])
    restrictions = source.at("restrictions")
    return Layer(
        name=data.get("name", f"layer {index + 1}"), members=members,
        every=context.parse(parse_positive_duration, data, source, "every") or timedelta(1),
        start=context.parse(parse_date, data, source, "start") or UNSET_DATE,
        first=data.get("first", members[0] if members else ""),
        restrictions=tuple(
            window for position, restriction in enumerate(data.get("restrictions", ()))
            if (window := context.window(restriction, restrictions.at(position)))),
        where=context.place(source), **values,
    )


def override(context: Context, data: dict[str, Any], source: Source, index: int,
             zone: Any) -> Override:
    start = context.parse(lambda text: parse_datetime(text, zone), data, source, "from")
    end = context.parse(lambda text: parse_datetime(text, zone), data, source, "until")
    return Override(
        person=data["person"], start=start or UNSET_START, end=end or UNSET_END,
        replaces=data.get("replaces"), reason=data.get("reason", ""), order=index,
        where=context.place(source),
    )


def holidays(context: Context, data: dict[str, Any], source: Source) -> Holidays:
    dates = set()
    for index, text in enumerate(data.get("dates", ())):
        try:
            dates.add(parse_date(str(text)))
        except ValueError as error:
            context.error(source.at("dates").at(index), str(error))
    if "ics" in data:
        dates |= ics_dates(context, Path(source.file).parent / data["ics"], source.at("ics"))
    values = {key: data[key] for key in ("policy", "cover") if key in data}
    return Holidays(dates=frozenset(dates), where=context.place(source), **values)


def ics_dates(context: Context, path: Path, source: Source) -> set[date]:
    """Every day an event of the .ics file covers."""
    try:
        return parse_calendar_dates(path.read_bytes())
    except OSError as error:
        context.error(source, f"cannot read holiday calendar {str(path)!r}: {error.strerror}")
    except ValueError as error:
        context.error(source, f"{str(path)!r} is not a valid iCalendar file: {error}")
    return set()
