"""Read-only questions about rotas: who is on call, the shifts, calendars and fatigue
(room: engine; imports core, config.model, errors).

Both the CLI (from the config alone) and the HTTP API (from the daemon's snapshot) ask
these, so the answers and their JSON live here once. Run-time overrides from the store pass
in as `extra_overrides`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

from router.config.model import Config, Override, Rota
from router.core.calendar import person_calendar, rota_calendar
from router.core.coverage import Gap, coverage_gaps
from router.core.fatigue import Fatigue, fatigue_report
from router.core.oncall import (
    EARLIEST,
    LATEST,
    Shift,
    next_shift,
    shift_at,
    shifts_between,
)
from router.core.walltime import settle
from router.errors import NotFound, Problem

CALENDAR_SPAN = timedelta(weeks=8)
"""How far ahead an iCal feed looks."""


def calendar_window(now: datetime) -> tuple[datetime, datetime]:
    """From Monday 00:00 UTC of last week to `CALENDAR_SPAN` after now.

    The start moves only once a week, so a shift clipped at it keeps its UID (made from its
    start) between fetches, and calendar apps update events instead of duplicating them.
    """
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day - timedelta(days=day.weekday() + 7)
    return start, now + CALENDAR_SPAN


def read_instant(text: str, zone: tzinfo) -> datetime:
    """A date or instant someone typed to ask an on-call question (`router fatigue --from`,
    `GET /v1/fatigue?from=`, `--at`): ISO 8601, and without an offset wall-clock time in
    `zone` (the settings' or the rota's timezone), so that a bare date is the same local
    day from the CLI and over HTTP, across DST changes too. A wall-clock time that a DST
    change skips or repeats in `zone` is no one instant: an error (core/walltime.py).

    Raises:
        ValueError: not ISO 8601, outside the years 1000 to 9000 (shift arithmetic near
            year 1 or 9999 overflows), or a time that does not exist or exists twice.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a date and time such as 2026-12-24T09:00 or "
                         f"2026-12-24T09:00:00+01:00, got {text!r}") from None
    if not 1000 <= moment.year <= 9000:
        raise ValueError(f"expected an instant between the years 1000 and 9000, got {text!r}")
    if moment.tzinfo is not None:
        return moment
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return settle(moment, zone)
    return moment.replace(tzinfo=zone)  # a day: from midnight (fold=0, as config times)


@dataclass(frozen=True, slots=True)
class OnCallAnswer:
    rota: Rota
    shift: Shift
    next: Shift | None
    layers: tuple[Shift, ...]


def rotas_for(config: Config, team: str | None) -> list[Rota]:
    """The rota named `team`, or the rotas a service's escalation policy pages, or all.

    Raises:
        NotFound: `team` is neither a rota nor a service.
    """
    if team is None:
        return list(config.rotas.values())
    if team in config.rotas:
        return [config.rotas[team]]
    service = config.services.get(team)
    if service is None:
        raise NotFound(f"no rota or service with id {team!r}")
    policy = config.escalation_policies.get(service.escalation_policy or "")
    ids = dict.fromkeys(target.id for level in (policy.levels if policy else ())
                        for target in level.targets if target.kind == "rota")
    return [config.rotas[rota_id] for rota_id in ids]


def on_call(config: Config, team: str | None, at: datetime,
            extra_overrides: Mapping[str, Sequence[Override]] | None = None
            ) -> list[OnCallAnswer]:
    extra = extra_overrides or {}
    answers = []
    for rota in rotas_for(config, team):
        now = shift_at(rota, at, extra.get(rota.id, ()))
        answers.append(OnCallAnswer(rota, now.shift, next_shift(rota, at, extra.get(rota.id, ())),
                                    now.layers))
    return answers


def schedule(config: Config, rota_id: str, start: datetime, end: datetime,
             extra_overrides: Sequence[Override] = ()) -> list[Shift]:
    """The final shifts of a rota over [start, end): layers, overrides, holidays applied."""
    return shifts_between(_rota(config, rota_id), start, end, extra_overrides)


