"""`router diff`: two real config directories, or revisions of a real git repository;
test files' cases run through both configs; exit 0, 1 with --fail-on gap, 2 bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import run

AT = "2026-03-02T09:00:00+01:00"
CONFIG = """
people: [{id: ann}, {id: bob}, {id: cat}]
channels: [{id: log, type: log}]
rotas:
  - id: week
    timezone: Europe/Berlin
    layers:
      - members: [ann, bob]
        every: 1w
        start: 2026-01-05
        handoff_day: mon
escalation_policies:
  - id: ops
    levels:
      - targets: [{rota: week}]
        delay: 10m
services:
  - {id: web, escalation_policy: ops, channels: [log]}
  - {id: db, escalation_policy: ops}
routes:
  - {name: db, match: [team=db], service: db}
  - {name: rest, service: web}
"""
CASES = """
cases:
  - name: a db alert goes to db
    at: 2026-03-04T03:00:00+01:00
    alert: {labels: {team: db}}
    expect: {service: db}
  - name: ann is on call
    at: 2026-03-04T03:00:00+01:00
    rota: week
    expect: {on_call: ann}
"""


def write(directory: Path, config: str = CONFIG, cases: str = CASES) -> Path:
    (directory / ".tests").mkdir(parents=True)
    (directory / "router.yaml").write_text(textwrap.dedent(config))
    (directory / ".tests" / "cases.yaml").write_text(textwrap.dedent(cases))
    return directory


def test_the_same_config_exits_0_and_says_nothing_changed(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old"), write(tmp_path / "new")
    code, out, err = run("diff", str(old), str(new), "--at", AT)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        "no change to routing, rotas, escalation, channels, people or services")


def test_a_route_change_shows_the_cases_that_route_differently(tmp_path: Path) -> None:
    old = write(tmp_path / "old")
    new = write(tmp_path / "new", CONFIG.replace("{name: db, match: [team=db], service: db}",
                                                 "{name: db, match: [team=database], "
                                                 "service: db}"))
    code, out, _ = run("diff", str(old), str(new), "--at", AT)
    assert code == 0
    assert "routes:\n  ~ db: matchers: [\"team=db\"] -> [\"team=database\"]\n" in out
    assert (f"test cases that route differently:\n  {new}/.tests/cases.yaml:3:5: a db alert "
            'goes to db: service: "db" -> "web"\n') in out
    assert '  ~ db: routes: ["db"] -> ["rest"]' not in out


def test_the_rota_shifts_that_move_and_for_whom(tmp_path: Path) -> None:
    old = write(tmp_path / "old")
    new = write(tmp_path / "new", CONFIG.replace("members: [ann, bob]", "members: [ann, cat]"))
    code, out, _ = run("diff", str(old), str(new), "--at", AT, "--weeks", "2")
    assert code == 0
    assert ("rota week: shifts that move (Europe/Berlin):\n"
            "  - bob 2026-03-09T09:00+01:00 until 2026-03-16T09:00+01:00 (before)\n"
            "  + cat 2026-03-09T09:00+01:00 until 2026-03-16T09:00+01:00 (after)\n") in out


GAPPY = CONFIG.replace("handoff_day: mon",
                       "handoff_day: mon\n        restrictions: [{days: [mon, tue, wed, thu, "
                       "fri], from: \"00:00\", until: \"24:00\"}]")


def test_fail_on_gap_exits_1_when_new_has_a_new_gap(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old"), write(tmp_path / "new", GAPPY)
    code, out, _ = run("diff", str(old), str(new), "--at", AT, "--weeks", "1",
                       "--fail-on", "gap", "--format", "json")
    assert code == 1
    assert json.loads(out)["new_gaps"] == [{
        "policy": "ops", "level": 1, "rotas": ["week"], "start": "2026-03-07T00:00+01:00",
        "end": "2026-03-09T00:00+01:00", "timezone": "Europe/Berlin"}]
    assert run("diff", str(old), str(new), "--at", AT, "--weeks", "1")[0] == 0
    assert run("diff", str(new), str(old), "--at", AT, "--fail-on", "gap")[0] == 0


def test_markdown_format(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old"), write(tmp_path / "new", GAPPY)
    code, out, _ = run("diff", str(old), str(new), "--at", AT, "--weeks", "1",
                       "--format", "markdown")
    assert code == 0
    assert out.startswith("### router diff\n")
    assert "#### New coverage gaps\n\n- `policy ops level 1 (rota week) reaches nobody" in out


@pytest.mark.parametrize(("make", "message"), [
    (lambda base: base / "missing", "router diff: NEW {new}: not a directory"),
    (lambda base: (base / "empty").mkdir() or base / "empty",
     "router diff: NEW is not a valid config: {new}: no .yaml or .yml files here"),
])
def test_a_directory_that_is_not_a_config_exits_2_with_one_line(
        tmp_path: Path, make: object, message: str) -> None:
    old = write(tmp_path / "old")
    new = make(tmp_path)  # type: ignore[operator]
    assert run("diff", str(old), str(new)) == (2, "", message.format(new=new) + "\n")


def test_an_invalid_config_names_file_and_line(tmp_path: Path) -> None:
    old = write(tmp_path / "old")
    new = write(tmp_path / "new", CONFIG.replace("timezone: Europe/Berlin",
                                                 "timezone: Europe/Berln"))
    code, out, err = run("diff", str(old), str(new))
    assert (code, out) == (2, "")
    assert err == (f"router diff: NEW is not a valid config: {new}/router.yaml:6:15: "
                   "rotas[0].timezone: 'Europe/Berln' is not a known timezone (did you mean "
                   "'Europe/Berlin'?)\n")


def test_an_invalid_test_file_exits_2(tmp_path: Path) -> None:
    old = write(tmp_path / "old")
    new = write(tmp_path / "new", cases="cases:\n  - name: x\n    at: soon\n    rota: week\n")
    code, _, err = run("diff", str(old), str(new))
    assert code == 2
    assert err == (f"router diff: invalid test file: {new}/.tests/cases.yaml:3:9: "
                   "cases[0].at: expected an ISO 8601 instant, got 'soon'\n")


@pytest.mark.parametrize(("argv", "message"), [
    ((), "router diff: give two directories, OLD and NEW"),
    (("a", "b", "--git", "HEAD"), "router diff: give OLD and NEW directories, or --git "
                                  "REV[..REV], not both"),
    (("a", "b", "--at", "soon"), "router diff: --at: expected a date and time such as "
                                 "2026-12-24T09:00 or 2026-12-24T09:00:00+01:00, got 'soon'"),
])
def test_usage_errors_exit_2(argv: tuple[str, ...], message: str) -> None:
    assert run("diff", *argv) == (2, "", message + "\n")


def test_weeks_is_bounded_so_one_run_is_bounded() -> None:
    """`--weeks 100000` walked rotas for two thousand years (minutes of CPU); two years is
    the most a review looks ahead."""
    code, out, err = run("diff", "a", "b", "--weeks", "105")
    assert (code, out) == (2, "")
    assert err.endswith("router diff: error: argument --weeks: expected a whole number from "
                        "1 to 104 (two years), got '105'\n")


def git(repository: Path, *argv: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
                    "-c", "commit.gpgsign=false", *argv], cwd=repository, check=True,
                   capture_output=True)


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository whose `config/` changes once: the db route matches another label."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    top = tmp_path / "repo"
    write(top / "config")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "first")
    (top / "config" / "router.yaml").write_text(textwrap.dedent(
        CONFIG.replace("match: [team=db]", "match: [team=database]")))
    git(top, "commit", "-q", "-am", "second")
    monkeypatch.chdir(top)
    return top


def test_git_two_revisions(repository: Path) -> None:
    code, out, err = run("diff", "--git", "HEAD~1..HEAD", "--at", AT)
    assert (code, err) == (0, "")
    assert '  ~ db: matchers: ["team=db"] -> ["team=database"]' in out
    assert ('  config/.tests/cases.yaml:3:5: a db alert goes to db: service: "db" -> "web"'
            in out)


def test_git_a_revision_against_the_work_tree(repository: Path) -> None:
    (repository / "config" / "router.yaml").write_text(textwrap.dedent(
        CONFIG.replace("members: [ann, bob]", "members: [ann, cat]")))
    code, out, _ = run("diff", "--git", "HEAD", "--at", AT, "--weeks", "2", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert [shift["person"] for shift in document["rotas"][0]["shifts"]] == ["bob", "cat"]
    assert document["routes"]["changed"][0]["name"] == "db"


def test_git_three_dots_compares_from_the_merge_base(repository: Path) -> None:
    code, out, _ = run("diff", "--git", "HEAD~1...HEAD", "--at", AT, "--format", "json")
    assert code == 0
    assert json.loads(out)["routes"]["changed"][0]["name"] == "db"


def test_git_an_unknown_revision_exits_2(repository: Path) -> None:
    # it was git's own words for `git archive nope:config`: "not a valid object name"
    code, out, err = run("diff", "--git", "nope..HEAD")
    assert (code, out, err) == (2, "", "router diff: --git: unknown revision 'nope'\n")
    code, _, err = run("diff", "--git", "HEAD...nope")
    assert (code, err) == (2, "router diff: --git: unknown revision 'nope'\n")


def test_git_a_revision_without_the_config_directory_says_so(
        repository: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run from inside config/, --config's default `config` is config/config: missing in
    # OLD is a first config (no error), missing in NEW is
    monkeypatch.chdir(repository / "config")
    code, out, err = run("diff", "--git", "HEAD~1..HEAD")
    assert (code, out) == (2, "")
    assert err == ("router diff: --git: HEAD has no directory 'config/config' (--config "
                   "names it relative to the current directory)\n")
    code, out, _ = run("diff", "--git", "HEAD~1..HEAD", "--config", ".", "--at", AT)
    assert code == 0
    assert '~ db: matchers: ["team=db"] -> ["team=database"]' in out


def test_git_outside_a_repository_exits_2(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("diff", "--git", "HEAD")
    assert (code, out) == (2, "")
    assert err.startswith("router diff: --git: git rev-parse --show-toplevel: fatal: not a git "
                          "repository")


def test_git_a_first_config_compares_against_no_config_yet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a config's first pull request: OLD has no config directory yet, which is no error
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    top = tmp_path / "repo"
    top.mkdir()
    (top / "README").write_text("no config yet\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "first")
    write(top / "config")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "the config")
    monkeypatch.chdir(top)
    code, out, err = run("diff", "--git", "HEAD~1..HEAD", "--at", AT)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "router diff: no config yet (config did not exist at HEAD~1) -> " \
                       "config at HEAD"
    assert "  + db" in lines and "  + rest" in lines
    assert ('  config/.tests/cases.yaml:3:5: a db alert goes to db: service: (none) -> "db"'
            in lines)
    code, out, _ = run("diff", "--git", "HEAD~1", "--at", AT, "--format", "json")
    document = json.loads(out)
    assert (code, document["old"], document["new"]) == (
        0, {"name": "no config yet (config did not exist at HEAD~1)", "exists": False},
        {"name": "config in the work tree", "exists": True})
    assert document["people"]["added"] == ["ann", "bob", "cat"]


def test_git_an_invalid_old_config_is_still_an_error(repository: Path) -> None:
    (repository / "config" / "router.yaml").write_text("people: nobody\n")
    git(repository, "commit", "-q", "-am", "broken")
    (repository / "config" / "router.yaml").write_text(textwrap.dedent(CONFIG))
    code, out, err = run("diff", "--git", "HEAD", "--at", AT)
    assert (code, out) == (2, "")
    assert err.startswith("router diff: OLD is not a valid config: config/router.yaml:1:9")


def test_the_header_names_the_two_directories(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old"), write(tmp_path / "new")
    code, out, _ = run("diff", str(old), str(new), "--at", AT)
    assert (code, out.splitlines()[0]) == (0, f"router diff: {old} -> {new}")
    code, out, _ = run("diff", str(old), str(new), "--at", AT, "--format", "markdown")
    assert code == 0
    assert f"Compares `{old}` (OLD) with `{new}` (NEW)." in out.splitlines()


def test_at_without_an_offset_is_read_in_new_settings_timezone(tmp_path: Path) -> None:
    # as `router oncall --at` reads it; it was refused ("expected an offset")
    zoned = "settings: {timezone: Europe/Berlin}\n" + CONFIG
    old, new = write(tmp_path / "old", zoned), write(tmp_path / "new", zoned)
    code, out, err = run("diff", str(old), str(new), "--at", "2026-03-02T09:00",
                         "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["start"] == "2026-03-02T08:00:00+00:00"
    code, out, err = run("diff", str(old), str(new), "--at", "2026-10-25T02:30")
    assert (code, out) == (2, "")
    assert err == ("router diff: --at: 2026-10-25T02:30:00 happens twice in Europe/Berlin: "
                   "2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00; give the "
                   "offset\n")
