"""docs/ci.md's CI examples cannot rot: their YAML parses into a GitHub Actions workflow and
a GitLab CI job, and every `router` command and option they run exists in `router --help`."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import run

CI = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
SHELL_OPERATORS = {">", ">>", "|", "||", "&&", ";", "2>"}


def blocks() -> list[Any]:
    text = CI.read_text(encoding="utf-8")
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def github_scripts(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
            if "run" in step]


def gitlab_scripts(pipeline: dict[str, Any]) -> list[str]:
    return [line for job in pipeline.values() if isinstance(job, dict) and "script" in job
            for line in job["script"]]


def invocations(script: str) -> list[list[str]]:
    """Each `router ...` (any path to it) that a shell script runs: its words up to the
    first shell operator, continuation lines joined."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        for index, word in enumerate(words):
            starts = index == 0 or words[index - 1] in SHELL_OPERATORS
            if starts and Path(word).name == "router":
                tail = words[index + 1:]
                stop = next((at for at, item in enumerate(tail) if item in SHELL_OPERATORS),
                            len(tail))
                found.append(tail[:stop])
    return found


def test_the_examples_parse_as_a_workflow_and_a_job() -> None:
    github, gitlab = blocks()
    assert github["permissions"]["pull-requests"] == "write"
    assert "pull_request" in github[True]  # YAML 1.1 reads the key `on` as true
    assert any(step.get("uses", "").startswith("actions/checkout@")
               and step["with"]["fetch-depth"] == 0 for step in github["jobs"]["check"]["steps"])
    assert gitlab["router-config"]["variables"]["GIT_DEPTH"] == 0
    assert gitlab["router-config"]["artifacts"]["reports"]["junit"] == "router-test.xml"


def test_each_example_validates_strictly_tests_and_posts_a_markdown_diff() -> None:
    github, gitlab = blocks()
    for scripts in (github_scripts(github), gitlab_scripts(gitlab)):
        commands = [words for script in scripts for words in invocations(script)]
        assert [words[0] for words in commands] == ["validate", "test", "diff"]
        assert "--strict" in commands[0]
        assert commands[2][:2] == ["diff", "--git"]
        assert commands[2][-2:] == ["--format", "markdown"]
        assert all("pip install --no-index" in script or "pip" not in script
                   for script in scripts)
    assert any("gh pr comment" in script for script in github_scripts(github))
    assert any("/merge_requests/$CI_MERGE_REQUEST_IID/notes" in script
               for script in gitlab_scripts(gitlab))


def test_every_router_command_and_option_in_the_examples_exists() -> None:
    github, gitlab = blocks()
    code, listing, _ = run("--help")
    assert code == 0
    for script in (*github_scripts(github), *gitlab_scripts(gitlab)):
        for words in invocations(script):
            assert re.search(rf"^\s+{re.escape(words[0])}\s", listing, re.MULTILINE), words
            code, usage, _ = run(words[0], "--help")
            assert code == 0
            for option in (word.split("=")[0] for word in words if word.startswith("--")):
                assert re.search(rf"{re.escape(option)}\b", usage), (words[0], option)


def test_the_github_steps_run_as_written_on_a_copy_of_the_example_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a repository whose `main` holds the example config and whose HEAD changes one
    delay, the workflow's three router commands pass and the diff names the change."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    shutil.copytree(CI.parents[1] / "config", tmp_path / "config")
    environment = ["-c", "user.name=t", "-c", "user.email=t@example.org",
                   "-c", "commit.gpgsign=false"]
    def git(*argv: str) -> None:
        subprocess.run(["git", *environment, *argv], cwd=tmp_path, check=True,
                       capture_output=True)
    git("init", "-q", "-b", "main")
    git("add", "config")
    git("commit", "-q", "-m", "config")
    git("update-ref", "refs/remotes/origin/main", "main")
    policies = tmp_path / "config" / "escalation.yaml"
    policies.write_text(policies.read_text().replace("delay: 30m", "delay: 15m", 1))
    git("commit", "-q", "-am", "quicker")
    monkeypatch.chdir(tmp_path)
    commands = [words for script in github_scripts(blocks()[0])
                for words in invocations(script)]
    outputs = []
    for words in commands:
        code, out, err = run(*words)
        assert (code, err) == (0, ""), words
        outputs.append(out)
    assert (tmp_path / "router-test.xml").is_file()
    assert '- `~ platform: levels[1].delay: "30m" -> "15m"`' in outputs[2].splitlines()
