"""Who is on call in a rota at any instant (room: core; imports config.model only).

Pure: no I/O and no clock; every function takes the instant it answers for. Every returned
datetime is timezone-aware UTC (`EARLIEST`/`LATEST` stand for "since/until forever"); convert
for display only, because Python compares and subtracts datetimes that share a tzinfo by wall
clock, which is wrong across DST.

The rules, in the order they apply:

- Wall clock. A local time in the config (a handoff, a restriction window edge, a holiday's
  midnight) is a naive time in `rota.timezone`; it becomes an instant by zoneinfo's fold=0
  rule. A time that exists twice (fall-back) happens at its first occurrence; a time that does
  not exist (spring-forward gap) happens as if the old offset still held, so 02:30 on
  2026-03-08 in New York happens at 03:30 EDT. `every` must be longer than any change of UTC
  offset in the zone (a few hours) so handoffs stay in order.
- Rotation. Handoff k (k >= 0) happens at wall-clock time `anchor + k * every`, where `anchor`
  is `layer.start` at `layer.handoff`, moved forward to the first `handoff_day` on or after
  `layer.start` when that is set. A 09:00 handoff stays 09:00 local, so a daily shift across
  a DST change lasts 23 or 25 hours. Shift k runs from handoff k to handoff k + 1 and belongs
  to member `first + k` (counting round `members`). Before handoff 0 the layer has nobody.
- Holidays. A shift "starts on a holiday" when the local date of its handoff is in
  `holidays.dates`. Policy "skip": its member is skipped, so shift k belongs to member
  `first + k + s`, where s counts holiday shifts with index <= k in that layer; everyone after
  moves on by one. Policy "cover": that one shift belongs to `holidays.cover` (its layer reads
  `HOLIDAY_COVER`; with no `cover` nothing changes); the rotation is unchanged. Both apply
  per layer, by the rotation's handoffs, before restrictions.
- Restrictions. With `restrictions`, a layer has someone on call only inside its weekly
  windows: `end <= start` runs past midnight, `start == end` lasts 24 hours; windows that
  touch or overlap on the wall clock join first, then their edges become instants by the
  wall-clock rule (so 02:30-03:00 on a spring-forward night holds no time). A shift is
  clipped to the window it is seen through.
- Layers. Later layers sit above earlier ones: the highest layer with someone on call wins;
  if no layer has anyone, nobody is on call (person None, layer None).
- Overrides. Config overrides and `extra_overrides` (run-time ones from the store) rank by
  (`order`, position), position being config overrides in declaration order, then the extras;
  during [start, end) they apply in that order, lowest first: one whose `replaces` is None
  (the whole rota, even over nobody) or names the person on call at that point (from the
  layers, or from a lower override) puts its person on call. So the highest applicable one
  wins, and "bob covers for ann" also covers ann's time on call by an override.

`shift_at` answers for the stretch around the instant in which no input changes;
`shifts_between` joins such stretches for the same person and layer label, so a rota's final
shifts tile [start, end) with no gap or overlap. Queries do arithmetic on the wall clock, never
walk from the start date: their cost does not depend on how far the instant is from it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import TypeVar
from zoneinfo import ZoneInfo

from router.config.model import Layer, Override, Rota, WeeklyWindow

EARLIEST = datetime.min.replace(tzinfo=UTC)
"""The start of a shift that has no start (nobody, before a layer's first handoff)."""
LATEST = datetime.max.replace(tzinfo=UTC)
"""The end of a shift that has no end."""
OVERRIDE = "override"
HOLIDAY_COVER = "holiday cover"

# Internally an instant is a naive datetime in UTC ("utc") and a local time a naive wall-clock
# datetime ("wall"): arithmetic on them is several times faster than on aware datetimes.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MIN = datetime.min
_MAX = datetime.max
_MONDAY = datetime(2001, 1, 1)  # any Monday 00:00: weekly windows are offsets from one
_DAY = timedelta(days=1)
_WEEK = timedelta(weeks=1)
_SLACK = timedelta(hours=26)  # more than any change of UTC offset in the tz database
_ZERO = timedelta()

_Edge = TypeVar("_Edge", datetime, timedelta)
_Piece = tuple[str | None, datetime, datetime, str | None]  # person, utc start, utc end, layer
_Segments = tuple[tuple[Override, ...], ...]


@dataclass(frozen=True, slots=True)
class Shift:
    """`person` (None: nobody) is on call during [start, end), through `layer`.

    `layer` names the rota layer, or is `OVERRIDE` or `HOLIDAY_COVER`; None with nobody.
    """

    person: str | None
    start: datetime
    end: datetime
    layer: str | None


@dataclass(frozen=True, slots=True)
class OnCall:
    """The answer for one rota at one instant: the final shift and each layer's own shift."""

    rota: str
    shift: Shift
    layers: tuple[Shift, ...]


@dataclass(frozen=True, slots=True)
class _Rotation:
    """One layer compiled for arithmetic: everything a query needs, nothing it must derive."""

    name: str
    members: tuple[str, ...]
    first: int
    anchor: datetime
    every: timedelta
    offset: Callable[[datetime], timedelta | None]
    skipped: tuple[int, ...]
    covered: frozenset[int]
    cover: str | None
    window_starts: tuple[timedelta, ...] | None  # None: no restriction
    window_ends: tuple[timedelta, ...]


@dataclass(frozen=True, slots=True)
class _Schedule:
    rota: Rota
    layers: tuple[_Rotation, ...]
    bounds: tuple[datetime, ...]  # every override edge, sorted
    segments: _Segments  # active in [bounds[i], bounds[i+1]), best first


class _Identity:
    """Hashes a rota by identity: hashing a whole Rota costs more than a query."""

    __slots__ = ("rota",)

    def __init__(self, rota: Rota) -> None:
        self.rota = rota

    def __hash__(self) -> int:
        return id(self.rota)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.rota is self.rota


def _instant(wall: datetime, offset: Callable[[datetime], timedelta | None]) -> datetime:
    return wall - (offset(wall) or _ZERO)


def merge_spans(spans: Iterable[tuple[_Edge, _Edge]]) -> list[tuple[_Edge, _Edge]]:
    """Sorted spans with overlapping and touching ones joined."""
    merged: list[tuple[_Edge, _Edge]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _anchor(layer: Layer) -> datetime:
    day = layer.start
    if layer.handoff_day is not None:
        day += _DAY * ((layer.handoff_day - day.weekday()) % 7)
    return datetime.combine(day, layer.handoff)


def _holiday_shifts(anchor: datetime, every: timedelta, dates: Iterable[date]) -> list[int]:
    """Indices of the shifts whose handoff falls on one of `dates` (ceiling divisions)."""
    indices: set[int] = set()
    for day in dates:
        midnight = datetime.combine(day, time())
        first = max(0, -((anchor - midnight) // every))
        stop = -((anchor - midnight - _DAY) // every)
        indices.update(range(first, stop))
    return sorted(indices)


def _since_midnight(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second,
                     microseconds=moment.microsecond)


def _windows(windows: Sequence[WeeklyWindow]) -> tuple[tuple[timedelta, ...], ...] | None:
    """Windows as merged offsets from a Monday over five weeks; None when they cover all."""
    spans = []
    for window in windows:
        opens, closes = _since_midnight(window.start), _since_midnight(window.end)
        if closes <= opens:
            closes += _DAY
        for day in window.days:
            for week in range(-2, 3):
                base = _DAY * day + _WEEK * week
                spans.append((base + opens, base + closes))
    merged = merge_spans(spans)
    if not windows or any(end - start >= _WEEK for start, end in merged):
        return None
    return tuple(start for start, _ in merged), tuple(end for _, end in merged)


def _rotation(rota: Rota, layer: Layer) -> _Rotation:
    if layer.first not in layer.members:
        raise ValueError(f"layer {layer.name!r}: first {layer.first!r} is not a member")
    anchor = _anchor(layer)
    holidays = _holiday_shifts(anchor, layer.every, rota.holidays.dates)
    cover = rota.holidays.policy == "cover" and rota.holidays.cover is not None
    windows = _windows(layer.restrictions)
    return _Rotation(
        name=layer.name, members=layer.members, first=layer.members.index(layer.first),
        anchor=anchor, every=layer.every, offset=rota.timezone.utcoffset,
        skipped=() if rota.holidays.policy == "cover" else tuple(holidays),
        covered=frozenset(holidays if cover else ()), cover=rota.holidays.cover,
        window_starts=None if windows is None else windows[0],
        window_ends=() if windows is None else windows[1],
    )


def _overrides(overrides: Sequence[Override]) -> tuple[tuple[datetime, ...], _Segments]:
    ranked = []
    for position, override in enumerate(overrides):
        start, end = _utc(override.start), _utc(override.end)
        if start < end:
            ranked.append(((override.order, position), start, end, override))
    ranked.sort(key=lambda entry: entry[0], reverse=True)
    bounds = tuple(sorted({edge for _, start, end, _ in ranked for edge in (start, end)}))
    segments = tuple(
        tuple(override for _, start, end, override in ranked if start <= low and high <= end)
        for low, high in pairwise(bounds)
    )
    return bounds, segments


@lru_cache(maxsize=32)
def _compile(identity: _Identity, extra_overrides: tuple[Override, ...]) -> _Schedule:
    # A memo of a pure function: each entry holds the Rota it was built from, so an id() in
    # the cache is never reused by another object.
    rota = identity.rota
    bounds, segments = _overrides(rota.overrides + extra_overrides)
    layers = tuple(_rotation(rota, layer) for layer in rota.layers)
    return _Schedule(rota=rota, layers=layers, bounds=bounds, segments=segments)


def _schedule(rota: Rota, extra_overrides: Sequence[Override]) -> _Schedule:
    return _compile(_Identity(rota), tuple(extra_overrides))


def _utc(instant: datetime) -> datetime:
    if instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no timezone; instants must be aware")
    return _NAIVE_EPOCH + (instant - _EPOCH)


def _aware(utc: datetime) -> datetime:
    return _EPOCH + (utc - _NAIVE_EPOCH)


def _wall(timezone: ZoneInfo, utc: datetime) -> datetime:
    return utc + (_aware(utc).astimezone(timezone).utcoffset() or _ZERO)


def _handoff(rotation: _Rotation, index: int) -> datetime:
    if index < 0:
        return _MIN
    return _instant(rotation.anchor + rotation.every * index, rotation.offset)


def _rotation_at(rotation: _Rotation, utc: datetime, wall: datetime) -> _Piece:
    index = max((wall - rotation.anchor) // rotation.every, -1)
    start = _handoff(rotation, index)
    # The wall clock differs from the handoff arithmetic by at most one DST change: +-1.
    while start > utc:
        index -= 1
        start = _handoff(rotation, index)
    end = _handoff(rotation, index + 1)
    while end <= utc:
        index, start, end = index + 1, end, _handoff(rotation, index + 2)
    if index < 0:
        return None, start, end, rotation.name
    if index in rotation.covered:
        return rotation.cover, start, end, HOLIDAY_COVER
    member = rotation.first + index + bisect_right(rotation.skipped, index)
    return rotation.members[member % len(rotation.members)], start, end, rotation.name


def _window_at(
    rotation: _Rotation, utc: datetime, wall: datetime,
) -> tuple[bool, datetime, datetime]:
    """Whether `utc` is inside the layer's windows, and the window or gap around it."""
    starts, ends = rotation.window_starts or (), rotation.window_ends
    if not starts:
        return False, _MIN, _MAX
    position = (wall - _MONDAY) % _WEEK
    monday = wall - position
    # Offsets near `position`, one more each side: the nearest edges even across a DST change.
    low = max(bisect_right(ends, position - _SLACK) - 1, 0)
    high = min(bisect_right(starts, position + _SLACK) + 1, len(starts))
    spans = []
    for index in range(low, high):
        opens = _instant(monday + starts[index], rotation.offset)
        closes = _instant(monday + ends[index], rotation.offset)
        if opens < closes:
            spans.append((opens, closes))
    before = _MIN
    for opens, closes in merge_spans(spans):
        if closes <= utc:
            before = closes
        elif opens <= utc:
            return True, opens, closes
        else:
            return False, before, opens
    return False, before, _MAX


def _layer_at(rotation: _Rotation, utc: datetime, wall: datetime) -> _Piece:
    person, start, end, label = _rotation_at(rotation, utc, wall)
    if rotation.window_starts is None:
        return person, start, end, label
    inside, opens, closes = _window_at(rotation, utc, wall)
    if not inside:
        return None, opens, closes, rotation.name
    return person, max(start, opens), min(end, closes), label


def _final(schedule: _Schedule, utc: datetime, layers: Sequence[_Piece]) -> _Piece:
    start, end, winner = _MIN, _MAX, None
    for piece in reversed(layers):
        start, end = max(start, piece[1]), min(end, piece[2])
        if piece[0] is not None:
            winner = piece
            break
    bounds = schedule.bounds
    segment = bisect_right(bounds, utc) - 1
    if segment >= 0:
        start = max(start, bounds[segment])
    if segment + 1 < len(bounds):
        end = min(end, bounds[segment + 1])
    person, label = (winner[0], winner[3]) if winner else (None, None)
    if 0 <= segment < len(schedule.segments):
        # Lowest rank first, so a later override can cover for someone an earlier one put
        # on call ("bob covers for ann" also when ann is there by an override).
        for override in reversed(schedule.segments[segment]):
            if override.replaces is None or override.replaces == person:
                person, label = override.person, OVERRIDE
    return person, start, end, label


def _pieces(schedule: _Schedule, start: datetime, end: datetime) -> Iterator[_Piece]:
    """Final pieces tiling [start, end), joined when person and layer label agree."""
    timezone = schedule.rota.timezone
    current: _Piece | None = None
    utc = start
    while utc < end:
        wall = _wall(timezone, utc)
        layers = [_layer_at(rotation, utc, wall) for rotation in schedule.layers]
        person, _, until, label = _final(schedule, utc, layers)
        if current and (current[0], current[3]) == (person, label):
            current = (person, current[1], min(until, end), label)
        else:
            if current:
                yield current
            current = (person, utc, min(until, end), label)
        utc = until
    if current:
        yield current


def _shift(piece: _Piece) -> Shift:
    person, start, end, label = piece
    return Shift(person, _aware(start), _aware(end), label)


def layer_shift(rota: Rota, layer: Layer, instant: datetime) -> Shift:
    """The shift of one layer of `rota` at `instant`: rotation, holidays and restrictions.

    Raises:
        ValueError: `layer` is not one of `rota.layers`, or `instant` is naive.
    """
    schedule = _schedule(rota, ())
    utc = _utc(instant)
    rotation = schedule.layers[rota.layers.index(layer)]
    return _shift(_layer_at(rotation, utc, _wall(rota.timezone, utc)))


def shift_at(rota: Rota, instant: datetime, extra_overrides: Sequence[Override] = ()) -> OnCall:
    """Who is on call in `rota` at `instant`, and through which layer or override.

    Args:
        extra_overrides: run-time overrides, ranked with the config's (see the module rules).
            Pass the same tuple again to reuse the compiled rota.

    Raises:
        ValueError: `instant` is naive.
    """
    schedule = _schedule(rota, extra_overrides)
    utc = _utc(instant)
    wall = _wall(rota.timezone, utc)
    layers = [_layer_at(rotation, utc, wall) for rotation in schedule.layers]
    final = _final(schedule, utc, layers)
    return OnCall(rota.id, _shift(final), tuple(_shift(piece) for piece in layers))


def shifts_between(rota: Rota, start: datetime, end: datetime,
                   extra_overrides: Sequence[Override] = ()) -> list[Shift]:
    """The final shifts tiling [start, end) exactly; a shift's edges are clipped to it.

    Adjacent stretches with the same person and layer label are one shift.
    """
    schedule = _schedule(rota, extra_overrides)
    return [_shift(piece) for piece in _pieces(schedule, _utc(start), _utc(end))]


def first_gap(rota: Rota, start: datetime, horizon: timedelta,
              extra_overrides: Sequence[Override] = ()) -> Shift | None:
    """The first stretch of [start, start + horizon) in which nobody is on call, or None."""
    schedule = _schedule(rota, extra_overrides)
    for piece in _pieces(schedule, _utc(start), _utc(start + horizon)):
        if piece[0] is None:
            return _shift(piece)
    return None


def next_shift(rota: Rota, instant: datetime, extra_overrides: Sequence[Override] = (),
               horizon: timedelta = timedelta(days=366)) -> Shift | None:
    """Who is on call next: the first shift after `instant` whose person is someone else.

    Stretches of nobody are passed over; None when nobody else comes within `horizon`.
    """
    schedule = _schedule(rota, extra_overrides)
    utc = _utc(instant)
    pieces = _pieces(schedule, utc, _utc(instant + horizon))
    current = next(pieces, (None,))[0]
    for piece in pieces:
        if piece[0] is not None and piece[0] != current:
            return _shift(piece)
    return None
