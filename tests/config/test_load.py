"""Reading config files (config/load.py): which files, YAML as the config language reads it,
places of YAML-level problems, and sections merging across files."""

from __future__ import annotations

import os
import time
from datetime import time as time_of_day
from pathlib import Path

import pytest

from router.config import load_config
from router.config.load import find_files, read_file
from router.config.secrets import SecretResolver
from tests.config.support import FIXTURES, problems, write


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", """
        people:
          - id: alice
            name: [Alice, Andersen
          - id: bob
    """)
    assert problems([tmp_path]) == [
        f"{path}:4:7: invalid YAML: while parsing a flow sequence started at line 3, column 11, "
        "did not find expected ',' or ']'"]


def test_bad_indentation_reports_where_yaml_noticed(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n  - id: alice\n   name: Alice\n")
    assert problems([tmp_path]) == [
        f"{path}:3:4: invalid YAML: while parsing a block collection started at line 2, "
        "column 3, did not find expected '-' indicator"]


def test_a_tab_used_for_indentation_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n\t- id: alice\n")
    assert problems([tmp_path]) == [
        f"{path}:2:1: invalid YAML: while scanning for the next token found character that "
        "cannot start any token (a tab; YAML indents with spaces only)"]


def test_a_syntax_error_in_one_file_does_not_hide_problems_in_another(tmp_path: Path) -> None:
    broken = write(tmp_path, "a.yaml", "people: [\n")
    other = write(tmp_path, "b.yaml", "services:\n  - id: api\n    urgency: hgh\n")
    assert problems([tmp_path]) == [
        f"{broken}:2:1: invalid YAML: while parsing a flow node did not find expected node "
        "content",
        f"{other}:3:14: services[0].urgency: expected one of high, low, dynamic, got 'hgh' "
        "(did you mean 'high'?)",
    ]


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    write(tmp_path, "rotas.yaml", """
        people:
          - &alice {id: alice, timezone: Europe/Berlin}
          - <<: *alice
            id: bob
          - <<: [*alice, {name: Carol Chen}]
            id: carol
        rotas:
          - id: primary
            layers:
              - &weekly
                members: [alice, bob]
                every: 1w
                start: 2026-01-05
          - id: secondary
            layers: [*weekly]
    """)
    config = load_config([tmp_path])
    assert config.people["bob"].timezone.key == "Europe/Berlin"
    assert config.people["carol"].name == "Carol Chen"
    assert config.people["carol"].timezone.key == "Europe/Berlin"
    assert config.rotas["secondary"].layers[0].members == ("alice", "bob")


def test_a_problem_in_an_alias_points_at_the_anchor(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", """
        people:
          - &base {id: alice, timezone: Europe/Berln}
          - <<: *base
            id: bob
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:33: people[0].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)",
        f"{path}:2:33: people[1].timezone: 'Europe/Berln' is not a known timezone "
        "(did you mean 'Europe/Berlin'?)",
    ]


def test_an_alias_inside_its_own_anchor_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people: &all\n  - *all\n")
    assert problems([tmp_path]) == [
        f"{path}:1:9: an alias refers to the node that contains it",
        f"{path}:1:9: people[0]: expected a mapping, got nothing",
    ]


def test_multi_document_files_merge_like_separate_files(tmp_path: Path) -> None:
    write(tmp_path, "all.yaml", """
        people:
          - id: alice
        ---
        people:
          - id: bob
        ---
        # an empty last document
    """)
    config = load_config([tmp_path])
    assert sorted(config.people) == ["alice", "bob"]
    assert config.summary().endswith("from 1 file")


def test_unquoted_times_stay_text_not_yaml_11_sexagesimal(tmp_path: Path) -> None:
    path = write(tmp_path, "rotas.yaml", """
        people:
          - id: alice
            quiet_hours: {from: 22:00, until: 7:30}
        rotas:
          - id: primary
            layers:
              - members: [alice]
                every: 1w
                handoff: 9:00
                start: 2026-01-05
    """)
    (document,), found = read_file(path, SecretResolver())
    assert found == []
    layer = document.data["rotas"][0]["layers"][0]
    assert layer["handoff"] == "9:00"
    assert layer["start"] == "2026-01-05"  # dates stay text for the schema too
    config = load_config([tmp_path])
    assert config.rotas["primary"].layers[0].handoff == time_of_day(9, 0)
    quiet = config.people["alice"].quiet_hours
    assert quiet is not None
    assert (quiet.start, quiet.end) == (time_of_day(22, 0), time_of_day(7, 30))