def rota_ics(config: Config, rota_id: str, now: datetime,
             extra_overrides: Sequence[Override] = ()) -> bytes:
    rota = _rota(config, rota_id)
    shifts = shifts_between(rota, *calendar_window(now), extra_overrides)
    return rota_calendar(rota, shifts, stamp=now, people=config.people)


def person_ics(config: Config, person_id: str, now: datetime,
               extra_overrides: Mapping[str, Sequence[Override]] | None = None) -> bytes:
    person = config.people.get(person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id!r}")
    extra = extra_overrides or {}
    window = calendar_window(now)
    shifts = {rota: shifts_between(rota, *window, extra.get(rota.id, ()))
              for rota in config.rotas.values()}
    return person_calendar(person, shifts, stamp=now)


def fatigue(config: Config, start: datetime, end: datetime,
            pages: Mapping[str, Sequence[datetime]] | None = None,
            extra_overrides: Mapping[str, Sequence[Override]] | None = None
            ) -> tuple[Fatigue, ...]:
    return fatigue_report(config.people, config.rotas.values(), start, end,
                          config.settings.fatigue, pages, extra_overrides)


GAP_HORIZON = timedelta(days=90)
"""How far ahead `router validate` looks for stretches with nobody on call by default."""


def coverage_problems(config: Config, now: datetime, horizon: timedelta = GAP_HORIZON, *,
                      strict: bool = False) -> list[Problem]:
    """One problem per coverage gap in [now, now + horizon) (`core.coverage`): warnings, or
    errors with `strict`, so a team sees every hole before an alert falls into it."""
    severity: Literal["error", "warning"] = "error" if strict else "warning"
    return [Problem(gap.where, _gap_path(gap), gap_message(gap), severity)
            for gap in coverage_gaps(config, now, horizon)]


def gap_message(gap: Gap) -> str:
    """`level 2 (rota office) reaches nobody from ... until ... (Europe/Berlin)`."""
    zone = gap.timezone
    span = (f"from {gap.start.astimezone(zone).isoformat(timespec='minutes')} until "
            f"{gap.end.astimezone(zone).isoformat(timespec='minutes')} ({zone.key})")
    if gap.level is None:
        return f"nobody is on call {span}"
    rotas = ", ".join(gap.rotas)
    return f"level {gap.level} (rota{'s' if len(gap.rotas) > 1 else ''} {rotas}) " \
           f"reaches nobody {span}"


def _gap_path(gap: Gap) -> str:
    if gap.policy is None:
        return f"rotas.{gap.rotas[0]}"
    return f"escalation_policies.{gap.policy}.levels[{(gap.level or 1) - 1}]"


def _rota(config: Config, rota_id: str) -> Rota:
    rota = config.rotas.get(rota_id)
    if rota is None:
        raise NotFound(f"no rota with id {rota_id!r}")
    return rota


def shift_json(shift: Shift, rota: Rota | None = None) -> dict[str, Any]:
    """A shift as the API shows it: ISO 8601 instants (UTC), None for "forever"."""
    def instant(moment: datetime, unbounded: datetime) -> str | None:
        return None if moment == unbounded else moment.isoformat()
    document: dict[str, Any] = {"person": shift.person, "start": instant(shift.start, EARLIEST),
                                "end": instant(shift.end, LATEST), "layer": shift.layer}
    if rota is not None:
        document["rota"] = rota.id
    return document


def on_call_json(answer: OnCallAnswer) -> dict[str, Any]:
    return {"rota": answer.rota.id, "name": answer.rota.name,
            "on_call": shift_json(answer.shift),
            "next": shift_json(answer.next) if answer.next else None,
            "layers": [shift_json(layer) for layer in answer.layers]}


def fatigue_json(report: Fatigue) -> dict[str, Any]:
    return {"person": report.person, "hours": round(report.hours, 2),
            "night_hours": round(report.night_hours, 2),
            "weekend_hours": round(report.weekend_hours, 2), "pages": report.pages,
            "night_pages": report.night_pages, "over_limits": list(report.flags)}
