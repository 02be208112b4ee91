"""Login throttling for the web interface (room: web; pure: the standard library only).

Failed logins are counted twice: per user (someone guessing one account's password from
many addresses) and per client address (someone trying one password on every account).
The first `free_failures` of either cost nothing, so a person who mistypes is not held up;
after that each failure doubles the wait before the next attempt is heard, from
`first_delay` up to `max_delay`. A success clears both counts; a count not added to for
`forget_after` is dropped.

Memory is bounded: each table is an LRU of at most `capacity` entries, so an attacker with
many addresses cannot grow it without end (evicting someone else's entry costs at most
that entry's wait, and the per-user count still holds). IPv6 clients are counted per /64,
the block one host usually gets, so a host's 2^64 addresses are one. The caller passes a
user name only when the config declares it: names made up by the attacker would be an
unbounded supply of fresh per-user entries. Time is a parameter; all of this is for the
trio thread only (no locks).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    free_failures: int = 5
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)
    capacity: int = 10_000


@dataclass(slots=True)
class _Failures:
    count: int
    last: datetime


class LoginThrottle:
    """The failure counts, per user and per address, and the waits they impose."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._users: OrderedDict[str, _Failures] = OrderedDict()
        self._addresses: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, user: str | None, address: str, now: datetime) -> timedelta:
        """How long until a login for `user` from `address` is heard; zero: now."""
        waits = [self._wait(table, key, now) for table, key in self._keys(user, address)]
        return max(waits, default=timedelta(0))

    def record_failure(self, user: str | None, address: str, now: datetime) -> None:
        for table, key in self._keys(user, address):
            entry = table.pop(key, None)
            if entry is None or now - entry.last >= self.limits.forget_after:
                entry = _Failures(0, now)
            entry.count, entry.last = entry.count + 1, now
            table[key] = entry  # most recent last
            while len(table) > self.limits.capacity:
                table.popitem(last=False)

    def record_success(self, user: str | None, address: str) -> None:
        for table, key in self._keys(user, address):
            table.pop(key, None)

    def __len__(self) -> int:
        """The entries kept, both tables together (what bounds the memory)."""
        return len(self._users) + len(self._addresses)

    def delay_after(self, failures: int) -> timedelta:
        """The wait after `failures` failures in a row."""
        beyond = failures - self.limits.free_failures
        if beyond <= 0:
            return timedelta(0)
        if beyond > 40:  # far past any cap; the shift would only grow
            return self.limits.max_delay
        return min(self.limits.first_delay * (1 << (beyond - 1)), self.limits.max_delay)

    def _wait(self, table: OrderedDict[str, _Failures], key: str,
              now: datetime) -> timedelta:
        entry = table.get(key)
        if entry is None or now - entry.last >= self.limits.forget_after:
            return timedelta(0)
        return max(timedelta(0), entry.last + self.delay_after(entry.count) - now)

    def _keys(self, user: str | None, address: str
              ) -> list[tuple[OrderedDict[str, _Failures], str]]:
        keys = [(self._addresses, client_key(address))]
        if user is not None:
            keys.append((self._users, user))
        return keys


def client_key(address: str) -> str:
    """What a client is counted by: its IPv4 address, or its IPv6 address's /64 (an IPv4
    address mapped into IPv6 counts as itself); text that is no address, as written."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)
