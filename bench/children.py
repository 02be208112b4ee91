"""Running a bench's measurement in a child process on a given checkout of router.

The before/after benches (bench_outbox.py, bench_delivery.py, bench_store_write.py) measure
each version in a fresh interpreter whose `router` package comes from `source` (PYTHONPATH),
so two versions never share a process, an import cache or a warmed allocator. The child is
the same script run with `--child ARGUMENTS...`; its last stdout line is a JSON object that
names the `router` package it imported, checked here so a stale install cannot pass for the
version asked for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure(script: str, source: Path, *arguments: object) -> dict[str, Any]:
    """Run `script --child ARGUMENTS` on the router package of `source`; its JSON result."""
    environment = {**os.environ, "PYTHONPATH": str(source)}
    answer = subprocess.run(
        [sys.executable, script, "--child", *map(str, arguments)],
        env=environment, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        raise SystemExit(f"the child on {source} failed:\n{answer.stderr}")
    result: dict[str, Any] = json.loads(answer.stdout.splitlines()[-1])
    if Path(result["router"]).resolve() != (source / "router").resolve():
        raise SystemExit(f"the child ran {result['router']}, not {source}/router")
    return result


def exported(revision: str, into: Path) -> Path:
    """The `router/` package of `revision` (and the `schemas/` it reads), in `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "router", "schemas"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
