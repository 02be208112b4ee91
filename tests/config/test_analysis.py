"""A route's or service's `analysis` and a channel's `follow_up` (issue 21 item 1): the
provider's settings are checked by `router validate`, each problem at its place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.config import load_config
from router.config.model import ANALYSIS_KINDS, AnalysisPool
from tests.config.support import problems, write

CHANNELS = """
channels:
  - {id: ops, type: log, follow_up: analysis}
  - {id: quiet, type: log}
"""


def test_a_local_analysis_and_a_follow_up_are_built(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", CHANNELS + """
services:
  - id: db
    analysis:
      provider: local
      paths: [/var/log]
      keywords: {memory: [Swap, OOM]}
      scan_time: 5s
routes:
  - service: db
    analysis: {provider: local, top_processes: 3}
""")
    config = load_config([path], environ={})
    analysis = config.services["db"].analysis
    assert analysis is not None
    assert (analysis.provider, analysis.paths, analysis.scan_time, analysis.timeout) == (
        "local", ("/var/log",), timedelta(seconds=5), timedelta(seconds=30))
    assert analysis.keywords["memory"] == ("swap", "oom")
    assert analysis.keywords["disk"] == ANALYSIS_KINDS["disk"]
    route_analysis = config.routes[0].analysis
    assert route_analysis is not None and route_analysis.top_processes == 3
    assert (config.channels["ops"].follow_up, config.channels["quiet"].follow_up) == (
        ("analysis",), ())


def test_a_model_s_key_comes_from_a_file(tmp_path: Path) -> None:
    write(tmp_path, "model.key", "sk-local-1\n")
    path = write(tmp_path, "router.yaml", """
services:
  - id: db
    analysis:
      provider: openai_compatible
      base_url: http://127.0.0.1:11434
      model: llama3.1
      api_key: ${file:model.key}
      max_tokens: 500
""")
    analysis = load_config([path], environ={}).services["db"].analysis
    assert analysis is not None and analysis.api_key is not None
    assert (analysis.api_key.reveal(), analysis.max_tokens, analysis.model) == (
        "sk-local-1", 500, "llama3.1")


def test_bad_provider_settings_are_each_reported_at_their_place(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", """
services:
  - id: db
    analysis:
      provider: openai_compatible
      base_url: ftp://models
      model: llama3.1
      api_key: sk-written-here
      timeout: 2h
""")
    assert problems([path]) == [
        f"{path}:5:17: services[0].analysis.base_url: expected an http:// or https:// URL, "
        "got 'ftp://models'",
        f"{path}:7:16: services[0].analysis.api_key: write the key as ${{file:PATH}} or "
        "${env:NAME}, never in the config itself",
        f"{path}:8:16: services[0].analysis.timeout: at most 10 minutes, got '2h'",
    ]


def test_a_model_needs_its_url_and_name_and_bounded_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", """
routes:
  - analysis: {provider: openai_compatible, max_tokens: 0}
""")
    found = [line.removeprefix(f"{path}:") for line in problems([path])]
    # each missing key named once (the path holds the test's name, "model" among it)
    assert sorted(found) == [
        "2:15: routes[0].analysis: missing required key 'base_url'",
        "2:15: routes[0].analysis: missing required key 'model'",
        "2:57: routes[0].analysis.max_tokens: expected a number at least 1, got 0"], found


def test_an_unknown_follow_up_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", """
channels:
  - {id: ops, type: log, follow_up: gossip}
""")
    found = problems([path])
    assert len(found) == 1 and "channels[0].follow_up" in found[0], found


def test_the_scan_must_leave_time_for_the_rest_of_the_analysis(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", """
services:
  - id: db
    analysis: {provider: local, timeout: 10s, scan_time: 10s}
""")
    assert problems([path]) == [
        f"{path}:3:58: services[0].analysis.scan_time: '10s' leaves no time of the analysis's "
        "timeout (10s) for the rest: make it shorter"]


def test_a_missing_key_file_is_one_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", """
services:
  - id: db
    analysis: {provider: openai_compatible, base_url: "http://m:1", model: m,
               api_key: "${file:gone.key}"}
""")
    found = problems([path])
    assert len(found) == 1 and "gone.key' does not exist" in found[0], found


def test_a_relative_scan_path_is_refused(tmp_path: Path) -> None:
    """Scanned from wherever the daemon started, as a disk check's path would be."""
    path = write(tmp_path, "router.yaml", """
services:
  - id: db
    analysis: {provider: local, paths: [/var/log, logs]}
""")
    found = [line.removeprefix(f"{path}:") for line in problems([path])]
    assert found == ["3:51: services[0].analysis.paths[1]: expected an absolute path such as "
                     "/var/log, got 'logs'"], found


def test_the_analysis_pool_s_bounds_are_settings(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", "settings:\n  analysis_pool: {workers: 4}\n")
    assert load_config([path], environ={}).settings.analysis_pool == AnalysisPool(
        workers=4, queue=32)
    write(tmp_path, "router.yaml", "people: []\n")
    assert load_config([path], environ={}).settings.analysis_pool == AnalysisPool(
        workers=2, queue=32)


def test_the_analysis_pool_s_bounds_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml",
                 "settings:\n  analysis_pool: {workers: 0, queue: 10001, threads: 3}\n")
    assert problems([path]) == [
        f"{path}:2:28: settings.analysis_pool.workers: expected a number at least 1, got 0",
        f"{path}:2:38: settings.analysis_pool.queue: expected a number at most 10000, got "
        "10001",
        f"{path}:2:45: settings.analysis_pool.threads: unknown key 'threads'; expected one "
        "of: queue, workers",
    ]
