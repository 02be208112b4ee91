"""web/auth/throttle.py (issue 22 item 3): five free failures, then a doubling wait up to a
cap, per user and per address; a success clears them; memory stays bounded however many
addresses an attacker has. The clock is a parameter: no test sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.web.auth.throttle import Limits, LoginThrottle, client_key

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def fail(throttle: LoginThrottle, times: int, *, user: str | None = "ann",
         address: str = "192.0.2.1", now: datetime = NOW) -> None:
    for _ in range(times):
        throttle.record_failure(user, address, now)


def test_five_failures_are_free_then_the_wait_doubles_up_to_the_cap() -> None:
    throttle = LoginThrottle()
    fail(throttle, 5)
    assert throttle.retry_after("ann", "192.0.2.1", NOW) == timedelta(0)
    waits = []
    for _ in range(15):
        fail(throttle, 1)
        waits.append(throttle.retry_after("ann", "192.0.2.1", NOW).total_seconds())
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900]
    assert throttle.delay_after(10**6) == timedelta(minutes=15)


def test_the_wait_runs_down_with_the_clock() -> None:
    throttle = LoginThrottle()
    fail(throttle, 8)  # a wait of 4 s
    assert throttle.retry_after("ann", "192.0.2.1", NOW + SECOND) == 3 * SECOND
    assert throttle.retry_after("ann", "192.0.2.1", NOW + 4 * SECOND) == timedelta(0)


def test_a_user_is_throttled_from_every_address_and_an_address_for_every_user() -> None:
    throttle = LoginThrottle()
    for index in range(6):  # one guess at ann's password from each of six addresses
        throttle.record_failure("ann", f"198.51.100.{index}", NOW)
    assert throttle.retry_after("ann", "203.0.113.9", NOW) == SECOND
    assert throttle.retry_after("bob", "203.0.113.9", NOW) == timedelta(0)
    for name in ("a", "b", "c", "d", "e", "f"):  # one password tried on six accounts
        throttle.record_failure(name, "203.0.113.7", NOW)
    assert throttle.retry_after("bob", "203.0.113.7", NOW) == SECOND
    assert throttle.retry_after(None, "203.0.113.7", NOW) == SECOND


def test_a_success_clears_the_counts() -> None:
    throttle = LoginThrottle()
    fail(throttle, 7)
    throttle.record_success("ann", "192.0.2.1")
    assert throttle.retry_after("ann", "192.0.2.1", NOW) == timedelta(0)
    assert len(throttle) == 0


def test_old_failures_are_forgotten() -> None:
    throttle = LoginThrottle()
    fail(throttle, 10)
    later = NOW + timedelta(hours=1)
    assert throttle.retry_after("ann", "192.0.2.1", later) == timedelta(0)
    fail(throttle, 1, now=later)  # counting starts again: one of the five free ones
    assert throttle.retry_after("ann", "192.0.2.1", later) == timedelta(0)


def test_memory_is_bounded_however_many_addresses_fail() -> None:
    throttle = LoginThrottle(Limits(capacity=100))
    for index in range(10_000):
        throttle.record_failure(None, f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
                                NOW)
    assert len(throttle) == 100
    fail(throttle, 6, address="192.0.2.1")  # still counted: the newest entries are kept
    assert throttle.retry_after("ann", "192.0.2.1", NOW) == SECOND
    assert len(throttle) == 101  # 100 addresses and ann


def test_a_host_s_ipv6_addresses_count_as_one() -> None:
    throttle = LoginThrottle()
    for index in range(6):
        throttle.record_failure(None, f"2001:db8:1:2::{index:x}", NOW)
    assert throttle.retry_after(None, "2001:db8:1:2:ffff::1", NOW) == SECOND
    assert throttle.retry_after(None, "2001:db8:1:3::1", NOW) == timedelta(0)


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.1", "192.0.2.1"), ("::ffff:192.0.2.1", "192.0.2.1"),
    ("2001:db8::1", "2001:db8::/64"), ("fe80::1%eth0", "fe80::/64"), ("unix", "unix"),
])
def test_client_keys(address: str, key: str) -> None:
    assert client_key(address) == key
