"""Run-time rota overrides: add, list, remove, and the answers that honour them (room: engine;
imports core, store, config.model, roster, errors; the Engine only for its type).

`router override add|list|remove` and `GET|POST /v1/rotas/{id}/overrides`,
`DELETE /v1/overrides/{id}` come here, so the CLI and the API check the same things and say
the same words. An override is stored durably (store/overrides.py) and applied by every
on-call answer: run-time overrides rank above the config's, the newest created highest
(`store.overrides.RUN_TIME_ORDER`; docs/config.md#rotas). Escalation reads them through the
engine's OnCallCache, which this module tells to forget its answers whenever it adds or
removes one; the cache itself notices overrides another process (the CLI) committed.

Checks, each a BadRequest naming the field as the API's JSON body spells it: `rota` exists,
`person` exists, `replaces` exists, differs from `person` and can be on call in the rota (a
layer member, the holiday cover, or the person of one of its overrides), `from` < `until`,
`until` still to come, years 1000-9000, a `reason` that is not blank.

A warning, not a refusal: `replaces` names someone who is not on call anywhere in the window
(as the rota and its overrides stand), so the override changes nothing as things are. It is
still stored (the rota may change), and the answer says so (`Added.warnings`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from router.config.model import Config, Override, Rota
from router.core.oncall import Shift, shift_at, shifts_between
from router.engine import roster
from router.errors import BadRequest, NotFound
from router.store import Reader, Transaction
from router.store import overrides as stored
from router.store.overrides import RotaOverride as RotaOverride  # for the web room

if TYPE_CHECKING:
    from router.engine import Engine

logger = logging.getLogger(__name__)
ID_PREFIX = "OVR-"
_EARLIEST_YEAR, _LATEST_YEAR = 1000, 9000  # shift arithmetic near year 1 or 9999 overflows
_WARNING_HORIZON = timedelta(days=400)
"""How far into a long override the not-on-call warning looks: a year of shifts is quick to
tile inside the write transaction, eight thousand years of daily ones are not."""


@dataclass(frozen=True, slots=True)
class Added:
    """An override just stored, and what it may not do as meant (sentences for people)."""

    override: RotaOverride
    warnings: tuple[str, ...] = ()


def parse_time(config: Config, rota_id: str, field: str, text: str) -> datetime:
    """An ISO 8601 instant for an override of `rota_id`; one without an offset is wall-clock
    time in the rota's timezone (as the config's overrides are); `settings.timezone` if there
    is no such rota (the check of `rota` then refuses it).

    Raises:
        BadRequest: `text` is not ISO 8601; the field is `field`.
    """
    rota = config.rotas.get(rota_id)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(field, f"expected a date and time such as 2026-12-24T09:00 or "
                                f"2026-12-24T09:00:00+01:00, got {text!r}") from None
    zone = rota.timezone if rota is not None else config.settings.timezone
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def parse_override_id(text: str) -> str:
    """`OVR-1A2B3C4D`, `ovr-1a2b3c4d` -> `OVR-1a2b3c4d`; anything else is kept as typed."""
    text = text.strip()
    if text.upper().startswith(ID_PREFIX):
        return ID_PREFIX + text[len(ID_PREFIX):].lower()
    return text


def check_override(config: Config, rota_id: str, *, person: str, start: datetime,
                   end: datetime, reason: str, replaces: str | None, now: datetime) -> Rota:
    """The checks that need only the config and the clock; returns the rota.

    Raises:
        BadRequest: the first check that fails, naming its field.
    """
    rota = config.rotas.get(rota_id)
    if rota is None:
        raise BadRequest("rota", f"no rota {rota_id!r}{_choices(config.rotas)}")
    for field, who in (("person", person), ("replaces", replaces)):
        if who is not None and who not in config.people:
            raise BadRequest(field, f"no person {who!r}{_choices(config.people)}")
    if replaces == person:
        raise BadRequest("replaces", f"{person!r} cannot stand in for themselves")
    for field, moment in (("from", start), ("until", end)):
        if moment.tzinfo is None:
            raise BadRequest(field, "expected an instant with a timezone")
        if not _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR:
            raise BadRequest(field, f"expected a year from {_EARLIEST_YEAR} to "
                                    f"{_LATEST_YEAR}, got {moment.year}")
    if end <= now:
        raise BadRequest("until", f"{_utc_text(end)} is already past: an override must "
                                  "end in the future")
    if end <= start:
        raise BadRequest("until", f"must be after from ({_utc_text(start)}), got "
                                  f"{_utc_text(end)}")
    if not reason.strip():
        raise BadRequest("reason", "say why: an override needs a reason")
    return rota


def _choices(known: Mapping[str, object]) -> str:
    names = sorted(known)
    if not names:
        return " (the config has none)"
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f" (known: {shown})"


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def can_be_on_call(rota: Rota, run_time: list[RotaOverride]) -> set[str]:
    """Everyone who can be on call in `rota`: its layers' members, its holiday cover, and
    the people of its config and run-time overrides."""
    people = {member for layer in rota.layers for member in layer.members}
    people.update(override.person for override in rota.overrides)
    people.update(override.person for override in run_time)
    if rota.holidays.cover is not None:
        people.add(rota.holidays.cover)
    return people


async def add_override(engine: Engine, rota_id: str, *, person: str, start: datetime,
                       end: datetime, reason: str, replaces: str | None = None,
                       created_by: str = "") -> RotaOverride:
    """Check and store a run-time override; every on-call answer applies it from now on.

    Raises:
        BadRequest: a check failed (see the module), naming the field.
    """
    added = await add_override_warned(engine, rota_id, person=person, start=start, end=end,
                                      reason=reason, replaces=replaces, created_by=created_by)
    return added.override


async def add_override_warned(engine: Engine, rota_id: str, *, person: str, start: datetime,
                              end: datetime, reason: str, replaces: str | None = None,
                              created_by: str = "") -> Added:
    """`add_override`, with the warnings the CLI and the API show beside the new override.

    Raises:
        BadRequest: a check failed (see the module), naming the field.
    """
    config, now = engine.snapshot.config, engine.clock.now()
    rota = check_override(config, rota_id, person=person, start=start, end=end,
                          reason=reason, replaces=replaces, now=now)

    def write(transaction: Transaction) -> Added:
        warnings = () if replaces is None else _check_replaces(
            transaction, rota, replaces, max(start, now), end, now)
        override_id = _fresh_id(engine, transaction)
        override = RotaOverride(
            id=override_id, rota=rota.id, person=person, replaces=replaces,
            start=start.astimezone(UTC), end=end.astimezone(UTC), reason=reason.strip(),
            created_by=created_by, created_at=now)
        transaction.overrides.insert(override)
        engine.snapshot.on_call.forget()  # before any later unit of this commit pages
        return Added(override, warnings)

    added = await engine.store.write(write)
    await engine.schedule_handoffs()  # the override may move the next handoff
    override = added.override
    logger.info("override added", extra={
        "override": override.id, "rota": override.rota, "person": override.person,
        "replaces": override.replaces, "from": override.start.isoformat(),
        "until": override.end.isoformat(), "created_by": override.created_by,
        "warnings": list(added.warnings)})
    return added


def _check_replaces(reader: Reader, rota: Rota, replaces: str,
                    start: datetime, end: datetime, now: datetime) -> tuple[str, ...]:
    """Refuse a `replaces` who can never be on call in the rota; warn about one who is not
    on call in [start, end) as the rota and its overrides stand.

    Raises:
        BadRequest: `replaces` can never be on call in `rota`.
    """
    if replaces not in can_be_on_call(rota, reader.overrides.listed(rota=rota.id, now=now)):
        raise BadRequest("replaces", f"{replaces!r} is never on call in rota {rota.id!r}: "
                                     "name a member of its layers, its holiday cover or the "
                                     "person of one of its overrides")
    extra = stored.by_rota(reader.overrides.applying_since(start)).get(rota.id, ())
    return not_on_call_warnings(rota, replaces, start, end, extra)


def not_on_call_warnings(rota: Rota, replaces: str, start: datetime, end: datetime,
                         extra: Sequence[Override]) -> tuple[str, ...]:
    """A warning when `replaces` is on call nowhere in [start, end) of `rota` (its layers,
    config overrides and the run-time `extra`), so an override for them would change
    nothing; () when they are, somewhere. Looks at most `_WARNING_HORIZON` ahead."""
    until = min(end, start + _WARNING_HORIZON)
    shifts = shifts_between(rota, start, until, extra) if start < until else []
    if any(shift.person == replaces for shift in shifts):
        return ()
    others = sorted({shift.person for shift in shifts if shift.person})
    then = (f"{', '.join(others[:-1])} and {others[-1]}" if len(others) > 1
            else others[0] if others else "nobody")
    verb = "is" if len(others) < 2 else "are"
    return (f"{replaces!r} is not on call in rota {rota.id!r} from {_utc_text(start)} to "
            f"{_utc_text(until)} ({then} {verb}): this override changes nothing unless the "
            "rota or its overrides change",)


def _fresh_id(engine: Engine, reader: Reader) -> str:
    """`OVR-` and the random tail of a fresh id; drawn again in the unlikely clash."""
    while True:
        override_id = ID_PREFIX + engine.new_id()[-8:]
        if not reader.overrides.exists(override_id):
            return override_id


async def overrides(engine: Engine, rota: str | None = None, include_past: bool = False
                    ) -> list[RotaOverride]:
    """Overrides in force or to come, by start (`include_past`: every one ever made, removed
    and ended ones too), of one rota or all.

    Raises:
        NotFound: `rota` is not in the config (a CLI run with no config, no files, cannot
            tell: it lists what the store holds for that name).
    """
    _check_rota(engine, rota)
    now = None if include_past else engine.clock.now()
    return await engine.store.read(
        lambda reader: reader.overrides.listed(rota=rota, now=now))


async def latest_overrides(engine: Engine, rota: str | None, include_past: bool, last: int
                           ) -> tuple[list[RotaOverride], int]:
    """The last `last` of what `overrides` lists, and how many it lists (the web page, and
    the API's bounded listing).

    Raises:
        NotFound: as `overrides`.
    """
    _check_rota(engine, rota)
    now = None if include_past else engine.clock.now()
    return await engine.store.read(
        lambda reader: reader.overrides.latest(rota=rota, now=now, last=last))


def _check_rota(engine: Engine, rota: str | None) -> None:
    config = engine.snapshot.config
    if rota is not None and config.files and rota not in config.rotas:
        raise NotFound(f"no rota {rota!r}")


async def remove_override(engine: Engine, override_id: str) -> RotaOverride:
    """Remove an override in force or to come: it stops applying now; the row stays.

    Raises:
        NotFound: no such override in force or to come.
    """
    now = engine.clock.now()

    def write(transaction: Transaction) -> RotaOverride | None:
        removed = transaction.overrides.remove(override_id, now)
        if removed is not None:
            engine.snapshot.on_call.forget()
        return removed

    removed = await engine.store.write(write)
    if removed is None:
        raise NotFound(f"no override {override_id} in force or to come")
    await engine.schedule_handoffs()
    logger.info("override removed", extra={"override": removed.id, "rota": removed.rota})
    return removed


async def extra_overrides(engine: Engine, since: datetime) -> dict[str, tuple[Override, ...]]:
    """Run-time overrides that apply at or after `since`, per rota id, ranked for
    `core.oncall` (pass them as `extra_overrides` to the roster's answers)."""
    def query(reader: Reader) -> dict[str, tuple[Override, ...]]:
        return stored.by_rota(reader.overrides.applying_since(since))
    return await engine.store.read(query)


async def on_call(engine: Engine, team: str, at: datetime | None = None
                  ) -> tuple[str, Shift]:
    """Who is on call for a rota, or a service (its policy's first rota), run-time
    overrides applied: the socket's `get_on_call`.

    Raises:
        NotFound: no such rota or service, or the service's policy names no rota.
    """
    config, moment = engine.snapshot.config, at or engine.clock.now()
    rotas = roster.rotas_for(config, team)
    if not rotas:
        raise NotFound(f"no rota for {team!r}")
    extra = await extra_overrides(engine, moment)
    return rotas[0].id, shift_at(rotas[0], moment, extra.get(rotas[0].id, ())).shift


def override_state(override: RotaOverride, now: datetime) -> str:
    if override.removed_at is not None:
        return "removed"
    if override.end <= now:
        return "ended"
    return "active" if override.start <= now else "pending"


def override_json(override: RotaOverride, now: datetime) -> dict[str, Any]:
    """An override as the API and `--format json` show it; times ISO 8601 in UTC.

    {"id": "OVR-1a2b3c4d", "state": "pending|active|ended|removed" (at `now`), "rota": str,
     "person": str, "replaces": str|null, "from": time, "until": time, "reason": str,
     "created_by": str, "created_at": time, "removed_at": time|null}
    """
    def instant(moment: datetime | None) -> str | None:
        return None if moment is None else _utc_text(moment)
    return {"id": override.id, "state": override_state(override, now), "rota": override.rota,
            "person": override.person, "replaces": override.replaces,
            "from": instant(override.start), "until": instant(override.end),
            "reason": override.reason, "created_by": override.created_by,
            "created_at": instant(override.created_at),
            "removed_at": instant(override.removed_at)}
