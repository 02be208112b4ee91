"""The proof of issue 17 item 2: for every tree under test, the receivers the real amtool
names (`amtool config routes test`, Alertmanager 0.25 from Debian's prometheus-alertmanager)
and the channels router notifies on the imported config, loaded through the config pipeline
and routed by the core routing `router route-test` uses, for alerts parsed as
`POST /api/v2/alerts` parses them, are the same for every label set: zero differences.

Label sets are drawn from the names and values in each tree (matching values, near misses,
empty values, missing labels) plus ones that match nothing (support.label_sets). amtool
takes one label set per call; measured on the 2-core machine under load (load average 9):
~100 calls a second with 2 to 4 calls at once (support.amtool_answers over 400 sets: 3.9 s
with 2 workers, 4.3 s with 4, 7.7 s with 8), and 1000 sets took 17-24 s a tree with
everything else the test does, so each test asks up to 700 sets of a routing tree and 400 of
a config of Alertmanager's own tests (fewer where the tree has fewer distinct sets).

Item 4: every config/testdata/conf.*.yml that `amtool check-config` accepts (copied into
data/config_testdata with its source path) imports, validates and routes as amtool says; none
is refused. The routing trees of dispatch/route_test.go are in data/route_test. Random
trees with `continue` at every level (test_routes.random_tree) are asked every label set over
their labels.
"""

from __future__ import annotations

import json
import random
import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from router.alerts.formats import alertmanager_v2
from router.config import load_config
from router.core.routing import RouteTable, route
from router.migrate.alertmanager.convert import Imported, convert, write
from tests.migrate.support import (
    AMTOOL,
    DATA,
    Labels,
    amtool_answers,
    full_config,
    label_sets,
)
from tests.migrate.test_routes import ALL_LABELS, CASES, random_tree

pytestmark = pytest.mark.skipif(AMTOOL is None, reason="needs amtool (Debian package "
                                                        "prometheus-alertmanager)")

TREES = {**{name: textwrap.dedent(text) for name, text in CASES.items()},
         **{path.stem: path.read_text() for path in sorted((DATA / "route_test").glob("*.yml"))}}
CONFIGS = sorted((DATA / "config_testdata").glob("conf.*.yml")) + sorted(
    (DATA / "examples").glob("*.yml"))


def router_channels(imported: Imported, directory: Path, sets: Sequence[Labels]
                    ) -> list[set[str]]:
    """Router's channels for each label set, on the written files as router loads them."""
    write(imported, directory)
    config = load_config([directory], resolve_secrets=False)
    table = RouteTable.compile(config.routes)
    body = json.dumps([{"labels": labels} for labels in sets]).encode()
    alerts = alertmanager_v2.parse(body, {}, limits=config.settings.alert_limits,
                                   now=datetime.now(UTC))
    assert len(alerts) == len(sets)
    return [set(route(alert, table).channels) for alert in alerts]


def differences(path: Path, sets: Sequence[Labels], directory: Path) -> list[str]:
    imported = convert(path, webhook_fallback=True)
    expected = amtool_answers(path, sets)
    channels: Mapping[str, tuple[str, ...]] = imported.channels.by_receiver
    found = router_channels(imported, directory, sets)
    return [f"{labels}: amtool {sorted(receivers)} -> channels "
            f"{sorted(set().union(*(channels[name] for name in receivers)))}, router {sorted(got)}"
            for labels, receivers, got in zip(sets, expected, found, strict=True)
            if set().union(*(channels[name] for name in receivers)) != got]


@pytest.mark.parametrize("name", sorted(TREES))
def test_a_routing_tree_notifies_what_amtool_names(name: str, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(full_config(TREES[name]))
    tree = yaml.safe_load(path.read_text())["route"]
    sets = label_sets(tree, 700)
    assert len(sets) >= 25  # a small tree has fewer distinct sets to draw: all of them
    assert differences(path, sets, tmp_path / "router") == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_an_accepted_alertmanager_test_config_imports_validates_and_routes_as_amtool(
        path: Path, tmp_path: Path) -> None:
    assert AMTOOL is not None
    checked = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True,
                             check=False)
    assert checked.returncode == 0, "amtool accepts it"
    tree = yaml.safe_load(path.read_text())["route"]
    sets = label_sets(tree, 400)
    assert differences(path, sets, tmp_path / "router") == []
    load_config([tmp_path / "router"], resolve_secrets=False)  # router validate --no-secrets


def test_a_difference_would_be_seen(tmp_path: Path) -> None:
    """The comparison is not vacuous: a rule with the wrong channel differs."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(full_config(TREES["route-match"]))
    imported = convert(path)
    broken = imported.files["routes.yaml"].replace("continue: true\n", "", 1)
    imported = Imported(files={**imported.files, "routes.yaml": broken}, rules=imported.rules,
                        channels=imported.channels, report=imported.report)
    sets = label_sets(yaml.safe_load(path.read_text())["route"], 200)
    expected = amtool_answers(path, sets)
    found = router_channels(imported, tmp_path / "router", sets)
    by_receiver = imported.channels.by_receiver
    assert any(set().union(*(by_receiver[name] for name in receivers)) != got
               for receivers, got in zip(expected, found, strict=True))


PACKAGE = Path("/usr/share/gocode/src/github.com/prometheus/alertmanager")
needs_package = pytest.mark.skipif(
    not PACKAGE.is_dir(), reason="needs Debian's golang-github-prometheus-alertmanager-dev "
                                 "(the sources the copies in tests/migrate/data came from)")


def _body(path: Path) -> str:
    """A copy without the header of comments that names its source."""
    lines = path.read_text().splitlines(keepends=True)
    return "".join(lines[next(index for index, line in enumerate(lines)
                              if not line.startswith("# ")):])


@needs_package
def test_every_config_amtool_accepts_is_copied_as_is() -> None:
    assert AMTOOL is not None
    accepted = sorted(
        path.name for path in (PACKAGE / "config" / "testdata").glob("conf.*.yml")
        if subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True,
                          check=False).returncode == 0)
    copies = DATA / "config_testdata"
    assert sorted(path.name for path in copies.glob("conf.*.yml")) == accepted
    for name in accepted:
        assert _body(copies / name) == (PACKAGE / "config" / "testdata" / name).read_text()


@needs_package
def test_the_route_test_trees_are_copied_as_is() -> None:
    source = (PACKAGE / "dispatch" / "route_test.go").read_text().splitlines(keepends=True)
    for path in sorted((DATA / "route_test").glob("*.yml")):
        header = path.read_text().splitlines()[3]
        first, last = (int(number) for number in header.split("lines ")[1].split(")")[0]
                       .split("-"))
        assert _body(path) == "".join(source[first - 1:last]), path.name


@pytest.mark.parametrize("seed", range(8))
def test_random_trees_with_continue_notify_what_amtool_names(seed: int, tmp_path: Path) -> None:
    """Trees of test_routes.random_tree, every label set over their two labels."""
    tree = random_tree(random.Random(seed), 0, [0])
    tree.update(matchers=[], receiver="root")
    tree.pop("continue", None)
    path = tmp_path / "alertmanager.yml"
    path.write_text(full_config(yaml.safe_dump(tree)))
    sets = [labels for labels in ALL_LABELS if any(labels.values())]
    assert differences(path, sets, tmp_path / "router") == []
