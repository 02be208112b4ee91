"""`router exec` and `router job`: run a batch job under router's watch, and manage jobs'
alert targets (room: cli; imports cli_support, config, engine, errors).

`router exec --job backup [--timeout 2h] -- CMD ARGS` reports the run's start to the daemon
(`POST /v1/jobs/backup/runs`, at `--url`, else $ROUTER_URL, else http://127.0.0.1:9080,
with $ROUTER_TOKEN as the bearer token when set: a token with `sources: [job]`), runs the
command in a process group of its own, passes its output through (cron still mails it),
and reports the exit code, the duration and the last 4 KiB of the output. Past the timeout
it sends SIGTERM to the whole group and, once the command exited or `--grace` (10 s) passed,
SIGKILL to what is left of the group, and reports `timed_out`. Reports go to the daemon
directly: HTTP_PROXY and the like are not used. A report the daemon does not take (down,
refused) is a warning on stderr: the job runs all the same. SIGINT, SIGTERM and SIGHUP
sent to exec are passed on to the command's group, and the run is reported as it then
ends. Exit status: the command's own (128+N when signal N ended it), 124 when it timed out,
127 when it could not be started, 2 for usage.

`router job list` shows the jobs with their newest run, and `router job alerts
add|list|remove` manages alert targets in the store in the state directory (whether or not
the daemon runs: it reads the targets when a run ends), with the API's checks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TextIO

import trio

from router.cli.support import (
    EXIT_OK,
    EXIT_USAGE,
    Usage,
    add_common_options,
    command,
    login_name,
    print_json,
    table,
    text_time,
    with_engine,
)
from router.config.model import Config
from router.config.values import parse_positive_duration
from router.engine import Engine, time_ordered_id
from router.engine.job_requests import OUTPUT_BYTES, parse_alert
from router.engine.jobs import alert_json, job_json
from router.errors import BadRequest

URL_VARIABLE = "ROUTER_URL"
TOKEN_VARIABLE = "ROUTER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:9080"
REPORT_TIMEOUT = 10.0
"""Seconds a report may take: the job does not wait longer for router."""
KILL_GRACE = 10.0
"""Seconds between SIGTERM and SIGKILL to the command's process group at the timeout, unless
`--grace` says otherwise."""
DRAIN = 2.0
"""Seconds the output is still read after the command exited (a child it left behind may
hold the pipe open)."""
EXIT_TIMED_OUT = 124  # as timeout(1)
EXIT_NOT_STARTED = 127  # as a shell's "command not found"
_EXEC_EXITS = ("exit status: the command's own (128+N when signal N ended it); 124 it timed "
               "out; 127 it could not be started; 2 usage.")
_OPTIONS = {"alert_type": "--type", "target": "--target", "channel": "--channel",
            "on_failure": "--no-on-failure", "on_timeout": "--no-on-timeout"}


def add_commands(commands: Any) -> None:
    """Register `exec` and `job` on the CLI's subparsers."""
    run = command(commands, "exec", "run a batch job's command and report the run to router",
                  exits=_EXEC_EXITS)
    run.add_argument("--job", required=True, help="the job's id (config jobs: or POST /v1/jobs)")
    run.add_argument("--timeout", type=_duration, metavar="DURATION",
                     help="kill the command and report timed_out after this long (2h, 30m)")
    run.add_argument("--grace", type=_duration, default=timedelta(seconds=KILL_GRACE),
                     metavar="DURATION", help="at the timeout, how long after SIGTERM the "
                                              "group gets SIGKILL (default: 10s)")
    run.add_argument("--run-id", help="the run's id (default: a fresh time-ordered id)")
    run.add_argument("--url", help=f"router's HTTP address (default: ${URL_VARIABLE}, else "
                                   f"{DEFAULT_URL})")
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    run.set_defaults(handler=run_exec)
    job = commands.add_parser("job", help="batch jobs: list, alerts add|list|remove")
    actions = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    listing = command(actions, "list", "list the jobs with their newest run")
    add_common_options(listing, "job list", _list_jobs)
    alerts = actions.add_parser("alerts", help="a job's alert targets: add, list, remove")
    targets = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    add = command(targets, "add", "add an alert target to a job")
    add.add_argument("job")
    add.add_argument("--type", dest="alert_type", required=True, choices=("webhook", "email"))
    add.add_argument("--target", required=True, help="the webhook's URL or the email address")
    add.add_argument("--channel", help="the channel it goes through (default: the config's "
                                       "first of its type)")
    add.add_argument("--no-on-failure", dest="on_failure", action="store_false",
                     help="not told of failed runs")
    add.add_argument("--no-on-timeout", dest="on_timeout", action="store_false",
                     help="not told of timed-out runs")
    add_common_options(add, "job alerts add", _add_alert)
    shown = command(targets, "list", "list a job's alert targets")
    shown.add_argument("job")
    add_common_options(shown, "job alerts list", _list_alerts)
    remove = command(targets, "remove", "remove an alert target")
    remove.add_argument("id")
    add_common_options(remove, "job alerts remove", _remove_alert)


def _duration(text: str) -> timedelta:
    try:
        return parse_positive_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@dataclass(frozen=True, slots=True)
class Reporter:
    """Posts a run's reports to the daemon; a report it does not take is a warning."""

    url: str
    job: str
    token: str
    err: TextIO

    def send(self, document: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url.rstrip('/')}/v1/jobs/{self.job}/runs", method="POST",
            data=json.dumps(document).encode(), headers={
                "content-type": "application/json",
                **({"authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            # straight to router, whatever HTTP_PROXY or HTTPS_PROXY say: a proxy set for
            # the internet in a cron job's environment must not carry a report (and its
            # bearer token) away from the daemon
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with direct.open(request, timeout=REPORT_TIMEOUT) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")[:500]
            print(f"router exec: warning: router refused the {document['status']} report "
                  f"({error.code}): {text}", file=self.err)
        except (OSError, ValueError) as error:
            print(f"router exec: warning: cannot report the run to {self.url}: {error}",
                  file=self.err)


@dataclass(slots=True)
class Outcome:
    returncode: int | None = None
    timed_out: bool = False
    output: bytes = b""


def run_exec(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    command_line = list(arguments.command)
    if command_line[:1] == ["--"]:
        command_line = command_line[1:]
    if not command_line:
        print("router exec: expected the command after --: router exec --job ID -- CMD ARGS",
              file=err)
        return EXIT_USAGE
    timeout: timedelta | None = arguments.timeout
    reporter = Reporter(arguments.url or os.environ.get(URL_VARIABLE) or DEFAULT_URL,
                        arguments.job, os.environ.get(TOKEN_VARIABLE, ""), err)
    run_id = arguments.run_id or time_ordered_id()
    started: dict[str, Any] = {"run_id": run_id, "status": "started"}
    if timeout:  # router's own timer is the backstop, should this process die: it fires
        # only after this process had its chance to kill the command and report the output
        started["timeout"] = (timeout + arguments.grace).total_seconds() + 2 * REPORT_TIMEOUT
    reporter.send(started)
    began = time.monotonic()
    try:
        outcome = trio.run(supervise, command_line, timeout, arguments.grace, out)
    except OSError as error:
        message = f"cannot start {command_line[0]!r}: {error.strerror or error}"
        print(f"router exec: {message}", file=err)
        reporter.send({"run_id": run_id, "status": "failed", "exit_code": EXIT_NOT_STARTED,
                       "duration": time.monotonic() - began, "output": message})
        return EXIT_NOT_STARTED
    code = outcome.returncode
    exit_status = EXIT_TIMED_OUT if outcome.timed_out else _exit_status(code)
    status = "timed_out" if outcome.timed_out else "succeeded" if code == 0 else "failed"
    end: dict[str, Any] = {"run_id": run_id, "status": status,
                           "duration": round(time.monotonic() - began, 3),
                           "output": outcome.output.decode("utf-8", "replace")}
    if code is not None and not outcome.timed_out:
        end["exit_code"] = code
    reporter.send(end)
    return exit_status


def _exit_status(code: int | None) -> int:
    if code is None:
        return EXIT_TIMED_OUT
    return 128 - code if code < 0 else code


async def supervise(command_line: list[str], limit: timedelta | None, grace: timedelta,
                    out: TextIO) -> Outcome:
    """Run the command in a new process group, copying its output (stdout and stderr
    together) to `out` and keeping the last OUTPUT_BYTES; past `limit`, SIGTERM the group,
    and SIGKILL it `grace` later. (`limit` is the job's timeout: the command is killed
    at it, which a cancel scope around this function could not do.)

    Raises:
        OSError: the command could not be started.
    """
    outcome = Outcome()
    process = await trio.lowlevel.open_process(
        command_line, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    tail = bytearray()
    drained = trio.Event()

    async def pump() -> None:
        assert process.stdout is not None
        async for chunk in process.stdout:
            out.write(chunk.decode("utf-8", "replace"))
            out.flush()
            tail.extend(chunk)
            del tail[:-OUTPUT_BYTES]
        drained.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump)
        await nursery.start(_forward_signals, process)
        with trio.move_on_after(limit.total_seconds() if limit else math.inf) as waiting:
            await process.wait()
        if waiting.cancelled_caught:
            outcome.timed_out = True
            await _stop_group(process, grace.total_seconds())
        with trio.move_on_after(DRAIN):
            await drained.wait()
        nursery.cancel_scope.cancel()
    outcome.returncode = process.returncode
    outcome.output = bytes(tail)
    return outcome


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals `router exec` passes on to the command's process group: the command is in a
session of its own (so that its group can be killed whole), where Ctrl-C at a terminal or a
service manager's SIGTERM to exec would not reach it."""


async def _forward_signals(process: trio.Process, *,
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                           ) -> None:
    """Until cancelled, send each of FORWARDED that reaches exec to the command's group; the
    command then ends as it ends on that signal, and exec reports its exit as usual."""
    with trio.open_signal_receiver(*FORWARDED) as received:
        task_status.started()
        async for number in received:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, number)


async def _stop_group(process: trio.Process, grace: float) -> None:
    """SIGTERM to the command's whole process group; once the command exited, or `grace`
    passed, SIGKILL to what is left of the group (a child that ignored SIGTERM)."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(process.pid, signal.SIGTERM)
    with trio.move_on_after(grace):
        await process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def _list_jobs(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    views = with_engine(arguments, config, lambda engine: engine.jobs.jobs())
    if arguments.format == "json":
        print_json({"jobs": [job_json(view) for view in views]}, out)
        return EXIT_OK
    rows = [(view.job.id, view.origin, view.job.service or "-",
             str(view.job.timeout or "-"),
             view.last_run.status if view.last_run else "-",
             text_time(view.last_run.started_at) if view.last_run else "-")
            for view in views]
    print("\n".join(table(("JOB", "FROM", "SERVICE", "TIMEOUT", "LAST RUN", "STARTED"), rows)),
          file=out)
    return EXIT_OK


def _add_alert(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    body = {"alert_type": arguments.alert_type, "target": arguments.target,
            "on_failure": arguments.on_failure, "on_timeout": arguments.on_timeout,
            "channel": arguments.channel, "created_by": login_name()}
    try:
        wanted = parse_alert(body, config)
    except BadRequest as bad:
        raise Usage(f"{_OPTIONS.get(bad.field, bad.field)}: {bad.message}") from None

    async def add(engine: Engine) -> dict[str, Any]:
        return alert_json(await engine.jobs.add_alert(arguments.job, wanted))

    added = with_engine(arguments, config, add)
    if arguments.format == "json":
        print_json(added, out)
    else:
        print(f"added {added['id']}: {added['alert_type']} {added['target']}", file=out)
    return EXIT_OK


def _list_alerts(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    found = with_engine(arguments, config, lambda engine: engine.jobs.alerts(arguments.job))
    shown = [alert_json(alert) for alert in found]
    if arguments.format == "json":
        print_json({"alerts": shown}, out)
        return EXIT_OK
    rows = [(item["id"], item["alert_type"], item["target"], item["channel"] or "(first)",
             "yes" if item["on_failure"] else "no", "yes" if item["on_timeout"] else "no")
            for item in shown]
    print("\n".join(table(("ID", "TYPE", "TARGET", "CHANNEL", "ON FAILURE", "ON TIMEOUT"),
                         rows)), file=out)
    return EXIT_OK


def _remove_alert(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    removed = with_engine(arguments, config,
                          lambda engine: engine.jobs.remove_alert(arguments.id))
    if arguments.format == "json":
        print_json(alert_json(removed), out)
    else:
        print(f"removed {removed.id}: {removed.alert_type} {alert_json(removed)['target']}",
              file=out)
    return EXIT_OK
