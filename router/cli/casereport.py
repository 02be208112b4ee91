"""`router test` (room: cli; imports cli_support, config, alerts, core, errors).

Runs the cases of test files (schemas/router-test.json; docs/testing.md) against a config,
with no daemon and no store, and reports them as pytest does: one line per case, then each
failure with its file:line and a diff of what the case expected and what router does, then
a summary line. Exit 1 on any failure, so CI fails, and 5 when the files hold no case
at all, as pytest does; `--junit-xml PATH` writes the results
for CI systems that show JUnit reports.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from router.cli.casefile import CasesInvalid, read_cases
from router.cli.cases import Result, Runner
from router.cli.support import (
    DEFAULT_CONFIG,
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_common_options,
    command,
    print_json,
)
from router.config.load import YAML_SUFFIXES
from router.config.model import Config

TESTS_DIRECTORY = ".tests"
"""Where test files live by default, inside the config directory: the config loader skips
directories whose names start with a dot, so it never reads a test file as config."""

EXIT_NO_CASES = 5
"""As pytest's "no tests collected": files without a case are no passing test run."""
_EXITS = ("exit status: 0 every case passed; 1 a case failed, or the config or a test file "
          "is invalid; 2 usage; 5 the files hold no case at all. Config secrets are not "
          "resolved: nothing is sent.")


def add_commands(commands: Any) -> None:
    """Register `router test` on the CLI's subparsers."""
    test = command(commands, "test", "run test files' cases against the config: the routes, "
                   "channels, suppression, escalation and on-call each alert gets", _EXITS)
    test.add_argument("files", nargs="*", type=Path, metavar="FILE|DIR",
                      help=f"test files, or directories of them (default: the .yaml files "
                           f"in {DEFAULT_CONFIG}/{TESTS_DIRECTORY}/, or in "
                           f"DIR/{TESTS_DIRECTORY}/ of the first --config DIR)")
    test.add_argument("--junit-xml", type=Path, metavar="PATH",
                      help="also write the results as JUnit XML to PATH")
    add_common_options(test, "test", run_tests, store=False)


def run_tests(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    """Run every case; print the report; write the JUnit file when asked."""
    paths = test_files(arguments.files, arguments.config)
    try:
        cases = read_cases(paths, config.settings.alert_limits)
    except CasesInvalid as invalid:
        raise Failure("invalid test files:\n" + "\n".join(map(str, invalid.problems))) \
            from None
    runner = Runner(config)
    results = [runner.run(case) for case in cases]
    if arguments.junit_xml is not None:
        write_junit(results, arguments.junit_xml)
    if arguments.format == "json":
        print_json({"passed": sum(item.passed for item in results),
                    "failed": sum(not item.passed for item in results),
                    "cases": [_result_json(item) for item in results]}, out)
    else:
        print(report(results), file=out)
    if not results:
        return EXIT_NO_CASES
    return EXIT_OK if all(item.passed for item in results) else EXIT_INVALID


def test_files(given: Sequence[Path], configs: Sequence[str] | None) -> list[Path]:
    """The files to read: those given (directories: their .yaml files), else the default
    directory's.

    Raises:
        Failure: a path is missing, or there are no test files at all.
    """
    if not given:
        base = Path(configs[0]) if configs and Path(configs[0]).is_dir() \
            else Path(DEFAULT_CONFIG)
        given = [base / TESTS_DIRECTORY]
    paths: list[Path] = []
    for path in given:
        if path.is_dir():
            paths += sorted(item for item in path.iterdir() if item.suffix in YAML_SUFFIXES)
        elif path.is_file():
            paths.append(path)
        else:
            raise Failure(f"{path}: no such file or directory")
    if not paths:
        raise Failure(f"no test files (.yaml) in {', '.join(map(str, given))}")
    return paths


def report(results: Sequence[Result]) -> str:
    """pytest's shape: a line per case, the failures with their diffs, a summary line."""
    lines = [f"{item.case.where}: {item.case.name} "
             f"{'PASSED' if item.passed else 'FAILED'}" for item in results]
    failed = [item for item in results if not item.passed]
    if failed:
        lines.append(" FAILURES ".center(72, "="))
    for item in failed:
        lines.append(f" {item.case.name} ".center(72, "_"))
        lines.append(f"{item.case.where}:")
        lines += [f"    {line}" for line in failure_lines(item)]
    passed = len(results) - len(failed)
    summary = ", ".join(part for part in (
        f"{len(failed)} failed" if failed else "", f"{passed} passed" if passed else "")
                        if part) or "no cases"
    lines.append(f" {summary} ".center(72, "="))
    return "\n".join(lines)


def failure_lines(result: Result) -> list[str]:
    """Why a case failed: its error, or `- expected` / `+ actual` lines for each key that
    differs."""
    if result.error is not None:
        return [result.error]
    lines: list[str] = []
    for key, expected in result.case.expect.items():
        actual = result.actual.get(key)
        if actual != expected:
            lines += [line for line in difflib.ndiff(_shown(key, expected), _shown(key, actual))
                      if not line.startswith("?")]
    return lines


def _shown(key: str, value: Any) -> list[str]:
    """A value as YAML-like lines, one per list item, so the diff points at the item."""
    if isinstance(value, list):
        return [f"{key}:"] + [f"  - {json.dumps(item, ensure_ascii=False)}"
                              for item in value] if value else [f"{key}: []"]
    return [f"{key}: {json.dumps(value, ensure_ascii=False)}"]


def write_junit(results: Sequence[Result], path: Path) -> None:
    """The results as JUnit XML: one testsuite, a testcase per case with its file and line.

    Raises:
        Failure: the file cannot be written.
    """
    failures = sum(not item.passed for item in results)
    suite = ElementTree.Element("testsuite", name="router test", tests=str(len(results)),
                                failures=str(failures), errors="0", skipped="0")
    for item in results:
        where = item.case.where
        case = ElementTree.SubElement(
            suite, "testcase", classname=where.file, name=item.case.name, file=where.file,
            line=str(where.line or 0))
        if not item.passed:
            failure = ElementTree.SubElement(case, "failure", message=_headline(item))
            failure.text = f"{where}:\n" + "\n".join(failure_lines(item))
    root = ElementTree.Element("testsuites")
    root.append(suite)
    for element in root.iter():
        element.attrib = {key: _xml_text(value) for key, value in element.attrib.items()}
        element.text = None if element.text is None else _xml_text(element.text)
    try:
        ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as error:
        raise Failure(f"cannot write {path}: {error.strerror or error}") from None


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 cannot hold (control characters, a YAML `\\x01` say): ElementTree writes
them as they are, and the report would be a file no CI system parses."""


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _headline(result: Result) -> str:
    """A failure in one line, for the CI system's summary: its error, or the keys whose
    answers differ (the diff is the failure's text)."""
    if result.error is not None:
        return result.error
    keys = [key for key, expected in result.case.expect.items()
            if result.actual.get(key) != expected]
    return f"not as expected: {', '.join(keys)}"


def _result_json(result: Result) -> dict[str, Any]:
    where = result.case.where
    return {"name": result.case.name, "file": where.file, "line": where.line,
            "passed": result.passed, "expected": result.case.expect,
            "actual": result.actual, "error": result.error}
