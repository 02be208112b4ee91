"""core.evolve: the same incident `dataclasses.replace` makes, for any fields changed."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.alerts.model import Incident, IncidentState, Severity
from router.core.evolve import evolve

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
BASE = Incident(number=7, dedup_key="key", service="api", summary="disk full",
                severity=Severity.CRITICAL, state=IncidentState.TRIGGERED, opened_at=NOW,
                updated_at=NOW, labels={"host": "db1"})
VALUES: dict[str, object] = {
    "number": 8, "dedup_key": "other", "service": None, "summary": "cpu", "severity":
    Severity.INFO, "state": IncidentState.ACKNOWLEDGED, "opened_at": NOW - timedelta(hours=1),
    "updated_at": NOW + timedelta(seconds=1), "source": "native", "escalation_policy": "p",
    "level": 2, "repeats": 1, "assigned_to": "alice", "alert_count": 3, "suppressed_by":
    "silence:x", "acknowledged_at": NOW, "acknowledged_by": "bob", "resolved_at": NOW,
    "labels": {"host": "db2"}}


def test_every_field_has_a_value_to_change_to() -> None:
    assert set(VALUES) == {field.name for field in fields(Incident)}


@given(st.sets(st.sampled_from(sorted(VALUES))))
def test_evolve_makes_what_replace_makes(names: set[str]) -> None:
    changes = {name: VALUES[name] for name in names}
    made = evolve(BASE, **changes)
    assert made == replace(BASE, **changes)  # type: ignore[arg-type]
    assert type(made) is Incident and made.id == f"INC{made.number}"
    assert BASE.level == 0 and BASE.assigned_to is None  # the original is left alone


def test_a_name_that_is_no_field_is_refused() -> None:
    with pytest.raises(TypeError, match="'levle'"):
        evolve(BASE, levle=1)