def test_a_bare_yes_or_no_is_a_boolean_and_the_message_says_to_quote_it(
        tmp_path: Path) -> None:
    path = write(tmp_path, "routes.yaml", """
        routes:
          - name: no
            continue: yes
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:11: routes[0].name: expected text, got false; write 'no' in quotes to "
        "keep it as text"]


def test_a_key_written_twice_in_one_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", """
        people:
          - id: alice
            name: Alice
            name: Alicia
    """)
    assert problems([tmp_path]) == [f"{path}:4:5: key 'name' is written twice in this mapping"]


SETTINGS_KEYS = ("alert_limits, allowed_hosts, analysis_pool, delivery, fatigue, generic_webhooks, "
                 "ingest_tokens, link_lifetime, link_secret, listen, max_body_bytes, public_url, "
                 "resolve_timeout, retention, store, timezone, tls, web")


def test_a_number_or_boolean_key_is_read_as_its_text(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", "settings:\n  1: x\n  yes: y\n")
    assert problems([tmp_path]) == [
        f"{path}:2:3: settings.1: unknown key '1'; expected one of: {SETTINGS_KEYS}",
        f"{path}:3:3: settings.yes: unknown key 'yes'; expected one of: {SETTINGS_KEYS}",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("people:\n  - {id: alice, ~: x}\n", "2:17: expected a plain text key"),
    ("people:\n  - {id: alice, [a]: x}\n", "2:17: expected a plain text key"),
    ("people:\n  - id: !!python/object:os.system alice\n",
     "2:9: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'; write plain "
     "values"),
])
def test_yaml_the_config_language_does_not_take(tmp_path: Path, text: str,
                                                 message: str) -> None:
    path = write(tmp_path, "people.yaml", text)
    assert problems([tmp_path]) == [f"{path}:{message}"]


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    assert problems([tmp_path]) == [f"{tmp_path}: no .yaml or .yml files here"]


def test_a_directory_with_no_yaml_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# not config\n")
    write(tmp_path, "people.json", '{"people": []}\n')
    write(tmp_path, ".hidden.yaml", "people: []\n")
    assert problems([tmp_path]) == [f"{tmp_path}: no .yaml or .yml files here"]


def test_a_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert problems([missing]) == [f"{missing}: no such file or directory"]


def test_no_paths_at_all() -> None:
    assert problems([]) == ["no config files given"]


def test_a_file_that_is_not_utf8_names_line_and_column_of_the_bad_byte(
        tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n  - id: mueller\n    name: M\xfcller\n"
                 .encode("latin-1"))
    assert problems([tmp_path]) == [
        f"{path}:3:12: not valid UTF-8 (byte 0xfc); save the file as UTF-8"]


def test_a_file_whose_top_level_is_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "- id: alice\n- id: bob\n")
    assert problems([tmp_path]) == [
        f"{path}:1:1: expected a mapping of sections (settings, people, ...)"]


def test_a_file_whose_top_level_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "alice\n")
    assert problems([tmp_path]) == [
        f"{path}:1:1: expected a mapping of sections (settings, people, ...)"]


def test_empty_and_comment_only_files_are_fine_and_counted(tmp_path: Path) -> None:
    write(tmp_path, "empty.yaml", "")
    write(tmp_path, "comments.yml", "# nothing here yet\n---\n")
    config = load_config([tmp_path])
    assert config.summary() == (
        "0 people, 0 channels, 0 rotas, 0 escalation policies, 0 services, 0 routes, "
        "0 suppressions from 2 files")


def test_the_summary_counts_checks_heartbeats_and_jobs_when_there_are_any(
        tmp_path: Path) -> None:
    write(tmp_path, "sources.yaml", """
        services:
          - {id: db}
        checks:
          - {id: disk, type: disk, paths: [/]}
          - {id: memory, type: memory}
        heartbeats:
          - {id: nightly, service: db, period: 1d, token: abcdefghijklmnopqrstuvwx}
        jobs:
          - {id: backup}
    """)
    assert load_config([tmp_path]).summary() == (
        "0 people, 0 channels, 0 rotas, 0 escalation policies, 1 service, 0 routes, "
        "0 suppressions, 2 checks, 1 heartbeat, 1 job from 1 file")


def test_a_ten_megabyte_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    padding = "x" * 1000  # long names: 10 MB without millions of YAML nodes
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("people:\n")
        while out.tell() < 10 * 1024 * 1024:
            out.write(f"  - id: person{count}\n    name: Person {count} {padding}\n"
                      "    timezone: Europe/Berlin\n")
            count += 1
    started = time.perf_counter()
    config = load_config([tmp_path])
    elapsed = time.perf_counter() - started
    assert path.stat().st_size >= 10 * 1024 * 1024
    assert len(config.people) == count
    assert config.people[f"person{count - 1}"].name.startswith(f"Person {count - 1} x")
    assert elapsed < 10  # generous: a regression to seconds per MB would show


def test_nested_directories_are_read_and_hidden_entries_skipped() -> None:
    directory = FIXTURES / "good-nested-and-hidden"
    files, found = find_files([directory])
    assert found == []
    assert [path.relative_to(directory).as_posix() for path in files] == [
        "people.yaml", "teams/database/rotas.yml", "teams/database/services.yaml"]
    config = load_config([directory])
    assert sorted(config.people) == ["alice", "bob"]
    assert list(config.rotas) == ["database"]


def test_kubernetes_style_links_are_followed_and_dot_dot_data_skipped(
        tmp_path: Path) -> None:
    # A ConfigMap volume: real files in a timestamped hidden directory, `..data` linking to
    # it, and top-level links through `..data`. Each file must be read exactly once.
    write(tmp_path, "..2026_01_05_09_00_00.1/people.yaml", "people:\n  - id: alice\n")
    os.symlink("..2026_01_05_09_00_00.1", tmp_path / "..data")
    os.symlink("..data/people.yaml", tmp_path / "people.yaml")
    files, found = find_files([tmp_path])
    assert (files, found) == ([tmp_path / "people.yaml"], [])
    assert list(load_config([tmp_path]).people) == ["alice"]


def test_a_symlinked_file_is_followed(tmp_path: Path) -> None:
    target = write(tmp_path / "elsewhere", "shared.txt", "people:\n  - id: alice\n")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    os.symlink(target, config_dir / "people.yaml")
    assert list(load_config([config_dir]).people) == ["alice"]


def test_a_directory_linked_into_itself_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, "teams/people.yaml", "people:\n  - id: alice\n")
    os.symlink("..", tmp_path / "teams" / "up")
    assert list(load_config([tmp_path]).people) == ["alice"]


def test_the_same_file_given_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people:\n  - id: alice\n")
    assert list(load_config([tmp_path, path, tmp_path]).people) == ["alice"]


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "people.yaml", "people:\n  - id: alice\n")
    os.symlink("gone.yaml", tmp_path / "rotas.yaml")
    assert problems([tmp_path]) == [
        f"{tmp_path / 'rotas.yaml'}: cannot read file: No such file or directory"]


def test_files_and_directories_can_be_given_together(tmp_path: Path) -> None:
    write(tmp_path, "dir/people.yaml", "people:\n  - id: alice\n")
    single = write(tmp_path, "more.yml", "people:\n  - id: bob\n")
    assert sorted(load_config([tmp_path / "dir", single]).people) == ["alice", "bob"]


def test_sections_merge_across_files_in_file_order(tmp_path: Path) -> None:
    write(tmp_path, "a-routes.yaml", "routes:\n  - name: first\n    match: [team=db]\n")
    write(tmp_path, "b-routes.yaml", "routes:\n  - name: second\n    match: [team=web]\n")
    write(tmp_path, "settings.yaml", "settings:\n  timezone: Europe/Berlin\n")
    write(tmp_path, "z-settings.yaml", "settings:\n  listen: 0.0.0.0:9080\n")
    config = load_config([tmp_path])
    assert [route.name for route in config.routes] == ["first", "second"]
    assert (config.settings.timezone.key, config.settings.listen) == (
        "Europe/Berlin", "0.0.0.0:9080")


def test_an_id_defined_in_two_files_names_both_places() -> None:
    directory = FIXTURES / "bad-duplicate-ids"
    assert problems([directory]) == [
        f"{directory}/team-b.yaml:5:5: people[1]: id 'alice' is defined twice: here and at "
        f"{directory}/team-a.yaml:3:5",
        f"{directory}/team-b.yaml:10:5: services[1]: id 'api' is defined twice: here and at "
        f"{directory}/team-a.yaml:7:5",
    ]


def test_a_setting_defined_in_two_files_names_both_places(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "settings:\n  timezone: UTC\n")
    second = write(tmp_path, "b.yaml", "settings:\n  listen: 0.0.0.0:1\n  timezone: UTC\n")
    assert problems([tmp_path]) == [
        f"{second}:3:3: settings.timezone: setting 'timezone' is defined twice: here and at "
        f"{first}:2:3"]


def test_a_route_name_used_twice(tmp_path: Path) -> None:
    path = write(tmp_path, "routes.yaml", """
        routes:
          - name: database
            match: [team=db]
          - name: database
            match: [team=storage]
    """)
    assert problems([tmp_path]) == [
        f"{path}:4:5: routes[1]: route name 'database' is defined twice: here and at "
        f"{path}:2:5"]


def test_nesting_deeper_than_any_config_needs(tmp_path: Path) -> None:
    path = write(tmp_path, "people.yaml", "people: " + "[" * 500 + "]" * 500 + "\n")
    assert problems([tmp_path]) == [
        f"{path}:1:10: people[0]: expected a mapping, got a list",
        f"{path}:1:108: nested more than 100 levels deep",
    ]


def test_nesting_deeper_than_the_yaml_parser_takes_is_a_clear_error(tmp_path: Path) -> None:
    """libyaml 0.2.6 (PyYAML 6.0.4's wheels) refuses flow nesting past 1,000 levels itself;
    older ones hand the nodes to our own 100-level check. Either way: one place, no
    traceback, no recursion error."""
    path = write(tmp_path, "people.yaml", "people: " + "[" * 5000 + "]" * 5000 + "\n")
    found = problems([tmp_path])
    assert found in (
        [f"{path}:1:1008: invalid YAML: while increasing flow level exceeded maximum "
         "nesting depth"],
        [f"{path}:1:10: people[0]: expected a mapping, got a list",
         f"{path}:1:108: nested more than 100 levels deep"],
    )
