"""The README's commands run as written against the example config in config/: the override
example changes who is on call."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli.conftest import run

CHECKOUT = Path(__file__).resolve().parents[2]
EXAMPLE = CHECKOUT / "config"


def section_commands(title: str) -> list[list[str]]:
    """The `router ...` commands of the first sh block under the README heading `title`,
    continuation lines joined and comments dropped, each split as the shell would."""
    text = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {title}\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, f"no sh block under '## {title}'"
    joined = block[1].replace("\\\n", " ")
    return [words for line in joined.splitlines()
            if (words := shlex.split(line, comments=True))]


def test_the_readme_override_example_changes_who_is_on_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state").mkdir()  # as `make run` leaves it
    commands = section_commands("Who is on call")
    add = next(index for index, words in enumerate(commands)
               if words[:3] == ["router", "override", "add"])
    options = dict(zip(commands[add][4::2], commands[add][5::2], strict=True))
    rota, person, replaces = commands[add][3], options["--person"], options["--replaces"]
    before = commands[add - 1]
    assert before == commands[add + 1], "the README asks the same question before and after"
    assert before[:3] == ["router", "oncall", rota]
    config = ["--config", str(EXAMPLE)]

    code, out, err = run(*before[1:], *config)
    assert (code, err) == (0, "")
    assert out.startswith(f"{rota}: ") and f"({replaces}) " in out.split(";")[0]
    code, out, err = run(*commands[add][1:], *config)
    assert (code, err) == (0, ""), "the example must not warn: it changes who is on call"
    assert re.fullmatch(r"OVR-[0-9a-f]{8}\n", out)
    code, out, err = run(*before[1:], *config)
    assert (code, err) == (0, "")
    assert out.startswith(f"{rota}: ") and f"({person}) [override]" in out.split(";")[0]


def test_the_readme_points_at_each_of_routers_own_alert_sources() -> None:
    """A new user learns of heartbeats, checks and jobs from the README: each section of
    docs/sources.md is linked from it."""
    readme = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    sources = (CHECKOUT / "docs" / "sources.md").read_text(encoding="utf-8")
    anchors = [title.lower().replace(" ", "-")
               for title in re.findall(r"^## (.+)$", sources, re.MULTILINE)]
    assert anchors == ["local-health-checks", "heartbeats", "jobs"]
    assert [anchor for anchor in anchors
            if f"(docs/sources.md#{anchor})" not in readme] == []
