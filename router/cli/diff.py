"""`router diff OLD NEW` and `router diff --git REV[..REV]` (room: cli; imports config,
review, the `router test` modules, clock, errors).

Loads both configs (secrets unresolved: nothing is sent), runs every test file's cases
(DIR/.tests/*.yaml of either config; a file both have is read from NEW) through both
with `router test`'s own runner (cli/cases.py), and prints what router/review finds.
With `--git`, the config directory is taken from git: `git archive` of each revision
into a temporary directory (REV alone: REV against the work tree; `A...B`: B against the
merge base of A and B); an OLD revision without the directory is a config's first change,
compared with an empty config. No network, no daemon, no store.

Exit: 0 reported; 1 `--fail-on gap` and NEW has a coverage gap OLD has not; 2 bad input
(a path that is not a config, an unknown revision, invalid test files) or usage.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TextIO

from router.cli.casefile import Case, CasesInvalid, read_cases
from router.cli.cases import Runner
from router.cli.support import EXIT_INVALID, EXIT_OK, EXIT_USAGE, command
from router.clock import SystemClock
from router.config import ConfigInvalid, load_config
from router.config.build import build_config
from router.config.load import YAML_SUFFIXES
from router.config.model import Config
from router.config.secrets import SecretResolver
from router.engine import roster
from router.review import report
from router.review.compare import CaseAnswers, review
from router.review.model import Compared

TEST_DIRECTORIES = (".tests",)
"""Where `router test` looks; a `tests/` among the config would be read as config."""
ALERT_KEYS = ("service", "routes", "channels", "suppressed_by", "escalation_policy")
"""What a case's alert is compared on: where it goes and what pages."""
FORMATS = {"text": report.text, "markdown": report.markdown, "json": report.dumps}
_EXITS = ("exit status: 0 reported; 1 with --fail-on gap when NEW has a coverage gap OLD has "
          "not; 2 bad input (not a config, an unknown revision, invalid test files) or usage. "
          "Config secrets are not resolved: nothing is sent.")


MOST_WEEKS = 104
"""Two years: how far a review looks ahead at most, so one run's cost is bounded."""


def _weeks(text: str) -> int:
    """An argparse type: `--weeks`, 1 to MOST_WEEKS."""
    if not text.isdigit() or not 1 <= int(text) <= MOST_WEEKS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MOST_WEEKS} "
                                         f"(two years), got {text!r}")
    return int(text)


class BadInput(Exception):
    """One line that says what is wrong with a config, a revision or a test file."""


def add_commands(commands: Any) -> None:
    """Register `router diff` on the CLI's subparsers."""
    diff = command(commands, "diff", "what a config change does: routes, test cases that "
                   "route differently, shifts that move, escalation, new coverage gaps", _EXITS)
    diff.add_argument("directories", nargs="*", type=Path, metavar="OLD NEW",
                      help="two config directories (not with --git)")
    diff.add_argument("--git", metavar="REV[..REV]",
                      help="compare the config directory at REV with the work tree, or at "
                           "two revisions (A..B; A...B from their merge base)")
    diff.add_argument("--config", type=Path, default=Path("config"), metavar="DIR",
                      help="with --git: the config directory (default: config)")
    diff.add_argument("--weeks", type=_weeks, default=4, metavar="N",
                      help=f"how far ahead to compare shifts and coverage, at most "
                           f"{MOST_WEEKS} (default: 4)")
    diff.add_argument("--at", metavar="INSTANT",
                      help="compare from this instant, ISO 8601; without an offset in NEW's "
                           "settings' timezone, as `router oncall --at` (default: now)")
    diff.add_argument("--format", choices=sorted(FORMATS), default="text",
                      help="text (default), markdown for a pull-request comment, or json "
                           "(its shape: docs/diff.md)")
    diff.add_argument("--fail-on", choices=("gap",), metavar="gap",
                      help="exit 1 when NEW has a coverage gap that OLD has not")
    diff.set_defaults(handler=run_diff)


