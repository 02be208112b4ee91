"""core/walltime.py: a typed wall-clock time at a DST change is an error, never a guess."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from router.core.walltime import WallTimeError, settle

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def test_an_ordinary_time_is_that_instant() -> None:
    assert settle(datetime(2026, 3, 29, 3, 30), BERLIN).isoformat() == \
        "2026-03-29T03:30:00+02:00"
    assert settle(datetime(2026, 3, 29, 1, 59), BERLIN).isoformat() == \
        "2026-03-29T01:59:00+01:00"


def test_a_time_the_clocks_skip_does_not_exist() -> None:
    with pytest.raises(WallTimeError) as error:
        settle(datetime(2026, 3, 29, 2, 30), BERLIN)
    assert str(error.value) == ("2026-03-29T02:30:00 does not exist in Europe/Berlin: the "
                                "clocks skip it when they go from UTC+01:00 to UTC+02:00")
    with pytest.raises(WallTimeError, match="from UTC-05:00 to UTC-04:00"):
        settle(datetime(2026, 3, 8, 2, 0), NEW_YORK)


def test_a_time_the_clocks_pass_twice_gives_both_readings() -> None:
    with pytest.raises(WallTimeError) as error:
        settle(datetime(2026, 10, 25, 2, 30), BERLIN)
    assert str(error.value) == ("2026-10-25T02:30:00 happens twice in Europe/Berlin: "
                                "2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00; "
                                "give the offset")
    assert settle(datetime(2026, 10, 25, 3, 0), BERLIN).isoformat() == \
        "2026-10-25T03:00:00+01:00"
