"""The air-gapped install of docs/install.md: `make wheelhouse` on a connected machine, then a
fresh venv that installs from the wheelhouse alone and runs.

The build needs the package index (pip's cache makes a second run quick); everything after it
runs with pip's configuration and environment set aside, so no index and no other wheel
directory can fill a gap in the wheelhouse.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from router import __version__

REPOSITORY = Path(__file__).resolve().parent.parent.parent
VENV = Path(sys.executable).parent.parent
TEST_TOOLS = {"pytest", "pytest_trio", "hypothesis", "ruff", "mypy", "types_pyyaml"}


def run(command: list[str], *, timeout: float, cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env, check=False)


def offline_environment() -> dict[str, str]:
    """The environment less pip's settings, and no pip configuration file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def this_host() -> str:
    """WHEEL_TARGET naming this machine, as a build machine would name the air-gapped host."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip(f"no manylinux wheels for {sys.platform} {platform.machine()}")
    return (f"--python-version {sys.version_info.major}.{sys.version_info.minor} "
            f"--platform manylinux2014_{platform.machine()}")


@pytest.fixture(scope="module", params=["this machine", "WHEEL_TARGET"])
def wheelhouse(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make wheelhouse` into a temporary directory, with this test run's venv: built here
    (pip wheel), or fetched for a target named by WHEEL_TARGET (pip download)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    target = [f"WHEEL_TARGET={this_host()}"] if request.param == "WHEEL_TARGET" else []
    house = tmp_path_factory.mktemp("wheelhouse")
    probe = run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest",
                 str(tmp_path_factory.mktemp("probe")), "hatchling"],
                timeout=120, cwd=REPOSITORY)
    if probe.returncode != 0:
        pytest.skip(f"the package index is unreachable, so no wheelhouse can be built: "
                    f"{probe.stderr.strip().splitlines()[-1:]}")
    # -o: take the venv as it is; never reinstall the venv these tests run from.
    built = run(["make", "--no-print-directory", "-o", str(VENV / ".installed"), "wheelhouse",
                 f"VENV={VENV}", f"WHEELHOUSE={house}", *target], timeout=300, cwd=REPOSITORY)
    assert built.returncode == 0, built.stdout + built.stderr
    return house


def test_wheelhouse_holds_router_and_what_it_runs_with(wheelhouse: Path) -> None:
    names = {wheel.name.split("-")[0].lower() for wheel in wheelhouse.glob("*.whl")}
    assert {"router", "trio", "h11", "httpx", "pyyaml", "jsonschema", "jsonschema_rs",
            "jinja2", "icalendar", "watchfiles"} <= names
    assert not names & TEST_TOOLS, "the test extras stay out"
    lock = (wheelhouse / "requirements.txt").read_text()
    pinned = re.findall(r"^([A-Za-z0-9_.]+)==(\S+) \\\n    --hash=sha256:[0-9a-f]{64}$", lock,
                        re.MULTILINE)
    assert {name.lower() for name, _ in pinned} == names, lock


def test_fresh_venv_installs_with_no_index_and_runs(wheelhouse: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    created = run([sys.executable, "-m", "venv", str(venv)], timeout=120, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    env = offline_environment()
    installed = run([str(venv / "bin" / "pip"), "install", "--no-index", "--find-links",
                     str(wheelhouse), "--require-hashes", "-r",
                     str(wheelhouse / "requirements.txt")], timeout=300, cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    version = run([str(venv / "bin" / "router"), "--version"], timeout=60, cwd=tmp_path,
                  env=env)
    assert (version.returncode, version.stdout) == (0, f"router {__version__}\n"), version
    where = run([str(venv / "bin" / "python"), "-c", "import router; print(router.__file__)"],
                timeout=60, cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(venv)), "the installed copy, not this checkout"
    validated = run([str(venv / "bin" / "router"), "validate", "--no-secrets",
                     str(REPOSITORY / "config")], timeout=120, cwd=tmp_path, env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "config valid" in validated.stdout + validated.stderr, validated
