"""Helpers for the importer's tests: label sets drawn from a routing tree, Alertmanager's
own answer (a transcription of dispatch/route.go for quick tests, the real amtool for the
proof) and router's answer through its core routing.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from router.config.values import parse_matcher
from router.core.matching import compare
from router.errors import Where
from router.migrate.alertmanager.matchers import parse_line

DATA = Path(__file__).resolve().parent / "data"
AMTOOL = shutil.which("amtool")
Labels = dict[str, str]


def tree_matchers(route: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Every (name, operator, value) in the tree, as Alertmanager reads them."""
    for name, value in (route.get("match") or {}).items():
        yield str(name), "=", str(value)
    for name, value in (route.get("match_re") or {}).items():
        yield str(name), "=~", str(value)
    for line in route.get("matchers") or []:
        yield from parse_line(line)
    for child in route.get("routes") or []:
        yield from tree_matchers(child)


def candidate_values(operator: str, value: str) -> set[str]:
    """Values that match `value` and near misses: for a regex its literal alternatives."""
    found = {value, value + "x", "x" + value, value[:-1], value.upper()}
    if operator in ("=~", "!~"):
        literal = re.sub(r"[()^$?:]", "", value)
        found |= set(literal.split("|")) | {part.replace(".*", "") for part in
                                           literal.split("|")}
        found |= {part.replace(".*", "abc").replace(".+", "q") for part in literal.split("|")}
    return {item for item in found if "\n" not in item}


def label_sets(route: Mapping[str, Any], count: int, seed: int = 17) -> list[Labels]:
    """`count` distinct label sets over the tree's names and values: matching values, near
    misses, empty values and missing labels, plus sets that match nothing in the tree."""
    values: dict[str, set[str]] = {}
    for name, operator, value in tree_matchers(route):
        values.setdefault(name, set()).update(candidate_values(operator, value))
    names = sorted(values)
    pools: dict[str, list[str | None]] = {name: [*sorted(values[name]), "", None]
                                         for name in names}
    chooser = random.Random(seed)
    found: dict[tuple[tuple[str, str], ...], Labels] = {}
    found[(("unrelated", "zzz"),)] = {"unrelated": "zzz"}
    attempts = 0
    while len(found) < count and attempts < count * 20:
        attempts += 1
        labels: Labels = {}
        for name in names:
            choice = chooser.choice(pools[name])
            if choice is not None:
                labels[name] = choice
        if chooser.random() < 0.1 or not any(labels.values()):
            # an alert needs a non-empty label: Alertmanager's API and router's refuse it
            labels["unrelated"] = "zzz"
        found.setdefault(tuple(sorted(labels.items())), labels)
    return list(found.values())


def alertmanager_answer(route: Mapping[str, Any], labels: Labels,
                        receiver: str | None = None) -> list[str] | None:
    """dispatch/route.go's Route.Match, transcribed: the receivers, or None: no match."""
    receiver = route.get("receiver") or receiver or "default"
    matchers = [*(("=", str(name), str(value)) for name, value in
                  (route.get("match") or {}).items()),
                *(("=~", str(name), str(value)) for name, value in
                  (route.get("match_re") or {}).items()),
                *((operator, name, value) for line in route.get("matchers") or []
                  for name, operator, value in parse_line(line))]
    for operator, name, value in matchers:
        text = f"{name}{operator}{_quoted(value)}"
        if not compare(parse_matcher(text, Where("test")), labels.get(name, "")):
            return None
    found: list[str] = []
    for child in route.get("routes") or []:
        matched = alertmanager_answer(child, labels, receiver)
        if matched is not None:
            found += matched
            if not child.get("continue"):
                break
    return found or [receiver]


def _quoted(value: str) -> str:
    return json.dumps(value)


def receivers_of(route: Mapping[str, Any]) -> set[str]:
    names = {route["receiver"]} if route.get("receiver") else set()
    for child in route.get("routes") or []:
        names |= receivers_of(child)
    return names


def full_config(tree_text: str) -> str:
    """An Alertmanager config around a bare routing tree: a webhook receiver for every
    receiver it names (and `default` at the root when it names none)."""
    tree = yaml.safe_load(tree_text)
    tree.setdefault("receiver", "default")
    receivers = [{"name": name, "webhook_configs": [{"url": f"http://127.0.0.1:9/{index}"}]}
                 for index, name in enumerate(sorted(receivers_of(tree)))]
    return yaml.safe_dump({"route": tree, "receivers": receivers}, sort_keys=False)


def amtool_answers(config: Path, sets: Sequence[Labels], workers: int = 6
                   ) -> list[set[str]]:
    """The receivers real amtool names for each label set, several calls at once."""
    assert AMTOOL is not None

    def ask(labels: Labels) -> set[str]:
        words = [f"{name}={_go_quoted(value)}" for name, value in sorted(labels.items())]
        done = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={config}",
                               *words], capture_output=True, text=True, check=False,
                              timeout=60)
        assert done.returncode == 0, (labels, done.stderr)
        return set(done.stdout.strip().split(",")) - {""}

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(ask, sets))


def _go_quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

