"""`router deliveries` and `router test-channel` (room: cli; imports cli_support, config,
engine, store, notify, views, redaction, clock, errors).

`deliveries` reads the delivery log from the store in the state directory (the daemon may be
running: WAL lets both use it). `test-channel` sends one test notification through a channel
from this process, as PagerDuty's "Send test event" does, whether or not the daemon runs: it
resolves the config's secrets, prints what the receiver answered, and adds the attempt to the
delivery log when the state directory exists.
Exit codes: 0 done (test-channel: delivered), 1 not found, invalid config, store problem or a
failed test, 2 usage.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import trio

from router.cli.support import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    Usage,
    add_common_options,
    command,
    positive,
    print_json,
    table,
    text_time,
    with_engine,
)
from router.clock import SystemClock
from router.config.model import Config
from router.engine import Attempt, Engine, parse_incident_id
from router.engine.views import attempt_json
from router.errors import BadRequest
from router.notify.deliver import send_test
from router.notify.transport import Transport
from router.redaction import redact_urls


def add_commands(commands: Any) -> None:
    """Register deliveries and test-channel on the CLI's subparsers."""
    deliveries = command(commands, "deliveries", "the delivery log: every attempt to send a "
                         "notification, newest first")
    deliveries.add_argument("--incident", metavar="ID", help="only this incident's (INC12)")
    deliveries.add_argument("--failed", action="store_true",
                            help="only notifications that failed for good (dead letters)")
    deliveries.add_argument("--channel", metavar="ID", help="only this channel's")
    deliveries.add_argument("--limit", type=positive, default=100, metavar="N",
                            help="at most N attempts (default: 100)")
    add_common_options(deliveries, "deliveries", _deliveries, store_only=True)

    test = command(commands, "test-channel", "send a test notification through a channel now "
                   "and print the receiver's answer", exits=_TEST_EXITS)
    test.add_argument("channel", metavar="CHANNEL", help="a channel id from the config")
    add_common_options(test, "test-channel", _test_channel, resolve_secrets=True)


_TEST_EXITS = ("exit status: 0 delivered (or nothing to send); 1 not delivered, no such "
               "channel, or an invalid config; 2 usage.")


def _deliveries(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    incident_id = None
    if arguments.incident is not None:
        try:
            incident_id = f"INC{parse_incident_id(arguments.incident.strip())}"
        except BadRequest as bad:
            raise Usage(bad.message) from None
    found = with_engine(arguments, config, lambda engine: engine.deliveries(
        incident_id=incident_id, failed=arguments.failed, channel=arguments.channel,
        limit=arguments.limit))
    if arguments.format == "json":
        print_json({"deliveries": [attempt_json(item) for item in found]}, out)
        return EXIT_OK
    if not found:
        print("no deliveries", file=out)
        return EXIT_OK
    rows = [(text_time(item.attempted_at), _incident(item), item.channel, item.event,
             redact_urls(item.target), str(item.attempt), item.outcome,
             str(item.status_code) if item.status_code is not None else "-",
             f"{item.latency_ms:.0f}ms" if item.latency_ms is not None else "-",
             redact_urls(item.error or "")) for item in found]
    header = ("TIME", "INCIDENT", "CHANNEL", "EVENT", "TARGET", "TRY", "OUTCOME", "STATUS",
              "LATENCY", "ERROR")
    print("\n".join(table(header, rows)), file=out)
    return EXIT_OK


def _incident(attempt: Attempt) -> str:
    return f"INC{attempt.incident_number}" if attempt.incident_number is not None else "-"


def _test_channel(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    channel = config.channels.get(arguments.channel)
    if channel is None:
        known = ", ".join(sorted(config.channels)) or "none"
        raise Failure(f"no channel {arguments.channel!r} (channels: {known})")

    async def send() -> Attempt:
        transport = Transport()
        try:
            return await send_test(config, channel, SystemClock(), transport)
        finally:
            await transport.aclose()

    attempt = trio.run(send)
    if arguments.state.is_dir():
        with_engine(arguments, config, lambda engine: _record(engine, attempt))
    if arguments.format == "json":
        print_json(attempt_json(attempt), out)
    else:
        status = f" {attempt.status_code}" if attempt.status_code is not None else ""
        latency = f" in {attempt.latency_ms:.0f}ms" if attempt.latency_ms is not None else ""
        print(f"{channel.id}: {attempt.outcome}{status}{latency} "
              f"({redact_urls(attempt.target)})", file=out)
        if attempt.error:
            print(f"  {redact_urls(attempt.error)}", file=out)
    return EXIT_OK if attempt.outcome in ("delivered", "skipped") else EXIT_INVALID


async def _record(engine: Engine, attempt: Attempt) -> None:
    await engine.log_attempt(attempt)
