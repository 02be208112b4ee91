"""What every channel module is (room: notify; imports notify.wire, errors).

`Channel` is a Protocol that a module satisfies: `CHANNELS` in router/notify/__init__.py is
typed with it, so mypy checks every registration, and neither the deliverer nor the config
builder probes a module for what it may have (the way goalert writes
`var _ nfydest.Provider = ...`). tests/notify/test_channel_contract.py holds every registered
module to the same contract at run time.

A channel module is pure: it turns one notification into one request and reads the
receiver's answer; only notify/transport.py performs the request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from router.errors import Outcome
from router.notify.wire import Message, Request

SettingsT = TypeVar("SettingsT")
"""The module's `Settings` dataclass: what config/build/channels.py fills from the YAML."""
ResponseT = TypeVar("ResponseT", contravariant=True)
"""What the transport brings back for the module's requests: HttpResponse, SmtpReply or
None (a log line cannot be refused)."""


class Channel(Protocol[SettingsT, ResponseT]):
    """One outbound connector, written as a module: pagerduty, slack, email, webhook, log.

    The members are read-only properties so that a module's plain constants and its
    `Settings` class satisfy them; they keep the names the modules give them.
    """

    @property
    def Settings(self) -> type[SettingsT]:
        """The frozen dataclass of the channel's settings; each default is written there
        once (its `timeout` defaults to `DEFAULT_TIMEOUT`)."""
        ...

    @property
    def DEFAULT_RATE(self) -> float | None:
        """Messages a second when the channel's `rate` is not set (config/build/channels.py
        applies it); None: unlimited."""
        ...

    @property
    def DEFAULT_CONCURRENCY(self) -> int:
        """Sends at once when the channel's `concurrency` is not set (config/build/channels.py
        applies it)."""
        ...

    @property
    def DEFAULT_TIMEOUT(self) -> timedelta:
        """How long one send waits for the receiver when the settings do not say."""
        ...

    def render(self, message: Message, settings: SettingsT, *, now: datetime
               ) -> Request | None:
        """The request for one notification, or None when the channel has nothing to send
        for it. `now` is the time of this attempt (a retry an hour later is signed afresh);
        every request carries the timeout it is sent under."""
        ...

    def classify(self, response: ResponseT) -> Outcome:
        """The receiver's answer as ok, retry (after Retry-After when given) or failed."""
        ...
