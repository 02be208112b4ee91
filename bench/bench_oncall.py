"""How fast `shift_at` answers "who is on call at t", near a rota's start and years later.

A plain script (`python bench/bench_oncall.py`, or `make bench`): builds a rota with 3 layers
(one restricted to business hours), 50 overrides and 20 holidays in America/New_York, and
prints the mean microseconds per query over spread-out instants in each period. The query must
not walk from the start date, so both rows should read alike and stay under 50 us.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.config.model import Holidays, Layer, Override, Rota, WeeklyWindow
from router.core.oncall import shift_at

TIMEZONE = ZoneInfo("America/New_York")
START = date(2026, 1, 5)
QUERIES = 20_000


def build_rota() -> Rota:
    randomness = random.Random(3)
    people = tuple(f"person-{number}" for number in range(8))
    weekdays = WeeklyWindow(days=frozenset(range(5)), start=clock_time(9), end=clock_time(17))
    layers = (
        Layer(name="follow-the-sun", members=people[:4], every=timedelta(hours=12),
              handoff=clock_time(8), handoff_day=None, start=START, first=people[0]),
        Layer(name="weekly", members=people[4:], every=timedelta(weeks=1),
              handoff=clock_time(9, 30), handoff_day=0, start=START, first=people[5]),
        Layer(name="business-hours", members=people[2:6], every=timedelta(days=1),
              handoff=clock_time(9), handoff_day=None, start=START, first=people[3],
              restrictions=(weekdays,)),
    )
    overrides = []
    for _ in range(50):
        begin = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(hours=randomness.randrange(24 * 365))
        overrides.append(Override(
            person=randomness.choice(people), start=begin,
            end=begin + timedelta(hours=randomness.randrange(1, 72)),
            replaces=randomness.choice((None, *people)),
        ))
    holidays = frozenset(START + timedelta(days=randomness.randrange(3650)) for _ in range(20))
    return Rota(id="bench", name="Bench", timezone=TIMEZONE, layers=layers,
                overrides=tuple(overrides), holidays=Holidays(dates=holidays))


def mean_microseconds(rota: Rota, first: datetime) -> float:
    randomness = random.Random(7)
    instants = [first + timedelta(seconds=randomness.randrange(365 * 86400))
                for _ in range(QUERIES)]
    shift_at(rota, instants[0])  # compile once, as a long-running daemon would
    began = time.perf_counter()
    for instant in instants:
        shift_at(rota, instant)
    return (time.perf_counter() - began) / QUERIES * 1e6


def main() -> None:
    rota = build_rota()
    rows = [
        ("first year after start", datetime(2026, 1, 5, tzinfo=UTC)),
        ("ten years after start", datetime(2036, 1, 5, tzinfo=UTC)),
        ("fifty years after start", datetime(2076, 1, 5, tzinfo=UTC)),
    ]
    print(f"shift_at: 3 layers, {len(rota.overrides)} overrides, "
          f"{len(rota.holidays.dates)} holidays, {QUERIES} queries per row")
    print(f"{'instants':<26}{'mean us/query':>14}")
    for label, first in rows:
        print(f"{label:<26}{mean_microseconds(rota, first):>14.1f}")


if __name__ == "__main__":
    main()
