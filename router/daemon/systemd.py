"""systemd's service protocols without libsystemd (room: daemon; imports nothing from router).

Three small protocols, each a few lines over the standard library (sd_notify(3),
sd_watchdog_enabled(3), sd_listen_fds(3)):
- readiness: `notify("READY=1", "STATUS=...")` sends one datagram to `$NOTIFY_SOCKET`, so a
  `Type=notify` unit is "active" only once the listeners accept, and `systemctl status`
  shows what the daemon is doing;
- the watchdog: with `WatchdogSec=` systemd sets `$WATCHDOG_USEC`; `ping_watchdog` sends
  `WATCHDOG=1` at half that interval from the event loop itself, so a wedged loop stops
  pinging and systemd restarts the service;
- socket activation: with a `.socket` unit, systemd hands the listening sockets in as file
  descriptors 3, 4, ... (`$LISTEN_FDS`, `$LISTEN_PID`); `listen_fds` adopts them.

Outside systemd every variable is unset and each function does nothing, so the daemon runs
the same from a terminal. No libsystemd binding is needed: the protocols are stable, documented
and tiny, and a C dependency would make the air-gapped install harder.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence

import trio

logger = logging.getLogger(__name__)

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START: the first descriptor systemd passes
NOTIFY_TIMEOUT = 2.0  # seconds a send may wait when systemd's receive queue is full
_ACTIVATION_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def notify(*states: str) -> bool:
    """Send the states (`"READY=1"`, `"STATUS=listening"`, ...) as one datagram to systemd.

    Returns:
        True if the datagram was sent; False when `$NOTIFY_SOCKET` is unset (not under
        systemd), names an unsupported address, or the send failed (logged as a warning:
        a daemon that cannot tell systemd it is ready is still worth running).

    Raises:
        ValueError: a state is not `KEY=VALUE` on one line (a programming error).
    """
    for state in states:
        if "=" not in state or "\n" in state:
            raise ValueError(f"a notify state is KEY=VALUE on one line, not {state!r}")
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # a Linux abstract socket name
        address = "\0" + address[1:]
    elif not address.startswith("/"):  # vsock: needs AF_VSOCK, which the unit forbids
        logger.warning("NOTIFY_SOCKET=%s is neither a path nor an abstract name; "
                       "not notifying systemd", address)
        return False
    payload = "\n".join(states).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sender:
            sender.settimeout(NOTIFY_TIMEOUT)
            sender.connect(address)
            sender.sendall(payload)
    except OSError as error:
        logger.warning("could not notify systemd (%s) at NOTIFY_SOCKET=%s: %s",
                       ", ".join(states), os.environ["NOTIFY_SOCKET"],
                       error.strerror or error)
        return False
    return True


def monotonic_usec() -> str:
    """`MONOTONIC_USEC=` now: `RELOADING=1` must carry it for `Type=notify-reload`."""
    return f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"


def watchdog_interval() -> float | None:
    """Seconds between `WATCHDOG=1` pings, or None when systemd expects none.

    Half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises, so one late ping is not yet
    a missed one. None if the variable is unset or not a positive integer, or if
    `$WATCHDOG_PID` names another process (the variables were inherited, not meant for us).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    if not usec.isdigit() or int(usec) == 0:
        if usec:
            logger.warning("WATCHDOG_USEC=%s is not a positive integer; not pinging", usec)
        return None
    return int(usec) / 2 / 1_000_000


async def ping_watchdog(interval: float) -> None:
    """Send `WATCHDOG=1` every `interval` seconds, for ever (until cancelled).

    It runs in the event loop on purpose: if the loop stops turning, the pings stop and
    systemd's `WatchdogSec=` restarts the service.
    """
    while True:
        notify("WATCHDOG=1")
        await trio.sleep(interval)


def listen_fds() -> list[socket.socket]:
    """The sockets systemd passed by socket activation, in the `.socket` unit's order.

    Empty when `$LISTEN_PID` is not this process (unset, or inherited from a parent). The
    activation variables are removed from the environment either way, so no child process
    mistakes the descriptors for its own; each descriptor is made close-on-exec.

    Raises:
        ValueError: `$LISTEN_FDS` is not a count, or a descriptor it promises is not open.
    """
    values = {name: os.environ.pop(name, "") for name in _ACTIVATION_VARIABLES}
    if values["LISTEN_PID"] != str(os.getpid()):
        return []
    if not values["LISTEN_FDS"].isdigit():
        raise ValueError(f"socket activation: LISTEN_FDS={values['LISTEN_FDS']!r} is not a "
                         "count of file descriptors")
    count = int(values["LISTEN_FDS"])
    names = values["LISTEN_FDNAMES"].split(":") if values["LISTEN_FDNAMES"] else []
    sockets = []
    for number in range(LISTEN_FDS_START, LISTEN_FDS_START + count):
        try:
            os.set_inheritable(number, False)
            sockets.append(socket.socket(fileno=number))
        except OSError as error:
            for adopted in sockets:
                adopted.close()
            raise ValueError(f"socket activation: file descriptor {number} of LISTEN_FDS="
                             f"{count} is not an open socket ({error.strerror or error})"
                             ) from None
    logger.info("socket activation: %d socket%s from systemd%s", count,
                "" if count == 1 else "s", f" ({', '.join(names)})" if names else "")
    return sockets


def listeners(sockets: Sequence[socket.socket]) -> list[trio.SocketListener]:
    """Inherited sockets as trio listeners for the HTTP server.

    Raises:
        ValueError: a socket is not a listening TCP socket (say, a `ListenDatagram=` or a
            unix-socket `ListenStream=` in the `.socket` unit), naming it.
    """
    for sock in sockets:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        if (sock.family not in (socket.AF_INET, socket.AF_INET6)
                or sock.type != socket.SOCK_STREAM or not listening):
            where, number = sock.getsockname(), sock.fileno()
            for each in sockets:
                each.close()
            raise ValueError(f"socket activation: {where!r} (descriptor {number}) is "
                             "not a listening TCP socket; router serves HTTP on ListenStream="
                             "HOST:PORT sockets only")
    return [trio.SocketListener(trio.socket.from_stdlib_socket(sock)) for sock in sockets]