def run_diff(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if (arguments.git is None) == (len(arguments.directories) != 2):
        what = "give OLD and NEW directories, or --git REV[..REV], not both" \
            if arguments.git is not None else "give two directories, OLD and NEW"
        print(f"router diff: {what}", file=err)
        return EXIT_USAGE
    try:
        if arguments.at is not None:  # its words, before the configs: a usage error first
            _instant(arguments.at, UTC)
        with _directories(arguments) as (old_side, new_side):
            shown = arguments.config if arguments.git else None
            old = _load(old_side.directory, "OLD", shown) if old_side.directory \
                else _no_config()
            assert new_side.directory is not None  # git_trees raises when NEW lacks it
            new = _load(new_side.directory, "NEW", shown)
            start = SystemClock().now() if arguments.at is None \
                else _instant(arguments.at, new.settings.timezone)
            answers = list(_answers(old, new, old_side.directories + new_side.directories,
                                    shown))
    except BadInput as bad:
        print(f"router diff: {bad}", file=err)
        return EXIT_USAGE
    found = replace(review(old, new, start, timedelta(weeks=arguments.weeks), answers),
                    old=old_side.compared, new=new_side.compared)
    print(FORMATS[arguments.format](found), file=out)
    if arguments.fail_on == "gap" and found.new_gaps:
        return EXIT_INVALID
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class Side:
    """OLD or NEW: its directory (None: no config there yet) and its name in the report."""

    directory: Path | None
    compared: Compared

    @property
    def directories(self) -> list[Path]:
        return [] if self.directory is None else [self.directory]


def _no_config() -> Config:
    """OLD before a config's first commit: nothing in it, so everything in NEW is added."""
    return build_config([], SecretResolver(resolve=False), [], files=[])


def _instant(text: str, zone: tzinfo) -> datetime:
    """`--at` as `router oncall --at` reads it: without an offset, in NEW's settings'
    timezone."""
    try:
        return roster.read_instant(text, zone)
    except ValueError as error:
        raise BadInput(f"--at: {error}") from None


def _load(directory: Path, side: str, shown: Path | None) -> Config:
    """The config in `directory`; a problem names its file under `shown` when given (the
    --config directory, for a tree git extracted)."""
    if not directory.is_dir():
        raise BadInput(f"{side} {directory}: not a directory")
    try:
        return load_config([directory], resolve_secrets=False)
    except ConfigInvalid as invalid:
        first = str(invalid.problems[0])
        if shown is not None:
            first = first.replace(str(directory), str(shown))
        more = len(invalid.problems) - 1
        raise BadInput(f"{side} is not a valid config: {first}"
                       + (f" (and {more} more; router validate lists them)" if more else "")
                       ) from None


def _test_files(directories: Sequence[Path]) -> dict[Path, Path]:
    """Every test file of either config by its path inside it; NEW's copy when both."""
    found: dict[Path, Path] = {}
    for directory in directories:
        for name in TEST_DIRECTORIES:
            folder = directory / name
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.suffix in YAML_SUFFIXES and path.is_file():
                        found[path.relative_to(directory)] = path
    return {key: found[key] for key in sorted(found)}


def _answers(old: Config, new: Config, directories: Sequence[Path],
             shown: Path | None) -> Iterator[CaseAnswers]:
    """Each case's answers in OLD and NEW, asked as `router test` asks them. A case's file
    is named under `shown` (the --config directory, for trees git extracted) when given."""
    files = _test_files(directories)
    names = {str(path): str(shown / key) for key, path in files.items()} if shown else {}
    try:
        cases = read_cases(list(files.values()), new.settings.alert_limits)
    except CasesInvalid as invalid:
        problem = invalid.problems[0]
        where = replace(problem.where, file=names.get(problem.where.file, problem.where.file))
        raise BadInput(f"invalid test file: {replace(problem, where=where)}") from None
    before, after = Runner(old), Runner(new)
    for case in cases:
        probe = _probe(case)
        where = replace(case.where, file=names.get(case.where.file, case.where.file))
        yield (case.name, where, _answer(before, probe), _answer(after, probe))


def _probe(case: Case) -> Case:
    keys = ("on_call",) if case.rota is not None else ALERT_KEYS
    return replace(case, expect=dict.fromkeys(keys))


def _answer(runner: Runner, case: Case) -> dict[str, Any]:
    result = runner.run(case)
    return {"error": result.error} if result.error is not None else result.actual


@contextlib.contextmanager
def _directories(arguments: argparse.Namespace) -> Iterator[tuple[Side, Side]]:
    """OLD and NEW: the two directories given, or revisions extracted from git into a
    temporary directory that is removed afterwards."""
    if arguments.git is None:
        old, new = arguments.directories
        yield Side(old, Compared(name=str(old))), Side(new, Compared(name=str(new)))
        return
    with tempfile.TemporaryDirectory(prefix="router-diff-") as temporary:
        yield git_trees(arguments.git, arguments.config, Path(temporary))


def git_trees(revisions: str, config: Path, into: Path) -> tuple[Side, Side]:
    """The config directory at each revision, extracted under `into` (the work tree's own
    directory for the NEW side of a single revision). OLD without the directory is a
    config's first change: a Side without a directory, not an error.

    Raises:
        BadInput: not in a git repository, an unknown revision, no such directory in NEW.
    """
    top = Path(_git(["rev-parse", "--show-toplevel"], Path.cwd()).decode().strip())
    relative = config.resolve().relative_to(top) if config.resolve().is_relative_to(top) \
        else None
    if relative is None:
        raise BadInput(f"--config {config}: not inside the repository at {top}")
    if "..." in revisions:
        first, _, second = revisions.partition("...")
        base = _git(["merge-base", _commit(first or "HEAD", top),
                     _commit(second or "HEAD", top)], top).decode().strip()
        first = f"the merge base of {first or 'HEAD'} and {second or 'HEAD'}"
        old = _extract(base, relative, top, into / "old", first)
    elif ".." in revisions:
        first, _, second = revisions.partition("..")
        old = _extract(first or "HEAD", relative, top, into / "old")
    else:
        old = _extract(revisions, relative, top, into / "old")
        return old, Side(top / relative, Compared(name=f"{_name(relative)} in the work tree"))
    new = _extract(second or "HEAD", relative, top, into / "new")
    if new.directory is None:
        raise BadInput(f"--git: {second or 'HEAD'} has no directory {_name(relative)!r} "
                       "(--config names it relative to the current directory)")
    return old, new


def _name(relative: Path) -> str:
    return relative.as_posix() if relative.parts else "."


def _commit(revision: str, top: Path) -> str:
    """The commit `revision` names (which also keeps it from reading as an option)."""
    try:
        return _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                    top).decode().strip()
    except BadInput:
        raise BadInput(f"--git: unknown revision {revision!r}") from None


