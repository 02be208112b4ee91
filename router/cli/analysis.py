"""`router analysis ID` (room: cli; imports cli_support, config, engine, errors): every
analysis run of an incident, newest first, as the audit trail keeps it (issue 21 item 5).

It reads the store in the state directory, with or without a running daemon; `--format
json` prints what `GET /v1/incidents/{id}/analysis` answers. Exit codes: 0 shown (an
incident with no run says so), 1 unknown incident or store problem, 2 a malformed id.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from router.cli.support import (
    EXIT_OK,
    Failure,
    Usage,
    add_common_options,
    command,
    fields,
    print_json,
    with_engine,
)
from router.config.model import Config
from router.engine import parse_incident_id
from router.engine.analysis import run_json
from router.errors import BadRequest, NotFound


def add_commands(commands: Any) -> None:
    analysis = command(commands, "analysis", "an incident's analysis runs, newest first")
    analysis.add_argument("id", metavar="ID", help="an incident id such as INC3 (or 3)")
    add_common_options(analysis, "analysis", _show, store_only=True)


def _show(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    try:
        number = parse_incident_id(arguments.id.strip())
    except BadRequest as bad:
        raise Usage(bad.message) from None
    try:
        runs = with_engine(arguments, config,
                           lambda engine: engine.analysis.runs(f"INC{number}"))
    except NotFound as missing:
        raise Failure(str(missing)) from None
    documents = [run_json(run) for run in runs]
    if arguments.format == "json":
        print_json({"runs": documents}, out)
        return EXIT_OK
    if not documents:
        print(f"INC{number} has no analysis run", file=out)
    for index, document in enumerate(documents):
        print("\n".join(([""] if index else []) + _text(document)), file=out)
    return EXIT_OK


def _text(run: dict[str, Any]) -> list[str]:
    tokens = run["tokens"]
    lines = [f"{run['id']}  {run['status']}", *fields([
        ("provider", f"{run['provider']}{' ' + run['model'] if run['model'] else ''}"),
        ("fallback used", "yes" if run["fallback_used"] else "no"),
        ("error", run["error"]), ("input", run["input_summary"]),
        ("summary", run["summary"]), ("probable cause", run["probable_cause"]),
        ("confidence", None if run["confidence"] is None else f"{run['confidence']:g}"),
        ("tokens", None if tokens["total"] is None else
         f"{tokens['prompt']} prompt, {tokens['completion']} completion"),
        ("created", run["created_at"]), ("completed", run["completed_at"]),
        ("duration", None if run["duration_ms"] is None else f"{run['duration_ms']:.0f} ms"),
        ("trace id", run["trace_id"])], indent="  ")]
    for item in run["recommendations"]:
        lines.append(f"  - [{item['priority']}] {item['type']}: {item['title']}")
        if item.get("description"):
            lines.append(f"      {item['description']}")
        lines.extend(f"      $ {action}" for action in item.get("actions", ()))
    return lines
