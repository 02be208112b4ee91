"""What the engine remembers to make ingest cheap must answer as if it had not: who is on
call (OnCallCache), and notification ids that sort by time (time_ordered_id)."""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from router.config.model import Holidays, Layer, Override, Rota, WeeklyWindow
from router.core.oncall import shift_at
from router.engine import OnCallCache, time_ordered_id

BERLIN = ZoneInfo("Europe/Berlin")


def a_rota() -> Rota:
    """Three layers (one restricted to office hours), overrides, holidays and DST changes."""
    people = ("ann", "bob", "cat", "dan", "eve")
    office = WeeklyWindow(days=frozenset(range(5)), start=time(9), end=time(17))
    layers = (
        Layer(name="weekly", members=people[:3], every=timedelta(weeks=1), start=date(2026, 1, 5),
              first="ann", handoff=time(9), handoff_day=0),
        Layer(name="daily", members=people[3:], every=timedelta(days=1), start=date(2026, 2, 1),
              first="dan", handoff=time(8)),
        Layer(name="office", members=people[1:4], every=timedelta(days=1),
              start=date(2026, 1, 1), first="cat", restrictions=(office,)),
    )
    overrides = (
        Override(person="eve", start=datetime(2026, 3, 20, 12, tzinfo=UTC),
                 end=datetime(2026, 3, 31, 6, tzinfo=UTC)),
        Override(person="ann", replaces="bob", start=datetime(2026, 3, 25, tzinfo=UTC),
                 end=datetime(2026, 3, 26, tzinfo=UTC), order=1),
    )
    return Rota(id="primary", name="Primary", timezone=BERLIN, layers=layers,
                overrides=overrides,
                holidays=Holidays(dates=frozenset({date(2026, 3, 27), date(2026, 4, 3)})))


def test_the_on_call_cache_answers_as_shift_at_at_every_instant() -> None:
    rota = a_rota()
    cache = OnCallCache()
    randomness = random.Random(4)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    checked = 0
    while moment < datetime(2026, 4, 15, tzinfo=UTC):  # over both DST changes of 2026
        assert cache(rota, moment) == shift_at(rota, moment).shift.person, moment
        if randomness.random() < 0.05:  # now and then an instant from the past
            past = moment - timedelta(minutes=randomness.randrange(1, 20000))
            assert cache(rota, past) == shift_at(rota, past).shift.person, past
        moment += timedelta(minutes=randomness.randrange(1, 240))
        checked += 1
    assert checked > 1000


def test_the_on_call_cache_does_not_mix_up_rotas_of_the_same_id() -> None:
    cache = OnCallCache()
    moment = datetime(2026, 3, 2, 12, tzinfo=UTC)
    first = a_rota()
    second = Rota(id=first.id, name="Primary", timezone=BERLIN, layers=(
        Layer(name="solo", members=("zed",), every=timedelta(days=1), start=date(2026, 1, 1),
              first="zed"),))
    assert cache(first, moment) == shift_at(first, moment).shift.person
    assert cache(second, moment) == "zed"


def test_time_ordered_ids_look_like_uuid4_hex_and_sort_by_creation() -> None:
    ids = [time_ordered_id() for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", item) for item in ids)
    assert len(set(ids)) == len(ids)
    prefixes = [item[:14] for item in ids]  # microseconds: equal within one, else rising
    assert prefixes == sorted(prefixes)
    assert len({item[-8:] for item in ids}) > len(ids) - 3  # silence ids use the random tail


def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    """The random tails are drawn a block at a time; a child must draw its own."""
    time_ordered_id()  # the parent now holds the rest of a block
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(writer, "".join(time_ordered_id()[14:] for _ in range(50)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        text = pipe.read()
    theirs = {text[start:start + 18] for start in range(0, len(text), 18)}
    ours = {time_ordered_id()[14:] for _ in range(50)}
    assert len(theirs) == 50 and not theirs & ours