def _extract(revision: str, relative: Path, top: Path, into: Path,
             named: str | None = None) -> Side:
    """`relative` at `revision` (`named` in the report, when not the revision's own
    words); a Side without a directory when the revision has none there.

    Raises:
        BadInput: an unknown revision, or something other than a directory there.
    """
    commit, named = _commit(revision, top), named or revision
    if relative.parts:
        try:
            kind = _git(["cat-file", "-t", f"{commit}:{relative.as_posix()}"], top).strip()
        except BadInput:
            return Side(None, Compared(name=f"no config yet ({_name(relative)} did not exist "
                                       f"at {named})", exists=False))
        if kind != b"tree":
            raise BadInput(f"--git: {named} has {_name(relative)!r}, but not as a directory")
    archive = _git(["archive", "--format=tar", f"{commit}:{relative.as_posix()}"]
                   if relative.parts else ["archive", "--format=tar", commit], top)
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return Side(into, Compared(name=f"{_name(relative)} at {named}"))


def _git(arguments: list[str], where: Path) -> bytes:
    try:
        done = subprocess.run(["git", *arguments], cwd=where, capture_output=True,
                              check=False, timeout=60)
    except FileNotFoundError:
        raise BadInput("--git: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise BadInput(f"--git: git {' '.join(arguments)} took over 60 seconds") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise BadInput(f"--git: git {' '.join(arguments)}: "
                       f"{message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout
