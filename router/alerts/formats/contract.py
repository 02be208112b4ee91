"""What every inbound format is (room: alerts.formats; imports alerts.model, errors).

`Format` is a Protocol that a format module satisfies: `FORMATS` in
router/alerts/formats/__init__.py is typed with it, so mypy checks every registration, and
the server calls every format the same way. A generic webhook is a format too, made from the
mapping the config declares for it (`generic.GenericFormat`).
tests/alerts/formats/test_format_contract.py holds every format to the same contract at run
time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from router.alerts.formats._json import FieldLimits
from router.alerts.model import Alert


class Format(Protocol):
    """One inbound format: bytes and headers of one request in, alerts out."""

    def parse(self, body: bytes, headers: Mapping[str, str], *, limits: FieldLimits,
              now: datetime) -> list[Alert]:
        """The alerts of one request body, each alert's labels and annotations within
        `limits`; `now` is the aware instant the request arrived (what Alertmanager's
        `POST /api/v2/alerts` decides firing or resolved by; the other formats ignore it).
        An empty list when the body holds no alert.

        Raises:
            BadRequest: naming the field at fault; never any other exception.
        """
        ...


class DecodedFormat(Format, Protocol):
    """A format that also reads a body already decoded from JSON: `POST /v1/ingest` decodes
    the body once to choose the format (detect.py), and the chosen one reads that."""

    def parse_decoded(self, decoded: object, headers: Mapping[str, str], *,
                      limits: FieldLimits, now: datetime) -> list[Alert]:
        """`parse` of the body `decoded` came from, with the same alerts and errors.

        Raises:
            BadRequest: naming the field at fault; never any other exception.
        """
        ...
