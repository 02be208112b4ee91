"""The command line as a whole: usage errors exit 2, `router schema`, `router --version`, and
the real entry points run as processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from router import __version__
from tests.cli.conftest import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("argv", "complaint"), [
    ((), "router: error: the following arguments are required: COMMAND"),
    (("frobnicate",), "router: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (("validate", "--bogus", "config"), "router: error: unrecognized arguments: --bogus"),
    (("validate", "--format", "xml"), "router validate: error: argument --format: invalid "
                                      "choice: 'xml'"),
    (("schema", "extra"), "router: error: unrecognized arguments: extra"),
])
def test_usage_errors_exit_2_with_the_usage_on_stderr(argv: tuple[str, ...],
                                                      complaint: str) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("usage: router")
    # the list of choices after the complaint is worded differently by Python 3.12+
    assert err.splitlines()[-1].startswith(complaint)
    assert "Traceback" not in err


def test_version() -> None:
    assert run("--version") == (0, f"router {__version__}\n", "")


def test_help_goes_to_stdout_and_exits_0() -> None:
    code, out, err = run("validate", "--help")
    assert (code, err) == (0, "")
    assert "--no-secrets" in out


def test_schema_prints_one_valid_2020_12_schema_with_the_channel_schemas() -> None:
    code, out, err = run("schema")
    assert (code, err) == (0, "")
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    titles = {definition.get("title") for definition in schema["$defs"].values()}
    assert {f"router {kind} channel" for kind in
            ("pagerduty", "slack", "email", "webhook", "log")} <= titles
    validator = jsonschema.Draft202012Validator(schema)
    bad = {"channels": [{"id": "pager", "type": "pagerduty", "routing_kee": "x"}]}
    assert sorted(error.message for error in validator.iter_errors(bad)) == [
        "'routing_key' is a required property",
        "Additional properties are not allowed ('routing_kee' was unexpected)",
    ]
    assert validator.is_valid({"channels": [{"id": "pager", "type": "pagerduty",
                                             "routing_key": "${env:PD_KEY}"}]})


def test_python_dash_m_router_validates_the_example_config() -> None:
    done = subprocess.run([sys.executable, "-m", "router", "validate", "config/"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("config valid: 5 people, 5 channels, 2 rotas")


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).parent / "router"
    if not script.exists():
        pytest.skip("router is not installed as a console script in this environment")
    done = subprocess.run([str(script), "validate", "config/"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("config valid: ")
    done = subprocess.run([str(script), "validate", "no/such/dir"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "no/such/dir: no such file or directory\nconfig invalid: 1 problem\n"
    done = subprocess.run([str(script), "nonsense"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
