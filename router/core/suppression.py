"""Whether an alert is suppressed now, by what, and until when (room: core; imports
config.model, alerts.model, core.matching, core.inhibition and core.time_intervals only).

Pure: no I/O and no clock; `now` is a parameter and must be timezone-aware. Every datetime
returned is UTC.

The rules:

- Matching. A suppression or silence applies to an alert when every one of its matchers
  matches (see `core.matching`); no matchers match every alert.
- Fixed windows and silences are half-open: active from `start`/`starts_at` (inclusive) to
  `end`/`ends_at` (exclusive).
- Weekly windows are local wall-clock time in the suppression's timezone. A window starts on
  each listed weekday at `start`; with `end > start` it ends that day at `end`; with
  `end < start` it runs past midnight and ends at `end` on the next day (a Sunday 22:00-06:00
  window covers Sunday night into Monday morning, and is not active on Sunday 03:00 unless
  Saturday is listed too); with `start == end` it lasts the whole day, until `start` on the
  next day (`00:00`-`24:00` is midnight to midnight). Edges follow the wall clock across DST,
  by zoneinfo's fold=0 rule as in `core.oncall`: a time that happens twice (fall-back) means
  its first occurrence, a time that does not exist (spring-forward gap) is read with the
  offset before the change, so 02:30 on 2026-03-08 in New York is 03:30 EDT. A window can
  therefore last an hour more or less than its wall-clock length, or nothing at all (02:00-
  03:00 on a spring-forward night).
- Verdict. The alert is suppressed when at least one suppression or silence is active for
  it. `until` is when that one stops suppressing: a fixed window's or a silence's end, or the
  end of the stretch of back-to-back weekly windows of that suppression that holds `now`
  (followed at most a week ahead). When several are active the verdict reports the one whose
  `until` is latest; on a tie, config suppressions in declared order come before silences in
  the order given.
- Inhibition and time intervals. With no suppression or silence active, the alert is
  suppressed by the inhibition the caller found for it (`core.inhibition`: kind
  "inhibition", id the rule's name), else by a time interval muting every route it matched
  (`core.time_intervals`: kind "time_interval", id the interval's name). Neither has an
  `until`: an inhibition lasts while its source fires (the engine checks the incidents it
  held again when a source stops firing), an interval until the wall clock leaves it (read
  again on the next re-sent alert, as a weekly window).
- When a window ends while the alert still fires. An alert is suppressed only while inside a
  window; a verdict holds for its instant. The intended engine behaviour: an alert arriving
  while suppressed is recorded and counted on its incident, but no notification and no
  escalation deadline is written; the engine stores a re-check timer at `Verdict.until`. When
  it fires, the engine calls `check` again with now = until: if the alert is now not
  suppressed (or suppressed by another window, which sets the next timer) and its incident
  is still open and was never notified, it notifies and starts escalation then, as if the
  alert had arrived at the end of the window. An incident that resolved inside the window is
  never notified. A sender re-sending a firing alert after the window (Prometheus does every
  cycle) reaches the same state through ordinary ingest.
- Muting an open incident (`muting`). An incident is muted while EVERY alert still firing in
  it is suppressed; one uncovered alert, or none at all, and it is not. The muting names
  every suppression and silence that holds one of its alerts, and lasts `until` the
  earliest of their verdicts' ends: then the engine checks again, and either the incident
  is still muted (by what is left) or it notifies as if new (docs/escalation.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from router.alerts.model import Alert, Silence
from router.config.model import Route, Suppression, TimeInterval, WeeklyWindow
from router.core.inhibition import Inhibition
from router.core.matching import fields_of, first_mismatch
from router.core.time_intervals import muted_by

LOOKAHEAD = timedelta(days=7)
"""How far `until` follows back-to-back weekly windows before the engine must re-check."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Suppressed or not; if so by which suppression or silence (`kind`, `id`), why, and
    `until` when it stops suppressing (UTC)."""

    suppressed: bool
    kind: Literal["suppression", "silence", "inhibition", "time_interval"] | None = None
    id: str | None = None
    reason: str = ""
    until: datetime | None = None

    def describe(self) -> str:
        """One line for the timeline and the logs."""
        if not self.suppressed:
            return "not suppressed"
        until = f" until {self.until.isoformat()}" if self.until else ""
        return f"suppressed by {self.kind} {self.id!r}{until}: {self.reason}"

    @property
    def label(self) -> str | None:
        """What an incident's and an alert's `suppressed_by` records: `kind:id`."""
        return f"{self.kind}:{self.id}" if self.suppressed else None


NOT_SUPPRESSED = Verdict(suppressed=False)


def check(alert: Alert, suppressions: Sequence[Suppression], silences: Sequence[Silence],
          now: datetime, *, inhibition: Inhibition | None = None,
          routes: Sequence[Route] = (), time_intervals: Mapping[str, TimeInterval] | None = None
          ) -> Verdict:
    """Whether `alert` is suppressed at `now`; see the module docstring for which is reported.

    Args:
        inhibition: what `InhibitionIndex.check` found for the alert, if anything.
        routes: the routes the alert matched (`Decision.routes`), for their time intervals.

    Raises:
        ValueError: when `now` (or a silence's time) is naive.
    """
    now = _utc(now)
    if not suppressions and not silences:  # the usual case: no matcher to read fields for
        return _inhibited_or_muted(inhibition, routes, time_intervals or {}, now)
    fields = fields_of(alert)
    active: list[Verdict] = []
    for suppression in suppressions:
        if first_mismatch(suppression.matchers, fields) is None:
            until = window_end(suppression, now)
            if until is not None:
                active.append(Verdict(suppressed=True, kind="suppression", id=suppression.id,
                                      reason=suppression.reason, until=until))
    for silence in silences:
        ends_at = _utc(silence.ends_at)
        if (_utc(silence.starts_at) <= now < ends_at
                and first_mismatch(silence.matchers, fields) is None):
            active.append(Verdict(suppressed=True, kind="silence", id=silence.id,
                                  reason=silence.reason, until=ends_at))
    if not active:
        return _inhibited_or_muted(inhibition, routes, time_intervals or {}, now)
    # max() keeps the first of equal keys, which is the declared order.
    return max(active, key=lambda verdict: verdict.until or now)


@dataclass(frozen=True, slots=True, kw_only=True)
class Muting:
    """What mutes an incident: `by` as "silence:ID" / "suppression:ID", in the order first
    seen, and `until` when the first of them stops holding its alert (UTC)."""

    by: tuple[str, ...]
    until: datetime | None

    def describe(self) -> str:
        """The `by` text for the timeline and the incident's `suppressed_by`."""
        return ", ".join(self.by)


def muting(alerts: Sequence[Alert], suppressions: Sequence[Suppression],
           silences: Sequence[Silence], now: datetime) -> Muting | None:
    """What mutes an incident whose firing alerts are `alerts`; None when one of them is not
    suppressed at `now`, or there are none."""
    if not alerts:
        return None
    by: dict[str, None] = {}
    ends: list[datetime] = []
    for alert in alerts:
        verdict = check(alert, suppressions, silences, now)
        if not verdict.suppressed:
            return None
        by[f"{verdict.kind}:{verdict.id}"] = None
        if verdict.until is not None:
            ends.append(verdict.until)
    return Muting(by=tuple(by), until=min(ends, default=None))


def _inhibited_or_muted(inhibition: Inhibition | None, routes: Sequence[Route],
                        time_intervals: Mapping[str, TimeInterval], now: datetime) -> Verdict:
    if inhibition is not None:
        return Verdict(suppressed=True, kind="inhibition", id=inhibition.rule.name,
                       reason=f"inhibited while alert {inhibition.source.identity} of "
                              f"INC{inhibition.source.incident} fires")
    interval = muted_by(routes, time_intervals, now)
    if interval is not None:
        return Verdict(suppressed=True, kind="time_interval", id=interval,
                       reason=f"every matched route is muted by time interval {interval!r}")
    return NOT_SUPPRESSED


def window_end(suppression: Suppression, now: datetime) -> datetime | None:
    """When the suppression's windows that hold `now` end (UTC); None when none holds it.

    Ignores matchers: this is about time only.
    """
    now = _utc(now)
    ends = []
    fixed = suppression.fixed
    if fixed is not None and _utc(fixed.start) <= now < _utc(fixed.end):
        ends.append(_utc(fixed.end))
    end = _covering_end(suppression.weekly, suppression.timezone, now)
    while end is not None:
        ends.append(end)
        if end - now > LOOKAHEAD:
            break
        end = _covering_end(suppression.weekly, suppression.timezone, end)
    return max(ends, default=None)


def occurrence(window: WeeklyWindow, zone: ZoneInfo, day: date
               ) -> tuple[datetime, datetime] | None:
    """The instants (UTC) the window starts and ends when it starts on local `day`; None if
    `day` is not one of its weekdays or the occurrence is empty (a DST gap swallowed it)."""
    if day.weekday() not in window.days:
        return None
    end_day = day if window.end > window.start else day + timedelta(days=1)
    start = _instant(day, window.start, zone)
    end = _instant(end_day, window.end, zone)
    return (start, end) if start < end else None


def _covering_end(windows: Sequence[WeeklyWindow], zone: ZoneInfo, instant: datetime
                  ) -> datetime | None:
    """The latest end of the occurrences that hold `instant`, or None."""
    # An occurrence lasts at most one local day, so only those starting on the local day of
    # `instant` or the day before can hold it.
    today = instant.astimezone(zone).date()
    ends = [bounds[1] for window in windows for day in (today - timedelta(days=1), today)
            if (bounds := occurrence(window, zone, day)) and bounds[0] <= instant < bounds[1]]
    return max(ends, default=None)


def _instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC. Python compares datetimes that share a tzinfo by wall clock, which
    is wrong across DST, so everything is compared in UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment.isoformat()}")
    return moment.astimezone(UTC)
